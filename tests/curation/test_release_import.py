"""curate import-release: the public release's parquet + video root -> a dataset directory."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from curation.cli import main as curate
from curation.publish.folder import publish
from curation.publish.release_import import PROGRESS, import_release
from curation.samples.synthetic import read_barcode, render_frame
from schemas.dataset_dir import load_dataset
from schemas.errors import ToolkitError
from tests.helpers.tiny_dataset import TinyAction, make_tiny_dataset
from viddiff_runtime import media

PUBLIC_FIELDS = (
    "action",
    "action_name",
    "action_description",
    "domain",
    "split",
    "source_dataset",
    "differences_annotated",
    "differences_gt",
    "retrieval_frames",
)
TAXONOMY = {
    "0": {
        "name": "deeper",
        "description": "the squat is deeper",
        "query_string": "deeper",
        "num_frames": "1",
    },
    "1": None,
    "2": {
        "name": "faster",
        "description": "the movement is faster",
        "query_string": "faster",
        "num_frames": "gt_1",
    },
}


def barcodes(path: Path) -> list[int]:
    return [read_barcode(f) for f in media.decode(path).frames]


def write_image_folder(folder: Path, n: int, *, stride: int = 6) -> None:
    """HuMMan-Recon-like frames: file stems are original frame ids (multiples of 6), not zero-padded,
    so string order differs from integer order; each image's barcode is its position."""
    from PIL import Image

    folder.mkdir(parents=True)
    for i in range(n):
        Image.fromarray(render_frame(i, 96, 64)).save(folder / f"{i * stride}.png")


def record(key: str, videos: list[dict], *, v1: bool = False, **extra) -> dict:
    gt = {"0": "a", "1": None, "2": "c"}
    rec = {
        "sample_key": key,
        "videos": json.dumps(videos),
        "action": extra.pop("action", "fitness_2"),
        "action_name": "car deadlift",
        "action_description": "deadlift with no weight",
        "source_dataset": extra.pop("source_dataset", "humann"),
        "sample_hash": 1234567,
        "split": "medium",
        "domain": "fitness",
        "differences_annotated": json.dumps(TAXONOMY),
        "differences_gt": json.dumps(gt),
        "n_differences_open_prediction": 3,
        "retrieval_frames": json.dumps([{"lowest": [3]}, {"lowest": [4], "top": None}]),
    }
    if v1:  # the first release: the domain lived in `split`, no domain / N_diff columns
        rec["split"] = rec.pop("domain")
        rec.pop("n_differences_open_prediction")
    rec.update(extra)
    return rec


@pytest.fixture()
def release(tmp_path):
    """A release folder shaped like the public one: parquet files plus a video root of sources."""
    root = tmp_path / "root"
    write_image_folder(root / "data/src_humman/p000001_a000001/kinect_color/kinect_000", 14)
    write_image_folder(root / "data/src_humman/p000002_a000001/kinect_color/kinect_000", 12)
    media.write_frames(
        (render_frame(i, 96, 64) for i in range(40)),
        root / "data/src_jigsaws/Knot_Tying/video/Knot_Tying_B001_capture1.mp4",
        30,
    )
    video = "data/src_jigsaws/Knot_Tying/video/Knot_Tying_B001_capture1.mp4"
    rows = [
        record(
            "fitness_2_0",
            [
                {
                    "path": "data/src_humman/p000001_a000001/kinect_color/kinect_000",
                    "fps_original": 8,
                    "frames_trim": [2, 9, None],
                },
                {
                    "path": "data/src_humman/p000002_a000001/kinect_color/kinect_000",
                    "fps_original": 8,
                    "frames_trim": [0, 10, None],
                },
            ],
        ),
        record(
            "surgery_0_0",
            [
                {"path": video, "fps_original": 30, "frames_trim": [5, 30, None]},
                {"path": video, "fps_original": 30, "frames_trim": [0, 20, 2]},
            ],
            action="surgery_0",
            source_dataset="JIGSAWS",
        ),
    ]
    (tmp_path / "release" / "data").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "release" / "data" / "test-00000-of-00002.parquet")
    old = [
        record(
            "surgery_0_1",
            [
                {"path": video, "fps_original": 30, "frames_trim": [10, 13, None], "fps": 30},
                {
                    "path": "data/src_jigsaws/Knot_Tying/video/Knot_Tying_C001_capture1.mp4",
                    "fps_original": 30,
                    "frames_trim": [0, 6, None],
                    "fps": 30,
                },
            ],
            v1=True,
            action="surgery_0",
            source_dataset="JIGSAWS",
        )
    ]
    pq.write_table(pa.Table.from_pylist(old), tmp_path / "release" / "data" / "test-00001-of-00002.parquet")
    return tmp_path / "release", root


