"""The one metric table (lmms_eval_eibench/metrics.py): every consumer follows it, and every value the report
shows is in its metric's unit.

Adding a metric must be one entry in ``metrics.METRICS``, its aggregation and its test: these tests fail when the
per-sample metrics, the task's metric list (built by lmms-eval's own TaskManager and our task class), the report's
columns, the summary schema or ``eibench score --json`` have a metric the table lacks or lack one it has."""

from __future__ import annotations

import ast
import json
import math
from pathlib import Path

import pytest
import yaml

from lmms_eval_eibench import BASIC_CATEGORIES, metrics, pipeline
from lmms_eval_eibench.cli import main as eibench
from lmms_eval_eibench.judges import JudgeItem, Verdict
from lmms_eval_eibench.report.results import Measure, TaskResult
from lmms_eval_eibench.scoring import recall as scoring
from lmms_eval_eibench.vocabulary import RECALL, RECALL_METRICS, SEMANTIC_RECALL

ROOT = Path(__file__).resolve().parents[1]
RUN_GPT = ROOT / "tests" / "fixtures" / "report" / "run_gpt"
DOCS = {
    "basic": [{"id": f"x/{c}/{i}.png", "image_path": f"x/{c}/{i}.png", "category": c}
              for c in BASIC_CATEGORIES for i in range(2)],
    "complex": [{"id": f"y/{i}.jpg#{k}", "image_path": f"y/{i}.jpg", "category": None} for i in range(3) for k in range(2)],
}
ANSWER = "A friend tells a joke. Everyone laughs at the cake."


def perfect(doc: dict, total: int = 3) -> Verdict:
    return Verdict(id=doc["id"], recall=1.0, covered=float(total), total=total, judge_failed=False, raw="{score: 3/3}")


def judge_failure(doc: dict, total: int = 3) -> Verdict:
    return Verdict.failure(JudgeItem(doc["id"], ANSWER, "1. x", ("x",) * total, doc["category"]), "unparseable")


def run_metrics(subset: str, family: str, verdict=perfect) -> list[dict]:
    """Every document's metrics, with a word budget and coherence on (the real pipeline.sample_metrics)."""
    return [pipeline.sample_metrics(doc, verdict(doc), family, subset, answer=ANSWER, at_budget=verdict(doc),
                                    with_coherence=True, coherence=1.0) for doc in DOCS[subset]]


# ------------------------------------------------------------------------------ one entry is all it takes


@pytest.mark.parametrize("subset", ["basic", "complex"])
def test_the_table_names_are_what_every_sample_carries_in_its_order(subset):
    names = [name for name, _, _ in metrics.expanded(subset)]
    carried = []
    for family in RECALL_METRICS:
        keys = [list(sample) for sample in run_metrics(subset, family)]
        assert all(k == keys[0] for k in keys)  # lmms-eval counts a task's samples from its last metric
        carried += [k for k in keys[0] if k not in carried]
    assert sorted(carried) == sorted(names) and len(names) == len(set(names))
    # the one setting-dependent pair is absent when its setting is off
    plain = pipeline.sample_metrics(DOCS[subset][0], perfect(DOCS[subset][0]), RECALL, subset, answer=ANSWER)
    assert set(plain) == {name for name, m, _ in metrics.expanded(subset, (RECALL,)) if m.when is None}


@pytest.mark.parametrize("task, subset", [("eibench_basic", "basic"), ("eibench_complex_cot", "complex")])
def test_lmms_eval_builds_the_tasks_metric_list_from_the_table(task, subset, monkeypatch, sample_dataset_dir, tmp_path):
    """lmms-eval's own TaskManager and our YAMLs: the task's metrics, aggregations and directions are the table's
    (no YAML lists a metric, so none can drift)."""
    from judge_server import FakeJudgeConfig, judge_server
    from lmms_eval.tasks import TaskManager

    from lmms_eval_eibench.harness.discovery import tasks_dir

    server = judge_server(FakeJudgeConfig())
    judge = server.__enter__()
    for name, value in {"EIBENCH_DATASET": str(sample_dataset_dir), "EIBENCH_JUDGE_BASE_URL": judge.base_url,
                        "EIBENCH_JUDGE_API_KEY": judge.api_key, "EIBENCH_JUDGE_MODEL": judge.model,
                        "EIBENCH_CACHE_DIR": str(tmp_path / "verdicts")}.items():
        monkeypatch.setenv(name, value)
    try:
        built = TaskManager(include_path=str(tasks_dir()), include_defaults=False).load_task_or_group([task])[task]
    finally:
        server.__exit__(None, None, None)
    expected = metrics.expanded(subset)
    assert list(built.aggregation()) == [name for name, _, _ in expected]
    for name, metric, _ in expected:
        assert built.aggregation()[name] is pipeline.aggregation(metric.aggregation)
        assert built.higher_is_better()[name] is metric.higher_is_better
    # what a sample carries is what the task aggregates
    assert set(run_metrics(subset, SEMANTIC_RECALL)[0]) <= set(built.aggregation())


