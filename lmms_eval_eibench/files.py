"""Reading user files with errors that name file and line, and writing outputs atomically (never half a file).

Every command reads JSONL (annotations, captions, samples, answers) and writes files; they share these helpers.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class InputFileError(ValueError):
    """Bad input: the message names the file and line (or key) and, when known, the fix."""

    def __init__(self, where: str, problem: str, fix: str | None = None):
        self.where, self.problem, self.fix = where, problem, fix
        super().__init__(f"{where}: {problem}" + (f". Fix: {fix}" if fix else ""))


class DuplicateKey(Exception):
    """Raised by refuse_duplicate_keys; callers that know the file turn it into an InputFileError."""

    def __init__(self, key: str):
        self.key = key


def refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A json ``object_pairs_hook``: json.loads would silently keep the last of two equal keys."""
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise DuplicateKey(key)
        obj[key] = value
    return obj


def read_jsonl(path: str | os.PathLike[str], *, unique_keys: bool = False,
               error: type[InputFileError] = InputFileError) -> Iterator[tuple[int, Any]]:
    """(line number, parsed object) for every non-blank line; ``unique_keys`` refuses an object with a repeated
    key. Raises ``error`` naming ``path:line``."""
    path = Path(path)
    text = read_text(path, error=error)
    hook = refuse_duplicate_keys if unique_keys else None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            yield number, json.loads(line, object_pairs_hook=hook)
        except DuplicateKey as dup:
            raise error(where, f"duplicate key {dup.key!r}", "keep one entry per key") from None
        except json.JSONDecodeError as err:
            # json's messages for a string or comment run on to "... starting at"; the column says where
            reason = err.msg.removesuffix(" at").removesuffix(" starting")
            raise error(where, f"malformed JSON ({reason} at column {err.colno})",
                        "make every line one complete JSON object") from None


def read_text(path: str | os.PathLike[str], *, error: type[InputFileError] = InputFileError) -> str:
    """A user's UTF-8 text file (a byte-order mark is allowed and dropped). Raises ``error`` naming the file, and
    the line of the first byte that is not UTF-8."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise error(str(path), "file not found", "check the path") from None
    except IsADirectoryError:
        raise error(str(path), "is a folder, not a file", "give the path of the file itself") from None
    except OSError as err:
        raise error(str(path), f"cannot read ({err.strerror or err})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise error(f"{path}:{line}", f"not UTF-8 text (byte 0x{data[err.start]:02x} at byte {err.start})",
                    "save the file as UTF-8") from None


def _umask() -> int:
    # Linux shows the umask without changing it; os.umask(0) elsewhere would, for an instant, for every thread
    try:
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0)  # the portable way to read it; set back at once
    os.umask(mask)
    return mask


def check_output_file(path: str | os.PathLike[str], option: str,
                      inputs: Iterable[str | os.PathLike[str]] = ()) -> None:
    """Everything that can go wrong writing the file ``path`` (given as ``option``), checked before any work,
    so every command fails the same way: a message with the fix, never a traceback. ``inputs`` are the files the
    command reads (none is ever written over) and data folders, none of whose files is written over."""
    path = Path(path)
    where = f"{option} {path}"
    if path.is_dir():
        raise InputFileError(where, "is a folder", f"give a file name, e.g. {path / 'out'}{path.suffix}")
    if path.parent.exists() and not path.parent.is_dir():
        raise InputFileError(where, f"{path.parent} is a file, not a folder", "choose a path in a folder")
    if not path.parent.is_dir():
        raise InputFileError(where, f"folder {path.parent} does not exist", "create it or choose another path")
    for given in inputs:  # every file the command reads, and folders all of whose files it may read
        source = Path(given)
        if not (source.exists() and path.exists()):
            continue
        if source.is_dir() and path.resolve().is_relative_to(source.resolve()):
            raise InputFileError(where, f"is a file inside the input folder {source} (it would be overwritten)",
                                 "choose a path outside it")
        if os.path.samefile(path, source):  # the same file under another name, a link included
            raise InputFileError(where, "is the input file (it would be overwritten)", "choose another file name")
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise InputFileError(where, "cannot be written (no permission or a read-only file system)",
                             "choose a writable path")


_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)  # no space left, over quota, over the file size limit


def _unwritable(path: Path, err: OSError) -> InputFileError:
    """An OS error writing the output ``path`` as a message with the fix (a full disk is said to be one)."""
    fix = ("free space on that disk, or choose a path on another one" if err.errno in _FULL
           else "choose a writable path")
    return InputFileError(str(path), f"cannot be written ({err.strerror or err})", fix)


def check_output_folder(path: str | os.PathLike[str], option: str) -> None:
    """A folder a harness will write into later (``path``, given as ``option``), checked now by creating and
    removing an empty file in it, or in the nearest folder of it that exists (the harness creates the rest): a
    path under a file or on a read-only file system fails here, root included (modes would not stop root). Nothing
    is left behind."""
    path = Path(path)
    where = f"{option} {path}"
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise InputFileError(where, f"{existing} is a file, not a folder", "choose a folder path")
    try:
        fd, probe = tempfile.mkstemp(prefix=".eibench-write-check-", dir=existing)
    except OSError as err:
        fix = ("free space on that disk, or choose a folder on another one" if err.errno in _FULL
               else "choose a writable folder")
        raise InputFileError(where, f"cannot be written ({err.strerror or err}, in {existing})", fix) from None
    os.close(fd)
    os.unlink(probe)


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary path beside ``path`` that replaces it only when the block succeeds. An OS error creating,
    writing (a full disk) or renaming it is an InputFileError naming the path; ``path`` is then left as it was."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    except OSError as err:
        raise _unwritable(path, err) from None
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's file is 0600; outputs follow the umask like any new file
    try:
        try:
            yield Path(tmp)
            os.replace(tmp, path)
        except OSError as err:
            raise _unwritable(path, err) from None
    finally:
        Path(tmp).unlink(missing_ok=True)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file, so a failure never leaves half a file behind."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8", newline="")  # "\n" stays "\n" on every platform
    return Path(path)
