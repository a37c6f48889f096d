"""Pair strips: for a few pairs, frames of A against B at the annotated and predicted keypoints, with each
statement, its ground truth and every run's answer (frames as JPEG data URLs)."""

from __future__ import annotations

import base64
import io
import logging
from typing import Any

from eval.data import EvalData, clip_fps, gt_labels
from eval.report.runs import Run
from schemas.dataset_dir import diff_key_order
from schemas.errors import ToolkitError

log = logging.getLogger("eval.report")  # the name warnings were shown under before the split
THUMB_WIDTH = 256  # stored size; shown at 128 px (sharp on high-DPI screens)


def _jpeg_data_url(frame: Any) -> str:
    from PIL import Image

    im = Image.fromarray(frame)
    if im.width > THUMB_WIDTH:
        im = im.resize((THUMB_WIDTH, round(im.height * THUMB_WIDTH / im.width)), Image.BILINEAR)
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()


def _frames(data: EvalData, row: dict[str, Any], v: int, wanted: set[int]) -> dict[int, str]:
    from viddiff_runtime import media

    path = data.video_path(row, v)
    if path is None or not wanted:
        return {}
    dec = media.decode(path, indices=sorted(wanted))
    return {idx: _jpeg_data_url(fr) for idx, fr in zip(dec.indices, dec.frames)}


def _first(frames: list[int] | None) -> int | None:
    return frames[0] if frames else None


def _used_frames(run: Run, sample_key: str, diff_key: str) -> str | None:
    """ "A 6,8,10 · B 9": the frames a run looked at for one difference (``difference_frames.json``)."""
    pair = run.difference_frames.get(sample_key)
    if not isinstance(pair, list) or len(pair) != 2:
        return None
    parts = [
        f"{name} {','.join(str(x) for x in (d or {}).get(diff_key) or [])}"
        for name, d in zip("AB", pair)
        if (d or {}).get(diff_key)
    ]
    return " · ".join(parts) or None


def pick_pairs(data: EvalData, runs: list[Run], n: int) -> list[dict[str, Any]]:
    """The first ``n`` rows with keypoints, preferring rows a run localized, then rows with a/b labels."""
    loc_keys = {k for r in runs if r.localization for k in r.localization.items}
    cands = [
        r for r in data.rows if any(v for d in (r.get("retrieval_frames") or []) for v in (d or {}).values())
    ]
    cands.sort(
        key=lambda r: (
            r["sample_key"] not in loc_keys,
            not any(v in ("a", "b") for v in gt_labels(r).values()),
        )
    )
    return cands[:n]


def strip(data: EvalData, row: dict[str, Any], runs: list[Run]) -> dict[str, Any]:
    """Frames of A and B at each keypoint (annotated, and each run's prediction) plus statements/answers."""
    sk = row["sample_key"]
    gt_pair = row.get("retrieval_frames") or [{}, {}]
    first_a = {k: v[0] for k, v in (gt_pair[0] or {}).items() if v}
    loc_ids = sorted(
        {k for d in gt_pair for k, v in (d or {}).items() if v}, key=lambda k: (first_a.get(k, 1 << 30), k)
    )  # in the order they happen in video A
    loc_runs = [r for r in runs if r.localization]
    wanted: list[set[int]] = [set(), set()]
    cells: list[dict[str, Any]] = []
    for loc_id in loc_ids:
        entry = {"loc_id": loc_id, "videos": []}
        for v in (0, 1):
            fps = clip_fps(row["videos"][v])
            marks = [{"label": "annotated", "frame": _first((gt_pair[v] or {}).get(loc_id))}]
            for r in loc_runs:
                pv = (r.localization.items.get(sk) or [{}, {}])[v] or {}
                marks.append({"label": r.name, "frame": _first(pv.get(loc_id))})
            for mk in marks:
                mk.update(time=None, err=None, img=None)
            for mk in marks:
                if mk["frame"] is not None:
                    wanted[v].add(mk["frame"])
                    mk["time"] = f"{mk['frame'] / fps:.2f} s"
            entry["videos"].append({"name": "AB"[v], "fps": fps, "marks": marks})
        cells.append(entry)
    try:
        images = [_frames(data, row, v, wanted[v]) for v in (0, 1)]
    except ToolkitError as e:
        log.warning("%s: frames not shown: %s", sk, e)
        images = [{}, {}]
    for entry in cells:
        for v, vid in enumerate(entry["videos"]):
            gt_frame = vid["marks"][0]["frame"]
            for mk in vid["marks"]:
                mk["img"] = images[v].get(mk["frame"]) if mk["frame"] is not None else None
                if mk["label"] != "annotated" and mk["frame"] is not None and gt_frame is not None:
                    mk["err"] = (
                        f"Δ {mk['frame'] - gt_frame:+d} fr ({(mk['frame'] - gt_frame) / vid['fps']:+.2f} s)"
                    )
    statements = []
    labels = gt_labels(row)
    for dk in sorted(labels, key=diff_key_order):
        entry = (row.get("differences_annotated") or {}).get(dk) or {}
        answers = []
        for r in runs:
            if r.predictions is None:
                continue
            p = r.predictions.for_sample(sk).get(dk, {}).get("prediction")
            ok = None if labels[dk] not in ("a", "b") else (p == labels[dk])
            answers.append({"run": r.name, "answer": p or "–", "ok": ok, "frames": _used_frames(r, sk, dk)})
        statements.append(
            {
                "key": dk,
                "text": entry.get("description", ""),
                "gt": labels[dk],
                "keypoints": ", ".join(entry.get("keypoints") or []),
                "answers": answers,
            }
        )
    return {
        "sample_key": sk,
        "action": row.get("action"),
        "split": row.get("split"),
        "description": row.get("action_description", ""),
        "keypoints": cells,
        "statements": statements,
        "has_images": any(images),
    }
