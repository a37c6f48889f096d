"""``curate import-release``: the public VidDiffBench parquet (or a folder written by ``publish``) -> a
dataset directory with trimmed clips, so the method and the evaluation run on the real benchmark.

Each video's ``path`` is relative to the videos root and names an image folder (ordered by integer
file stem) or a video file; ``frames_trim`` is applied as ``slice(start, end, step)``. A step of
null/1 is a frame-exact trim (:func:`viddiff_runtime.media.trim`); another step keeps every step-th frame
(decode + :func:`viddiff_runtime.media.write_frames`, fps divided by the step). Folders written by
``publish --videos embed`` carry the clip bytes in ``vid0_video``/``vid1_video``; those are used when
the path is not found under the videos root.

The work is resumable: finished pairs are appended to ``OUT/.import-progress.jsonl`` and skipped on a
re-run (their clips are checked by sha256); ``samples.jsonl`` and ``dataset.json`` are written last.
"""

from __future__ import annotations

import json
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from tqdm.auto import tqdm

from curation.publish.sources import source_infos, source_key
from schemas import check, toolkit_version
from schemas.dataset_dir import DATASET_JSON, DatasetDir, save_dataset, sha256_file
from schemas.errors import ToolkitError
from schemas.ids import inside
from schemas.outdir import LOCK, MARKER, output_folder, remove_temps
from schemas.public import EMBED_COLUMNS, VIDEO_NAMES, from_public, iter_public_records, trim_range
from viddiff_runtime import media

PROGRESS = ".import-progress.jsonl"
FPS_TOLERANCE = 0.01  # relative; the release's loader asserts decoded fps == fps_original


@dataclass
class ImportResult:
    """What :func:`import_release` wrote and skipped."""

    dataset: DatasetDir
    imported: int
    resumed: int = 0
    skipped: list[str] = field(default_factory=list)


def parquet_files(path: str | os.PathLike) -> list[Path]:
    """The parquet files of a release: ``path`` itself, or every ``*.parquet`` under it (sorted)."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise ToolkitError("release not found", file=str(path))
    data = path / "data"
    files = sorted((data if data.is_dir() else path).rglob("*.parquet"))
    files = [f for f in files if not any(part.startswith(".") for part in f.relative_to(path).parts)]
    if not files:
        raise ToolkitError("no parquet file found (expected data/test-*.parquet)", file=str(path))
    return files


def _keys(files: list[Path]) -> list[str]:
    """Every ``sample_key`` in file order; a missing column or a duplicate key is an error."""
    keys: list[str] = []
    seen: set[str] = set()
    for f in files:
        try:
            column = pq.read_table(f, columns=["sample_key"]).column("sample_key").to_pylist()
        except KeyError:
            raise ToolkitError("no sample_key column", file=str(f)) from None
        except Exception as e:
            raise ToolkitError(f"not a readable parquet file: {e}", file=str(f)) from None
        for n, key in enumerate(column, 1):
            key = str(key)
            if key in seen:
                raise ToolkitError(f"duplicate sample_key {key!r}", file=f"{f}:row {n}", key="sample_key")
            seen.add(key)
            keys.append(key)
    return keys


def _cut(
    src: Path, dst: Path, trim: list | None, fps: float, where: str
) -> tuple[media.VideoInfo, list[int]]:
    """Cut ``slice(*trim)`` of ``src`` (video file or image folder at ``fps``) into ``dst``."""
    is_dir = src.is_dir()
    info = media.probe(src, fps=fps if is_dir else None)
    if not is_dir and abs(float(info.fps) - fps) > FPS_TOLERANCE * fps:
        raise ToolkitError(
            f"video plays at {float(info.fps):g} fps, the release says {fps:g}",
            file=where,
            key="fps_original",
        )
    picked = trim_range(trim, info.n_frames)
    start, stop, step = picked.start, picked.stop, picked.step
    if len(picked) == 0:
        raise ToolkitError(
            f"frames_trim {trim} selects no frame of {info.n_frames}", file=where, key="frames_trim"
        )
    if step == 1:
        written = media.trim(src, dst, start, stop, src_fps=fps if is_dir else None, info=info)
    else:
        frames = media.decode(src, indices=list(picked), src_fps=fps if is_dir else None, info=info).frames
        written = media.write_frames(frames, dst, media.as_fraction(fps) / step)
    return written, [start, stop, step]


def _resolve(row: dict[str, Any], rec: dict[str, Any], root: Path, tmp: Path) -> list[Path] | None:
    """Where each video's media is: under ``root``, else the embedded bytes (written to ``tmp``)."""
    srcs = []
    for i, video in enumerate(row["videos"]):
        src = root / video["path"]
        embedded = rec.get(EMBED_COLUMNS[i])
        if not src.exists() and isinstance(embedded, dict) and embedded.get("bytes"):
            src = tmp / f"{i}-{Path(embedded.get('path') or 'clip.mp4').name}"
            src.write_bytes(embedded["bytes"])
        if not src.exists():
            return None
        srcs.append(src)
    return srcs


