"""Untrusted text in what `eibench report` writes (issue 31): a model name or judge label read from a results file
is plain text in every format. CSV: a cell starting like a formula gets a leading `'`; Markdown: no raw HTML, a `|`
never makes a cell, a line break never splits a row, no link; LaTeX: special characters escaped; chart: a `$` is not
mathtext, and a chart that cannot be drawn costs neither the table nor the summary.

The results files are the report fixtures (lmms-eval 0.7.3's shape) with the model name (and the judge model of the
provenance) rewritten, read by the real CLI (`cli.main`), the CSV read back with Python's csv module.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from lmms_eval_eibench.cli import main as eibench
from lmms_eval_eibench.report.escape import csv_text, markdown_text
from lmms_eval_eibench.report.render import HEADERS

RUN_GPT = Path(__file__).resolve().parent / "fixtures" / "report" / "run_gpt"

FORMULAS = ['=HYPERLINK("evil.example","click")', "+SUM(A1:A9)", "-2+3*cmd", "@SUM(A1)"]
HTML = '<script>alert(1)</script><img src=x onerror="alert(2)"> a|b & c\nnext line\r\n[click](http:evil)'
MATHTEXT = r"price $\frac{1}{$ model"


def hostile_run(root: Path, name: str, judge_model: str | None = None) -> Path:
    """A copy of the GPT run whose results file names the model ``name`` (and, given, the judge ``judge_model``)."""
    source = next(RUN_GPT.rglob("*_results.json"))
    data = json.loads(source.read_text(encoding="utf-8"))
    data["model_name"] = name
    if judge_model is not None:
        for config in data["configs"].values():
            config["metadata"]["eibench_provenance"]["judge"]["model"] = judge_model
    folder = root / f"run{len(list(root.glob('run*')))}" / "model"
    folder.mkdir(parents=True)
    path = folder / source.name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def report(capsys, *argv: object) -> tuple[int, str, str]:
    code = eibench(["report", *(str(a) for a in argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def unescaped_pipes(line: str) -> int:
    return len(re.findall(r"(?<!\\)(?:\\\\)*\|", line))


def test_csv_cells_that_start_like_a_formula_start_with_a_quote(tmp_path, capsys):
    runs = [hostile_run(tmp_path, name) for name in FORMULAS]
    code, out, err = report(capsys, *runs, "--format", "csv")
    assert code == 0, err
    table = list(csv.DictReader(io.StringIO(out)))
    assert sorted(row["model"] for row in table) == sorted("'" + name for name in FORMULAS)
    for row in table:  # the numbers are ours: written as numbers, never quoted
        assert float(row["overall"]) == pytest.approx(55.882) and not row["overall"].startswith("'")
        assert float(row["overall_stderr"]) == pytest.approx(0.61)
        assert not any(value.startswith(("=", "+", "-", "@", "\t", "\r")) for value in row.values()), row


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@A1", "\tx", "\rx"])
def test_every_formula_start_is_neutralized_and_plain_text_is_kept(text):
    assert csv_text(text) == "'" + text
    assert csv_text("llava-hf/llava-1.5-7b-hf") == "llava-hf/llava-1.5-7b-hf"
    assert csv_text("a=b") == "a=b"


def test_markdown_shows_html_pipes_and_line_breaks_as_text(tmp_path, capsys):
    runs = [hostile_run(tmp_path, HTML, judge_model="judge|<b>x</b>"), hostile_run(tmp_path, "plain-model")]
    code, out, err = report(capsys, *runs, "--with-paper", "--paper-setting", "user")
    assert code == 0, err
    assert "<script" not in out and "<img" not in out and "<b>" not in out
    assert "&lt;script&gt;alert(1)&lt;" in out and 'onerror="alert(2)"&gt; a\\|b &amp; c next line' in out
    assert "](" not in out.split("\n\n")[0]  # no link (or image) in the table
    lines = out.split("\n\n")[0].splitlines()  # the table: up to its first blank line
    code, as_csv, err = report(capsys, *runs, "--with-paper", "--paper-setting", "user", "--format", "csv")
    assert code == 0 and len(lines) == 2 + len(list(csv.DictReader(io.StringIO(as_csv))))  # header, rule, rows
    columns = unescaped_pipes(lines[0])
    assert columns == len(HEADERS) + 1
    assert all(unescaped_pipes(line) == columns for line in lines), lines
    assert all(line.startswith("| ") and line.endswith(" |") for line in lines[2:]), lines
    hostile = next(line for line in lines if "alert(1)" in line)
    assert "judge\\|&lt;b&gt;x&lt;/b&gt;" in hostile  # the judge label too
    # the warnings quote the names: HTML escaped there as well, and a name adds no line to its quote
    quoted = [line for line in out.splitlines() if "alert(1)" in line]
    assert len(quoted) >= 2 and all(line.startswith(("| ", "> ")) for line in quoted), quoted
    assert "next line\r" not in err and "\nnext line" not in err  # stderr's warnings: one line per name too


def test_a_backslash_before_a_pipe_cannot_end_the_cell():
    # `\|` would be an escaped pipe; `\\|` an escaped backslash and a pipe that ends the cell
    assert markdown_text("a\\|b") == "a\\\\\\|b" and unescaped_pipes(markdown_text("a\\|b")) == 0


def test_latex_escapes_every_special_character(tmp_path, capsys):
    name = "50% & #1 _x_ ^~ {a} $b$ <c> |d|\nline"
    run = hostile_run(tmp_path, name, judge_model="j&\\x")
    code, out, err = report(capsys, run, "--format", "latex")
    assert code == 0, err
    row = next(line for line in out.splitlines() if "50" in line and line.endswith(r" \\"))
    assert row.startswith(r"50\% \& \#1 \_x\_ \textasciicircum{}\textasciitilde{} \{a\} \$b\$ "
                          r"\textless{}c\textgreater{} \textbar{}d\textbar{} line & ")
    assert r"j\&\textbackslash{}x" in row
    assert len(re.findall(r"(?<!\\)&", row)) == len(HEADERS) - 1  # one cell per column
    assert name not in out and "\nline" not in out


def test_a_dollar_in_a_name_is_plain_text_in_the_chart(tmp_path, capsys):
    runs = [hostile_run(tmp_path, MATHTEXT, judge_model=r"$\frac{1}{$"), hostile_run(tmp_path, "a $x^2$ b")]
    png, svg, table, summary = (tmp_path / name for name in ("c.png", "c.svg", "t.md", "s.json"))
    code, out, err = report(capsys, *runs, "--chart", png, "--chart", svg, "-o", table, "--summary", summary)
    assert code == 0 and "Traceback" not in err, err
    assert png.read_bytes().startswith(b"\x89PNG") and table.is_file()
    assert {row["model"] for row in json.loads(summary.read_text())["entries"]} == {"price $/frac{1}{$ model",
                                                                                "a $x^2$ b"}
    text = svg.read_text(encoding="utf-8")  # SVG keeps text as text: the names as written, not typeset
    assert "price $/frac{1}{$ model" in text and "a $x^2$ b" in text and r"$\frac{1}{$" in text


@pytest.fixture
def full_disk(tmp_path):
    """A folder on a 64 KiB tmpfs, filled: every new file in it fails with ENOSPC (needs root to mount)."""
    folder = tmp_path / "full"
    folder.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)],
                                           capture_output=True, check=False).returncode != 0:
        pytest.skip("mounting a small tmpfs needs root")
    try:
        with contextlib.suppress(OSError):
            (folder / "filler").write_bytes(b"x" * 1024 * 1024)
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_a_chart_that_cannot_be_drawn_costs_no_other_output(tmp_path, full_disk, capsys):
    run = hostile_run(tmp_path, "model")
    chart, table, summary = full_disk / "chart.png", tmp_path / "t.md", tmp_path / "s.json"
    code, out, err = report(capsys, run, "--chart", chart, "-o", table, "--summary", summary)
    assert code == 2 and "Traceback" not in err, err
    assert f"{chart}: cannot be written (No space left on device)" in err, err
    assert "the table and the summary were written" in err, err
    assert "| model |" in table.read_text() and json.loads(summary.read_text())["entries"]
    assert not chart.exists() and [p.name for p in full_disk.iterdir()] == ["filler"]  # no half chart

    code, out, err = report(capsys, run, "--chart", chart)  # no -o: the table is printed
    assert code == 2 and "| model |" in out and "Traceback" not in err, err
