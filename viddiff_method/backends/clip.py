"""CLIP via open_clip: load a model by tag, checkpoint path, ``local-dir:`` or random init; embed batches.

Preprocessing is done with batched tensor ops on the model's device (resize of the short side, centre
crop, normalise) instead of one PIL transform per frame, so feeding frames never starves the model.
Embeddings are L2-normalised float32 numpy arrays. The model is loaded lazily: a run whose
embeddings are all cached never loads it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from schemas.dataset_dir import sha256_file
from schemas.errors import ToolkitError

log = logging.getLogger(__name__)

LOCAL_DIR = "local-dir:"


def resolve_device(device: str = "auto") -> str:
    """``auto`` → ``cuda`` when available, else ``cpu``; an unavailable ``cuda`` is an error."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ToolkitError(
            "CUDA is not available on this machine; use clip.device: cpu or auto", key="clip.device"
        )
    return device


def resolve_precision(precision: str, device: str) -> str:
    """``auto`` → ``bf16`` on CUDA, ``fp32`` on CPU."""
    if precision == "auto":
        return "bf16" if device.startswith("cuda") else "fp32"
    return precision


def _file_fingerprint(path: Path) -> str:
    """sha256 of a small file's bytes; path, size and mtime for big ones (hashing 10 GB is too slow)."""
    st = path.stat()
    if st.st_size <= 64 << 20:
        return sha256_file(path)[:16]
    return hashlib.sha256(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:16]


def model_fingerprint(model: str, pretrained: str | None, seed: int = 0) -> str:
    """A stable id of the weights, used in cache keys: name plus tag, file hash, or ``random-seed<N>``."""
    if model.startswith(LOCAL_DIR):
        folder = Path(model[len(LOCAL_DIR) :])
        weights = [p for p in sorted(folder.glob("open_clip_model.*")) if p.is_file()]
        cfg = folder / "open_clip_config.json"
        parts = [_file_fingerprint(p) for p in [cfg, *weights] if p.exists()]
        return f"local-dir:{folder.name}:{'-'.join(parts) or 'missing'}"
    if pretrained is None:
        return f"{model}:random-seed{seed}"
    path = Path(os.path.expanduser(pretrained))
    if path.is_file():
        return f"{model}:file-{_file_fingerprint(path)}"
    return f"{model}:{pretrained}"


@dataclass
class _Loaded:
    model: object
    tokenizer: object
    size: int
    mean: object  # torch tensor [1,3,1,1] on device
    std: object
    dtype: object


