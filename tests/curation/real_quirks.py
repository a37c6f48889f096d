"""Generated source trees that reproduce, exactly, the quirks seen on the datasets' real files.

Every frame is a barcoded synthetic frame (curation.samples.synthetic); only the layouts, names, codecs, rates,
sizes and lengths copy the real releases (FineDiving's annotation pickles, the JIGSAWS Suturing release).
"""

from __future__ import annotations

import pickle
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

from curation.samples.synthetic import render_frame
from schemas.io import atomic_write
from viddiff_runtime import media

JIGSAWS_RATE = Fraction(10000000, 333333)  # the real AVIs' stream rate (30.00003 fps)


def dx50_avi(path: Path, n: int, size: tuple[int, int], *, label: str = "jigsaws") -> Path:
    """An MPEG-4 part 2 AVI (FourCC DX50) whose stream time base is 333333/10000000, like JIGSAWS'.

    The MPEG-4 encoder refuses a time base denominator above 65535, so the stream is encoded at 30 fps
    and remuxed (packets copied, no re-encode) into an AVI whose header says 333333/10000000, which is
    what the real files' headers hold.
    """
    raw = path.with_name(f".{path.stem}.30.avi")
    media.write_frames(
        (render_frame(i, size[0], size[1], label=label) for i in range(n)), raw, 30, codec="mpeg4"
    )
    with av.open(str(raw)) as src, av.open(str(path), "w", format="avi") as dst:
        stream = src.streams.video[0]
        out = dst.add_stream_from_template(stream)
        out.time_base = 1 / JIGSAWS_RATE
        out.codec_tag = "DX50"
        for packet in src.demux(stream):
            if packet.dts is None:
                continue
            packet.stream = out
            dst.mux(packet)
    raw.unlink()
    return path


def transcription(n: int, gestures: list[str]) -> str:
    """``start end Gk`` rows, 1-based inclusive, contiguous, smallest start 1, last end <= ``n``."""
    cuts = np.linspace(1, n - 1, len(gestures) + 1).round().astype(int)
    rows = [
        f"{int(cuts[i]) if i == 0 else int(cuts[i]) + 1} {int(cuts[i + 1])} {g}"
        for i, g in enumerate(gestures)
    ]
    return "\n".join(rows) + "\n"


# trial, skill, GRS, capture1 size, capture2 size (None: missing), gestures
SUTURING = [
    ("Suturing_B001", "N", 13, (640, 480), (640, 480), ["G1", "G5", "G8", "G2", "G3", "G6", "G11"]),
    ("Suturing_D001", "E", 27, (640, 480), (640, 480), ["G1", "G5", "G8", "G2", "G3", "G6", "G11"]),
    (
        "Suturing_G001",
        "N",
        10,
        (320, 240),
        (640, 480),
        ["G5", "G8", "G2", "G3", "G6", "G11"],
    ),  # no G1, 320x240
    ("Suturing_C002", "I", 22, (640, 480), (640, 480), ["G5", "G2", "G3", "G6", "G11"]),  # no G1
    ("Suturing_E001", "E", 25, (640, 480), None, ["G1", "G2", "G3", "G6", "G11"]),  # second capture missing
]


def jigsaws_tree(root: Path, *, n: int = 36) -> Path:
    """``root/Suturing/`` as in the real release: double-tab meta file, DX50 AVIs, transcriptions.

    capture1 is 2 frames longer than capture2 (as in 38 of 39 real trials); both share one transcription.
    """
    task = root / "Suturing"
    meta = ""
    for k, (trial, level, grs, size1, size2, gestures) in enumerate(SUTURING):
        items = "\t".join(str(1 + (k + j) % 5) for j in range(6))
        meta += f"{trial}\t\t{level}\t{grs}\t\t{items}\n"
        frames = n + 2 * k
        dx50_avi(task / "video" / f"{trial}_capture1.avi", frames + 2, size1)
        if size2 is not None:
            dx50_avi(task / "video" / f"{trial}_capture2.avi", frames, size2)
        atomic_write(task / "transcriptions" / f"{trial}.txt", transcription(frames, gestures))
    meta += "Suturing_H002\t\tN\t11\t\t2\t2\t2\t2\t2\t2\n"  # listed, no video (as in the real release)
    atomic_write(task / "meta_file_Suturing.txt", meta)
    return root


# source names as the real FineDiving pickles spell them; sub-action runs (label, frames)
DIVE = [(1, 5), (7, 10), (13, 4)]
FINEDIVING = [
    ("FINADivingWorldCup2021_Men10mSynchronised_final_r3", 4, 5, 2113, DIVE),
    ("FINADivingWorldCup2021_Men10mSynchronised_final_r3", 9, 5, 14425, DIVE),
    ("FINADivingWorldCup2021_Women3mSynchronised_final_r1", 2, 5, 489, DIVE),
    ("FINADivingWorldCup2021_Men10m_final_r1", 11, 5, 30112, DIVE),
    (
        "FINADivingWorldCup2021_Men10m_final_r1",
        12,
        5,
        31007,
        [(1, 5), (7, 6), (1, 2), (7, 5), (13, 4)],
    ),  # repeat
    ("FINADivingWorldCup2021_Men10m_final_r1", 13, 5, 32018, [(1, 5), (7, 12)]),  # does not end with Entry
    ("01", 1, 5, 1200, DIVE),  # numeric sources '01' .. '26': no height in the name
    ("26", 7, 6, 290400, DIVE),  # frame numbers reach 290470: names of 6 digits
]


def finediving_tree(root: Path, *, trimmed_layout: bool = True) -> Path:
    """Frames under ``Trimmed_Video_Frames/FINADiving_MTL_256s/<source>/<instance>/`` (a published
    layout) and the annotation pickles (numpy arrays, ``(source, instance)`` keys, end frame inclusive)."""
    frames_root = root / ("Trimmed_Video_Frames" if trimmed_layout else "") / "FINADiving_MTL_256s"
    fine, coarse = {}, {}
    rng = np.random.default_rng(3)
    for k, (source, inst, digits, first, runs) in enumerate(FINEDIVING):
        labels = np.concatenate([np.full(n, lab, dtype=np.int64) for lab, n in runs])
        folder = frames_root / source / str(inst)
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(len(labels)):
            Image.fromarray(render_frame(i, 160, 120, label="finediving")).save(
                folder / f"{first + i:0{digits}d}.jpg"
            )
        score = float(60 + 3 * k)
        fine[(source, inst)] = {
            "action_type": "107B",
            "dive_score": np.float64(score),
            "frames_labels": labels,
            "steps_transit_frames": np.cumsum([n for _, n in runs])[:-1],
            "sub-action_types": {1: "Forward", 7: "3.5 Soms.Pike", 13: "Entry"},
        }
        coarse[(source, inst)] = {
            "action_type": "107B",
            "dive_score": score,
            "difficulty": 3.3,
            "judge_scores": rng.uniform(6, 9, size=7).round(1),
            "start_frame": first,
            "end_frame": first + len(labels) - 1,
        }
    ann = root / "Annotations"
    ann.mkdir(parents=True, exist_ok=True)
    (ann / "FineDiving_fine-grained_annotation.pkl").write_bytes(pickle.dumps(fine, protocol=4))
    (ann / "FineDiving_coarse_annotation.pkl").write_bytes(pickle.dumps(coarse, protocol=4))
    return root
