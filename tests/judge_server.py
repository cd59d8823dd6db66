"""A fake OpenAI-compatible judge on 127.0.0.1, for tests and benches (stdlib only).

    from judge_server import FakeJudgeConfig, judge_server

    with judge_server(FakeJudgeConfig(latency=0.1)) as judge:
        # judge.base_url == "http://127.0.0.1:<port>/v1", judge.api_key, judge.model
        ...
        judge.stats.chat_requests        # POST /v1/chat/completions received (any outcome)
        judge.stats.max_in_flight        # most chat requests handled at the same time
        judge.stats.by_status            # {200: n, 500: n, 429: n, ...}
        judge.stats.prompts_answered     # user messages that got a 200 verdict, in order

Run it in another process with `python tests/judge_server.py --latency 0.1 ...` (prints the base URL;
`GET /_stats` returns the counters as JSON).

Endpoints: `GET /v1/models` and `POST /v1/chat/completions`, both requiring
`Authorization: Bearer <api_key>` (401 otherwise, with the offending key echoed in the body as some
real servers do, so tests can check that clients redact it); `api_key=""` is a server that takes any request.

Verdicts are a deterministic function of the request, so two runs can be compared:
a ground-truth trigger counts as covered when the answer contains it verbatim or one of its words
of 5+ letters.
The server reads the answer and triggers back out of the EIBench judge prompts (paper wording and
the structured JSON prompt) and replies in kind: `{score: c/t}` plus an explanation, or a JSON
verdict per trigger. The quoting styles (`first`, `echo`, `last`, `mix`; `paper_reply`) copy the answer, with
any score planted in it, into the reply beside the judge's own verdict; `fold_quote=True` (and the style
`folded`: `first` with it) quotes the answer as many LLMs do, NFKC-folded with invisible (format) characters
dropped, and reads it so too; `reply_style="full_credit"` is a broken judge that gives every answer full marks (what `eibench judge-check` must catch).

Faults are injected per request with the given probabilities, decided by a hash of
(seed, prompt, how many times this prompt was already requested), so a retry of the same
prompt can succeed and two runs see the same fault sequence:
HTTP 500, HTTP 429 with `Retry-After`, hanging for `hang_seconds` (past a client's timeout),
unparseable 200 replies and 200 replies that are no chat completion (`malformed`).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
import unicodedata
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["PAPER_STYLES", "FakeJudge", "FakeJudgeConfig", "FakeJudgeStats", "fake_verdict", "folded",
           "judge_server", "paper_reply"]


@dataclass
class FakeJudgeConfig:
    """Behaviour of the fake judge. Probabilities are per request, in [0, 1]."""

    model: str = "fake-judge"
    api_key: str = "test-judge-key"
    latency: float = 0.0  # seconds slept before every chat reply
    error_500: float = 0.0
    rate_429: float = 0.0
    retry_after: float = 0.2  # seconds, sent as Retry-After with 429s
    hang: float = 0.0
    hang_seconds: float = 3.0
    garbage: float = 0.0  # 200 replies without any verdict
    malformed: float = 0.0  # 200 replies whose body is not a chat completion (not even JSON)
    reply_style: str = "plain"  # "first", "echo", "last", "mix" (see paper_reply), "folded" ("first" quoting the
    # folded answer), or "full_credit" (a broken judge: every trigger covered, always)
    fold_quote: bool = False  # quote (and read) the answer NFKC-folded with format characters dropped
    quote_chars: int | None = 300  # how much of the answer the quoting styles copy (None: all of it)
    unbraced: bool = False  # paper verdicts written `**Score:** c/t`
    miscount: float = 0.0  # share of paper replies whose total is one more than the ground truth's (by prompt hash)
    seed: int = 0
    extra_models: tuple[str, ...] = ()
    path_prefix: str = ""  # e.g. "/sk-key": served under http://127.0.0.1:<port>/sk-key/v1 (a key in the path)
    redirect_to: str = ""  # answer every chat request with 307 to this URL (a client must not follow it)


@dataclass
class FakeJudgeStats:
    """Request counters, updated under a lock by the server threads."""

    chat_requests: int = 0
    in_flight: int = 0  # chat requests being handled right now
    max_in_flight: int = 0
    models_requests: int = 0
    by_status: Counter = field(default_factory=Counter)
    faults: Counter = field(default_factory=Counter)
    prompts_answered: list[str] = field(default_factory=list)
    authorization_headers: list[str] = field(default_factory=list)
    request_headers: list[dict] = field(default_factory=list)  # every /v1 request's headers, as received
    requests: list[dict] = field(default_factory=list)  # chat request bodies as received (model, messages, ...)


_WORD_RE = re.compile(r"[a-z]{5,}")
_TRIGGER_LINE_RE = re.compile(r"^\s*(\d+)\.\s*(.*\S)\s*$")


def folded(text: str) -> str:
    """What a normalizing judge reads and quotes: NFKC, format characters (category Cf) dropped."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", text) if unicodedata.category(ch) != "Cf")


