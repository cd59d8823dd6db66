"""Importing the package is cheap: no torch, transformers, datasets or lmms_eval at import time, for every module
that lmms-eval, lm-eval or the `eibench` command import before they need a model."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("torch", "transformers", "datasets", "lmms_eval", "lm_eval")
MODULES = ["lmms_eval_eibench", "lmms_eval_eibench.records", "lmms_eval_eibench.config", "lmms_eval_eibench.scoring",
           "lmms_eval_eibench.prompts", "lmms_eval_eibench.judges", "lmms_eval_eibench.judges.chat",
           "lmms_eval_eibench.lmms", "lmms_eval_eibench.discovery", "lmms_eval_eibench.harness_task",
           "lmms_eval_eibench.llava_original", "lmms_eval_eibench.cfsa", "lmms_eval_eibench.report",
           "lmms_eval_eibench.provenance", "lmms_eval_eibench.build", "lmms_eval_eibench.dataset",
           "lmms_eval_eibench.cli", "lmms_eval_eibench.protocols", "lmms_eval_eibench.commands.judge_check"]


@pytest.mark.parametrize("module", MODULES)
def test_module_imports_nothing_heavy(module):
    # which modules load, not how long it takes: a wall-clock bound flakes on a shared machine
    code = f"import sys; import {module}; print([m for m in {HEAVY!r} if m in sys.modules])"
    heavy = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert heavy == "[]", f"{module} imports {heavy} at import time"


def test_the_plugin_never_reads_stack_frames():
    """Harness internals are reached through their extension points only (issue: no frame inspection)."""
    import re
    from pathlib import Path

    import lmms_eval_eibench

    package = Path(lmms_eval_eibench.__file__).parent
    sources = [*package.rglob("*.py"), *(package.parent / "tasks").rglob("*.py")]
    pattern = re.compile(r"\b(f_locals|_getframe|currentframe|f_back)\b")
    offenders = [f"{path}:{n}" for path in sources for n, line in enumerate(path.read_text().splitlines(), 1)
                 if pattern.search(line)]
    assert offenders == []
