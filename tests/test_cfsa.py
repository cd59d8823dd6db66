"""CFSA (`eibench_cfsa`): settings, the rounds and their cost, failures, and real lmms-eval runs over `dummy`,
the tiny random `llava_hf` and an OpenAI-compatible summarizer on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from judge_server import judge_server
from tiny_llava import build_tiny_llava, write_image_task

from lmms_eval_eibench.cfsa import (
    TEMPLATES,
    CFSAConfigError,
    CFSAFailure,
    CFSASettings,
    OpenAISummarizer,
    SummarizerError,
    calls_per_sample,
    general_questions,
    parse_followup,
    run_cfsa,
)
from lmms_eval_eibench.prompts import template_version
from lmms_eval_eibench.vocabulary import FAILED_PREFIX, failure_reason

REPO = Path(__file__).resolve().parents[1]
LMMS_EVAL = Path(sys.executable).with_name("lmms-eval")
G = 4  # general questions in prompts/cfsa_general.j2
STEP_KINDS = {"rewrite", "general", "followup", "scenario", "summary"}


# ---------------------------------------------------------------------------------------------------------------
# Pure parts (milliseconds)


def test_model_args_split_between_cfsa_and_base() -> None:
    settings, base_args = CFSASettings.from_model_args(
        {"pretrained": "x", "device": "cpu", "cfsa_scenario_questions": "2", "cfsa_on_failure": "raise",
         "cfsa_base_force_simple": "true", "cfsa_round_max_new_tokens": 64}
    )  # fmt: skip
    assert base_args == {"pretrained": "x", "device": "cpu"}
    assert (settings.scenario_questions, settings.on_failure, settings.base_force_simple) == (2, "raise", True)
    assert settings.round_max_new_tokens == 64


@pytest.mark.parametrize(
    ("model_args", "message"),
    [
        ({"cfsa_scenario": 2}, "unknown CFSA setting 'cfsa_scenario'"),
        ({"cfsa_scenario_questions": 9}, "cfsa_scenario_questions=9: must be 0 to 5"),
        ({"cfsa_scenario_questions": "two"}, "cfsa_scenario_questions='two': expected int"),
        ({"cfsa_summarizer": "gpt"}, "cfsa_summarizer='gpt'"),
        ({"cfsa_summarizer": "openai"}, "cfsa_summarizer_model and cfsa_summarizer_base_url"),
        ({"cfsa_on_failure": "ignore"}, "cfsa_on_failure='ignore'"),
        ({"cfsa_base_force_simple": "maybe"}, "expected true or false"),
    ],
)
def test_bad_settings_name_the_setting(model_args: dict, message: str) -> None:
    with pytest.raises(CFSAConfigError, match=re.escape(message)):
        CFSASettings.from_model_args(model_args)


def test_api_key_in_model_args_is_refused_without_echoing_it() -> None:
    with pytest.raises(CFSAConfigError) as info:
        CFSASettings.from_model_args({"cfsa_summarizer_api_key": "sk-secret-123456"})
    assert "EIBENCH_CFSA_API_KEY" in str(info.value)
    assert "sk-secret" not in str(info.value)


@pytest.mark.parametrize(
    ("reply", "question"),
    [
        ("What happened before?", "What happened before?"),
        ("1. Who is she waving at?\n2. Another", "Who is she waving at?"),
        ('\n  Question: "Is it her birthday?"', "Is it her birthday?"),
        ("Follow-up question 1: Did he lose a game?", "Did he lose a game?"),
        ("- **Is the man her father?**", "Is the man her father?"),
        ("   \n \n", None),
        ("1.", None),
    ],
)
def test_parse_followup(reply: str, question: str | None) -> None:
    assert parse_followup(reply) == question


def test_templates_are_versioned_and_render_strictly() -> None:
    for name in TEMPLATES:
        assert template_version(name) == "1"
    assert [name for name, _ in general_questions()] == ["people", "activities", "expressions", "posture"]
    from lmms_eval_eibench.prompts import TemplateError, render

    with pytest.raises(TemplateError):
        render("cfsa_followup", question="q", observations=[])  # `focus` missing: an error, not blank text


class ScriptedBase:
    """Stands in for a base model's answers (the lmms-eval runs below use real ones): answers every prompt
    with a text derived from it, records each round, and can fail chosen samples at a chosen step."""

    def __init__(self, fail: dict[str, dict[int, Any]] | None = None) -> None:
        self.rounds: list[tuple[str, list[int]]] = []
        self.fail = fail or {}

    def __call__(self, step: str, items: list[tuple[int, str]]) -> list[Any]:
        self.rounds.append((step, [index for index, _ in items]))
        out: list[Any] = []
        for index, prompt in items:
            failure = self.fail.get(step, {}).get(index)
            if failure is not None:
                out.append(failure)
            elif step == "followup":
                out.append((f"1. Why is sample {index}'s person {len(prompt)} smiling?", None))
            else:
                out.append((f"answer {index}/{len(prompt)}", type("Counts", (), {"output_tokens": 3})()))
        return out


@pytest.mark.parametrize("k", [0, 1, 3, 5])
def test_rounds_and_calls_per_sample_match_the_formula(k: int) -> None:
    settings = CFSASettings(scenario_questions=k)
    base = ScriptedBase()
    transcripts = run_cfsa(["Why is she happy?", "Why is he angry?", "Why?"], base, settings)
    expected = calls_per_sample(settings)
    assert expected["base"] == 1 + G + 2 * k + 1
    steps = [step for step, _ in base.rounds]
    assert steps == (["observe", "followup", "scenario", "summary"] if k else ["observe", "summary"])
    assert len(steps) == expected["base_rounds"]
    for step, indices in base.rounds:  # every round carries all samples' requests in one call
        assert sorted(set(indices)) == [0, 1, 2]
    for index, t in enumerate(transcripts):
        assert not t.failed and t.base_calls == expected["base"]
        assert sum(indices.count(index) for _, indices in base.rounds) == expected["base"]
        kinds = [s["step"] for s in t.steps]
        assert kinds == ["rewrite"] + ["general"] * G + ["followup"] * k + ["scenario"] * k + ["summary"]
        assert all(s["question"] and (s.get("answer") or s.get("reply")) for s in t.steps)
        assert t.response() == t.answer == t.steps[-1]["answer"] and t.answer.startswith(f"answer {index}/")
        assert t.output_tokens == 3 * (expected["base"] - k)  # follow-up replies carried no token counts
        assert t.grounded_question == t.steps[0]["answer"]


@pytest.mark.parametrize("summarizer", ["base", "openai"])
def test_the_summary_step_logs_the_templates_instruction_block(summarizer: str) -> None:
    """The summary prompt repeats every answer above it; its transcript step logs the template's `instruction`
    block (a named block of cfsa_summary.j2, not a search for its words), even when the request repeats them."""
    request = "Why is she sad?\nUsing these findings, answer the request below.\nFine."
    prompts: list[str] = []

    def summarize(batch: list[str]) -> list[Any]:
        prompts.extend(batch)
        return ["1. the rain"] * len(batch)

    base = ScriptedBase()
    llm = {"summarizer_model": "m", "summarizer_base_url": "http://127.0.0.1:9/v1"} if summarizer == "openai" else {}
    settings = CFSASettings(scenario_questions=1, summarizer=summarizer, **llm)
    (t,) = run_cfsa([request], base, settings, summarize=summarize if llm else None)
    step = t.steps[-1]
    assert step["step"] == "summary" and not t.failed
    assert step["question"].startswith("Using these findings") and step["question"].endswith(f"Request: {request}")
    assert ("and the image" in step["question"]) is (summarizer == "base")
    assert "Q: " not in step["question"]  # the findings are logged as their own steps, not again here
    if summarizer == "openai":
        assert prompts[0].endswith("\n" + step["question"])


def test_a_failing_round_fails_only_that_sample_and_says_so() -> None:
    settings = CFSASettings(scenario_questions=2)
    base = ScriptedBase(fail={"observe": {1: RuntimeError("CUDA out of memory")}, "scenario": {2: ("  ", None)}})
    transcripts = run_cfsa(["a?", "b?", "c?", "d?"], base, settings)
    ok, oom, empty, ok2 = transcripts
    assert not ok.failed and not ok2.failed
    assert oom.failure == {"step": "observe", "error": "RuntimeError: CUDA out of memory"}
    assert empty.failure == {"step": "scenario", "error": "the base model returned an empty answer"}
    # A failed sample is not asked again, and it never yields an empty or partial answer as if it were real.
    assert all(1 not in indices for step, indices in base.rounds if step != "observe")
    assert oom.base_calls == 1 + G and empty.base_calls == 1 + G + 2 + 2
    for t in (oom, empty):
        assert t.response().startswith(FAILED_PREFIX) and t.answer is None
        assert failure_reason(t.response()) == t.response()
        assert failure_reason([t.response()]) == t.response()
    assert failure_reason(ok.response()) is None


def test_followup_without_a_question_fails_the_sample() -> None:
    base = ScriptedBase(fail={"followup": {0: ("1.\n", None)}})
    (t,) = run_cfsa(["a?"], base, CFSASettings(scenario_questions=1))
    assert t.failure == {"step": "followup", "error": "no question in the reply for focus 'context'"}


def test_on_failure_raise_stops_at_the_failing_round() -> None:
    base = ScriptedBase(fail={"followup": {1: ValueError("boom")}})
    with pytest.raises(CFSAFailure, match=r"step 'followup' failed for 1 of 2 samples \(first: doc B: ValueError: boom"):
        run_cfsa(["a?", "b?"], base, CFSASettings(on_failure="raise"), labels=["doc A", "doc B"])
    assert [step for step, _ in base.rounds] == ["observe", "followup"]


# ---------------------------------------------------------------------------------------------------------------
# Real lmms-eval runs


def _samples(out: Path, task: str) -> list[dict]:
    (path,) = out.glob(f"**/*_samples_{task}.jsonl")
    return [json.loads(line) for line in path.read_text().splitlines()]


def _results(out: Path) -> dict:
    (path,) = out.glob("**/*_results.json")
    return json.loads(path.read_text())


def _check_transcript(transcript: dict, prompt: str, k: int, summarizer: str = "base") -> None:
    assert transcript["status"] == "ok"
    steps = transcript["steps"]
    assert [s["step"] for s in steps] == ["rewrite"] + ["general"] * G + ["followup"] * k + ["scenario"] * k + ["summary"]
    assert steps[0]["question"] == prompt
    assert [s["question"] for s in steps[1 : 1 + G]] == [q for _, q in general_questions()]
    for s in steps:  # every intermediate question and its answer
        assert isinstance(s["question"], str) and s["question"].strip()
        assert isinstance(s.get("answer", s.get("reply")), str) and s.get("answer", s.get("reply")).strip()
    followups = [s["question"] for s in steps if s["step"] == "followup"]
    assert [s["question"] for s in steps if s["step"] == "scenario"] == followups
    assert transcript["method"]["summarizer"] == summarizer
    assert transcript["method"]["templates"] == {name: "1" for name in TEMPLATES}


@pytest.mark.slow
def test_bar_dummy_on_eibench_basic(sample_dataset_dir: Path, tmp_path: Path) -> None:
    """The issue's bar: `lmms-eval --model eibench_cfsa --model_args base=dummy --tasks eibench_basic --limit 2
    --log_samples` runs, and the samples hold every intermediate question and answer."""
    out = tmp_path / "out"
    with judge_server() as judge:
        env = {
            **os.environ, "EIBENCH_DATASET": str(sample_dataset_dir), "EIBENCH_JUDGE": "openai",
            "EIBENCH_JUDGE_BASE_URL": judge.base_url, "EIBENCH_JUDGE_MODEL": judge.model,
            "EIBENCH_JUDGE_API_KEY": judge.api_key, "EIBENCH_CACHE_DIR": str(tmp_path / "verdicts"),
        }  # fmt: skip
        cmd = [str(LMMS_EVAL), "--model", "eibench_cfsa", "--model_args", "base=dummy", "--tasks", "eibench_basic",
               "--limit", "2", "--log_samples", "--output_path", str(out), "--verbosity", "DEBUG"]  # fmt: skip
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, check=False, cwd=tmp_path)
        judged = list(judge.stats.prompts_answered)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = _results(out)
    assert results["results"]["eibench_basic"]["eibench_judge_failures,none"] == 0
    assert "eibench_recall,none" in results["results"]["eibench_basic"]
    samples = _samples(out, "eibench_basic")
    assert len(samples) == 2 and len(judged) == 2
    for sample in samples:
        assert sample["filtered_resps"] == "A"  # dummy's answer: the summary, and only the summary, is scored
        (transcript,) = sample["input"]["cfsa"]
        _check_transcript(transcript, sample["input"]["prompt"], k=3)
        assert transcript["calls"] == {"base": calls_per_sample(CFSASettings())["base"], "summarizer": 0} == {
            "base": 12, "summarizer": 0}
    assert all("\nRecord of comprehension:\nA." in prompt for prompt in judged)  # the judge saw the answer only


@pytest.fixture(scope="module")
def tiny_llava(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_llava(tmp_path_factory.mktemp("tiny-llava"))


def _evaluate(model: Any, task_dir: Path, task: str = "tiny_image_qa") -> dict:
    from lmms_eval.evaluator import simple_evaluate
    from lmms_eval.tasks import TaskManager

    return simple_evaluate(
        model=model, tasks=[task], task_manager=TaskManager(include_path=str(task_dir)), log_samples=True,
        batch_size=1,
    )  # fmt: skip


class CallCounter:
    """Counts what reaches the base model's real `generate_until` (and passes everything through)."""

    def __init__(self, model: Any) -> None:
        self.inner = model.generate_until
        self.calls: list[list[tuple[str, int]]] = []
        model.generate_until = self

    def __call__(self, requests: list) -> list:
        self.calls.append([(r.task_name, r.doc_id) for r in requests])
        return self.inner(requests)


def _cfsa_model(**model_args: Any) -> Any:
    from lmms_eval.models import get_model

    return get_model("eibench_cfsa")(**model_args)


@pytest.mark.slow
@pytest.mark.parametrize("force_simple", [False, True], ids=["chat", "simple"])
def test_tiny_llava_through_cfsa_end_to_end(tiny_llava: Path, tmp_path: Path, force_simple: bool) -> None:
    k, n_docs = 2, 3
    model = _cfsa_model(
        base="llava_hf", pretrained=str(tiny_llava), device="cpu", device_map="cpu", dtype="float32",
        cfsa_scenario_questions=k, cfsa_round_max_new_tokens=6, cfsa_base_force_simple=force_simple,
    )  # fmt: skip
    assert model.base.is_simple is force_simple
    counter = CallCounter(model.base)
    results = _evaluate(model, write_image_task(tmp_path / "tasks", n_docs=n_docs, max_new_tokens=5))

    # Calls as documented: one generate_until per round, each carrying every sample's requests of the round.
    expected = calls_per_sample(model.settings)
    assert expected == {"base": 1 + G + 2 * k + 1, "summarizer": 0, "base_rounds": 4}
    assert len(counter.calls) == expected["base_rounds"]
    assert [len(c) for c in counter.calls] == [n_docs * (1 + G), n_docs * k, n_docs * k, n_docs]
    per_doc = [sum(doc == d for c in counter.calls for _, doc in c) for d in range(n_docs)]
    assert per_doc == [expected["base"]] * n_docs

    samples = results["samples"]["tiny_image_qa"]
    assert [s["doc_id"] for s in samples] == list(range(n_docs))
    for sample in samples:
        record = sample["arguments"][0]
        (transcript,) = record["cfsa"]
        _check_transcript(transcript, record["prompt"], k=k)
        assert transcript["calls"] == {"base": expected["base"], "summarizer": 0}
        assert sample["filtered_resps"] == [transcript["steps"][-1]["answer"]]
    assert results["results"]["tiny_image_qa"]["answered,none"] == 1.0


@pytest.mark.slow
def test_unreadable_image_fails_that_sample_clearly(
    tiny_llava: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """llava_hf raises on the doc whose image cannot be read: CFSA isolates it (sample by sample), marks it
    failed with the reason, and the other samples go on through every round."""
    model = _cfsa_model(
        base="llava_hf", pretrained=str(tiny_llava), device="cpu", device_map="cpu", dtype="float32",
        cfsa_scenario_questions=1, cfsa_round_max_new_tokens=4,
    )  # fmt: skip
    counter = CallCounter(model.base)
    with caplog.at_level(logging.ERROR, logger="lmms_eval_eibench.cfsa"):
        results = _evaluate(model, write_image_task(tmp_path / "tasks", n_docs=3, unreadable=(1,)))
    errors = [r.getMessage() for r in caplog.records if r.name == "lmms_eval_eibench.cfsa"]
    assert any(m.startswith("CFSA: task tiny_image_qa doc 1 failed at step 'observe': FileNotFoundError") for m in errors)
    assert any(m.startswith("CFSA: 1 of 3 samples failed") for m in errors)
    samples = {s["doc_id"]: s for s in results["samples"]["tiny_image_qa"]}
    failed = samples[1]
    (transcript,) = failed["arguments"][0]["cfsa"]
    assert transcript["status"] == "failed" and transcript["failure"]["step"] == "observe"
    assert "FileNotFoundError" in transcript["failure"]["error"] and "missing-1.png" in transcript["failure"]["error"]
    assert failed["filtered_resps"][0].startswith(FAILED_PREFIX + " at step 'observe': FileNotFoundError")
    # round 1 as one call, then retried one sample at a time (3 calls); doc 1 is never asked again
    assert [len(c) for c in counter.calls[:4]] == [3 * (1 + G)] + [1 + G] * 3
    assert all(doc != 1 for c in counter.calls[4:] for _, doc in c)
    for doc in (0, 2):
        (ok,) = samples[doc]["arguments"][0]["cfsa"]
        _check_transcript(ok, samples[doc]["arguments"][0]["prompt"], k=1)
        assert not samples[doc]["filtered_resps"][0].startswith(FAILED_PREFIX)


@pytest.mark.slow
def test_openai_compatible_summarizer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    task_dir = write_image_task(tmp_path / "tasks", n_docs=2)
    with judge_server() as llm:
        monkeypatch.setenv("EIBENCH_CFSA_API_KEY", llm.api_key)
        model = _cfsa_model(
            base="dummy", response="She laughs at a joke.", cfsa_summarizer="openai",
            cfsa_summarizer_model=llm.model, cfsa_summarizer_base_url=llm.base_url, cfsa_scenario_questions=1,
        )  # fmt: skip
        assert llm.stats.chat_requests == 1  # the preflight, before any generation
        counter = CallCounter(model.base)
        results = _evaluate(model, task_dir)
        prompts = list(llm.stats.prompts_answered)
    expected = calls_per_sample(model.settings)
    assert expected == {"base": 1 + G + 2, "summarizer": 1, "base_rounds": 3}
    assert [len(c) for c in counter.calls] == [2 * (1 + G), 2, 2]
    assert len(prompts) == 1 + 2
    for prompt in prompts[1:]:  # text only, built from the base model's answers
        assert "She laughs at a joke." in prompt and "Look at the image" not in prompt
    for sample in results["samples"]["tiny_image_qa"]:
        (transcript,) = sample["arguments"][0]["cfsa"]
        identity = f"openai:{llm.model}@{llm.base_url}"
        _check_transcript(transcript, sample["arguments"][0]["prompt"], k=1, summarizer=identity)
        assert transcript["calls"] == {"base": expected["base"], "summarizer": 1}
        assert sample["filtered_resps"] == ["I cannot assess this record."]  # the fake server's reply to a non-judge prompt
        assert llm.api_key not in json.dumps(transcript)


def test_summarizer_with_a_wrong_key_fails_before_generation_without_leaking_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with judge_server() as llm:
        monkeypatch.setenv("EIBENCH_CFSA_API_KEY", "sk-wrong-key-987654")
        settings = CFSASettings(summarizer="openai", summarizer_model=llm.model, summarizer_base_url=llm.base_url)
        with pytest.raises(CFSAConfigError) as info:
            OpenAISummarizer(settings).preflight()
    message = str(info.value)
    assert "HTTP 401" in message and "EIBENCH_CFSA_API_KEY" in message
    assert "sk-wrong-key-987654" not in message  # the server echoes the key back; we redact it


def test_summarizer_url_with_user_info_is_refused_before_any_request(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """As for the judge's base URL: `user:pass@` would become Basic auth (the key belongs in the Bearer header),
    so the setting is refused, naming it, without a request and without repeating the password."""
    caplog.set_level(logging.DEBUG)
    secret = "pw-SENTINEL-cfsa-5180"
    with judge_server() as llm:
        monkeypatch.setenv("EIBENCH_CFSA_API_KEY", llm.api_key)
        url = llm.base_url.replace("http://", f"http://alice:{secret}@")
        with pytest.raises(CFSAConfigError) as info:
            CFSASettings(summarizer="openai", summarizer_model=llm.model, summarizer_base_url=url)
        assert llm.stats.chat_requests == 0 and llm.stats.models_requests == 0
    message = str(info.value)
    assert "cfsa_summarizer_base_url" in message and "user info" in message and "EIBENCH_CFSA_API_KEY" in message
    assert secret not in message and secret not in caplog.text


def test_summarizer_retries_with_the_judges_policy_and_honours_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    """The summarizer is the judges' client: 500s and 429s are retried, and a 429's Retry-After is waited out
    (the SDK backs off 0.5 s before the first retry; the server asks for 1.5 s here)."""
    import time

    with judge_server(error_500=0.4) as llm:
        monkeypatch.setenv("EIBENCH_CFSA_API_KEY", llm.api_key)
        settings = CFSASettings(summarizer="openai", summarizer_model=llm.model, summarizer_base_url=llm.base_url,
                                summarizer_retries=8)  # fmt: skip
        summarizer = OpenAISummarizer(settings)
        assert summarizer._chat.max_retries == 8  # the judges' client: the SDK retries
        replies = summarizer.summarize_many([f"Summarize case {i}." for i in range(6)])
        summarizer.close()
        assert llm.stats.by_status[500] > 0 and len(llm.stats.prompts_answered) == 6
    assert all(isinstance(r, str) and r for r in replies)

    with judge_server(rate_429=1.0, retry_after=1.5) as llm:
        monkeypatch.setenv("EIBENCH_CFSA_API_KEY", llm.api_key)
        settings = CFSASettings(summarizer="openai", summarizer_model=llm.model, summarizer_base_url=llm.base_url,
                                summarizer_retries=1)  # fmt: skip
        summarizer = OpenAISummarizer(settings)
        start = time.monotonic()
        with pytest.raises(SummarizerError, match=r"HTTP 429 .*gave up after 2 attempts"):
            summarizer.complete("Summarize.")
        waited = time.monotonic() - start
        summarizer.close()
        assert llm.stats.chat_requests == 2
    assert waited >= 1.5  # a lower bound only: a loaded machine can only make it longer


@pytest.mark.slow
def test_python_api_response_cache_never_replays_an_answer_without_its_transcript(tmp_path: Path) -> None:
    """`simple_evaluate(use_cache=...)` tells the model nothing (no command line, so no `--use_cache` to refuse).
    lmms-eval 0.7.3 stores each answer under a key computed from the request as the model leaves it (the
    transcript in place of the prompt), which no lookup matches: the second run generates again and every sample
    keeps its transcript. If a release changes that, this test fails and CFSA must refuse the cache there too."""
    import sqlite3

    from lmms_eval.evaluator import simple_evaluate
    from lmms_eval.tasks import TaskManager

    task_dir = write_image_task(tmp_path / "tasks", n_docs=2)
    cache = tmp_path / "cache"
    for _ in range(2):
        results = simple_evaluate(
            model="eibench_cfsa", model_args="base=dummy,cfsa_scenario_questions=1", tasks=["tiny_image_qa"],
            task_manager=TaskManager(include_path=str(task_dir)), log_samples=True, batch_size=1,
            use_cache=str(cache),
        )  # fmt: skip
        samples = results["samples"]["tiny_image_qa"]
        assert len(samples) == 2
        for sample in samples:  # generated now, not replayed: a replayed answer comes without a transcript
            (transcript,) = sample["arguments"][0]["cfsa"]
            _check_transcript(transcript, sample["arguments"][0]["prompt"], k=1)
    with sqlite3.connect(cache / "cache.db") as db:  # the cache was really in use: it stored the answers
        assert db.execute("SELECT COUNT(*) FROM responses").fetchone()[0] >= 2


@pytest.mark.slow
def test_use_cache_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    task_dir = write_image_task(tmp_path / "tasks", n_docs=1)
    out = tmp_path / "out"
    cmd = [str(LMMS_EVAL), "--model", "eibench_cfsa", "--model_args", "base=dummy", "--tasks", "tiny_image_qa",
           "--include_path", str(task_dir), "--use_cache", str(tmp_path / "cache"), "--log_samples",
           "--output_path", str(out), "--verbosity", "DEBUG"]  # fmt: skip
    proc = subprocess.run(cmd, env=dict(os.environ), capture_output=True, text=True, timeout=600, check=False, cwd=tmp_path)
    assert "eibench_cfsa does not work with --use_cache" in proc.stdout + proc.stderr
    assert not list(out.glob("**/*_results.json"))  # nothing half-written


@pytest.mark.slow
def test_the_model_serves_generate_until_only_and_never_hands_requests_to_the_base_unasked() -> None:
    model = _cfsa_model(base="dummy", cfsa_scenario_questions=1)
    assert model.is_simple and model.base_name == "dummy" and (model.rank, model.world_size) == (0, 1)
    assert not hasattr(model, "generate_until_agentic")  # lmms-eval would otherwise call the base directly
    with pytest.raises(NotImplementedError, match="generate_until tasks only"):
        model.loglikelihood([])
    with pytest.raises(NotImplementedError):
        model.generate_until_multi_round([])
    with pytest.raises(CFSAConfigError, match="needs a base model"):
        _cfsa_model(pretrained="x")
    with pytest.raises(CFSAConfigError, match="unknown CFSA setting 'cfsa_k'"):
        _cfsa_model(base="dummy", cfsa_k=2)
