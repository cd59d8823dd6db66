"""The tasks ship inside the wheel (mapped from the repo's top-level tasks/eibench), and an installed wheel's tasks
are the ones lmms-eval indexes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import tomllib

REPO = Path(__file__).resolve().parents[1]


def test_listed_packages_match_the_package_folders():
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "lmms_eval_eibench").rglob("__init__.py")}
    assert on_disk - listed == set(), "add these packages to [tool.setuptools] packages in pyproject.toml"
    assert "lmms_eval_eibench.tasks.eibench" in listed


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built from a copy of the tracked files (what a clone holds), not from the working tree."""
    src = tmp_path_factory.mktemp("clone") / "src"
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    for name in filter(None, tracked.decode().split("\0")):
        if (REPO / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, src / name)
    dist = tmp_path_factory.mktemp("dist")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                           str(dist), str(src)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return next(dist.glob("lmms_eval_eibench-*.whl"))


@pytest.mark.slow
def test_wheel_holds_the_task_yamls(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for path in (REPO / "tasks" / "eibench").iterdir():
        if path.is_file() and path.suffix != ".pyc":
            assert f"lmms_eval_eibench/tasks/eibench/{path.name}" in names, path.name
    for path in (REPO / "lmms_eval_eibench" / "lm_eval_tasks" / "eibench").iterdir():
        if path.is_file() and path.suffix != ".pyc":
            assert f"lmms_eval_eibench/lm_eval_tasks/eibench/{path.name}" in names, path.name
    for template in ("user", "cot", "caption", "caption_text", "caption_request"):
        assert f"lmms_eval_eibench/prompts/{template}.j2" in names
    for page_file in ("view_page.html.j2", "view_page.js"):  # eibench view's page
        assert f"lmms_eval_eibench/report/{page_file}" in names
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "eibench = lmms_eval_eibench.harness.discovery:register" in zipfile.ZipFile(wheel).read(entry_points).decode()


@pytest.mark.slow
def test_installed_wheel_tasks_are_indexed(wheel, tmp_path):
    target = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
                           str(wheel)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    code = ("import json; from lmms_eval import evaluator; from lmms_eval.tasks import TaskManager; "
            "import lmms_eval_eibench.harness.discovery as d; idx = TaskManager().task_index; "
            "print(json.dumps([str(d.tasks_dir()), str(idx['eibench_basic']['yaml_path'])]))")
    env = {**os.environ, "PYTHONPATH": str(target)}
    # cwd outside the checkout: `python -c` puts the cwd first on sys.path, which would import the source tree
    proc = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    tasks_dir, yaml_path = json.loads(proc.stdout.strip().splitlines()[-1])
    assert tasks_dir == str(target / "lmms_eval_eibench" / "tasks" / "eibench")
    assert yaml_path.startswith(tasks_dir)
