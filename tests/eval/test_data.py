"""A published Hub-layout folder scores exactly like the dataset directory it came from."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from eval.data import clip_length, load_eval_data
from eval.predictions import parse_localization, parse_predictions
from eval.protocols.closed import score_closed
from eval.protocols.localization import score_localization
from schemas.errors import ToolkitError
from schemas.public import public_video, to_public
from tests.eval.fixtures import rows, write_dataset
from tests.eval.test_closed import KEYED
from tests.eval.test_localization import PRED


def write_hub_folder(folder, sample_rows, *, corrupt: str | None = None):
    recs = [to_public(r, [public_video(v, v["path"]) for v in r["videos"]]) for r in sample_rows]
    if corrupt:
        recs[1][corrupt] = "{not json"  # the second row: "row 2" (rows are numbered from 1)
    (folder / "data").mkdir(parents=True)
    (folder / "README.md").write_text("---\nconfigs: []\n---\n")
    half = len(recs) // 2  # two shards: row order must follow the shard names
    pq.write_table(pa.Table.from_pylist(recs[:half]), folder / "data" / "test-00000-of-00002.parquet")
    pq.write_table(pa.Table.from_pylist(recs[half:]), folder / "data" / "test-00001-of-00002.parquet")
    return folder


def test_hub_folder_scores_like_the_dataset_dir(tmp_path):
    ddir = load_eval_data(write_dataset(tmp_path / "ds"))
    hub = load_eval_data(write_hub_folder(tmp_path / "hub", rows()))
    assert hub.kind == "hub_folder" and [r["sample_key"] for r in hub.rows] == ["s1", "s2", "s3", "s4"]
    assert hub.rows[2]["n_differences_open_prediction"] == 5  # ceil(1.5 x 3) filled in like the release
    for a, b in zip(ddir.rows, hub.rows):
        assert [clip_length(v) for v in a["videos"]] == [clip_length(v) for v in b["videos"]]
    drop = ("inputs",)
    c1 = score_closed(ddir, parse_predictions(KEYED, ddir)).metrics
    c2 = score_closed(hub, parse_predictions(KEYED, hub)).metrics
    assert {k: v for k, v in c1.items() if k not in drop} == {k: v for k, v in c2.items() if k not in drop}
    l1 = score_localization(ddir, parse_localization(PRED, ddir)).metrics
    l2 = score_localization(hub, parse_localization(PRED, hub)).metrics
    assert {k: v for k, v in l1.items() if k not in drop} == {k: v for k, v in l2.items() if k not in drop}


def test_hub_folder_bad_json_cell_names_file_row_and_column(tmp_path):
    folder = write_hub_folder(tmp_path / "hub", rows(), corrupt="differences_gt")
    with pytest.raises(ToolkitError, match=r"test-00000-of-00002.parquet:row 2: differences_gt"):
        load_eval_data(folder)


def test_not_a_dataset(tmp_path):
    (tmp_path / "x").mkdir()
    with pytest.raises(ToolkitError, match="neither a dataset directory"):
        load_eval_data(tmp_path / "x")


def test_clip_length_from_trim_when_no_n_frames():
    assert clip_length({"frames_trim": [10, 50, None]}) == 40
    assert clip_length({"frames_trim": [0, 9, 2]}) == 5
    assert clip_length({"frames_trim": [None, None, None]}) is None
    assert json.dumps(clip_length({"n_frames": 7})) == "7"


def test_fingerprint_follows_what_the_metrics_read(tmp_path):
    def fp(name, edit=None):
        r = rows()
        if edit:
            edit(r[0])
        return load_eval_data(write_dataset(tmp_path / name, r)).fingerprint()

    base = fp("base")
    assert fp("same") == base
    assert fp("name", lambda r: r.update(action_name="renamed")) == base  # not read by any metric
    assert fp("path", lambda r: r["videos"][0].update(path="elsewhere.mp4")) == base
    assert fp("label", lambda r: r["differences_gt"].update({"0": "b"})) != base
    assert fp("fps", lambda r: r["videos"][1].update(fps_original=25)) != base
    assert fp("frames", lambda r: r["retrieval_frames"][0].update({"0": [11]})) != base
