"""Content-verified cache entries: conversions, reference outputs, offline models, accuracy.

An entry is a directory `<cache_dir>/<kind>/<key>/` holding the files a builder wrote and a
`manifest.json` with the SHA-256 of each. It appears atomically (built in a temporary
directory, fsynced, renamed) under a file lock, so concurrent jobs build it once. On reuse
every file is hashed again and compared with the manifest: a missing, extra, truncated or
altered file, or a damaged manifest, means the entry is rebuilt and the caller is told why
(the row's `cache_note`) — a damaged artifact is never measured.

The manifest detects damage, not forgery: whoever can rewrite a cached file can rewrite its
manifest too. That is why nothing in the cache is ever loaded through a path that can run
code: artifacts are ONNX protobufs, OpenVINO IR, safetensors, JSON and `.npy` read with
`allow_pickle=False` (README: "Trust model").
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from harness.locking import file_lock
from harness.untrusted import json_loads, open_regular, read_regular

T = TypeVar("T")

MANIFEST = "manifest.json"
HASH_CHUNK = 1 << 22


@dataclass
class CacheResult:
    """A ready cache entry. `build_s` is 0 on a hit; `note` says why an entry was rebuilt."""

    path: Path
    hit: bool
    build_s: float
    size_mb: float
    note: str | None = None


def file_sha256(path: Path, follow_links: bool = False) -> str:
    """SHA-256 of a regular file. Files in caches and result directories are untrusted: a FIFO, a device
    or (unless `follow_links`, for a model file the user named) a symbolic link raises OSError at once
    (untrusted.open_regular) instead of blocking or hashing something else."""
    digest = hashlib.sha256()
    with open_regular(path, follow_links=follow_links) as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _files(directory: Path) -> list[str]:
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file() and p.name != MANIFEST)


def _fsync_tree(directory: Path) -> None:
    for path in [*directory.rglob("*"), directory]:
        flags = os.O_RDONLY | (os.O_DIRECTORY if path.is_dir() else 0)
        fd = os.open(path, flags)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_manifest(directory: Path, key: str | None = None) -> None:
    """The manifest of `directory`: the SHA-256 of each file, and the entry's `key` (default: the
    directory's name), which verify compares with the name it is found under."""
    manifest = {name: file_sha256(directory / name) for name in _files(directory)}
    record = {"key": directory.name if key is None else key, "sha256": manifest}
    (directory / MANIFEST).write_text(json.dumps(record, indent=1, sort_keys=True))


def verify(directory: Path) -> str | None:
    """None when every file matches the manifest and the manifest names the entry's key where it records
    one (its directory's name: two entries swapped between keys were each whole, and the accuracy of one
    configuration was served for another); otherwise what is wrong, in a few words."""
    try:
        manifest = json_loads(read_regular(directory / MANIFEST))
        recorded = manifest["sha256"]
        if not isinstance(recorded, dict):
            raise TypeError("not a mapping")
    except FileNotFoundError:
        return "no manifest"
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"manifest unreadable ({type(exc).__name__})"
    # a manifest written before keys were recorded names none: its entry stands (offline models keyed on their
    # recipe alone would be refitted for minutes and called damaged)
    if "key" in manifest and manifest["key"] != directory.name:
        return f"its manifest names another key ({str(manifest['key'])[:80]!r}): filed under the wrong name"
    present = _files(directory)
    if sorted(recorded) != present:
        missing, extra = sorted(set(recorded) - set(present)), sorted(set(present) - set(recorded))
        parts = ([f"missing {', '.join(missing)}"] if missing else []) + (
            [f"unexpected {', '.join(extra)}"] if extra else []
        )
        return "; ".join(parts)
    for name, digest in recorded.items():
        try:
            found = file_sha256(directory / name)
        except OSError as exc:  # a link or a FIFO where a file was
            return f"{name} is unreadable ({exc.strerror})"
        if found != digest:
            return f"{name} changed since it was written (sha256 mismatch)"
    return None


def present(path: Path) -> bool:
    """Something is at `path`: a dangling symbolic link too (os.replace and a rewrite must see it)."""
    return path.is_symlink() or path.exists()


def _entry_problem(path: Path) -> str | None:
    """None for a plain directory whose files match its manifest; otherwise what is wrong."""
    if path.is_symlink() or not path.is_dir():
        return "not a plain directory"
    return verify(path)


def _remove(path: Path) -> None:
    """Remove an entry whatever it is: a directory, or a file or symlink someone put in its place
    (rmtree refuses those, and ignore_errors would leave them there for good)."""
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)


def size_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file() and p.name != MANIFEST) / 2**20


