"""End to end through the real `lmms-eval` CLI (a subprocess, installed plugin, no --include_path): the `dummy`
model on the embedded sample dataset, judged by the embedding judge and by the OpenAI-compatible judge on a
loopback server. The CLI can exit 0 on failure, so every test reads the results and samples files."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from judge_server import FakeJudgeConfig, judge_server

import lmms_eval_eibench

pytestmark = pytest.mark.slow

LMMS_EVAL = str(Path(sys.executable).parent / "lmms-eval")
OFFICIAL = "You are a good expert of emotion understanding. Look at the image, {question}"
# Words of the first basic sample's triggers (the fake judge covers a trigger when one of its 5+ letter words occurs)
ANSWER = "A friend is telling a joke next to a birthday cake"


def covered_by_fake_judge(answer: str, triggers: list[str]) -> int:
    """What tests/judge_server.py decides: a trigger is covered when it shares a 5+ letter word with the answer."""
    words = set(re.findall(r"[a-z]{5,}", answer.lower()))
    return sum(bool(set(re.findall(r"[a-z]{5,}", t.lower())) & words) for t in triggers)


def run_lmms(tasks: str, out: Path, env: dict[str, str], *extra: str, check: bool = True, model: str = "dummy",
             model_args: str | None = None) -> subprocess.CompletedProcess:
    """Run the lmms-eval CLI like a user would (no --include_path); return the finished process."""
    cmd = [LMMS_EVAL, "--model", model, "--tasks", tasks, "--output_path", str(out), "--verbosity", "DEBUG", *extra]
    if model_args:
        cmd += ["--model_args", model_args]
    full_env = {**os.environ, **env}
    proc = subprocess.run(cmd, env=full_env, capture_output=True, text=True, timeout=600)
    if check:
        assert proc.returncode == 0, f"lmms-eval failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    return proc


def results_of(out: Path) -> dict:
    files = sorted(out.rglob("*_results.json"))
    assert files, f"no results file under {out}"
    return json.loads(files[-1].read_text())


def samples_of(out: Path, task: str) -> list[dict]:
    files = sorted(out.rglob(f"*_samples_{task}.jsonl"))
    assert files, f"no samples file for {task} under {out}"
    return [json.loads(line) for line in files[-1].read_text().splitlines() if line.strip()]


def dataset_rows(dataset_dir: Path, subset: str) -> list[dict]:
    import datasets

    split = datasets.load_dataset(str(dataset_dir), subset, split="test")
    return split.remove_columns("image").to_list()


@pytest.fixture(scope="module")
def judge():
    with judge_server(FakeJudgeConfig()) as server:
        yield server


def judge_env(judge, cache_dir: Path) -> dict[str, str]:
    return {"EIBENCH_JUDGE": "openai", "EIBENCH_JUDGE_BASE_URL": judge.base_url, "EIBENCH_JUDGE_API_KEY": judge.api_key,
            "EIBENCH_JUDGE_MODEL": judge.model, "EIBENCH_CACHE_DIR": str(cache_dir)}


def test_bar_embedding_judge_without_include_path(sample_dataset_dir, tmp_path):
    """The issue's bar: `lmms-eval --model dummy --tasks eibench --limit 8 --output_path OUT --verbosity DEBUG`."""
    out = tmp_path / "out"
    run_lmms("eibench", out, {"EIBENCH_DATASET": str(sample_dataset_dir), "EIBENCH_JUDGE": "embedding",
                              "EIBENCH_CACHE_DIR": str(tmp_path / "cache")}, "--limit", "8")
    results = results_of(out)["results"]
    for task in ("eibench_basic", "eibench_complex"):
        value = results[task]["eibench_semantic_recall,none"]
        assert 0.0 <= value <= 100.0, (task, value)
        assert results[task]["eibench_judge_failures,none"] == 0
        assert "eibench_recall,none" not in results[task]  # the embedding judge reports under its own name
    assert "eibench_semantic_recall,none" in results["eibench"]


