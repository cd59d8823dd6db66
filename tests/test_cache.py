"""The verdict cache: keys, failures, threads, processes, and a run killed with SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from judge_server import judge_server

from lmms_eval_eibench.judges import JudgeItem, JudgeSettings, Verdict, build_engine
from lmms_eval_eibench.judges.cache import (
    CACHE_FILE,
    VerdictCache,
    default_cache_dir,
    verdict_key,
)

IDENTITY = {"judge": "openai", "model": "m", "prompt": "paper", "prompt_version": "1", "decoding": {"temperature": 0}}


def item(i: int, answer: str | None = None) -> JudgeItem:
    return JudgeItem(f"s{i}", answer or f"answer number {i}", "1. One trigger.\n2. Two.", ("One trigger.", "Two."))


def verdict(i: int, recall: float = 0.5) -> Verdict:
    return Verdict(id=f"s{i}", recall=recall, covered=recall * 2, total=2, failed=False, reason="r", raw=f"raw {i}")


def test_key_depends_on_judge_answer_and_ground_truth() -> None:
    base = verdict_key(IDENTITY, item(1))
    assert base == verdict_key(dict(reversed(IDENTITY.items())), item(1))  # order of settings does not matter
    assert base == verdict_key(IDENTITY, JudgeItem("other-id", item(1).answer, item(1).ground_truth, item(1).triggers))
    assert base != verdict_key(IDENTITY, item(1, "another answer"))
    assert base != verdict_key({**IDENTITY, "prompt_version": "2"}, item(1))
    assert base != verdict_key({**IDENTITY, "decoding": {"temperature": 0.1}}, item(1))
    assert base != verdict_key({**IDENTITY, "model": "m2"}, item(1))
    other_gt = JudgeItem("s1", item(1).answer, "1. One trigger.", ("One trigger.",))
    assert base != verdict_key(IDENTITY, other_gt)


def test_round_trip_and_failures_refused(tmp_path) -> None:
    cache = VerdictCache(tmp_path)
    cache.put("k1", verdict(1), IDENTITY)
    got = Verdict.from_cache("new-id", cache.get("k1"))
    assert (got.id, got.recall, got.raw, got.cached) == ("new-id", 0.5, "raw 1", True)
    failure = Verdict.failure(item(2), "judge said nothing")
    with pytest.raises(ValueError, match="not cached"):
        cache.put("k2", failure, IDENTITY)
    cache.put_many([("k2", failure), ("k3", verdict(3))], IDENTITY)
    assert cache.get("k2") is None and cache.get("k3") is not None
    assert len(cache) == 2
    assert (tmp_path / CACHE_FILE).is_file()
    mode = sqlite3.connect(tmp_path / CACHE_FILE).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_default_location_follows_the_environment(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("EIBENCH_CACHE_DIR", str(tmp_path / "mine"))
    assert default_cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("EIBENCH_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir().is_relative_to(tmp_path / "xdg")


def test_unusable_cache_dir_is_a_clear_error(tmp_path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(OSError, match=r"cannot open the judge verdict cache .*--no-cache"):
        VerdictCache(blocker / "sub")


def test_many_threads_share_one_cache(tmp_path) -> None:
    cache = VerdictCache(tmp_path)
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            for i in range(100):
                key = f"t{t}-{i}"
                cache.put(key, verdict(i, recall=(i % 3) / 2), IDENTITY)
                assert cache.get(key)["raw"] == f"raw {i}"
                cache.put("shared", verdict(0), IDENTITY)  # everyone writes one row too
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(cache) == 8 * 100 + 1


_WRITER = """
import sys
from lmms_eval_eibench.judges import Verdict
from lmms_eval_eibench.judges.cache import VerdictCache
cache = VerdictCache(sys.argv[1])
proc = sys.argv[2]
for i in range(150):
    v = Verdict(id=str(i), recall=0.5, covered=1.0, total=2, failed=False, raw=proc)
    cache.put(f"{proc}-{i}", v, {"judge": "x"})
    cache.put(f"common-{i}", v, {"judge": "x"})
    assert cache.get(f"{proc}-{i}") is not None
print("ok")
"""


def test_many_processes_share_one_cache(tmp_path) -> None:
    procs = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path), f"p{p}"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for p in range(4)
    ]
    results = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in results]
    assert len(VerdictCache(tmp_path)) == 4 * 150 + 150


_JUDGE_RUN = """
import json, sys
from lmms_eval_eibench.judges import JudgeItem, JudgeSettings, build_engine
items = [JudgeItem(**row) for row in json.load(open(sys.argv[1]))]
settings = JudgeSettings.from_env(base_url=sys.argv[2], model="fake-judge", cache_dir=sys.argv[3],
                                  concurrency=4, progress=False)
build_engine(settings).judge_many(items)
print("finished")
"""


def test_sigkill_mid_run_then_restart_requests_only_the_unjudged(tmp_path) -> None:
    rows = [
        {"id": f"s{i}", "answer": f"The crowd cheers the winning goal {i}", "ground_truth": "1. A winning goal.\n2. Rain.",
         "triggers": ["A winning goal.", "Rain."]}
        for i in range(200)
    ]
    items_file = tmp_path / "items.json"
    items_file.write_text(json.dumps(rows))
    cache_dir = tmp_path / "cache"
    with judge_server(latency=0.05) as judge:
        env = {**os.environ, "EIBENCH_JUDGE_API_KEY": judge.api_key}
        child = subprocess.Popen([sys.executable, "-c", _JUDGE_RUN, str(items_file), judge.base_url, str(cache_dir)],
                                 env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while len(judge.stats.prompts_answered) < 40 and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.01)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        assert child.returncode == -signal.SIGKILL
        answered_before = len(judge.stats.prompts_answered)
        assert 40 <= answered_before < len(rows)

        cached = len(VerdictCache(cache_dir))
        # Everything answered was committed except what was in flight when the kill came.
        assert answered_before - 4 <= cached <= answered_before
        judge.reset_stats()
        settings = JudgeSettings.from_env(env={}, base_url=judge.base_url, api_key=judge.api_key, model=judge.model,
                                          cache_dir=str(cache_dir), progress=False)
        verdicts = build_engine(settings).judge_many([JudgeItem(**r) for r in rows])
        assert judge.stats.chat_requests == len(rows) - cached
        assert not any(v.failed for v in verdicts)
        assert sum(v.cached for v in verdicts) == cached


def test_disabled_cache_writes_nothing(tmp_path) -> None:
    with judge_server() as judge:
        settings = JudgeSettings.from_env(env={}, base_url=judge.base_url, api_key=judge.api_key, model=judge.model,
                                          cache=False, cache_dir=str(tmp_path / "c"), progress=False)
        engine = build_engine(settings)
        engine.judge_many([item(1)])
        engine.judge_many([item(1)])
        assert judge.stats.chat_requests == 2
    assert engine.cache is None and not (tmp_path / "c").exists()
    assert engine.provenance()["cache"] is False
