"""A persistent verdict cache: SQLite in WAL mode, shared by threads and processes.

The key is a SHA-256 over the judge's identity (kind, model, prompt template + version, decoding
and scoring settings) and the sample's answer, ground truth and triggers. Only successful
verdicts are stored: a judge failure is retried on the next run. Each verdict is committed as soon
as it is known, so a killed run loses nothing it had already judged.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from lmms_eval_eibench.judges.base import JudgeItem, Verdict

__all__ = ["CACHE_FILE", "VerdictCache", "default_cache_dir", "verdict_key"]

CACHE_FILE = "verdicts.sqlite3"
_SCHEMA = 1
_BUSY_TIMEOUT_MS = 60_000


def default_cache_dir() -> Path:
    """`$EIBENCH_CACHE_DIR`, else `$XDG_CACHE_HOME/lmms_eval_eibench/verdicts` (or `~/.cache/...`)."""
    from lmms_eval_eibench import config

    return config.verdict_cache_dir()


def verdict_key(identity: Mapping[str, Any], item: JudgeItem) -> str:
    """The cache key of `item` judged by a judge with `identity`."""
    material = json.dumps(
        {
            "judge": identity,
            "answer": item.answer,
            "ground_truth": item.ground_truth,
            "triggers": list(item.triggers),
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


class VerdictCache:
    """Key -> verdict payload. One SQLite connection per thread; WAL + busy timeout across processes."""

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self.directory = Path(directory).expanduser() if directory else default_cache_dir()
        self.path = self.directory / CACHE_FILE
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._setup()
        except (OSError, sqlite3.Error) as exc:
            raise OSError(
                f"cannot open the judge verdict cache {self.path}: {exc}; "
                "set EIBENCH_CACHE_DIR / --cache-dir to a writable folder, or disable it (--no-cache)"
            ) from exc

    def _connect(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            # isolation_level=None: every statement is its own transaction, committed at once.
            conn = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                                   check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def _setup(self) -> None:
        conn = self._connect()
        for attempt in range(50):
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS verdicts ("
                    " key TEXT PRIMARY KEY, schema INTEGER NOT NULL, verdict TEXT NOT NULL,"
                    " judge TEXT NOT NULL, created REAL NOT NULL)"
                )
                return
            except sqlite3.OperationalError as exc:  # another process is creating it
                if "locked" not in str(exc) or attempt == 49:
                    raise
                time.sleep(0.1)

    def get(self, key: str) -> dict[str, Any] | None:
        found = self.get_many([key])
        return found.get(key)

    def get_many(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The stored payloads of those `keys` that are cached."""
        conn = self._connect()
        found: dict[str, dict[str, Any]] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), 500):  # stay under SQLite's variable limit
            chunk = unique[start : start + 500]
            rows = conn.execute(
                f"SELECT key, verdict FROM verdicts WHERE schema = ? AND key IN ({','.join('?' * len(chunk))})",
                [_SCHEMA, *chunk],
            ).fetchall()
            found.update((k, json.loads(v)) for k, v in rows)
        return found

    def put(self, key: str, verdict: Verdict, identity: Mapping[str, Any]) -> None:
        """Store a successful verdict (failures are refused: they must be re-judged)."""
        if verdict.failed:
            raise ValueError("judge failures are not cached")
        self.put_many([(key, verdict)], identity)

    def put_many(self, entries: Iterable[tuple[str, Verdict]], identity: Mapping[str, Any]) -> None:
        rows = [
            (key, _SCHEMA, json.dumps(v.to_cache(), ensure_ascii=False), json.dumps(identity, sort_keys=True), time.time())
            for key, v in entries
            if not v.failed
        ]
        if not rows:
            return
        conn = self._connect()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany("INSERT OR REPLACE INTO verdicts VALUES (?, ?, ?, ?, ?)", rows)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def __len__(self) -> int:
        return self._connect().execute("SELECT COUNT(*) FROM verdicts").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                try:
                    conn.close()
                except sqlite3.Error:
                    pass
            self._connections.clear()
        self._local = threading.local()
