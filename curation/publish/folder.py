"""``curate publish``: a dataset directory -> a Hugging Face Hub-layout folder, and its upload.

The folder holds ``README.md`` (the data card), ``LICENSE_NOTES.md``, ``data/test-*.parquet`` in the
public VidDiffBench columns (nested fields as JSON strings, a thumbnail per video) and, with
the clips under ``videos/<sample_key>/{a,b}.mp4`` (the path each row's ``videos[i].path`` names, which is
what the official VidDiffBench loader opens); with ``videos="embed"`` the clip bytes also go into the parquet
(``vid0_video``, ``vid1_video``), so the rows stay loadable by the official loader either way. ``datasets.load_dataset(folder)`` reads it
offline. :func:`upload` sends it with ``HfApi.upload_folder``, which resumes an interrupted upload when
re-run (hf_xet skips committed files and deduplicates uploaded data).

Everything is first written to a staging folder next to ``out``; then files whose bytes changed replace
the old ones one by one (unchanged files are kept as they are, so an upload can resume), and stale files
are removed.
"""

from __future__ import annotations

import contextlib
import filecmp
import glob
import io
import logging
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import datasets
from PIL import Image
from tqdm.auto import tqdm

from curation.publish.card import CardInputs, licence_notes, render_card
from curation.publish.checks import Problem, review_dataset
from curation.publish.rules import SplitBalance, balance_splits
from curation.publish.sources import source_key
from schemas.dataset_dir import open_prediction_budget
from schemas.errors import ToolkitError
from schemas.io import WRITE_ERRNOS, write_error
from schemas.outdir import OutputFolder, output_folder
from schemas.public import (
    EMBED_COLUMNS,
    THUMBNAIL_COLUMNS,
    features,
    hub_video_path,
    public_video,
    to_public,
    trim_range,
)
from viddiff_runtime import media

log = logging.getLogger(__name__)

VideosMode = Literal["embed", "folder"]
THUMBNAIL_HEIGHT = 224
MAX_SHARD_BYTES = 500 * 1024 * 1024
MAX_REASONS_SHOWN = 10


class PublishRefused(ToolkitError):
    """The dataset is not fit to publish; ``reasons`` lists every problem found."""

    def __init__(self, dataset: str, problems: list[Problem]):
        self.reasons = problems
        shown = "; ".join(str(p) for p in problems[:MAX_REASONS_SHOWN])
        more = f"; and {len(problems) - MAX_REASONS_SHOWN} more" if len(problems) > MAX_REASONS_SHOWN else ""
        super().__init__(
            f"refusing to publish, {len(problems)} problem(s): {shown}{more} "
            f"(--allow-partial publishes the other rows)",
            file=dataset,
        )


@dataclass
class PublishResult:
    """What :func:`publish` wrote and left out."""

    out: Path
    rows: int
    files: list[str] = field(default_factory=list)
    dropped_c_only: list[str] = field(default_factory=list)
    dropped_partial: list[Problem] = field(default_factory=list)
    balance: list[SplitBalance] | None = None
    warnings: list[str] = field(default_factory=list)


