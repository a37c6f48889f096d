"""The CLIP stage on real clips: sampling at the domain fps, batching across clips, the warm cache."""

from __future__ import annotations

import numpy as np
import pytest

from tests.viddiff_method.shapes import TOY_CLIP_DIR, clip_frames
from viddiff_method.backends.clip import ClipBackend
from viddiff_method.backends.clip_cache import ClipCache
from viddiff_method.stages.embed import FrameEmbedder, VideoRef, plan_frames
from viddiff_runtime import media


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    root = tmp_path_factory.mktemp("clips")
    out = []
    for i, (lengths, fps) in enumerate([((6, 5, 7), 16), ((4, 4, 5), 10)]):
        path = root / f"c{i}.mp4"
        media.write_frames(clip_frames(lengths, (0.3, 0.3, 0.3), seed=i), path, fps)
        out.append((path, fps, sum(lengths)))
    return out


def test_plan_samples_at_domain_fps_and_never_above_native(clips):
    (p16, _, n16), (p10, _, n10) = clips
    plan = plan_frames(p16, 8)
    assert plan.indices == list(range(0, n16, 2)) and plan.fps == 8 and plan.native_fps == 16
    plan = plan_frames(p10, 25)  # asks for more than the clip has: native rate, every frame
    assert plan.indices == list(range(n10)) and plan.fps == 10


def test_embed_videos_matches_direct_encoding_and_cache_makes_reruns_free(clips, tmp_path):
    clip = ClipBackend(f"local-dir:{TOY_CLIP_DIR}", None, device="cpu", batch_size=5)
    cache = ClipCache(tmp_path / "clip.sqlite")
    refs = [VideoRef(f"v{i}", p, f"sha{i}", 8) for i, (p, _, _) in enumerate(clips)]
    emb = FrameEmbedder(clip, cache).embed_videos(refs, progress=False)
    n_rows = [len(emb[r.key].plan.indices) for r in refs]
    assert [emb[r.key].emb.shape[0] for r in refs] == n_rows
    # batches are filled across clips: ceil(total / batch) model calls, not one partial batch per clip
    assert clip.batches == -(-sum(n_rows) // 5)
    # row i is the embedding of source frame plan.indices[i]
    dec = media.decode(refs[0].path, indices=emb["v0"].plan.indices, size=clip.image_size)
    direct = clip.encode_images(dec.frames)
    assert np.allclose(direct, emb["v0"].emb, atol=1e-5)

    fresh = ClipBackend(f"local-dir:{TOY_CLIP_DIR}", None, device="cpu", batch_size=5)
    again = FrameEmbedder(fresh, ClipCache(tmp_path / "clip.sqlite"))
    emb2 = again.embed_videos(refs, progress=False)
    assert fresh.frames_encoded == 0 and not fresh.loaded
    assert again.frames_from_cache == sum(n_rows)
    assert np.array_equal(emb2["v1"].emb, emb["v1"].emb)


def test_a_decode_error_surfaces_in_the_caller(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    clip = ClipBackend(f"local-dir:{TOY_CLIP_DIR}", None, device="cpu")
    from schemas.errors import ToolkitError

    with pytest.raises(ToolkitError, match="bad.mp4"):
        FrameEmbedder(clip).embed_videos([VideoRef("x", bad, "s", 8)], progress=False)
