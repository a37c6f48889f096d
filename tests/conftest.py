"""Test-wide settings: no hub is reachable, so every Hugging Face path runs offline."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_dataset_template(tmp_path_factory) -> Path:
    """The default tiny dataset (tests.helpers.tiny_dataset), written once per test session. Read only."""
    from tests.helpers.tiny_dataset import make_tiny_dataset

    root = tmp_path_factory.mktemp("tiny-template") / "ds"
    make_tiny_dataset(root)
    return root


@pytest.fixture
def tiny_dataset(tiny_dataset_template, tmp_path) -> Path:
    """A fresh, writable copy of the default tiny dataset for one test."""
    root = tmp_path / "ds"
    shutil.copytree(tiny_dataset_template, root)
    return root


# The LLM cache every command shares lives in the user's cache folder; tests must never touch it. A
# session-wide folder covers subprocesses, and every test gets its own (so no test sees another's answers).
import tempfile  # noqa: E402

os.environ["VIDDIFF_CACHE_DIR"] = tempfile.mkdtemp(prefix="viddiff-test-cache-")


@pytest.fixture(autouse=True)
def _private_llm_cache(tmp_path_factory, monkeypatch):
    """Point VIDDIFF_CACHE_DIR at a fresh folder for each test."""
    monkeypatch.setenv("VIDDIFF_CACHE_DIR", str(tmp_path_factory.mktemp("llm-cache")))
