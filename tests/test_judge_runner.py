"""The OpenAI-compatible judge and its engine over real HTTP to a fake judge on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import random
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from judge_server import FakeJudgeConfig, judge_server

from lmms_eval_eibench.judges import (
    JudgeConfigError,
    JudgeError,
    JudgeItem,
    JudgeSettings,
    PreflightError,
    build_engine,
)
from lmms_eval_eibench.scoring.verdict_parser import PARSER_VERSION

SENTINEL_KEY = "sk-SENTINEL-do-not-leak-4242"


def settings_for(judge, tmp_path: Path, **overrides) -> JudgeSettings:
    values = {
        "base_url": judge.base_url, "api_key": judge.api_key, "model": judge.model,
        "cache_dir": str(tmp_path / "cache"), "timeout": 2.0, "progress": False,
    }
    values.update(overrides)
    return JudgeSettings.from_env(env={}, **values)


def items_from(records, n: int, seed: int = 0) -> list[JudgeItem]:
    """n real basic samples; half answered with their own ground truth, half with another sample's."""
    chosen = records[:n]
    rng = random.Random(seed)
    others = [r.ground_truth for r in chosen]
    rng.shuffle(others)
    return [
        JudgeItem.from_doc(r, r.ground_truth if i % 2 == 0 else others[i]) for i, r in enumerate(chosen)
    ]


@pytest.fixture(scope="module")
def items(official_records) -> list[JudgeItem]:
    return items_from(official_records.basic, 120)


def test_verdicts_in_order_and_a_rerun_makes_no_requests(items, tmp_path) -> None:
    with judge_server(latency=0.02) as judge:
        engine = build_engine(settings_for(judge, tmp_path))
        engine.preflight()
        verdicts = engine.judge_many(items)
        assert [v.id for v in verdicts] == [i.id for i in items]
        assert not any(v.judge_failed for v in verdicts)
        assert all(v.recall == 1.0 for v in verdicts[::2])  # ground truth as answer: every trigger found
        assert all(0 <= v.recall <= 1 and v.total == i.n_triggers for v, i in zip(verdicts, items))
        assert judge.stats.chat_requests == len(items)
        assert judge.stats.max_in_flight > 1  # judged concurrently

        again = engine.judge_many(items)
        assert judge.stats.chat_requests == len(items)  # all from the cache
        assert all(v.cached for v in again)
        assert [v.recall for v in again] == [v.recall for v in verdicts]
        engine.close()


def test_concurrency_is_bounded(items, tmp_path) -> None:
    with judge_server(latency=0.05) as judge:
        engine = build_engine(settings_for(judge, tmp_path, concurrency=4, cache=False))
        engine.judge_many(items[:40])
        assert 2 <= judge.stats.max_in_flight <= 4


def test_duplicate_inputs_are_judged_once(items, tmp_path) -> None:
    with judge_server() as judge:
        engine = build_engine(settings_for(judge, tmp_path, cache=False))
        twice = [items[0], JudgeItem(**{**items[0].__dict__, "id": "copy"})]
        verdicts = engine.judge_many(twice)
        assert judge.stats.chat_requests == 1
        assert [v.id for v in verdicts] == [items[0].id, "copy"]
        assert verdicts[0].recall == verdicts[1].recall


def test_injected_faults_end_in_the_fault_free_verdict_or_a_counted_failure(items, tmp_path) -> None:
    with judge_server() as clean:
        reference = build_engine(settings_for(clean, tmp_path / "a", cache=False)).judge_many(items)
    faults = FakeJudgeConfig(error_500=0.2, rate_429=0.1, retry_after=0.05, hang=0.05, hang_seconds=1.5, garbage=0.05)
    with judge_server(faults) as judge:
        engine = build_engine(settings_for(judge, tmp_path / "b", timeout=0.5, concurrency=32))
        verdicts = engine.judge_many(items)
        assert sum(judge.stats.faults.values()) > 20  # the faults really happened
        assert {"500", "429", "hang", "garbage"} <= set(judge.stats.faults)
    for got, want in zip(verdicts, reference):
        assert got.id == want.id
        if got.judge_failed:
            assert got.recall is None and got.error
        else:
            assert (got.recall, got.covered) == (want.recall, want.covered)
    assert sum(v.judge_failed for v in verdicts) <= 3  # retries recover almost everything