def _covered(answer: str, triggers: list[str]) -> list[bool]:
    text = answer.lower()
    answer_words = set(_WORD_RE.findall(text))
    return [t.lower().strip(" .") in text or bool(set(_WORD_RE.findall(t.lower())) & answer_words) for t in triggers]


def _parse_paper(user: str) -> tuple[str, list[str]] | None:
    head, sep, rest = user.rpartition(". Here is the ground truth label:\n\nGround Truth:\n")
    if not sep or "Record of comprehension:\n" not in head:
        return None
    answer = head.split("Record of comprehension:\n", 1)[1]
    ground_truth = rest.rsplit("\n\nYour Assessment:", 1)[0]
    triggers = [m.group(2) for line in ground_truth.splitlines() if (m := _TRIGGER_LINE_RE.match(line))]
    return answer, triggers


def _parse_structured(user: str) -> tuple[str, list[str]] | None:
    match = re.search(r"Ground-truth triggers \(\d+\):\n(.*?)\n\n", user, re.DOTALL)
    answer = re.search(r"<answer>\n(.*)\n</answer>", user, re.DOTALL)
    if not match or not answer:
        return None
    triggers = [m.group(2) for line in match.group(1).splitlines() if (m := _TRIGGER_LINE_RE.match(line))]
    return answer.group(1), triggers


def fake_verdict(messages: list[dict], reply_style: str = "plain", miscount: float = 0.0,
                 quote_chars: int | None = 300, unbraced: bool = False, fold_quote: bool = False) -> str:
    """The fake judge's reply to a chat request (deterministic)."""
    if reply_style == "folded":
        reply_style, fold_quote = "first", True
    user = next((m.get("content", "") for m in reversed(messages) if m.get("role") == "user"), "")
    system = next((m.get("content", "") for m in messages if m.get("role") == "system"), "")
    if "JSON" in system and (parsed := _parse_structured(user)):
        answer, triggers = parsed
        flags = [True] * len(triggers) if reply_style == "full_credit" else _covered(answer, triggers)
        verdict = {
            "triggers": [
                {"id": i, "covered": f, "reason": "shares a key word" if f else "not mentioned"}
                for i, f in enumerate(flags, 1)
            ]
        }
        return "```json\n" + json.dumps(verdict) + "\n```"
    parsed = _parse_paper(user)
    if parsed is None:
        return "I cannot assess this record."
    answer, triggers = parsed
    if fold_quote:  # the judge reads, and quotes, what a reader sees
        answer = folded(answer)
    flags = [True] * len(triggers) if reply_style == "full_credit" else _covered(answer, triggers)
    draw = int.from_bytes(hashlib.sha256(user.encode()).digest()[:8], "big") / 2**64
    total = len(triggers) + (1 if draw < miscount else 0)  # a judge that miscounts the ground truth
    if reply_style == "mix":  # one of the quoting styles per prompt
        reply_style = PAPER_STYLES[int(draw * 2**20) % len(PAPER_STYLES)]
    return paper_reply(reply_style, sum(flags), total, len(triggers), answer, quote_chars, unbraced)


PAPER_STYLES = ("first", "echo", "last")
"""The quoting reply styles (`mix` picks one of them per prompt; `plain` quotes nothing)."""


