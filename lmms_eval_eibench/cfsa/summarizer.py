"""CFSA's OpenAI-compatible summarizer (`OpenAISummarizer`, `cfsa_summarizer=openai`): the summary step
through a `/chat/completions` endpoint."""

from __future__ import annotations

import concurrent.futures
import os
from collections.abc import Mapping, Sequence
from typing import Any

from lmms_eval_eibench.cfsa.settings import SETTING_PREFIX, CFSAConfigError, CFSASettings
from lmms_eval_eibench.judges.chat_client import ChatClient, Hints, RequestError

__all__ = ["OpenAISummarizer", "SummarizerError"]


class SummarizerError(RuntimeError):
    """The summarizing LLM failed (after retries); the message never holds the API key."""


# The preflight fails fast (as the judges' does): a wrong URL, model or key is not worth a long backoff.
_PREFLIGHT_RETRIES = 2


class OpenAISummarizer:
    """Writes CFSA's summary through an OpenAI-compatible `/chat/completions` endpoint, with the judges' client
    (`chat_client.ChatClient`, the `openai` SDK's retries: exponential backoff, Retry-After honoured)."""

    def __init__(self, settings: CFSASettings, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        self.settings = settings
        self.model = settings.summarizer_model or ""
        key_env = settings.summarizer_api_key_env
        hints = Hints(
            timeout=f"{SETTING_PREFIX}summarizer_timeout",
            api_key=f"set ${key_env} (or OPENAI_API_KEY) to a key this endpoint accepts",
            not_found=f"check {SETTING_PREFIX}summarizer_model and {SETTING_PREFIX}summarizer_base_url",
        )
        self._chat = ChatClient(
            settings.summarizer_base_url or "", env.get(key_env) or env.get("OPENAI_API_KEY") or None, self.model,
            timeout=settings.summarizer_timeout, concurrency=settings.summarizer_concurrency,
            max_retries=settings.summarizer_retries, hints=hints, role="CFSA summarizer",
        )  # fmt: skip
        self.url = self._chat.url  # without user info or query

    def complete(self, prompt: str, max_tokens: int | None = None, max_retries: int | None = None) -> str:
        """One chat completion; transient failures are retried, then (or on a permanent one) SummarizerError."""
        body = {
            "model": self.model,
            "messages": [{"role": "user", "content": prompt}],
            "temperature": self.settings.summarizer_temperature,
            "max_tokens": max_tokens or self.settings.summarizer_max_tokens,
        }
        try:
            text, _ = self._chat.chat(body, max_retries=max_retries)
        except RequestError as exc:
            raise SummarizerError(self._chat.redact(str(exc))) from None
        return self._chat.redact(text)  # a server echoing the request must not put the key in a sample

    def preflight(self) -> None:
        """One tiny request before any generation, so a wrong URL, model or key fails in seconds, not hours."""
        try:
            self.complete("Reply with the word OK.", max_tokens=5, max_retries=_PREFLIGHT_RETRIES)
        except SummarizerError as exc:
            raise CFSAConfigError(
                f"the CFSA summarizer does not answer: {exc}. Check {SETTING_PREFIX}summarizer_base_url, "
                f"{SETTING_PREFIX}summarizer_model and the key in ${self.settings.summarizer_api_key_env}"
            ) from None

    def summarize_many(self, prompts: Sequence[str]) -> list[Any]:
        """One reply text, or the exception that failed it, per prompt; `summarizer_concurrency` in flight."""

        def one(prompt: str) -> Any:
            try:
                return self.complete(prompt)
            except Exception as exc:  # noqa: BLE001 - recorded as this sample's failure, with its message
                return exc

        with concurrent.futures.ThreadPoolExecutor(max_workers=self.settings.summarizer_concurrency) as pool:
            return list(pool.map(one, prompts))

    def close(self) -> None:
        self._chat.close()