def test_every_aggregation_the_table_names_is_a_utils_name_of_both_harnesses():
    """lmms-eval and lm-eval load their utils.py by path: each aggregation the table names is importable there."""
    for utils in (ROOT / "tasks" / "eibench" / "utils.py", ROOT / "lmms_eval_eibench" / "lm_eval_tasks" / "eibench" / "utils.py"):
        imported = {alias.name for node in ast.walk(ast.parse(utils.read_text())) if isinstance(node, ast.ImportFrom)
                    and node.module == "lmms_eval_eibench.pipeline" for alias in node.names}
        assert {m.aggregation for m in metrics.METRICS} <= imported, utils


def test_groups_pool_the_headline_of_each_judge_family():
    for path in sorted((ROOT / "tasks" / "eibench").glob("eibench*.yaml")):
        config = yaml.safe_load(path.read_text().replace("!function ", ""))
        if "group" in config:
            assert tuple(m["metric"] for m in config["aggregate_metric_list"]) == metrics.group_metrics(), path


def test_report_columns_fields_and_summary_keys_are_the_tables():
    from lmms_eval_eibench.report import render, summary

    assert render.HEADERS[4:] == metrics.REPORT_COLUMNS
    fields = set(TaskResult.__dataclass_fields__)
    assert {m.field for m in metrics.METRICS if m.field} <= fields
    schema = json.loads(summary.SUMMARY_SCHEMA_PATH.read_text())
    subset_keys = set(schema["$defs"]["subset"]["properties"])
    table_keys = {m.summary_key for m in metrics.METRICS if m.summary_key}
    assert table_keys <= subset_keys
    result = TaskResult(model="m", template="user", subset="basic", overall=Measure(50.0, 1.0))
    written = set(summary._subset_json(result))
    assert table_keys <= written <= subset_keys


def test_score_json_has_every_key_of_the_table_and_the_report_reads_each(tmp_path):
    """``eibench score --json`` writes each metric's score_key, and the report reads it into the metric's field: a
    changed value there changes the row."""
    from lmms_eval_eibench.report.results import result_from_score

    docs = DOCS["basic"]
    items = [JudgeItem(d["id"], ANSWER, "1. x", ("x", "y", "z"), d["category"]) for d in docs]
    verdicts = [perfect(d) for d in docs]
    summary = pipeline.summarize_verdicts(items, verdicts, "basic")
    out = pipeline.score_json(summary, "basic", RECALL, {}, None, "eibench_basic", answers=[ANSWER] * len(docs),
                              at_budget=(5, summary))
    assert set(metrics.score_keys()) <= set(out)
    base = result_from_score(tmp_path / "s.json", out)
    for metric in metrics.METRICS:
        if not (metric.score_key and metric.field):
            continue
        changed = json.loads(json.dumps(out))
        other = 1 if metric.unit is metrics.COUNT else 42.0  # the perfect run has 100, 0 failures, 10 words
        value = changed[metric.score_key]
        changed[metric.score_key] = {c: other for c in value} if isinstance(value, dict) else other
        read = result_from_score(tmp_path / "s.json", changed)
        assert getattr(read, metric.field) != getattr(base, metric.field), metric.pattern


# ------------------------------------------------------------------------------ units


