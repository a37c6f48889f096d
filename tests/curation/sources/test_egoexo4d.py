"""Ego-Exo4D adapter: paths through takes.json, downscaled/448 preferred, null best_exo/times, gpNN, labels."""

from __future__ import annotations

import json
import shutil

import pytest

from curation.sources import get_adapter
from schemas.errors import ToolkitError
from schemas.io import read_json, write_json
from viddiff_runtime import media

from .helpers import barcodes_of_video

TASK = "Basketball Drills - Mikan Layup"


@pytest.fixture(scope="module")
def scan(sample_root):
    return get_adapter("egoexo4d").scan(sample_root / "egoexo4d", {})


@pytest.fixture(scope="module")
def takes(sample_root):
    return {t["take_name"]: t for t in read_json(sample_root / "egoexo4d" / "takes.json")}


def _clip(scan, take, cam):
    return next(c for c in scan.clips if c.meta["take_name"] == take and c.meta["cam_id"] == cam)


def test_paths_resolve_through_takes_json_and_prefer_448(scan, takes, sample_root):
    for clip in scan.clips:
        take = takes[clip.meta["take_name"]]
        folder = sample_root / "egoexo4d" / take["root_dir"] / "frame_aligned_videos"
        assert clip.media_path.startswith(str(folder))
        small = folder / "downscaled" / "448" / clip.media_path.rsplit("/", 1)[1]
        assert clip.meta["downscaled"] == small.is_file()
        if small.is_file():
            assert clip.media_path == str(small)
    # this take has both the full-size and the 448 cam01: the 448 one is used
    both = _clip(scan, "unc_basketball_03-31-23_02_8", "cam01")
    assert "downscaled/448" in both.media_path and both.meta["width"] == 160
    # this one only has the full-size file
    full = _clip(scan, "unc_basketball_03-31-23_02_10", "cam01")
    assert "downscaled" not in full.media_path and full.meta["width"] == 192
    no_small = get_adapter("egoexo4d").scan(sample_root / "egoexo4d", {"prefer_downscaled": False})
    assert "downscaled" not in _clip(no_small, "unc_basketball_03-31-23_02_8", "cam01").media_path


def test_fields_segment_skill_participant(scan, takes):
    for clip in scan.clips:
        take = takes[clip.meta["take_name"]]
        assert clip.action == take["task_name"] == TASK
        assert clip.participant == str(take["participant_uid"])
        info = media.probe(clip.media_path)
        assert clip.n_frames == info.n_frames and clip.fps_measured == 30 and clip.fps_declared == 30
        t0, t1 = take["task_start_sec"], take["task_end_sec"]
        if t0 is None:
            assert clip.segment is None
        else:
            assert clip.segment == (round(t0 * 30), min(round(t1 * 30), clip.n_frames))
        assert clip.skill is not None and clip.skill["rank"] is not None
    ranks = {c.meta["take_name"]: (c.skill["level"], c.skill["rank"]) for c in scan.clips}
    assert ranks["unc_basketball_03-31-23_02_8"] == ("Novice", 0)
    assert ranks["unc_basketball_03-31-23_02_9"] == ("Late Expert", 3)
    # labelled in the bare-list file (the docs' shape), not the {"annotations": …} one
    assert ranks["unc_basketball_03-31-23_02_10"] == ("Early Expert", 1)


def test_frame_aligned_barcodes(scan):
    clip = _clip(scan, "unc_basketball_03-31-23_02_8", "cam02")
    start, end = clip.segment
    assert barcodes_of_video(clip.media_path, [start, end - 1]) == [start, end - 1]


def test_views_and_best_exo(scan):
    adapter = get_adapter("egoexo4d")
    best = adapter.select(scan.clips, {"task_name": TASK.lower(), "view": "best_exo"}, where="actions[1]")
    assert sorted(c.view for c in best) == ["cam01", "cam02", "gp01"]
    assert len({c.participant for c in best}) == 3
    # the take whose best_exo is null has no best_exo clip, but its camera is still there
    assert "unc_basketball_03-31-23_02_10" not in {c.meta["take_name"] for c in best}
    assert _clip(scan, "unc_basketball_03-31-23_02_10", "cam01").meta["best_exo"] is None
    ego = adapter.select(scan.clips, {"view": "ego"}, where="a")
    assert [c.meta["cam_id"] for c in ego] == ["aria01"] and ego[0].media_path.endswith("aria01_214-1.mp4")
    gp = adapter.select(scan.clips, {"view": ["gp01", "gp02"]}, where="a")
    assert {c.meta["university_name"] for c in gp} == {"upenn"}
    with pytest.raises(ToolkitError) as e:
        adapter.select(scan.clips, {"task_name": "Soccer Drills - Penalty Kick"}, where="actions[4]")
    assert e.value.key == "actions[4].select"


def test_not_downloaded_take_is_skipped(scan):
    assert ("iiith_soccer_053_6", "not downloaded (take folder missing)") in scan.skipped


def test_nested_takes_folder_of_the_old_downloader(copy_source):
    root = copy_source("egoexo4d")
    (root / "takes_nested").mkdir()
    shutil.move(root / "takes", root / "takes_nested" / "takes")
    (root / "takes").mkdir()
    shutil.move(root / "takes_nested" / "takes", root / "takes" / "takes")
    res = get_adapter("egoexo4d").scan(root, {})
    assert len(res.clips) == 8 and all("/takes/takes/" in c.media_path for c in res.clips)


@pytest.mark.parametrize(
    "content,key",
    [
        ("{not json", None),
        ('{"takes": []}', "$"),
        ('[{"take_name": "x", "root_dir": "takes/x", "frame_aligned_videos": {}}]', "$[0].task_name"),
        (
            '[{"take_name": "x", "root_dir": "takes/x", "task_name": "t", "frame_aligned_videos": {},'
            ' "task_start_sec": "soon"}]',
            "$[0].task_start_sec",
        ),
    ],
)
def test_bad_takes_json(copy_source, content, key):
    root = copy_source("egoexo4d")
    (root / "takes.json").write_text(content)
    with pytest.raises(ToolkitError) as e:
        get_adapter("egoexo4d").scan(root, {})
    assert str(root / "takes.json") in str(e.value) and "\n" not in str(e.value)
    if key:
        assert e.value.key == key


def test_missing_takes_json_and_bad_labels(copy_source):
    root = copy_source("egoexo4d")
    write_json(root / "annotations" / "proficiency_demonstrator_val.json", {"annotations": [{"score": 1}]})
    with pytest.raises(ToolkitError) as e:
        get_adapter("egoexo4d").scan(root, {})
    assert "proficiency_demonstrator_val.json" in str(e.value)
    (root / "takes.json").unlink()
    with pytest.raises(ToolkitError, match="takes.json not found"):
        get_adapter("egoexo4d").scan(root, {})


def test_times_past_the_video_are_clamped(copy_source):
    root = copy_source("egoexo4d")
    takes = json.loads((root / "takes.json").read_text())
    takes[1]["task_start_sec"], takes[1]["task_end_sec"] = None, 99.0
    write_json(root / "takes.json", takes)
    res = get_adapter("egoexo4d").scan(root, {})
    clip = next(c for c in res.clips if c.meta["take_name"] == takes[1]["take_name"])
    assert clip.segment == (0, clip.n_frames)
