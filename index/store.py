"""The index directory: immutable versions, switched atomically.

    <index_dir>/CURRENT            name of the live version (replaced with os.replace)
    <index_dir>/versions/<name>/   manifest.json plus the component files
    <index_dir>/.lock              held by a writer for the whole of an update

A writer builds a complete new version in a staging folder, fsyncs it, renames it
into `versions/` and only then points CURRENT at it. A process killed at any
moment therefore leaves either the old version or the new one live, never a
mixture; staging folders it left behind are removed by the next writer.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import REBUILD_HINT, IndexCorruptError, IndexNotFoundError
from .manifest import seal, unseal

MANIFEST = "manifest.json"
# Files up to this size are checksummed on every open; bigger ones are checked
# by size on open and fully by `verify` (hashing gigabytes would make opening slow).
_HASH_ON_OPEN_LIMIT = 64 * 1024 * 1024
# A damaged live version cannot be updated incrementally, so the fix is a rebuild.
_FIX = REBUILD_HINT
# Folders of versions being pruned, and of builds not yet committed: never live.
_STAGING, _TRASH = ".staging-", ".trash-"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(dirpath))


class IndexDirectory:
    """Versioned storage for one index; knows nothing of what the files contain."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.versions = self.root / "versions"

    # ---- reading ----
    def exists(self) -> bool:
        return (self.root / "CURRENT").is_file()

    def current(self) -> tuple[str, Path]:
        """Name and folder of the live version; IndexNotFoundError when there is none."""
        pointer = self.root / "CURRENT"
        if not pointer.is_file():
            raise IndexNotFoundError(
                f"no index at {self.root}: run `policyqa ingest PATH` first (or set --index-dir / POLICYQA_INDEX_DIR)"
            )
        name = pointer.read_text(encoding="utf-8").strip()
        folder = self.versions / name
        if not name or "/" in name or not folder.is_dir():
            raise IndexCorruptError(f"{pointer} names version {name!r}, which is missing: {_FIX}")
        return name, folder

    def read_manifest(self, folder: Path, verify_all: bool = False) -> dict[str, Any]:
        """The manifest of a version, after checking its format, its checksum and
        every file it lists (sizes always; contents up to 64 MB, or all of them
        with `verify_all`)."""
        path = folder / MANIFEST
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, ValueError) as exc:
            raise IndexCorruptError(f"{path} is unreadable ({exc.__class__.__name__}): {_FIX}") from exc
        manifest = unseal(text, str(path), _FIX)
        listed = manifest.get("files")
        if not isinstance(listed, dict):
            raise IndexCorruptError(f"{path} lists no files: {_FIX}")
        for rel, info in listed.items():
            file = folder / rel
            try:
                size, digest = int(info["size"]), str(info["sha256"])
            except (TypeError, KeyError, ValueError) as exc:
                raise IndexCorruptError(f"{path} has a damaged entry for {rel!r}: {_FIX}") from exc
            if not file.is_file() or file.stat().st_size != size:
                raise IndexCorruptError(f"{file} is missing or truncated: {_FIX}")
            if (verify_all or size <= _HASH_ON_OPEN_LIMIT) and _sha256(file) != digest:
                raise IndexCorruptError(f"{file} does not match its checksum (altered or damaged): {_FIX}")
        return manifest

    # ---- writing ----
    @contextlib.contextmanager
    def writer_lock(self) -> Iterator[None]:
        """Exclusive lock across processes for the duration of one update."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def leftovers(self) -> list[Path]:
        """What a killed writer left behind: staging folders, versions being
        pruned, versions renamed into place but never made live, CURRENT.tmp.
        Only reads, so a reader may call it without the writer lock."""
        found = []
        if self.versions.is_dir():
            try:
                live = self.current()[0] if self.exists() else None
            except IndexCorruptError:
                live = None
            for child in self.versions.iterdir():
                # A version newer than the live one was renamed into place but
                # never made live: the writer died between the two steps. With
                # no (readable) CURRENT, no version is taken for an orphan: each
                # is complete, and deleting them all could lose the only copy.
                unreferenced = live is not None and child.name > live
                if child.name.startswith((_STAGING, _TRASH)) or unreferenced:
                    found.append(child)
        tmp = self.root / "CURRENT.tmp"
        if tmp.exists():
            found.append(tmp)
        return found

    def clean_staging(self) -> list[str]:
        """Remove `leftovers()` (call with the writer lock held); returns their names."""
        removed = []
        for path in self.leftovers():
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path.name)
        return removed

    def new_staging(self) -> Path:
        self.versions.mkdir(parents=True, exist_ok=True)
        path = self.versions / f"{_STAGING}{uuid.uuid4().hex[:12]}"
        path.mkdir()
        return path

    def commit(self, staging: Path, manifest: dict[str, Any]) -> str:
        """Seal `staging` as the new live version; returns its name."""
        files = {}
        for file in sorted(p for p in staging.rglob("*") if p.is_file()):
            rel = file.relative_to(staging).as_posix()
            files[rel] = {"size": file.stat().st_size, "sha256": _sha256(file)}
        (staging / MANIFEST).write_text(seal(manifest, files), encoding="utf-8")
        _fsync_tree(staging)
        # Names sort by time, so "newer than live" is decidable when cleaning up.
        name = time.strftime("v%Y%m%dT%H%M%S", time.gmtime()) + f"-{time.time_ns() % 10**9:09d}"
        final = self.versions / name
        os.rename(staging, final)
        _fsync_dir(self.versions)
        tmp = self.root / "CURRENT.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(name)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.root / "CURRENT")
        _fsync_dir(self.root)
        return name

    def prune(self, keep: int = 2) -> None:
        """Delete all but the newest `keep` versions (the live one always stays).

        The previous version is kept by default: a reader in another process
        may still have its files open, and Linux keeps unlinked files readable
        for it anyway, but keeping one makes a manual rollback possible."""
        if not self.versions.is_dir():
            return
        live = self.current()[0]
        names = sorted(p.name for p in self.versions.iterdir() if p.is_dir() and not p.name.startswith("."))
        for name in names[:-keep] if keep else names:
            if name != live:
                # Renamed first, so that a kill half-way through the delete
                # leaves a folder the next writer recognises as garbage rather
                # than a damaged version that looks like a rollback target.
                trash = self.versions / f"{_TRASH}{name}"
                os.rename(self.versions / name, trash)
                shutil.rmtree(trash, ignore_errors=True)