def _source_name(name: str) -> str:
    """The toolkit's adapter name for a release spelling ("humann" -> "humman"), else the spelling."""
    key = source_key(name)
    return key if key in source_infos() else (name or "unknown")


def _import_row(where: str, rec: dict[str, Any], root: Path, out: Path) -> dict[str, Any] | None:
    """Cut both clips of one release record into ``out``; None when a video is missing."""
    row = from_public(rec, where=where)
    check("sample", row, file=where)
    key = row["sample_key"]
    videos = []
    with tempfile.TemporaryDirectory(prefix="viddiff-import-") as tmp:
        srcs = _resolve(row, rec, root, Path(tmp))
        if srcs is None:
            return None
        for i, (video, src) in enumerate(zip(row["videos"], srcs)):
            fps = float(video["fps_original"])
            dst_rel = f"videos/{key}/{VIDEO_NAMES[i]}"
            inside(out, dst_rel, what="sample_key")
            written, (start, stop, step) = _cut(
                src, out / dst_rel, video.get("frames_trim"), fps, f"{where}: videos[{i}]"
            )
            source = {
                "dataset": _source_name(row["source_dataset"]),
                "clip_id": video["path"],
                "path": video["path"],
                "frames": [start, stop],
                "fps": fps,
            }
            if step != 1:
                source["step"] = step
            if isinstance(video.get("source"), dict):
                source["origin"] = video["source"]
            videos.append(
                {
                    "path": dst_rel,
                    "fps_original": float(written.fps),
                    "frames_trim": [0, written.n_frames, None],
                    "n_frames": written.n_frames,
                    "sha256": sha256_file(out / dst_rel),
                    "source": source,
                }
            )
    row["videos"] = videos
    return row


def _load_progress(out: Path) -> dict[str, dict[str, Any]]:
    done: dict[str, dict[str, Any]] = {}
    path = out / PROGRESS
    if not path.is_file():
        return done
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut by an interruption
        ok = all(
            (out / v["path"]).is_file() and sha256_file(out / v["path"]) == v["sha256"] for v in row["videos"]
        )
        if ok:
            done[row["sample_key"]] = row
    return done


