"""The published numbers of Lin et al. (2025), from ``published/paper_tables.json``, validated row by row."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lmms_eval_eibench.judges.protocols import PROTOCOLS
from lmms_eval_eibench.report.results import (
    CATEGORIES,
    Measure,
    ReportError,
    TaskResult,
    number,
    read_json,
)

PUBLISHED_DIR = Path(__file__).resolve().parent.parent / "published"
PUBLISHED_PATH = PUBLISHED_DIR / "paper_tables.json"
# Samples per basic category in EIBench (what the paper's Overall weighs its category columns by); the
# published file repeats them and the loader checks it against these.
CATEGORY_SIZES: dict[str, int] = dict(zip(CATEGORIES, (91, 342, 462, 720)))
# Overall = sample-weighted mean of the category columns. Each printed value is rounded to 2 decimals (up to
# 0.01 off), and the paper's own rows deviate by up to 0.026: 0.05 is the tolerance its tables were checked
# with (eibench/README.md), catching transcription typos; the two rows beyond it are marked in the file.
CONSISTENCY_TOLERANCE = 0.05


def category_weighted_overall(categories: Mapping[str, float], sizes: Mapping[str, int] = CATEGORY_SIZES) -> float:
    """Overall recall implied by the category columns: the sample-weighted mean (the paper's Overall)."""
    total = sum(sizes[c] for c in CATEGORIES)
    return sum(categories[c] * sizes[c] for c in CATEGORIES) / total


def load_published(
    path: str | os.PathLike[str] = PUBLISHED_PATH,
    settings: Sequence[str] | None = None,
    judges: Sequence[str] | None = None,
) -> list[TaskResult]:
    """The published rows in the paper's order, validated, optionally only some settings and judges.

    A basic row whose Overall disagrees with its categories (beyond :data:`CONSISTENCY_TOLERANCE`) is an error
    unless it is marked ``overall_as_published`` with a note; a row so marked must disagree (the mark is
    never a blanket excuse).
    """
    path = Path(path)
    data = read_json(path)
    if not isinstance(data, Mapping) or not isinstance(data.get("tables"), list):
        raise ReportError(f"{path}: expected an object with a 'tables' list")
    known_judges = data.get("judges") or {}
    known_settings = data.get("settings") or {}
    for name, wanted, known in (("--paper-setting", settings, known_settings), ("--paper-judge", judges, known_judges)):
        unknown = sorted(set(wanted or ()) - set(known))
        if unknown:
            also = " (or the protocols " + ", ".join(PROTOCOLS) + ")" if name == "--paper-judge" else ""
            raise ReportError(f"{name} {', '.join(unknown)}: the published tables have {', '.join(known)}{also}")
    sizes = data.get("category_sizes") or CATEGORY_SIZES
    if dict(sizes) != CATEGORY_SIZES:
        raise ReportError(f"{path}: category_sizes must be {CATEGORY_SIZES} (the basic subset's category counts)")
    citation = (data.get("paper") or {}).get("citation", "published")
    published: list[TaskResult] = []
    for t, table in enumerate(data["tables"]):
        where = f"{path}: tables[{t}]"
        if not isinstance(table, Mapping):
            raise ReportError(f"{where}: expected an object")
        subset, table_judge, setting = table.get("subset"), table.get("judge"), table.get("setting")
        if subset not in ("basic", "complex"):
            raise ReportError(f"{where}.subset must be \"basic\" or \"complex\", got {subset!r}")
        if table_judge is not None and table_judge not in known_judges:
            raise ReportError(
                f"{where}.judge {table_judge!r} is not one of the file's judges {sorted(known_judges)} (or null)"
            )
        if setting is not None and setting not in known_settings:
            raise ReportError(f"{where}.setting {setting!r} is not one of {sorted(known_settings)} (or null)")
        if not isinstance(table.get("source"), Mapping) or not table["source"].get("where"):
            raise ReportError(f"{where}.source.where must say where the numbers were read")
        inferred = table.get("subset_inferred", False)
        setting_inferred = table.get("setting_inferred", False)
        for key, value in (("subset_inferred", inferred), ("setting_inferred", setting_inferred)):
            if not isinstance(value, bool):
                raise ReportError(f"{where}.{key} must be true or false, got {value!r}")
        if setting_inferred and not table["source"].get("note"):
            raise ReportError(f"{where}.source.note must say why the setting is inferred")
        # rows whose source does not say basic or complex carry the mark into every table and the summary
        source = f"{citation}: {table['source']['where']}" + (" (subset inferred)" if inferred else "")
        table_notes = (f"{subset}: {table['source']['note']}",) if setting_inferred else ()
        if settings is not None and setting not in settings:
            continue
        for r, row in enumerate(table.get("rows") or []):
            rwhere = f"{where}.rows[{r}]"
            model = row.get("model") if isinstance(row, Mapping) else None
            if not isinstance(model, str) or not model:
                raise ReportError(f"{rwhere}.model must be a non-empty string")
            judge = row.get("judge", table_judge)
            if judge is not None and judge not in known_judges:
                raise ReportError(f"{rwhere}.judge {judge!r} is not one of the file's judges {sorted(known_judges)}")
            if judges is not None and judge not in judges:
                continue
            overall = number(row.get("overall"), f"{rwhere}.overall")
            if overall is None or not 0 <= overall <= 100:
                raise ReportError(f"{rwhere}.overall must be a recall between 0 and 100, got {row.get('overall')!r}")
            as_published = row.get("overall_as_published", False)
            note = row.get("note")
            if as_published and not (isinstance(note, str) and note):
                raise ReportError(f"{rwhere} ({model}): overall_as_published needs a note saying why")
            categories: dict[str, Measure] = {}
            raw_categories = row.get("categories")
            if raw_categories is not None:
                if subset != "basic" or not isinstance(raw_categories, Mapping) or set(raw_categories) != set(CATEGORIES):
                    raise ReportError(f"{rwhere}.categories must give exactly {list(CATEGORIES)} (basic tables only)")
                values = {c: number(raw_categories[c], f"{rwhere}.categories.{c}") for c in CATEGORIES}
                if any(v is None for v in values.values()):
                    raise ReportError(f"{rwhere}.categories: every category needs a number")
                implied = category_weighted_overall(values)  # type: ignore[arg-type]
                disagrees = abs(implied - overall) > CONSISTENCY_TOLERANCE
                if disagrees and not as_published:
                    raise ReportError(
                        f"{rwhere} ({model}): Overall {overall} but the sample-weighted mean of the categories "
                        f"({'/'.join(str(CATEGORY_SIZES[c]) for c in CATEGORIES)}) is {implied:.3f}; "
                        "one of the numbers is mistyped"
                    )
                if as_published and not disagrees:
                    raise ReportError(
                        f"{rwhere} ({model}): marked overall_as_published but Overall {overall} agrees with its "
                        f"categories ({implied:.3f}); remove the mark"
                    )
                categories = {c: Measure(v) for c, v in values.items()}
            elif as_published:
                raise ReportError(f"{rwhere} ({model}): overall_as_published needs the category columns")
            row_notes = (f"{subset} Overall {overall:.2f}: {note}",) if as_published else (
                (f"{subset}: {note}",) if isinstance(note, str) and note else ()
            )
            published.append(
                TaskResult(
                    model=model,
                    template=setting,
                    subset=subset,
                    overall=Measure(overall),
                    categories=categories,
                    published=True,
                    judge=judge,
                    judge_text=_published_judge_text(known_judges, judge),
                    source=source,
                    task=table.get("id"),
                    notes=table_notes + row_notes,
                )
            )
    return published


def _published_judge_text(judges: Mapping[str, Any], judge: str | None) -> str:
    """``GPT judge (paper-gpt)``: the paper's name for the judge and the protocol that reproduces it."""
    if judge is None:
        return "judge not stated"
    protocol = judges[judge].get("protocol")
    return judges[judge]["label"] + (f" ({protocol})" if protocol else "")


def published_judges(path: str | os.PathLike[str] = PUBLISHED_PATH) -> dict[str, Mapping[str, Any]]:
    """The paper's judges as the published file describes them (model, prompt, decoding, protocol)."""
    return dict(read_json(Path(path)).get("judges") or {})


