"""Judge protocols: `--protocol paper-gpt|paper-llama3` / `EIBENCH_JUDGE_PROTOCOL` set the paper's judge in one
word, explicit settings still override, and the record says what was really used."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from lmms_eval_eibench.scoring.verdict_parser import PARSER_VERSION

sys.path.insert(0, str(Path(__file__).resolve().parent))
from judge_server import judge_server

from lmms_eval_eibench import cli
from lmms_eval_eibench.judges import JudgeConfigError, JudgeSettings, build_judge
from lmms_eval_eibench.judges.protocols import PROTOCOLS, record_protocol
from lmms_eval_eibench.provenance import (
    build_provenance,
    check_provenance,
)


def record_of(settings: JudgeSettings) -> dict:
    return check_provenance(build_provenance(**build_judge(settings).identity().provenance_fields()))


@pytest.mark.parametrize("name", sorted(PROTOCOLS))
def test_each_protocol_is_the_published_files_judge(name):
    """The protocols restate the paper's judges of published/paper_tables.json as settings: they must agree."""
    from lmms_eval_eibench.report import PUBLISHED_PATH

    protocol = PROTOCOLS[name]
    judge = json.loads(PUBLISHED_PATH.read_text())["judges"][protocol.paper_judge]
    assert judge["protocol"] == name
    assert (judge["model"], judge["prompt"]) == (protocol.model, f"judge_{protocol.prompt}")
    assert judge["decoding"]["temperature"] == protocol.temperature
    assert judge["decoding"].get("top_p") == protocol.top_p


def test_paper_gpt_sets_the_gpt_judge():
    settings = JudgeSettings.from_env(env={}, protocol="paper-gpt")
    assert (settings.kind, settings.resolved_model, settings.resolved_prompt) == ("openai", "gpt-3.5-turbo", "paper")
    assert (settings.temperature, settings.top_p, settings.trust_judge_total) == (0.1, None, True)
    assert settings.protocol_label == "paper-gpt"
    # the same settings given one by one make the same judge (same identity: the same cache entries)
    explicit = JudgeSettings.from_env(env={}, kind="openai", model="gpt-3.5-turbo", prompt="paper", temperature=0.1,
                                      trust_judge_total=True)
    assert build_judge(settings).identity().reply_fields() == build_judge(explicit).identity().reply_fields()
    record = record_of(settings)
    assert record["judge"]["protocol"] == "paper-gpt"
    assert record["judge"]["decoding"] == {"max_tokens": 512, "temperature": 0.1}
    assert record["judge"]["options"] == {"trust_judge_total": True, "parser_version": PARSER_VERSION}
    assert "protocol" not in record_of(explicit)["judge"]  # nothing claimed that was not asked for...
    assert record_protocol(record_of(explicit))[1:] == (PROTOCOLS["paper-gpt"], [])  # ...but it follows it


def test_paper_llama3_sets_the_local_llama3_judge_sampling():
    settings = JudgeSettings.from_env(env={"EIBENCH_JUDGE_PROTOCOL": "paper-llama3"})
    judge = build_judge(settings)  # no weights are loaded by building the judge
    assert (settings.kind, judge.model_name, judge.prompt) == ("hf", "meta-llama/Meta-Llama-3-8B-Instruct",
                                                               "paper_llama3")
    assert judge.sampling and judge.decoding() == {"max_tokens": 512, "temperature": 0.1, "top_p": 0.9}
    assert settings.trust_judge_total is True and settings.protocol_label == "paper-llama3"
    assert record_of(settings)["judge"]["protocol"] == "paper-llama3"


def test_explicit_settings_override_and_the_record_says_so():
    # a variable beats the protocol, a keyword (a command-line flag) beats both
    settings = JudgeSettings.from_env(env={"EIBENCH_JUDGE_PROTOCOL": "paper-gpt", "EIBENCH_JUDGE_TEMPERATURE": "0"})
    assert settings.temperature == 0.0 and settings.protocol_label == "paper-gpt (overridden: temperature)"
    settings = JudgeSettings.from_env(env={"EIBENCH_JUDGE_PROTOCOL": "paper-gpt", "EIBENCH_JUDGE_MODEL": "gpt-4o-mini"},
                                      protocol="paper-llama3", kind="openai")
    assert (settings.protocol, settings.resolved_model, settings.top_p) == ("paper-llama3", "gpt-4o-mini", 0.9)
    assert settings.protocol_label == "paper-llama3 (overridden: kind, model)"
    record = record_of(settings)
    assert record["judge"]["protocol"] == "paper-llama3 (overridden: kind, model)"
    # an explicit value equal to the protocol's is no override
    same = JudgeSettings.from_env(env={"EIBENCH_JUDGE_TEMPERATURE": "0.1"}, protocol="paper-gpt")
    assert same.protocol_label == "paper-gpt"