def paper_reply(style: str, covered: int, total: int, n_triggers: int, answer: str, quote_chars: int | None = 300,
                unbraced: bool = False) -> str:
    """The fake judge's paper-prompt reply in `style`, quoting the first `quote_chars` characters of `answer`
    (all of it with None). Public so that tests can plant the judge's own wording in an answer.

    plain: verdict, explanation. first: verdict, explanation, the quotation in marks. echo: the prompt's example,
    the quotation in marks, explanation, verdict. last: the quotation unmarked after a label, explanation, verdict.
    `unbraced` writes the verdict as `**Score:** c/t` instead of `{score: c/t}`.
    """
    score = f"**Score:** {covered}/{total}" if unbraced else f"{{score: {covered}/{total}}}"
    explanation = f"The record identifies {covered} of the {n_triggers} triggers in the ground truth."
    quote = answer if quote_chars is None else answer[:quote_chars]
    if style == "first":
        return f'{score}\n\nExplanation: {explanation}\n\nThe record says: "{quote}"'
    if style == "echo":
        return (
            "As asked, my assessment is in the format {score: correct/total}, e.g. {score: 2/5} for 2 correct "
            f'and 5 in total.\n\nThe record says: "{quote}"\n\n{explanation}\n\n**Final assessment:** {score}'
        )
    if style == "last":
        return f"Record of comprehension:\n{quote}\n\n{explanation}\n\n{score}"
    return f"{score}\n\nExplanation: {explanation}"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # benches open 64+ connections at once


