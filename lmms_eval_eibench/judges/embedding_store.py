"""The embedding judge's store of trigger embeddings: the ground truth is embedded once, not every run.

Content-addressed: one SQLite file per embedding model fingerprint (built by `EmbeddingJudge._open_store`:
model name, a hash of its files, max_seq_length, normalization, encoder and library versions, method version),
rows keyed by the SHA-256 of the text. A text's vector does not depend on which dataset it came from,
so the store is dataset-safe by construction, and a second dataset, template or evaluated model finds
the triggers it shares with earlier runs already embedded.

SQLite in WAL mode with a busy timeout, like the verdict cache: several threads and processes (lmms-eval
ranks) may read and write at once. A missing, unreadable or corrupt file is rebuilt with an
`EmbeddingStoreWarning`; if even that fails (a read-only folder) the judge goes on without a store. The
store only ever saves time: it never raises into a run and never changes a verdict.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from lmms_eval_eibench.judges.sqlite import Connections

__all__ = ["STORE_VERSION", "EmbeddingStore", "EmbeddingStoreWarning", "files_digest", "text_key"]

STORE_VERSION = 1  # bump when the file layout changes (part of every fingerprint)
_CHUNK = 500  # stay under SQLite's variable limit


class EmbeddingStoreWarning(UserWarning):
    """The embedding store was missing, unreadable or corrupt and was rebuilt (or is not used)."""


def text_key(text: str) -> bytes:
    """The store key of `text` (its SHA-256)."""
    return hashlib.sha256(text.encode("utf-8")).digest()


def files_digest(folder: str | os.PathLike[str]) -> str:
    """SHA-256 over every file of a model folder (relative path + content; READMEs skipped): a new
    revision or a locally edited file gets a new store."""
    root = Path(folder)
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root).as_posix()
        if path.suffix.lower() == ".md" or relative.startswith(".") or "/." in relative:
            continue
        digest.update(relative.encode("utf-8") + b"\0")
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        digest.update(b"\0")
    return digest.hexdigest()


class EmbeddingStore:
    """Text -> float32 unit vector of one embedding model (`fingerprint`), persisted in `directory`."""

    def __init__(self, directory: str | os.PathLike[str], fingerprint: Mapping[str, Any], dim: int) -> None:
        self.fingerprint = json.dumps(dict(fingerprint), sort_keys=True, separators=(",", ":"))
        self.dim = int(dim)
        name = hashlib.sha256(self.fingerprint.encode("utf-8")).hexdigest()[:24]
        self.directory = Path(directory).expanduser()
        self.path = self.directory / f"{name}.sqlite3"
        self._connections = Connections(self.path)
        self.usable = True
        self._open()

    # -------------------------------------------------------------------------------------- public

    def get_many(self, texts: Sequence[str]) -> dict[str, Any]:
        """The stored vectors of those `texts` that are in the store (numpy float32 arrays)."""
        import numpy as np

        if not self.usable or not texts:
            return {}
        by_key = {text_key(t): t for t in texts}
        keys = list(by_key)
        found: dict[str, Any] = {}

        def read() -> None:
            conn = self._connect()
            for start in range(0, len(keys), _CHUNK):
                chunk = keys[start : start + _CHUNK]
                rows = conn.execute(
                    f"SELECT key, vector FROM vectors WHERE key IN ({','.join('?' * len(chunk))})", chunk
                ).fetchall()
                for key, blob in rows:
                    # A short or long blob (a torn or foreign row) is treated as missing and overwritten.
                    if isinstance(blob, bytes) and len(blob) == 4 * self.dim:
                        found[by_key[bytes(key)]] = np.frombuffer(blob, dtype=np.float32)

        self._guard("read", read)
        return found

    def put_many(self, vectors: Iterable[tuple[str, Any]]) -> None:
        """Store (text, vector) pairs in one transaction."""
        import numpy as np

        rows = [(text_key(t), np.asarray(v, dtype=np.float32).tobytes()) for t, v in vectors]
        if not self.usable or not rows:
            return
        bad = [len(blob) for _, blob in rows if len(blob) != 4 * self.dim]
        if bad:
            raise ValueError(f"embedding store {self.path}: expected {self.dim}-dimensional vectors")

        self._guard("write", lambda: self._connections.write_many("INSERT OR REPLACE INTO vectors VALUES (?, ?)", rows))

    def __len__(self) -> int:
        if not self.usable:
            return 0
        count: list[int] = []
        self._guard("read", lambda: count.append(self._connect().execute("SELECT COUNT(*) FROM vectors").fetchone()[0]))
        return count[0] if count else 0

    def close(self) -> None:
        self._connections.close()

    # -------------------------------------------------------------------------------------- internals

    def _connect(self) -> sqlite3.Connection:
        return self._connections.get()

    def _setup(self) -> None:
        """Create the tables (idempotent) and check the file belongs to this fingerprint."""
        self.directory.mkdir(parents=True, exist_ok=True)
        meta = self._connections.create(["vectors (key BLOB PRIMARY KEY, vector BLOB NOT NULL)"],
                                        {"fingerprint": self.fingerprint, "dim": str(self.dim)})
        conn = self._connect()
        if meta.get("fingerprint") != self.fingerprint or meta.get("dim") != str(self.dim):
            raise sqlite3.DatabaseError("the file belongs to another embedding model")
        # A full check reads every page: cheap at this size (a few MB per model), and it is what finds
        # a file damaged in the middle rather than at its header.
        if conn.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            raise sqlite3.DatabaseError("integrity check failed")

    def _open(self) -> None:
        try:
            self._setup()
            return
        except (OSError, sqlite3.Error) as exc:
            first = exc
        self._rebuild(first)

    def _rebuild(self, reason: BaseException) -> None:
        """Move a bad file aside and start an empty store; without one the judge just encodes everything."""
        self.close()
        exists = self.path.exists()
        try:
            if exists:
                os.replace(self.path, self.path.with_name(self.path.name + ".corrupt"))
            for suffix in ("-wal", "-shm"):
                Path(str(self.path) + suffix).unlink(missing_ok=True)
            self._setup()
        except (OSError, sqlite3.Error) as exc:
            self.close()
            self.usable = False
            warnings.warn(
                f"embedding store {self.path} cannot be used ({type(exc).__name__}: {exc}); trigger embeddings are "
                "computed again in every run. Set EIBENCH_CACHE_DIR / --cache-dir to a writable local folder",
                EmbeddingStoreWarning, stacklevel=3,
            )
            return
        if exists:
            warnings.warn(
                f"embedding store {self.path} was unreadable ({type(reason).__name__}: {reason}); moved it to "
                f"{self.path.name}.corrupt and started an empty one (trigger embeddings are computed again once)",
                EmbeddingStoreWarning, stacklevel=3,
            )

    def _guard(self, what: str, action: Any) -> None:
        """Run a read or write. A corrupt file is rebuilt and the action retried once; a busy or read-only
        database (the file may be fine) or a second failure turns the store off for this process."""
        try:
            action()
            return
        except sqlite3.OperationalError as exc:  # locked past the busy timeout, read-only, disk full
            failure: sqlite3.Error = exc
        except sqlite3.Error as exc:  # not a database, malformed image
            self._rebuild(exc)
            if not self.usable:
                return
            try:
                action()
                return
            except sqlite3.Error as again:
                failure = again
        self.close()
        self.usable = False
        warnings.warn(
            f"embedding store {self.path}: {what} failed ({type(failure).__name__}: {failure}); going on without it",
            EmbeddingStoreWarning, stacklevel=3,
        )