def test_bad_protocols_name_the_setting():
    with pytest.raises(JudgeConfigError, match=r"EIBENCH_JUDGE_PROTOCOL / --protocol 'paper-claude': use one of"):
        JudgeSettings.from_env(env={"EIBENCH_JUDGE_PROTOCOL": "paper-claude"})
    with pytest.raises(JudgeConfigError, match=r"embedding judge .* cannot follow it"):
        JudgeSettings.from_env(env={"EIBENCH_JUDGE": "embedding"}, protocol="paper-gpt")
    with pytest.raises(JudgeConfigError, match=r"gpt-3.5-turbo, an API model: the local judge .* --judge-model"):
        JudgeSettings.from_env(env={}, protocol="paper-gpt", kind="hf")
    local = JudgeSettings.from_env(env={}, protocol="paper-gpt", kind="hf", model="Qwen/Qwen2.5-0.5B-Instruct")
    assert local.protocol_label == "paper-gpt (overridden: kind, model)"


def _score(args: list[str], capsys) -> tuple[int, dict, str]:
    code = cli.main(["score", *args])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 else {}), err


def test_protocol_sends_what_the_explicit_settings_send(official_records, official_dir, tmp_path, capsys,
                                                         monkeypatch):
    """The loopback judge (serving `gpt-3.5-turbo`) receives the same requests from `--protocol paper-gpt` as from
    the paper's settings spelled out, and the results are the same."""
    basic = official_records.basic[::160]  # 11 samples, all four categories
    answers = tmp_path / "answers.jsonl"
    answers.write_text("".join(json.dumps({r.image_path: (r.triggers[0] if i % 2 else "A sunny beach.")}) + "\n"
                               for i, r in enumerate(basic)))
    common = [str(answers), "--subset", "basic", "--annotations", str(official_dir), "--json", "--no-cache",
              "--no-progress", "--allow-partial"]
    with judge_server(model="gpt-3.5-turbo") as judge:
        monkeypatch.setenv("EIBENCH_JUDGE_API_KEY", judge.api_key)
        code, by_protocol, err = _score([*common, "--base-url", judge.base_url, "--protocol", "paper-gpt"], capsys)
        assert code == 0, err
        sent_by_protocol = list(judge.stats.requests)
        judge.reset_stats()
        code, by_hand, err = _score([*common, "--base-url", judge.base_url, "--judge", "openai", "--judge-model",
                                     "gpt-3.5-turbo", "--prompt", "paper", "--temperature", "0.1",
                                     "--trust-judge-total"], capsys)
        assert code == 0, err
        sent_by_hand = list(judge.stats.requests)
        judge.reset_stats()
        code, overridden, err = _score([*common, "--base-url", judge.base_url, "--protocol", "paper-gpt",
                                        "--temperature", "0"], capsys)
        assert code == 0, err
        sent_overridden = list(judge.stats.requests)

    def keyed(requests):
        return sorted((json.dumps(r["messages"]), r["model"], r["temperature"], r.get("top_p")) for r in requests)

    assert len(sent_by_protocol) == len(basic)
    assert keyed(sent_by_protocol) == keyed(sent_by_hand)
    assert {(r["model"], r["temperature"], r.get("top_p")) for r in sent_by_protocol} == {("gpt-3.5-turbo", 0.1, None)}
    # the official wording, byte for byte, reached the judge
    assert sent_by_protocol[0]["messages"][0]["content"] == ("You are a helpful and precise assistant for checking "
                                                             "the quality of the answer. Only say the content user wanted.")
    for key in ("overall", "per_category", "trigger_recall", "n", "n_failed"):
        assert by_protocol[key] == by_hand[key], key
    assert 0 < by_protocol["overall"] < 100
    assert by_protocol["judge"]["protocol"] == "paper-gpt" and "protocol" not in by_hand["judge"]
    assert by_protocol["provenance"]["judge"]["protocol"] == "paper-gpt"
    assert {k: v for k, v in by_protocol["provenance"]["judge"].items() if k != "protocol"} == \
        by_hand["provenance"]["judge"]
    # a flag still wins, and the record says what was really used
    assert {r["temperature"] for r in sent_overridden} == {0.0}
    assert overridden["provenance"]["judge"]["protocol"] == "paper-gpt (overridden: temperature)"
    assert overridden["provenance"]["judge"]["decoding"]["temperature"] == 0.0


