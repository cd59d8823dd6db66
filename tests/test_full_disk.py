"""Nothing paid for is lost on a full disk (issue 31), through the real `eibench` CLI on a small tmpfs: the reply
cache's disk filling mid-run says the disk is full and how many replies are saved (intact: SQLite's integrity
check), exits non-zero, and the rerun after space is freed uses them; `score --output`, `report -o` and
`--summary` on a full disk are a message (no traceback), and leave the file they would have replaced as it was."""

from __future__ import annotations

import errno
import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from judge_server import FakeJudgeConfig, judge_server

from lmms_eval_eibench.data.records import load_records
from lmms_eval_eibench.data.sample import SAMPLE_DIR
from lmms_eval_eibench.judges.cache import CACHE_FILE

EIBENCH = str(Path(sys.executable).parent / "eibench")
FIXTURES = Path(__file__).parent / "fixtures" / "report"


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MB tmpfs of the test's own, unmounted afterwards."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (mount -t tmpfs: {done.stderr.strip()}; needs root)")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> Path:
    """Write a file on ``disk`` until no byte is left; return it (delete it to free the space)."""
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as handle:
        chunk = b"\0" * 4096
        try:
            while True:
                handle.write(chunk)
        except OSError as err:
            assert err.errno == errno.ENOSPC, err
    try:  # the last partial block
        with open(filler, "ab", buffering=0) as handle:
            while True:
                handle.write(b"\0")
    except OSError:
        pass
    return filler


def answers_file(tmp_path: Path) -> tuple[Path, int]:
    basic = load_records(SAMPLE_DIR).subset("basic")
    path = tmp_path / "answers.jsonl"
    path.write_text("".join(json.dumps({r.id: r.ground_truth}) + "\n" for r in basic))
    return path, len(basic)


def score_argv(judge, answers: Path, cache: Path, *extra: str) -> list[str]:
    return [EIBENCH, "score", str(answers), "--subset", "basic", "--annotations", str(SAMPLE_DIR), "--base-url",
            judge.base_url, "--judge-model", judge.model, "--cache-dir", str(cache), "--no-progress", *extra]


def env_of(judge) -> dict[str, str]:
    return {**os.environ, "EIBENCH_JUDGE_API_KEY": judge.api_key}


def test_a_full_cache_disk_says_so_keeps_the_saved_replies_and_the_rerun_uses_them(small_disk, tmp_path):
    answers, total = answers_file(tmp_path)
    cache = small_disk / "cache"
    with judge_server(FakeJudgeConfig(latency=0.5)) as judge:
        argv = score_argv(judge, answers, cache, "--concurrency", "1")
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env_of(judge))
        deadline = time.monotonic() + 120
        # one request at a time, each reply committed before the next request: 3 answered means 2+ are saved
        while len(judge.stats.prompts_answered) < 3 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.02)
        assert proc.poll() is None, "the run ended before the disk could be filled"
        filler = fill(small_disk)  # another program fills the disk while eibench judges
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 2 and "Traceback" not in err, err
        assert f"the disk holding the judge reply cache {cache / CACHE_FILE} is full" in err, err
        assert "damaged" not in err and "rm " not in err, "a full disk is not a damaged cache"
        assert "do not delete the cache, it holds paid replies" in err and "Free space on that disk" in err
        saved = int(re.search(r"(\d+) judge replies are saved in it, intact \(SQLite's integrity check: ok\)",
                              err).group(1))
        assert 2 <= saved < total, err
        assert out == ""  # no score printed for a run that could not finish

        filler.unlink()  # space freed: the saved replies are intact and used
        with sqlite3.connect(cache / CACHE_FILE) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert conn.execute("SELECT COUNT(*) FROM replies").fetchone()[0] == saved
        sent = judge.stats.chat_requests
        done = subprocess.run(argv, capture_output=True, text=True, env=env_of(judge), timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        assert judge.stats.chat_requests - sent == total - saved


def test_score_output_on_a_full_disk_is_a_message_and_the_rerun_sends_nothing(small_disk, tmp_path):
    answers, total = answers_file(tmp_path)
    output = small_disk / "verdicts.jsonl"
    output.write_text("earlier verdicts\n")
    fill(small_disk)
    with judge_server(FakeJudgeConfig()) as judge:
        argv = score_argv(judge, answers, tmp_path / "cache", "-o", str(output))
        done = subprocess.run(argv, capture_output=True, text=True, env=env_of(judge), timeout=120, check=False)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert (f"--output {output}: cannot be written (No space left on device). Fix: free space on that disk, or "
                "choose a path on another one") in done.stderr, done.stderr
        assert "the verdicts are saved in the judge cache: the same command run again sends no request" in done.stderr
        assert judge.stats.chat_requests == total
        assert output.read_text() == "earlier verdicts\n"  # the old file, whole: no half-written output
        assert sorted(p.name for p in small_disk.iterdir()) == ["filler", "verdicts.jsonl"]  # no temporary left
        (small_disk / "filler").unlink()
        done = subprocess.run(argv, capture_output=True, text=True, env=env_of(judge), timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        assert judge.stats.chat_requests == total  # every verdict from the cache
        assert len(output.read_text().splitlines()) == total


@pytest.mark.parametrize("option", ["-o", "--summary"])
def test_report_outputs_on_a_full_disk_are_a_message(small_disk, option):
    target = small_disk / ("table.md" if option == "-o" else "summary.json")
    target.write_text("earlier\n")
    fill(small_disk)
    done = subprocess.run([EIBENCH, "report", str(FIXTURES / "run_gpt"), option, str(target)], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert f"{target}: cannot be written (No space left on device)" in done.stderr, done.stderr
    assert "free space on that disk" in done.stderr
    assert target.read_text() == "earlier\n"
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler", target.name]
