"""A judge behind any OpenAI-compatible chat endpoint (OpenAI, vLLM, SGLang, Ollama...), through the shared
client `chat_client.ChatClient` (the `openai` SDK: retries with backoff, Retry-After honoured; attempts counted).

Settings are EIBench's own (EIBENCH_JUDGE_MODEL / _BASE_URL / _API_KEY) so the judge is never
confused with an OpenAI model under test. The API key goes only into the Authorization header; it and
any key in the base URL's path are redacted from every error text (and the path key from the recorded endpoint).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from lmms_eval_eibench.judges.base import JudgeItem, LLMJudge, Verdict, judge_messages
from lmms_eval_eibench.judges.chat_client import ChatClient, Hints, RequestError
from lmms_eval_eibench.judges.errors import JudgeError, PreflightError
from lmms_eval_eibench.judges.settings import JudgeSettings
from lmms_eval_eibench.scoring.verdict_parser import VerdictParseError

__all__ = ["OpenAIJudge"]

log = logging.getLogger(__name__)

# A rejected key or an unknown model will fail every remaining sample the same way: the run stops rather than
# counting each sample as a judge failure.
_FATAL_STATUS = {401, 403, 404}
# The preflight fails fast: a wrong URL, model or key is not worth a long backoff.
_PREFLIGHT_RETRIES = 2
_HINTS = Hints(
    timeout="--timeout / EIBENCH_JUDGE_TIMEOUT",
    api_key="set EIBENCH_JUDGE_API_KEY (or OPENAI_API_KEY) to a key this endpoint accepts",
    not_found="check EIBENCH_JUDGE_MODEL / --judge-model and EIBENCH_JUDGE_BASE_URL / --base-url",
)


class OpenAIJudge(LLMJudge):
    """Chat-completion judge; one request per sample, many in flight."""

    kind = "openai"

    def __init__(self, settings: JudgeSettings) -> None:
        super().__init__(settings)
        self._api_key = settings.api_key
        self._chat = ChatClient(settings.base_url, settings.api_key, self.model_name, timeout=settings.timeout,
                                concurrency=settings.concurrency, max_retries=settings.max_retries, hints=_HINTS)
        self.url = self._chat.url

    @property
    def concurrency(self) -> int:
        return self.settings.concurrency

    def decoding(self) -> dict[str, Any]:
        decoding: dict[str, Any] = {"temperature": self.settings.temperature, "max_tokens": self.settings.max_tokens}
        if self.settings.top_p is not None:
            decoding["top_p"] = self.settings.top_p
        return decoding

    def reply_settings(self) -> dict[str, Any]:
        # the same model name on two servers may be two different models: they must not share verdicts
        return {"endpoint": self.url}  # credentials stripped (public_url)

    # -- transport (the shared OpenAI-compatible client) ---------------------------------------

    def _where(self) -> str:
        return self._chat.where()

    def complete(self, messages: list[dict[str, str]], *, max_tokens: int | None = None,
                 max_retries: int | None = None) -> tuple[str, int]:
        """The judge's reply text and the number of HTTP attempts it took (retries included)."""
        body: dict[str, Any] = {
            "model": self.model_name,
            "messages": messages,
            "temperature": self.settings.temperature,
            "max_tokens": max_tokens or self.settings.max_tokens,
        }
        if self.settings.top_p is not None:
            body["top_p"] = self.settings.top_p
        return self._chat.chat(body, max_retries=max_retries)

    # -- judging ------------------------------------------------------------------------------

    def judge_one(self, item: JudgeItem) -> Verdict:
        messages = judge_messages(self.prompt, item)
        attempts = 0
        raw = ""
        error = ""
        for _ in range(1 + self.settings.parse_retries):
            try:
                raw, n = self.complete(messages)
            except RequestError as exc:
                if exc.status in _FATAL_STATUS:
                    raise JudgeError(f"{self._chat.redact(str(exc))}; the run stops") from None
                if exc.malformed:  # a 200 that was no completion: re-asked like an unparseable reply
                    attempts, error = attempts + 1, str(exc)
                    continue
                return Verdict.failure(item, self._chat.redact(str(exc)), raw, attempts + 1)
            raw = self._chat.redact(raw)  # a server echoing the request must not put the key in the cache
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
                f"{self._where()}: no API key; set EIBENCH_JUDGE_API_KEY (or OPENAI_API_KEY), or point "
                "EIBENCH_JUDGE_BASE_URL at another OpenAI-compatible server; without a key: EIBENCH_JUDGE=embedding "
                "(offline, free, metric eibench_semantic_recall), or generate now with lmms-eval --predict_only "
                "--log_samples and judge later with `eibench score`"
            )
        try:
            served = self._chat.served_models(max_retries=_PREFLIGHT_RETRIES)
        except RequestError as exc:
            if exc.status not in (404, 405):
                raise PreflightError(self._chat.redact(str(exc))) from None
            served = []  # no /models route: probe with a one-token chat request instead
        if served and self.model_name not in served:
            shown = ", ".join(sorted(served)[:20])
            raise PreflightError(
                f"{self._where()}: the endpoint does not serve model {self.model_name!r} "
                f"(set EIBENCH_JUDGE_MODEL / --judge-model); it serves: {shown}"
            )
        if served:
            return
        try:
            self.complete([{"role": "user", "content": "Reply with OK."}], max_tokens=1,
                          max_retries=_PREFLIGHT_RETRIES)
        except RequestError as exc:
            raise PreflightError(self._chat.redact(str(exc))) from None

    def close(self) -> None:
        self._chat.close()
