"""Regenerate ``lmms_eval_eibench/published/paper_tables.json`` from ``paper_tables.csv``.

    python scripts/published_tables.py [--csv ../shared/eibench/paper_tables.csv] [--check]

The CSV holds every number of the two results tables in the EIBench repository's README (one row per
model x setting x judge, parsed from the README text; its own README explains the columns). This script
only *re-shapes* it: the published numbers are facts from the paper and ship as data with their source and
notes. No annotation file is read or copied.

Shape of the output (the loader is ``lmms_eval_eibench.report.load_published``): one table per block of the
paper's tables, in the paper's order (basic: user question, caption, text-only, chain of thought, CFSA,
closed models; then complex), rows in the paper's order with both judges of a model side by side (the README
prints each cell as "LLaMA-3 / ChatGPT"). A row whose published Overall disagrees with its own categories is
kept as published and marked ``overall_as_published`` with the CSV's note. ``--check`` fails (exit 1) when the
shipped file differs from what the CSV gives.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CSV = REPO.parent / "shared" / "eibench" / "paper_tables.csv"
TARGET = REPO / "lmms_eval_eibench" / "published" / "paper_tables.json"

CATEGORIES = ("Happy", "Angry", "Sadness", "Excitement")
COLUMNS = ("model", "setting", "judge", "subset", "happy", "angry", "sadness", "excitement", "overall", "recall", "note")
SETTINGS = ("user", "caption", "caption_text", "cot", "cfsa")
JUDGES = ("llama3", "gpt")
CLOSED_NOTE = "setting inferred: the closed-model block names none"
COMPLEX_NOTE = "setting inferred: the complex table names none"
MISMATCH_NOTE = "as published; the sample-weighted mean of its categories is"

SOURCE = {
    "repository": "https://github.com/Lum1104/EIBench",
    "commit": "aff98d088367e60ac412905dd534f0cf062386b7",
    "file": "README.md (the two results tables, added in commit c1c53fe, 2024-09-18)",
    "cells": "each README cell reads 'LLaMA-3 / ChatGPT': the Meta-Llama-3-8B-Instruct judge and the gpt-3.5-turbo judge",
    "parsed": "parsed from the README text by script into paper_tables.csv (88 rows, 336 numbers); "
              "reshaped by scripts/published_tables.py",
}

HEAD = {
    "schema_version": 2,
    "paper": {
        "title": "Why We Feel: Breaking Boundaries in Emotional Reasoning with Multimodal Large Language Models",
        "authors": "Yuxiang Lin, Jingdong Sun, Zhi-Qi Cheng, Jue Wang, Haomin Liang, Zebang Cheng, Yifei Dong, "
                   "Jun-Yan He, Xiaojiang Peng, Xian-Sheng Hua",
        "citation": "Lin et al., 2025",
        "arxiv": "2504.07521",
        "url": "https://arxiv.org/abs/2504.07521",
        "code": "https://github.com/Lum1104/EIBench",
    },
    "source": SOURCE,
    "category_sizes": {"Happy": 91, "Angry": 342, "Sadness": 462, "Excitement": 720},
    "consistency": {
        "rule": "basic Overall = (91 Happy + 342 Angry + 462 Sadness + 720 Excitement) / 1615",
        "tolerance": 0.05,
        "exceptions": "rows marked overall_as_published: their published Overall disagrees with their own categories "
                      "and is kept as published",
    },
    "judges": {
        "llama3": {
            "label": "LLaMA-3 judge",
            "protocol": "paper-llama3",
            "model": "meta-llama/Meta-Llama-3-8B-Instruct",
            "prompt": "judge_paper_llama3",
            "decoding": {"temperature": 0.1, "top_p": 0.9, "do_sample": True},
        },
        "gpt": {
            "label": "GPT judge",
            "protocol": "paper-gpt",
            "model": "gpt-3.5-turbo",
            "prompt": "judge_paper",
            "decoding": {"temperature": 0.1},
        },
    },
    "settings": {
        "user": "user question (zero-shot)",
        "caption": "user question + caption, with the image",
        "caption_text": "caption and question only (text models; the text-only row of the caption block)",
        "cot": "user question + chain of thought",
        "cfsa": "Coarse-to-Fine Self-Ask (the paper's method)",
    },
}

BLOCKS = {  # block id -> (subset, where in the README)
    "basic-user": ("basic", "EI basic table, zero-shot (user question) block"),
    "basic-caption": ("basic", "EI basic table, caption block"),
    "basic-caption-text": ("basic", "EI basic table, caption block: the text-only LLaMA-3 (8B) row"),
    "basic-cot": ("basic", "EI basic table, chain-of-thought block"),
    "basic-cfsa": ("basic", "EI basic table, CFSA row"),
    "basic-closed": ("basic", "EI basic table, closed-model block"),
    "complex": ("complex", "EI complex table"),
}


class CsvError(ValueError):
    """The CSV is not what the script expects; the message names the file and line."""


def _number(text: str, where: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise CsvError(f"{where}: {text!r} is not a number") from None


def block_of(row: dict[str, str]) -> str:
    if row["subset"] == "complex":
        return "complex"
    if row["note"].find(CLOSED_NOTE) >= 0:
        return "basic-closed"
    return {"user": "basic-user", "caption": "basic-caption", "caption_text": "basic-caption-text",
            "cot": "basic-cot", "cfsa": "basic-cfsa"}[row["setting"]]


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise CsvError(f"{path}:1: columns {reader.fieldnames} are not {list(COLUMNS)}")
        rows = []
        for number, row in enumerate(reader, start=2):
            where = f"{path}:{number}"
            if row["setting"] not in SETTINGS or row["judge"] not in JUDGES or row["subset"] not in ("basic", "complex"):
                raise CsvError(f"{where}: unknown setting/judge/subset {row['setting']!r}/{row['judge']!r}/{row['subset']!r}")
            row["where"] = where
            rows.append(row)
    return rows


def build(rows: list[dict[str, str]]) -> dict:
    tables: dict[str, dict] = {}
    for row in rows:
        block = block_of(row)
        subset, where = BLOCKS[block]
        table = tables.setdefault(block, {
            "id": block, "subset": subset, "setting": row["setting"], "judge": None,
            "setting_inferred": block in ("basic-closed", "complex"),
            "source": {"where": f"EIBench README ({SOURCE['commit'][:7]}), {where}"},
            "rows": [],
        })
        if table["setting"] != row["setting"]:
            raise CsvError(f"{row['where']}: setting {row['setting']!r} inside block {block} of setting {table['setting']!r}")
        out: dict = {"model": row["model"], "judge": row["judge"]}
        if subset == "basic":
            out["overall"] = _number(row["overall"], row["where"])
            out["categories"] = {c: _number(row[c.lower()], row["where"]) for c in CATEGORIES}
        else:
            out["overall"] = _number(row["recall"], row["where"])
        note = row["note"].strip()
        if MISMATCH_NOTE in note:
            out["overall_as_published"] = True
        if note:
            out["note"] = note
        table["rows"].append(out)
    for table in tables.values():
        if table["setting_inferred"]:
            # every row of these blocks carries the same "setting inferred: ..." clause: the table states it once
            notes = {r["note"][r["note"].index("setting inferred"):] for r in table["rows"]}
            if len(notes) != 1:
                raise CsvError(f"block {table['id']}: rows disagree on why the setting is inferred: {sorted(notes)}")
            table["source"]["note"] = notes.pop()
            for row in table["rows"]:
                rest = row.pop("note")[: -len(table["source"]["note"])].rstrip("; ")
                if rest:
                    row["note"] = rest
    ordered = [tables[b] for b in BLOCKS if b in tables]
    count = sum(len(t["rows"]) for t in ordered)
    numbers = sum(5 if t["subset"] == "basic" else 1 for t in ordered for _ in t["rows"])
    return {**HEAD, "coverage": f"Complete: {count} rows, {numbers} numbers (every number of the README's two results "
                                "tables; both judges; settings user, caption, caption_text, cot, cfsa).",
            "tables": ordered}


def render(data: dict) -> str:
    """Indented JSON with one table row per line (diffs then show which number changed)."""
    rows = {}
    tables = []
    for t, table in enumerate(data["tables"]):
        marks = []
        for r, row in enumerate(table["rows"]):
            mark = f"@@row-{t}-{r}@@"
            rows[json.dumps(mark)] = json.dumps(row, ensure_ascii=False)
            marks.append(mark)
        tables.append({**table, "rows": marks})
    text = json.dumps({**data, "tables": tables}, indent=2, ensure_ascii=False)
    for mark, row in rows.items():
        text = text.replace(mark, row)
    return text + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, default=DEFAULT_CSV, help=f"paper_tables.csv (default {DEFAULT_CSV})")
    parser.add_argument("--output", type=Path, default=TARGET, help="where to write (default: the package's file)")
    parser.add_argument("--check", action="store_true", help="only compare with the shipped file; exit 1 if it differs")
    args = parser.parse_args(argv)
    try:
        text = render(build(read_csv(args.csv)))
    except (CsvError, OSError) as exc:
        print(f"published_tables: {exc}", file=sys.stderr)
        return 2
    if args.check:
        same = args.output.is_file() and args.output.read_text(encoding="utf-8") == text
        print(f"{args.output}: {'up to date' if same else 'differs from ' + str(args.csv)}")
        return 0 if same else 1
    tmp = args.output.with_name(f".{args.output.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(args.output)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
