"""`eibench score`: saved answers (lmms-eval samples or the official format) and saved judge replies."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from judge_server import judge_server

from lmms_eval_eibench import cli
from lmms_eval_eibench.commands import score

SENTINEL_KEY = "sk-SENTINEL-cli-7777"
CATEGORIES = ("Happy", "Angry", "Sadness", "Excitement")


@pytest.fixture(scope="module")
def basic(official_records):
    return official_records.basic[::20]  # 81 samples across the four categories


def write_lines(path: Path, objects) -> Path:
    path.write_text("".join(json.dumps(o) + "\n" for o in objects), encoding="utf-8")
    return path


def lmms_line(doc_id: int, record, answer: str, with_id: bool = True) -> dict:
    """A line shaped like lmms-eval 0.7.3's --log_samples output for a generation task."""
    doc = record.as_row() if with_id else {k: v for k, v in record.as_row().items() if k not in ("id", "image_path")}
    return {
        "doc_id": doc_id, "doc": doc, "target": record.ground_truth, "arguments": ["gen_kwargs", "..."],
        "resps": [[answer]], "filtered_resps": [answer], "token_counts": [None], "doc_hash": "x",
        "eibench_recall": None,
    }


def run_cli(args: list[str], capsys, partial: bool = True) -> tuple[int, str, str]:
    """Run `eibench score`; most tests here score a slice of the subset, hence --allow-partial by default
    (tests/test_score_integrity.py checks complete inputs)."""
    code = cli.main(["score", *([*args, "--allow-partial"] if partial else args)])
    out, err = capsys.readouterr()
    return code, out, err


def judge_args(judge, tmp_path: Path) -> list[str]:
    return ["--base-url", judge.base_url, "--judge-model", judge.model, "--cache-dir", str(tmp_path / "cache"),
            "--no-progress"]


def test_lmms_samples_scored_with_json_summary_and_output(basic, official_dir, tmp_path, capsys, monkeypatch) -> None:
    answers = [r.ground_truth if i % 3 else "I see nothing." for i, r in enumerate(basic)]
    samples = write_lines(tmp_path / "20260101_samples_eibench_basic.jsonl",
                          [lmms_line(i, r, a) for i, (r, a) in enumerate(zip(basic, answers))])
    out_file = tmp_path / "verdicts.jsonl"
    with judge_server() as judge:
        monkeypatch.setenv("EIBENCH_JUDGE_API_KEY", judge.api_key)
        code, out, err = run_cli([str(samples), "--subset", "basic", "--annotations", str(official_dir),
                                  "--output", str(out_file), "--json", *judge_args(judge, tmp_path)], capsys)
    assert code == 0, err
    data = json.loads(out)
    rows = [json.loads(line) for line in out_file.read_text().splitlines()]
    assert [r["id"] for r in rows] == [r.id for r in basic]
    recalls = [r["recall"] for r in rows]
    assert all(recalls[i] == 1.0 for i in range(len(basic)) if i % 3)
    assert all(r["verdict"]["raw"] and r["raw"] and "reason" in r for r in rows)
    assert data["overall"] == pytest.approx(100 * sum(recalls) / len(recalls))
    assert set(data["per_category"]) == set(CATEGORIES)
    for category in CATEGORIES:
        values = [r["recall"] for r in rows if r["category"] == category]
        assert data["per_category"][category] == pytest.approx(100 * sum(values) / len(values))
    covered = sum(r["covered"] for r in rows)
    total = sum(r["total"] for r in rows)
    assert data["trigger_recall"] == pytest.approx(100 * covered / total)
    assert (data["n"], data["n_failed"], data["metric"]) == (len(basic), 0, "eibench_recall")
    assert data["judge"]["model"] == "fake-judge" and data["judge"]["prompt_version"] == "1"
    assert data["provenance"]["judge"]["prompt"] == {"template": "judge_paper", "version": "1"}
    assert data["task"] == "eibench_basic"


