"""The judges' errors: a judge that cannot be used as configured, or fails its preflight, raises; a failure on
one sample never does (it becomes a failed verdict). Request failures are the chat client's
(`chat_client.RequestError`, after the `openai` SDK's retries)."""

from __future__ import annotations

__all__ = ["JudgeConfigError", "JudgeError", "PreflightError"]


class JudgeError(RuntimeError):
    """The judge cannot be used as configured (raised, never turned into a score)."""


class JudgeConfigError(JudgeError, ValueError):
    """A judge setting is invalid; the message names the setting."""


class PreflightError(JudgeError):
    """The judge failed its preflight check (endpoint, key, model); the message names URL and model."""
