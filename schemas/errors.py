"""The one error type users see: a single line naming the file and the key, never a traceback."""

from __future__ import annotations


class ToolkitError(Exception):
    """A user-facing failure: bad input, missing file, refused operation.

    The CLI prints ``str(err)`` on one line and exits non-zero; ``--debug`` shows the traceback.
    Build messages as ``"<file>: <key or JSON path>: <what is wrong>"``.
    """

    exit_code = 1

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None):
        parts = [p for p in (file, key) if p]
        parts.append(message)
        from schemas.redact import redact  # the one choke point: no secret reaches a message

        super().__init__(redact(": ".join(str(p) for p in parts)))
        self.file = file
        self.key = key
        self.message = message  # without the file and key prefix


class SchemaError(ToolkitError):
    """An object does not match its JSON Schema; ``errors`` lists ``(json_path, message)`` pairs."""

    def __init__(self, kind: str, errors: list[tuple[str, str]], *, file: str | None = None):
        self.kind = kind
        self.errors = errors
        first = errors[0] if errors else ("$", "invalid")
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"{first[1]} [{kind}]{more}", file=file, key=first[0])