def test_table_output_and_doc_id_fallback(basic, official_dir, tmp_path, capsys, monkeypatch) -> None:
    lines = [lmms_line(i, r, r.ground_truth, with_id=(i != 2)) for i, r in enumerate(basic[:5])]
    # line 2's doc has no id: the sample is found by doc_id, its row in the basic split
    lines[2]["doc_id"] = [r.id for r in _all_basic(official_dir)].index(basic[2].id)
    samples = write_lines(tmp_path / "s.jsonl", lines)
    with judge_server() as judge:
        monkeypatch.setenv("EIBENCH_JUDGE_API_KEY", judge.api_key)
        code, out, err = run_cli([str(samples), "--subset", "basic", "--annotations", str(official_dir),
                                  *judge_args(judge, tmp_path)], capsys)
    assert code == 0, err
    assert "Overall         100.00" in out and "judge failures 0" in out and "Samples" in out


def test_generation_failures_are_never_judged_count_as_zero_and_apart(basic, official_dir, tmp_path, capsys,
                                                                 monkeypatch) -> None:
    from lmms_eval_eibench.vocabulary import FAILED_PREFIX

    records = basic[:8]
    answers = [r.ground_truth for r in records]
    answers[1] = f"{FAILED_PREFIX} at step 'observe': the base model raised RuntimeError]"
    answers[4] = "   "  # llava_hf returns "" when generation raises
    folder = tmp_path / "out" / "llava-hf__llava-1.5-7b-hf"
    folder.mkdir(parents=True)
    samples = write_lines(folder / "20261127_061500_samples_eibench_basic.jsonl",
                          [lmms_line(i, r, a) for i, (r, a) in enumerate(zip(records, answers))])
    out_file = tmp_path / "v.jsonl"
    with judge_server() as judge:
        monkeypatch.setenv("EIBENCH_JUDGE_API_KEY", judge.api_key)
        code, out, err = run_cli([str(samples), "--subset", "basic", "--annotations", str(official_dir), "--json",
                                  "--output", str(out_file), *judge_args(judge, tmp_path)], capsys)
        assert judge.stats.chat_requests == 6  # the two failed generations never reach the judge
        assert not any(FAILED_PREFIX in p for p in judge.stats.prompts_answered)
        code_table, table, _ = run_cli([str(samples), "--subset", "basic", "--annotations", str(official_dir),
                                        "--model", "my-llava", *judge_args(judge, tmp_path)], capsys)
    assert code == 0, err
    data = json.loads(out)
    assert (data["n"], data["n_judged"], data["n_failed"], data["n_generation_failed"]) == (8, 6, 0, 2)
    assert data["overall"] == 75.0  # every sample counts: the two without an answer score 0
    assert data["overall_judged"] == 100.0  # the diagnosis figure: the six judged answers only
    assert "metrics" not in data  # each figure once: the keys above (issue 27)
    assert data["model"] == "llava-hf/llava-1.5-7b-hf"  # OUT/<model>/<time>_samples_<task>.jsonl, as the report names it
    rows = [json.loads(line) for line in out_file.read_text().splitlines()]
    for i in (1, 4):
        assert rows[i]["recall"] is None and not rows[i]["failed"] and rows[i]["generation_failed"]
        assert rows[i]["error"].startswith("generation failed: ") and rows[i]["raw"] == ""
    assert rows[1]["error"].endswith("the base model raised RuntimeError]")
    assert not any(rows[i]["generation_failed"] for i in (0, 2, 3, 5, 6, 7))
    assert code_table == 0 and "generation failures 2" in table and "judge failures 0" in table
    assert "model my-llava" in table


def test_model_is_null_when_the_path_does_not_name_it(basic, official_dir, tmp_path, capsys) -> None:
    answers = write_lines(tmp_path / "answers.jsonl", [{r.image_path: r.ground_truth} for r in basic[:3]])
    args = [str(answers), "--subset", "basic", "--annotations", str(official_dir), "--judge", "embedding",
            "--no-cache", "--no-progress", "--json"]
    code, out, err = run_cli(args, capsys)
    assert code == 0, err
    assert json.loads(out)["model"] is None
    code, out, _ = run_cli([*args, "--model", "Qwen/Qwen2-VL-2B-Instruct"], capsys)
    assert json.loads(out)["model"] == "Qwen/Qwen2-VL-2B-Instruct"