@pytest.mark.parametrize("subset", ["basic", "complex"])
def test_each_aggregate_is_in_its_units_and_so_are_the_items_lmms_eval_takes_its_stderr_from(subset):
    """A perfect run: every 0-100 metric aggregates to 100 (the paired score too, whose samples stay 0-1), the
    failure counts to 0, words to the answer's words, coherence 1.0 to 100. After the aggregation the item list
    (lmms-eval computes ``_stderr_clt`` from that same list) has the aggregate as its mean: one unit for both."""
    samples = run_metrics(subset, RECALL)
    words = samples[0][metrics.ANSWER_LENGTH.name()]
    expected_top = {metrics.PERCENT: 100.0, metrics.COUNT: 0, metrics.WORDS: words, metrics.COSINE_PERCENT: 100.0}
    for name, metric, _ in metrics.expanded(subset, (RECALL,)):
        items = [sample[name] for sample in samples]
        if metric.sample_unit is metrics.FRACTION:
            assert all(item == 1.0 for item in items), name  # what --baseline pairs: 0-1 in the logged samples
        value = pipeline.aggregation(metric.aggregation)(items)
        assert value == pytest.approx(expected_top[metric.unit]), name
        low, high = metric.unit.bounds()
        assert low <= value <= high, name
        numbers = [item["score"] if isinstance(item, dict) and "score" in item else item for item in items]
        numbers = [n for n in numbers if isinstance(n, (int, float))]
        if numbers:
            assert scoring.mean(numbers) == pytest.approx(value), name
    failed = run_metrics(subset, RECALL, verdict=judge_failure)
    assert pipeline.failure_count([s[metrics.JUDGE_FAILURES.name()] for s in failed]) == len(DOCS[subset])
    assert math.isnan(pipeline.recall_mean([s[metrics.JUDGED.name(RECALL)] for s in failed]))


def _results_with(tmp_path: Path, values: dict[str, object]) -> Path:
    data = json.loads(next(RUN_GPT.rglob("*_results.json")).read_text())
    for key, value in values.items():
        data["results"]["eibench_basic"][f"{key},none"] = value
    path = tmp_path / "edited_results.json"
    path.write_text(json.dumps(data))
    return path


def test_the_report_prints_every_metric_in_its_unit(tmp_path, capsys):
    """Each value the report reads from a results file is printed as its metric's unit says (recall 2 decimals,
    words whole, coherence 2 decimals), stderr beside a recall in the recall's unit."""
    values = {RECALL: 99.994, f"{RECALL}_stderr": 0.25, f"{RECALL}_stderr_clt": 0.25,
              metrics.CATEGORY.name(RECALL, "Happy"): 12.345, metrics.ANSWER_LENGTH.name(): 41.6,
              metrics.COHERENCE.name(): -12.345, metrics.AT_BUDGET.name(RECALL): 7.5}
    path = _results_with(tmp_path, values)
    assert eibench(["report", str(path)]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("| ") and "llava" in line)
    cells = dict(zip(("Model", "Template", "Judge", "Source", *metrics.REPORT_COLUMNS),
                     [c.strip() for c in row.strip("|").split(" | ")]))
    assert cells["Happy"].startswith(metrics.CATEGORY.unit.cell(12.345))
    assert cells["Overall"].startswith(f"{metrics.OVERALL.unit.cell(99.994)} ± {metrics.OVERALL.unit.cell(0.25)}")
    assert cells["Words"].startswith(metrics.ANSWER_LENGTH.unit.cell(41.6))
    assert cells["Coherence"].startswith(metrics.COHERENCE.unit.cell(-12.345))
    assert cells["At Budget"].startswith(metrics.AT_BUDGET.unit.cell(7.5))


@pytest.mark.parametrize("metric", [m for m in metrics.METRICS if m.field and m.field != "categories"],
                         ids=lambda m: m.pattern)
def test_the_report_refuses_a_value_outside_its_metrics_unit(tmp_path, capsys, metric):
    """One step past the unit's range (a 0-1 value written as 0-100 and back: the old unit mix-ups) is refused
    naming the file and key; a value at the range's edge is read."""
    name = metric.name(RECALL)
    low, high = metric.unit.bounds()
    edge = high if math.isfinite(high) else 1000.0
    assert eibench(["report", str(_results_with(tmp_path, {name: edge}))]) == 0, name
    capsys.readouterr()
    beyond = high + 1 if math.isfinite(high) else low - 1
    path = _results_with(tmp_path, {name: beyond})
    assert eibench(["report", str(path)]) == 2, name
    assert f"{path}: results.eibench_basic.{name}: {beyond:g} is out of range" in capsys.readouterr().err


# ------------------------------------------------------------------------------ point 5 names


def test_a_generation_failure_is_not_a_judge_failure_and_samples_keep_the_published_key():
    doc = DOCS["basic"][0]
    no_answer = Verdict.no_answer(JudgeItem(doc["id"], "", "1. x", ("x",), "Happy"), "empty answer")
    assert no_answer.generation_failed and not no_answer.judge_failed and no_answer.score().counted_recall == 0.0
    logged = no_answer.to_log()
    assert "judge_failed" not in logged and logged["failed"] is False
    assert list(logged)[:6] == ["id", "recall", "covered", "total", "failed", "reason"]  # samples files are public
    assert judge_failure(doc).to_log()["failed"] is True
