"""The JSON summary for leaderboards (documented by ``published/summary.schema.json``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lmms_eval_eibench import __version__
from lmms_eval_eibench.report.compare import Row, is_partial, no_verdict, on_modified_data
from lmms_eval_eibench.report.published import PUBLISHED_DIR
from lmms_eval_eibench.report.results import CATEGORIES, Measure, TaskResult

SUMMARY_SCHEMA_PATH = PUBLISHED_DIR / "summary.schema.json"
SUMMARY_SCHEMA_VERSION = 1


def _measure_json(measure: Measure | None) -> dict[str, float | None] | None:
    if measure is None:
        return None
    return {"value": measure.value, "stderr": measure.stderr}


def _subset_json(result: TaskResult | None) -> dict[str, Any] | None:
    if result is None:
        return None
    out: dict[str, Any] = {
        # no verdict at all: no recall (its 0 would be the judge's failure)
        "recall": _measure_json(Measure(None) if no_verdict(result) else result.overall),
        "no_verdict": no_verdict(result),
        "n": result.n,
        "trigger_recall": _measure_json(result.trigger_recall),
        "judge_failures": result.judge_failures,
        "generation_failures": result.generation_failures,
        "answer_words": result.answer_words,
        "coherence": result.coherence,
        "at_budget": (None if result.at_budget is None
                      else {"word_budget": result.word_budget, "recall": _measure_json(result.at_budget)}),
        "n_subset": result.n_subset,
        "partial": is_partial(result),
        "unofficial_data": on_modified_data(result),
        "source": result.source,
        "task": result.task,
    }
    if result.subset == "basic":
        out["categories"] = {c: _measure_json(Measure(None) if no_verdict(result) else result.categories.get(c))
                             for c in CATEGORIES}
    return out


def build_summary(rows: Sequence[Row], warnings: Sequence[str] = ()) -> dict[str, Any]:
    """The JSON summary for leaderboards (documented by ``published/summary.schema.json``)."""
    entries = []
    for row in rows:
        first = row.results[0]
        entries.append(
            {
                "model": row.model,
                "template": row.template,
                "run": row.run,
                "published": row.published,
                "metric": "published" if row.published else first.metric,
                "judge": {"label": row.judge_text, "paper_judge": first.judge if row.published else None,
                          "protocol": row.protocol},
                "provenance": dict(first.provenance) if first.provenance is not None else None,
                "basic": _subset_json(row.basic),
                "complex": _subset_json(row.complex),
                "notes": row.notes,
            }
        )
    return {
        "schema_version": SUMMARY_SCHEMA_VERSION,
        "benchmark": "EIBench",
        "generated_by": {"name": "lmms-eval-eibench", "version": __version__},
        "categories": list(CATEGORIES),
        "entries": entries,
        "warnings": list(warnings),
    }
