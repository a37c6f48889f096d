"""The synthetic sample trees (written once per test worker) that the source-adapter tests read."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from curation.samples.trees import write_sample_sources


@pytest.fixture(scope="session")
def sample_root(tmp_path_factory) -> Path:
    """``write_sample_sources`` output: humman/, egoexo4d/, finediving/, jigsaws/ and config.yaml."""
    root = tmp_path_factory.mktemp("sample_sources")
    write_sample_sources(root, seed=0)
    return root


@pytest.fixture()
def copy_source(sample_root, tmp_path):
    """A private copy of one source tree, for tests that break it."""

    def make(name: str) -> Path:
        dst = tmp_path / name
        shutil.copytree(sample_root / name, dst)
        return dst

    return make