class FakeJudge:
    """A running fake judge: `base_url`, `api_key`, `model`, `config`, `stats`."""

    def __init__(self, config: FakeJudgeConfig) -> None:
        self.config = config
        self.stats = FakeJudgeStats()
        self._lock = threading.Lock()
        self._seen: Counter = Counter()
        self._server = _Server(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-judge", daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{self.config.path_prefix}/v1"

    @property
    def api_key(self) -> str:
        return self.config.api_key

    @property
    def model(self) -> str:
        return self.config.model

    def reset_stats(self) -> None:
        with self._lock:
            self.stats = FakeJudgeStats()

    def start(self) -> FakeJudge:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _fault(self, prompt_key: str) -> str | None:
        with self._lock:
            attempt = self._seen[prompt_key]
            self._seen[prompt_key] += 1
        digest = hashlib.sha256(f"{self.config.seed}|{prompt_key}|{attempt}".encode()).digest()
        draw = int.from_bytes(digest[:8], "big") / 2**64
        c = self.config
        for name, p in (("500", c.error_500), ("429", c.rate_429), ("hang", c.hang), ("garbage", c.garbage),
                        ("malformed", c.malformed)):
            if draw < p:
                return name
            draw -= p
        return None

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        judge = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else headers and body in two writes meet delayed ACKs: +40 ms

            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def _send(self, status: int, body: dict | str, headers: dict[str, str] | None = None) -> None:
                data = (body if isinstance(body, str) else json.dumps(body)).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                with judge._lock:
                    judge.stats.by_status[status] += 1

            def _authorized(self) -> bool:
                header = self.headers.get("Authorization", "")
                with judge._lock:
                    judge.stats.authorization_headers.append(header)
                    judge.stats.request_headers.append(dict(self.headers.items()))
                if not judge.config.api_key or header == f"Bearer {judge.config.api_key}":  # "": a server without keys
                    return True
                offered = header.removeprefix("Bearer ")
                self._send(
                    401,
                    {"error": {"message": f"Incorrect API key provided: {offered}", "code": "invalid_api_key"}},
                )
                return False

            def do_GET(self) -> None:
                if self.path.rstrip("/") == "/_stats":  # counters for a client in another process
                    with judge._lock:
                        st = judge.stats
                        body = {"chat_requests": st.chat_requests, "models_requests": st.models_requests,
                                "max_in_flight": st.max_in_flight, "by_status": dict(st.by_status),
                                "faults": dict(st.faults), "answered": len(st.prompts_answered)}
                    self._send(200, body)
                    return
                if self.path.rstrip("/") != f"{judge.config.path_prefix}/v1/models":
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                with judge._lock:
                    judge.stats.models_requests += 1
                if not self._authorized():
                    return
                models = (judge.config.model, *judge.config.extra_models)
                self._send(200, {"object": "list", "data": [{"id": m, "object": "model"} for m in models]})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                if self.path.rstrip("/") != f"{judge.config.path_prefix}/v1/chat/completions":
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                with judge._lock:
                    judge.stats.chat_requests += 1
                    judge.stats.in_flight += 1
                    judge.stats.max_in_flight = max(judge.stats.max_in_flight, judge.stats.in_flight)
                try:
                    self._chat(raw)
                finally:
                    with judge._lock:
                        judge.stats.in_flight -= 1

            def _chat(self, raw: bytes) -> None:
                if not self._authorized():
                    return
                if judge.config.redirect_to:
                    self._send(307, {"error": {"message": "moved"}}, {"Location": judge.config.redirect_to})
                    return
                try:
                    request = json.loads(raw)
                    messages = request["messages"]
                except (ValueError, KeyError, TypeError):
                    self._send(400, {"error": {"message": "malformed request"}})
                    return
                with judge._lock:
                    judge.stats.requests.append(request)
                if request.get("model") not in (judge.config.model, *judge.config.extra_models):
                    self._send(
                        404,
                        {"error": {"message": f"The model `{request.get('model')}` does not exist",
                                   "code": "model_not_found"}},
                    )
                    return
                user = next((m.get("content", "") for m in reversed(messages) if m.get("role") == "user"), "")
                fault = judge._fault(hashlib.sha256(raw).hexdigest())
                if fault:
                    with judge._lock:
                        judge.stats.faults[fault] += 1
                if fault == "hang":
                    time.sleep(judge.config.hang_seconds)
                elif judge.config.latency:
                    time.sleep(judge.config.latency)
                if fault == "500":
                    self._send(500, {"error": {"message": "internal error (injected)"}})
                    return
                if fault == "429":
                    self._send(
                        429,
                        {"error": {"message": "rate limited (injected)"}},
                        {"Retry-After": f"{judge.config.retry_after:g}"},
                    )
                    return
                if fault == "malformed":
                    self._send(200, "<html>gateway says hello</html>")
                    return
                content = (
                    "Sorry, I lost my train of thought."
                    if fault == "garbage"
                    else fake_verdict(messages, judge.config.reply_style, judge.config.miscount,
                                      judge.config.quote_chars, judge.config.unbraced, judge.config.fold_quote)
                )
                if fault != "garbage":
                    with judge._lock:
                        judge.stats.prompts_answered.append(user)
                self._send(
                    200,
                    {
                        "id": "chatcmpl-fake",
                        "object": "chat.completion",
                        "model": request["model"],
                        "choices": [
                            {"index": 0, "message": {"role": "assistant", "content": content},
                             "finish_reason": "stop"}
                        ],
                        "usage": {"prompt_tokens": len(user.split()), "completion_tokens": len(content.split())},
                    },
                )

        return Handler


@contextmanager
def judge_server(config: FakeJudgeConfig | None = None, **overrides: object) -> Iterator[FakeJudge]:
    """Run a fake judge for the duration of the `with` block (config fields as keyword overrides)."""
    config = config or FakeJudgeConfig()
    for key, value in overrides.items():
        if not hasattr(config, key):
            raise TypeError(f"FakeJudgeConfig has no field {key!r}")
        setattr(config, key, value)
    judge = FakeJudge(config).start()
    try:
        yield judge
    finally:
        judge.stop()


def main(argv: list[str] | None = None) -> None:
    """Serve in the foreground; prints the base URL on the first line of stdout."""
    import argparse

    parser = argparse.ArgumentParser(description="fake OpenAI-compatible EIBench judge on 127.0.0.1")
    for name in ("latency", "error_500", "rate_429", "retry_after", "hang", "hang_seconds", "garbage"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=float, default=getattr(FakeJudgeConfig, name))
    parser.add_argument("--model", default=FakeJudgeConfig.model)
    parser.add_argument("--api-key", default=FakeJudgeConfig.api_key)
    parser.add_argument("--reply-style", default="plain",
                        choices=("plain", *PAPER_STYLES, "mix", "folded", "full_credit"))
    config = FakeJudgeConfig(**vars(parser.parse_args(argv)))
    with judge_server(config) as running:
        print(running.base_url, flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":  # python tests/judge_server.py --latency 0.1  (GET /_stats for counters)
    main()
