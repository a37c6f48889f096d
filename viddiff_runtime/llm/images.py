"""Images for a VLM request: bytes, arrays, PIL images or files, encoded as PNG/JPEG with their mime type."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import numpy as np

from schemas.errors import ToolkitError

ImageLike = Any  # bytes | np.ndarray | PIL.Image.Image | str | os.PathLike


def _sniff_mime(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def encode_image(img: ImageLike, fmt: str = "png", quality: int = 90) -> tuple[bytes, str]:
    """Return ``(encoded bytes, mime type)`` for an image given as bytes, array, PIL image or path."""
    from PIL import Image

    if isinstance(img, (str, os.PathLike)):
        path = Path(img)
        try:
            data = path.read_bytes()
        except OSError as e:
            raise ToolkitError(f"cannot read image: {e.strerror}", file=str(path)) from None
        mime = _sniff_mime(data)
        if mime is None:
            raise ToolkitError("not a PNG/JPEG/GIF/WebP image", file=str(path))
        return data, mime
    if isinstance(img, (bytes, bytearray, memoryview)):
        data = bytes(img)
        mime = _sniff_mime(data)
        if mime is None:
            raise ToolkitError("image bytes are not PNG/JPEG/GIF/WebP (pass an array to have them encoded)")
        return data, mime
    if isinstance(img, np.ndarray):
        if img.dtype != np.uint8 or img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] not in (3, 4)):
            raise ToolkitError(f"image array must be uint8 HxW, HxWx3 or HxWx4, got {img.dtype} {img.shape}")
        img = Image.fromarray(img)
    if isinstance(img, Image.Image):
        buf = io.BytesIO()
        if fmt == "jpeg":
            img.convert("RGB").save(buf, format="JPEG", quality=quality)
            return buf.getvalue(), "image/jpeg"
        img.save(buf, format="PNG")
        return buf.getvalue(), "image/png"
    raise ToolkitError(f"unsupported image type {type(img).__name__}")


__all__ = ["ImageLike", "encode_image"]
