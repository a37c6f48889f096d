"""HuMMan adapter on Recon/Point trees laid out like the real release (ids step by 6, split-frame folders)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from curation.samples.synthetic import render_frame
from curation.sources import get_adapter
from schemas import validate
from schemas.errors import ToolkitError
from viddiff_runtime import media

from .helpers import barcodes_of_files

NAMES = {"a000001": "squat", "a000002": "lunge"}


@pytest.fixture(scope="module")
def scan(sample_root):
    return get_adapter("humman").scan(sample_root / "humman", {"action_names": NAMES})


def test_recon_folders_are_frame_clips_with_step_six_ids(scan, sample_root):
    recon = [c for c in scan.clips if c.meta["subset"] == "recon"]
    assert {c.participant for c in recon} == {"p000001", "p000002", "p000003"}
    for clip in recon:
        files = sorted(Path(clip.media_path).iterdir(), key=lambda p: int(p.stem))
        assert clip.media_kind == "frames" and clip.view == "kinect_000"
        assert clip.action == "a000001" and clip.action_name == "squat"
        assert clip.frame_ids == [int(p.stem) for p in files]
        assert all(b - a == 6 for a, b in zip(clip.frame_ids, clip.frame_ids[1:]))
        assert clip.n_frames == len(files) and clip.fps_declared == 5 and clip.fps_measured is None
        assert clip.fps == 5
        assert validate("clip", clip.to_dict()) == []


def test_frame_files_follow_positions(scan):
    adapter = get_adapter("humman")
    clip = next(c for c in scan.clips if c.media_kind == "frames")
    files = adapter.frame_files(clip)
    assert [int(p.stem) for p in files] == clip.frame_ids
    assert barcodes_of_files(files) == list(range(clip.n_frames))


def test_point_videos_are_measured(scan):
    point = [c for c in scan.clips if c.meta["subset"] == "point"]
    assert len(point) == 3 and {c.action_name for c in point} == {"lunge"}
    for clip in point:
        info = media.probe(clip.media_path)
        assert clip.media_kind == "video" and clip.media_path.endswith("kinect_000.mp4")
        assert clip.n_frames == info.n_frames and clip.fps_measured == float(info.fps) == 30
        assert clip.segment is None and clip.frame_ids is None


def test_skipped_gap_folder_and_split_frames(scan):
    reasons = dict(scan.skipped)
    gap = next(k for k in reasons if "p000004_a000001" in k)
    assert "image folder with gaps" in reasons[gap] and "step 6" in reasons[gap]
    split = next(k for k in reasons if "p000011_a000002" in k)
    assert "kinect_000.mp4" in reasons[split]
    assert not any("p000004" in c.clip_id for c in scan.clips)


def test_integer_stem_order_not_string_order(tmp_path):
    """Unpadded names (0, 6, 12, …, 60) sort differently as strings; positions follow the integers."""
    folder = tmp_path / "p000009_a000003" / "kinect_color" / "kinect_002"
    folder.mkdir(parents=True)
    ids = list(range(0, 66, 6))
    for pos, number in enumerate(ids):
        Image.fromarray(render_frame(pos, label="humman")).save(folder / f"{number}.png")
    res = get_adapter("humman").scan(tmp_path, {"fps_recon": 8})
    (clip,) = res.clips
    assert clip.frame_ids == ids and clip.fps == 8 and clip.view == "kinect_002" and clip.action_name is None
    files = get_adapter("humman").frame_files(clip)
    assert sorted(p.name for p in files) != [p.name for p in files]  # string order would differ
    assert barcodes_of_files(files) == list(range(len(ids)))


def test_recon_step_is_configurable(sample_root, tmp_path):
    folder = tmp_path / "p000001_a000001" / "kinect_color" / "kinect_000"
    folder.mkdir(parents=True)
    for number in range(10):
        shutil.copy(next((sample_root / "humman").rglob("000000.png")), folder / f"{number:06d}.png")
    default = get_adapter("humman").scan(tmp_path, {})
    assert not default.clips and "expected step 6" in default.skipped[0][1]
    stepped = get_adapter("humman").scan(tmp_path, {"recon_step": 1})
    assert stepped.clips[0].n_frames == 10


def test_select(scan):
    adapter = get_adapter("humman")
    by_name = adapter.select(scan.clips, {"action": "Squat", "view": "kinect_000"}, where="actions[0]")
    by_id = adapter.select(scan.clips, {"action": "a000001"}, where="actions[0]")
    assert {c.clip_id for c in by_name} == {c.clip_id for c in by_id}
    assert len(by_name) == 3
    point = adapter.select(scan.clips, {"action": ["squat", "lunge"], "subset": "point"}, where="a")
    assert {c.meta["subset"] for c in point} == {"point"} and len(point) == 3


def test_select_errors_name_the_key(scan):
    adapter = get_adapter("humman")
    with pytest.raises(ToolkitError) as e:
        adapter.select(scan.clips, {"actoin": "squat"}, where="actions[2]")
    assert e.value.key == "actions[2].select.actoin"
    with pytest.raises(ToolkitError) as e:
        adapter.select(scan.clips, {"action": "squat", "view": "kinect_009"}, where="actions[2]")
    assert e.value.key == "actions[2].select" and "kinect_000" in str(e.value)


def test_bad_options_and_root(sample_root, tmp_path):
    adapter = get_adapter("humman")
    with pytest.raises(ToolkitError, match="humman root not found") as e:
        adapter.scan(tmp_path / "nope", {})
    assert e.value.key == "sources.humman.root" and str(tmp_path / "nope") in str(e.value)
    with pytest.raises(ToolkitError) as e:
        adapter.scan(sample_root / "humman", {"fps_recon": -1})
    assert e.value.key == "sources.humman.fps_recon"
    with pytest.raises(ToolkitError) as e:
        adapter.scan(sample_root / "humman", {"fps": 5})
    assert e.value.key == "sources.humman.fps" and "fps_recon" in str(e.value)
    with pytest.raises(ToolkitError, match="unknown source 'humann'"):
        get_adapter("humann")


def test_root_from_options(sample_root):
    res = get_adapter("humman").scan(None, {"root": str(sample_root / "humman")})
    assert len(res.clips) == 6
    assert np.all([c.dataset == "humman" for c in res.clips])


def test_select_participant_forms(scan):
    adapter = get_adapter("humman")
    for form in ("p000002", "000002", 2):
        assert {c.participant for c in adapter.select(scan.clips, {"participant": form}, where="a")} == {
            "p000002"
        }
