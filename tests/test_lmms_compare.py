"""EIBench in lmms-eval's own comparison tools, through the real `lmms-eval` CLI (the `dummy` model, the offline
embedding judge, the dataset built from the official annotations with placeholder images): `--baseline` pairs two
runs on `eibench_paired_score`, `eibench report --paired` agrees with it, a run beside another benchmark's task,
`lmms-eval power` and W&B offline logging."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_lmms_e2e import results_of, run_lmms

pytestmark = pytest.mark.slow

# Angry-looking answers: the first 40 basic documents are CAER-S Angry frames, so both cover some triggers
RICH = "response=Furrowed eyebrows and an open mouth while shouting with wide eyes and gesturing with clenched fists"
POOR = "response=Furrowed eyebrows"
EIBENCH = str(Path(sys.executable).parent / "eibench")


def printed_table(stdout: str) -> dict[str, dict[str, str]]:
    """lmms-eval's results table, as printed: metric -> column -> cell."""
    lines = [line for line in stdout.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    rows = {}
    for line in lines[2:]:
        cells = dict(zip(header, (cell.strip() for cell in line.strip("|").split("|"))))
        rows[cells["Metric"]] = cells
    return rows


def samples_file(out: Path, task: str) -> Path:
    [found] = out.rglob(f"*_samples_{task}.jsonl")
    return found


@pytest.fixture(scope="module")
def env(official_dataset_dir, tmp_path_factory) -> dict[str, str]:
    cache = tmp_path_factory.mktemp("verdicts")
    return {"EIBENCH_DATASET": str(official_dataset_dir), "EIBENCH_JUDGE": "embedding", "EIBENCH_CACHE_DIR": str(cache)}


@pytest.fixture(scope="module")
def run_a(env, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run-a")
    run_lmms("eibench_basic", out, env, "--limit", "40", "--log_samples", model_args=RICH)
    return out


def test_bar_baseline_pairs_two_runs(env, run_a, tmp_path):
    """The bar: run B with --baseline run A's samples has paired_baseline_score = A's eibench_semantic_recall."""
    baseline = samples_file(run_a, "eibench_basic")
    out = tmp_path / "b"
    proc = run_lmms("eibench_basic", out, env, "--limit", "40", "--log_samples", "--baseline", str(baseline),
                    model_args=POOR)
    a = results_of(run_a)["results"]["eibench_basic"]
    b = results_of(out)["results"]["eibench_basic"]
    assert a["eibench_semantic_recall,none"] > 0  # so that the equality below is not 0 == 0
    assert b["paired_baseline_score"] == pytest.approx(a["eibench_semantic_recall,none"], abs=1e-9)
    assert 0.0 <= b["paired_pvalue"] <= 1.0
    diff = b["eibench_semantic_recall,none"] - a["eibench_semantic_recall,none"]
    assert b["paired_ci_lower"] <= diff <= b["paired_ci_upper"]
    assert "differs from this run" not in proc.stdout + proc.stderr  # same judge, same prompt: no warning
    # the paired-score row is the recall on 0-100: lmms-eval's Diff (row - baseline) is B - A, its stderr the same
    assert b["eibench_paired_score,none"] == pytest.approx(b["eibench_semantic_recall,none"], abs=1e-9)
    assert b["eibench_paired_score,none"] - b["paired_baseline_score"] == pytest.approx(diff, abs=1e-9)
    assert b["eibench_paired_score_stderr_clt,none"] == pytest.approx(
        b["eibench_semantic_recall_stderr_clt,none"], rel=1e-9)
    table = printed_table(proc.stdout)
    for metric in ("eibench_paired_score", "eibench_semantic_recall"):
        assert table[metric]["Diff"] == f"{diff:+.1f}%", table[metric]
        assert float(table[metric]["Value"]) == pytest.approx(b["eibench_semantic_recall,none"], abs=1e-4)
    # eibench report --paired gives the same test from the files alone
    report = subprocess.run([EIBENCH, "report", "--paired", str(baseline), str(samples_file(out, "eibench_basic"))],
                            capture_output=True, text=True, timeout=120)
    assert report.returncode == 0, report.stderr
    overall = next(line for line in report.stdout.splitlines() if "| overall |" in line).split("|")
    assert float(overall[6]) == pytest.approx(diff, abs=0.005)
    assert overall[7].strip() == f"[{b['paired_ci_lower']:.2f}, {b['paired_ci_upper']:.2f}]"
    p = b["paired_pvalue"]
    assert overall[8].strip() == ("<0.0001" if p < 1e-4 else f"{p:.4f}")


def test_baseline_with_another_prompt_warns(env, run_a, tmp_path):
    baseline = samples_file(run_a, "eibench_basic")
    out = tmp_path / "cot"
    proc = run_lmms("eibench_basic_cot", out, env, "--limit", "5", "--log_samples", "--baseline", str(baseline),
                    model_args=POOR)
    assert "differs from this run in its model prompt user v1 vs cot v1" in proc.stdout + proc.stderr
    report = subprocess.run([EIBENCH, "report", "--paired", str(baseline), str(samples_file(out, "eibench_basic_cot"))],
                            capture_output=True, text=True, timeout=120)
    assert report.returncode == 2 and "model prompt user v1 vs cot v1" in report.stderr and not report.stdout


# an answer that covers some complex triggers (a face, tears, a crowd) and is the tiny task's target twice
ANSWER = "A crying face with tears and a sad frown in a crowd of people"
TINY_TASK = """task: tiny_echo
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: generate_until
doc_to_text: q
doc_to_target: a
generation_kwargs:
  max_new_tokens: 4
  until: []
metric_list:
  - metric: exact_match
    aggregation: mean
    higher_is_better: true
"""


@pytest.fixture(scope="module")
def multi_run(env, tmp_path_factory) -> tuple[Path, Path | None]:
    """eibench_complex beside a local non-EIBench task in one lmms-eval call (W&B offline when installed)."""
    root = tmp_path_factory.mktemp("multi")
    include = root / "tasks"
    include.mkdir()
    data = include / "tiny.jsonl"
    data.write_text("".join(json.dumps({"q": f"Say {a}.", "a": a}) + "\n" for a in (ANSWER, "no", ANSWER)))
    (include / "tiny_echo.yaml").write_text(TINY_TASK.format(data=data))
    extra, wandb_dir = [], None
    try:
        import wandb  # noqa: F401
    except ImportError:
        pass
    else:
        wandb_dir = root / "wandb"
        wandb_dir.mkdir()
        extra = ["--wandb_args", "project=eibench-test,name=multi"]
    out = root / "out"
    wandb_env = {"WANDB_MODE": "offline", "WANDB_DIR": str(wandb_dir), "WANDB_SILENT": "true"} if wandb_dir else {}
    run_lmms("eibench_complex,tiny_echo", out, {**env, **wandb_env}, "--include_path", str(include), "--log_samples",
             *extra, model_args=f"response={ANSWER}")
    return out, wandb_dir


def test_multi_benchmark_run_and_report(multi_run):
    out, _ = multi_run
    data = results_of(out)
    assert data["results"]["tiny_echo"]["exact_match,none"] == pytest.approx(2 / 3)  # one answer to 3 questions
    complex_ = data["results"]["eibench_complex"]
    assert complex_["eibench_judge_failures,none"] == 0 and 0 < complex_["eibench_semantic_recall,none"] <= 100
    record = data["configs"]["eibench_complex"]["metadata"]["eibench_provenance"]
    assert record["judge"]["kind"] == "embedding" and record["model_prompt"]["template"] == "user"
    assert "eibench_provenance" not in json.dumps(data["configs"]["tiny_echo"])
    [results_file] = out.rglob("*_results.json")
    report = subprocess.run([EIBENCH, "report", str(results_file)], capture_output=True, text=True, timeout=120)
    assert report.returncode == 0, report.stderr
    row = next(line for line in report.stdout.splitlines() if line.startswith("| dummy |"))
    header = [cell.strip() for cell in report.stdout.splitlines()[0].strip("|").split("|")]
    cells = dict(zip(header, (cell.strip() for cell in row.strip("|").split("|"))))
    assert cells["Complex Recall"] == (f"{complex_['eibench_semantic_recall,none']:.2f} ± "
                                       f"{complex_['eibench_semantic_recall_stderr_clustered,none']:.2f}")
    assert cells["Words"] == f"{complex_['eibench_answer_words,none']:.0f}"
    assert "tasks without EIBench recall skipped: tiny_echo" in report.stderr


def test_wandb_offline_summary_has_eibench_metrics_and_provenance(multi_run):
    pytest.importorskip("wandb")
    from wandb.proto import wandb_internal_pb2
    from wandb.sdk.internal import datastore

    out, wandb_dir = multi_run
    [run_file] = wandb_dir.rglob("offline-run-*/run-*.wandb")
    store = datastore.DataStore()
    store.open_for_scan(str(run_file))
    summary, config = {}, {}
    while (data := store.scan_data()) is not None:
        record = wandb_internal_pb2.Record()
        record.ParseFromString(data)
        kind = record.WhichOneof("record_type")
        if kind == "summary":
            summary.update({item.key or "/".join(item.nested_key): json.loads(item.value_json)
                            for item in record.summary.update})
        elif kind == "config":
            config.update({item.key: item.value_json for item in record.config.update})
    recall = results_of(out)["results"]["eibench_complex"]["eibench_semantic_recall,none"]
    assert summary["eibench_complex/eibench_semantic_recall"] == pytest.approx(recall)
    assert "eibench_paired_score" in "".join(summary)
    assert '"eibench_provenance"' in config["task_configs"] and '"embedding_coverage"' in config["task_configs"]


def test_lmms_eval_power_sees_eibench_tasks(env):
    from lmms_eval_eibench.harness.discovery import tasks_dir

    proc = subprocess.run([str(Path(sys.executable).parent / "lmms-eval"), "power", "--tasks",
                           "eibench_basic,eibench_complex", "--include-path", str(tasks_dir()), "--verbosity", "WARNING"],
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Unresolved" not in proc.stdout + proc.stderr
    basic = proc.stdout.split("eibench_basic:")[1].split("eibench_complex:")[0]
    assert "n = 1615" in basic
    assert "n = 50" in proc.stdout.split("eibench_complex:")[1]
