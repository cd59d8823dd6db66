"""One OpenAI-compatible chat endpoint through the `openai` SDK: the client of the `openai` judge and of CFSA's
summarizer.

The SDK retries timeouts, connection errors, 408/409/429/5xx with exponential backoff (0.5 s doubling to 8 s,
up to 25% jitter) and waits out a server's Retry-After (up to 120 s; a longer one is not retried). What it does not
do is here, and only that:
- count the HTTP attempts a reply took (the reply cache records them): an httpx2 request hook counts per thread;
- say what failed in the benchmark's words, naming the endpoint and the setting to check (`Hints`), as a
  `RequestError` with the HTTP status: no SDK exception (they hold the request) leaves this module;
- keep the key where the settings put it: the SDK's ambient settings (OPENAI_API_KEY, OPENAI_ORG_ID,
  OPENAI_PROJECT_ID, OPENAI_CUSTOM_HEADERS) never add a header, redirects are not followed, and the key and
  any key in the URL's path are redacted from every message; URLs are shown as `urls.public_url`.
The SDK (and httpx2) is imported on first use.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from typing import Any

from lmms_eval_eibench.urls import public_url, quiet_http_logs, redact, secrets_of

__all__ = ["ChatClient", "Hints", "RequestError"]

log = logging.getLogger(__name__)

# The headers the SDK would fill from its own environment variables; ours are the settings' only.
_AMBIENT_HEADERS = ("Authorization", "OpenAI-Organization", "OpenAI-Project")


class RequestError(Exception):
    """A request that got no usable reply: a permanent failure (rejected key, unknown model, bad request) or a
    transient one after the last retry. `status` is the HTTP status when the server answered (None for a
    timeout, a connection failure or a malformed completion); `malformed` marks a 200 that was no completion."""

    def __init__(self, message: str, status: int | None = None, *, malformed: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.malformed = malformed


@dataclass(frozen=True)
class Hints:
    """The settings an error message tells the user to check (each caller names its own)."""

    timeout: str  # e.g. "--timeout / EIBENCH_JUDGE_TIMEOUT"
    api_key: str  # e.g. "set EIBENCH_JUDGE_API_KEY (or OPENAI_API_KEY) to a key this endpoint accepts"
    not_found: str  # e.g. "check EIBENCH_JUDGE_MODEL / --judge-model and EIBENCH_JUDGE_BASE_URL / --base-url"


def _server_message(error: Any) -> str:
    """The server's own words from an SDK status error (its JSON `error.message`, else the body's text)."""
    body = getattr(error, "body", None)
    message = body.get("message") if isinstance(body, dict) else None  # the SDK unwraps {"error": {...}}
    if message is None and isinstance(body, str):
        message = body
    if message is None:
        try:
            message = error.response.text
        except Exception:  # noqa: BLE001 - a body that cannot be read says nothing
            message = ""
    return str(message or "")[:300].strip()


def _retried(status: int) -> bool:
    """Whether the SDK retries this status (so a failure with it came after the last retry)."""
    return status in (408, 409, 429) or status >= 500


class ChatClient:
    """A thread-safe client of one OpenAI-compatible endpoint and model (at most `concurrency` connections)."""

    def __init__(
        self, base_url: str, api_key: str | None, model: str, *, timeout: float, concurrency: int,
        max_retries: int, hints: Hints, role: str = "judge endpoint",
    ) -> None:  # fmt: skip
        self.model = model
        self.url = public_url(base_url.rstrip("/"), api_key)  # a key in the path is shown as ***
        self.timeout = timeout
        self.max_retries = max_retries
        self.hints = hints
        self.role = role
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._secrets = secrets_of(base_url, api_key)  # the key, and any key in the URL's path
        self._concurrency = concurrency
        self._client: Any = None
        self._per_request: dict[str, Any] = {}  # the SDK wants a request without a key to say so itself
        self._lock = threading.Lock()
        self._sent = threading.local()  # HTTP requests sent by this thread's current call

    def where(self) -> str:
        return f"{self.role} {self.url} (model {self.model})"

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = redact(text, secret)
        return text

    def _count(self, request: Any) -> None:  # an httpx2 request hook: runs on the thread that sends
        self._sent.n = getattr(self._sent, "n", 0) + 1

    def _sdk(self) -> Any:
        with self._lock:
            if self._client is None:
                import httpx2
                import openai

                quiet_http_logs()
                headers: dict[str, Any] = dict.fromkeys(_AMBIENT_HEADERS, openai.Omit())
                for line in os.environ.get("OPENAI_CUSTOM_HEADERS", "").splitlines():  # parsed as the SDK does
                    if ":" in line:
                        headers[line.split(":", 1)[0].strip()] = openai.Omit()
                if self._api_key:
                    headers["Authorization"] = f"Bearer {self._api_key}"
                else:
                    self._per_request = {"extra_headers": {"Authorization": openai.Omit()}}
                n = self._concurrency
                http = openai.DefaultHttpx2Client(
                    timeout=httpx2.Timeout(self.timeout),
                    limits=httpx2.Limits(max_connections=n, max_keepalive_connections=n),
                    follow_redirects=False,  # a redirect never takes the key elsewhere
                    event_hooks={"request": [self._count]},
                )
                self._client = openai.OpenAI(
                    api_key=self._api_key or "no-key",  # never read from OPENAI_API_KEY; the header above decides
                    organization="", project="", base_url=self._base_url, timeout=self.timeout,
                    max_retries=self.max_retries, default_headers=headers, http_client=http,
                )  # fmt: skip
            return self._client

    def _call(self, call: Any, max_retries: int | None) -> tuple[Any, int]:
        """Run `call(sdk_client)`: its result and the HTTP attempts it took; SDK errors become `RequestError`."""
        import openai

        client = self._sdk()
        if max_retries is not None:
            client = client.with_options(max_retries=max_retries)
        self._sent.n = 0
        try:
            return call(client), self._sent.n
        except openai.APITimeoutError:
            message, status = f"{self.where()}: no reply within {self.timeout:g} s ({self.hints.timeout})", None
        except openai.APIConnectionError as exc:
            cause = exc.__cause__ or exc
            message = f"{self.where()}: connection failed ({type(cause).__name__}: {self.redact(str(cause))})"
            status = None
        except openai.APIStatusError as exc:
            if not _retried(exc.status_code):
                raise self._status_error(exc) from None
            message = f"{self.where()}: HTTP {exc.status_code} {self.redact(_server_message(exc))}"
            status = exc.status_code
        except (openai.OpenAIError, ValueError) as exc:  # a 200 whose body the SDK cannot read (not JSON...)
            raise RequestError(f"{self.where()}: malformed reply ({type(exc).__name__})", malformed=True) from None
        # a transient failure reaches here only after the SDK's last retry
        raise RequestError(f"{message} (gave up after {self._sent.n} attempts)", status) from None

    def _status_error(self, exc: Any) -> RequestError:
        status = exc.status_code
        message = self.redact(_server_message(exc))
        if status in (401, 403):
            return RequestError(
                f"{self.where()} rejected the API key (HTTP {status}); {self.hints.api_key}. Server said: {message}",
                status,
            )
        if status == 404:
            return RequestError(
                f"{self.where()}: HTTP 404 (unknown model or not an OpenAI-compatible /v1 URL; {self.hints.not_found}). "
                f"Server said: {message}",
                status,
            )
        return RequestError(f"{self.where()}: HTTP {status} {message}", status)

    def chat(self, body: dict[str, Any], *, max_retries: int | None = None) -> tuple[str, int]:
        """One chat completion of `body` (model, messages, decoding): the reply text and the number of HTTP
        attempts it took. Transient failures are retried by the SDK (`max_retries`, default the client's); after
        the last retry, on a permanent failure or a malformed completion, `RequestError` is raised."""
        completion, attempts = self._call(lambda client: client.chat.completions.create(**body, **self._per_request),
                                          max_retries)
        try:
            content = completion.choices[0].message.content
        except (AttributeError, LookupError, TypeError):
            raise RequestError(f"{self.where()}: malformed chat completion", malformed=True) from None
        return (content if isinstance(content, str) else ""), attempts

    def served_models(self, *, max_retries: int | None = None) -> list[str]:
        """The model ids `GET /models` lists (empty if it lists none readable); `RequestError` as `chat`."""
        page, _ = self._call(lambda client: client.models.list(**self._per_request), max_retries)
        return [str(m.id) for m in getattr(page, "data", None) or [] if getattr(m, "id", None)]

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
