"""URLs and secrets of the OpenAI-compatible endpoints (the judge's, CFSA's summarizer's): a URL is shown and
recorded without user info or query (`public_url`), refused when it carries credentials (`check_base_url`); a key
is cut out of any text (`redact`) and httpx never logs a request URL (`quiet_http_logs`). Cheap to import."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit, urlunsplit

__all__ = ["check_base_url", "public_url", "quiet_http_logs", "redact"]


def quiet_http_logs() -> None:
    """Keep httpx/httpcore below INFO: httpx logs every request URL at INFO, user info and query included,
    and those may carry credentials. Called where our HTTP clients are created."""
    for name in ("httpx", "httpcore"):
        logger = logging.getLogger(name)
        if logger.level < logging.WARNING:
            logger.setLevel(logging.WARNING)


def redact(text: str, secret: str | None) -> str:
    """`text` with every occurrence of `secret` replaced by `***`."""
    if secret and len(secret) >= 4:
        return text.replace(secret, "***")
    return text


def check_base_url(url: str, setting: str, key_setting: str, error: type[Exception] = ValueError) -> None:
    """Refuse an OpenAI-compatible base URL (`setting` names where it was given) that carries credentials or a
    query, raising `error`: the key goes in the Authorization header only (httpx would turn `user:pass@` into
    Basic auth, and a query string mangles the request path). The message never repeats the URL's user info."""
    parts = urlsplit(url)
    where = f"{setting} ({public_url(url)})"
    if parts.username is not None or parts.password is not None:
        raise error(
            f"{where} holds user info (user:password@); remove it and put the API key in {key_setting} "
            "(sent as a Bearer header)")
    if parts.query or parts.fragment:
        raise error(
            f"{where} has a query string or fragment; give the plain base URL (e.g. https://host/v1) and put any "
            f"key in {key_setting}")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise error(f"{where} is not an http(s) URL; e.g. https://api.openai.com/v1")


def public_url(url: str) -> str:
    """A URL without user info, query or fragment (they may carry credentials)."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
