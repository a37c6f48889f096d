"""Reading prediction files: differences (closed/open) and keypoint frames (localization).

Two layouts are accepted for differences, and both become the keyed form
``{sample_key: {diff_key: {"description": str|None, "prediction": "a"|"b"|"c"|None}}}``:

* keyed (``schemas/predictions.schema.json``), what ``viddiff run`` writes;
* the public list, one item per dataset row in row order, as the VidDiffBench eval reads it.

In both, an item may be the shorthand ``"a"`` (closed mode). Answers are normalised by case and
whitespace (``" A "`` -> ``"a"``); anything else is a one-line error naming the file and JSON path
(the public eval only logged a warning and went on). Difference keys must be digit strings.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eval.data import EvalData
from schemas import check
from schemas.dataset_dir import sha256_file
from schemas.errors import ToolkitError
from schemas.ids import is_safe
from schemas.io import read_json

ANSWERS = ("a", "b", "c")


@dataclass
class Predictions:
    """Difference predictions in the keyed form, and what was odd about the file."""

    items: dict[str, dict[str, dict[str, Any]]]
    path: Path | None = None
    layout: str = "keyed"
    sha256: str | None = None
    unknown_samples: list[str] = field(default_factory=list)

    def for_sample(self, sample_key: str) -> dict[str, dict[str, Any]]:
        """This sample's predictions (empty when none)."""
        return self.items.get(sample_key, {})


def _norm_item(value: Any, where: str, file: str) -> dict[str, Any]:
    if isinstance(value, str) or value is None:
        value = {"description": None, "prediction": value}
    if not isinstance(value, dict):
        raise ToolkitError("expected {description, prediction} or a bare answer", file=file, key=where)
    pred = value.get("prediction")
    if isinstance(pred, str):
        pred = pred.strip().lower() or None
    if pred is not None and pred not in ANSWERS:
        raise ToolkitError(
            f"prediction {value.get('prediction')!r} is not one of a, b, c, null",
            file=file,
            key=f"{where}.prediction",
        )
    desc = value.get("description")
    if desc is not None and not isinstance(desc, str):
        raise ToolkitError("description must be a string or null", file=file, key=f"{where}.description")
    return {**value, "description": desc, "prediction": pred}


def _norm_sample(obj: Any, where: str, file: str) -> dict[str, dict[str, Any]]:
    if obj is None:
        return {}
    if not isinstance(obj, dict):
        raise ToolkitError("expected an object {diff_key: prediction}", file=file, key=where)
    out = {}
    for k, v in obj.items():
        if not is_safe(str(k), "diff"):  # "²".isdigit() is True: the ASCII rule of schemas/ids.py
            raise ToolkitError(f"difference key {k!r} is not an ASCII decimal integer", file=file,
                               key=f"{where}.{k}")
        out[str(k)] = _norm_item(v, f"{where}.{k}", file)
    return out


def parse_predictions(obj: Any, data: EvalData, *, file: str = "<predictions>") -> Predictions:
    """Normalise a loaded keyed or public-list prediction object against ``data``'s rows."""
    if isinstance(obj, list):
        if len(obj) != len(data.rows):
            raise ToolkitError(
                f"list layout has {len(obj)} items but the dataset has {len(data.rows)} rows "
                "(the list must be aligned with the rows)",
                file=file,
                key="$",
            )
        items = {
            row["sample_key"]: _norm_sample(o, f"$[{i}]", file)
            for i, (row, o) in enumerate(zip(data.rows, obj))
        }
        preds = Predictions(items=items, layout="list")
    elif isinstance(obj, dict):
        items = {str(sk): _norm_sample(v, f"$.{sk}", file) for sk, v in obj.items()}
        check("predictions", items, file=file)
        known = data.by_key
        preds = Predictions(
            items=items, layout="keyed", unknown_samples=sorted(k for k in items if k not in known)
        )
    else:
        raise ToolkitError(
            "expected a JSON object {sample_key: {...}} or a list aligned with the rows", file=file, key="$"
        )
    return preds


def load_predictions(path: str | os.PathLike, data: EvalData) -> Predictions:
    """Read and normalise a difference-prediction file (keyed or public list layout)."""
    path = Path(path)
    preds = parse_predictions(read_json(path), data, file=str(path))
    preds.path, preds.sha256 = path, sha256_file(path)
    return preds


@dataclass
class Localization:
    """Keypoint predictions ``{sample_key: [{loc_id: [frame, ...]|None}, {...}]}`` (0-based)."""

    items: dict[str, list[dict[str, list[int] | None]]]
    path: Path | None = None
    sha256: str | None = None
    unknown_samples: list[str] = field(default_factory=list)


def parse_localization(obj: Any, data: EvalData, *, file: str = "<localization>") -> Localization:
    """Validate a localization object (keyed, or a list aligned with the rows) against the schema."""
    if isinstance(obj, list):
        if len(obj) != len(data.rows):
            raise ToolkitError(
                f"list layout has {len(obj)} items but the dataset has {len(data.rows)} rows",
                file=file,
                key="$",
            )
        obj = {row["sample_key"]: o for row, o in zip(data.rows, obj) if o is not None}
    if not isinstance(obj, dict):
        raise ToolkitError(
            "expected a JSON object {sample_key: [{loc_id: [frames]}, {...}]}", file=file, key="$"
        )
    check("localization", obj, file=file)
    known = data.by_key
    return Localization(items=obj, unknown_samples=sorted(k for k in obj if k not in known))


def load_localization(path: str | os.PathLike, data: EvalData) -> Localization:
    """Read and validate a localization file."""
    path = Path(path)
    loc = parse_localization(read_json(path), data, file=str(path))
    loc.path, loc.sha256 = path, sha256_file(path)
    return loc