class ClipBackend:
    """One open_clip model on one device; counts the frames and strings it actually encodes."""

    def __init__(
        self,
        model: str = "ViT-bigG-14",
        pretrained: str | None = "laion2b_s39b_b160k",
        *,
        device: str = "auto",
        precision: str = "auto",
        batch_size: int = 100,
        seed: int = 0,
    ):
        self.model_name = model
        self.pretrained = pretrained
        self.device_setting = device
        self.precision_setting = precision
        self.batch_size = int(batch_size)
        self.seed = seed
        self.model_id = model_fingerprint(model, pretrained, seed)
        self.frames_encoded = 0
        self.texts_encoded = 0
        self.batches = 0
        self._loaded: _Loaded | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, s, seed: int = 0) -> ClipBackend:
        """Build from :class:`viddiff_method.config.ClipSettings`."""
        return cls(
            s.model, s.pretrained, device=s.device, precision=s.precision, batch_size=s.batch_size, seed=seed
        )

    # -- loading ------------------------------------------------------------------------------
    @property
    def loaded(self) -> bool:
        """Whether the weights are in memory (false for runs served entirely from the cache)."""
        return self._loaded is not None

    def load(self) -> _Loaded:
        """Create the model once (thread-safe); errors are one line naming the ``clip.*`` setting."""
        with self._lock:
            if self._loaded is None:
                self._loaded = self._load()
            return self._loaded

    def _load(self) -> _Loaded:
        import open_clip
        import torch

        device = resolve_device(self.device_setting)
        precision = resolve_precision(self.precision_setting, device)
        oc_precision = {"fp32": "fp32", "fp16": "pure_fp16", "bf16": "pure_bf16"}[precision]
        name, pretrained = self.model_name, self.pretrained
        if name.startswith(LOCAL_DIR):
            pretrained = None
        elif pretrained is not None:
            expanded = os.path.expanduser(pretrained)
            if os.path.sep in pretrained or pretrained.endswith((".pt", ".bin", ".safetensors", ".pth")):
                if not os.path.isfile(expanded):
                    raise ToolkitError("checkpoint file not found", file=expanded, key="clip.pretrained")
                pretrained = expanded
            elif name.replace(
                "/", "-"
            ) in open_clip.list_models() and pretrained not in open_clip.list_pretrained_tags_by_model(
                name.replace("/", "-")
            ):
                tags = ", ".join(open_clip.list_pretrained_tags_by_model(name.replace("/", "-"))) or "none"
                raise ToolkitError(
                    f"unknown pretrained tag {pretrained!r} for {name} (known: {tags})", key="clip.pretrained"
                )
        if not name.startswith(LOCAL_DIR) and name.replace("/", "-") not in open_clip.list_models():
            raise ToolkitError(f"unknown open_clip model {name!r}", key="clip.model")
        try:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(self.seed)
                model, _, preprocess = open_clip.create_model_and_transforms(
                    name, pretrained=pretrained, device=device, precision=oc_precision
                )
            tokenizer = open_clip.get_tokenizer(name)
        except (RuntimeError, FileNotFoundError, ValueError, OSError) as e:
            hint = ""
            if pretrained and not os.path.isfile(str(pretrained)):
                hint = (
                    " (weights for a tag come from the HF Hub: seed the HF cache or use a checkpoint path or "
                    "local-dir:)"
                )
            raise ToolkitError(
                f"cannot load CLIP {name!r} / {pretrained!r}: {str(e).splitlines()[0][:200]}{hint}",
                key="clip.pretrained" if pretrained else "clip.model",
            ) from None
        model.eval()
        if pretrained is None and not name.startswith(LOCAL_DIR):
            log.warning(
                "CLIP %s has random weights (clip.pretrained: null): similarities are meaningless", name
            )
        size = model.visual.image_size
        size = int(size[0] if isinstance(size, (tuple, list)) else size)
        pcfg = getattr(model.visual, "preprocess_cfg", {}) or {}
        mean = pcfg.get("mean") or getattr(model.visual, "image_mean", None) or open_clip.OPENAI_DATASET_MEAN
        std = pcfg.get("std") or getattr(model.visual, "image_std", None) or open_clip.OPENAI_DATASET_STD
        dtype = next(model.visual.parameters()).dtype
        mean_t = torch.tensor(mean, device=device, dtype=torch.float32).view(1, 3, 1, 1)
        std_t = torch.tensor(std, device=device, dtype=torch.float32).view(1, 3, 1, 1)
        log.info("CLIP %s loaded on %s (%s, %d px)", self.model_id, device, precision, size)
        return _Loaded(model, tokenizer, size, mean_t, std_t, dtype)

    # -- encoding -----------------------------------------------------------------------------
    @property
    def image_size(self) -> int:
        """Input side of the image tower (loads the model)."""
        return self.load().size

    def preprocess(self, frames: np.ndarray):
        """uint8 ``[B,H,W,3]`` → normalised ``[B,3,S,S]`` on the model's device: short side to S
        (bicubic, antialiased), centre crop, CLIP mean/std, in the model's dtype."""
        import torch
        import torch.nn.functional as F

        m = self.load()
        frames = np.ascontiguousarray(frames)
        x = torch.from_numpy(frames if frames.flags.writeable else frames.copy())
        if m.mean.device.type == "cuda":
            x = x.pin_memory().to(m.mean.device, non_blocking=True)
        x = x.permute(0, 3, 1, 2).float().div_(255.0)
        h, w = x.shape[-2:]
        if min(h, w) != m.size:
            scale = m.size / min(h, w)
            nh, nw = max(m.size, round(h * scale)), max(m.size, round(w * scale))
            x = F.interpolate(x, size=(nh, nw), mode="bicubic", align_corners=False, antialias=True).clamp_(
                0, 1
            )
            h, w = nh, nw
        top, left = (h - m.size) // 2, (w - m.size) // 2
        x = x[:, :, top : top + m.size, left : left + m.size]
        x = (x - m.mean) / m.std
        return x.to(m.dtype)

    def encode_preprocessed(self, x) -> np.ndarray:
        """Embed an already preprocessed batch; L2-normalised float32 ``[B, D]``."""
        import torch

        m = self.load()
        with torch.inference_mode():
            emb = m.model.encode_image(x)
            emb = torch.nn.functional.normalize(emb.float(), dim=-1)
        self.frames_encoded += int(x.shape[0])
        self.batches += 1
        return emb.cpu().numpy()

    def encode_images(self, frames: np.ndarray) -> np.ndarray:
        """Embed uint8 RGB frames ``[T,H,W,3]`` in batches of ``batch_size``."""
        if len(frames) == 0:
            return np.zeros((0, 0), np.float32)
        out = [
            self.encode_preprocessed(self.preprocess(frames[i : i + self.batch_size]))
            for i in range(0, len(frames), self.batch_size)
        ]
        return np.concatenate(out)

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Embed strings; L2-normalised float32 ``[N, D]``."""
        import torch

        m = self.load()
        texts = list(texts)
        if not texts:
            return np.zeros((0, 0), np.float32)
        device = m.mean.device
        outs = []
        with torch.inference_mode():
            for i in range(0, len(texts), 256):
                tok = m.tokenizer(texts[i : i + 256]).to(device)
                emb = m.model.encode_text(tok)
                outs.append(torch.nn.functional.normalize(emb.float(), dim=-1).cpu().numpy())
        self.texts_encoded += len(texts)
        return np.concatenate(outs)

    def counters(self) -> dict[str, int]:
        """What this backend computed (not what it served from a cache)."""
        return {
            "frames_encoded": self.frames_encoded,
            "texts_encoded": self.texts_encoded,
            "batches": self.batches,
        }
