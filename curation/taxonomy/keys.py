"""Difference keys: strings of integers in numeric order, never reused (``next_key`` remembers the next one)."""

from __future__ import annotations

from typing import Any

from schemas.dataset_dir import diff_key_order as key_order


def next_free_key(tax: dict[str, Any]) -> int:
    """The lowest key above every key ever used: ``next_key``, raised past the keys present."""
    return max([tax.get("next_key") or 0] + [int(k) + 1 for k in tax["differences"]])


def sorted_keys(differences: dict[str, Any]) -> list[str]:
    """Difference keys in numeric order."""
    return sorted(differences, key=key_order)
