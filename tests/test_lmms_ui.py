"""lmms-eval's web UI (`lmms-eval ui`: its FastAPI app `lmms_eval.tui.server:app`, served here by uvicorn on
127.0.0.1 as `lmms-eval ui` does) on a real EIBench run, through its HTTP API: what it shows, and what it cannot
(the sample images), for the reasons docs/lmms-eval.md gives. When a test of a limitation fails, lmms-eval changed:
update the docs."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from test_lmms_e2e import results_of, run_lmms

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytestmark = pytest.mark.slow


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.fixture(scope="module")
def run(sample_dataset_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ui-run")
    run_lmms("eibench_complex", out, {"EIBENCH_DATASET": str(sample_dataset_dir), "EIBENCH_JUDGE": "embedding",
                                      "EIBENCH_CACHE_DIR": str(out / "cache")}, "--log_samples",
             model_args="response=A crying face with tears")
    return out


@pytest.fixture(scope="module")
def ui(run, sample_dataset_dir) -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "EIBENCH_DATASET": str(sample_dataset_dir)}
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "lmms_eval.tui.server:app", "--host", "127.0.0.1",
                               "--port", str(port)], cwd=run, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if get(f"{base}/health")[0] == 200:
                    break
            except OSError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "lmms-eval's UI server did not start"
            time.sleep(0.5)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_ui_lists_the_run_and_shows_its_samples(run, ui):
    logs = urllib.parse.quote(str(run))
    status, body = get(f"{ui}/logs/runs?logs_path={logs}")
    assert status == 200
    [listed] = json.loads(body)
    assert listed["tasks"] == ["eibench_complex"]
    results = results_of(run)["results"]["eibench_complex"]
    assert listed["metrics"]["eibench_complex"]["eibench_semantic_recall,none"] == results["eibench_semantic_recall,none"]
    run_id = urllib.parse.quote(listed["run_id"])
    status, body = get(f"{ui}/logs/runs/{run_id}/samples/eibench_complex?logs_path={logs}")
    assert status == 200
    page = json.loads(body)
    assert page["total"] == 4 and len(page["samples"]) == 4
    for sample in page["samples"]:
        verdict = sample["eibench_semantic_recall"]["verdict"]
        assert sample["filtered_resps"] == "A crying face with tears" and verdict["reason"] and verdict["total"] > 0
        assert sample["eibench_paired_score"] == sample["eibench_semantic_recall"]["score"] / 100
        assert sample["input_media"] == [sample["eibench_semantic_recall"]["image_path"]]  # the path, as text
    assert get(f"{ui}/")[0] == 200  # the page itself (lmms-eval ships it built)


def test_ui_cannot_show_eibench_images_or_list_the_tasks(run, ui):
    """Its media endpoint looks the task up in a TaskManager built without our discovery hook, and its task list
    scans lmms-eval's own folder only."""
    logs = urllib.parse.quote(str(run))
    [listed] = json.loads(get(f"{ui}/logs/runs?logs_path={logs}")[1])
    run_id = urllib.parse.quote(listed["run_id"])
    status, body = get(f"{ui}/logs/runs/{run_id}/samples/eibench_complex/media/0?logs_path={logs}")
    assert (status, json.loads(body)["detail"]) == (404, "Task not found")
    tasks = json.loads(get(f"{ui}/tasks")[1])
    assert tasks and not any("eibench" in json.dumps(task) for task in tasks)


def test_ui_media_refuses_class_tasks_even_when_indexed():
    """Even with our tasks indexed, the UI's media lookup takes only index entries of type "task": EIBench's tasks
    are "python_task" (their YAMLs name a task class, `class: !function utils.EIBenchTask`), so it answers "Task
    not found"; past that it would load_dataset(<the YAML's dataset_path>), which EIBench's YAMLs do not have (the
    task class loads $EIBENCH_DATASET, chosen at run time)."""
    from fastapi import HTTPException
    from lmms_eval import utils
    from lmms_eval.tasks import TaskManager
    from lmms_eval.tui import server

    from lmms_eval_eibench.harness.discovery import tasks_dir

    saved = server._task_manager
    server._task_manager = manager = TaskManager(verbosity="ERROR", include_path=str(tasks_dir()))
    try:
        with pytest.raises(HTTPException) as caught:
            server._get_task_dataset_spec("eibench_complex")
    finally:
        server._task_manager = saved
    entry = manager.task_index["eibench_complex"]
    assert entry["type"] == "python_task"
    assert caught.value.status_code == 404 and caught.value.detail == "Task not found"
    assert "dataset_path" not in utils.load_yaml_config(entry["yaml_path"], mode="full")
