"""Importing the package is cheap: no torch, transformers, datasets, lmms_eval, matplotlib or httpx at import time,
for every module that lmms-eval, lm-eval or the `eibench` command import before they need a model."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("torch", "transformers", "datasets", "lmms_eval", "lm_eval", "matplotlib", "jsonschema", "httpx", "httpx2", "openai",
         "sentence_transformers")
PACKAGE = Path(__file__).resolve().parents[1] / "lmms_eval_eibench"
# The edge modules that exist to import a harness: lmms-eval or lm-eval loads them only when it needs them.
HARNESS_EDGES = {"lmms_eval_eibench.cfsa.model", "lmms_eval_eibench.harness.lmms_task"}
MODULES = sorted(
    name for path in PACKAGE.rglob("*.py")
    if "lm_eval_tasks" not in path.parts and path.name != "__main__.py"  # __main__ runs the CLI when imported
    and (name := ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__"))
    not in HARNESS_EDGES
)


def test_every_module_is_checked():
    # lmms_compat holds every lmms-eval internal we use, yet must import none of it until a contact is used
    assert {"lmms_eval_eibench", "lmms_eval_eibench.vocabulary", "lmms_eval_eibench.cli",
            "lmms_eval_eibench.edge.lmms_compat"} <= set(MODULES)
    assert len(MODULES) > 30


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
