"""Where the toolkit's scoring deliberately differs from the public VidDiffBench eval, and the switch back.

Every scorer takes ``strict`` (``viddiff eval closed|open --strict-official``): with it, each difference in
:data:`CHANGES` behaves as the public ``eval_viddiff.py`` does (where that code stops with an error, so
does the toolkit, with one line naming the file and key). Results record which rules were used
(:func:`rules_block`), so two numbers computed under different rules are never confused.
"""

from __future__ import annotations

from typing import Any

#: One entry per deliberate difference: the toolkit's behaviour, the public eval's, and the effect.
CHANGES: tuple[dict[str, str], ...] = (
    {
        "id": "answer_case",
        "toolkit": "answers are case- and whitespace-normalised (' A ' -> 'a'); other values are an error",
        "official": "answers are compared as written: 'A' or ' a ' is scored wrong (a warning is logged)",
        "effect": "a predictor that writes upper-case letters scores up to its true accuracy instead of ~0",
    },
    {
        "id": "answer_form_per_item",
        "toolkit": "each item may be a bare answer 'a' or {description, prediction}, decided per item",
        "official": "closed: the row's first item decides; after a bare first item every "
        "{description, prediction} item is scored wrong, after an object first item a bare answer stops the eval",
        "effect": "rows that mix the two forms are scored on their answers",
    },
    {
        "id": "null_answer_match",
        "toolkit": "open: a matched prediction whose answer is null counts as err_pred_c",
        "official": "open: it counts as no match (err_nomatch)",
        "effect": "moves items between err_pred_c and err_nomatch; recall is the same",
    },
    {
        "id": "null_statement_items",
        "toolkit": "a labelled item whose statement is null is scored in closed (the label is known) and "
        "skipped in open (nothing to match); both are counted (gt_without_description)",
        "official": "the eval fails on such an item; --strict-official skips it in both closed and open",
        "effect": "closed n includes these items unless --strict-official",
    },
    {
        "id": "n_diff",
        "toolkit": "open: only the first n_differences_open_prediction predictions are judged",
        "official": "the limit check is dead code: every prediction is judged",
        "effect": "extra predictions cannot raise recall",
    },
    {
        "id": "one_to_one",
        "toolkit": "open: a prediction matched to several ground-truth keys keeps only the first",
        "official": "the duplicate check is a no-op: one prediction can match several keys",
        "effect": "one vague prediction cannot cover several differences",
    },
    {
        "id": "judge_repairs",
        "toolkit": "open: a judge answer with missing or invented ground-truth keys, or an opposite answer of "
        "the wrong length, is repaired (no match / re-asked one pair at a time) and counted",
        "official": "the eval stops and asks for another seed",
        "effect": "a run finishes; counts.missing_gt_keys etc. say how often the judge erred",
    },
    {
        "id": "unknown_keys",
        "toolkit": "closed: prediction keys outside the row's labelled ground truth are reported and ignored",
        "official": "an assertion stops the eval",
        "effect": "none on the score; the keys are listed in unknown_keys",
    },
)


def rules_block(strict: bool) -> dict[str, Any]:
    """What ``metrics.json`` records about the rules: which set, and the differences it applied."""
    return {
        "rules": "strict-official" if strict else "toolkit",
        "changes_from_official": [] if strict else [c["id"] for c in CHANGES],
    }
