"""Rendering rows as the paper's table: Markdown, CSV and LaTeX, with the legend, notes and warnings."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence

from lmms_eval_eibench import metrics
from lmms_eval_eibench.report.compare import Row, is_partial, no_verdict, on_modified_data
from lmms_eval_eibench.report.escape import csv_text, latex_text, markdown_text, one_line
from lmms_eval_eibench.report.results import CATEGORIES, Measure, TaskResult

MISSING = "—"
HEADERS = ("Model", "Template", "Judge", "Source", *metrics.REPORT_COLUMNS)


def recall_cell(measure: Measure | None) -> str:
    """``61.23 ± 1.05`` (2 decimals, as the paper prints), or ``—`` when the value is unknown."""
    if measure is None or measure.value is None:
        return MISSING
    text = metrics.PERCENT.cell(measure.value)
    if measure.stderr is not None:  # a stderr is in its value's unit
        text += f" ± {metrics.PERCENT.cell(measure.stderr)}"
    return text


def _headline(result: TaskResult | None) -> str:
    """A subset's headline recall with what the reader must know beside it: failures (each counted as 0), a
    partial subset (n of N), annotations that are not the published files (unofficial data)."""
    if result is None:
        return MISSING
    failures = (result.judge_failures or 0) + (result.generation_failures or 0)
    if no_verdict(result):  # the judge failed on everything: a 0 here would be the judge's, not the model's
        text, notes = MISSING, [f"no verdict: judge failed on {result.judge_failures}"]
    else:
        text, notes = recall_cell(result.overall), [f"{failures} failed"] if failures else []
    if is_partial(result):
        notes.append(f"{result.n} of {result.n_subset}")
    if on_modified_data(result):
        notes.append("unofficial data")
    return text + (f" ({', '.join(notes)})" if notes else "")


def words_cell(row: Row) -> str:
    """Mean words per answer, basic / complex (recall rewards listing more: length is read beside it)."""
    if row.published:
        return MISSING
    words = [r.answer_words for r in (row.basic, row.complex) if r is not None]
    return " / ".join(MISSING if w is None else metrics.ANSWER_LENGTH.unit.cell(w) for w in words) or MISSING


def budget_cell(row: Row) -> str:
    """Recall at the run's word budget, basic / complex, as ``28.65 @100`` (every answer cut to its first 100 words),
    where the run set one (``--word-budget``, ``EIBENCH_WORD_BUDGET``)."""
    results = [r for r in (row.basic, row.complex) if r is not None]
    if row.published or all(r.at_budget is None for r in results):
        return MISSING
    return " / ".join(MISSING if r.at_budget is None or r.at_budget.value is None
                      else f"{metrics.AT_BUDGET.unit.cell(r.at_budget.value)} @{r.word_budget}" for r in results)


def coherence_cell(row: Row) -> str:
    """Long-term coherence (0-100), basic / complex, where the run computed it (``EIBENCH_COHERENCE=1``)."""
    values = [r.coherence for r in (row.basic, row.complex) if r is not None]
    if row.published or all(v is None for v in values):
        return MISSING
    return " / ".join(MISSING if v is None else metrics.COHERENCE.unit.cell(v) for v in values)


def _footnotes(rows: Sequence[Row]) -> dict[str, int]:
    """Each distinct note of the rows, numbered in order of first appearance."""
    numbers: dict[str, int] = {}
    for row in rows:
        for note in row.notes:
            numbers.setdefault(note, len(numbers) + 1)
    return numbers


def _judge_cell(row: Row) -> str:
    """The judge label; a run that follows a paper protocol says which (e.g. ``[paper-gpt]``)."""
    if not row.published and row.protocol is not None:
        return f"{row.judge_text} [{row.protocol}]"
    return row.judge_text


def _source_cell(row: Row) -> str:
    """``published``, ``run``, or ``run <timestamp>`` when another row is the same model, template and judge."""
    if row.published:
        return "published"
    return f"run {row.run}" if row.run else "run"


def _cells(row: Row, footnotes: Mapping[str, int] | None = None) -> list[str]:
    basic, complex_ = row.basic, row.complex
    refs = "".join(f" [{k}]" for k in sorted(footnotes[n] for n in row.notes)) if footnotes else ""
    return [
        row.model,
        row.template or ("not stated" if row.published else MISSING),
        _judge_cell(row),
        _source_cell(row) + refs,
        *[recall_cell(basic.categories.get(c) if basic and not no_verdict(basic) else None) for c in CATEGORIES],
        _headline(basic),
        _headline(complex_),
        words_cell(row),
        budget_cell(row),
        coherence_cell(row),
    ]


LEGEND_RUNS = (
    "Recall (0 to 100) ± standard error. Basic: per category and Overall (mean over all samples); "
    "complex: Recall. Every sample counts: \"k failed\" samples (judge or generation failures) are scored 0; "
    "\"n of N\" marks a run over part of the subset. Words: mean words per answer (basic / complex), since a "
    "longer answer lists more and recall rewards that (docs/judging.md, \"Length\"). "
    "At Budget: recall with every answer cut to its first N words (@N, basic / complex), where the run set a word "
    "budget. Coherence: the paper's long-term coherence (0 to 100, basic / complex), where the run computed it."
)
LEGEND = (
    LEGEND_RUNS + " Rows marked published are copied from Lin et al., 2025 (the EIBench repository's README "
    "tables), one row per judge (the paper prints each cell as LLaMA-3 / ChatGPT); [n] marks a note below."
)


def render_markdown(rows: Sequence[Row], warnings: Sequence[str] = ()) -> str:
    """The paper layout as a Markdown table, a legend, and the warnings as quoted notes; text from the results
    files (names, labels) is escaped as plain text (``escape.markdown_text``)."""
    lines = [
        "| " + " | ".join(HEADERS) + " |",
        "|" + "|".join(["---"] * 4 + ["---:"] * (len(HEADERS) - 4)) + "|",
    ]
    footnotes = _footnotes(rows)
    lines += ["| " + " | ".join(markdown_text(c) for c in _cells(row, footnotes=footnotes)) + " |" for row in rows]
    lines += ["", LEGEND if any(r.published for r in rows) else LEGEND_RUNS]
    if footnotes:
        lines += [""] + [f"[{number}] {markdown_text(note)}  " for note, number in footnotes.items()]
    for warning in warnings:  # a warning's own lines stay lines of its quote (names in it are one line each)
        lines += ["", "> **Warning:** " + "\n> ".join(markdown_text(line) for line in warning.split("\n"))]
    return "\n".join(lines) + "\n"


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}".rstrip("0").rstrip(".")


CSV_HEADERS = (
    "model",
    "template",
    "judge",
    "source",
    "metric",
    *[f"{c.lower()}{s}" for c in CATEGORIES for s in ("", "_stderr")],
    "overall",
    "overall_stderr",
    "basic_n",
    "complex_recall",
    "complex_recall_stderr",
    "complex_n",
    "basic_answer_words",
    "complex_answer_words",
    "basic_at_budget",
    "complex_at_budget",
    "basic_word_budget",
    "complex_word_budget",
    "basic_coherence",
    "complex_coherence",
    "note",
)


def _run_notes(row: Row) -> list[str]:
    """What the CSV's note says of a run row that Markdown says in its cells: failures, partial, unofficial data."""
    notes = []
    for result in row.results:
        cell = _headline(result)
        if cell.endswith(")"):
            notes.append(f"{result.subset}: {cell[cell.index('(') + 1:-1]}")
    return notes if not row.published else []


