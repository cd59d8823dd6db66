"""The chart: recall per category (and Overall, Complex) per row, as PNG or SVG; matplotlib loads only here."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

from lmms_eval_eibench.files import atomic_path
from lmms_eval_eibench.report.compare import Row
from lmms_eval_eibench.report.results import CATEGORIES, Measure, ReportError

CHART_COLUMNS = (*CATEGORIES, "Overall", "Complex")


def _short_judge(row: Row) -> str:
    if row.published:
        return f"published, {row.judge_text}"
    provenance = row.results[0].provenance
    if provenance is None:
        return row.judge_text
    judge = provenance["judge"]
    return f"{judge['kind']}:{judge['model']} ({judge['prompt']['template']} v{judge['prompt']['version']})"


CHART_PAPER_MODES = ("auto", "bars", "reference")
CHART_MAX_PUBLISHED_BARS = 4


def _column_measure(row: Row, column: str) -> Measure | None:
    if column == "Complex":
        return row.complex.overall if row.complex else None
    if column == "Overall":
        return row.basic.overall if row.basic else None
    return row.basic.categories.get(column) if row.basic else None


def check_chart(path: str | os.PathLike[str], paper: str = "auto") -> str:
    """The chart's format (``png``, ``svg``) from its file name, once the chart can be drawn there: raises
    ``ReportError`` for another suffix, an unknown ``paper`` mode or no matplotlib (checked before any output)."""
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in ("png", "svg"):
        raise ReportError(f"--chart {path}: the file name must end in .png or .svg")
    if paper not in CHART_PAPER_MODES:
        raise ReportError(f"--chart-paper {paper!r}: use one of {', '.join(CHART_PAPER_MODES)}")
    from lmms_eval_eibench.config import MissingExtra, require

    try:
        require("matplotlib", f"--chart {path}")
    except MissingExtra as exc:
        raise ReportError(str(exc)) from None
    return fmt


def render_chart(rows: Sequence[Row], path: str | os.PathLike[str], title: str = "EIBench recall per category",
                 paper: str = "auto") -> Path:
    """Grouped bars: recall per category (and Overall, Complex) per row.

    Published rows are drawn as hatched bars (``paper="bars"``) or as reference lines across each column,
    one thin line per published row and one colour per setting and judge (``paper="reference"``; ``auto``: bars
    for up to four published rows, else reference, so the paper's 62 rows frame the runs' bars instead of
    crowding them). The format follows the suffix (``.png`` or ``.svg``). SVG keeps text as text, so category
    and model names stay searchable. Written atomically.
    """
    path = Path(path)
    fmt = check_chart(path, paper)
    if not rows:
        raise ReportError("nothing to chart: no rows")
    published = [r for r in rows if r.published]
    as_reference = paper == "reference" or (paper == "auto" and len(published) > CHART_MAX_PUBLISHED_BARS)
    reference = published if as_reference else []
    rows = [r for r in rows if not (as_reference and r.published)]
    # Figure + the Agg canvas directly: no pyplot, no global backend switch, safe inside other programs.
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    groups: dict[tuple[str | None, str], list[Row]] = {}
    for row in reference:
        groups.setdefault((row.template, row.judge_text), []).append(row)
    # names are plain text: a "$" in a model name is not mathtext, nor any text TeX (whatever the user's matplotlibrc)
    plain_text = {"text.parse_math": False, "text.usetex": False}
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "eibench", **plain_text}):
        n = max(len(rows), 1)
        # legend under the axes, one line per row: the figure grows in height, not width
        fig = Figure(figsize=(10.0, 4.2 + 0.22 * (len(rows) + len(groups))), layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        palette = matplotlib.colormaps["tab10"]
        for g, ((template, judge_text), members) in enumerate(groups.items()):
            colour = palette((g + 5) % 10)  # away from the first bar colours
            for m, row in enumerate(members):
                for x, column in enumerate(CHART_COLUMNS):
                    measure = _column_measure(row, column)
                    if measure is None or measure.value is None:
                        continue
                    label = None
                    if m == 0 and x == 0:
                        who = members[0].model if len(members) == 1 else f"{len(members)} rows"
                        label = f"published {template or 'setting not stated'}, {judge_text}: {who}"
                    ax.hlines(measure.value, x - 0.44, x + 0.44, colors=[colour], linewidth=1.0, alpha=0.45,
                              linestyles="dashed" if g % 2 else "solid", label=label)
        bar = 0.8 / n
        for i, row in enumerate(rows):
            values, errors = [], []
            for column in CHART_COLUMNS:
                measure = _column_measure(row, column)
                values.append(measure.value if measure and measure.value is not None else math.nan)
                errors.append(measure.stderr if measure and measure.stderr is not None else 0.0)
            xs = [x - 0.4 + bar * (i + 0.5) for x in range(len(CHART_COLUMNS))]
            label = f"{row.model} / {row.template or 'setting not stated'} — {_short_judge(row)}"
            ax.bar(
                xs,
                values,
                width=bar,
                yerr=errors if any(errors) else None,
                capsize=2,
                label=label,
                hatch="//" if row.published else None,
                alpha=0.55 if row.published else 0.95,
                edgecolor="black",
                linewidth=0.5,
            )
        ax.set_xticks(range(len(CHART_COLUMNS)), CHART_COLUMNS)
        ax.set_ylabel("recall (0 to 100)")
        ax.set_ylim(0, 100)
        ax.set_title(title)
        ax.grid(axis="y", alpha=0.3)
        fig.legend(loc="outside lower center", fontsize="small", ncols=1, frameon=False)
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, dpi=120, metadata={"Date": None} if fmt == "svg" else None)
    return path


