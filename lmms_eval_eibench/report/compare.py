"""Comparing results: rows of the table (model x template x judge) and the warnings when rows are not comparable."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lmms_eval_eibench.edge.lmms_outputs import run_stamp
from lmms_eval_eibench.judges.protocols import PROTOCOLS, record_protocol
from lmms_eval_eibench.provenance import dataset_difference, judge_comparison_terms, judge_label
from lmms_eval_eibench.report.escape import one_line
from lmms_eval_eibench.report.published import PUBLISHED_PATH, published_judges
from lmms_eval_eibench.report.results import TaskResult
from lmms_eval_eibench.vocabulary import SEMANTIC_RECALL, TEMPLATES


@dataclass
class Row:
    """One table row: a model under one template and one judge, basic and complex side by side."""

    model: str
    template: str | None
    judge_text: str
    published: bool
    basic: TaskResult | None = None
    complex: TaskResult | None = None
    run: str | None = field(default=None, compare=False)
    """Set when another row is the same model, template and judge: the run (timestamp or file) telling them apart."""

    @property
    def results(self) -> list[TaskResult]:
        return [e for e in (self.basic, self.complex) if e is not None]

    @property
    def notes(self) -> list[str]:
        return list(dict.fromkeys(note for e in self.results for note in e.notes))

    @property
    def protocol(self) -> str | None:
        """The judge protocol the row's numbers follow: a published row's paper judge, or a run whose every
        result's recorded judge settings equal a protocol's (whatever it was called when configured)."""
        if self.published:
            judge = self.results[0].judge
            return next((p.name for p in PROTOCOLS.values() if p.paper_judge == judge), None)
        names = set()
        for result in self.results:
            _, nearest, differences = record_protocol(result.provenance)
            names.add(nearest.name if nearest is not None and not differences else None)
        return names.pop() if len(names) == 1 else None


def on_modified_data(result: TaskResult | None) -> bool:
    """A run whose provenance says its annotations were not the published EIBench files (edited ones, or the
    embedded sample)."""
    dataset = (result.provenance or {}).get("dataset") if result is not None else None
    return isinstance(dataset, Mapping) and dataset.get("official") is False


def is_partial(result: TaskResult | None) -> bool:
    """A run over part of its subset (``--limit``, ``--allow-partial``)."""
    return bool(result and result.n is not None and result.n_subset is not None and result.n < result.n_subset)


def no_verdict(result: TaskResult | None) -> bool:
    """A run the judge gave no verdict on at all (it failed on every sample it was sent; generation failures are
    never sent): its 0 is the judge's failure, not a recall, so none is shown."""
    if result is None or result.published or not result.judge_failures or result.n is None:
        return False
    return result.judge_failures + (result.generation_failures or 0) >= result.n


def run_label(result: TaskResult) -> str:
    """Which run a result comes from, short: lmms-eval's timestamp (``<stamp>_results.json``), else the file."""
    path = Path(result.source)
    return run_stamp(path) or path.name or result.source


def _judge_text(result: TaskResult) -> str:
    if result.judge_text:
        return result.judge_text
    if result.provenance is not None:
        return judge_label(result.provenance)
    return "unknown judge (no provenance)" + (" [embedding]" if result.metric == SEMANTIC_RECALL else "")


def _template_rank(template: str | None) -> int:
    return TEMPLATES.index(template) if template in TEMPLATES else len(TEMPLATES)


def build_rows(results: Iterable[TaskResult]) -> list[Row]:
    """Group task results into table rows (model x template x judge); runs first, sorted, then published in order."""
    rows: list[Row] = []
    index: dict[tuple[Any, ...], Row] = {}
    for result in results:
        judge_text = _judge_text(result)
        key = (result.published, result.model, result.template, judge_text, result.metric)
        row = index.get(key)
        if row is None or getattr(row, result.subset) is not None:
            # a second result for the same slot (e.g. two runs of one model) gets its own row
            row = Row(result.model, result.template, judge_text, result.published)
            rows.append(row)
            index[key] = row
        setattr(row, result.subset, result)
    _mark_repeated_runs(rows)
    runs = sorted(
        (r for r in rows if not r.published),
        key=lambda r: (r.model.casefold(), r.model, _template_rank(r.template), r.judge_text, r.run or ""),
    )
    published = [r for r in rows if r.published]
    # A run judged under a paper protocol goes beside the published rows of that protocol: at the head of its
    # setting's block in the paper's layout. Other runs come first, as before.
    counterparts = {(r.template, r.protocol) for r in published}
    beside = {id(r) for r in runs if r.protocol is not None and (r.template, r.protocol) in counterparts}
    ordered = [r for r in runs if id(r) not in beside]
    started: set[str | None] = set()
    for row in published:
        if row.template not in started:
            started.add(row.template)
            ordered += [r for r in runs if id(r) in beside and r.template == row.template]
        ordered.append(row)
    return ordered


