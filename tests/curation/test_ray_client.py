"""`curate build` on a Ray cluster reached through the Ray Client (RAY_ADDRESS=ray://...) writes the same bytes
as a local build.

The fixture starts a private head (`ray start --head`) with the Ray Client server on a free loopback port, in its
own temp dir and process group, and always kills that group afterwards (never `ray stop`, which stops every Ray
on the machine).

Ray >= 2.5x has token authentication: `ray start --head` turns it on by itself when ~/.ray/auth_token exists (any
earlier local `ray.init()`, e.g. test_build.py's Ray test, writes that file), while a `ray://` client sends the
token only when its own environment says RAY_AUTH_MODE=token. Without it the proxy logs "Authentication required
but no authorization header provided" and the client gives up after 30 s with "ray client connection timeout".
So both sides get RAY_AUTH_MODE=token and one private RAY_AUTH_TOKEN here (older Rays ignore both variables).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

import curation
from curation.build.builder import build
from curation.samples.trees import write_sample_sources

# The code under test: the head gets it on PYTHONPATH so that Ray's workers import the same files.
REPO = Path(curation.__file__).resolve().parent.parent


@dataclass
class RayClientCluster:
    address: str  # ray://127.0.0.1:PORT
    env: dict[str, str]  # what a driver process needs to reach it (address, auth, PYTHONPATH)
    logs: Path  # the head's session log folder
    token: str  # the cluster's private auth token (must never be printed)


def _free_port() -> int:
    # An ephemeral port (32768-60999 on Linux): clear of Ray's worker ports (10002-19999) and of the ports the
    # client proxy hands its per-client servers (23000 up).
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, deadline: float) -> None:
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _kill_group(pgid: int) -> None:
    # gcs_server and the autoscaler monitor ignore SIGTERM for a long while; nothing needs a clean shutdown here
    # (the temp dir goes next), so SIGKILL after a second, then wait for init to reap the group.
    for sig, grace in ((signal.SIGTERM, 1.0), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        end = time.monotonic() + grace
        while time.monotonic() < end:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)


def _with_pythonpath(env: dict[str, str]) -> dict[str, str]:
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    return env


@pytest.fixture(scope="module")
def ray_client_cluster() -> Iterator[RayClientCluster]:
    pytest.importorskip("ray", reason="ray is not installed (pip install -e '.[ray]')")
    pytest.importorskip(
        "grpc", reason="ray[client] is not installed: grpcio is missing (pip install -e '.[ray]')"
    )
    pytest.importorskip("ray.util.client", reason="ray[client] is not importable")

    # A short temp dir: Ray puts AF_UNIX sockets under it, whose paths must stay under 108 bytes.
    temp = Path(tempfile.mkdtemp(prefix="vdray-"))
    port, gcs_port = _free_port(), _free_port()
    auth = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    env = _with_pythonpath({**os.environ, **auth, "RAY_USAGE_STATS_ENABLED": "0"})
    env.pop("RAY_ADDRESS", None)
    log = temp / "ray-start.log"
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "ray.scripts.scripts", "start", "--head",
                "--node-ip-address=127.0.0.1", f"--port={gcs_port}", f"--ray-client-server-port={port}",
                f"--temp-dir={temp}", "--include-dashboard=false", "--disable-usage-stats", "--num-cpus=2",
            ],
            env=env, cwd=temp, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,  # every Ray process of this head lands in process group proc.pid
        )  # fmt: skip
    try:
        try:
            rc = proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            rc = None
        if rc != 0:
            pytest.fail(
                f"`ray start --head` {'timed out' if rc is None else f'exited {rc}'}:\n{log.read_text()[-3000:]}"
            )
        _wait_for_port(port, time.monotonic() + 30)
        driver_env = _with_pythonpath({**os.environ, **auth, "RAY_ADDRESS": f"ray://127.0.0.1:{port}"})
        yield RayClientCluster(
            f"ray://127.0.0.1:{port}", driver_env, temp / "session_latest" / "logs", auth["RAY_AUTH_TOKEN"]
        )
    finally:
        _kill_group(proc.pid)
        shutil.rmtree(temp, ignore_errors=True)


def _tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.mark.slow
def test_ray_client_build_matches_local_build(ray_client_cluster, tmp_path):
    config = write_sample_sources(tmp_path / "sources")
    data = yaml.safe_load(config.read_text())
    data["sources"]["humman"]["on_bad_media"] = "skip"  # the sample tree holds a gapped folder on purpose
    config.write_text(yaml.safe_dump(data, sort_keys=False))

    local = tmp_path / "local"
    report = build(config, out=local, workers=2, progress=False)
    assert report.made == 2 * report.n_samples > 0

    out = tmp_path / "ray-client"
    run = subprocess.run(
        [sys.executable, "-m", "curation.cli", "build", str(config), "--out", str(out), "--workers", "2",
         "--executor", "ray"],
        env=ray_client_cluster.env, cwd=tmp_path, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert run.returncode == 0, f"stdout:\n{run.stdout}\nstderr:\n{run.stderr[-4000:]}"
    assert f"built {report.n_samples} pairs" in run.stdout
    assert f"({report.made} clips made, 0 reused)" in run.stdout

    # The build went through the cluster's client proxy (not a Ray of its own).
    proxy_log = (ray_client_cluster.logs / "ray_client_server.err").read_text()
    assert "New data connection from client" in proxy_log, proxy_log[-3000:]

    assert _tree(out) == _tree(local)
    assert (out / "samples.jsonl").read_bytes() == (local / "samples.jsonl").read_bytes()
    assert ray_client_cluster.token not in run.stdout + run.stderr


def test_ray_client_refused_for_want_of_a_token_says_so_in_one_line(ray_client_cluster, tmp_path):
    """A driver without RAY_AUTH_MODE=token is refused by the proxy; Ray reports a timeout, the build says why."""
    config = write_sample_sources(tmp_path / "sources")
    env = {k: v for k, v in ray_client_cluster.env.items() if k not in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN")}
    # Ray Client's own retry timeouts, shortened so the refusal shows in seconds instead of 30
    env.update(RAY_CLIENT_INITIAL_CONNECTION_TIMEOUT_S="1", RAY_CLIENT_MAX_CONNECTION_TIMEOUT_S="2")
    out = tmp_path / "refused"
    run = subprocess.run(
        [sys.executable, "-m", "curation.cli", "build", str(config), "--out", str(out), "--workers", "2",
         "--executor", "ray"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode != 0
    err = [line for line in run.stderr.splitlines() if line.startswith("error")]
    assert len(err) == 1, run.stderr[-3000:]
    assert ray_client_cluster.address in err[0] and "RAY_AUTH_MODE=token" in err[0], err[0]
    assert "Traceback" not in run.stderr
    assert not any(out.glob("*.mp4")) and not (out / "samples.jsonl").exists()
    proxy_log = (ray_client_cluster.logs / "ray_client_server.err").read_text()
    assert "no authorization header" in proxy_log, "the refusal really was the missing token"
