"""Nothing paid for is lost inside lmms-eval (issue 31): an --output_path lmms-eval could not save to stops the run
before generation, naming it (lmms-eval alone generates and judges everything, then logs an OSError at INFO and
exits 0); Ctrl-C while the plugin judges says how many verdicts are saved, exits 130, and a rerun resumes. Through
the real `lmms-eval` CLI, the `dummy` model and the loopback judge."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from judge_server import FakeJudgeConfig, judge_server

pytestmark = pytest.mark.slow

LMMS_EVAL = str(Path(sys.executable).parent / "lmms-eval")


def lmms_argv(task: str, out: Path) -> list[str]:
    return [LMMS_EVAL, "--model", "dummy", "--tasks", task, "--output_path", str(out), "--log_samples",
            "--verbosity", "DEBUG"]


def judge_env(judge, dataset: Path, cache: Path) -> dict[str, str]:
    return {**os.environ, "EIBENCH_DATASET": str(dataset), "EIBENCH_JUDGE": "openai",
            "EIBENCH_JUDGE_BASE_URL": judge.base_url, "EIBENCH_JUDGE_API_KEY": judge.api_key,
            "EIBENCH_JUDGE_MODEL": judge.model, "EIBENCH_CACHE_DIR": str(cache)}


def requests_of(judge) -> int:
    return judge.stats.chat_requests + judge.stats.models_requests


@pytest.fixture
def read_only_mount(tmp_path):
    """A read-only bind mount of an empty folder (as root, modes do not stop writes; a read-only mount does)."""
    source, target = tmp_path / "ro-source", tmp_path / "ro"
    source.mkdir()
    target.mkdir()
    done = subprocess.run(["mount", "--bind", "-o", "ro", str(source), str(target)], capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot make a read-only mount here (mount --bind -o ro: {done.stderr.strip()})")
    try:
        yield target
    finally:
        subprocess.run(["umount", str(target)], check=False)


def test_an_output_path_under_a_file_stops_before_generation(sample_dataset_dir, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("mine\n")
    out = blocker / "sub"
    with judge_server(FakeJudgeConfig()) as judge:
        proc = subprocess.run(lmms_argv("eibench_basic", out), env=judge_env(judge, sample_dataset_dir,
                                                                            tmp_path / "cache"),
                              capture_output=True, text=True, timeout=600, check=False)
        log = proc.stdout + proc.stderr
        assert proc.returncode != 0, log[-3000:]
        assert f"--output_path {out}: {blocker} is a file, not a folder" in log, log[-3000:]
        assert "nothing has been generated or judged" in log
        assert "Running generate_until requests" not in log, "the check must run before generation"
        assert requests_of(judge) == 0  # no preflight, no verdict: nothing was paid for
    assert blocker.read_text() == "mine\n"


def test_a_read_only_output_path_stops_before_generation(sample_dataset_dir, tmp_path, read_only_mount):
    out = read_only_mount / "out"
    with judge_server(FakeJudgeConfig()) as judge:
        proc = subprocess.run(lmms_argv("eibench_basic", out), env=judge_env(judge, sample_dataset_dir,
                                                                            tmp_path / "cache"),
                              capture_output=True, text=True, timeout=600, check=False)
        log = proc.stdout + proc.stderr
        assert proc.returncode != 0, log[-3000:]
        assert f"--output_path {out}: cannot be written (Read-only file system, in {read_only_mount})" in log, (
            log[-3000:])
        assert "Running generate_until requests" not in log
        assert requests_of(judge) == 0
    assert not any(read_only_mount.iterdir())  # the check leaves nothing behind


def test_ctrl_c_while_judging_says_what_is_saved_and_a_rerun_resumes(sample_dataset_dir, tmp_path):
    """A real SIGINT to lmms-eval while the plugin judges (one request at a time, 1 s each): exit 130, no
    traceback, the count of saved verdicts; the same command again sends only the rest."""
    with judge_server(FakeJudgeConfig(latency=1.0)) as judge:
        env = {**judge_env(judge, sample_dataset_dir, tmp_path / "cache"), "EIBENCH_JUDGE_CONCURRENCY": "1"}
        argv = lmms_argv("eibench_basic", tmp_path / "out")
        # SIGINT's default in the child (see tests/test_newcomer.py: an inherited ignored SIGINT installs no
        # KeyboardInterrupt handler at all)
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        deadline = time.monotonic() + 300
        # the third answered request: the first two verdicts are cached (each before the next request)
        while len(judge.stats.prompts_answered) < 3 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert proc.poll() is None, "lmms-eval ended before the signal"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 130, (out[-3000:], err[-3000:])
        assert "Traceback" not in err and "KeyboardInterrupt" not in err, err[-3000:]
        found = re.search(r"EIBench eibench_basic: interrupted; (\d+) of (\d+) verdicts are saved in the judge cache",
                          err)
        assert found, err[-3000:]
        saved, total = int(found.group(1)), int(found.group(2))
        assert 2 <= saved < total, err
        assert "run the same lmms-eval command again to resume" in err
        assert not list((tmp_path / "out").rglob("*_results.json"))
        sent = judge.stats.chat_requests
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600, check=False)
        assert done.returncode == 0, done.stderr[-3000:]
        # the dummy model answers the same again: only the unsaved verdicts are asked (the preflight is a GET)
        assert judge.stats.chat_requests - sent == total - saved
        [results] = (tmp_path / "out").rglob("*_results.json")
        assert json.loads(results.read_text())["results"]["eibench_basic"]["eibench_judge_failures,none"] == 0
