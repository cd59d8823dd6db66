"""The verdict cache (the judges' raw replies): keys, rescoring without requests, damaged files, threads,
processes, and a run killed with SIGKILL."""

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

from lmms_eval_eibench.judges import JudgeItem, JudgeSettings, build_engine
from lmms_eval_eibench.judges.cache import (
    CACHE_FILE,
    ReplyCache,
    ReplyCacheError,
    default_cache_dir,
    reply_key,
)

IDENTITY = {"judge": "openai", "model": "m", "prompt": "paper", "prompt_version": "1", "decoding": {"temperature": 0}}


def item(i: int, answer: str | None = None) -> JudgeItem:
    return JudgeItem(f"s{i}", answer or f"answer number {i}", "1. One trigger.\n2. Two.", ("One trigger.", "Two."))


def put(cache: ReplyCache, key: str, raw: str, i: int = 1) -> None:
    cache.put_many([(key, item(i), raw, 1)], IDENTITY)


def test_key_depends_on_judge_answer_and_ground_truth() -> None:
    base = reply_key(IDENTITY, item(1))
    assert base == reply_key(dict(reversed(IDENTITY.items())), item(1))  # order of settings does not matter
    assert base == reply_key(IDENTITY, JudgeItem("other-id", item(1).answer, item(1).ground_truth, item(1).triggers))
    assert base != reply_key(IDENTITY, item(1, "another answer"))
    assert base != reply_key({**IDENTITY, "prompt_version": "2"}, item(1))
    assert base != reply_key({**IDENTITY, "decoding": {"temperature": 0.1}}, item(1))
    assert base != reply_key({**IDENTITY, "model": "m2"}, item(1))
    other_gt = JudgeItem("s1", item(1).answer, "1. One trigger.", ("One trigger.",))
    assert base != reply_key(IDENTITY, other_gt)


def test_round_trip_keeps_the_raw_reply_and_its_request(tmp_path) -> None:
    cache = ReplyCache(tmp_path)
    cache.put_many([("k1", item(1), "{score: 1/2} raw", 2), ("k3", item(3), "raw 3", 1)], IDENTITY)
    got = cache.get_many(["k1", "k2", "k3"])
    assert set(got) == {"k1", "k3"}
    assert (got["k1"].raw, got["k1"].attempts) == ("{score: 1/2} raw", 2)
    assert len(cache) == 2
    assert (tmp_path / CACHE_FILE).is_file()
    conn = sqlite3.connect(tmp_path / CACHE_FILE)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    request = json.loads(conn.execute("SELECT request FROM replies WHERE key = 'k1'").fetchone()[0])
    assert request == {"judge": IDENTITY, "answer": item(1).answer, "ground_truth": item(1).ground_truth,
                       "triggers": list(item(1).triggers)}


def test_damaged_cache_file_is_named_with_the_fix(tmp_path) -> None:
    cache = ReplyCache(tmp_path)
    put(cache, "k1", "{score: 1/2}")
    cache.close()
    path = tmp_path / CACHE_FILE
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    data = bytearray(path.read_bytes())
    data[100:] = os.urandom(len(data) - 100)  # random bytes in every page after the header
    path.write_bytes(bytes(data))
    with pytest.raises(ReplyCacheError) as err:
        ReplyCache(tmp_path).get_many(["k1"])
    message = str(err.value)
    assert str(path) in message and "Delete it" in message and "--no-cache" in message
    path.write_bytes(os.urandom(4096))  # not a database at all
    with pytest.raises(ReplyCacheError, match="damaged"):
        ReplyCache(tmp_path)


def test_a_row_changed_by_hand_is_refused(tmp_path) -> None:
    cache = ReplyCache(tmp_path)
    put(cache, "k1", "{score: 0/2}")
    sqlite3.connect(tmp_path / CACHE_FILE, isolation_level=None).execute(
        "UPDATE replies SET raw = '{score: 2/2}' WHERE key = 'k1'")
    with pytest.raises(ReplyCacheError, match="checksum does not match .key k1.: damaged, or changed outside eibench"):
        cache.get_many(["k1"])


