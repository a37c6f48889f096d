"""The registry of evaluation protocols: what each one scores, from which run file, and how it is reported.

``viddiff report`` loops over these instead of naming tasks: it finds each protocol's ``metrics.json``
(by its ``task``), scores the ones it can compute without a judge when the dataset is known, and renders
each protocol's leaderboard table. A new protocol is one module with its scorer and table function plus
one :func:`register_protocol` call (or an entry point in the group ``viddiff_toolkit.eval_protocols``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from schemas.errors import ToolkitError

ENTRY_POINT_GROUP = "viddiff_toolkit.eval_protocols"


@dataclass(frozen=True)
class Protocol:
    """One evaluation protocol. Callables are ``"module:attribute"`` strings, imported only when used."""

    name: str  # the ``task`` written in its metrics.json
    run_file: str | None  # the RUN_DIR file it scores (None: none)
    load: str | None  # (path, data) -> parsed run file
    score: str | None  # (data, parsed) -> results with .metrics, .items (and .human): None = needs a judge
    table: str  # (runs) -> {"columns", "rows"} for the report's leaderboard

    def call(self, attr: str) -> Callable[..., Any]:
        """The callable named by field ``attr``."""
        spec = getattr(self, attr)
        module, _, name = spec.partition(":")
        return getattr(importlib.import_module(module), name)


_registry: dict[str, Protocol] = {}
_loaded = False


def register_protocol(protocol: Protocol) -> Protocol:
    """Register ``protocol`` under its name (a later registration of the same name replaces it)."""
    if not isinstance(protocol, Protocol) or not protocol.name:
        raise ToolkitError(f"{protocol!r} is not an evaluation Protocol")
    _registry[protocol.name] = protocol
    return protocol


def protocols() -> dict[str, Protocol]:
    """Every registered protocol: closed, open, localization, then entry-point plugins."""
    global _loaded
    if not _loaded:
        _loaded = True
        register_protocol(
            Protocol(
                "closed",
                "predictions.json",
                "eval.predictions:load_predictions",
                "eval.protocols.closed:score_closed",
                "eval.report.tables:closed_table",
            )
        )
        register_protocol(Protocol("open", "predictions.json", None, None, "eval.report.tables:open_table"))
        register_protocol(
            Protocol(
                "localization",
                "localization.json",
                "eval.predictions:load_localization",
                "eval.protocols.localization:score_localization",
                "eval.report.tables:localization_table",
            )
        )
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
            try:
                register_protocol(ep.load())
            except (ImportError, AttributeError) as e:
                raise ToolkitError(
                    f"cannot load evaluation protocol {ep.value!r}: {e}",
                    key=f"entry point {ENTRY_POINT_GROUP}:{ep.name}",
                ) from None
    return dict(_registry)
