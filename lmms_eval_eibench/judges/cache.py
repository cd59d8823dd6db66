"""A persistent cache of what judges said: SQLite in WAL mode, shared by threads and processes.

It keeps the judge's *raw reply* (an LLM's text; the embedding judge's similarities), never our reading of
it: verdicts are parsed again on every read with the current parser and scoring options, so a parser fix or
`--trust-judge-total` reaches cached runs at no request. The key is a SHA-256 over the request that produced
the reply (`JudgeIdentity.reply_fields()`: judge kind, model, endpoint (API judges), prompt name, template file +
version, decoding, and the local judge's dtype when set) and the sample's answer, ground truth and triggers; each
row also stores that request in full, and the HTTP attempts the reply took, so a cache can be read (and rescored)
alone.

Only replies that held a verdict when they arrived are stored: a judge failure is asked again on the next run.
Each reply is committed as soon as it is known, so a killed run loses nothing it had already judged.

What can go wrong, and what the user is told (the message names the file): a full disk stops the run saying so and
how many replies are saved, intact, for the rerun; any other SQLite error runs SQLite's integrity check first, and
the cache is called damaged (delete it, or run without it) only when that check fails.

Every row carries a checksum, an unkeyed SHA-256 of its key, reply and attempt count. It detects *corruption*: a
row whose reply or count changed without its checksum (a bad disk, a half-done edit, another program writing the
file) stops the run instead of being served. It does not detect a *deliberate rewrite*: anyone who can write the
file can recompute a checksum, and a cache of rewritten replies (``{score: 5/5}`` everywhere) scores whatever it
says, with no request. The cache is as trusted as the user's other files: use only caches you made (a cache from
someone else is their numbers, not a rescoring). A key would not change that: it would have to sit on the same
machine, readable by whoever can write the cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmms_eval_eibench.judges.base import JudgeItem
from lmms_eval_eibench.judges.sqlite import Connections

__all__ = ["CACHE_FILE", "CachedReply", "ReplyCache", "ReplyCacheError", "ReplyCacheFull", "cache_files",
           "default_cache_dir", "reply_key"]

CACHE_FILE = "judge_replies.sqlite3"
_OLD_CACHE_FILE = "verdicts.sqlite3"  # plugin 0.1.0: parsed verdicts (parser 1), never read again
_SCHEMA = "2"
_SQLITE_FULL, _SQLITE_IOERR = 13, 10  # SQLite's primary result codes (sqlite3.Error.sqlite_errorcode & 0xFF)
_NEARLY_FULL = 64 * 1024  # bytes free under which an I/O error is the disk being full
_CHECK_TIMEOUT = 5.0  # seconds the integrity check waits for a lock
_REPLIES_TABLE = ("replies ( key TEXT PRIMARY KEY, raw TEXT NOT NULL, attempts INTEGER NOT NULL, request TEXT NOT NULL,"
                  " checksum TEXT NOT NULL, created REAL NOT NULL)")


class ReplyCacheError(OSError):
    """The cache file cannot be used (damaged, changed by hand, another schema, its disk full); the message names it
    and says how to go on."""


class ReplyCacheFull(ReplyCacheError):
    """The cache's disk is full: the replies saved so far are intact (the message says how many)."""


def default_cache_dir() -> Path:
    """`$EIBENCH_CACHE_DIR`, else `$XDG_CACHE_HOME/lmms_eval_eibench/verdicts` (or `~/.cache/...`)."""
    from lmms_eval_eibench import config

    return config.verdict_cache_dir()


def _request(identity: Mapping[str, Any], item: JudgeItem) -> str:
    return json.dumps(
        {"judge": identity, "answer": item.answer, "ground_truth": item.ground_truth, "triggers": list(item.triggers)},
        sort_keys=True, ensure_ascii=False, separators=(",", ":"),
    )