def test_a_reply_rewritten_without_its_checksum_stops_the_score(official_records, official_dir, tmp_path,
                                                                 monkeypatch, capsys) -> None:
    """Through `eibench score`: a cached reply edited in the file (its checksum left as it was) stops the rerun
    with the cache file named and the way on; nothing is served from it and nothing is asked."""
    from lmms_eval_eibench import cli

    answers = tmp_path / "answers.jsonl"
    answers.write_text("".join(json.dumps({r.image_path: r.triggers[0]}) + "\n" for r in official_records.complex),
                       encoding="utf-8")
    monkeypatch.setenv("EIBENCH_CACHE_DIR", str(tmp_path / "cache"))
    with judge_server() as judge:
        monkeypatch.setenv("EIBENCH_JUDGE_API_KEY", judge.config.api_key)
        argv = ["score", str(answers), "--subset", "complex", "--annotations", str(official_dir), "--base-url",
                judge.base_url, "--judge-model", judge.model, "--json", "--no-progress"]
        assert cli.main(argv) == 0, capsys.readouterr().err
        first = json.loads(capsys.readouterr().out)["overall"]
        path = tmp_path / "cache" / CACHE_FILE
        with sqlite3.connect(path) as db:  # full credit in one reply, the checksum untouched
            db.execute("UPDATE replies SET raw = '{score: 9/9}' WHERE key = (SELECT min(key) FROM replies)")
        asked = judge.stats.chat_requests
        code = cli.main(argv)
        out, err = capsys.readouterr()
        assert code == 2 and out == "" and "Traceback" not in err, err
        assert str(path) in err and "checksum does not match" in err and "--no-cache" in err, err
        assert judge.stats.chat_requests == asked  # refused, not re-asked nor served
        argv.append("--no-cache")  # the way on that keeps the file: the judge asked again, the same number
        assert cli.main(argv) == 0 and json.loads(capsys.readouterr().out)["overall"] == first


def test_old_parsed_verdict_cache_is_never_read(tmp_path) -> None:
    old = sqlite3.connect(tmp_path / "verdicts.sqlite3")
    old.execute("CREATE TABLE verdicts (key TEXT PRIMARY KEY, schema INTEGER, verdict TEXT, judge TEXT, created REAL)")
    old.execute("INSERT INTO verdicts VALUES ('k', 1, '{\"recall\": 1.0}', '{}', 0)")
    old.commit()
    with pytest.warns(UserWarning, match="parser 1.*never used"):
        cache = ReplyCache(tmp_path)
    assert len(cache) == 0


