"""The base install plus one extra works alone: `viddiff eval closed` in a fresh venv without torch, ray or
Label Studio, and a command whose extra is missing says which `pip install` to run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.tiny_dataset import make_tiny_dataset

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def eval_venv(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("venv-eval")
    src, venv = base / "src", base / "v"
    # install from a copy, so the build leaves nothing (build/, *.egg-info) in the working tree
    shutil.copytree(
        ROOT,
        src,
        ignore=shutil.ignore_patterns(
            ".venv*", ".git", "build", "*.egg-info", "__pycache__", "tests", "bench", ".label-studio", "runs"
        ),
    )
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    r = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", "-c", str(ROOT / "constraints.txt"), f"{src}[eval]"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    return venv


@pytest.mark.slow
def test_base_plus_eval_scores_closed_without_torch_ray_or_label_studio(eval_venv, tmp_path):
    py = eval_venv / "bin" / "python"
    for absent in ("torch", "ray", "label_studio_sdk", "open_clip", "openai", "av"):
        r = subprocess.run([str(py), "-c", f"import {absent}"], capture_output=True, text=True)
        assert r.returncode != 0, f"{absent} is installed by [eval]"
    ds = make_tiny_dataset(tmp_path / "ds")
    preds = {s["sample_key"]: {k: "a" for k, v in s["differences_gt"].items() if v} for s in ds.samples}
    (tmp_path / "p.json").write_text(json.dumps(preds))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    r = subprocess.run(
        [
            str(eval_venv / "bin" / "viddiff"),
            "eval",
            "closed",
            str(ds.root),
            str(tmp_path / "p.json"),
            "--out",
            str(tmp_path / "ev"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert metrics["task"] == "closed" and metrics["n"] > 0
    # a command whose extra is missing: one line naming the extra, exit 2, no traceback
    r = subprocess.run(
        [
            str(eval_venv / "bin" / "viddiff"),
            "run",
            str(ds.root),
            "--mode",
            "closed",
            "--out",
            str(tmp_path / "run"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert r.returncode == 2 and len(lines) == 1, r.stderr
    assert "pip install 'viddiff-toolkit[" in lines[0] and "Traceback" not in r.stderr