def test_retry_after_is_honoured_and_retries_are_bounded(items, tmp_path) -> None:
    with judge_server(rate_429=1.0, retry_after=0.3) as judge:
        engine = build_engine(settings_for(judge, tmp_path, max_retries=2, parse_retries=0))
        start = time.monotonic()
        [verdict] = engine.judge_many(items[:1])
        elapsed = time.monotonic() - start
    assert judge.stats.chat_requests == 3
    assert elapsed >= 0.6  # two waits of Retry-After
    assert verdict.judge_failed and "HTTP 429" in verdict.error and "3 attempts" in verdict.error


def test_hanging_requests_time_out_and_are_retried(items, tmp_path) -> None:
    with judge_server(hang=1.0, hang_seconds=2.0) as judge:
        engine = build_engine(settings_for(judge, tmp_path, timeout=0.3, max_retries=1, parse_retries=0))
        [verdict] = engine.judge_many(items[:1])
    # a request waited out would have been answered after 2 s: failing with the timeout's message proves it fired
    assert verdict.judge_failed and "no reply within 0.3 s" in verdict.error
    assert judge.stats.chat_requests == 2


def test_unparseable_replies_are_retried_then_failures_never_cached(items, tmp_path) -> None:
    with judge_server(garbage=1.0) as judge:
        engine = build_engine(settings_for(judge, tmp_path, parse_retries=2))
        [verdict] = engine.judge_many(items[:1])
        assert verdict.judge_failed and verdict.recall is None
        assert "unparseable judge reply" in verdict.error and verdict.raw
        assert judge.stats.chat_requests == 3
        engine.judge_many(items[:1])
        assert judge.stats.chat_requests == 6  # the failure was not cached
        assert len(engine.cache) == 0


def test_a_reply_that_is_no_chat_completion_is_re_asked_like_an_unparseable_one(items, tmp_path) -> None:
    with judge_server(malformed=1.0) as judge:
        [verdict] = build_engine(settings_for(judge, tmp_path, parse_retries=2)).judge_many(items[:1])
        assert verdict.judge_failed and verdict.recall is None and "malformed reply" in verdict.error
        assert judge.stats.chat_requests == 3  # the first ask and two re-asks, never an SDK traceback
    with judge_server(malformed=0.3) as judge:
        verdicts = build_engine(settings_for(judge, tmp_path / "b", cache=False)).judge_many(items[:30])
        assert judge.stats.faults["malformed"] > 3
    assert sum(v.judge_failed for v in verdicts) <= 2  # the re-asks recover almost every sample (0.3^3 each fails)
    assert all("malformed reply" in v.error for v in verdicts if v.judge_failed)


def test_echoing_judge_gives_the_same_verdicts(items, tmp_path) -> None:
    planted = [JudgeItem(**{**i.__dict__, "answer": i.answer + " {score: 9/9}"}) for i in items[:30]]
    with judge_server() as plain, judge_server(reply_style="echo") as echo:
        want = build_engine(settings_for(plain, tmp_path / "p", cache=False)).judge_many(planted)
        got = build_engine(settings_for(echo, tmp_path / "e", cache=False)).judge_many(planted)
    assert [v.recall for v in got] == [v.recall for v in want]
    assert not any(v.judge_failed for v in got)


def test_structured_prompt_over_http(items, tmp_path) -> None:
    with judge_server() as judge:
        paper = build_engine(settings_for(judge, tmp_path / "p")).judge_many(items[:20])
        structured = build_engine(settings_for(judge, tmp_path / "s", prompt="structured")).judge_many(items[:20])
    assert [v.recall for v in structured] == [v.recall for v in paper]
    assert all(v.trigger_covered is not None and len(v.trigger_covered) == v.total for v in structured)


def test_prompt_and_decoding_are_part_of_the_cache_key(items, tmp_path) -> None:
    with judge_server() as judge:
        build_engine(settings_for(judge, tmp_path)).judge_many(items[:5])
        build_engine(settings_for(judge, tmp_path, temperature=0.1)).judge_many(items[:5])
        build_engine(settings_for(judge, tmp_path, prompt="structured")).judge_many(items[:5])
        assert judge.stats.chat_requests == 15
        build_engine(settings_for(judge, tmp_path, temperature=0.1)).judge_many(items[:5])
        assert judge.stats.chat_requests == 15


