"""FineDiving adapter: pickles with numpy arrays and (source, instance) keys, 5/8-digit frame names,
sub-actions from frames_labels, heights from competition names, the label/frame-count mismatch."""

from __future__ import annotations

import os
import pickle

import pytest

from curation.sources import get_adapter
from curation.sources.finediving import label_runs, parse_height, read_pickle
from schemas.errors import ToolkitError

from .helpers import barcodes_of_files

MEN10 = "FINADivingWorldCup2021_Men10m_final_r1"


@pytest.fixture(scope="module")
def scan(sample_root):
    return get_adapter("finediving").scan(sample_root / "finediving", {})


@pytest.fixture(scope="module")
def fine(sample_root):
    return read_pickle(sample_root / "finediving" / "Annotations" / "FineDiving_fine-grained_annotation.pkl")


def test_clips_from_pickles_and_frame_folders(scan, fine, sample_root):
    by_id = {c.clip_id: c for c in scan.clips}
    assert set(by_id) == {f"{MEN10}.0", f"{MEN10}.1", f"{MEN10}.2", "01.3"}
    for clip in scan.clips:
        entry = fine[(clip.meta["source"], clip.meta["instance"])]
        files = sorted(os.listdir(clip.media_path))
        assert clip.media_kind == "frames" and clip.n_frames == len(files) == len(entry["frames_labels"])
        assert clip.frame_ids == [int(f.split(".")[0]) for f in files]
        assert clip.frame_ids[0] > 0  # absolute frame numbers of the untrimmed video
        assert clip.action == str(entry["action_type"]).upper() == "107B"
        assert (
            clip.skill["score"] == pytest.approx(float(entry["dive_score"]))
            and clip.skill["scale"] == "dive_score"
        )
        assert clip.fps_declared == 12 and clip.fps == 12 and clip.participant is None
        assert clip.meta["difficulty"] == pytest.approx(3.3) and len(clip.meta["judge_scores"]) == 7
        assert clip.meta["split"] in ("train", "test")
        clip.to_dict()
    assert len(os.listdir(by_id["01.3"].media_path)[0].split(".")[0]) == 8
    assert len(os.listdir(by_id[f"{MEN10}.0"].media_path)[0].split(".")[0]) == 5


def test_subactions_are_label_runs_with_names(scan, fine):
    adapter = get_adapter("finediving")
    for clip in scan.clips:
        labels = [int(x) for x in fine[(clip.meta["source"], clip.meta["instance"])]["frames_labels"]]
        runs = clip.subactions
        assert [s["label"] for s in runs] == [
            "Forward",
            "3.5 Soms.Pike",
            "Entry",
        ]  # Entry from the table pickle
        assert runs[0]["start"] == 0 and runs[-1]["end"] == clip.n_frames
        for s in runs:
            assert set(labels[s["start"] : s["end"]]) == {s["id"]}
        for a, b in zip(runs, runs[1:]):
            assert a["end"] == b["start"] and labels[a["end"] - 1] != labels[b["start"]]
        files = adapter.frame_files(clip)
        cut = runs[1]["start"]
        assert barcodes_of_files(files[cut - 1 : cut + 1]) == [cut - 1, cut]


def test_label_mismatch_skip_or_clamp(scan, sample_root):
    ((what, why),) = [s for s in scan.skipped if s[0] == f"{MEN10}.5"]
    assert "mismatch" in why and "22 frames_labels for 26 images" in why
    clamped = get_adapter("finediving").scan(sample_root / "finediving", {"label_mismatch": "clamp"})
    clip = next(c for c in clamped.clips if c.clip_id == f"{MEN10}.5")
    assert clip.n_frames == 26 and clip.meta["label_mismatch"] == {"labels": 22, "images": 26}
    assert clip.subactions[-1]["end"] == 22


def test_heights_and_select(scan, sample_root):
    adapter = get_adapter("finediving")
    assert {c.clip_id: c.meta["dive_height"] for c in scan.clips}["01.3"] is None
    ten = adapter.select(scan.clips, {"action_type": "107b", "height": "10m"}, where="actions[3]")
    assert {c.meta["source"] for c in ten} == {MEN10} and len(ten) == 3
    assert len(adapter.select(scan.clips, {"height": 10}, where="a")) == 3
    mapped = adapter.scan(sample_root / "finediving", {"heights": {"01": "10m"}})
    assert len(adapter.select(mapped.clips, {"height": "10m"}, where="a")) == 4
    with pytest.raises(ToolkitError) as e:
        adapter.select(scan.clips, {"action_type": "107B", "height": "3m"}, where="actions[3]")
    assert e.value.key == "actions[3].select" and "107B" in str(e.value)
    with pytest.raises(ToolkitError) as e:
        adapter.select(scan.clips, {"dive": "107B"}, where="actions[3]")
    assert e.value.key == "actions[3].select.dive"


def test_fps_option(sample_root):
    res = get_adapter("finediving").scan(sample_root / "finediving", {"fps": 18})
    assert {c.fps for c in res.clips} == {18}


@pytest.mark.parametrize(
    "name,expected",
    [
        ("FINADivingWorldCup2021_Men10m_final_r1", "10m"),
        ("FINADivingWorldCup2021_Women3m_semifinal_r2", "3m"),
        ("FullMenSynchronised10mPlatform_Tokyo2020Replays_2", "10m"),
        ("WomenSpringboardFinal", "3m"),
        ("01", None),
    ],
)
def test_parse_height(name, expected):
    assert parse_height(name) == expected


def test_label_runs():
    assert label_runs([4, 4, 1, 1, 1, 4]) == [(4, 0, 2), (1, 2, 5), (4, 5, 6)]


@pytest.mark.parametrize("damage", ["garbage", "truncated", "code"])
def test_unreadable_pickle_is_one_line_error(copy_source, damage):
    root = copy_source("finediving")
    path = root / "Annotations" / "FineDiving_fine-grained_annotation.pkl"
    if damage == "garbage":
        path.write_bytes(b"this is not a pickle")
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:200])
    else:  # a pickle that would run a command: refused, not executed
        path.write_bytes(pickle.dumps(_Evil()))
    with pytest.raises(ToolkitError) as e:
        get_adapter("finediving").scan(root, {})
    assert str(path) in str(e.value) and "unreadable pickle" in str(e.value) and "\n" not in str(e.value)


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_missing_frames_gaps_and_annotations(copy_source):
    root = copy_source("finediving")
    frames = root / "FINADiving_MTL_256s" / MEN10
    (sorted((frames / "1").iterdir())[4]).unlink()
    for f in (frames / "2").iterdir():
        f.unlink()
    (frames / "2").rmdir()
    res = get_adapter("finediving").scan(root, {})
    reasons = dict(res.skipped)
    assert "image folder with gaps" in reasons[str(frames / "1")]
    assert reasons[f"{MEN10}.2"].startswith("frame folder missing")
    for p in (root / "Annotations").iterdir():
        p.unlink()
    with pytest.raises(ToolkitError, match="no FineDiving annotation pickle"):
        get_adapter("finediving").scan(root, {})
