"""No shipped text may say that failures are skipped: since 0.2.0 every sample counts, a failed judgement or
generation as 0 (issue 27: the YAMLs said the opposite of the code for a release)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# What a reader would take for "failures do not count". `<m>_judged`'s "mean over judged samples only" is true
# and allowed: it is the diagnosis figure, named as such.
STALE = re.compile(
    r"skip\w*\s+(?:the\s+)?(?:judge\s+|judgement\s+|generation\s+)?failures"
    r"|when\s+no\s+judge?ment\s+failed"
    r"|when\s+nothing\s+failed"
    r"|failures?\s+(?:are|is)\s+(?:skipped|excluded|ignored|dropped|left\s+out)"
    r"|std/sqrt\(n\)\s+over\s+judged",
    re.IGNORECASE,
)


def shipped_texts() -> list[Path]:
    """Task YAMLs (both harnesses), the package's sources and templates, the docs and the README."""
    tasks = [p for p in (REPO / "tasks").rglob("*") if p.is_file() and ("yaml" in p.name)]
    package = REPO / "lmms_eval_eibench"
    sources = [p for p in package.rglob("*") if p.is_file() and p.suffix in {".py", ".j2", ".md"}
               or "yaml" in p.name]
    return [*tasks, *sources, *(REPO / "docs").glob("*.md"), REPO / "README.md"]


@pytest.mark.parametrize("text", [
    "# Recall metrics use custom aggregations that skip judge failures (lmms-eval's `mean` cannot)",
    "# mean over all samples when no judgement failed.",
    "(for `<m>`: the mean over all samples when nothing failed)",
    "(`<metric>_stderr_clt`, std/sqrt(n) over judged samples)",
])
def test_the_check_recognizes_the_stale_sentences(text):
    assert STALE.search(text)


def test_no_shipped_text_says_failures_are_skipped():
    files = shipped_texts()
    assert any(p.name == "_default_template_yaml" for p in files) and len(files) > 50
    found = []
    for path in files:
        lines = path.read_text(encoding="utf-8").splitlines()
        for n, line in enumerate(lines, 1):
            # a sentence may wrap: each line is read together with the next one (comment marks dropped)
            joined = line + " " + (re.sub(r"^\s*#\s?", "", lines[n]) if n < len(lines) else "")
            if STALE.search(joined):
                found.append(f"{path.relative_to(REPO)}:{n}: {line.strip()}")
    assert found == [], "every sample counts (failures score 0); fix these:\n" + "\n".join(found)