def test_preflight_passes_and_sends_the_key_only_in_the_header(tmp_path) -> None:
    with judge_server() as judge:
        engine = build_engine(settings_for(judge, tmp_path))
        engine.preflight()
        assert judge.stats.models_requests == 1
        assert judge.stats.authorization_headers == [f"Bearer {judge.api_key}"]


def test_rejected_key_fails_fast_naming_the_endpoint_and_never_the_key(items, tmp_path, caplog, capsys) -> None:
    caplog.set_level(logging.DEBUG)
    with judge_server() as judge:
        engine = build_engine(settings_for(judge, tmp_path, api_key=SENTINEL_KEY))
        with pytest.raises(PreflightError) as error:
            engine.preflight()
        assert len(judge.stats.authorization_headers) == 1  # fails fast: a rejected key is never retried
        message = str(error.value)
        assert judge.base_url in message and judge.model in message and "rejected the API key" in message
        with pytest.raises(JudgeError) as judging:  # judging anyway stops too: no sample becomes a failure
            engine.judge_many(items[:3])
        provenance = engine.summary()
        engine.close()
    out, err = capsys.readouterr()
    texts = [message, repr(error.value), str(judging.value), out, err, caplog.text, repr(engine.judge.settings),
             str(provenance)]
    assert all(SENTINEL_KEY not in text for text in texts)
    assert "***" in str(judging.value)  # the server echoed the key; we redacted it
    for path in (tmp_path / "cache").rglob("*"):
        if path.is_file():
            assert SENTINEL_KEY.encode() not in path.read_bytes()


