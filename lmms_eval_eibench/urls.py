"""URLs and secrets of the OpenAI-compatible endpoints (the judge's, CFSA's summarizer's): a URL is shown and
recorded without user info, query or a key in its path (`public_url`), refused when it carries credentials in user
info or a query (`check_base_url`); a key is cut out of any text (`redact`), two URLs are compared in their public
form (`same_endpoint`) and httpx never logs a request URL (`quiet_http_logs`). Cheap to import.

A key in a URL's path (some gateways take one there, e.g. ``https://proxy/sk-.../v1``) cannot be refused: the
request needs it. It is replaced by ``***`` wherever the URL is shown or recorded: a path segment holding the
configured API key, starting with a common key prefix (``sk-``, ``sk_``, ``hf_``, ``gsk_``, ``xai-``), or holding a
run of 20 or more letters and digits mixing both (a random token; a model or deployment name has shorter runs)."""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit, urlunsplit

__all__ = ["check_base_url", "public_url", "quiet_http_logs", "redact", "same_endpoint", "secrets_of"]

HIDDEN = "***"
_KEY_PREFIXES = ("sk-", "sk_", "hf_", "gsk_", "xai-")
_TOKEN_RUN = re.compile(r"[A-Za-z0-9]{20,}")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def quiet_http_logs() -> None:
    """Keep httpx/httpcore (and httpx2/httpcore2, under the `openai` SDK) below INFO: httpx logs every request URL
    at INFO, user info and query included, and those may carry credentials. Called where our HTTP clients are
    created."""
    for name in ("httpx", "httpcore", "httpx2", "httpcore2"):
        logger = logging.getLogger(name)
        if logger.level < logging.WARNING:
            logger.setLevel(logging.WARNING)


def redact(text: str, secret: str | None) -> str:
    """`text` with every occurrence of `secret` replaced by `***`."""
    if secret and len(secret) >= 4:
        return text.replace(secret, "***")
    return text


def check_base_url(url: str, setting: str, key_setting: str, error: type[Exception] = ValueError,
                   secret: str | None = None) -> None:
    """Refuse an OpenAI-compatible base URL (`setting` names where it was given) that carries credentials or a
    query, raising `error`: the key goes in the Authorization header only (httpx would turn `user:pass@` into
    Basic auth, and a query string mangles the request path). The message never repeats the URL's user info."""
    parts = urlsplit(url)
    where = f"{setting} ({public_url(url, secret)})"
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


def _is_key(segment: str, secret: str | None) -> bool:
    """Whether a URL path segment holds a key (see the module docstring)."""
    if secret and len(secret) >= 4 and secret in segment:
        return True
    if segment.lower().startswith(_KEY_PREFIXES):
        return True
    return any(re.search(r"[A-Za-z]", run) and re.search(r"[0-9]", run) for run in _TOKEN_RUN.findall(segment))


def secrets_of(url: str, secret: str | None = None) -> tuple[str, ...]:
    """The secrets a client of ``url`` must cut out of every message: ``secret`` (the API key) and the path
    segments of ``url`` that hold a key."""
    found = [segment for segment in urlsplit(url).path.split("/") if segment and _is_key(segment, secret)]
    return tuple(dict.fromkeys([*([secret] if secret else []), *found]))


def public_url(url: str, secret: str | None = None) -> str:
    """A URL without user info, query or fragment, and with any path segment holding a key (``secret``, the
    configured API key, or one that looks like a key) replaced by ``***``: they may carry credentials."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if ":" in netloc:  # an IPv6 address keeps its brackets
        netloc = f"[{netloc}]"
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    path = "/".join(HIDDEN if _is_key(segment, secret) else segment for segment in parts.path.split("/"))
    return urlunsplit((parts.scheme, netloc, path, "", ""))


def same_endpoint(a: str, b: str) -> bool:
    """Whether two base URLs name the same endpoint, compared in their public form (scheme and host in any case,
    a default port given or not, a trailing slash or not)."""

    def canonical(url: str) -> tuple[str, str, int | None, str]:
        parts = urlsplit(public_url(url.strip()))
        scheme = parts.scheme.lower()
        port = parts.port if parts.port != _DEFAULT_PORTS.get(scheme) else None
        return scheme, (parts.hostname or "").lower(), port, parts.path.rstrip("/")

    try:
        return canonical(a) == canonical(b)
    except ValueError:  # a port that is not a number: not a URL anyone configured
        return False
