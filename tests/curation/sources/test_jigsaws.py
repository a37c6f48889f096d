"""JIGSAWS adapter: double-tab meta files, 1-based inclusive transcriptions, both mirror layouts, H002."""

from __future__ import annotations

import pytest

from curation.sources import get_adapter
from curation.sources.jigsaws import parse_meta_file
from schemas.errors import ToolkitError
from viddiff_runtime import media

from .helpers import barcodes_of_video


@pytest.fixture(scope="module")
def scan(sample_root):
    return get_adapter("jigsaws").scan(sample_root / "jigsaws", {})


def _raw_transcription(path):
    return [
        (int(a), int(b), g) for a, b, g in (line.split() for line in path.read_text().splitlines() if line)
    ]


def test_meta_file_with_empty_tab_columns(sample_root):
    path = sample_root / "jigsaws" / "Suturing" / "meta_file_Suturing.txt"
    assert "\t\t" in path.read_text()
    meta = parse_meta_file(path)
    for line in path.read_text().splitlines():
        fields = line.split()
        row = meta[fields[0]]
        assert row["level"] == fields[1] and row["grs"] == float(fields[2])
        assert list(row["osats"].values()) == [float(x) for x in fields[3:]]


def test_clips_skill_and_views(scan, sample_root):
    ids = {c.clip_id for c in scan.clips}
    assert {"Suturing_B001.capture1", "Suturing_B001.capture2", "Knot_Tying_E001.capture1"} <= ids
    meta = parse_meta_file(sample_root / "jigsaws" / "Suturing" / "meta_file_Suturing.txt")
    rank = {"N": 0, "I": 1, "E": 2}
    for clip in scan.clips:
        info = media.probe(clip.media_path)
        assert clip.media_kind == "video" and clip.media_path.endswith(f"_{clip.view}.avi")
        assert clip.n_frames == info.n_frames and clip.fps_measured == 30 and info.codec == "mjpeg"
        assert clip.participant == clip.meta["trial"].rsplit("_", 1)[1][0]
        if clip.action == "Suturing":
            row = meta[clip.meta["trial"]]
            assert clip.skill["score"] == row["grs"] and clip.skill["rank"] == rank[row["level"]]
        clip.to_dict()
    b1 = {c.view: c for c in scan.clips if c.meta["trial"] == "Suturing_B001"}
    assert (b1["capture1"].meta["width"], b1["capture2"].meta["width"]) == (320, 160)


def test_missing_h002_is_skipped(scan):
    assert ("Suturing_H002", "no video files (listed in the meta file)") in scan.skipped
    assert not any("H002" in c.clip_id for c in scan.clips)


def test_transcriptions_become_half_open_subactions(scan, sample_root):
    for clip in scan.clips:
        task_dir = "Suturing" if clip.action == "Suturing" else "Knot_Tying_kinematic"
        raw = _raw_transcription(
            sample_root / "jigsaws" / task_dir / "transcriptions" / f"{clip.meta['trial']}.txt"
        )
        want = [(g, s - 1, min(e, clip.n_frames)) for s, e, g in raw]  # 1-based inclusive -> 0-based [s, e)
        assert [(x["label"], x["start"], x["end"]) for x in clip.subactions] == want
        assert clip.segment == (want[0][1], want[-1][2])
        assert clip.meta["clamped_subactions"] == (raw[-1][1] > clip.n_frames)
    assert any(c.meta["clamped_subactions"] for c in scan.clips)  # one transcription runs past its video


def test_segment_frames_are_the_source_frames(scan):
    clip = next(c for c in scan.clips if c.clip_id == "Knot_Tying_G001.capture1")
    s, e = clip.segment
    assert barcodes_of_video(clip.media_path, [s, e - 1]) == [s, e - 1]


def test_transcription_base_is_configurable(sample_root):
    zero = get_adapter("jigsaws").scan(
        sample_root / "jigsaws", {"transcription_base": 0, "transcription_end_inclusive": False}
    )
    for clip in zero.clips:
        task_dir = "Suturing" if clip.action == "Suturing" else "Knot_Tying_kinematic"
        raw = _raw_transcription(
            sample_root / "jigsaws" / task_dir / "transcriptions" / f"{clip.meta['trial']}.txt"
        )
        want = [(g, s, min(e, clip.n_frames)) for s, e, g in raw if min(e, clip.n_frames) > s]
        assert [(x["label"], x["start"], x["end"]) for x in clip.subactions] == want


def test_select(scan):
    adapter = get_adapter("jigsaws")
    knot = adapter.select(scan.clips, {"task": "Knot Tying", "capture": 1}, where="actions[5]")
    assert {c.action for c in knot} == {"Knot_Tying"} and len(knot) == 3
    experts = adapter.select(scan.clips, {"skill": ["E", "expert"]}, where="a")
    assert {c.participant for c in experts} == {"D", "E"}
    with pytest.raises(ToolkitError) as e:
        adapter.select(scan.clips, {"task": "Needle_Passing"}, where="actions[5]")
    assert e.value.key == "actions[5].select"


def test_bad_meta_line_and_transcription(copy_source):
    root = copy_source("jigsaws")
    meta = root / "Suturing" / "meta_file_Suturing.txt"
    meta.write_text(meta.read_text() + "Suturing_I001\t\tX\t12\n")
    with pytest.raises(ToolkitError) as e:
        get_adapter("jigsaws").scan(root, {})
    assert str(meta) in str(e.value) and e.value.key == "line 6"
    meta.write_text("\n".join(meta.read_text().splitlines()[:5]) + "\n")
    trans = root / "Suturing" / "transcriptions" / "Suturing_C001.txt"
    trans.write_text("12 5 G1\n")
    with pytest.raises(ToolkitError, match="ends") as e:
        get_adapter("jigsaws").scan(root, {})
    assert str(trans) in str(e.value) and e.value.key == "line 1"


def test_no_task_folders(tmp_path):
    with pytest.raises(ToolkitError, match="meta_file"):
        get_adapter("jigsaws").scan(tmp_path, {})


def test_corrupt_video_error_or_skip(copy_source):
    root = copy_source("jigsaws")
    bad = root / "Suturing" / "video" / "Suturing_C001_capture1.avi"
    bad.write_bytes(b"RIFF" + b"\0" * 64)
    with pytest.raises(ToolkitError) as e:
        get_adapter("jigsaws").scan(root, {})
    assert str(bad) in str(e.value)
    res = get_adapter("jigsaws").scan(root, {"on_bad_media": "skip"})
    assert any(what == str(bad) and "unreadable video" in why for what, why in res.skipped)
    assert "Suturing_C001.capture1" not in {c.clip_id for c in res.clips}