def test_openai_judge_user_and_cot_prompts(sample_dataset_dir, judge, tmp_path):
    """Official prompts exactly, verdicts in the samples, recall in the results equal to the samples' mean."""
    out = tmp_path / "out"
    before = judge.stats.chat_requests
    run_lmms("eibench,eibench_cot", out, {"EIBENCH_DATASET": str(sample_dataset_dir), **judge_env(judge, tmp_path / "c")},
             "--log_samples", "--model_args", f"response={ANSWER}", "--gen_kwargs", "max_new_tokens=64")
    results = results_of(out)
    rows = {s: {r["id"]: r for r in dataset_rows(sample_dataset_dir, s)} for s in ("basic", "complex")}
    for subset in ("basic", "complex"):
        for suffix, wording in (("", OFFICIAL), ("_cot", OFFICIAL + " Let's think step by step.")):
            task = f"eibench_{subset}{suffix}"
            samples = samples_of(out, task)
            assert len(samples) == len(rows[subset])
            scores = []
            for sample in samples:
                item = sample["eibench_recall"]
                verdict = item["verdict"]
                row = rows[subset][verdict["id"]]
                assert sample["input"] == wording.format(question=row["question"])
                assert sample["filtered_resps"] == ANSWER
                assert not verdict["failed"] and "{score:" in verdict["raw"] and verdict["reason"]
                expected = covered_by_fake_judge(ANSWER, row["triggers"])
                assert verdict["covered"] == expected, (task, row["id"])
                assert item["score"] == pytest.approx(100.0 * expected / len(row["triggers"]))
                scores.append(item["score"])
            assert results["results"][task]["eibench_recall,none"] == pytest.approx(sum(scores) / len(scores))
            if subset == "basic":
                assert any(scores), "the answer covers triggers of the first sample: some recall must be > 0"
            assert results["results"][task]["eibench_judge_failures,none"] == 0
            config = results["configs"][task]
            meta = config["metadata"]
            assert meta["prompt_template"] == ("cot" if suffix else "user") and meta["prompt_version"] == "1"
            record = meta["eibench_provenance"]  # the provenance record, as lmms_eval_eibench.provenance builds it
            assert record["judge"]["model"] == judge.model and record["judge"]["kind"] == "openai"
            assert record["judge"]["endpoint"] == judge.base_url
            assert record["model_prompt"] == {"template": meta["prompt_template"], "version": "1"}
            # the task's generation settings as the model used them: --gen_kwargs applies after task construction
            assert record["generation"] == config["generation_kwargs"] and record["generation"]["max_new_tokens"] == 64
            assert record["plugin"]["version"] == lmms_eval_eibench.__version__
            assert judge.api_key not in json.dumps(results)
    basic = results["results"]["eibench_basic"]
    assert any(k.startswith("eibench_recall_happy") for k in basic)
    assert results["results"]["eibench_complex"]["eibench_recall_stderr_clustered,none"] != "N/A"
    # user and CoT answers are equal here: the second task's verdicts come from the verdict cache
    assert judge.stats.chat_requests - before == len(rows["basic"]) + len(rows["complex"])


def test_preflight_fails_before_generation(sample_dataset_dir, judge, tmp_path):
    out = tmp_path / "out"
    env = {"EIBENCH_DATASET": str(sample_dataset_dir), **judge_env(judge, tmp_path / "c"),
           "EIBENCH_JUDGE_API_KEY": "sk-wrong-key-1234"}
    started = time.perf_counter()
    proc = run_lmms("eibench_basic", out, env, "--log_samples", check=False)
    log = proc.stdout + proc.stderr
    assert proc.returncode != 0 and not list(out.rglob("*_results.json"))
    assert "PreflightError" in log and judge.base_url in log
    assert "sk-wrong-key-1234" not in log
    assert "Running generate_until requests" not in log, "the preflight must run before generation"
    assert time.perf_counter() - started < 120


def test_predict_only_needs_no_judge(sample_dataset_dir, tmp_path):
    """--predict_only runs without any judge (the key may live on another machine): no preflight, no verdicts."""
    out = tmp_path / "out"
    env = {"EIBENCH_DATASET": str(sample_dataset_dir), "EIBENCH_JUDGE": "openai",
           "EIBENCH_JUDGE_BASE_URL": "http://127.0.0.1:9/v1", "EIBENCH_JUDGE_API_KEY": "unused"}
    run_lmms("eibench_complex", out, env, "--predict_only", "--log_samples")
    samples = samples_of(out, "eibench_complex")
    assert len(samples) == len(dataset_rows(sample_dataset_dir, "complex"))
    assert all("eibench_recall" not in s and s["filtered_resps"] for s in samples)