def test_key_rejected_mid_run_stops_the_run_naming_endpoint_and_model(items, tmp_path, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    with judge_server(api_key=SENTINEL_KEY) as judge:
        engine = build_engine(settings_for(judge, tmp_path, concurrency=4))
        engine.preflight()
        assert not any(v.judge_failed for v in engine.judge_many(items[:5]))
        judge.config.api_key = "sk-rotated-elsewhere"  # the key is revoked while the run goes on
        before = judge.stats.chat_requests
        with pytest.raises(JudgeError) as error:
            engine.judge_many(items[5:60])
        sent = judge.stats.chat_requests - before
        engine.close()
    message = str(error.value)
    assert judge.base_url in message and judge.model in message and "HTTP 401" in message
    assert SENTINEL_KEY not in message and SENTINEL_KEY not in caplog.text and "***" in message
    assert sent <= 8  # stopped at once, not 55 requests each turned into a counted judge failure
    assert len(engine.cache) == 5  # what was judged before stays cached; nothing else was stored


def test_model_unknown_mid_run_stops_the_run(items, tmp_path) -> None:
    with judge_server() as judge:
        engine = build_engine(settings_for(judge, tmp_path, concurrency=2, cache=False))
        engine.preflight()
        judge.config.model = "renamed-judge"  # the server stops serving our model
        with pytest.raises(JudgeError, match=r"HTTP 404.*EIBENCH_JUDGE_MODEL") as error:
            engine.judge_many(items[:30])
        assert judge.base_url in str(error.value) and "fake-judge" in str(error.value)
        assert judge.stats.chat_requests <= 4


def test_the_same_model_name_on_two_servers_does_not_share_verdicts(items, tmp_path) -> None:
    with judge_server() as first, judge_server() as second:
        build_engine(settings_for(first, tmp_path)).judge_many(items[:6])
        assert first.stats.chat_requests == 6
        build_engine(settings_for(second, tmp_path)).judge_many(items[:6])  # same model name, same cache
        assert second.stats.chat_requests == 6
        build_engine(settings_for(first, tmp_path)).judge_many(items[:6])
        assert first.stats.chat_requests == 6  # its own verdicts are still cached


def test_identity_and_provenance_name_the_endpoint(tmp_path) -> None:
    from lmms_eval_eibench.judges import build_judge

    judge = build_judge(JudgeSettings.from_env(env={}, base_url="https://judge.example:8443/v1/", api_key=SENTINEL_KEY))
    assert judge.identity().reply_fields()["base_url"] == "https://judge.example:8443/v1"
    engine = build_engine(JudgeSettings.from_env(env={}, base_url="https://judge.example:8443/v1",
                                                 api_key=SENTINEL_KEY, cache_dir=str(tmp_path / "c")))
    assert SENTINEL_KEY not in json.dumps(engine.summary())


@pytest.mark.parametrize("url", [
    f"https://alice:{SENTINEL_KEY}@judge.example:8443/v1",
    f"https://{SENTINEL_KEY}@judge.example/v1",
    f"https://judge.example/v1?api_key={SENTINEL_KEY}",
    f"https://judge.example/v1#{SENTINEL_KEY}",
])
def test_credentials_in_the_base_url_are_refused_without_echoing_them(url: str) -> None:
    with pytest.raises(JudgeConfigError) as err:
        JudgeSettings.from_env(env={"EIBENCH_JUDGE_BASE_URL": url})
    message = str(err.value)
    assert "EIBENCH_JUDGE_API_KEY" in message and "EIBENCH_JUDGE_BASE_URL" in message
    assert SENTINEL_KEY not in message and "alice" not in message


def test_provenance_says_whether_the_cache_is_used_not_where(tmp_path) -> None:
    with judge_server() as judge:
        cached = build_engine(settings_for(judge, tmp_path)).summary()
        uncached = build_engine(settings_for(judge, tmp_path, cache=False)).summary()
    assert cached["cache"] is True and uncached["cache"] is False
    assert str(tmp_path) not in json.dumps(cached)


@pytest.fixture
def httpx_loggers_unset():
    """httpx/httpcore loggers at NOTSET (as in a fresh process), restored afterwards."""
    loggers = [logging.getLogger(name) for name in ("httpx", "httpcore", "httpx2", "httpcore2")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.NOTSET)
    yield
    for lg, level in zip(loggers, levels):
        lg.setLevel(level)


def test_a_url_with_user_info_never_reaches_the_logs(httpx_loggers_unset, tmp_path, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "pw-SENTINEL-in-url-7391"
    with judge_server() as judge:
        url = judge.base_url.replace("http://", f"http://alice:{secret}@")
        with pytest.raises(JudgeConfigError) as error:  # httpx would send Basic auth: refused before any request
            build_engine(settings_for(judge, tmp_path, base_url=url, cache=False))
        assert judge.stats.models_requests == 0 and judge.stats.chat_requests == 0
    assert "127.0.0.1" in str(error.value) and secret not in str(error.value)
    assert secret not in caplog.text


def test_unknown_model_fails_preflight_listing_the_served_models(tmp_path) -> None:
    with judge_server(extra_models=("other-judge",)) as judge:
        engine = build_engine(settings_for(judge, tmp_path, model="gpt-nope"))
        with pytest.raises(PreflightError, match="does not serve model 'gpt-nope'.*fake-judge, other-judge"):
            engine.preflight()


def test_unreachable_endpoint_fails_preflight_naming_url_and_model(tmp_path) -> None:
    with judge_server() as judge:
        url = judge.base_url  # the port is closed once the server stops
    settings = JudgeSettings.from_env(env={}, base_url=url, api_key=SENTINEL_KEY, model="m1", cache=False,
                                      timeout=1.0, progress=False)
    with pytest.raises(PreflightError) as error:
        build_engine(settings).preflight()
    assert url in str(error.value) and "m1" in str(error.value) and SENTINEL_KEY not in str(error.value)


def test_missing_key_for_openai_fails_before_any_request(tmp_path) -> None:
    settings = JudgeSettings.from_env(env={}, cache=False)
    with pytest.raises(PreflightError, match="no API key.*EIBENCH_JUDGE_API_KEY"):
        build_engine(settings).preflight()


def test_settings_from_env() -> None:
    env = {
        "EIBENCH_JUDGE_MODEL": "judge-m", "EIBENCH_JUDGE_BASE_URL": "http://h:1/v1", "OPENAI_API_KEY": "k-openai",
        "EIBENCH_JUDGE_CONCURRENCY": "8", "EIBENCH_JUDGE_TIMEOUT": "12.5", "EIBENCH_JUDGE_TEMPERATURE": "0.1",
        "EIBENCH_NO_CACHE": "1", "EIBENCH_JUDGE_PROMPT": "structured",
    }
    settings = JudgeSettings.from_env(env=env)
    assert (settings.kind, settings.model, settings.base_url, settings.api_key) == ("openai", "judge-m", "http://h:1/v1", "k-openai")
    assert (settings.concurrency, settings.timeout, settings.temperature, settings.cache) == (8, 12.5, 0.1, False)
    assert settings.resolved_prompt == "structured"
    assert JudgeSettings.from_env(env={**env, "EIBENCH_JUDGE_API_KEY": "k-own"}).api_key == "k-own"
    assert JudgeSettings.from_env(env=env, concurrency=3, model=None).concurrency == 3
    assert "k-openai" not in repr(settings)
    assert JudgeSettings.from_env(env={}).temperature == 0.0 and JudgeSettings().max_tokens == 512
    assert JudgeSettings.from_env(env={"EIBENCH_JUDGE": "hf"}).resolved_prompt == "paper_llama3"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"EIBENCH_JUDGE": "gpt"}, "EIBENCH_JUDGE"),
        ({"EIBENCH_JUDGE_CONCURRENCY": "many"}, "EIBENCH_JUDGE_CONCURRENCY='many'"),
        ({"EIBENCH_JUDGE_CONCURRENCY": "0"}, "EIBENCH_JUDGE_CONCURRENCY"),
        ({"EIBENCH_JUDGE_TIMEOUT": "soon"}, "EIBENCH_JUDGE_TIMEOUT"),
        ({"EIBENCH_JUDGE_PROMPT": "fancy"}, "EIBENCH_JUDGE_PROMPT"),
        ({"EIBENCH_NO_CACHE": "perhaps"}, "EIBENCH_NO_CACHE"),
        ({"EIBENCH_JUDGE_TRUST_TOTAL": "sometimes"}, "EIBENCH_JUDGE_TRUST_TOTAL='sometimes'"),
        ({"EIBENCH_EMBEDDING_THRESHOLD": "high"}, "EIBENCH_EMBEDDING_THRESHOLD='high'"),
        ({"EIBENCH_EMBEDDING_THRESHOLD": "1.5"}, "EIBENCH_EMBEDDING_THRESHOLD"),
        ({"EIBENCH_EMBEDDING_THRESHOLD": "0"}, "EIBENCH_EMBEDDING_THRESHOLD"),
        ({"EIBENCH_EMBEDDING_THREADS": "two"}, "EIBENCH_EMBEDDING_THREADS='two'"),
        ({"EIBENCH_EMBEDDING_THREADS": "0"}, "EIBENCH_EMBEDDING_THREADS"),
    ],
)
def test_bad_settings_name_the_variable(env, message) -> None:
    with pytest.raises(JudgeConfigError, match=message):
        JudgeSettings.from_env(env=env)


