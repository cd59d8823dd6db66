"""One OpenAI-compatible chat endpoint over httpx: the client of the `openai` judge and of CFSA's summarizer.

`request()` sorts failures: timeouts, connection errors, 408/409/425/429/5xx raise `TransientRequestError` (with the
server's Retry-After), anything else `RequestError` (with its HTTP status). `chat()` posts one chat completion
and retries transient failures with a `RetryPolicy` (exponential backoff with full jitter, Retry-After honoured;
`call_with_retries` for any other request). The API key goes only into the Authorization header and is redacted
from every message, like any key in the URL's path; URLs are shown without user info, query or a key in their path
(`urls.public_url`). httpx is imported on first use.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from lmms_eval_eibench.urls import public_url, quiet_http_logs, redact, secrets_of

__all__ = ["RETRY_STATUS", "ChatClient", "Hints", "RequestError", "RetryPolicy", "TransientRequestError",
           "call_with_retries", "parse_retry_after"]

log = logging.getLogger(__name__)

RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 520, 522, 524, 529})

T = TypeVar("T")


class TransientRequestError(Exception):
    """A request failure worth retrying (429, 5xx, timeout, connection reset)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RequestError(Exception):
    """A request failure not worth retrying (rejected key, unknown model, bad request); `status` is the HTTP
    status when the server answered."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter; a server's Retry-After wins when it is longer."""

    max_retries: int = 5
    base: float = 1.0
    cap: float = 30.0
    max_retry_after: float = 120.0

    def delay(self, retry: int, retry_after: float | None = None, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number `retry` (0-based)."""
        rng = rng or random
        backoff = rng.uniform(0, min(self.cap, self.base * (2**retry)))
        if retry_after is not None:
            return max(min(retry_after, self.max_retry_after), backoff)
        return backoff


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta seconds or an HTTP date), None if absent/invalid."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def call_with_retries(
    call: Callable[[], T],
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[int, TransientRequestError, float], None] | None = None,
) -> tuple[T, int]:
    """Run `call`, retrying `TransientRequestError`s; returns (result, attempts).

    After `policy.max_retries` retries the last transient error is raised as `RequestError`.
    """
    retry = 0
    while True:
        try:
            return call(), retry + 1
        except TransientRequestError as exc:
            if retry >= policy.max_retries:
                raise RequestError(f"{exc} (gave up after {retry + 1} attempts)") from None
            pause = policy.delay(retry, exc.retry_after)
            if on_retry:
                on_retry(retry, exc, pause)
            sleep(pause)
            retry += 1


OnRetry = Callable[[int, TransientRequestError, float], None]


@dataclass(frozen=True)
class Hints:
    """The settings an error message tells the user to check (each caller names its own)."""

    timeout: str  # e.g. "--timeout / EIBENCH_JUDGE_TIMEOUT"
    api_key: str  # e.g. "set EIBENCH_JUDGE_API_KEY (or OPENAI_API_KEY) to a key this endpoint accepts"
    not_found: str  # e.g. "check EIBENCH_JUDGE_MODEL / --judge-model and EIBENCH_JUDGE_BASE_URL / --base-url"


def _server_message(response: Any) -> str:
    try:
        body = response.json()
        message = body.get("error", {}).get("message") if isinstance(body, dict) else None
    except ValueError:
        message = None
    return str(message or response.text or "")[:300].strip()


class ChatClient:
    """A thread-safe client of one OpenAI-compatible endpoint and model (at most `concurrency` connections)."""

    def __init__(
        self, base_url: str, api_key: str | None, model: str, *, timeout: float, concurrency: int,
        policy: RetryPolicy, hints: Hints, role: str = "judge endpoint",
    ) -> None:  # fmt: skip
        self.model = model
        self.url = public_url(base_url.rstrip("/"), api_key)  # a key in the path is shown as ***
        self.timeout = timeout
        self.policy = policy
        self.hints = hints
        self.role = role
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._secrets = secrets_of(base_url, api_key)  # the key, and any key in the URL's path
        self._concurrency = concurrency
        self._client: Any = None
        self._lock = threading.Lock()

    def where(self) -> str:
        return f"{self.role} {self.url} (model {self.model})"

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = redact(text, secret)
        return text

    def _http(self) -> Any:
        with self._lock:
            if self._client is None:
                import httpx

                quiet_http_logs()
                headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
                n = self._concurrency
                self._client = httpx.Client(
                    base_url=self._base_url,
                    headers=headers,
                    timeout=httpx.Timeout(self.timeout),
                    limits=httpx.Limits(max_connections=n, max_keepalive_connections=n),
                )
            return self._client

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """One HTTP request; transient failures raise TransientRequestError, permanent RequestError."""
        import httpx

        try:
            response = self._http().request(method, path, **kwargs)
        except httpx.TimeoutException:
            raise TransientRequestError(
                f"{self.where()}: no reply within {self.timeout:g} s ({self.hints.timeout})"
            ) from None
        except httpx.TransportError as exc:
            raise TransientRequestError(
                f"{self.where()}: connection failed ({type(exc).__name__}: {self.redact(str(exc))})"
            ) from None
        status = response.status_code
        if status < 400:
            return response
        message = self.redact(_server_message(response))
        if status in RETRY_STATUS:
            raise TransientRequestError(
                f"{self.where()}: HTTP {status} {message}", parse_retry_after(response.headers.get("Retry-After"))
            )
        if status in (401, 403):
            raise RequestError(
                f"{self.where()} rejected the API key (HTTP {status}); {self.hints.api_key}. Server said: {message}",
                status,
            )
        if status == 404:
            raise RequestError(
                f"{self.where()}: HTTP 404 (unknown model or not an OpenAI-compatible /v1 URL; {self.hints.not_found}). "
                f"Server said: {message}",
                status,
            )
        raise RequestError(f"{self.where()}: HTTP {status} {message}", status)

    def chat(self, body: dict[str, Any], *, policy: RetryPolicy | None = None,
             on_retry: OnRetry | None = None) -> tuple[str, int]:
        """POST `body` to /chat/completions: the reply text and the number of HTTP attempts it took.

        Transient failures (a malformed completion included) are retried under `policy` (default: the client's);
        after the last retry, or on a permanent failure, `RequestError` is raised."""

        def once() -> str:
            response = self.request("POST", "/chat/completions", json=body)
            try:
                content = response.json()["choices"][0]["message"]["content"]
            except (ValueError, LookupError, TypeError):
                raise TransientRequestError(f"{self.where()}: malformed chat completion") from None
            return content if isinstance(content, str) else ""

        def debug(retry: int, error: Exception, pause: float) -> None:
            log.debug("retry %d in %.2f s: %s", retry + 1, pause, error)  # messages are already redacted

        return call_with_retries(once, policy or self.policy, on_retry=on_retry or debug)

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
