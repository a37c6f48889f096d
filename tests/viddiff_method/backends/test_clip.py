"""CLIP backend: loading paths and their errors, batched preprocessing, the embedding cache."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from schemas.errors import ToolkitError
from tests.fixtures.toy_clip.make_toy_clip import render_shape
from tests.viddiff_method.shapes import TOY_CLIP_DIR
from viddiff_method.backends.clip import ClipBackend, model_fingerprint
from viddiff_method.backends.clip_cache import ClipCache


@pytest.fixture(scope="module")
def toy():
    return ClipBackend(f"local-dir:{TOY_CLIP_DIR}", None, device="cpu", batch_size=4)


def test_batched_preprocessing_matches_open_clips_own_transform(toy):
    import open_clip
    import torch

    _, _, pil_preprocess = open_clip.create_model_and_transforms(f"local-dir:{TOY_CLIP_DIR}")
    rng = np.random.default_rng(1)
    frames = np.stack([render_shape("red", "circle", 160, 120, rng=rng) for _ in range(3)])
    ours = toy.preprocess(frames).float()
    ref = torch.stack([pil_preprocess(Image.fromarray(f)) for f in frames])
    assert ours.shape == ref.shape == (3, 3, 64, 64)
    # same geometry and normalisation; only the resampling kernel's rounding differs
    assert float((ours - ref).abs().mean()) < 0.05
    e1 = toy.encode_preprocessed(ours)
    e2 = toy.encode_preprocessed(ref)
    assert float((e1 * e2).sum(axis=1).min()) > 0.99


def test_embeddings_are_normalised_and_counted(toy):
    before = toy.frames_encoded
    frames = np.stack([render_shape("blue", "square", 64, 64) for _ in range(6)])
    emb = toy.encode_images(frames)
    assert emb.shape == (6, 64)
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-4)
    assert toy.frames_encoded - before == 6
    t = toy.encode_texts(["a blue square", "a red circle"])
    assert int(np.argmax(emb[0] @ t.T)) == 0


def test_load_errors_are_one_line_and_name_the_setting(tmp_path):
    with pytest.raises(ToolkitError, match="clip.pretrained.*unknown pretrained tag"):
        ClipBackend("ViT-B-32", "no-such-tag", device="cpu").load()
    with pytest.raises(ToolkitError, match="checkpoint file not found"):
        ClipBackend("ViT-B-32", str(tmp_path / "missing.safetensors"), device="cpu").load()
    with pytest.raises(ToolkitError, match="clip.model"):
        ClipBackend("ViT-Nope-1", None, device="cpu").load()
    # a real tag cannot be downloaded offline (HF_HUB_OFFLINE=1): a clear error, not a traceback
    with pytest.raises(ToolkitError, match="HF Hub") as e:
        ClipBackend("RN50", "openai", device="cpu").load()
    assert "\n" not in str(e.value)


def test_fingerprints_distinguish_weights(tmp_path):
    a = tmp_path / "a.pt"
    a.write_bytes(b"one")
    b = tmp_path / "b.pt"
    b.write_bytes(b"two")
    assert model_fingerprint("ViT-B-32", str(a)) != model_fingerprint("ViT-B-32", str(b))
    assert model_fingerprint("ViT-B-32", None, seed=0) != model_fingerprint("ViT-B-32", None, seed=1)
    assert model_fingerprint("ViT-B-32", "laion2b_s34b_b79k") == "ViT-B-32:laion2b_s34b_b79k"
    assert model_fingerprint(f"local-dir:{TOY_CLIP_DIR}", None).startswith("local-dir:weights:")


def test_cache_round_trip(tmp_path):
    cache = ClipCache(tmp_path / "clip.sqlite")
    emb = np.random.default_rng(0).random((3, 8)).astype(np.float32)
    cache.put_frames("m", "sha", [0, 2, 4], emb)
    got = cache.get_frames("m", "sha", [0, 2, 5])
    assert sorted(got) == [0, 2] and np.array_equal(got[2], emb[1])
    assert cache.get_frames("other-model", "sha", [0]) == {}
    cache.put_texts("m", ["x"], emb[:1])
    cache.close()
    again = ClipCache(tmp_path / "clip.sqlite")  # persisted
    assert np.array_equal(again.get_texts("m", ["x", "y"])["x"], emb[0])
