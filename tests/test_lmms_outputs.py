"""`lmms_outputs`, the one reader of lmms-eval's output files, on the files a real lmms-eval 0.7.3 run writes: the
`lmms-eval` CLI with the `dummy` model, `--log_samples`, on the embedded sample dataset, judged by the embedding
judge. Each assertion names what an lmms-eval release that moved a file or a key would break."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_lmms_e2e import run_lmms

from lmms_eval_eibench.answers import model_from_path, read_inputs
from lmms_eval_eibench.edge import lmms_outputs
from lmms_eval_eibench.report.results import load_results
from lmms_eval_eibench.runs import read_run

pytestmark = pytest.mark.slow

TASK = "eibench_basic"
LIMIT = 3


@pytest.fixture(scope="module")
def run(sample_dataset_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("lmms-out")
    cache = tmp_path_factory.mktemp("verdicts")
    run_lmms(TASK, out, {"EIBENCH_DATASET": str(sample_dataset_dir), "EIBENCH_JUDGE": "embedding",
                         "EIBENCH_CACHE_DIR": str(cache)}, "--limit", str(LIMIT), "--log_samples")
    return out


def test_file_names(run: Path) -> None:
    """`<stamp>_results.json` beside `<stamp>_samples_<task>.jsonl`, under the model's folder (or OUT/)."""
    (results,) = run.rglob("*.json")
    (samples,) = run.rglob("*.jsonl")
    assert lmms_outputs.is_results_name(results) and lmms_outputs.run_stamp(results), results.name
    assert lmms_outputs.is_samples_name(samples) and lmms_outputs.task_of_samples(samples) == TASK, samples.name
    assert lmms_outputs.run_stamp(results) == samples.name.partition(lmms_outputs.SAMPLES_INFIX)[0]
    assert lmms_outputs.results_beside(samples) == results
    assert lmms_outputs.samples_beside(results) == [samples]
    assert model_from_path(samples) == "dummy"  # from the results beside it (`config.model`)


def test_results_keys(run: Path) -> None:
    """`results.<task>` (`<metric>,<filter>` keys), `configs.<task>.metadata.eibench_provenance`, `n-samples`."""
    (results,) = run.rglob("*.json")
    data = json.loads(results.read_text(encoding="utf-8"))
    assert lmms_outputs.is_results(data)
    metrics = lmms_outputs.task_metrics(data["results"][TASK])
    assert "eibench_semantic_recall" in metrics and not any("," in name for name in metrics), sorted(metrics)
    assert isinstance(metrics["eibench_semantic_recall"], float)
    assert lmms_outputs.task_config(data, TASK).get("dataset_name") == "basic"
    record = lmms_outputs.task_metadata(data, TASK)["eibench_provenance"]
    assert record["judge"]["kind"] == "embedding"
    effective, original = lmms_outputs.sample_counts(data, TASK)
    assert effective == LIMIT and isinstance(original, int) and original >= LIMIT
    assert lmms_outputs.group_names(data) == set()  # one task, no group
    assert lmms_outputs.read_results(results) == data


def test_sample_fields(run: Path) -> None:
    """Per line: `doc_id` (the row), `doc` (the row's columns), `resps` / `filtered_resps`, our metric keys."""
    (samples,) = run.rglob("*.jsonl")
    lines = [json.loads(line) for line in samples.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(lines) == LIMIT
    for number, line in enumerate(lines):
        assert lmms_outputs.is_sample(line) and lmms_outputs.looks_like_sample(line)
        assert isinstance(lmms_outputs.sample_answer(line), str) and lmms_outputs.sample_answer(line)
        assert lmms_outputs.sample_responses(line) == line["filtered_resps"]
        assert line["doc_id"] == number and lmms_outputs.sample_doc(line) == {}  # 0.7.3 drops the doc
        item = line["eibench_semantic_recall"]  # the per-sample item `runs.py` reads: its verdict names the sample
        assert isinstance(item["verdict"]["id"], str) and isinstance(item["score"], float)


def test_the_readers_agree_on_the_run(run: Path, sample_dataset_dir: Path) -> None:
    """The three readers built on lmms_outputs see the same run: the report's row, `--paired`'s samples and
    `eibench score`'s answers name the same task, samples and count."""
    (results,) = run.rglob("*.json")
    (samples,) = run.rglob("*.jsonl")
    (row,), _ = load_results([run])
    (paired,) = read_run(results)
    inputs = read_inputs(samples, dataset=str(sample_dataset_dir), allow_partial=True)
    assert row.task == paired.task == TASK and row.n == len(paired.samples) == len(inputs.texts) == LIMIT
    assert set(paired.samples) == {text.id for text in inputs.texts}
    assert paired.provenance == row.provenance