def _kind_directory(cache_dir: Path, kind: str) -> str | None:
    """Make `<cache_dir>/<kind>/` a plain directory. Something else in its place (a file, a symbolic
    link: a cache from elsewhere, or damage) is not what the cache made: it is removed (a link, never
    what it points to) and the directory made, so the job builds its entries instead of failing.
    Returns a note saying so, else None. Another process doing the same at once is harmless: a
    directory is never removed here."""
    path = Path(cache_dir) / kind
    note = None
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        what = "a symbolic link" if path.is_symlink() else "no directory"
        with contextlib.suppress(FileNotFoundError, IsADirectoryError):
            path.unlink()
        note = f"cache directory {path} was {what}; replaced by an empty one, its entries are rebuilt"
    path.mkdir(parents=True, exist_ok=True)
    return note


def cached_entry(cache_dir: Path, kind: str, key: str, build: Callable[[Path], None]) -> CacheResult:
    """The verified entry `<cache_dir>/<kind>/<key>/`, built by `build(directory)` when missing
    or damaged. Exceptions from `build` propagate; nothing half-built is left behind."""
    final = Path(cache_dir) / kind / key
    note = _kind_directory(cache_dir, kind)
    with file_lock(final.with_name(key + ".lock")):
        if present(final):
            problem = _entry_problem(final)
            if problem is None:
                return CacheResult(final, True, 0.0, size_mb(final))
            note = "; ".join(filter(None, [note, f"cache entry {final} was damaged ({problem}); rebuilt"]))
            _remove(final)
        tmp = final.with_name(f".{key}.{os.getpid()}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        try:
            started = time.perf_counter()
            build(tmp)
            build_s = time.perf_counter() - started
            write_manifest(tmp, key)
            _fsync_tree(tmp)
            os.replace(tmp, final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return CacheResult(final, False, build_s, size_mb(final), note)


def lookup(cache_dir: Path, kind: str, key: str) -> Path | None:
    """The verified entry `<cache_dir>/<kind>/<key>/` if it exists; a damaged one is removed (None)."""
    final = Path(cache_dir) / kind / key
    if not present(final):
        return None
    _kind_directory(cache_dir, kind)  # an entry under a linked kind directory is no entry of this cache
    if not present(final):
        return None
    with file_lock(final.with_name(key + ".lock")):
        if present(final) and _entry_problem(final) is None:
            return final
        _remove(final)
    return None


def discard(cache_dir: Path, kind: str, key: str) -> None:
    """Remove the entry `<cache_dir>/<kind>/<key>/` (verified, yet holding what cannot be right), so
    the next cached_entry builds it again."""
    final = Path(cache_dir) / kind / key
    _kind_directory(cache_dir, kind)
    with file_lock(final.with_name(key + ".lock")):
        _remove(final)


def cached_value(
    cache_dir: Path, kind: str, key: str, build: Callable[[Path], None], read: Callable[[Path], T], flaw: str
) -> tuple[T, str | None]:
    """`read(entry)` of the entry cached_entry gives. The manifest detects damage, not forgery: when
    `read` refuses what a verified entry holds (OSError, ValueError, KeyError or TypeError), the entry
    is discarded, built again and read once more (errors then propagate). Returns (value, a note when
    the entry was rebuilt, saying it `flaw`, e.g. "was not a plain array")."""
    entry = cached_entry(cache_dir, kind, key, build)
    try:
        return read(entry.path), entry.note
    except (OSError, ValueError, KeyError, TypeError) as exc:
        refused = exc
    discard(cache_dir, kind, key)
    entry = cached_entry(cache_dir, kind, key, build)
    return read(entry.path), f"cache entry {entry.path} {flaw} ({refused}); rebuilt"


CODE_PACKAGES = ("harness", "runtimes", "workloads")


@functools.cache
def code_fingerprint() -> str:
    """SHA-256 (first 16 hex digits) of this checkout's code that makes or scores cached content:
    every `.py` file of CODE_PACKAGES, by relative path and bytes. It joins the keys of conversions,
    reference outputs and accuracy scores, so an entry made by other code — another commit, or the same
    commit with local edits, which `harness_git_sha` cannot tell apart — is never reused. Any change
    counts, even one that could not change the content: a rebuild costs time, a stale entry a wrong
    number."""
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for package in CODE_PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def identity_key(identity: object, length: int = 20) -> str:
    """A short, stable hash of a JSON-able description of what determines an entry's content."""
    text = json.dumps(identity, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def checked_directory(path: Path) -> str | None:
    """For a cache directory that a library fills itself (OpenVINO's torch.compile backend cache):
    when it holds files, verify them against the manifest `seal` wrote; a damaged one is emptied.
    Returns a note when it was."""
    path = Path(path)
    if not present(path) or (path.is_dir() and not path.is_symlink() and not any(path.iterdir())):
        return None
    problem = _entry_problem(path)
    if problem is None:
        return None
    _remove(path)
    return f"cache directory {path} was damaged ({problem}); emptied, its contents are rebuilt"


def seal(path: Path) -> None:
    """Record the SHA-256 of every file the library wrote into `path` (see checked_directory)."""
    if Path(path).exists():
        write_manifest(Path(path))