def test_import_trims_folders_videos_and_steps_then_resumes(release, tmp_path):
    path, root = release
    out = tmp_path / "ds"
    with pytest.raises(ToolkitError, match=r"test-00001-of-00002\.parquet:row 1: videos: video not found"):
        import_release(path, out, videos_root=root, progress=False)
    assert (out / PROGRESS).is_file() and not (out / "samples.jsonl").exists()
    media.write_frames(
        (render_frame(100 + i, 96, 64) for i in range(8)),
        root / "data/src_jigsaws/Knot_Tying/video/Knot_Tying_C001_capture1.mp4",
        30,
    )
    result = import_release(path, out, videos_root=root, progress=False)
    assert (result.resumed, result.imported) == (2, 1)
    assert not (out / PROGRESS).exists()
    ds = load_dataset(out)
    assert (result.dataset.root, result.dataset.meta, result.dataset.samples) == (out, ds.meta, ds.samples)
    rows = ds.by_key
    assert list(rows) == ["fitness_2_0", "surgery_0_0", "surgery_0_1"]

    fit = rows["fitness_2_0"]
    assert barcodes(ds.video_path(fit, 0)) == list(range(2, 9))  # integer stem order, slice [2, 9)
    assert barcodes(ds.video_path(fit, 1)) == list(range(10))
    a = fit["videos"][0]
    assert a["fps_original"] == 8 and a["n_frames"] == 7 and a["frames_trim"] == [0, 7, None]
    assert a["source"]["path"] == "data/src_humman/p000001_a000001/kinect_color/kinect_000"
    assert a["source"]["frames"] == [2, 9] and a["source"]["fps"] == 8 and a["source"]["dataset"] == "humman"
    assert fit["retrieval_frames"] == [{"lowest": [3]}, {"lowest": [4], "top": None}]
    assert fit["differences_annotated"] == TAXONOMY and fit["sample_hash"] == 1234567

    sur = rows["surgery_0_0"]
    assert barcodes(ds.video_path(sur, 0)) == list(range(5, 30))
    assert barcodes(ds.video_path(sur, 1)) == list(range(0, 20, 2))
    b = sur["videos"][1]
    assert b["fps_original"] == 15 and b["source"]["step"] == 2 and b["source"]["frames"] == [0, 20]

    old = rows["surgery_0_1"]
    assert (old["domain"], old["split"]) == ("fitness", None)
    assert old["n_differences_open_prediction"] == math.ceil(1.5 * 2)
    assert barcodes(ds.video_path(old, 1)) == list(range(100, 106))
    assert ds.meta["actions"]["surgery_0"]["split_origin"] == "release"


def test_skip_missing_leaves_pairs_out(release, tmp_path):
    path, root = release
    result = import_release(path, tmp_path / "ds", videos_root=root, skip_missing=True, progress=False)
    assert result.skipped == ["surgery_0_1"]
    assert [s["sample_key"] for s in result.dataset.samples] == ["fitness_2_0", "surgery_0_0"]


def test_bad_release_values_name_file_row_and_key(tmp_path):
    root = tmp_path / "root"
    media.write_frames((render_frame(i, 96, 64) for i in range(10)), root / "v.mp4", 30)
    good = [{"path": "v.mp4", "fps_original": 30, "frames_trim": [0, 5, None]}] * 2
    cases = [
        (record("k", good, differences_gt="{not json"), r"row 1: differences_gt: not a JSON string"),
        (
            record("k", [{"path": "v.mp4", "fps_original": 25, "frames_trim": [0, 5, None]}] * 2),
            r"videos\[0\]: fps_original: video plays at 30 fps, the release says 25",
        ),
        (record("k", good, retrieval_frames=json.dumps([{"x": [-1]}, {}])), r"retrieval_frames"),
    ]
    for i, (rec, pattern) in enumerate(cases):
        pq.write_table(pa.Table.from_pylist([rec]), tmp_path / f"bad{i}.parquet")
        with pytest.raises(ToolkitError, match=pattern):
            import_release(
                tmp_path / f"bad{i}.parquet", tmp_path / f"out{i}", videos_root=root, progress=False
            )


@pytest.mark.parametrize("videos", ["folder", "embed"])
def test_publish_then_import_gives_back_the_same_samples(videos, tmp_path):
    src = make_tiny_dataset(
        tmp_path / "src",
        actions=(
            TinyAction("fitness_0", "fitness", "easy", 2, 30.0),
            TinyAction("diving_0", "diving", "medium", 1, 25.0),
        ),
    )
    hub = tmp_path / "hub"
    publish(src.root, hub, videos=videos, progress=False)
    if videos == "embed":  # the import must read the embedded bytes, not the files beside them
        shutil.rmtree(hub / "videos")
    back = import_release(hub, tmp_path / "back", progress=False).dataset
    assert [s["sample_key"] for s in back.samples] == [s["sample_key"] for s in src.samples]
    for row in src.samples:
        got = back.by_key[row["sample_key"]]
        for field in PUBLIC_FIELDS:
            assert got[field] == row[field], field
        assert got["n_differences_open_prediction"] == math.ceil(
            1.5 * sum(v is not None for v in row["differences_gt"].values())
        )
        for i in range(2):
            mine, theirs = got["videos"][i], row["videos"][i]
            assert (mine["n_frames"], mine["fps_original"]) == (theirs["n_frames"], theirs["fps_original"])
            assert mine["source"]["path"] == f"videos/{row['sample_key']}/{'ab'[i]}.mp4"
            assert mine["source"]["origin"] == theirs["source"]
            assert barcodes(back.video_path(got, i)) == barcodes(src.video_path(row, i))


def test_cli_import_release(release, tmp_path):
    path, root = release
    out = tmp_path / "ds"
    res = CliRunner().invoke(
        curate,
        [
            "import-release",
            str(path / "data" / "test-00000-of-00002.parquet"),
            "--videos",
            str(root),
            "--out",
            str(out),
            "--workers",
            "2",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "imported 2 pairs" in res.output
    assert len(load_dataset(out).samples) == 2
    res = CliRunner().invoke(curate, ["import-release", str(path), "--videos", str(root), "--out", str(out)])
    assert res.exit_code == 1 and "already a dataset directory" in res.output
