"""Reading prediction files: differences (closed/open) and keypoint frames (localization).

Two layouts are accepted for differences, and both become the keyed form
``{sample_key: {diff_key: {"description": str|None, "prediction": "a"|"b"|"c"|None}}}``:

* keyed (``schemas/predictions.schema.json``), what ``viddiff run`` writes;
* the public list, one item per dataset row in row order, as the VidDiffBench eval reads it.

In both, an item may be the shorthand ``"a"`` (closed mode), decided per item. Answers are normalised by
case and whitespace (``" A "`` -> ``"a"``, counted); anything else is a one-line error naming the file and
JSON path. Difference keys must be digit strings.

With ``strict`` (``--strict-official``) the public eval's rules apply instead (see :mod:`eval.official`):
answers are compared as written (``"A"`` is kept and scored wrong, counted in ``answers_invalid``), and in
closed mode a row's first item decides its form: after a bare first answer every item is read as a bare
answer (an object then scores wrong); after an object first item a bare answer stops, as the public eval
does.
"""

from __future__ import annotations

import json
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
    #: answers changed by case/whitespace normalisation (toolkit rules), and answers that are not
    #: a/b/c/null kept as written under ``strict`` (the public eval scores them wrong)
    answers_normalised: int = 0
    answers_invalid: int = 0

    def for_sample(self, sample_key: str) -> dict[str, dict[str, Any]]:
        """This sample's predictions (empty when none)."""
        return self.items.get(sample_key, {})


@dataclass
class _Parser:
    file: str
    strict: bool = False
    task: str = "closed"
    normalised: int = 0
    invalid: int = 0

    def item(self, value: Any, where: str, *, bare: bool | None = None) -> dict[str, Any]:
        """One prediction as ``{description, prediction}``; ``bare`` (strict closed) forces the row's form."""
        if bare or (bare is None and (isinstance(value, str) or value is None)):
            value = {"description": None if bare is None else "", "prediction": value}
        if not isinstance(value, dict):
            raise ToolkitError(
                "expected {description, prediction} or a bare answer", file=self.file, key=where
            )
        pred = value.get("prediction")
        if self.strict:
            if pred is not None and pred not in ANSWERS:
                self.invalid += 1  # kept as written (JSON text when not a string): scored wrong
                pred = pred if isinstance(pred, str) else json.dumps(pred, sort_keys=True)
        else:
            if isinstance(pred, str):
                norm = pred.strip().lower() or None
                self.normalised += norm != pred
                pred = norm
            if pred is not None and pred not in ANSWERS:
                raise ToolkitError(
                    f"prediction {value.get('prediction')!r} is not one of a, b, c, null",
                    file=self.file,
                    key=f"{where}.prediction",
                )
        desc = value.get("description")
        if desc is not None and not isinstance(desc, str):
            raise ToolkitError(
                "description must be a string or null", file=self.file, key=f"{where}.description"
            )
        return {**value, "description": desc, "prediction": pred}

    def sample(self, obj: Any, where: str) -> dict[str, dict[str, Any]]:
        """One row's predictions; under ``strict`` the public eval's form rules apply (module docstring)."""
        if obj is None:
            return {}
        if not isinstance(obj, dict):
            raise ToolkitError("expected an object {diff_key: prediction}", file=self.file, key=where)
        for k in obj:
            if not is_safe(str(k), "diff"):  # "²".isdigit() is True: the ASCII rule of schemas/ids.py
                raise ToolkitError(
                    f"difference key {k!r} is not an ASCII decimal integer",
                    file=self.file,
                    key=f"{where}.{k}",
                )
        bare: bool | None = None
        if self.strict and obj:
            first = next(iter(obj))
            bare = self.task == "closed" and not isinstance(obj[first], dict)
            stray = [k for k, v in obj.items() if not isinstance(v, dict)]
            if not bare and stray:
                why = (
                    f"a row whose first item ({first}) is an object" if self.task == "closed" else "open mode"
                )
                raise ToolkitError(
                    f"bare answer in {why}: the public eval stops here (--strict-official)",
                    file=self.file,
                    key=f"{where}.{stray[0]}",
                )
        return {str(k): self.item(v, f"{where}.{k}", bare=bare) for k, v in obj.items()}


def parse_predictions(
    obj: Any, data: EvalData, *, file: str = "<predictions>", strict: bool = False, task: str = "closed"
) -> Predictions:
    """Normalise a loaded keyed or public-list prediction object against ``data``'s rows.

    ``strict`` (``--strict-official``) applies the public eval's rules for ``task``: answers compared as
    written, and in closed mode each row's form decided by its first item.
    """
    parser = _Parser(file=file, strict=strict, task=task)
    if isinstance(obj, list):
        if len(obj) != len(data.rows):
            raise ToolkitError(
                f"list layout has {len(obj)} items but the dataset has {len(data.rows)} rows "
                "(the list must be aligned with the rows)",
                file=file,
                key="$",
            )
        items = {
            row["sample_key"]: parser.sample(o, f"$[{i}]") for i, (row, o) in enumerate(zip(data.rows, obj))
        }
        preds = Predictions(items=items, layout="list")
    elif isinstance(obj, dict):
        items = {str(sk): parser.sample(v, f"$.{sk}") for sk, v in obj.items()}
        if not strict:  # strict keeps answers the schema refuses ("A") so they can be scored wrong
            check("predictions", items, file=file)
        known = data.by_key
        preds = Predictions(
            items=items, layout="keyed", unknown_samples=sorted(k for k in items if k not in known)
        )
    else:
        raise ToolkitError(
            "expected a JSON object {sample_key: {...}} or a list aligned with the rows", file=file, key="$"
        )
    preds.answers_normalised, preds.answers_invalid = parser.normalised, parser.invalid
    return preds


def load_predictions(
    path: str | os.PathLike, data: EvalData, *, strict: bool = False, task: str = "closed"
) -> Predictions:
    """Read and normalise a difference-prediction file (keyed or public list layout)."""
    path = Path(path)
    preds = parse_predictions(read_json(path), data, file=str(path), strict=strict, task=task)
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
