"""Untrusted text in what the report writes: a model name, template, judge label or file name read from a results
file is shown as plain text in every format, never as a spreadsheet formula, Markdown/HTML markup or LaTeX code.

One function per format; the renderers (`render.py`, `pairs.py`) pass every text cell through them. Numbers the
report formats itself are not passed (a negative number stays a number).
"""

from __future__ import annotations

import re

_LINE_BREAKS = re.compile(r"\r\n|[\r\n\v\f\x1c-\x1e\x85\u2028\u2029]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # OWASP "CSV injection": what makes a spreadsheet read a formula
_MARKDOWN = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "|": "\\|", "\\": "\\\\"}
_LATEX = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",  # plain < > | print as other glyphs in LaTeX's default font encoding
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    "±": r"$\pm$",
    "—": "--",
}


def one_line(text: str) -> str:
    """``text`` with every line break as a space: a name never starts a new row, line or comment."""
    return _LINE_BREAKS.sub(" ", text)


def csv_text(text: str) -> str:
    """A text cell a spreadsheet shows as text: one starting like a formula (``=``, ``+``, ``-``, ``@``, a tab or a
    carriage return) gets a leading ``'``, which spreadsheets read as "text follows" (the OWASP rule)."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def markdown_text(text: str) -> str:
    """Text for a Markdown table cell or line: HTML's ``& < >`` as entities (no raw HTML), ``|`` and ``\\``
    escaped (no new cell), line breaks as spaces (no new row), ``](`` broken (no link or image)."""
    escaped = "".join(_MARKDOWN.get(ch, ch) for ch in one_line(text))
    return escaped.replace("](", "]\\(")


def latex_text(text: str) -> str:
    """Text for a LaTeX table cell: LaTeX's special characters as the commands that print them, line breaks as
    spaces (a blank line would end the cell's paragraph)."""
    return "".join(_LATEX.get(ch, ch) for ch in one_line(text))
