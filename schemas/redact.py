"""One choke point for secrets: every message the toolkit prints, logs or writes about an error passes here.

Secrets are whatever the environment holds under a secret-looking name (``*KEY*``, ``*TOKEN*``,
``*SECRET*``, ``*PASSWORD*``, ``*COOKIE*``, ``*CREDENTIAL*``), values registered at run time with
:func:`register_secret` (a Label Studio token read from a file, say), and anything shaped like a
credential (``Bearer …``, ``Token …``, ``sk-…``, ``hf_…``, session cookies), since servers echo them back
in their error texts.
"""

from __future__ import annotations

import logging
import os
import re
import threading

MASK = "***"
_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|COOKIE|CREDENTIAL|AUTH", re.I)
_MIN_LEN = 6
_PATTERNS = [
    # Authorization headers and their echoes: "Bearer sk-...", "Token 0123abcd...", "Basic dXNlcjpw..."
    (re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=-]{4,}"), r"\1\2" + MASK),
    # "Token <40 hex>" (Label Studio), "token=..." : only credential-shaped values (16+ chars with a digit)
    (
        re.compile(r"(?i)\b(token)(\s+|=|:\s*)(?=[A-Za-z0-9._~+/=-]*\d)[A-Za-z0-9._~+/=-]{16,}"),
        r"\1\2" + MASK,
    ),
    (
        re.compile(
            r"(?i)\b(authorization|x-api-key|api[_-]?key|cookie|set-cookie)(['\"]?\s*[:=]\s*['\"]?)"
            r"[^\s,;'\"}]+(?:\s+[^\s,;'\"}]+)?"
        ),
        r"\1\2" + MASK,
    ),
    (
        re.compile(r"(?i)\b(sessionid|csrftoken|session|access_token|refresh_token)=[^\s;,'\"]+"),
        r"\1=" + MASK,
    ),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{8,}"), MASK),
    (re.compile(r"\bhf_[A-Za-z0-9]{8,}"), MASK),
]
_registered: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Treat ``value`` as a secret from now on (ignored when empty or too short to be one)."""
    if value and len(value) >= _MIN_LEN:
        with _lock:
            _registered.add(value)


def _secret_values() -> list[str]:
    env = [v for k, v in os.environ.items() if _SECRET_NAME.search(k) and v and len(v) >= _MIN_LEN]
    with _lock:
        values = set(env) | _registered
    return sorted(
        values, key=len, reverse=True
    )  # longest first, so a secret containing another is masked whole


def redact(text: object) -> str:
    """``text`` with every known secret and credential-shaped token replaced by ``***``."""
    s = text if isinstance(text, str) else str(text)
    for value in _secret_values():
        if value in s:
            s = s.replace(value, MASK)
    for pattern, repl in _PATTERNS:
        s = pattern.sub(repl, s)
    return s


class RedactingFilter(logging.Filter):
    """A logging filter that redacts each record's final message (arguments included)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            msg = record.getMessage()
        except Exception:
            return True
        record.msg, record.args = redact(msg), None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


def install_log_redaction() -> None:
    """Attach :class:`RedactingFilter` to every handler of the root logger (idempotent)."""
    root = logging.getLogger()
    for handler in root.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