def thumbnail(path: Path, video: dict[str, Any], *, height: int = THUMBNAIL_HEIGHT) -> bytes:
    """JPEG bytes of the middle frame of the trimmed clip, at most ``height`` pixels high."""
    info = media.probe(path)
    frames = trim_range(video["frames_trim"], info.n_frames)
    if not frames:
        raise ToolkitError("frames_trim selects no frame", file=str(path), key="frames_trim")
    frame = media.decode(path, indices=[frames[len(frames) // 2]], info=info).frames[0]
    img = Image.fromarray(frame)
    if img.height > height:
        img = img.resize((max(1, round(img.width * height / img.height)), height), Image.BILINEAR)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=85)
    return buf.getvalue()


def _shards(sizes: list[int], max_bytes: int) -> list[list[int]]:
    shards: list[list[int]] = [[]]
    used = 0
    for i, size in enumerate(sizes):
        if shards[-1] and used + size > max_bytes:
            shards.append([])
            used = 0
        shards[-1].append(i)
        used += size
    return shards


def _place(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


#: What publish writes, for a folder published before markers recorded the files (its stale files may go).
_OWN_LAYOUT = ("README.md", "LICENSE_NOTES.md", "data/test-*.parquet", "videos/*/a.mp4", "videos/*/b.mp4")


def _owned(folder: OutputFolder) -> set[str]:
    """Files an earlier publish wrote into ``folder``: the marker's record, else publish's own layout."""
    if folder.owned():
        return folder.owned()
    return {
        p.relative_to(folder.path).as_posix()
        for pat in _OWN_LAYOUT
        for p in folder.path.glob(pat)
        if p.is_file()
    }


def _remove_staging_leftovers(out: Path) -> None:
    """Delete the staging folders a killed publish left beside ``out`` (called while ``out`` is held)."""
    pattern = re.compile(rf"^\.{re.escape(out.name)}\.staging-[a-z0-9_]{{8}}$")
    for p in out.parent.glob(f".{glob.escape(out.name)}.staging-*"):
        if p.is_dir() and pattern.match(p.name):
            shutil.rmtree(p, ignore_errors=True)


def _sync(staging: Path, out: Path, owned: set[str] | None = None) -> list[str]:
    """Move staged files into ``out``: changed files replace old ones, unchanged ones stay, stale go.

    Only files in ``owned`` (what an earlier publish recorded as written) are removed as stale; a user's
    own file in the folder is never deleted.
    """
    written = sorted(p.relative_to(staging).as_posix() for p in staging.rglob("*") if p.is_file())
    out.mkdir(parents=True, exist_ok=True)
    for rel in written:
        src, dst = staging / rel, out / rel
        if dst.is_file() and filecmp.cmp(src, dst, shallow=False):
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, dst)
    keep = set(written)
    for p in sorted(out.rglob("*"), reverse=True):
        rel = p.relative_to(out).as_posix()
        if rel.split("/")[0].startswith("."):  # .cache/ of hub tools, .gitattributes: not ours
            continue
        if p.is_file() and rel not in keep and (owned is None or rel in owned):
            p.unlink()
        elif p.is_dir() and not any(p.iterdir()):
            p.rmdir()
    return written


@contextlib.contextmanager
def _named_write_errors(dest: Path):
    """A disk refusal (full, ``ulimit -f``) while staging ``dest`` is one line naming it; ``out`` is untouched."""
    try:
        yield
    except OSError as e:
        if e.errno in WRITE_ERRNOS:
            raise write_error(e, dest) from None
        raise


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise ToolkitError("output exists and is not a folder", file=str(out))
    if out.is_dir() and any(p for p in out.iterdir() if not p.name.startswith(".")):
        if not ((out / "README.md").is_file() and (out / "data").is_dir()):
            raise ToolkitError("output folder is not empty and was not written by publish", file=str(out))


def publish(dataset: str | os.PathLike, out: str | os.PathLike, **options: Any) -> PublishResult:
    """Write a Hub-layout folder for ``dataset`` at ``out``; see :func:`_publish` for the options.

    ``out`` is held (:func:`schemas.outdir.output_folder`) while publishing: a second publish into it fails
    at once, staging folders a killed publish left beside it are removed, and only files an earlier
    publish recorded are ever deleted from it.
    """
    out = Path(out)
    _check_out(out)
    with output_folder(out, "published", legacy=("README.md",)) as folder:
        _remove_staging_leftovers(out)
        return _publish(dataset, out, folder=folder, **options)


def _publish(
    dataset: str | os.PathLike,
    out: str | os.PathLike,
    *,
    videos: VideosMode = "folder",
    allow_partial: bool = False,
    balance: bool = False,
    repo_id: str | None = None,
    license: str | None = None,
    pretty_name: str | None = None,
    max_shard_bytes: int = MAX_SHARD_BYTES,
    progress: bool = True,
    folder: OutputFolder | None = None,
) -> PublishResult:
    """Write a Hub-layout folder for ``dataset`` at ``out`` (see the module docstring).

    Refuses (:class:`PublishRefused`, every reason listed) schema errors, missing or altered videos and
    unannotated rows unless ``allow_partial``, which publishes the other rows and records the rest in
    the card. Rows labelled only c/null are always dropped and reported. ``balance`` swaps A/B in some
    pairs so a and b labels are about equally common in each split (recorded in the card).
    """
    if videos not in ("embed", "folder"):
        raise ToolkitError(f"unknown videos mode {videos!r} (embed or folder)", key="--videos")
    out = Path(out)
    _check_out(out)
    review = review_dataset(dataset, progress=progress)
    if review.problems and not allow_partial:
        raise PublishRefused(str(dataset), review.problems)
    ds = review.dataset
    rows = review.ok
    if not rows:
        raise ToolkitError(
            "no publishable rows (all unannotated, labelled only c/null, or with problems)", file=str(dataset)
        )
    balance_report = None
    if balance:
        rows, balance_report = balance_splits(rows)
    rows = [
        {**r, "n_differences_open_prediction": open_prediction_budget(r.get("differences_gt"))} for r in rows
    ]
    result = PublishResult(
        out=out,
        rows=len(rows),
        dropped_c_only=list(review.c_only),
        dropped_partial=list(review.problems),
        balance=balance_report,
    )
    restricted = sum(source_key(r["source_dataset"]) == "egoexo4d" for r in rows)
    if restricted:
        result.warnings.append(
            f"{restricted} pairs come from Ego-Exo4D, whose licence forbids redistribution: "
            "upload them only to a private repository shared with licence holders"
        )

    src_of = {(r["sample_key"], i): ds.video_path(r, i) for r in rows for i in range(2)}
    embed = videos == "embed"
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{out.name}.staging-", dir=out.parent) as tmp:
        staging = Path(tmp)
        records = []
        for row in tqdm(rows, desc="thumbnails", unit="pair", disable=not progress):
            key = row["sample_key"]
            vids = [
                public_video({**v, "sha256": review.sha256[str(src_of[(key, i)])]}, hub_video_path(key, i))
                for i, v in enumerate(row["videos"])
            ]
            record = to_public(row, vids)
            for i, col in enumerate(THUMBNAIL_COLUMNS):
                record[col] = {"bytes": thumbnail(src_of[(key, i)], row["videos"][i]), "path": None}
            for i in range(2):  # also with embed: the official loader opens ``videos[i].path`` itself
                _place(src_of[(key, i)], staging / hub_video_path(key, i))
            records.append(record)
        sizes = [
            sum(src_of[(r["sample_key"], i)].stat().st_size for i in range(2)) if embed else 0
            for r in records
        ]
        shards = _shards(sizes, max_shard_bytes)
        feats = features(embed)
        (staging / "data").mkdir()
        for n, idx in enumerate(tqdm(shards, desc="parquet shards", unit="shard", disable=not progress)):
            part = []
            for i in idx:
                rec = dict(records[i])
                if embed:
                    for v, col in enumerate(EMBED_COLUMNS):
                        rec[col] = {
                            "bytes": src_of[(rec["sample_key"], v)].read_bytes(),
                            "path": hub_video_path(rec["sample_key"], v),
                        }
                part.append(rec)
            shard = datasets.Dataset.from_list(part, features=feats)
            name = f"data/test-{n:05d}-of-{len(shards):05d}.parquet"
            with _named_write_errors(out / name):
                shard.to_parquet(str(staging / name))
        inputs = CardInputs(
            meta=ds.meta,
            dataset_root=Path(dataset),
            pretty_name=pretty_name,
            license=license,
            repo_id=repo_id,
            videos_mode=videos,
            balance=balance_report,
            dropped_c_only=result.dropped_c_only,
            dropped_partial=[str(p) for p in result.dropped_partial],
        )
        with _named_write_errors(out / "README.md"):
            (staging / "README.md").write_text(render_card(rows, inputs), encoding="utf-8")
        with _named_write_errors(out / "LICENSE_NOTES.md"):
            (staging / "LICENSE_NOTES.md").write_text(licence_notes(rows), encoding="utf-8")
        result.files = _sync(staging, out, _owned(folder) if folder is not None else None)
        if folder is not None:
            folder.record(result.files, replace=True)
    return result


def upload(
    folder: str | os.PathLike,
    repo_id: str,
    *,
    private: bool = False,
    token: str | None = None,
    revision: str | None = None,
    commit_message: str | None = None,
) -> str:
    """Upload a published folder to the dataset repo ``repo_id`` (created if missing); return its URL.

    The token comes from ``token`` or the ``HF_TOKEN`` environment variable (never logged); the
    endpoint from ``HF_ENDPOINT``. Re-running after an interruption resumes: ``upload_folder`` skips
    files already committed and deduplicates data already sent. ``private`` applies when the repo is
    created.
    """
    from huggingface_hub import HfApi

    folder = Path(folder)
    if not (folder / "README.md").is_file() or not list((folder / "data").glob("test-*.parquet")):
        raise ToolkitError(
            "not a published folder (README.md and data/test-*.parquet expected)", file=str(folder)
        )
    if "/" not in repo_id:
        raise ToolkitError(f"repo id must be ORG/NAME, got {repo_id!r}", key="--repo-id")
    token = token or os.environ.get("HF_TOKEN")
    if not token:
        raise ToolkitError("set HF_TOKEN to a Hugging Face write token to upload", key="HF_TOKEN")
    api = HfApi(token=token)
    try:
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        api.upload_folder(
            repo_id=repo_id,
            repo_type="dataset",
            folder_path=str(folder),
            revision=revision,
            commit_message=commit_message or "Publish with the VidDiff Toolkit",
            ignore_patterns=[".cache/**", ".*"],
        )
    except ToolkitError:
        raise
    except Exception as e:
        msg = str(e).splitlines()[0] if str(e) else ""
        raise ToolkitError(
            f"upload failed: {type(e).__name__}: {msg.replace(token, '***')}", key=repo_id
        ) from None
    return f"{api.endpoint}/datasets/{repo_id}"
