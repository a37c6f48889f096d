"""The committed toy CLIP still separates its 12 prompts on fresh renders (real open_clip loading path)."""

from __future__ import annotations

import numpy as np

from tests.fixtures.toy_clip.make_toy_clip import COLORS, PROMPTS, SHAPES, render_shape
from tests.viddiff_method.shapes import TOY_CLIP_DIR
from viddiff_method.backends.clip import ClipBackend


def test_committed_toy_clip_separates_its_prompts():
    clip = ClipBackend(f"local-dir:{TOY_CLIP_DIR}", None, device="cpu", batch_size=64)
    rng = np.random.default_rng(123)  # not the training or held-out seed
    images, labels = [], []
    for _ in range(5):
        for i, prompt in enumerate(PROMPTS):
            _, color, shape = prompt.split()
            size = int(rng.integers(64, 129))
            images.append(render_shape(color, shape, size, size, rng=rng))
            labels.append(i)
    # mixed sizes go through the backend's own batched preprocessing one size at a time
    pred = [int((clip.encode_images(im[None]) @ clip.encode_texts(PROMPTS).T).argmax()) for im in images]
    accuracy = float(np.mean(np.array(pred) == np.array(labels)))
    assert accuracy >= 0.95, accuracy
    assert len(PROMPTS) == len(COLORS) * len(SHAPES)
