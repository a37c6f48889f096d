"""A real Label Studio server for the annotation tests, started once per test run.

The server comes from its own venv (``LABEL_STUDIO_BIN``, default ``.venv-ls/bin/label-studio``). A data
dir is migrated once into a template (cached under ``$VIDDIFF_LS_TEMPLATE`` or ``~/.cache``; ~40 s the
first time) and copied for each run (~4 s start). With pytest-xdist the workers share one server: the first
worker to need it starts it under a file lock and writes a state file next to the workers' temp dirs; every
worker registers itself there, and the last one to finish stops the server by its PID. The admin's legacy
API token reaches the server through ``LABEL_STUDIO_USER_TOKEN``; nothing is mocked.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import uuid
from pathlib import Path

import pytest
from filelock import FileLock

from annotation import server as lss

LS_VERSION = "1.23.2"


def _template_dir() -> Path:
    base = os.environ.get("VIDDIFF_LS_TEMPLATE")
    if base:
        return Path(base)
    return Path.home() / ".cache" / "viddiff-toolkit" / f"label-studio-template-{LS_VERSION}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@pytest.fixture(scope="session")
def ls_bin() -> str:
    """The label-studio program, or fail with the set-up command (skip only if explicitly asked)."""
    try:
        return lss.label_studio_bin()
    except Exception as e:
        if os.environ.get("VIDDIFF_SKIP_LABEL_STUDIO"):
            pytest.skip("Label Studio not installed and VIDDIFF_SKIP_LABEL_STUDIO is set")
        pytest.fail(str(e))


@pytest.fixture(scope="session")
def ls_template(ls_bin, tmp_path_factory, worker_id) -> Path:
    """A migrated Label Studio data dir (built once, cached across runs; per run if the cache is read-only)."""
    template = _template_dir()
    try:
        template.parent.mkdir(parents=True, exist_ok=True)
    except OSError:
        base = tmp_path_factory.getbasetemp()
        template = (base if worker_id == "master" else base.parent) / "ls-template"
    with FileLock(str(template) + ".lock"):
        lss.prepare_template(template, bin_path=ls_bin)
    return template


@pytest.fixture(scope="session")
def ls_server(tmp_path_factory, worker_id, ls_bin, ls_template) -> dict:
    """``{"url", "api_key", "media_root", "pid"}`` of the shared server."""
    shared = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        shared = shared.parent
    state_path, lock = shared / "ls-server.json", FileLock(str(shared / "ls-server.lock"))
    template = ls_template
    with lock:
        state = json.loads(state_path.read_text()) if state_path.exists() else None
        if state is None or not _alive(state["pid"]):
            data_dir = shared / f"ls-data-{uuid.uuid4().hex[:6]}"
            lss.copy_data_dir(template, data_dir)
            media = shared / "ls-media"
            media.mkdir(exist_ok=True)
            srv = lss.LabelStudioServer(data_dir, media_root=media, bin_path=ls_bin)
            srv.start()
            state = {
                "url": srv.url,
                "api_key": srv.api_key,
                "media_root": str(media),
                "pid": srv.proc.pid,
                "users": 0,
            }
        state["users"] += 1
        state_path.write_text(json.dumps(state))
    yield state
    with lock:
        state = json.loads(state_path.read_text())
        state["users"] -= 1
        if state["users"] <= 0:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(state["pid"], signal.SIGTERM)
            state_path.unlink()
        else:
            state_path.write_text(json.dumps(state))


@pytest.fixture
def ls_env(ls_server, monkeypatch) -> dict:
    """Client-side environment pointing at the shared server."""
    monkeypatch.setenv("LABEL_STUDIO_URL", ls_server["url"])
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", ls_server["api_key"])
    monkeypatch.setenv("LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT", ls_server["media_root"])
    return ls_server


@pytest.fixture
def ls(ls_env):
    """A label-studio-sdk client for the shared server."""
    from annotation.connect import connect

    return connect()


@pytest.fixture
def served_dataset(ls_env):
    """A tiny dataset inside the server's media root, with a unique name (so project titles never clash)."""
    from schemas.dataset_dir import load_dataset, save_dataset
    from tests.helpers.tiny_dataset import make_tiny_dataset

    name = f"t{uuid.uuid4().hex[:8]}"
    root = Path(ls_env["media_root"]) / name
    make_tiny_dataset(root)
    ds = load_dataset(root)
    ds.meta["name"] = name
    save_dataset(root, ds.meta, ds.samples)
    return load_dataset(root)
