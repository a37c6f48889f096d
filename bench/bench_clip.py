"""CLIP stage throughput against the raw model on the same device: prints one line with the ratio.

raw   = ``model.encode_image`` on an already preprocessed batch that sits on the device (the ceiling);
stage = ``viddiff_method.stages.embed.FrameEmbedder.embed_videos`` on real mp4 clips: PyAV decode in a
        background thread, batched tensor preprocessing, encoding, copy back, embedding-cache writes.

The target is ratio >= 0.8. Defaults (CPU, random-init ViT-B-32, ~1-2 min on 2 cores) need no network.
The GPU check of the published CLIP (random init is fine for throughput):

    python bench/bench_clip.py --model ViT-bigG-14 --precision bf16 --device cuda --batch-size 256
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np


def make_clips(folder: Path, n_frames: int, clip_len: int, width: int, height: int, fps: int) -> list[Path]:
    """Synthetic H.264 clips (barcode frames) totalling ``n_frames``, encoded with PyAV (no ffmpeg binary
    needed, so the bench also runs on a bare GPU machine)."""
    import av

    from curation.samples.synthetic import render_frame

    paths, made, i = [], 0, 0
    base = [render_frame(k, width, height) for k in range(min(clip_len, 64))]
    while made < n_frames:
        n = min(clip_len, n_frames - made)
        path = folder / f"clip{i}.mp4"
        with av.open(str(path), "w") as out:
            stream = out.add_stream("libx264", rate=fps, options={"preset": "veryfast", "crf": "18"})
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            for k in range(n):
                out.mux(stream.encode(av.VideoFrame.from_ndarray(base[k % len(base)], format="rgb24")))
            out.mux(stream.encode(None))
        paths.append(path)
        made += n
        i += 1
    return paths


def sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="ViT-B-32")
    ap.add_argument("--pretrained", default=None, help="tag or checkpoint path (default: random init)")
    ap.add_argument("--device", default="cpu", help="cpu | cuda | auto")
    ap.add_argument("--precision", default="auto", help="auto | fp32 | fp16 | bf16")
    ap.add_argument("--batch-size", type=int, default=None, help="default 32 on CPU, 256 on CUDA")
    ap.add_argument(
        "--frames", type=int, default=None, help="frames per measurement (default 128 CPU, 4096 CUDA)"
    )
    ap.add_argument("--clip-len", type=int, default=64, help="frames per synthetic clip")
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=360)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: all cores)")
    args = ap.parse_args()

    import torch

    from viddiff_method.backends.clip import ClipBackend, resolve_device, resolve_precision
    from viddiff_method.backends.clip_cache import ClipCache
    from viddiff_method.stages.embed import FrameEmbedder, VideoRef

    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    cuda = device.startswith("cuda")
    bs = args.batch_size or (256 if cuda else 32)
    n = args.frames or (4096 if cuda else 128)
    n = max(bs, n // bs * bs)  # whole batches in both measurements
    fps = 8

    clip = ClipBackend(args.model, args.pretrained, device=device, precision=args.precision, batch_size=bs)
    t0 = time.perf_counter()
    loaded = clip.load()
    t_load = time.perf_counter() - t0
    precision = resolve_precision(args.precision, device)

    with tempfile.TemporaryDirectory(prefix="bench-clip-") as tmp:
        paths = make_clips(Path(tmp), n, args.clip_len, args.width, args.height, fps)
        refs = [VideoRef(f"c{i}", p, f"sha{i}", fps) for i, p in enumerate(paths)]

        # raw: the very frames the stage will see, decoded and preprocessed beforehand, on the device
        # (real frames, not noise: on CPU the model's speed depends on the data)
        from viddiff_runtime import media

        decoded = np.concatenate([media.decode(p, size=loaded.size).frames for p in paths])
        batches = [clip.preprocess(decoded[i : i + bs]) for i in range(0, len(decoded), bs)]
        clip.encode_preprocessed(batches[0])  # warm-up (kernels, allocator)

        def raw_rate() -> float:
            sync(device)
            t = time.perf_counter()
            for x in batches:
                clip.encode_preprocessed(x)
            sync(device)
            return len(decoded) / (time.perf_counter() - t)

        # raw is measured before and after the stage so that load drift hits both alike
        raw_before = raw_rate()
        embedder = FrameEmbedder(clip, ClipCache(None))
        sync(device)
        t0 = time.perf_counter()
        out = embedder.embed_videos(refs, progress=False)
        sync(device)
        stage = sum(len(v.plan.indices) for v in out.values()) / (time.perf_counter() - t0)
        raw_after = raw_rate()
    raw = 2 / (1 / raw_before + 1 / raw_after)

    name = args.model + (f"/{args.pretrained}" if args.pretrained else " (random init)")
    print(
        f"bench_clip: {name} on {device} ({torch.cuda.get_device_name() if cuda else 'cpu'}), {precision}, "
        f"batch {bs}, {n} frames of {args.width}x{args.height}: raw model {raw:.1f} frames/s, "
        f"CLIP stage (decode+preprocess+encode+cache) {stage:.1f} frames/s, ratio {stage / raw:.2f} "
        f"(target >= 0.80; model load {t_load:.1f} s)",
        flush=True,
    )


if __name__ == "__main__":
    main()
