"""The SYNTHETIC JIGSAWS sample tree (``curate samples``; see curation/samples/trees.py): Suturing and Knot_Tying trials.

It carries the release's pitfalls: double-tab meta lines, a 320x240 capture1 vs a 160x120 capture2, a
transcription running past its video, the missing ``Suturing_H002`` video and both mirror layouts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from curation.samples import synthetic as ss
from schemas.io import atomic_write

SUTURING = [("B", "N", 13), ("C", "I", 22), ("D", "E", 27), ("H", "N", 10)]


KNOT = [("B", "N", 12), ("E", "E", 25), ("G", "I", 18)]


def _meta_line(trial: str, level: str, grs: int, rng: np.random.Generator) -> str:
    items = "\t".join(str(int(x)) for x in rng.integers(1, 6, size=6))
    return f"{trial}\t\t{level}\t{grs}\t\t{items}\n"  # the real file's empty columns


def _transcription(n: int, gestures: list[str], rng: np.random.Generator, *, overrun: bool = False) -> str:
    """``start end Gk`` lines, 1-based inclusive, first start > 1; ``overrun`` ends past the video."""
    cuts = np.sort(rng.choice(np.arange(6, n - 6), size=len(gestures) - 1, replace=False))
    start, lines = int(rng.integers(2, 5)), []
    ends = [int(c) for c in cuts] + [n + 2 if overrun else n - int(rng.integers(1, 4))]
    for g, end in zip(gestures, ends):
        lines.append(f"{start} {end} {g}")
        start = end + 1
    return "\n".join(lines) + "\n"


def write_tree(root: Path, rng: np.random.Generator) -> None:
    """Write this source's SYNTHETIC sample tree (see curation/samples/trees.py) under ``root``."""
    task = root / "Suturing"
    meta = ""
    for k, (s, level, grs) in enumerate(SUTURING):
        trial = f"Suturing_{s}001"
        meta += _meta_line(trial, level, grs, rng)
        n = int(rng.integers(36, 45))
        big = k == 0
        ss.write_video(
            task / "video" / f"{trial}_capture1.avi",
            n,
            "jigsaws",
            color=ss.write_color(rng),
            size=(320, 240) if big else (ss.W, ss.H),
            codec="mjpeg",
        )
        if big:
            ss.write_video(
                task / "video" / f"{trial}_capture2.avi",
                n,
                "jigsaws",
                color=ss.write_color(rng),
                codec="mjpeg",
            )
            kin = rng.normal(size=(n, 76))
            atomic_write(
                task / "kinematics" / "AllGestures" / f"{trial}.txt",
                "\n".join("     ".join(f"{v:.6e}" for v in row) for row in kin) + "\n",
            )
        atomic_write(
            task / "transcriptions" / f"{trial}.txt",
            _transcription(n, ["G1", "G2", "G3", "G6", "G11"], rng, overrun=k == 1),
        )
    meta += _meta_line("Suturing_H002", "N", 11, rng)  # listed, but there is no video (as in the real data)
    atomic_write(task / "meta_file_Suturing.txt", meta)
    # Knot_Tying: the <Task>_video/video + <Task>_kinematic/transcriptions mirror layout
    meta = ""
    for s, level, grs in KNOT:
        trial = f"Knot_Tying_{s}001"
        meta += _meta_line(trial, level, grs, rng)
        n = int(rng.integers(36, 45))
        ss.write_video(
            root / "Knot_Tying_video" / "video" / f"{trial}_capture1.avi",
            n,
            "jigsaws",
            color=ss.write_color(rng),
            codec="mjpeg",
        )
        atomic_write(
            root / "Knot_Tying_kinematic" / "transcriptions" / f"{trial}.txt",
            _transcription(n, ["G1", "G12", "G13", "G14", "G15", "G11"], rng),
        )
    atomic_write(root / "Knot_Tying_kinematic" / "meta_file_Knot_Tying.txt", meta)