def test_missing_dataset_says_how_to_build_it(tmp_path):
    out = tmp_path / "out"
    proc = run_lmms("eibench_basic", out, {"EIBENCH_DATASET": str(tmp_path / "nowhere"), "EIBENCH_JUDGE": "embedding"},
                    check=False)
    log = proc.stdout + proc.stderr
    assert proc.returncode != 0 and not list(out.rglob("*_results.json"))
    assert "No EIBench dataset at" in log and "hub_upload.py" in log


def test_caption_tasks_refuse_a_dataset_without_captions(sample_dataset_dir, tmp_path):
    out = tmp_path / "out"
    proc = run_lmms("eibench_basic_caption_text", out, {"EIBENCH_DATASET": str(sample_dataset_dir),
                                                        "EIBENCH_JUDGE": "embedding"}, check=False)
    log = proc.stdout + proc.stderr
    assert proc.returncode != 0 and not list(out.rglob("*_results.json"))
    assert "have no caption" in log and "eibench_captions" in log and "eibench captions" in log


def test_captions_workflow_then_caption_tasks(sample_dataset_dir, judge, tmp_path):
    """eibench_captions -> `eibench captions` -> hub_upload.py --captions -> caption and caption-text tasks."""
    out = tmp_path / "captions-run"
    env = {"EIBENCH_DATASET": str(sample_dataset_dir), "EIBENCH_JUDGE": "embedding"}
    caption = "Two people sit at a table with a cake"
    run_lmms("eibench_captions", out, env, "--log_samples", "--model_args", f"response={caption}")
    samples = samples_of(out, "eibench_captions")
    images = {r["image_path"] for s in ("basic", "complex") for r in dataset_rows(sample_dataset_dir, s)}
    assert len(samples) == len(images)
    assert samples[0]["input"].startswith("Describe this image in detail")

    captions_file = tmp_path / "captions.jsonl"
    samples_file = sorted(out.rglob("*_samples_eibench_captions.jsonl"))[-1]
    proc = subprocess.run([str(Path(sys.executable).parent / "eibench"), "captions", str(samples_file), "-o",
                           str(captions_file)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in captions_file.read_text().splitlines()]
    assert {line["image_path"] for line in lines} == images and {line["caption"] for line in lines} == {caption}

    from lmms_eval_eibench.data.build import ImageRoots, build

    captioned = tmp_path / "captioned"
    build(None, captioned, ImageRoots(), captions_file=captions_file, log=lambda line: None)
    out2 = tmp_path / "caption-tasks"
    run_lmms("eibench_caption,eibench_caption_text", out2,
             {"EIBENCH_DATASET": str(captioned), **judge_env(judge, tmp_path / "c")},
             "--log_samples", "--model_args", f"response={ANSWER}", "--gen_kwargs", "max_new_tokens=64")
    results = results_of(out2)["results"]
    rows = {r["id"]: r for r in dataset_rows(captioned, "basic")}
    for task in ("eibench_basic_caption", "eibench_basic_caption_text"):
        assert 0 <= results[task]["eibench_recall,none"] <= 100
        for sample in samples_of(out2, task):
            row = rows[sample["eibench_recall"]["verdict"]["id"]]
            assert caption in sample["input"] and row["question"] in sample["input"]


@pytest.mark.parametrize("force_simple", [False, True], ids=["chat", "simple"])
def test_tiny_llava_hf_produces_scored_samples(sample_dataset_dir, tmp_path_factory, tmp_path, force_simple):
    """A real vision-language model path: lmms-eval's llava_hf on a tiny random checkpoint built from configs."""
    from tiny_llava import build_tiny_llava

    model_dir = tmp_path_factory.getbasetemp() / "tiny-llava"
    if not model_dir.exists():
        build_tiny_llava(model_dir)
    out = tmp_path / "out"
    extra = ["--force_simple"] if force_simple else []
    run_lmms("eibench_basic,eibench_complex_cot", out,
             {"EIBENCH_DATASET": str(sample_dataset_dir), "EIBENCH_JUDGE": "embedding",
              "EIBENCH_CACHE_DIR": str(tmp_path / "cache")},
             "--limit", "3", "--log_samples", "--gen_kwargs", "max_new_tokens=24", *extra,
             model="llava_hf", model_args=f"pretrained={model_dir},device=cpu,device_map=cpu,dtype=float32")
    results = results_of(out)
    assert results["config"]["model_backend"].endswith("(simple)" if force_simple else "(chat)")
    for task in ("eibench_basic", "eibench_complex_cot"):
        assert 0.0 <= results["results"][task]["eibench_semantic_recall,none"] <= 100.0
        samples = samples_of(out, task)
        assert len(samples) == 3
        for sample in samples:
            assert isinstance(sample["filtered_resps"], str)
            assert not sample["eibench_semantic_recall"]["verdict"]["failed"]
            assert sample["input"].startswith("You are a good expert of emotion understanding. Look at the image, ")


def test_a_reasoning_model_is_judged_once_per_answer_on_what_lmms_eval_scores(official_dataset_dir, judge, tmp_path):
    """The bar: a dummy model answering `<think>...</think> answer` on 40 docs takes 40 judge requests, each on the
    answer after lmms-eval's default --reasoning_tags stripping; a cached rerun sends none."""
    judge.reset_stats()
    response = "<think>Scanning the scene first</think> A friend is telling a joke next to a birthday cake"
    env = {"EIBENCH_DATASET": str(official_dataset_dir), **judge_env(judge, tmp_path / "c")}
    run_lmms("eibench_basic", tmp_path / "out", env, "--limit", "40", "--log_samples",
             "--model_args", f"response={response}")
    assert judge.stats.chat_requests == 40
    assert not any("Scanning" in prompt for prompt in judge.stats.prompts_answered)
    samples = samples_of(tmp_path / "out", "eibench_basic")
    assert len(samples) == 40 and all(not s["eibench_recall"]["verdict"]["cached"] for s in samples)
    assert all("<think>" not in s["filtered_resps"] for s in samples)
    judge.reset_stats()
    run_lmms("eibench_basic", tmp_path / "again", env, "--limit", "40", "--model_args", f"response={response}")
    assert judge.stats.chat_requests == 0
    assert results_of(tmp_path / "again")["results"]["eibench_basic"]["eibench_recall,none"] == \
        results_of(tmp_path / "out")["results"]["eibench_basic"]["eibench_recall,none"]


def test_two_processes_judge_each_document_exactly_once(sample_dataset_dir, judge, tmp_path_factory, tmp_path):
    """More than one process, as lmms-eval runs on CPU: `accelerate launch --cpu --num_processes 2` starts only one
    process here (lmms-eval logs world_size 1), and the `dummy` model has no `device`, which lmms-eval's evaluator
    needs with world_size 2; so: torchrun (gloo) with the tiny llava_hf. Same metrics as one process, and every
    document judged exactly once in total (counted at the judge)."""
    from tiny_llava import build_tiny_llava

    model_dir = tmp_path_factory.getbasetemp() / "tiny-llava"
    if not model_dir.exists():
        build_tiny_llava(model_dir)
    model_args = f"pretrained={model_dir},device=cpu,device_map=cpu,dtype=float32"
    common = ["--model", "llava_hf", "--model_args", model_args, "--tasks", "eibench_basic,eibench_complex",
              "--gen_kwargs", "max_new_tokens=12", "--log_samples", "--verbosity", "DEBUG", "--force_simple"]
    outs = {}
    for name, launcher in (("one", [LMMS_EVAL]),
                           ("two", [str(Path(sys.executable).parent / "torchrun"), "--nproc_per_node", "2",
                                    "--master_port", "29517", "-m", "lmms_eval"])):
        judge.reset_stats()
        out = tmp_path / name
        env = {**os.environ, "EIBENCH_DATASET": str(sample_dataset_dir), **judge_env(judge, tmp_path / f"cache-{name}"),
               "OMP_NUM_THREADS": "1"}
        proc = subprocess.run([*launcher, *common, "--output_path", str(out)], env=env, capture_output=True, text=True,
                              timeout=900)
        assert proc.returncode == 0, proc.stderr[-4000:]
        outs[name] = (results_of(out), judge.stats.chat_requests)
        if name == "two":  # really two processes: each judged its half of each task (progress bars of 4 and 2)
            assert proc.stderr.count("judging (openai):   0%|          | 0/4") == 2, proc.stderr[-4000:]
            assert proc.stderr.count("judging (openai):   0%|          | 0/2") == 2
    n_docs = 8 + 4
    (one, one_requests), (two, two_requests) = outs["one"], outs["two"]
    assert one_requests <= n_docs and two_requests == one_requests  # each document once in total (fewer: duplicates)
    for task in ("eibench_basic", "eibench_complex"):
        assert two["results"][task]["eibench_recall,none"] == one["results"][task]["eibench_recall,none"]
        assert two["n-samples"][task]["effective"] == one["n-samples"][task]["effective"]
