"""Every bad input of `curate build` is one line naming the file or key, a non-zero exit, nothing written."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from curation.cli import main as curate
from curation.samples.synthetic import render_frame
from curation.samples.trees import write_sample_sources
from viddiff_runtime import media


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    return write_sample_sources(tmp_path_factory.mktemp("pristine") / "sources").parent


@pytest.fixture
def tree(pristine, tmp_path) -> Path:
    dst = tmp_path / "sources"
    shutil.copytree(pristine, dst, symlinks=True)
    return dst


def edit_config(tree: Path, fn) -> Path:
    path = tree / "config.yaml"
    data = yaml.safe_load(path.read_text())
    data["sources"]["humman"]["on_bad_media"] = "skip"
    fn(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def action(data: dict, key: str) -> dict:
    return next(a for a in data["actions"] if a["key"] == key)


def run_bad(config: Path, out: Path, *expected: str) -> str:
    result = CliRunner().invoke(curate, ["build", str(config), "--out", str(out)])
    assert result.exit_code != 0
    lines = [l for l in result.output.splitlines() if l.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: ") and "Traceback" not in result.output
    for text in expected:
        assert text in lines[0], lines[0]
    assert not (out / "samples.jsonl").exists() and not (out / "dataset.json").exists()
    return lines[0]


def test_missing_root(tree, tmp_path):
    cfg = edit_config(tree, lambda d: d["sources"]["jigsaws"].update(root="no/such/folder"))
    run_bad(cfg, tmp_path / "out", "sources.jigsaws.root", "no/such/folder")


def test_unknown_source(tree, tmp_path):
    cfg = edit_config(tree, lambda d: action(d, "surgery_0").update(source="kinetics"))
    run_bad(cfg, tmp_path / "out", "config.yaml", "actions[4].source: unknown source 'kinetics'")


def test_select_matching_nothing(tree, tmp_path):
    cfg = edit_config(tree, lambda d: action(d, "fitness_0")["select"].update(action="a999999"))
    run_bad(cfg, tmp_path / "out", "actions[0].select", "matches no humman clip")


def test_unknown_select_key(tree, tmp_path):
    cfg = edit_config(tree, lambda d: action(d, "fitness_0")["select"].update(colour="red"))
    run_bad(cfg, tmp_path / "out", "actions[0].select.colour")


def test_corrupt_or_truncated_video(tree, tmp_path):
    victim = sorted((tree / "jigsaws").rglob("Suturing_*_capture1.avi"))[0]
    victim.write_bytes(victim.read_bytes()[:200])
    cfg = edit_config(tree, lambda d: None)
    run_bad(cfg, tmp_path / "out", victim.name)


def test_trim_outside_the_clip(tree, tmp_path):
    cfg = edit_config(
        tree, lambda d: action(d, "surgery_0").update(trim={"by": "frames", "start": 0, "end": 100000})
    )
    run_bad(cfg, tmp_path / "out", "actions[4].trim", "outside clip")


def test_fps_mismatch_between_the_pair(tree, tmp_path):
    # one exo clip re-recorded at 25 fps, and no output fps set: the pair cannot share a clock
    victims = sorted((tree / "egoexo4d").rglob("downscaled/448/cam01.mp4"))
    n = media.probe(victims[0]).n_frames
    media.write_frames((render_frame(i, 160, 120) for i in range(n)), victims[0], 25)
    cfg = edit_config(tree, lambda d: action(d, "ballsports_0").pop("fps"))
    run_bad(cfg, tmp_path / "out", "actions[2].fps", "fps mismatch")


def test_image_folder_with_gaps(tree, tmp_path):
    def strict(d):
        d["sources"]["humman"].pop("on_bad_media")

    cfg = edit_config(tree, strict)
    run_bad(cfg, tmp_path / "out", "image folder with gaps", "p000004_a000001")


def test_unreadable_pickle(tree, tmp_path):
    pkl = next((tree / "finediving").rglob("FineDiving_fine-grained_annotation.pkl"))
    pkl.write_bytes(b"\x80\x04garbage")
    cfg = edit_config(tree, lambda d: None)
    run_bad(cfg, tmp_path / "out", pkl.name)


def test_debug_shows_the_traceback(tree, tmp_path, monkeypatch):
    monkeypatch.setenv("VIDDIFF_DEBUG", "")  # --debug sets it; restored (unset) after the test
    cfg = edit_config(tree, lambda d: d["sources"]["jigsaws"].update(root="nowhere"))
    result = CliRunner().invoke(curate, ["--debug", "build", str(cfg), "--out", str(tmp_path / "o")])
    assert result.exit_code != 0 and "Traceback" in result.output
    pickle.dumps(result.exception)  # errors cross process boundaries (Ray) intact