def _repeat_key(row: Row) -> tuple[Any, ...]:
    return (row.model, row.template, row.judge_text, row.results[0].metric)


def _mark_repeated_runs(rows: Sequence[Row]) -> None:
    """Rows of one model, template and judge from different runs (two lmms-eval runs in one folder) get the run's
    timestamp or file in ``Row.run``, so that no two rows read the same."""
    groups: dict[tuple[Any, ...], list[Row]] = {}
    for row in rows:
        if not row.published:
            groups.setdefault(_repeat_key(row), []).append(row)
    for group in groups.values():
        if len(group) > 1:
            for row in group:
                row.run = " + ".join(dict.fromkeys(run_label(result) for result in row.results))


def _comparison_key(result: TaskResult, paper_judges: Mapping[str, Mapping[str, Any]]) -> tuple[str, str, str] | None:
    """(judge, prompt, decoding) of a result in comparable terms; None when it cannot be known."""
    if result.published:
        if result.judge is None:
            return None
        judge = paper_judges[result.judge]
        return (judge["model"], f"{judge['prompt']} (paper)", json.dumps(judge.get("decoding") or {}, sort_keys=True))
    if result.provenance is None:
        return None
    kind, model, template, version, settings = judge_comparison_terms(result.provenance)
    return (f"{kind}:{model}", f"{template} v{version}", json.dumps(json.loads(settings), sort_keys=True))


def _row_name(row: Row) -> str:
    name = row.model if row.template is None else f"{row.model} / {row.template}"
    return name + (" (published)" if row.published else "")


