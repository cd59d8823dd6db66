"""Reports from results: paper-layout tables (Markdown, CSV, LaTeX), a chart, and a JSON summary.

One module per stage, each depending only on the ones before it:

1. :mod:`.results` reads lmms-eval results files and ``eibench score --json`` outputs into :class:`TaskResult`
   (one subset's numbers from one source, with the provenance record the run wrote; never a guessed judge);
2. :mod:`.published` reads the published numbers of Lin et al. (2025) from ``published/paper_tables.json``;
3. :mod:`.compare` groups results into :class:`Row` (model x template x judge, basic beside complex, as in the
   paper) and warns when rows were not judged alike;
4. :mod:`.render` prints the rows as Markdown, CSV or LaTeX; :mod:`.chart` draws them (matplotlib loads
   only there); :mod:`.summary` builds the JSON summary for leaderboards.

Samples the judge failed on (``eibench_judge_failures``) and samples whose generation failed
(``eibench_generation_failures``) count as 0 in every recall; the tables show their number next to the score,
and mark a row that scored only part of its subset (``--limit``, ``--allow-partial``) as "n of N".
"""

from __future__ import annotations

from lmms_eval_eibench.report.chart import render_chart
from lmms_eval_eibench.report.compare import (
    Row,
    build_rows,
    comparability_warnings,
    is_partial,
)
from lmms_eval_eibench.report.published import (
    CATEGORY_SIZES,
    PUBLISHED_PATH,
    category_weighted_overall,
    load_published,
)
from lmms_eval_eibench.report.render import render_csv, render_latex, render_markdown
from lmms_eval_eibench.report.results import (
    CATEGORIES,
    Measure,
    ReportError,
    TaskResult,
    load_results,
)
from lmms_eval_eibench.report.summary import (
    SUMMARY_SCHEMA_PATH,
    SUMMARY_SCHEMA_VERSION,
    build_summary,
)

__all__ = [
    "CATEGORIES",
    "CATEGORY_SIZES",
    "PUBLISHED_PATH",
    "SUMMARY_SCHEMA_PATH",
    "SUMMARY_SCHEMA_VERSION",
    "Measure",
    "ReportError",
    "Row",
    "TaskResult",
    "build_rows",
    "build_summary",
    "category_weighted_overall",
    "comparability_warnings",
    "is_partial",
    "load_published",
    "load_results",
    "render_chart",
    "render_csv",
    "render_latex",
    "render_markdown",
]
