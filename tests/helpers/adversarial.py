"""Helpers of the adversarial test modules (tests/<pkg>/test_adversarial.py): one-line errors, a lock held
by another process, a command run under a real file-size limit (``ulimit -f``)."""

from __future__ import annotations

import contextlib
import os
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def env() -> dict[str, str]:
    """The environment for a toolkit subprocess: this checkout first on the path, hubs offline."""
    return {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}


def assert_one_line_error(output: str, exit_code: int, *needles: str) -> str:
    """The command failed with exactly one ``error:`` line, no traceback, holding every needle."""
    assert exit_code != 0, output
    assert "Traceback" not in output, output
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, output
    assert "unexpected error" not in output, output
    for n in needles:
        assert n in errors[0], (n, errors[0])
    return errors[0]


def cli(
    args: list[str], *, fsize: int | None = None, timeout: float = 300, extra_env: dict | None = None
) -> subprocess.CompletedProcess:
    """Run ``python -m <cli module> args`` in a subprocess; ``fsize`` sets RLIMIT_FSIZE (bytes), the real
    limit ``ulimit -f`` sets, so a write past it fails with EFBIG."""

    def limit() -> None:
        if fsize is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    return subprocess.run(
        [sys.executable, *args],
        env={**env(), **(extra_env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=limit,
        cwd=str(REPO),
        check=False,
    )


@contextlib.contextmanager
def lock_held_elsewhere(folder: Path, kind: str) -> Iterator[None]:
    """Hold ``folder`` (schemas.outdir.output_folder) from another process for the duration of the block."""
    code = (
        "import sys, time; from schemas.outdir import output_folder\n"
        f"with output_folder({str(folder)!r}, {kind!r}):\n"
        "    print('held', flush=True); time.sleep(120)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], env=env(), stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        yield
    finally:
        proc.kill()
        proc.wait()
        time.sleep(0.05)