@pytest.mark.slow
def test_lmms_eval_run_under_the_protocol_sits_beside_the_paper(sample_dataset_dir, tmp_path, capsys):
    """EIBENCH_JUDGE_PROTOCOL=paper-gpt in a real lmms-eval run (the loopback judge serving gpt-3.5-turbo): the
    results record the protocol, and `eibench report --with-paper` puts the run beside the paper's GPT rows."""
    import os
    import subprocess

    from lmms_eval_eibench.cli import main as eibench

    out = tmp_path / "out"
    with judge_server(model="gpt-3.5-turbo") as judge:
        env = {**os.environ, "EIBENCH_DATASET": str(sample_dataset_dir), "EIBENCH_CACHE_DIR": str(tmp_path / "cache"),
               "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
               "EIBENCH_JUDGE_PROTOCOL": "paper-gpt", "EIBENCH_JUDGE_BASE_URL": judge.base_url,
               "EIBENCH_JUDGE_API_KEY": judge.api_key}
        for name in ("EIBENCH_JUDGE", "EIBENCH_JUDGE_MODEL", "EIBENCH_JUDGE_TEMPERATURE", "EIBENCH_JUDGE_PROMPT"):
            env.pop(name, None)
        command = [str(Path(sys.executable).with_name("lmms-eval")), "--model", "dummy", "--tasks", "eibench_basic",
                   "--limit", "4", "--output_path", str(out), "--log_samples", "--verbosity", "DEBUG"]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path,
                              check=False)
        sent = list(judge.stats.requests)
    results = sorted(out.rglob("*_results.json"))
    assert results, f"no results file (exit {done.returncode}):\n{done.stderr[-3000:]}"
    assert sent and {(r["model"], r["temperature"]) for r in sent} == {("gpt-3.5-turbo", 0.1)}
    data = json.loads(results[-1].read_text())
    record = data["configs"]["eibench_basic"]["metadata"]["eibench_provenance"]
    assert record["judge"]["protocol"] == "paper-gpt" and record["judge"]["options"]["trust_judge_total"] is True
    code = eibench(["report", str(out), "--with-paper", "--paper-setting", "user"])
    table, err = capsys.readouterr()
    assert code == 0, err
    rows = [line for line in table.splitlines() if line.startswith("| ")][1:]
    assert rows[0].startswith("| dummy | user | openai:gpt-3.5-turbo") and "[paper-gpt] | run |" in rows[0]
    assert rows[1].startswith("| Qwen-VL-Chat | user | LLaMA-3 judge")  # the head of the paper's user block
    assert "not judged like the published rows" not in err


def test_the_paper_judges_are_one_table():
    """Defaults of each LLM kind, the local judge's sampling top_p and the command line's --protocol all read
    PROTOCOLS: a protocol's model or prompt changed there changes them all."""
    import argparse

    from lmms_eval_eibench.commands.flags import add_judge_arguments
    from lmms_eval_eibench.judges.hf import PAPER_TOP_P
    from lmms_eval_eibench.judges.settings import DEFAULT_MODELS, DEFAULT_PROMPTS, JUDGE_KINDS, JUDGE_PROMPTS

    for protocol in PROTOCOLS.values():
        assert (DEFAULT_MODELS[protocol.kind], DEFAULT_PROMPTS[protocol.kind]) == (protocol.model, protocol.prompt)
        assert JudgeSettings.from_env(env={}, kind=protocol.kind).resolved_model == protocol.model
    assert PAPER_TOP_P == PROTOCOLS["paper-llama3"].top_p == 0.9
    parser = argparse.ArgumentParser()
    add_judge_arguments(parser)
    actions = {a.dest: a for a in parser._actions}
    assert tuple(actions["protocol"].choices) == tuple(PROTOCOLS)
    assert tuple(actions["judge"].choices) == JUDGE_KINDS and tuple(actions["prompt"].choices) == JUDGE_PROMPTS
    assert all(f"{p.name} = {p.kind} {p.model}" in actions["protocol"].help for p in PROTOCOLS.values())