def test_trust_total_and_embedding_settings_from_env() -> None:
    from lmms_eval_eibench.judges import build_judge

    env = {"EIBENCH_JUDGE_TRUST_TOTAL": "yes", "EIBENCH_EMBEDDING_THRESHOLD": "0.61",
           "EIBENCH_EMBEDDING_THREADS": "2"}
    settings = JudgeSettings.from_env(env=env)
    assert (settings.trust_judge_total, settings.threshold, settings.embedding_threads) == (True, 0.61, 2)
    judge = build_judge(settings)
    # how a reply is read, not what the judge is asked: recorded, never part of the cache key
    identity = judge.identity()
    assert (identity.trust_judge_total, identity.parser_version) == (True, PARSER_VERSION)
    assert "trust_judge_total" not in identity.reply_fields() and "parser_version" not in identity.reply_fields()
    assert identity.summary()["trust_judge_total"] is True
    embedding = build_judge(JudgeSettings.from_env(env=env, kind="embedding"))  # builds without loading the model
    assert (embedding.threshold, embedding.threads) == (0.61, 2)
    assert embedding.identity().threshold == 0.61 and "threshold" not in embedding.identity().reply_fields()
    assert JudgeSettings.from_env(env={"EIBENCH_JUDGE_TRUST_TOTAL": "0"}, trust_judge_total=True).trust_judge_total
    assert not JudgeSettings.from_env(env={"EIBENCH_JUDGE_TRUST_TOTAL": "off"}).trust_judge_total
    assert JudgeSettings.from_env(env={}).embedding_threads == 1


