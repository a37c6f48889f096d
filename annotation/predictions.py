"""The method's outputs as Label Studio predictions (pre-annotations annotators can accept or fix).

``RUN_DIR/predictions.json`` ``{sample_key: {diff_key: {description, prediction}}}`` becomes a/b/c choices
on a differences project; ``RUN_DIR/localization.json`` ``{sample_key: [{loc_id: [frame, ...]}, {...}]}``
(0-based frames of the stored clips) becomes single-frame ``key:<loc_id>`` regions on a timestamps project,
at Label Studio frame ``index + 1``. Every prediction is validated against the label config first, since
the server does not validate predictions.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from annotation.configs import KEY_PREFIX, VIDEO_CONTROLS, choice_name
from annotation.frames import index_to_ls
from annotation.results import _interface, config_items
from schemas import check
from schemas.errors import ToolkitError
from schemas.io import read_json


def load_run(run_dir: str | os.PathLike, kind: str) -> dict[str, Any]:
    """Read and validate the run file a project kind needs (predictions.json or localization.json)."""
    run_dir = Path(run_dir)
    name, schema = (
        ("predictions.json", "predictions")
        if kind == "differences"
        else ("localization.json", "localization")
    )
    path = run_dir / name
    if not path.exists():
        raise ToolkitError(f"run has no {name} (needed for --kind {kind})", file=str(path))
    obj = read_json(path)
    if kind == "differences":
        # the closed-mode shorthand {diff_key: "a"} is accepted, as in the benchmark's eval
        obj = (
            {
                sk: {k: (v if isinstance(v, dict) else {"prediction": v}) for k, v in d.items()}
                if isinstance(d, dict)
                else d
                for sk, d in obj.items()
            }
            if isinstance(obj, dict)
            else obj
        )
    check(schema, obj, file=str(path))
    return obj


def prediction_result(
    kind: str, config: str, entry: Any, task_data: dict[str, Any]
) -> tuple[list[dict], list[str]]:
    """Result regions for one task and the reasons items were skipped (unknown key, out-of-clip frame)."""
    diff_keys, timelines = config_items(config)
    result, skipped = [], []
    if kind == "differences":
        for k, v in sorted(entry.items()):
            pred = v.get("prediction")
            if pred is None:
                continue
            if k not in diff_keys:
                skipped.append(f"difference {k} is not in the project's config")
                continue
            result.append(
                {
                    "from_name": choice_name(k),
                    "to_name": "video_a",
                    "type": "choices",
                    "value": {"choices": [pred]},
                }
            )
    else:
        for side, per_video in zip("ab", entry):
            video, tl = VIDEO_CONTROLS[side]
            labels = set(timelines.get(tl, []))
            n = task_data[f"n_frames_{side}"]
            for loc, frames in sorted(per_video.items()):
                if not frames:
                    continue
                if KEY_PREFIX + loc not in labels:
                    skipped.append(f"loc_id {loc!r} is not a keypoint of the project")
                    continue
                if frames[0] >= n:
                    skipped.append(
                        f"frame {frames[0]} of {loc!r} on video {side} is outside the clip (n={n})"
                    )
                    continue
                f = index_to_ls(frames[0])
                result.append(
                    {
                        "from_name": tl,
                        "to_name": video,
                        "type": "timelinelabels",
                        "value": {"ranges": [{"start": f, "end": f}], "timelinelabels": [KEY_PREFIX + loc]},
                    }
                )
    errors = _interface(config).validate_prediction({"result": result}, return_errors=True)
    if errors:
        raise ToolkitError(
            f"prediction does not fit the label config: {errors[0]}", key=task_data["sample_key"]
        )
    return result, skipped
