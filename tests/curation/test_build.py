"""`curate build` end to end on the synthetic sample sources: frame exactness, resume, Ray, bad input."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from curation.build.builder import build
from curation.cli import main as curate
from curation.samples.synthetic import read_barcode
from curation.samples.trees import write_sample_sources
from schemas.dataset_dir import load_dataset, sha256_file
from schemas.outdir import LOCK, MARKER
from viddiff_runtime import media

CURATE = [sys.executable, "-m", "curation.cli"]


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> Path:
    config = write_sample_sources(tmp_path_factory.mktemp("samples") / "sources")
    data = yaml.safe_load(config.read_text())
    data["sources"]["humman"]["on_bad_media"] = "skip"  # the sample tree holds a gapped folder on purpose
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    return config


@pytest.fixture(scope="module")
def built(sources, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("built") / "dataset"
    build(sources, out=out, workers=2, progress=False)
    return out


def files_state(root: Path) -> dict[str, tuple[int, str]]:
    return {
        p.relative_to(root).as_posix(): (p.stat().st_mtime_ns, sha256_file(p))
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_dataset_layout_and_rows(built, sources):
    ds = load_dataset(built)
    config = yaml.safe_load(sources.read_text())
    assert set(ds.meta["actions"]) == {a["key"] for a in config["actions"]}
    assert ds.meta["config_sha256"] == hashlib.sha256(sources.read_bytes()).hexdigest()
    keys = [s["sample_key"] for s in ds.samples]
    assert len(keys) == len(set(keys)) > 0
    for s in ds.samples:
        assert (
            s["differences_annotated"] is None
            and s["differences_gt"] is None
            and s["retrieval_frames"] is None
        )
        a, b = s["videos"]
        assert a["source"]["clip_id"] != b["source"]["clip_id"]
        assert a["fps_original"] == b["fps_original"]
        for v in s["videos"]:
            info = media.probe(ds.root / v["path"])
            assert info.start_time == 0 and info.codec == "h264" and float(info.fps) == v["fps_original"]
            assert (
                media.count_frames(ds.root / v["path"], decode=True) == v["n_frames"] == v["frames_trim"][1]
            )
            assert sha256_file(ds.root / v["path"]) == v["sha256"]


def test_every_clip_holds_exactly_the_source_frames(built):
    """The barcode on each stored frame names the source frame it came from."""
    ds = load_dataset(built)
    for s in ds.samples:
        for v in s["videos"]:
            start, end = v["source"]["frames"]
            expected = media.resample_indices(
                end - start,
                media.as_fraction(v["source"]["fps"]),
                media.as_fraction(v["fps_original"]),
                start=start,
            )
            got = [read_barcode(f) for f in media.decode(ds.root / v["path"]).frames]
            assert got == expected, (s["sample_key"], v["path"])


def test_rerun_does_no_video_work_and_touches_nothing(built, sources):
    before = files_state(built)
    report = build(sources, out=built, workers=2, progress=False)
    assert report.made == 0 and report.reused == 2 * report.n_samples
    assert files_state(built) == before


def test_resume_after_kill_minus_9(sources, built, tmp_path):
    out = tmp_path / "ds"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen(
        [*CURATE, "build", str(sources), "--out", str(out), "--workers", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if [p for p in (out / ".build" / "clips").glob("*.json") if not p.name.startswith(".")]:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    total = 2 * len(load_dataset(built).samples)
    done_before = len([p for p in (out / ".build" / "clips").glob("*.json") if not p.name.startswith(".")])
    assert 0 < done_before < total, "the kill did not land mid-build"
    assert not (out / "samples.jsonl").exists()
    report = build(sources, out=out, workers=2, progress=False)
    assert report.reused >= done_before and report.made == total - report.reused
    assert (out / "samples.jsonl").read_text() == (built / "samples.jsonl").read_text()
    assert not [p for p in out.rglob(".*") if p.is_file() and p.name not in (MARKER, LOCK)]  # no temp left


def test_changed_config_redoes_only_what_changed(sources, built, tmp_path):
    out = tmp_path / "ds"
    shutil.copytree(built, out)
    config = yaml.safe_load(sources.read_text())
    changed = next(a for a in config["actions"] if a.get("fps") and a["source"] != "finediving")
    changed["fps"] = changed["fps"] / 2 if changed["fps"] >= 2 else changed["fps"]
    new_cfg = sources.parent / "config_changed.yaml"
    new_cfg.write_text(yaml.safe_dump(config))
    report = build(new_cfg, out=out, workers=2, progress=False)
    n_changed = sum(s["action"] == changed["key"] for s in load_dataset(out).samples)
    assert report.made == 2 * n_changed
    ds = load_dataset(out)
    assert all(
        s["videos"][0]["fps_original"] == changed["fps"] for s in ds.samples if s["action"] == changed["key"]
    )


def test_ray_and_local_give_identical_outputs(sources, built, tmp_path, monkeypatch):
    pytest.importorskip("ray")
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))  # a local Ray of the build's own writes nothing outside --out
    monkeypatch.delenv("RAY_AUTH_MODE", raising=False)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    out = tmp_path / "ray"
    report = build(sources, out=out, workers=2, executor="ray", progress=False)
    assert not (home / ".ray").exists(), "Ray wrote ~/.ray/auth_token"
    assert "RAY_AUTH_MODE" not in os.environ, "the build restored the environment"
    assert report.made == 2 * report.n_samples
    assert (out / "samples.jsonl").read_text() == (built / "samples.jsonl").read_text()
    assert {k: v[1] for k, v in files_state(out).items() if k.startswith("videos/")} == {
        k: v[1] for k, v in files_state(built).items() if k.startswith("videos/")
    }


def test_dry_run_writes_nothing(sources, tmp_path):
    result = CliRunner().invoke(curate, ["build", str(sources), "--out", str(tmp_path / "dry"), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "plan:" in result.output
    assert not (tmp_path / "dry").exists()
