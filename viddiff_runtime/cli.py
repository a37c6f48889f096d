"""What every click command shares: one-line errors, ``--debug`` tracebacks, exit codes.

The CLI layers (``curation.cli``, ``viddiff_method.cli`` and the groups they mount) only parse
arguments and call library functions; this module turns a :class:`ToolkitError` into one line on
stderr and a non-zero exit instead of a traceback.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import sys
import traceback

import click

from schemas.errors import ToolkitError
from schemas.io import WRITE_ERRNOS, write_error
from schemas.redact import install_log_redaction, redact
from viddiff_runtime.extras import MissingExtra, missing_extra_message

DEBUG_ENV = "VIDDIFF_DEBUG"


class ToolkitGroup(click.Group):
    """A click group whose ``main`` prints :class:`ToolkitError` (and stray exceptions) as one line."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)
        except Exception as e:
            if isinstance(e, OSError) and e.errno in WRITE_ERRNOS:
                # disk full, file-size limit, read-only disk, a folder where a file belongs: not a bug
                e = write_error(e, e.filename or "the output")
            elif isinstance(e, sqlite3.DatabaseError) and (getattr(e, "sqlite_errorcode", 0) or 0) & 0xFF in (
                10,
                13,
            ):
                # SQLITE_IOERR / SQLITE_FULL from a cache that did not name its file: still one line
                e = ToolkitError(
                    f"a cache database could not be written ({e}): the disk is full or a file-size "
                    "limit (ulimit -f) was reached; free space and rerun (finished work is kept)"
                )
            if os.environ.get(DEBUG_ENV):
                click.echo(redact(traceback.format_exc()), err=True, nl=False)
            msg = redact(str(e) if isinstance(e, ToolkitError) else f"{type(e).__name__}: {e}")
            if isinstance(e, ModuleNotFoundError) and (extra := missing_extra_message(e.name)):
                click.echo(f"error: {extra}", err=True)
                sys.exit(MissingExtra.exit_code)
            click.echo(f"error: {msg.splitlines()[0] if msg else type(e).__name__}", err=True)
            if not isinstance(e, ToolkitError) and not os.environ.get(DEBUG_ENV):
                click.echo("(unexpected error; rerun with --debug for the traceback)", err=True)
            sys.exit(getattr(e, "exit_code", 1) or 1)


def debug_option(f):
    """``--debug``: show tracebacks and debug logs."""

    def _cb(ctx, param, value):
        if value:
            os.environ[DEBUG_ENV] = "1"
            logging.basicConfig(level=logging.DEBUG)
        else:
            logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
        install_log_redaction()
        return value

    return click.option(
        "--debug",
        is_flag=True,
        expose_value=False,
        is_eager=True,
        callback=_cb,
        help="Show tracebacks and debug logs.",
    )(f)


class LazyGroup(ToolkitGroup):
    """A group whose subcommands live in other modules and are imported only when used.

    ``lazy_subcommands={"annotate": "annotation.cli:annotate"}`` keeps ``curate --help`` fast (no torch
    import) and lets each package own its commands.
    """

    def __init__(self, *args, lazy_subcommands: dict[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy_subcommands = lazy_subcommands or {}

    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | set(self.lazy_subcommands))

    def get_command(self, ctx, cmd_name):
        if cmd_name in self.lazy_subcommands:
            import importlib

            module, attr = self.lazy_subcommands[cmd_name].split(":")
            return getattr(importlib.import_module(module), attr)
        return super().get_command(ctx, cmd_name)
