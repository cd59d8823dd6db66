"""A judge behind any OpenAI-compatible chat endpoint (OpenAI, vLLM, SGLang, Ollama...), via httpx.

Settings are EIBench's own (EIBENCH_JUDGE_MODEL / _BASE_URL / _API_KEY) so the judge is never
confused with an OpenAI model under test. The API key goes only into the Authorization header;
it is redacted from every error text.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

from lmms_eval_eibench import prompts
from lmms_eval_eibench.judges.base import (
    Judge,
    JudgeError,
    JudgeItem,
    JudgeRequestError,
    JudgeSettings,
    PreflightError,
    TransientJudgeError,
    Verdict,
    judge_messages,
    public_url,
    quiet_http_logs,
    redact,
)
from lmms_eval_eibench.judges.runner import (
    RetryPolicy,
    call_with_retries,
    parse_retry_after,
)
from lmms_eval_eibench.scoring import VerdictParseError, parse_verdict

__all__ = ["OpenAIJudge", "judge_messages"]  # judge_messages re-exported for callers

log = logging.getLogger(__name__)

_RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504, 520, 522, 524, 529}
# A rejected key or an unknown model will fail every remaining sample the same way: the run stops rather than
# counting each sample as a judge failure.
_FATAL_STATUS = {401, 403, 404}


def _server_message(response: Any) -> str:
    try:
        body = response.json()
        message = body.get("error", {}).get("message") if isinstance(body, dict) else None
    except ValueError:
        message = None
    return str(message or response.text or "")[:300].strip()


class OpenAIJudge(Judge):
    """Chat-completion judge; one request per sample, many in flight."""

    kind = "openai"

    def __init__(self, settings: JudgeSettings) -> None:
        super().__init__(settings)
        self.model = settings.resolved_model
        self.prompt = settings.resolved_prompt
        self.url = public_url(settings.base_url.rstrip("/"))
        self._base_url = settings.base_url.rstrip("/")
        self._api_key = settings.api_key
        self._client: Any = None
        self._client_lock = threading.Lock()
        self.policy = RetryPolicy(settings.max_retries, settings.backoff_base, settings.backoff_max)

    @property
    def concurrency(self) -> int:
        return self.settings.concurrency

    def identity(self) -> dict[str, Any]:
        decoding: dict[str, Any] = {"temperature": self.settings.temperature, "max_tokens": self.settings.max_tokens}
        if self.settings.top_p is not None:
            decoding["top_p"] = self.settings.top_p
        return {
            "judge": self.kind,
            "model": self.model,
            # the same model name on two servers may be two different models: they must not share verdicts
            "base_url": self.url,  # credentials stripped (public_url)
            "prompt": self.prompt,
            "prompt_template": f"judge_{self.prompt}.j2",
            "prompt_version": prompts.template_version(f"judge_{self.prompt}"),
            "decoding": decoding,
        }

    def read(self, item: JudgeItem, raw: str, attempts: int = 1) -> Verdict:
        parsed = parse_verdict(self.prompt, raw, item.n_triggers, item.answer,
                               trust_judge_total=self.settings.trust_judge_total)
        return Verdict.from_parsed(item, parsed, raw, attempts)

    # -- transport ------------------------------------------------------------------------------

    def _http(self) -> Any:
        with self._client_lock:
            if self._client is None:
                import httpx

                quiet_http_logs()
                headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
                n = self.settings.concurrency
                self._client = httpx.Client(
                    base_url=self._base_url,
                    headers=headers,
                    timeout=httpx.Timeout(self.settings.timeout),
                    limits=httpx.Limits(max_connections=n, max_keepalive_connections=n),
                )
            return self._client

    def _where(self) -> str:
        return f"judge endpoint {self.url} (model {self.model})"

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        """One HTTP request; transient failures raise TransientJudgeError, permanent JudgeRequestError."""
        import httpx

        try:
            response = self._http().request(method, path, **kwargs)
        except httpx.TimeoutException:
            raise TransientJudgeError(
                f"{self._where()}: no reply within {self.settings.timeout:g} s (--timeout / EIBENCH_JUDGE_TIMEOUT)"
            ) from None
        except httpx.TransportError as exc:
            raise TransientJudgeError(
                f"{self._where()}: connection failed ({type(exc).__name__}: {redact(str(exc), self._api_key)})"
            ) from None
        status = response.status_code
        if status < 400:
            return response
        message = redact(_server_message(response), self._api_key)
        if status in _RETRY_STATUS:
            raise TransientJudgeError(
                f"{self._where()}: HTTP {status} {message}", parse_retry_after(response.headers.get("Retry-After"))
            )
        if status in (401, 403):
            raise JudgeRequestError(
                f"{self._where()} rejected the API key (HTTP {status}); set EIBENCH_JUDGE_API_KEY "
                f"(or OPENAI_API_KEY) to a key this endpoint accepts. Server said: {message}",
                status,
            )
        if status == 404:
            raise JudgeRequestError(
                f"{self._where()}: HTTP 404 (unknown model or not an OpenAI-compatible /v1 URL; check "
                f"EIBENCH_JUDGE_MODEL / --judge-model and EIBENCH_JUDGE_BASE_URL / --base-url). Server said: {message}",
                status,
            )
        raise JudgeRequestError(f"{self._where()}: HTTP {status} {message}", status)

    def complete(self, messages: list[dict[str, str]], *, max_tokens: int | None = None) -> tuple[str, int]:
        """The judge's reply text and the number of HTTP attempts it took (retries included)."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": self.settings.temperature,
            "max_tokens": max_tokens or self.settings.max_tokens,
        }
        if self.settings.top_p is not None:
            body["top_p"] = self.settings.top_p

        def once() -> str:
            response = self._request("POST", "/chat/completions", json=body)
            try:
                content = response.json()["choices"][0]["message"]["content"]
            except (ValueError, LookupError, TypeError):
                raise TransientJudgeError(f"{self._where()}: malformed chat completion") from None
            return content if isinstance(content, str) else ""

        def on_retry(retry: int, error: Exception, pause: float) -> None:
            log.debug("retry %d in %.2f s: %s", retry + 1, pause, error)  # messages are already redacted

        return call_with_retries(once, self.policy, on_retry=on_retry)

    # -- judging ------------------------------------------------------------------------------

    def judge_one(self, item: JudgeItem) -> Verdict:
        messages = judge_messages(self.prompt, item)
        attempts = 0
        raw = ""
        error = ""
        for _ in range(1 + self.settings.parse_retries):
            try:
                raw, n = self.complete(messages)
            except JudgeRequestError as exc:
                if exc.status in _FATAL_STATUS:
                    raise JudgeError(f"{redact(str(exc), self._api_key)}; the run stops") from None
                return Verdict.failure(item, redact(str(exc), self._api_key), raw, attempts + 1)
            raw = redact(raw, self._api_key)  # a server echoing the request must not put the key in the cache
            attempts += n
            try:
                return self.read(item, raw, attempts)
            except VerdictParseError as exc:
                error = f"unparseable judge reply: {exc}"
        return Verdict.failure(item, error, raw, attempts)

    def judge_batch(self, items: Sequence[JudgeItem]) -> list[Verdict]:
        return [self.judge_one(item) for item in items]

    # -- preflight ----------------------------------------------------------------------------

    def preflight(self) -> None:
        """Endpoint reachable, key accepted, model served; raises PreflightError naming URL and model."""
        if not self._api_key and "api.openai.com" in self.url:
            raise PreflightError(
                f"{self._where()}: no API key; set EIBENCH_JUDGE_API_KEY (or OPENAI_API_KEY), "
                "or point EIBENCH_JUDGE_BASE_URL at another OpenAI-compatible server"
            )
        quick = RetryPolicy(max_retries=2, base=0.5, cap=2.0)
        try:
            response, _ = call_with_retries(lambda: self._request("GET", "/models"), quick)
        except JudgeRequestError as exc:
            if "HTTP 404" not in str(exc) and "HTTP 405" not in str(exc):
                raise PreflightError(redact(str(exc), self._api_key)) from None
            response = None  # no /models route: probe with a one-token chat request instead
        if response is not None:
            try:
                served = [m.get("id") for m in response.json().get("data", []) if isinstance(m, dict)]
            except (ValueError, AttributeError):
                served = []
            if served and self.model not in served:
                shown = ", ".join(sorted(map(str, served))[:20])
                raise PreflightError(
                    f"{self._where()}: the endpoint does not serve model {self.model!r} "
                    f"(set EIBENCH_JUDGE_MODEL / --judge-model); it serves: {shown}"
                )
            if served:
                return
        try:
            self.complete([{"role": "user", "content": "Reply with OK."}], max_tokens=1)
        except JudgeRequestError as exc:
            raise PreflightError(redact(str(exc), self._api_key)) from None

    def close(self) -> None:
        with self._client_lock:
            if self._client is not None:
                self._client.close()
                self._client = None
