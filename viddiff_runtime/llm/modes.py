"""Structured-output mode per endpoint + model: which of ``json_schema``, ``json_object`` with the schema and
``none`` (the schema in the prompt) the server takes, remembered in the cache once an answer confirms it."""

from __future__ import annotations

import logging

from schemas.redact import redact

#: The client's logger: its parts log under one name, so log lines read as they did before the split.
log = logging.getLogger("viddiff_runtime.llm.client")

#: The structured-output modes ``auto`` tries, in order: enforced schema, JSON mode + schema, plain text.
AUTO_ORDER = ("json_schema", "json_object", "none")


class ModesMixin:
    """The mode bookkeeping of :class:`~viddiff_runtime.llm.client.LLMClient` (``self._modes``, the cache)."""

    def _mode_key(self, model: str) -> str:
        return f"{self.base_url or 'default'}|{model}"

    def _mode(self, model: str) -> tuple[str, bool]:
        if self.config.structured_output != "auto":
            return self.config.structured_output, True
        mk = self._mode_key(model)
        with self._lock:
            known = self._modes.get(mk)
        if known is None and self.cache is not None:
            stored = self.cache.get_mode(self.base_url or "default", model)
            if stored in AUTO_ORDER:
                known = (stored, True)
                log.info(
                    "structured output for %s at %s: %s (remembered)",
                    model,
                    self.base_url or "default",
                    stored,
                )
        known = known or (AUTO_ORDER[0], False)
        with self._lock:
            self._modes.setdefault(mk, known)
            return self._modes[mk]

    def _set_mode(self, model: str, mode: str, confirmed: bool, why: str = "") -> None:
        mk = self._mode_key(model)
        with self._lock:
            before = self._modes.get(mk)
            self._modes[mk] = (mode, confirmed)
        if why:
            log.warning(
                "%s at %s: %s; structured output falls back to %s",
                model,
                self.base_url or "default",
                redact(why),
                mode,
            )
        if confirmed and before != (mode, True) and self.cache is not None:
            self.cache.put_mode(self.base_url or "default", model, mode)

    def _next_mode(self, mode: str) -> str | None:
        i = AUTO_ORDER.index(mode) if mode in AUTO_ORDER else len(AUTO_ORDER)
        return AUTO_ORDER[i + 1] if i + 1 < len(AUTO_ORDER) else None


__all__ = ["AUTO_ORDER"]