def _actions(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    actions: dict[str, dict[str, Any]] = {}
    for r in rows:
        actions.setdefault(
            r["action"],
            {
                "name": r["action_name"],
                "description": r["action_description"],
                "domain": r["domain"],
                "split": r["split"],
                "split_origin": "release",
                "source_dataset": r["source_dataset"],
                "fps": r["videos"][0]["fps_original"],
            },
        )
    return actions


def import_release(
    path: str | os.PathLike,
    out: str | os.PathLike,
    *,
    videos_root: str | os.PathLike | None = None,
    name: str | None = None,
    skip_missing: bool = False,
    workers: int = 1,
    progress: bool = True,
) -> ImportResult:
    """Turn a VidDiffBench release at ``path`` into the dataset directory ``out`` (see module docstring).

    ``videos_root`` defaults to ``path`` (a folder) or its parent (a file). A video that is neither under
    the root nor embedded stops the import, naming it, unless ``skip_missing`` (the pair is left out
    and reported).
    """
    path = Path(path)
    out = Path(out)
    root = Path(videos_root) if videos_root else (path if path.is_dir() else path.parent)
    if not root.is_dir():
        raise ToolkitError("videos root not found", file=str(root), key="--videos")
    if (out / DATASET_JSON).exists():
        raise ToolkitError("output is already a dataset directory", file=str(out))
    if (
        out.is_dir()
        and any(p.name not in (MARKER, LOCK) for p in out.iterdir())
        and not (out / PROGRESS).exists()
    ):
        raise ToolkitError("output folder is not empty", file=str(out))
    files = parquet_files(path)
    with output_folder(out, "dataset", legacy=(PROGRESS,)):
        remove_temps(out, ("videos/*/.*", f".{PROGRESS}.*", ".dataset.json.*", ".samples.jsonl.*"))
        return _import_locked(
            path, out, files, root, name=name, skip_missing=skip_missing, workers=workers, progress=progress
        )


def _import_locked(
    path: Path,
    out: Path,
    files: list[Path],
    root: Path,
    *,
    name: str | None,
    skip_missing: bool,
    workers: int,
    progress: bool,
) -> ImportResult:
    """:func:`import_release` once ``out`` is held: cut every pair not yet done, then save the dataset."""
    order = _keys(files)
    out.mkdir(parents=True, exist_ok=True)
    done = _load_progress(out)
    resumed = sum(k in done for k in order)
    skipped: list[str] = []
    batch = max(1, workers) * 2
    with (
        open(out / PROGRESS, "a", encoding="utf-8") as log_fh,
        ThreadPoolExecutor(max_workers=max(1, workers)) as pool,
        tqdm(
            total=len(order), initial=resumed, desc="importing pairs", unit="pair", disable=not progress
        ) as bar,
    ):
        pending: list[tuple[str, dict[str, Any]]] = []

        def drain() -> None:
            futures = [(w, r, pool.submit(_import_row, w, r, root, out)) for w, r in pending]
            pending.clear()
            for where, rec, fut in futures:
                row = fut.result()
                bar.update(1)
                if row is None:
                    if not skip_missing:
                        raise ToolkitError(
                            f"video not found under {root} (and not embedded); "
                            "--skip-missing leaves such pairs out",
                            file=where,
                            key="videos",
                        )
                    skipped.append(str(rec.get("sample_key")))
                    continue
                done[row["sample_key"]] = row
                log_fh.write(json.dumps(row) + "\n")
                log_fh.flush()

        for where, rec in iter_public_records(files):
            if str(rec.get("sample_key")) in done:
                continue
            pending.append((where, rec))
            if len(pending) >= batch:
                drain()
        drain()
    rows = [done[k] for k in order if k in done]
    if not rows:
        raise ToolkitError("no pair could be imported", file=str(path))
    meta = {
        "name": name or (path.stem if path.is_file() else path.name) or "viddiffbench",
        "version": "release",
        "toolkit_version": toolkit_version(),
        "actions": _actions(rows),
        "meta": {
            "release": {
                "path": str(path),
                "files": [f.name for f in files],
                "videos_root": str(root),
                "skipped": skipped,
            }
        },
    }
    save_dataset(out, meta, rows)
    (out / PROGRESS).unlink()
    return ImportResult(
        dataset=DatasetDir(root=out, meta=meta, samples=rows),
        imported=len(rows) - resumed,
        resumed=resumed,
        skipped=skipped,
    )