def cache_files(directory: str | os.PathLike[str] | None = None) -> list[Path]:
    """The SQLite files of the cache in ``directory`` (default ``default_cache_dir()``): the database, its WAL and
    shared-memory index (no command's output may replace one)."""
    database = Path(directory or default_cache_dir()) / CACHE_FILE
    return [database, database.with_name(f"{CACHE_FILE}-wal"), database.with_name(f"{CACHE_FILE}-shm")]


def reply_key(identity: Mapping[str, Any], item: JudgeItem) -> str:
    """The cache key of `item` asked of a judge with `identity`."""
    return hashlib.sha256(_request(identity, item).encode("utf-8")).hexdigest()


def _checksum(key: str, raw: str, attempts: int) -> str:
    return hashlib.sha256(f"{key}\0{attempts}\0{raw}".encode()).hexdigest()


@dataclass(frozen=True)
class CachedReply:
    """A judge reply as stored: the text and how many requests it took."""

    raw: str
    attempts: int


class ReplyCache:
    """Key -> the judge's raw reply. One SQLite connection per thread; WAL + busy timeout across processes."""

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self.directory = Path(directory).expanduser() if directory else default_cache_dir()
        self.path = self.directory / CACHE_FILE
        self._connections = Connections(self.path)
        if self.directory.exists() and not self.directory.is_dir():
            raise ReplyCacheError(
                f"the judge cache folder {self.directory} is a file; set EIBENCH_CACHE_DIR / --cache-dir to a folder, "
                "or run without the cache (--no-cache / EIBENCH_NO_CACHE=1)")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ReplyCacheError(
                f"cannot create the judge cache folder {self.directory}: {exc.strerror or exc}; set EIBENCH_CACHE_DIR "
                "/ --cache-dir to a writable folder, or run without the cache (--no-cache / EIBENCH_NO_CACHE=1)"
            ) from None
        self._guard(self._setup)
        old = self.directory / _OLD_CACHE_FILE
        if old.is_file():
            warnings.warn(
                f"{old} holds verdicts parsed by an older eibench (parser 1); they are never used: the cache now keeps "
                f"the judges' raw replies ({self.path}) and reads them with the current parser. Delete {old} to free "
                "the space.", stacklevel=2)

    # -- errors -----------------------------------------------------------------------------------

    def _damaged(self, problem: str) -> ReplyCacheError:
        return ReplyCacheError(
            f"the judge reply cache {self.path} {problem}. Delete it (rm '{self.path}'*) to start a new one (cached "
            "replies are lost and will be asked again), or run without it (--no-cache / EIBENCH_NO_CACHE=1)")

    def _guard(self, action: Any, *args: Any) -> Any:
        try:
            return action(*args)
        except ReplyCacheError:
            raise
        except sqlite3.DatabaseError as exc:  # "file is not a database", "database disk image is malformed", ...
            if isinstance(exc, sqlite3.OperationalError) and "unable to open" in str(exc):
                raise ReplyCacheError(
                    f"cannot open the judge reply cache {self.path} ({exc}); set EIBENCH_CACHE_DIR / --cache-dir to a "
                    "writable folder, or run without it (--no-cache / EIBENCH_NO_CACHE=1)") from None
            raise self._diagnosis(exc) from None

    def _disk_full(self, exc: sqlite3.DatabaseError) -> bool:
        code = getattr(exc, "sqlite_errorcode", 0) & 0xFF  # the primary result code of an extended one
        if code == _SQLITE_FULL:
            return True
        try:  # an I/O error writing the WAL index of a full disk
            return code == _SQLITE_IOERR and shutil.disk_usage(self.directory).free < _NEARLY_FULL
        except OSError:
            return False

    def _check(self) -> tuple[bool | None, str]:
        """SQLite's integrity check of the file, on a connection of its own: (True intact, False damaged, None when
        the check itself could not run, e.g. the file is locked; what to tell the user)."""
        try:
            conn = sqlite3.connect(self.path, timeout=_CHECK_TIMEOUT)
            try:
                found = [str(row[0]) for row in conn.execute("PRAGMA integrity_check").fetchall()]
                if found != ["ok"]:
                    return False, "; ".join(found[:3])
                count = conn.execute("SELECT COUNT(*) FROM replies").fetchone()[0]
            finally:
                conn.close()
        except sqlite3.OperationalError as exc:  # locked, an I/O error: says nothing about the file's pages
            return None, f"SQLite could not check it ({exc}); the replies saved so far are kept"
        except sqlite3.DatabaseError as exc:  # not a database, malformed
            return False, str(exc)
        return True, (f"{count} judge replies are saved in it, intact (SQLite's integrity check: ok), and a rerun "
                      "uses them")

    def _diagnosis(self, exc: sqlite3.DatabaseError) -> ReplyCacheError:
        """What an SQLite error means for the user's paid replies: a full disk, a cache that cannot be used now
        (intact, or not checkable), or, only when SQLite's integrity check says so, a damaged file."""
        intact, saved = self._check()
        if intact is False:
            return self._damaged(f"is damaged ({exc}; SQLite's integrity check: {saved})")
        if self._disk_full(exc):
            return ReplyCacheFull(
                f"the disk holding the judge reply cache {self.path} is full ({exc}): {saved}. Free space on that "
                "disk and run the same command again (or move the cache to another disk and point EIBENCH_CACHE_DIR "
                "/ --cache-dir at it); do not delete the cache, it holds paid replies")
        return ReplyCacheError(
            f"cannot use the judge reply cache {self.path} ({exc}): {saved}. Keep it, fix the cause (space, "
            "permissions, another program holding the file) and run the same command again, or run without it "
            "(--no-cache / EIBENCH_NO_CACHE=1)")

    def _connect(self) -> sqlite3.Connection:
        return self._connections.get()

    def _setup(self) -> None:
        schema = self._connections.create([_REPLIES_TABLE], {"schema": _SCHEMA}).get("schema")
        if schema != _SCHEMA:
            raise self._damaged(f"has schema {schema or 'none'!r}, not {_SCHEMA!r} (another eibench version)")

    # -- reading and writing ----------------------------------------------------------------------

    def get_many(self, keys: Sequence[str]) -> dict[str, CachedReply]:
        """The stored replies of those `keys` that are cached."""
        return self._guard(self._get_many, keys)

    def _get_many(self, keys: Sequence[str]) -> dict[str, CachedReply]:
        conn = self._connect()
        found: dict[str, CachedReply] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), 500):  # stay under SQLite's variable limit
            chunk = unique[start : start + 500]
            rows = conn.execute(
                f"SELECT key, raw, attempts, checksum FROM replies WHERE key IN ({','.join('?' * len(chunk))})", chunk,
            ).fetchall()
            for key, raw, attempts, checksum in rows:
                if not isinstance(raw, str) or not isinstance(attempts, int) or checksum != _checksum(key, raw, attempts):
                    raise self._damaged(f"has a row whose checksum does not match (key {key}): damaged, or changed "
                                        "outside eibench")
                found[key] = CachedReply(raw, attempts)
        return found

    def put_many(self, entries: Iterable[tuple[str, JudgeItem, str, int]], identity: Mapping[str, Any]) -> None:
        """Store (key, item, raw reply, attempts) entries: replies that held a verdict."""
        rows = [
            (key, raw, attempts, _request(identity, item), _checksum(key, raw, attempts), time.time())
            for key, item, raw, attempts in entries
        ]
        if rows:
            self._guard(self._put, rows)

    def _put(self, rows: list[tuple[Any, ...]]) -> None:
        self._connections.write_many("INSERT OR REPLACE INTO replies VALUES (?, ?, ?, ?, ?, ?)", rows)

    def __len__(self) -> int:
        return self._guard(lambda: self._connect().execute("SELECT COUNT(*) FROM replies").fetchone()[0])

    def close(self) -> None:
        self._connections.close()