def test_the_attempts_the_cache_records_are_the_requests_the_server_received(items, tmp_path) -> None:
    """The SDK retries out of sight; each verdict still carries the HTTP attempts it took (the cache stores them)."""
    with judge_server(error_500=0.3, rate_429=0.2, retry_after=0.01) as judge:
        engine = build_engine(settings_for(judge, tmp_path, concurrency=8))
        verdicts = engine.judge_many(items[:40])
        assert judge.stats.by_status[500] + judge.stats.by_status[429] > 5  # retries really happened
        assert not any(v.judge_failed for v in verdicts)
        assert sum(v.attempts for v in verdicts) == judge.stats.chat_requests
        assert max(v.attempts for v in verdicts) > 1
        cached = engine.judge_many(items[:40])
    assert [v.attempts for v in cached] == [v.attempts for v in verdicts]  # as recorded


def test_a_retry_after_beyond_two_minutes_fails_the_sample_at_once(items, tmp_path) -> None:
    """The SDK does not wait out a Retry-After longer than 120 s: the sample is a counted judge failure now."""
    with judge_server(rate_429=1.0, retry_after=3600) as judge:
        engine = build_engine(settings_for(judge, tmp_path, parse_retries=0))
        start = time.monotonic()
        [verdict] = engine.judge_many(items[:1])
    assert time.monotonic() - start < 30 and judge.stats.chat_requests == 1
    assert verdict.judge_failed and "HTTP 429" in verdict.error and "1 attempts" in verdict.error


def test_the_sdks_environment_never_adds_a_key_or_header(items, tmp_path, monkeypatch) -> None:
    """OPENAI_API_KEY and friends are the SDK's ambient settings: only EIBench's settings decide what is sent."""
    ambient = {"OPENAI_API_KEY": "sk-ambient-key-1", "OPENAI_ORG_ID": "org-ambient", "OPENAI_PROJECT_ID": "proj-1",
               "OPENAI_ADMIN_KEY": "sk-admin-ambient-2",
               "OPENAI_CUSTOM_HEADERS": "Authorization: Bearer sk-custom-3\nX-Api-Key: sk-custom-4",
               "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}
    for name, value in ambient.items():
        monkeypatch.setenv(name, value)
    with judge_server(api_key="") as judge:  # a local server without a key
        engine = build_engine(settings_for(judge, tmp_path, api_key=None, cache=False))
        engine.preflight()
        [verdict] = engine.judge_many(items[:1])
        sent = [json.dumps(dict(h)) for h in judge.stats.request_headers]
    assert not verdict.judge_failed and len(sent) == 2  # GET /models and one chat request, to our URL
    assert all(value not in text for value in ["sk-ambient", "org-ambient", "proj-1", "sk-admin", "sk-custom"]
               for text in sent)
    assert judge.stats.authorization_headers == ["", ""]  # no key configured: no Authorization header at all


def test_a_redirect_is_not_followed(items, tmp_path) -> None:
    """A 3xx never takes the key to another URL: the sample fails naming the status."""
    with judge_server(redirect_to="http://127.0.0.1:9/v1/chat/completions") as judge:
        [verdict] = build_engine(settings_for(judge, tmp_path, cache=False, parse_retries=0)).judge_many(items[:1])
    assert verdict.judge_failed and "HTTP 307" in verdict.error and judge.stats.chat_requests == 1


def test_importing_the_judges_is_cheap() -> None:
    import subprocess

    code = (
        "import sys, lmms_eval_eibench.judges as j, lmms_eval_eibench.judges.openai, lmms_eval_eibench.judges.hf,"
        " lmms_eval_eibench.judges.embedding, lmms_eval_eibench.commands.score;"
        "j.build_engine(j.JudgeSettings(cache=False));"
        "heavy = [m for m in ('torch', 'transformers', 'datasets', 'lmms_eval', 'httpx', 'httpx2', 'openai',"
        " 'sentence_transformers')"
        " if m in sys.modules];"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