def _all_basic(official_dir):
    from lmms_eval_eibench.data.records import load_records

    return load_records(official_dir).basic


def test_official_answer_format_complex_kth_line_is_kth_question(official_records, official_dir, tmp_path, capsys,
                                                                  monkeypatch) -> None:
    complex_records = official_records.complex
    lines = [{r.image_path: r.ground_truth} for r in complex_records]
    answers = write_lines(tmp_path / "answers.jsonl", lines)
    out_file = tmp_path / "v.jsonl"
    with judge_server() as judge:
        monkeypatch.setenv("EIBENCH_JUDGE_API_KEY", judge.api_key)
        code, out, err = run_cli([str(answers), "--subset", "complex", "--annotations", str(official_dir), "--json",
                                  "--output", str(out_file), *judge_args(judge, tmp_path)], capsys)
    assert code == 0, err
    data = json.loads(out)
    assert data["overall"] == 100.0 and data["per_category"] == {} and data["n"] == 50
    ids = [json.loads(line)["id"] for line in out_file.read_text().splitlines()]
    assert ids == [r.id for r in complex_records]
    assert any(i.endswith("#3") for i in ids)


def test_built_dataset_is_the_default_ground_truth_source(sample_dataset_dir, tmp_path, capsys, monkeypatch) -> None:
    from lmms_eval_eibench.data.dataset import load_subset

    rows = load_subset("basic", sample_dataset_dir).select_columns(["id", "ground_truth"]).to_list()
    answers = write_lines(tmp_path / "a.jsonl", [{row["id"]: row["ground_truth"]} for row in rows])
    monkeypatch.setenv("EIBENCH_DATASET", str(sample_dataset_dir))
    with judge_server() as judge:
        monkeypatch.setenv("EIBENCH_JUDGE_API_KEY", judge.api_key)
        code, out, err = run_cli([str(answers), "--subset", "basic", "--json", *judge_args(judge, tmp_path)], capsys)
    assert code == 0, err
    data = json.loads(out)
    assert data["n"] == len(rows) and data["overall"] == 100.0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"CAER-S/train/Angry/0006.png": "fine"}\nnot json\n', r"a\.jsonl:2: malformed JSON"),
        ('{"CAER-S/train/Angry/0006.png": "a"}\n{"CAER-S/train/Angry/0006.png": "b"}\n', r"a\.jsonl:2: .* appears again"),
        ('{"no/such/image.png": "a"}\n', r"a\.jsonl:1: sample 'no/such/image.png' is not in the basic ground truth"),
        ('{"CAER-S/train/Angry/0006.png": 5}\n', r"a\.jsonl:1: the answer .* must be a string"),
        ('{"doc_id": 0, "doc": {"id": "CAER-S/train/Angry/0006.png"}, "resps": []}\n', r"a\.jsonl:1: no answer text"),
        ('{"doc_id": 99999, "doc": {}, "filtered_resps": ["x"]}\n', r"a\.jsonl:1: cannot tell which sample"),
        ("", r"a\.jsonl: no answers"),
    ],
)
def test_bad_input_names_file_and_line_and_writes_nothing(content, message, official_dir, tmp_path, capsys) -> None:
    answers = tmp_path / "a.jsonl"
    answers.write_text(content, encoding="utf-8")
    out_file = tmp_path / "out.jsonl"
    code, out, err = run_cli([str(answers), "--subset", "basic", "--annotations", str(official_dir),
                              "--output", str(out_file), "--no-cache"], capsys)
    assert code == 2
    assert re.search(message, err), err
    assert not out_file.exists() and out == ""


