"""A results file never chooses where the user's key goes (issue 31): `eibench report --with-blind` rebuilds the
runs' judge at the endpoint configured here, and refuses, before any request, a file recording another one. A key
written in the base URL's path is kept out of results, verdicts, the cache and messages."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from judge_server import FakeJudgeConfig, judge_server

from lmms_eval_eibench import cli

USER_KEY = "sk-users-own-key-0042"


@pytest.fixture(scope="module")
def judge():
    """The user's judge: the endpoint they configure, accepting their key."""
    with judge_server(FakeJudgeConfig(api_key=USER_KEY)) as server:
        yield server


@pytest.fixture(scope="module")
def stranger():
    """The server a results file names: it must never be asked anything."""
    with judge_server(FakeJudgeConfig(api_key=USER_KEY)) as server:
        yield server


@pytest.fixture(autouse=True)
def user_env(monkeypatch, tmp_path, judge):
    monkeypatch.setenv("EIBENCH_JUDGE_API_KEY", USER_KEY)
    monkeypatch.setenv("EIBENCH_JUDGE_BASE_URL", judge.base_url)
    monkeypatch.setenv("EIBENCH_CACHE_DIR", str(tmp_path / "cache"))


def score_json(official_records, official_dir: Path, base_url: str, model: str, path: Path, capsys,
               *extra: str) -> tuple[int, dict | None, str]:
    """`eibench score --json` of the complex subset (each answer the first trigger), written to `path`."""
    answers = path.with_suffix(".jsonl")
    answers.write_text("".join(json.dumps({r.image_path: r.triggers[0]}) + "\n" for r in official_records.complex),
                       encoding="utf-8")
    code = cli.main(["score", str(answers), "--subset", "complex", "--annotations", str(official_dir),
                     "--base-url", base_url, "--judge-model", model, "--json", "--no-progress", *extra])
    out, err = capsys.readouterr()
    if code == 0:
        path.write_text(out, encoding="utf-8")
    return code, json.loads(out) if code == 0 else None, err


def theirs(official_records, official_dir, judge, stranger, tmp_path, capsys) -> Path:
    """A results file as someone else shares it: judged like ours, its provenance naming their server."""
    code, data, err = score_json(official_records, official_dir, judge.base_url, judge.model, tmp_path / "run.json",
                                 capsys)
    assert code == 0, err
    data["provenance"]["judge"]["endpoint"] = stranger.base_url
    data["judge"]["base_url"] = stranger.base_url
    path = tmp_path / "THEIRS.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def asked(server) -> int:
    return server.stats.chat_requests + server.stats.models_requests


def test_a_results_file_naming_another_endpoint_gets_no_request_and_no_key(official_records, official_dir, judge,
                                                                           stranger, tmp_path, capsys, monkeypatch):
    path = theirs(official_records, official_dir, judge, stranger, tmp_path, capsys)
    before = asked(judge)
    code = cli.main(["report", str(path), "--with-blind", "--annotations", str(official_dir)])
    _, err = capsys.readouterr()
    assert code == 2 and "Traceback" not in err, err
    assert stranger.base_url in err and judge.base_url in err and "nothing was sent" in err, err
    assert f"EIBENCH_JUDGE_BASE_URL={stranger.base_url}" in err  # how to go on, if they trust it
    assert asked(stranger) == 0 and not stranger.stats.authorization_headers
    assert asked(judge) == before  # refused before any request, the preflight included

    # nothing configured: the provider's default is the configured endpoint, and the file's is still refused
    monkeypatch.delenv("EIBENCH_JUDGE_BASE_URL")
    code = cli.main(["report", str(path), "--with-blind", "--annotations", str(official_dir)])
    _, err = capsys.readouterr()
    assert code == 2 and "https://api.openai.com/v1" in err and "EIBENCH_JUDGE_BASE_URL is unset" in err, err
    assert asked(stranger) == 0


