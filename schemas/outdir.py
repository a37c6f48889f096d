"""Output folders the toolkit owns: a marker file says what a folder is, a lock keeps writers apart.

Every command that writes a folder (``curate build``/``import-release`` -> a dataset folder, ``viddiff
run`` -> a RUN_DIR, ``curate publish`` -> a published folder) enters it through :func:`output_folder`:

* a non-empty folder without the marker ``.viddiff-folder.json`` (and without the files an older
  toolkit version left there, ``legacy``) is refused, so ``--out ~/Videos`` never touches user files;
* a folder marked as another kind (a RUN_DIR given as a dataset's ``--out``) is refused;
* a second command writing the same folder fails at once (``filelock``, ``.viddiff.lock``) instead of
  both deleting each other's temporary files;
* the marker can record the files the command wrote (:meth:`OutputFolder.record`), so a later cleanup
  deletes only those (:meth:`OutputFolder.owned`).

Temporary files from :func:`schemas.io.atomic_path` that a killed command left behind are removed with
:func:`remove_temps` once the lock is held.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock, Timeout

from schemas.errors import ToolkitError

MARKER = ".viddiff-folder.json"
LOCK = ".viddiff.lock"
KINDS = {"dataset": "dataset folder", "run": "RUN_DIR", "published": "published folder"}
#: ``atomic_path`` names its temporaries ``.<name>.<8 random chars><suffix>`` (tempfile.mkstemp).
TEMP_NAME = re.compile(r"^\.(?P<name>.+)\.[a-z0-9_]{8}(?P<suffix>\.[A-Za-z0-9]+)$")


@dataclass
class OutputFolder:
    """A held output folder: its path, kind and the files recorded as written by the toolkit."""

    path: Path
    kind: str
    files: set[str] = field(default_factory=set)

    def owned(self) -> set[str]:
        """Relative paths (posix) the toolkit recorded as its own in this folder."""
        return set(self.files)

    def record(self, rel_paths: Iterable[str], *, replace: bool = False) -> None:
        """Record ``rel_paths`` as written by the toolkit (``replace``: the full new list)."""
        files = set(rel_paths) if replace else self.files | set(rel_paths)
        if (
            files != self.files or not (self.path / MARKER).is_file()
        ):  # unchanged: the marker is not rewritten
            self.files = files
            _write_marker(self.path, self.kind, self.files)


def read_marker(path: str | os.PathLike) -> dict | None:
    """The marker of folder ``path`` (None when there is none or it cannot be read)."""
    try:
        data = json.loads((Path(path) / MARKER).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_marker(path: Path, kind: str, files: set[str]) -> None:
    from schemas import toolkit_version
    from schemas.io import write_json

    write_json(path / MARKER, {"kind": kind, "toolkit_version": toolkit_version(), "files": sorted(files)})


@contextlib.contextmanager
def output_folder(
    path: str | os.PathLike,
    kind: str,
    *,
    legacy: tuple[str, ...] = (),
    option: str = "--out",
    ignore: tuple[str, ...] = (),
) -> Iterator[OutputFolder]:
    """Claim ``path`` as a ``kind`` folder for the duration of the block (see the module docstring).

    ``legacy``: file names that identify a folder this toolkit wrote before markers existed (it is then
    marked and accepted). ``ignore``: names that may be present in an unmarked folder without making it
    "not empty" (a resumable command's own progress file, say).
    """
    if kind not in KINDS:
        raise ValueError(kind)
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ToolkitError(f"exists and is not a folder; {option} needs a folder", file=str(path), key=option)
    marker = read_marker(path) if path.is_dir() else None
    if marker is not None and marker.get("kind") != kind:
        other = KINDS.get(str(marker.get("kind")), str(marker.get("kind")))
        raise ToolkitError(
            f"this folder is a {other}, not a {KINDS[kind]}; choose another {option}",
            file=str(path),
            key=option,
        )
    if marker is None and path.is_dir():
        entries = [p.name for p in path.iterdir() if p.name not in (LOCK, *ignore)]
        if entries and not any((path / name).exists() for name in legacy):
            raise ToolkitError(
                f"folder is not empty and has no {MARKER} (it is not a {KINDS[kind]} the toolkit "
                f"made); refusing to write into it: choose an empty or new {option}",
                file=str(path),
                key=option,
            )
    created = not path.exists()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ToolkitError(f"cannot create the folder: {e.strerror}", file=str(path), key=option) from None
    lock = FileLock(str(path / LOCK))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise ToolkitError(
            f"another command is writing into this {KINDS[kind]} (lock {LOCK} held); wait for "
            f"it to finish or use another {option}",
            file=str(path),
            key=option,
        ) from None
    try:
        files = set(marker.get("files") or []) if marker else set()
        held = OutputFolder(path, kind, files)
        if marker is None:
            _write_marker(path, kind, files)
        yield held
    except BaseException:
        if created:  # a folder this call made and nothing was written into: leave nothing behind
            _remove_if_only_ours(path)
        raise
    finally:
        lock.release()


def _remove_if_only_ours(path: Path) -> None:
    if {p.name for p in path.iterdir()} <= {MARKER, LOCK}:
        for name in (MARKER, LOCK):
            (path / name).unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            path.rmdir()


def remove_temps(folder: str | os.PathLike, patterns: Iterable[str]) -> list[Path]:
    """Delete the temporaries :func:`schemas.io.atomic_path` left under ``folder`` (glob ``patterns``).

    Only names of the form ``.<name>.<8 random>.<suffix>`` match, so a user's hidden file is never
    touched. Call it while holding the folder (:func:`output_folder`), never beside a running writer.
    """
    removed = []
    for pattern in patterns:
        for p in Path(folder).glob(pattern):
            if p.is_file() and TEMP_NAME.match(p.name):
                p.unlink(missing_ok=True)
                removed.append(p)
    return removed