def test_default_location_follows_the_environment(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("EIBENCH_CACHE_DIR", str(tmp_path / "mine"))
    assert default_cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("EIBENCH_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir().is_relative_to(tmp_path / "xdg")


def test_unusable_cache_dir_is_a_clear_error(tmp_path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(ReplyCacheError, match=r"cannot create the judge cache folder .*--no-cache"):
        ReplyCache(blocker / "sub")
    with pytest.raises(ReplyCacheError, match="is a file"):
        ReplyCache(blocker)


def test_many_threads_share_one_cache(tmp_path) -> None:
    cache = ReplyCache(tmp_path)
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            for i in range(100):
                key = f"t{t}-{i}"
                put(cache, key, f"raw {i}", i)
                assert cache.get_many([key])[key].raw == f"raw {i}"
                put(cache, "shared", "raw 0", 0)  # everyone writes one row too
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
from lmms_eval_eibench.judges import JudgeItem
from lmms_eval_eibench.judges.cache import ReplyCache
cache = ReplyCache(sys.argv[1])
proc = sys.argv[2]
for i in range(150):
    item = JudgeItem(str(i), "answer", "1. T.", ("T.",))
    cache.put_many([(f"{proc}-{i}", item, proc, 1), (f"common-{i}", item, proc, 1)], {"judge": "x"})
    assert cache.get_many([f"{proc}-{i}"])
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
    assert len(ReplyCache(tmp_path)) == 4 * 150 + 150


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

        cached = len(ReplyCache(cache_dir))
        # Everything answered was committed except what was in flight when the kill came.
        assert answered_before - 4 <= cached <= answered_before
        judge.reset_stats()
        settings = JudgeSettings.from_env(env={}, base_url=judge.base_url, api_key=judge.api_key, model=judge.model,
                                          cache_dir=str(cache_dir), progress=False)
        verdicts = build_engine(settings).judge_many([JudgeItem(**r) for r in rows])
        assert judge.stats.chat_requests == len(rows) - cached
        assert not any(v.judge_failed for v in verdicts)
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
    assert engine.summary()["cache"] is False


def _engine(judge, cache_dir, **overrides):
    settings = JudgeSettings.from_env(env={}, base_url=judge.base_url, api_key=judge.api_key, model=judge.model,
                                      cache_dir=str(cache_dir), progress=False, **overrides)
    return build_engine(settings)


def _items(n: int) -> list[JudgeItem]:
    return [JudgeItem(f"s{i}", f"The crowd cheers the winning goal {i}" if i % 2 else f"Nothing here {i}.",
                      "1. A winning goal.\n2. Rain.\n3. Cheering crowd.", ("A winning goal.", "Rain.", "Cheering crowd."))
            for i in range(n)]


def test_scoring_options_and_parser_changes_cost_no_request(tmp_path, monkeypatch) -> None:
    import lmms_eval_eibench.judges.base as base
    from lmms_eval_eibench.scoring import verdict_parser

    items = _items(30)
    with judge_server() as judge:
        first = _engine(judge, tmp_path).judge_many(items)
        assert judge.stats.chat_requests == 30
        trusted = _engine(judge, tmp_path, trust_judge_total=True).judge_many(items)
        monkeypatch.setattr(verdict_parser, "PARSER_VERSION", "99")
        monkeypatch.setattr(base, "PARSER_VERSION", "99")
        reparsed = _engine(judge, tmp_path).judge_many(items)
        assert judge.stats.chat_requests == 30  # no request for either
    assert all(v.cached for v in trusted + reparsed)
    assert [v.recall for v in reparsed] == [v.recall for v in first]
    assert [v.raw for v in trusted] == [v.raw for v in first]


def test_a_cached_reply_the_current_parser_cannot_read_is_asked_again(tmp_path) -> None:
    items = _items(4)
    with judge_server() as judge:
        engine = _engine(judge, tmp_path)
        keys = [reply_key(engine.identity.reply_fields(), it) for it in items]
        engine.cache.put_many([(keys[0], items[0], "no verdict in this old reply", 1)], engine.identity.reply_fields())
        verdicts = engine.judge_many(items)
        assert judge.stats.chat_requests == 4
    assert not verdicts[0].cached and not verdicts[0].judge_failed


def test_offline_engine_sends_nothing_and_fails_what_is_not_cached(tmp_path) -> None:
    items = _items(6)
    with judge_server() as judge:
        _engine(judge, tmp_path).judge_many(items[:4])
        judge.reset_stats()
        settings = JudgeSettings.from_env(env={}, base_url=judge.base_url, model=judge.model,  # no key needed
                                          cache_dir=str(tmp_path), progress=False, trust_judge_total=True)
        offline = build_engine(settings, offline=True)
        offline.preflight()  # nothing to check: no endpoint is contacted
        verdicts = offline.judge_many(items)
        assert judge.stats.chat_requests == 0 and judge.stats.models_requests == 0
    assert [v.cached for v in verdicts] == [True] * 4 + [False] * 2
    assert [v.judge_failed for v in verdicts] == [False] * 4 + [True] * 2
    assert "no cached judge reply" in verdicts[5].error


def test_the_cache_file_keeps_its_schema(tmp_path) -> None:
    """Files written before and after a refactor must be the same database: the tables' SQL as SQLite stores it."""
    import sqlite3

    cache = ReplyCache(tmp_path)
    put(cache, "k1", "raw")
    cache.close()
    with sqlite3.connect(tmp_path / "judge_replies.sqlite3") as conn:
        tables = dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'").fetchall())
        meta = dict(conn.execute("SELECT name, value FROM meta").fetchall())
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    assert tables == {
        "meta": "CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
        "replies": "CREATE TABLE replies ( key TEXT PRIMARY KEY, raw TEXT NOT NULL, attempts INTEGER NOT NULL, request "
                   "TEXT NOT NULL, checksum TEXT NOT NULL, created REAL NOT NULL)",
    }
    assert (meta, mode) == ({"schema": "2"}, "wal")