def _join(words: Sequence[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def comparability_warnings(rows: Sequence[Row], published_path: str | os.PathLike[str] = PUBLISHED_PATH) -> list[str]:
    """Warnings when the compared rows were judged by different judges, prompt versions or decoding settings."""
    paper_judges = published_judges(published_path) if any(r.published for r in rows) else {}
    warnings: list[str] = []
    by_key: dict[tuple[str, str, str], list[str]] = {}
    unknown: list[str] = []
    listed = None  # the judges' list, when the rows were judged differently
    for row in rows:
        keys = {_comparison_key(e, paper_judges) for e in row.results}
        for key in keys:
            if key is None:
                unknown.append(_row_name(row))
            elif not row.published:
                # the published rows are the paper's two judges by design (the Judge column says which); a run
                # is compared with them by protocol below
                by_key.setdefault(key, []).append(_row_name(row))
    if len(by_key) > 1:
        differs = []
        for position, what in enumerate(("judges", "prompt versions", "decoding settings")):
            if len({key[position] for key in by_key}) > 1:
                differs.append(what)
        lines = [
            (
                f"the compared rows were judged by different {_join(differs)}; "
                "their recalls are not directly comparable:"
            )
        ]
        for (judge, prompt, decoding), names in by_key.items():
            names_text = "; ".join(dict.fromkeys(names))
            lines.append(one_line(f"  - {judge}, prompt {prompt}, settings {decoding}: {names_text}"))
        listed = "\n".join(lines)  # the one warning of several lines: each line is one_line
        warnings.append(listed)
    if unknown and (by_key or len(unknown) > 1 or any(r.published for r in rows)):
        published = [name for name in dict.fromkeys(unknown) if name.endswith("(published)")]
        runs = [name for name in dict.fromkeys(unknown) if not name.endswith("(published)")]
        if runs:
            warnings.append(
                "no provenance (eibench_provenance) in the results of: "
                + "; ".join(runs)
                + "; cannot check that they were judged like the other rows"
            )
        if published:
            warnings.append(
                "the source of these published rows does not state their judge or prompt setting, so they may "
                "not be comparable with the other rows: " + "; ".join(published)
            )
    warnings += protocol_warnings(rows)
    metrics = {e.metric for r in rows if not r.published for e in r.results}
    if len(metrics) > 1:
        warnings.append(
            "rows mix metrics "
            + " and ".join(sorted(metrics))
            + " (eibench_semantic_recall comes from the offline embedding judge, not an LLM judge)"
        )
    # the same model-prompt template in two versions means the models were asked different things
    versions: dict[str, set[str]] = {}
    datasets: list[Mapping[str, Any]] = []  # one record per dataset told apart by provenance.dataset_difference
    for row in rows:
        for result in row.results:
            prov = result.provenance or {}
            if prov.get("model_prompt"):
                versions.setdefault(prov["model_prompt"]["template"], set()).add(str(prov["model_prompt"]["version"]))
            if prov.get("dataset") and all(dataset_difference(prov, seen) for seen in datasets):
                datasets.append(prov)
    for template, seen in sorted(versions.items()):
        if len(seen) > 1:
            warnings.append(f"model prompt template {template} appears in versions {sorted(seen)}")
    if len(datasets) > 1:
        warnings.append(f"rows come from {len(datasets)} different dataset revisions/manifests")
    modified = [f"{_run_name(row)} {result.subset}" for row in rows for result in row.results
                if on_modified_data(result)]
    if modified:
        warnings.append("scored on unofficial data (annotations other than the published EIBench files: edited, "
                        "or the embedded sample), not comparable with the paper or official runs: "
                        + "; ".join(modified))
    partial = [f"{_run_name(row)} {result.subset}: {result.n} of {result.n_subset} samples"
               for row in rows for result in row.results if is_partial(result)]
    if partial:
        warnings.append("partial runs (--limit, --allow-partial), not comparable with full ones: " + "; ".join(partial))
    warnings += judge_failure_warnings(rows)
    warnings += repeated_run_warnings(rows)
    # names, labels and run files come from the results files: a line break in one never starts a line of its own
    return [w if w is listed else one_line(w) for w in warnings]


def _run_name(row: Row) -> str:
    return _row_name(row) + (f" (run {row.run})" if row.run else "")


def judge_failure_warnings(rows: Sequence[Row]) -> list[str]:
    """Runs the judge failed on: each failed sample counts as 0, and a run with no verdict at all has no recall."""
    failed = []
    for row in rows:
        for result in row.results:
            if result.published or not result.judge_failures:
                continue
            of = f" of {result.n}" if result.n is not None else ""
            what = ": no verdict at all, so no recall is shown" if no_verdict(result) else ", each counted as 0"
            failed.append(f"{_run_name(row)} {result.subset}: the judge failed on {result.judge_failures}{of} "
                          f"samples{what}")
    if not failed:
        return []
    return ["judge failures (no verdict after the judge's re-asks): " + "; ".join(failed)
            + ". Rerun the same command (lmms-eval, or `eibench score`) to ask the judge again for those only "
            "(failures are never cached)"]


def repeated_run_warnings(rows: Sequence[Row]) -> list[str]:
    """Two rows of the same model, template and judge: two runs in one folder, or one run given twice."""
    groups: dict[tuple[Any, ...], list[Row]] = {}
    for row in rows:
        if row.run is not None:
            groups.setdefault(_repeat_key(row), []).append(row)
    return [f"{len(group)} rows are the same model {group[0].model!r} ({group[0].template or 'no template'}, judge "
            f"{group[0].judge_text}), from the runs {_join([row.run or '' for row in group])}: keep one run per "
            "model and setting (e.g. a fresh --output_path per run), or say which one the table reports"
            for group in groups.values()]


def protocol_warnings(rows: Sequence[Row]) -> list[str]:
    """Warnings for run rows shown with published rows but not judged under the protocol of any of them."""
    published = [r for r in rows if r.published]
    if not published:
        return []
    shown = {(r.template, r.protocol) for r in published}
    warnings = []
    for row in rows:
        record = next((e.provenance for e in row.results if e.provenance is not None), None)
        if row.published or record is None:
            continue  # rows without provenance get their own warning
        label, nearest, differences = record_protocol(record)
        if not differences and (row.template, nearest.name) in shown:
            continue
        name = _row_name(row)
        if not differences and row.template is None:
            warnings.append(
                f"{name} follows protocol {nearest.name}, but its results do not say their setting (user, cot, "
                "caption, caption_text, cfsa), so it is not put beside a published row of one: score the samples "
                "file under the name lmms-eval gave it (..._samples_<task>.jsonl), whose task names the setting"
            )
            continue
        if not differences:
            warnings.append(
                f"{name} follows protocol {nearest.name}, but no published {nearest.name} row of setting "
                f"{row.template} is shown (see --paper-setting / --paper-judge): nothing to put it beside"
            )
            continue
        recorded = f" (recorded protocol: {label})" if label else ""
        warnings.append(
            f"{name} was not judged like the published rows{recorded}: its judge differs from the nearest paper "
            f"protocol, {nearest.name}, in {_join(differences)}; its recall is not comparable with the paper's numbers "
            f"(judge with --protocol {nearest.name} / EIBENCH_JUDGE_PROTOCOL={nearest.name} to compare)"
        )
    return warnings


