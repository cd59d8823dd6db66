"""Zero-flag discovery: the `lmms_eval.models` entry point makes lmms-eval index tasks/eibench.

These tests fail loudly when a future lmms-eval stops loading model entry points before building its task index or
renames the method the hook wraps (`TaskManager.initialize_tasks`)."""

from __future__ import annotations

import importlib.metadata
import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TASKS = {f"eibench_{s}{t}" for s in ("basic", "complex") for t in ("", "_cot", "_caption", "_caption_text")}
GROUPS = {"eibench", "eibench_cot", "eibench_caption", "eibench_caption_text"}

# What lmms-eval's CLI does: import the evaluator (which imports lmms_eval.models, loading the model entry points),
# then build a TaskManager; print the EIBench names it indexed and where their YAMLs are.
PROBE = """
import json, sys
from lmms_eval import evaluator  # noqa: F401  (imports lmms_eval.models -> entry points)
from lmms_eval.tasks import TaskManager
include = sys.argv[1] if len(sys.argv) > 1 else None
index = TaskManager(include_path=include).task_index
print(json.dumps({name: str(entry["yaml_path"]) for name, entry in index.items() if name.startswith("eibench")}))
"""


def probe(env: dict[str, str] | None = None, include_path: str | None = None) -> dict[str, str]:
    cmd = [sys.executable, "-c", PROBE] + ([include_path] if include_path else [])
    proc = subprocess.run(cmd, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_entry_point_is_installed():
    points = [ep for ep in importlib.metadata.entry_points(group="lmms_eval.models") if ep.name == "eibench"]
    assert [ep.value for ep in points] == ["lmms_eval_eibench.harness.discovery:register"], (
        "reinstall the package: pip install -e . (the entry point lives in pyproject.toml)")
    assert points[0].load()() == []  # contributes no model


def test_wrapped_method_still_exists():
    from lmms_eval.tasks import TaskManager

    params = inspect.signature(getattr(TaskManager.initialize_tasks, "__wrapped__", TaskManager.initialize_tasks)).parameters
    assert {"include_path", "include_defaults"} <= set(params), (
        "lmms-eval changed TaskManager.initialize_tasks: lmms_compat.hook_task_index must be updated")


@pytest.mark.slow
def test_lmms_eval_finds_the_tasks_without_include_path():
    found = probe()
    missing = (TASKS | GROUPS | {"eibench_captions"}) - set(found)
    assert not missing, (f"lmms-eval no longer indexes {sorted(missing)} through the lmms_eval.models entry point; "
                         "the zero-flag discovery hook (lmms_compat.hook_task_index, used by discovery.py) is broken")
    assert all(Path(path).parent.name == "eibench" for path in found.values())


@pytest.mark.slow
def test_include_path_from_a_checkout_works_without_the_hook():
    assert probe({"EIBENCH_NO_DISCOVERY": "1"}) == {}
    found = probe({"EIBENCH_NO_DISCOVERY": "1"}, include_path=str(REPO / "tasks"))
    assert TASKS | GROUPS <= set(found)
    assert all(path.startswith(str(REPO / "tasks")) for path in found.values())


def test_our_folder_is_added_once():
    from lmms_eval_eibench.harness.discovery import _with_our_tasks, tasks_dir

    assert _with_our_tasks(None) == [str(tasks_dir())]
    assert _with_our_tasks(str(tasks_dir())) == [str(tasks_dir())]
    assert _with_our_tasks(["/elsewhere"]) == ["/elsewhere", str(tasks_dir())]

