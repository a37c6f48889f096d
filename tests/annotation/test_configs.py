"""Label configs generated from taxonomies, task data from stored clips, composites, frame numbering."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from annotation.composite import aligned_indices, make_composite
from annotation.configs import RULE, label_config
from annotation.frames import index_to_ls, ls_to_index, ls_to_span, span_to_ls
from annotation.results import config_items
from annotation.tasks import task_data
from annotation.taxonomy import load_action_taxonomy
from curation.samples.synthetic import read_barcode
from schemas.dataset_dir import load_dataset
from schemas.errors import ToolkitError
from tests.helpers.tiny_dataset import DIFFERENCES, make_tiny_dataset
from viddiff_runtime import media


@pytest.fixture(scope="module")
def ds(tmp_path_factory):
    root = tmp_path_factory.mktemp("cfg") / "ds"
    from tests.helpers.tiny_dataset import TinyAction

    make_tiny_dataset(
        root,
        actions=(
            TinyAction("fitness_0", "fitness", "easy", 1, 30.0),
            TinyAction("diving_0", "diving", "medium", 1, 25.0),
        ),
        n_frames=(20, 31),
    )
    return load_dataset(root)


def test_differences_config_from_taxonomy(ds):
    tax = load_action_taxonomy(ds, "fitness_0")
    xml = label_config("differences", tax)
    root = ET.fromstring(xml)
    videos = {v.get("name"): v for v in root.iter("Video")}
    assert videos["video_a"].get("frameRate") == "$fps_a" and videos["video_b"].get("frameRate") == "$fps_b"
    choices = {c.get("name"): [x.get("value") for x in c.iter("Choice")] for c in root.iter("Choices")}
    active = [k for k, v in DIFFERENCES.items() if v["status"] == "active"]
    assert choices == {f"diff_{k}": ["a", "b", "c"] for k in active}  # retired "3" left out
    headers = [h.get("value") for h in root.iter("Header")]
    assert RULE in headers and "10 s" in RULE
    for k in active:
        assert any(DIFFERENCES[k]["description"] in h and h.startswith(f"[{k}]") for h in headers)
    diffs, timelines = config_items(xml)
    assert diffs == active and timelines == {}


def test_timestamps_config_and_fallback_without_taxonomy_file(ds, tmp_path):
    tax = load_action_taxonomy(ds, "diving_0")
    xml = label_config("timestamps", tax)
    _, timelines = config_items(xml)
    want = ["stage:setup", "stage:main", "stage:finish", "key:start", "key:peak"]
    assert timelines == {"tl_a": want, "tl_b": want}
    tl = {t.get("name"): t.get("toName") for t in ET.fromstring(xml).iter("TimelineLabels")}
    assert tl == {"tl_a": "video_a", "tl_b": "video_b"}
    # a released dataset has no taxonomy files: keypoints come from retrieval_frames, differences from the rows
    ds.taxonomy_path("diving_0").rename(tmp_path / "moved.json")
    try:
        fallback = load_action_taxonomy(ds, "diving_0")
    finally:
        (tmp_path / "moved.json").rename(ds.taxonomy_path("diving_0"))
    assert set(fallback.keypoints) == {"start", "peak"} and list(fallback.differences) == ["0", "1", "2"]


def test_bad_taxonomy_file_is_one_line_error(ds, tmp_path):
    path = ds.taxonomy_path("fitness_0")
    good = path.read_text()
    path.write_text(good.replace('"num_frames": "1"', '"num_frames": 1', 1))
    try:
        with pytest.raises(ToolkitError) as ei:
            load_action_taxonomy(ds, "fitness_0")
        assert str(path) in str(ei.value) and "num_frames" in str(ei.value)
    finally:
        path.write_text(good)


def test_task_data_comes_from_stored_clips(ds):
    s = ds.by_key["diving_0_0"]
    data = task_data(ds, s, ds.root.parent)
    assert data["fps_a"] == 25.0 and data["fps_b"] == 25.0
    assert (data["n_frames_a"], data["n_frames_b"]) == (20, 31)
    assert data["video_a"] == f"/data/local-files/?d={ds.root.name}/videos/diving_0_0/a.mp4"
    with pytest.raises(ToolkitError, match="not under the Label Studio media root"):
        task_data(ds, s, ds.root / "taxonomies")


def test_frame_numbering_edges():
    assert index_to_ls(0) == 1 and ls_to_index(1) == 0
    assert ls_to_index(index_to_ls(41)) == 41
    assert ls_to_span(1, 1) == (0, 1) and ls_to_span(3, 7) == (2, 7)
    assert span_to_ls(*ls_to_span(3, 7)) == (3, 7)


def test_aligned_indices_by_hand():
    fps, ia, ib = aligned_indices(3, 10.0, 5, 20.0)
    # composite at 20 fps for max(0.3 s, 0.25 s) = 6 frames; A at 10 fps advances every other frame
    assert fps == 20.0 and ia == [0, 0, 1, 1, 2, 2] and ib == [0, 1, 2, 3, 4, 4]
    fps, ia, ib = aligned_indices(4, 30.0, 4, 25.0)
    assert fps == 30.0 and ia == [0, 1, 2, 3, 3] and ib == [0, 0, 1, 2, 3]


def test_composite_clip_is_time_aligned(ds):
    s = ds.by_key["fitness_0_0"]
    path = make_composite(ds, s, max_height=64)
    info = media.probe(path)
    assert float(info.fps) == 30.0 and info.n_frames == 31  # B is longer; A holds its last frame
    dec = media.decode(path, indices=[0, 10, 19, 30])
    half = (dec.frames.shape[2] - 4) // 2
    top = 14  # caption bar
    a = [read_barcode(f[top:, :half]) for f in dec.frames]
    b = [read_barcode(f[top:, half + 4 :]) for f in dec.frames]
    assert a == [0, 10, 19, 19] and b == [0, 10, 19, 30]
    mtime = path.stat().st_mtime_ns
    make_composite(ds, s, max_height=64)  # resumable: not rewritten
    assert path.stat().st_mtime_ns == mtime


def test_configs_help_the_annotator(ds):
    from annotation.configs import TIMESTAMP_RULE, video_scale

    tax = load_action_taxonomy(ds, "fitness_0")
    scale = video_scale(160, 120)
    assert scale == pytest.approx(280 / 120) and video_scale(1920, 1080) == 1.0  # only small clips grow
    diff = label_config("differences", tax, scale=scale)
    root = ET.fromstring(diff)
    headers = [h.get("value") for h in root.iter("Header")]
    assert "Pair $sample_key" in headers and "Video A ($n_frames_a frames, $fps_a fps)" in headers
    pair = next(v for v in root.iter("View") if v.get("className") == "viddiff-pair")
    assert "position: sticky" in pair.get("style")  # the videos stay in view
    assert {v.get("name") for v in pair.iter("Video")} == {"video_a", "video_b"}
    assert f"scale({scale:.3f})" in next(root.iter("Style")).text
    assert "<Style>" not in label_config("differences", tax, scale=1.0)
    ts = ET.fromstring(label_config("timestamps", tax, composite=True))
    assert TIMESTAMP_RULE in [h.get("value") for h in ts.iter("Header")]
    assert "CELL" in TIMESTAMP_RULE and "playhead" in TIMESTAMP_RULE and "hop size' to 1" in TIMESTAMP_RULE
    # the composite is outside the scaled pair (its own size) and its captions count like the player
    assert (
        next(v for v in ts.iter("View") if v.get("className") == "viddiff-composite").find("Video")
        is not None
    )
    assert "counted from 1" in label_config("timestamps", tax, composite=True)
