"""Result regions exactly as the Label Studio 1.23.2 editor saves them (measured in a real browser)."""

from __future__ import annotations

import random
import string


def _rid() -> str:
    return "".join(random.choices(string.ascii_letters + string.digits + "_-", k=10))


def choice(diff_key: str, label: str) -> dict:
    """A radio choice on a difference."""
    return {
        "value": {"choices": [label]},
        "id": _rid(),
        "from_name": f"diff_{diff_key}",
        "to_name": "video_a",
        "type": "choices",
        "origin": "manual",
    }


def mark(side: str, label: str, start: int, end: int | None = None) -> dict:
    """A TimelineLabels region on video ``side``; ``start``/``end`` are LS frames (1-based, inclusive)."""
    return {
        "value": {
            "ranges": [{"start": start, "end": start if end is None else end}],
            "timelinelabels": [label],
        },
        "id": _rid(),
        "from_name": f"tl_{side}",
        "to_name": f"video_{side}",
        "type": "timelinelabels",
        "origin": "manual",
    }


def export_task(task_id: int, data: dict, annotations: list[dict]) -> dict:
    """A task of a JSON export (the shape ``exports.download_sync(export_type="JSON")`` returns)."""
    return {
        "id": task_id,
        "annotations": [
            {
                "id": a.get("id", 100 * task_id + i),
                "completed_by": a["completed_by"],
                "result": a["result"],
                "was_cancelled": a.get("was_cancelled", False),
                "ground_truth": a.get("ground_truth", False),
                "created_at": "2026-11-26T04:09:01.326386Z",
                "updated_at": a.get("updated_at", "2026-11-26T04:09:01.326421Z"),
                "draft_created_at": None,
                "lead_time": 9.2,
                "prediction": {},
                "result_count": len(a["result"]),
                "unique_id": "dd4cf354-e32d-4338-a23b-2270c58a8ff4",
                "import_id": None,
                "last_action": None,
                "bulk_created": False,
                "task": task_id,
                "project": 1,
                "updated_by": a.get("updated_by", a["completed_by"]),
                "parent_prediction": None,
                "parent_annotation": None,
                "last_created_by": None,
            }
            for i, a in enumerate(annotations)
        ],
        "drafts": [],
        "predictions": [],
        "data": data,
        "meta": {},
        "created_at": "2026-11-26T04:09:00.842436Z",
        "updated_at": "2026-11-26T04:09:01.435444Z",
        "allow_skip": True,
        "inner_id": task_id,
        "total_annotations": len(annotations),
        "cancelled_annotations": 0,
        "total_predictions": 0,
        "comment_count": 0,
        "unresolved_comment_count": 0,
        "last_comment_updated_at": None,
        "project": 1,
        "updated_by": 1,
        "comment_authors": [],
    }
