"""SQLite for the plugin's caches: one connection per thread on a WAL file that threads and processes share."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["Connections"]

_BUSY_TIMEOUT_MS = 60_000  # writers of other processes (lmms-eval ranks) wait, never fail
_SETUP_ATTEMPTS = 50  # x 0.1 s: another process creating the same file holds a lock that busy_timeout does not wait on


class Connections:
    """Per-thread connections to one SQLite file, in autocommit mode (every statement commits at once)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = path
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def get(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                                   check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def create(self, tables: Sequence[str], meta: Mapping[str, str]) -> dict[str, str]:
        """Set up the file (idempotent): WAL mode, a `meta` table (name -> value) given the `meta` values it does not
        hold yet, and the `tables` (`name (columns)`). Waits while another process sets up the same file. Returns
        the file's meta values, for the caller to check they are its own."""
        conn = self.get()
        for attempt in range(_SETUP_ATTEMPTS):
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
                conn.executemany("INSERT OR IGNORE INTO meta VALUES (?, ?)", list(meta.items()))
                for table in tables:
                    conn.execute(f"CREATE TABLE IF NOT EXISTS {table}")
                break
            except sqlite3.OperationalError as exc:  # another process is creating it
                if "locked" not in str(exc) or attempt == _SETUP_ATTEMPTS - 1:
                    raise
                time.sleep(0.1)
        return dict(conn.execute("SELECT name, value FROM meta").fetchall())

    def write_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """`sql` for every row, in one immediate transaction (all or nothing)."""
        conn = self.get()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(sql, rows)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                try:
                    conn.close()
                except sqlite3.Error:
                    pass
            self._all.clear()
        self._local = threading.local()