def test_the_configured_endpoint_written_another_way_is_the_same_one(official_records, official_dir, judge,
                                                                     tmp_path, capsys, monkeypatch):
    code, _, err = score_json(official_records, official_dir, judge.base_url, judge.model, tmp_path / "run.json",
                              capsys)
    assert code == 0, err
    monkeypatch.setenv("EIBENCH_JUDGE_BASE_URL", judge.base_url.replace("http://", "HTTP://") + "/")
    before = judge.stats.chat_requests
    code = cli.main(["report", str(tmp_path / "run.json"), "--with-blind", "--annotations", str(official_dir)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "image-blind floor" in out and judge.stats.chat_requests > before


PATH_KEY = "sk-proxy-path-key-7731"
TOKEN = "Qz81Xw7Lm2Np4Rt6Vb9Ck3"  # no key prefix: 22 letters and digits, a random token


def test_a_key_in_the_url_path_never_reaches_results_verdicts_cache_or_messages(official_records, official_dir,
                                                                                tmp_path, capsys, monkeypatch):
    with judge_server(FakeJudgeConfig(api_key=USER_KEY, path_prefix=f"/{TOKEN}/{PATH_KEY}")) as proxy:
        assert PATH_KEY in proxy.base_url and TOKEN in proxy.base_url
        monkeypatch.setenv("EIBENCH_JUDGE_BASE_URL", proxy.base_url)
        verdicts = tmp_path / "verdicts.jsonl"
        code, data, err = score_json(official_records, official_dir, proxy.base_url, proxy.model,
                                     tmp_path / "run.json", capsys, "-o", str(verdicts))
        assert code == 0, err
        host = proxy.base_url.split("/")[2]
        assert data["provenance"]["judge"]["endpoint"] == f"http://{host}/***/***/v1"
        written = [tmp_path / "run.json", verdicts, *sorted((tmp_path / "cache").iterdir())]
        for path in written:
            content = path.read_bytes()
            assert PATH_KEY.encode() not in content and TOKEN.encode() not in content, path
        assert any(p.suffix == ".sqlite3" and p.stat().st_size for p in written)  # the cache was looked at

        # the server echoes the path of a wrong route (404): the message shows neither secret
        code, _, err = score_json(official_records, official_dir, proxy.base_url + "/nowhere", proxy.model,
                                  tmp_path / "bad.json", capsys, "--no-cache")
        assert code == 1 and "404" in err and "***" in err, err
        assert PATH_KEY not in err and TOKEN not in err and USER_KEY not in err, err

        # its own results file rebuilds its judge at the same (configured) endpoint: the same, in public form
        code = cli.main(["report", str(tmp_path / "run.json"), "--with-blind", "--annotations", str(official_dir)])
        out, err = capsys.readouterr()
        assert code == 0 and "image-blind floor" in out, err
        assert PATH_KEY not in out + err and TOKEN not in out + err


def test_one_file_naming_another_endpoint_stops_the_floor_whatever_the_order(official_records, official_dir, judge,
                                                                             stranger, tmp_path, capsys):
    # ours and theirs: the same judge but for the endpoint; a trusted first run must not hide the second's
    code, _, err = score_json(official_records, official_dir, judge.base_url, judge.model, tmp_path / "ours.json",
                              capsys)
    assert code == 0, err
    path = theirs(official_records, official_dir, judge, stranger, tmp_path, capsys)
    for order in ([tmp_path / "ours.json", path], [path, tmp_path / "ours.json"]):
        before = asked(judge)
        code = cli.main(["report", *map(str, order), "--with-blind", "--annotations", str(official_dir)])
        _, err = capsys.readouterr()
        assert code == 2 and stranger.base_url in err and "nothing was sent" in err, (order, err)
        assert asked(judge) == before and asked(stranger) == 0, order  # not even the trusted run's floor


def test_the_refusal_names_both_endpoints_without_their_secrets(official_records, official_dir, judge, stranger,
                                                                 tmp_path, capsys, monkeypatch):
    path = theirs(official_records, official_dir, judge, stranger, tmp_path, capsys)
    host = stranger.base_url.split("/")[2]
    data = json.loads(path.read_text())
    data["provenance"]["judge"]["endpoint"] = f"http://alice:hunter2pass@{host}/sk-theirs-55aa11/v1?key=qq99zz"
    path.write_text(json.dumps(data), encoding="utf-8")
    with judge_server(FakeJudgeConfig(api_key=USER_KEY, path_prefix=f"/{TOKEN}/{PATH_KEY}")) as proxy:
        monkeypatch.setenv("EIBENCH_JUDGE_BASE_URL", proxy.base_url)
        code = cli.main(["report", str(path), "--with-blind", "--annotations", str(official_dir)])
        _, err = capsys.readouterr()
        assert code == 2 and "Traceback" not in err, err
        proxy_host = proxy.base_url.split("/")[2]
        assert f"recorded at http://{host}/***/v1" in err, err  # both named, in public form
        assert f"configured here is http://{proxy_host}/***/***/v1" in err, err
        for secret in ("alice", "hunter2pass", "sk-theirs-55aa11", "qq99zz", PATH_KEY, TOKEN, USER_KEY):
            assert secret not in err, secret
        assert asked(proxy) == 0 and asked(stranger) == 0 and not stranger.stats.authorization_headers


def test_reading_a_file_never_asks_anyone(official_records, official_dir, judge, stranger, tmp_path, capsys):
    """The table, summary and chart of a results file naming another endpoint: nothing is sent anywhere."""
    path = theirs(official_records, official_dir, judge, stranger, tmp_path, capsys)
    before = asked(judge)
    code = cli.main(["report", str(path), "--summary", str(tmp_path / "s.json"), "--chart", str(tmp_path / "c.svg"),
                     "--format", "csv"])
    out, err = capsys.readouterr()
    assert code == 0 and out.startswith("model,"), err
    assert asked(stranger) == 0 and asked(judge) == before


def sqlite_text(folder: Path) -> str:
    """Every value of every table of every SQLite cache file under ``folder``, as SQL text (``iterdump``)."""
    import sqlite3

    dumps = []
    for path in sorted(folder.rglob("*.sqlite3")):
        with sqlite3.connect(path) as connection:
            dumps.append("\n".join(connection.iterdump()))
    assert dumps, f"no cache file under {folder}"
    return "\n".join(dumps)


def test_a_key_in_the_url_path_stays_out_of_the_floor_cache_and_outputs(official_records, official_dir, tmp_path,
                                                                        capsys, monkeypatch):
    with judge_server(FakeJudgeConfig(api_key=USER_KEY, path_prefix=f"/{TOKEN}/{PATH_KEY}")) as proxy:
        monkeypatch.setenv("EIBENCH_JUDGE_BASE_URL", proxy.base_url)
        code, _, err = score_json(official_records, official_dir, proxy.base_url, proxy.model,
                                  tmp_path / "run.json", capsys)
        assert code == 0, err
        summary, table = tmp_path / "s.json", tmp_path / "t.md"
        code = cli.main(["report", str(tmp_path / "run.json"), "--with-blind", "--annotations", str(official_dir),
                         "--summary", str(summary), "-o", str(table)])
        out, err = capsys.readouterr()
        assert code == 0, err
        assert proxy.stats.chat_requests > len(official_records.complex)  # the run, then the floor, were judged
        dump = sqlite_text(tmp_path / "cache")
        assert "INSERT INTO" in dump and len(dump) > 10_000  # the replies are there, read back through SQLite
        host = proxy.base_url.split("/")[2]
        for text, where in ((dump, "cache"), (summary.read_text(), "--summary"), (table.read_text(), "-o"),
                            (out + err, "messages")):
            assert PATH_KEY not in text and TOKEN not in text and USER_KEY not in text, where
        assert f"http://{host}/***/***/v1" in summary.read_text()  # the floor's judge, recorded in public form
