"""Making one clip with its resume sidecar, and cleaning up what a killed or changed build left behind.

Each finished clip gets a sidecar ``.build/clips/<key>.<side>.json`` holding its task spec and sha256;
a rerun reuses a clip whose spec is unchanged and whose bytes still match.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path

from curation.build.tasks import ClipResult, ClipTask
from schemas.dataset_dir import sha256_file
from schemas.ids import inside
from schemas.io import write_json
from schemas.outdir import remove_temps

BUILD_DIR = ".build"


def _sidecar(out: Path, task: ClipTask) -> Path:
    return out / BUILD_DIR / "clips" / f"{task.sample_key}.{task.side}.json"


def finished(out: Path, task: ClipTask) -> ClipResult | None:
    """The result of an earlier run of ``task`` if its clip is still there, unchanged (sha256)."""
    side = _sidecar(out, task)
    clip = out / task.rel_path
    if not (side.exists() and clip.exists()):
        return None
    try:
        rec = json.loads(side.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if rec.get("spec") != task.spec_hash() or rec.get("sha256") != sha256_file(clip):
        return None
    return ClipResult(task.sample_key, task.side, rec["n_frames"], rec["fps"], rec["sha256"], reused=True)


def run_task(out: str, task: ClipTask) -> ClipResult:
    """Make one clip (trim + verify, atomic) and record its sidecar. Safe to run in any worker."""
    from viddiff_runtime import media

    out_path = Path(out)
    inside(out_path, task.rel_path, what="sample_key")  # a key can never make a clip land outside --out
    done = finished(out_path, task)
    if done is not None:
        return done
    info = media.trim(
        task.src,
        out_path / task.rel_path,
        task.start,
        task.end,
        src_fps=task.src_fps if task.src_kind == "frames" else None,
        fps=task.fps,
        crf=task.crf,
        preset=task.preset,
        max_height=task.max_height,
        size=task.size,
    )
    digest = sha256_file(out_path / task.rel_path)
    write_json(
        _sidecar(out_path, task),
        {
            "spec": task.spec_hash(),
            "task": asdict(task),
            "sha256": digest,
            "n_frames": info.n_frames,
            "fps": float(info.fps),
        },
    )
    return ClipResult(task.sample_key, task.side, info.n_frames, float(info.fps), digest)


def remove_leftover_temps(out: Path) -> None:
    """Delete temporary files a killed run left behind (finished files are only ever renamed into place)."""
    remove_temps(out, ("videos/*/.*", f"{BUILD_DIR}/clips/.*", ".dataset.json.*", ".samples.jsonl.*"))


def remove_stale(out: Path, keep: set[str]) -> None:
    """Delete clips (and sidecars) of pairs the config no longer produces.

    Only clips the build recorded as its own (a sidecar in ``.build/clips/``) are deleted: a user's mp4
    in ``videos/`` is never touched.
    """
    videos = out / "videos"
    if not videos.is_dir():
        return
    for clip in videos.glob("*/*.mp4"):
        rel = clip.relative_to(out).as_posix()
        side = out / BUILD_DIR / "clips" / f"{clip.parent.name}.{clip.stem}.json"
        if rel not in keep and side.is_file():
            clip.unlink()
            side.unlink(missing_ok=True)
    for d in videos.iterdir():
        if d.is_dir() and not any(d.iterdir()):
            shutil.rmtree(d)
