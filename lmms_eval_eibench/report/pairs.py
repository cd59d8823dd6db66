"""``eibench report --paired A B``: is run B better than run A on the same samples?

Per task present in both runs: the per-sample difference B - A of the headline recall with a 95% confidence
interval and a two-sided p-value (``paired.paired_difference``): plain for basic, with a row per category;
clustered by image for complex (up to four questions share an image). Refused, with the reason, when the runs
cannot be compared sample by sample: another subset, judge, model prompt or dataset build, or other samples.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lmms_eval_eibench import BASIC_CATEGORIES
from lmms_eval_eibench.provenance import differences
from lmms_eval_eibench.report.escape import markdown_text
from lmms_eval_eibench.runs import RunError, RunSamples, read_run
from lmms_eval_eibench.scoring.paired import PairedDifference, paired_difference

__all__ = ["PairedRow", "compare_runs", "paired_rows", "render_paired_markdown"]


@dataclass(frozen=True)
class PairedRow:
    """One line of the paired table: a task (and a basic category), B - A in recall points (0-100)."""

    task: str
    scope: str
    result: PairedDifference


def _refusal(a: RunSamples, b: RunSamples) -> str | None:
    if a.subset != b.subset:
        return f"{a.task} is {a.subset}, {b.task} is {b.subset}: different questions"
    if a.metric != b.metric:
        return f"{a.metric} vs {b.metric}: an LLM judge and the embedding judge"
    if a.provenance is None or b.provenance is None:
        missing = a.source if a.provenance is None else b.source
        return (f"{missing}: no EIBench provenance (no results file beside it with the task's record), so the judge "
                "and prompt cannot be checked; keep the *_results.json lmms-eval wrote beside the samples")
    if found := differences(a.provenance, b.provenance):
        return "different " + "; ".join(found) + " (re-score one run with the other's judge: `eibench score`)"
    only_a, only_b = a.samples.keys() - b.samples.keys(), b.samples.keys() - a.samples.keys()
    if only_a or only_b:
        example = sorted(only_a or only_b)[0]
        return (f"other samples: {len(only_a)} only in A, {len(only_b)} only in B (e.g. {example}); compare runs of "
                "the same samples (same --limit, or full runs)")
    return None


def paired_rows(a: RunSamples, b: RunSamples) -> list[PairedRow]:
    """The rows for one task of both runs; raises ``RunError`` when they cannot be compared."""
    if reason := _refusal(a, b):
        raise RunError(f"{a.source} vs {b.source}", f"not comparable sample by sample: {reason}")
    ids = sorted(a.samples)
    clustered = a.subset == "complex"

    def difference(keys: Sequence[str]) -> PairedDifference:
        scale = 100.0  # recall points, like every EIBench metric
        return paired_difference([scale * a.samples[k].score for k in keys], [scale * b.samples[k].score for k in keys],
                                 clusters=[a.samples[k].image_path for k in keys] if clustered else None)

    rows = [PairedRow(b.task, "overall", difference(ids))]
    if a.subset == "basic":
        for category in BASIC_CATEGORIES:
            keys = [k for k in ids if a.samples[k].category == category]
            if keys:
                rows.append(PairedRow(b.task, category, difference(keys)))
    return rows


def compare_runs(a_path: str | Path, b_path: str | Path) -> tuple[list[PairedRow], list[str]]:
    """Rows for every EIBench task in both runs (a samples file, or a results file with samples beside it), and
    notes about tasks found in only one of them."""
    runs_a = {r.task: r for r in read_run(Path(a_path))}
    runs_b = {r.task: r for r in read_run(Path(b_path))}
    notes: list[str] = []
    if len(runs_a) == 1 and len(runs_b) == 1 and runs_a.keys() != runs_b.keys():
        pairs = [(next(iter(runs_a.values())), next(iter(runs_b.values())))]  # e.g. user vs cot: prompts differ
    else:
        pairs = [(runs_a[t], runs_b[t]) for t in sorted(runs_a.keys() & runs_b.keys())]
        notes = [f"{task}: only in {side}, not compared" for side, runs, other in
                 (("A", runs_a, runs_b), ("B", runs_b, runs_a)) for task in sorted(runs.keys() - other.keys())]
    if not pairs:
        raise RunError(f"{a_path} vs {b_path}", f"no EIBench task in both runs (A: {sorted(runs_a)}, B: {sorted(runs_b)})")
    rows = [row for a, b in pairs for row in paired_rows(a, b)]
    return rows, notes


def _num(value: float, digits: int = 2) -> str:
    return "n/a" if value != value else f"{value:.{digits}f}"


def _p(value: float) -> str:
    if value != value:
        return "n/a"
    return "<0.0001" if value < 1e-4 else f"{value:.4f}"


def render_paired_markdown(rows: Sequence[PairedRow], a_label: str, b_label: str) -> str:
    """The table: A, B, B - A with its 95% CI and p-value, samples (and image clusters for complex)."""
    lines = [f"A: {markdown_text(str(a_label))}", f"B: {markdown_text(str(b_label))}", "",
             "| task | scope | n | A | B | B - A | 95% CI | p | test |", "|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        r = row.result
        test = f"paired t, clustered by image ({r.clusters} images)" if r.clusters is not None else "paired t"
        task = markdown_text(row.task)
        lines.append(f"| {task} | {row.scope} | {r.n} | {_num(r.mean_a)} | {_num(r.mean_b)} | {_num(r.diff):>5} | "
                     f"[{_num(r.ci_low)}, {_num(r.ci_high)}] | {_p(r.p_value)} | {test} |")
    return "\n".join(lines) + "\n"