def render_csv(rows: Sequence[Row]) -> str:
    """One line per row; value and stderr in separate columns, empty when unknown (warnings go to stderr). A text
    cell that a spreadsheet would read as a formula starts with ``'`` (``escape.csv_text``)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADERS)
    for row in rows:
        basic, complex_ = row.basic, row.complex
        metric = (basic or complex_).metric if not row.published else "published"  # type: ignore[union-attr]
        texts = (row.model, row.template or "", _judge_cell(row), _source_cell(row), metric)
        cells = [csv_text(text) for text in texts]
        # no verdict at all: empty recall cells (as "—" in Markdown), said in the note
        shown_basic = None if no_verdict(basic) else basic
        shown_complex = None if no_verdict(complex_) else complex_
        for c in CATEGORIES:
            m = shown_basic.categories.get(c) if shown_basic else None
            cells += [_num(m.value if m else None), _num(m.stderr if m else None)]
        cells += [
            _num(shown_basic.overall.value if shown_basic else None),
            _num(shown_basic.overall.stderr if shown_basic else None),
            "" if not basic or basic.n is None else str(basic.n),
            _num(shown_complex.overall.value if shown_complex else None),
            _num(shown_complex.overall.stderr if shown_complex else None),
            "" if not complex_ or complex_.n is None else str(complex_.n),
            _num(basic.answer_words if basic else None),
            _num(complex_.answer_words if complex_ else None),
            _num(basic.at_budget.value if basic and basic.at_budget else None),
            _num(complex_.at_budget.value if complex_ and complex_.at_budget else None),
            "" if not basic or basic.word_budget is None else str(basic.word_budget),
            "" if not complex_ or complex_.word_budget is None else str(complex_.word_budget),
            _num(basic.coherence if basic else None),
            _num(complex_.coherence if complex_ else None),
            csv_text("; ".join([*row.notes, *_run_notes(row)])),
        ]
        writer.writerow(cells)
    return out.getvalue()


def render_latex(rows: Sequence[Row], warnings: Sequence[str] = ()) -> str:
    """A booktabs ``tabular``; published rows below a rule; warnings as ``%`` comments."""
    lines = [f"% {LEGEND if any(r.published for r in rows) else LEGEND_RUNS}"]
    # splitlines() breaks at every character TeX may end a line at: no text leaves its comment
    lines += ["% WARNING: " + line for w in warnings for line in w.splitlines()]
    lines += [
        r"\begin{tabular}{llll" + "r" * (len(HEADERS) - 4) + "}",
        r"\toprule",
        " & ".join(latex_text(h) for h in HEADERS) + r" \\",
        r"\midrule",
    ]
    footnotes = _footnotes(rows)
    counterparts = {(r.template, r.protocol) for r in rows if r.published}
    previous = None
    for row in rows:
        # a rule before the published rows and between the paper's setting blocks (a run beside the
        # published rows of its protocol belongs to their block)
        beside = row.published or (row.protocol is not None and (row.template, row.protocol) in counterparts)
        block = ("published", row.template) if beside else ("runs",)
        if previous is not None and block != previous:
            lines.append(r"\midrule")
        previous = block
        lines.append(" & ".join(latex_text(c) for c in _cells(row, footnotes=footnotes)) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    lines += [f"% [{number}] {one_line(note)}" for note, number in footnotes.items()]
    return "\n".join(lines) + "\n"


