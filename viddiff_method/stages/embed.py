"""The CLIP stage: decode clips at the domain fps and embed every frame, cached, without starving the model.

A background thread decodes (PyAV, resized to the model's input side while decoding) while the main
thread preprocesses and encodes; frames of consecutive clips share batches, so short clips still fill
a GPU batch. Every embedding goes to the :class:`ClipCache` under (video sha256, source frame index,
model), and clips whose frames are all cached are neither decoded nor sent to the model.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from viddiff_method.backends.clip import ClipBackend
from viddiff_method.backends.clip_cache import ClipCache
from viddiff_runtime import media

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VideoRef:
    """One stored clip to embed: a unique key, its file, its sha256 and the fps to decode it at."""

    key: str
    path: Path
    sha256: str
    fps: float


@dataclass
class FramePlan:
    """Which source frames a clip is sampled at: ``indices`` (0-based, native fps) at ``fps``."""

    indices: list[int]
    fps: float
    native_fps: float
    n_frames: int
    info: media.VideoInfo | None = None


@dataclass
class VideoEmbedding:
    """Embeddings of the sampled frames of one clip, row ``i`` showing source frame ``plan.indices[i]``."""

    plan: FramePlan
    emb: np.ndarray


def plan_frames(path: str | Path, fps: float) -> FramePlan:
    """Sample ``path`` at ``fps`` (never above its native rate), by the same rule as ``media.decode``."""
    info = media.probe(path)
    native = float(info.fps)
    target = min(float(fps), native)
    rate = Fraction(info.fps) if target >= native else media.as_fraction(target)
    idx = media.select_indices(info.n_frames, info.fps, fps=None if target >= native else rate)
    return FramePlan(idx, target, native, info.n_frames, info)


class FrameEmbedder:
    """Embeds clips and strings through a :class:`ClipBackend`, reading and filling a :class:`ClipCache`."""

    def __init__(
        self,
        clip: ClipBackend,
        cache: ClipCache | None = None,
        *,
        prefetch: int = 4,
        decode_workers: int | None = None,
    ):
        self.clip = clip
        self.cache = cache or ClipCache(None)
        self.prefetch = max(1, prefetch)
        self.decode_workers = decode_workers or min(4, os.cpu_count() or 1)
        self.frames_from_cache = 0
        self.texts_from_cache = 0

    # -- strings ------------------------------------------------------------------------------
    def embed_texts(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Embeddings of ``texts`` (cached ones are not recomputed)."""
        uniq = list(dict.fromkeys(texts))
        got = self.cache.get_texts(self.clip.model_id, uniq)
        self.texts_from_cache += len(got)
        missing = [t for t in uniq if t not in got]
        if missing:
            embs = self.clip.encode_texts(missing)
            self.cache.put_texts(self.clip.model_id, missing, embs)
            got.update(zip(missing, embs))
        return got

    # -- clips --------------------------------------------------------------------------------
    def embed_videos(self, refs: Sequence[VideoRef], *, progress: bool = True) -> dict[str, VideoEmbedding]:
        """Embed the sampled frames of every clip in ``refs``; returns ``{ref.key: VideoEmbedding}``."""
        from tqdm.auto import tqdm

        model = self.clip.model_id
        plans: dict[str, FramePlan] = {}
        have: dict[str, dict[int, np.ndarray]] = {}
        todo: list[tuple[VideoRef, list[int], media.VideoInfo | None]] = []
        for ref in refs:
            plan = plans[ref.key] = plan_frames(ref.path, ref.fps)
            have[ref.key] = self.cache.get_frames(model, ref.sha256, plan.indices)
            self.frames_from_cache += len(have[ref.key])
            missing = [i for i in dict.fromkeys(plan.indices) if i not in have[ref.key]]
            if missing:
                todo.append((ref, missing, plan.info))
        n_missing = sum(len(m) for _, m, _ in todo)
        if todo:
            bar = tqdm(total=n_missing, desc="clip", unit="frame", disable=not progress)
            try:
                for ref, frames, embs in self._encode_stream(todo):
                    self.cache.put_frames(model, ref.sha256, frames, embs)
                    have[ref.key].update(zip(frames, embs))
                    bar.update(len(frames))
            finally:
                bar.close()
        out = {}
        for ref in refs:
            plan = plans[ref.key]
            emb = (
                np.stack([have[ref.key][i] for i in plan.indices])
                if plan.indices
                else np.zeros((0, 0), np.float32)
            )
            out[ref.key] = VideoEmbedding(plan, emb)
        return out

    def _encode_stream(self, todo: list[tuple[VideoRef, list[int], media.VideoInfo | None]]):
        """Yield ``(ref, frame indices, embeddings)`` per chunk, batching frames across clips."""
        size = self.clip.image_size
        q: queue.Queue = queue.Queue(maxsize=self.prefetch)
        stop = threading.Event()

        def producer():
            # clips decode in a small pool (PyAV releases the GIL); results are handed on in order,
            # with at most `prefetch` decoded clips waiting so memory stays bounded
            from concurrent.futures import ThreadPoolExecutor

            try:
                with ThreadPoolExecutor(self.decode_workers, thread_name_prefix="clip-decode") as pool:
                    futures = []
                    for ref, missing, info in todo:
                        futures.append(
                            (ref, pool.submit(media.decode, ref.path, indices=missing, size=size, info=info))
                        )
                        if len(futures) > self.decode_workers:
                            if not _hand_on(*futures.pop(0)):
                                return
                    for ref, fut in futures:
                        if not _hand_on(ref, fut):
                            return
                q.put(None)
            except BaseException as e:
                q.put(e)

        def _hand_on(ref, fut) -> bool:
            if stop.is_set():
                fut.cancel()
                return False
            dec = fut.result()
            q.put((ref, dec.indices, dec.frames))
            return True

        thread = threading.Thread(target=producer, name="clip-decode", daemon=True)
        thread.start()
        bs = self.clip.batch_size
        pend_frames: list[np.ndarray] = []
        pend_owner: list[tuple[VideoRef, int, int]] = []  # (ref, first row in batch, count)
        pend_idx: list[list[int]] = []
        n_pend = 0
        try:
            while True:
                item = q.get()
                if isinstance(item, BaseException):
                    raise item
                done = item is None
                if not done:
                    ref, idx, frames = item
                    pos = 0
                    while pos < len(frames):
                        take = min(bs - n_pend, len(frames) - pos)
                        pend_frames.append(frames[pos : pos + take])
                        pend_owner.append((ref, n_pend, take))
                        pend_idx.append(list(idx[pos : pos + take]))
                        n_pend += take
                        pos += take
                        if n_pend == bs:
                            yield from self._flush(pend_frames, pend_owner, pend_idx)
                            pend_frames, pend_owner, pend_idx, n_pend = [], [], [], 0
                if done:
                    if n_pend:
                        yield from self._flush(pend_frames, pend_owner, pend_idx)
                    return
        finally:
            stop.set()
            while thread.is_alive():
                try:
                    q.get(timeout=0.1)
                except queue.Empty:
                    pass

    def _flush(self, frames, owners, idx):
        batch = np.concatenate(frames)
        embs = self.clip.encode_preprocessed(self.clip.preprocess(batch))
        for (ref, start, count), ids in zip(owners, idx):
            yield ref, ids, embs[start : start + count]