def test_missing_dataset_says_how_to_build_it(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("EIBENCH_DATASET", str(tmp_path / "nothing-here"))
    answers = write_lines(tmp_path / "a.jsonl", [{"x.png": "y"}])
    code, _, err = run_cli([str(answers), "--subset", "basic", "--no-cache"], capsys)
    assert code == 2 and "hub_upload.py" in err


@pytest.mark.parametrize("lines", [
    [{"x.png": "y"}, {"x.png": 3}],  # official answers: a text that is no string
    [{"doc_id": 0, "filtered_resps": ["y"]}, {"doc_id": 1, "resps": []}],  # lmms-eval samples: no answer
    [{"x.png": {"Why?": "y"}}, {"z.png": "y"}],  # one line question-keyed, the next not
], ids=["official", "samples", "mixed forms"])
def test_the_file_is_read_whole_before_the_ground_truth(lines, tmp_path, capsys, monkeypatch) -> None:
    """One pass (issue 35, point 6): the file's kind is told and every line read before any dataset is loaded, so
    a bad line is named even where the dataset is missing."""
    monkeypatch.setenv("EIBENCH_DATASET", str(tmp_path / "nothing-here"))
    answers = write_lines(tmp_path / "a.jsonl", lines)
    code, _, err = run_cli([str(answers), "--subset", "basic", "--no-cache"], capsys)
    assert code == 2 and "a.jsonl:" in err and "hub_upload.py" not in err, err


def test_answers_and_from_verdicts_are_exclusive(tmp_path, capsys) -> None:
    code, _, err = run_cli(["--subset", "basic"], capsys)
    assert code == 2 and "exactly one" in err


def test_rejected_key_fails_fast_and_never_shows_the_key(basic, official_dir, tmp_path, capsys, monkeypatch) -> None:
    answers = write_lines(tmp_path / "a.jsonl", [{r.image_path: r.ground_truth} for r in basic[:3]])
    out_file = tmp_path / "out.jsonl"
    monkeypatch.setenv("EIBENCH_JUDGE_API_KEY", SENTINEL_KEY)
    with judge_server() as judge:
        code, out, err = run_cli([str(answers), "--subset", "basic", "--annotations", str(official_dir), "--json",
                                  "--output", str(out_file), *judge_args(judge, tmp_path)], capsys)
        assert judge.stats.chat_requests == 0  # nothing judged after the failed preflight
    assert code == 1
    assert judge.base_url in err and "fake-judge" in err and "rejected the API key" in err
    assert SENTINEL_KEY not in out + err and not out_file.exists()
    for path in (tmp_path / "cache").rglob("*"):
        assert not path.is_file() or SENTINEL_KEY.encode() not in path.read_bytes()


def test_key_never_reaches_outputs_of_a_successful_run(basic, official_dir, tmp_path, capsys, monkeypatch) -> None:
    answers = write_lines(tmp_path / "a.jsonl", [{r.image_path: r.ground_truth} for r in basic[:5]])
    out_file = tmp_path / "out.jsonl"
    with judge_server(api_key=SENTINEL_KEY) as judge:
        monkeypatch.setenv("EIBENCH_JUDGE_API_KEY", SENTINEL_KEY)
        code, out, err = run_cli([str(answers), "--subset", "basic", "--annotations", str(official_dir), "--json",
                                  "--output", str(out_file), *judge_args(judge, tmp_path)], capsys)
    assert code == 0, err
    files = [out_file, *(p for p in (tmp_path / "cache").rglob("*") if p.is_file())]
    assert all(SENTINEL_KEY.encode() not in p.read_bytes() for p in files)
    assert SENTINEL_KEY not in out + err


def test_embedding_judge_from_the_cli(basic, official_dir, tmp_path, capsys) -> None:
    answers = write_lines(tmp_path / "a.jsonl", [{r.image_path: r.ground_truth} for r in basic[:6]])
    code, out, err = run_cli([str(answers), "--subset", "basic", "--annotations", str(official_dir), "--judge",
                              "embedding", "--json", "--no-cache", "--no-progress"], capsys)
    assert code == 0, err
    data = json.loads(out)
    assert data["metric"] == "eibench_semantic_recall" and data["overall"] >= 90
    assert data["trigger_recall"] is not None


# --- --from-verdicts against the official aggregation -----------------------------------------


def official_aggregate(replies: dict[str, str], categories: dict[str, str]) -> tuple[float, dict[str, float]]:
    """The official scripts' aggregation as described in ../shared/eibench/README.md: the first
    {score: c/t} match, c/t as written, a reply without one scored 0; overall = mean over samples,
    categories = mean within each."""
    scores = {}
    for sample_id, reply in replies.items():
        match = re.search(r"\{score: (\d+)/(\d+)\}", reply)
        scores[sample_id] = int(match[1]) / int(match[2]) if match else 0.0
    overall = 100 * sum(scores.values()) / len(scores)
    per = {}
    for category in CATEGORIES:
        values = [s for i, s in scores.items() if categories[i] == category]
        per[category] = 100 * sum(values) / len(values)
    return overall, per


def replies_for(records) -> dict[str, str]:
    """Well-formed judge replies written for this test (varied wording; the total is the trigger count)."""
    styles = [
        "{{score: {c}/{t}}}\nExplanation: the record identifies {c} of the {t} triggers.",
        "The record captures some triggers but misses others.\n\n{{score: {c}/{t}}}",
        "Assessment: {{score: {c}/{t}}}. The record mentions the expression but not the setting.",
    ]
    return {
        r.id: styles[i % 3].format(c=(i * 7) % (r.n_triggers + 1), t=r.n_triggers) for i, r in enumerate(records)
    }


def test_from_verdicts_reproduces_the_official_aggregation(basic, official_dir, tmp_path, capsys) -> None:
    replies = replies_for(basic)
    verdicts = write_lines(tmp_path / "gpt_outputs.jsonl", [{k: v} for k, v in replies.items()])
    code, out, err = run_cli(["--from-verdicts", str(verdicts), "--subset", "basic", "--annotations",
                              str(official_dir), "--json"], capsys)
    assert code == 0, err
    data = json.loads(out)
    overall, per_category = official_aggregate(replies, {r.id: r.category for r in basic})
    assert data["overall"] == pytest.approx(overall, abs=1e-9)
    assert data["per_category"] == pytest.approx(per_category, abs=1e-9)
    assert data["n_failed"] == 0 and data["judge"]["judge"] == "saved-replies"


def test_from_verdicts_differs_only_where_the_official_script_is_wrong(basic, official_dir, tmp_path, capsys) -> None:
    records = basic[:8]
    replies = replies_for(records)
    a, b, c, d = (r.id for r in records[:4])
    n = {r.id: r.n_triggers for r in records}
    # 1. the prompt's example echoed first: the official script reads 2/5
    replies[a] = f"Format: {{score: correct/total}}, e.g. {{score: 2/5}} for 2 correct.\nMine: {{score: {n[a]}/{n[a]}}}"
    # 2. no verdict at all: the official script scores 0 (or repeats the previous sample's score)
    replies[b] = "I am unable to assess this record."
    # 3. the judge's total disagrees with the ground truth: the official script trusts it
    replies[c] = f"{{score: 1/{n[c] + 3}}}"
    # 4. a normal reply, identical under both
    replies[d] = f"{{score: 1/{n[d]}}}"
    verdicts = write_lines(tmp_path / "v.jsonl", [{k: v} for k, v in replies.items()])
    out_file = tmp_path / "out.jsonl"
    code, out, err = run_cli(["--from-verdicts", str(verdicts), "--subset", "basic", "--annotations",
                              str(official_dir), "--json", "--output", str(out_file)], capsys)
    assert code == score.EXIT_JUDGE_FAILURES, err  # a reply without a verdict remains
    ours = {row["id"]: row for row in map(json.loads, out_file.read_text().splitlines())}
    assert ours[a]["recall"] == 1.0  # official: 2/5
    assert ours[b]["recall"] is None and ours[b]["failed"] and "unparseable" in ours[b]["error"]
    assert ours[c]["recall"] == pytest.approx(1 / n[c])  # official: 1/(n+3)
    assert ours[d]["recall"] == pytest.approx(1 / n[d])
    data = json.loads(out)
    assert data["n_failed"] == 1 and data["n"] == 8
    judged = [row["recall"] for row in ours.values() if row["recall"] is not None]
    assert data["overall"] == pytest.approx(100 * sum(judged) / 8)  # the failure counts as 0, like the official 0
    assert data["overall_judged"] == pytest.approx(100 * sum(judged) / 7)
    assert "failed on 1 of 8" in err

    code, out, _ = run_cli(["--from-verdicts", str(verdicts), "--subset", "basic", "--annotations",
                            str(official_dir), "--json", "--trust-judge-total", "--output", str(out_file)], capsys)
    ours = {row["id"]: row for row in map(json.loads, out_file.read_text().splitlines())}
    assert ours[c]["recall"] == pytest.approx(1 / (n[c] + 3))  # the paper's covered/total-as-written


def test_module_entry_point_runs(tmp_path, official_dir) -> None:
    verdicts = write_lines(tmp_path / "v.jsonl", [{"CAER-S/train/Angry/0006.png": "{score: 3/6}"}])
    result = subprocess.run(
        [sys.executable, "-m", "lmms_eval_eibench", "score", "--from-verdicts", str(verdicts), "--subset",
         "basic", "--annotations", str(official_dir), "--json", "--allow-partial"],
        capture_output=True, text=True, env={**os.environ}, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["overall"] == 50.0


# --- eibench captions (shares the JSONL reader and atomic writer of files.py) -----------------------------------


def caption_line(image_path: str, caption: str) -> dict:
    return {"doc_id": 0, "eibench_caption_words": {"image_path": image_path, "caption": caption, "words": 1}}


def test_captions_from_samples_sorted_and_written_whole(tmp_path, capsys) -> None:
    from lmms_eval_eibench.commands import captions

    samples = write_lines(tmp_path / "s.jsonl", [caption_line("b.png", " A cake. "), caption_line("a.png", "Rain.")])
    out = tmp_path / "captions.jsonl"
    parser = captions.add_parser(argparse.ArgumentParser().add_subparsers())
    assert captions.run(parser.parse_args([str(samples), "-o", str(out)])) == 0
    assert [json.loads(line) for line in out.read_text().splitlines()] == [
        {"image_path": "a.png", "caption": "Rain."}, {"image_path": "b.png", "caption": "A cake."}]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["captions.jsonl", "s.jsonl"]  # no temporary file left


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ('{"doc_id": 0}\nnot json\n', r"s\.jsonl:1: no caption found"),
        (json.dumps(caption_line("a.png", "x")) + "\nnot json\n", r"s\.jsonl:2: malformed JSON"),
        (json.dumps(caption_line("a.png", "x")) + "\n" + json.dumps(caption_line("a.png", "y")) + "\n",
         r"s\.jsonl:2: a second, different caption for 'a.png' \(first at .*s\.jsonl:1\)"),
        (json.dumps(caption_line("a.png", "  ")) + "\n", r"s\.jsonl:1: the model returned an empty caption"),
        ("\n", r"s\.jsonl: no samples found"),
    ],
)
def test_captions_bad_samples_name_file_and_line_and_write_nothing(lines, message, tmp_path, capsys) -> None:
    from lmms_eval_eibench.commands import captions
    from lmms_eval_eibench.files import InputFileError

    samples = tmp_path / "s.jsonl"
    samples.write_text(lines, encoding="utf-8")
    out = tmp_path / "captions.jsonl"
    with pytest.raises(InputFileError, match=message):
        captions.read_captions([samples])
    parser = captions.add_parser(argparse.ArgumentParser().add_subparsers())
    assert captions.run(parser.parse_args([str(samples), "-o", str(out)])) == 2
    assert re.search(message, capsys.readouterr().err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.jsonl"]  # no output, no temporary file left
