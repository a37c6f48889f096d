"""curate publish: Hub-layout folder, publishing rules, refusals, card, upload (mocked and live)."""

from __future__ import annotations

import json
import math
import os
import re
import uuid
from pathlib import Path
from unittest import mock

import datasets
import markdown
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from huggingface_hub import DatasetCard, HfApi

from curation.cli import main as curate
from curation.publish.folder import PublishRefused, publish, upload
from curation.publish.rules import balance_splits, flip_sample
from schemas.dataset_dir import load_dataset, save_dataset
from schemas.errors import ToolkitError
from schemas.io import write_json
from schemas.public import trim_range
from tests.helpers.tiny_dataset import TinyAction, make_tiny_dataset

ACTIONS = (
    TinyAction("fitness_0", "fitness", "easy", 3, 30.0),
    TinyAction("diving_0", "diving", "medium", 2, 25.0),
)
SOURCES = {"fitness": "humann", "diving": "FineDiving"}


def make_dataset(root: Path, *, labels: dict[str, dict] | None = None, annotation: dict | None = None):
    """The tiny dataset with real source names, a wrong stored N_diff, and optional label overrides."""
    ds = make_tiny_dataset(root, actions=ACTIONS)
    for row in ds.samples:
        row["source_dataset"] = SOURCES[row["domain"]]
        row["n_differences_open_prediction"] = 0  # publish must recompute it
        row["pairing"] = {"strategy": "random", "seed": 0}
        if labels and row["sample_key"] in labels:
            row["differences_gt"] = labels[row["sample_key"]]
    if annotation:
        ds.meta["annotation"] = annotation
    save_dataset(root, ds.meta, ds.samples)
    return load_dataset(root)


def read_rows(hub: Path) -> list[dict]:
    files = sorted((hub / "data").glob("test-*.parquet"))
    return [r for f in files for r in pq.read_table(f).to_pylist()]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("ds") / "tiny")


@pytest.fixture(scope="module")
def hub_folder(dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("hub") / "folder"
    result = publish(dataset.root, out, videos="folder", progress=False)
    return out, result


def test_folder_loads_offline_with_public_columns(hub_folder, dataset, tmp_path):
    out, result = hub_folder
    assert result.rows == len(dataset.samples)
    loaded = datasets.load_dataset(str(out), cache_dir=str(tmp_path / "cache"))
    assert list(loaded) == ["test"]
    test = loaded["test"]
    public = {
        "sample_key",
        "videos",
        "action",
        "action_name",
        "action_description",
        "source_dataset",
        "split",
        "domain",
        "differences_annotated",
        "differences_gt",
        "n_differences_open_prediction",
        "retrieval_frames",
        "vid0_thumbnail",
        "vid1_thumbnail",
    }
    assert public <= set(test.column_names)
    assert isinstance(test.features["vid0_thumbnail"], datasets.Image)
    src = dataset.by_key
    assert sorted(test["sample_key"]) == sorted(src)
    for rec in test:
        row = src[rec["sample_key"]]
        for col in ("differences_annotated", "differences_gt", "retrieval_frames", "videos"):
            assert isinstance(rec[col], str)  # JSON strings, as in the public release
        assert json.loads(rec["differences_gt"]) == row["differences_gt"]
        assert json.loads(rec["retrieval_frames"]) == row["retrieval_frames"]
        assert rec["n_differences_open_prediction"] == math.ceil(
            1.5 * sum(v is not None for v in row["differences_gt"].values())
        )
        videos = json.loads(rec["videos"])
        for i, v in enumerate(videos):
            assert v["frames_trim"] == [0, row["videos"][i]["n_frames"], None]
            assert v["fps_original"] == row["videos"][i]["fps_original"]
            assert (out / v["path"]).read_bytes() == dataset.video_path(row, i).read_bytes()
        thumb = rec["vid1_thumbnail"]
        assert thumb.height <= 224 and thumb.width > 0


def _decode_as_official_loader(path: str, frames_trim: list, fps_original: float) -> int:
    """What the official loader does with one ``videos[i]``: open ``path`` relative to the working
    directory (it fails with "Video not downloaded" when it is missing), check the average fps against
    ``fps_original`` and keep ``slice(*frames_trim)`` of the decoded frames. Returns the frames kept."""
    import av

    assert Path(path).exists(), f"Video not downloaded [{path}]"
    with av.open(path) as container:
        stream = container.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        assert float(stream.average_rate) == fps_original
    return len(frames[slice(*frames_trim)])


def test_embedded_rows_load_with_the_official_loader(dataset, tmp_path, monkeypatch):
    """Issue 12: embed wrote rows whose ``videos[i].path`` the folder lacked, so every pair failed."""
    out = tmp_path / "hub"
    publish(dataset.root, out, videos="embed", progress=False)
    loaded = datasets.load_dataset(str(out), split="test", cache_dir=str(tmp_path / "cache"))
    monkeypatch.chdir(out)  # the official loader resolves paths against the working directory
    src = dataset.by_key
    decoded = 0
    for rec in loaded:
        for i, v in enumerate(json.loads(rec["videos"])):
            n = _decode_as_official_loader(v["path"], v["frames_trim"], v["fps_original"])
            assert n == src[rec["sample_key"]]["videos"][i]["n_frames"] == v["n_frames"]
            assert Path(v["path"]).read_bytes() == rec[f"vid{i}_video"]["bytes"]
            decoded += 1
    assert decoded == 2 * len(src)


def test_embedded_videos_carry_the_clip_bytes(dataset, tmp_path):
    out = tmp_path / "hub"
    publish(dataset.root, out, videos="embed", progress=False, max_shard_bytes=60_000)
    shards = sorted((out / "data").glob("test-*.parquet"))
    assert len(shards) > 1  # the small shard limit split the rows
    assert all(re.fullmatch(rf"test-\d{{5}}-of-{len(shards):05d}\.parquet", s.name) for s in shards)
    loaded = datasets.load_dataset(str(out), split="test", cache_dir=str(tmp_path / "cache"))
    src = dataset.by_key
    assert loaded.num_rows == len(src)
    for rec in loaded:
        for i in range(2):
            assert rec[f"vid{i}_video"]["bytes"] == dataset.video_path(src[rec["sample_key"]], i).read_bytes()


def test_card_yaml_and_rendered_statistics_table(hub_folder, dataset):
    out, _ = hub_folder
    card = DatasetCard.load(out / "README.md")
    data = card.data.to_dict()
    assert data["license"] == "other" and data["license_link"] == "LICENSE_NOTES.md"
    assert data["configs"][0]["data_files"] == [{"split": "test", "path": "data/test-*"}]
    assert data["size_categories"] == "n<1K"
    assert set(data["source_datasets"]) == {"extended|HuMMan", "extended|FineDiving"}
    assert data["pretty_name"] and data["task_categories"]

    html = markdown.markdown(card.text, extensions=["tables", "fenced_code"])
    tables = re.findall(r"<table>.*?</table>", html, re.S)
    stats = next(t for t in tables if "mean clip s" in t)
    cells = {}
    for tr in re.findall(r"<tr>(.*?)</tr>", stats, re.S)[1:]:
        values = [re.sub(r"<.*?>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)]
        cells[(values[0], values[1])] = values
    for action in ACTIONS:
        rows = [r for r in dataset.samples if r["action"] == action.key]
        labels = [v for r in rows for v in r["differences_gt"].values() if v is not None]
        line = cells[(action.domain, action.key)]
        assert int(line[4]) == len(rows)
        assert int(line[5]) == len(labels)
        assert float(line[6]) == pytest.approx(labels.count("a") / len(labels), abs=0.005)
        assert float(line[8]) == pytest.approx(labels.count("c") / len(labels), abs=0.005)
        stamps = sum(1 for r in rows for per in r["retrieval_frames"] for f in per.values() if f)
        assert int(line[9]) == stamps
        secs = [v["n_frames"] / v["fps_original"] for r in rows for v in r["videos"]]
        assert float(line[10]) == pytest.approx(sum(secs) / len(secs), abs=0.005)
    assert cells[("all", "all")][4] == str(len(dataset.samples))
    text = card.text
    for needle in (
        "S-Lab License 1.0",
        "FineDiving release agreement",
        "Closed set",
        "Open set",
        "Localization",
        "## Limitations",
        "@inproceedings{burgess2025viddiff",
        "`random`: 5 pairs",
        "protocol was not recorded",
        "No inter-annotator agreement",
    ):
        assert needle in text, needle


def test_card_reports_agreement_and_protocol(tmp_path):
    rounds = [
        {
            "kind": "differences",
            "converted_at": "2026-11-26T04:00:00+00:00",
            "reviewer": None,
            "annotated_tasks": 5,
            "annotations": 10,
            "resolved": 14,
            "unresolved": 1,
        }
    ]
    ds = make_dataset(
        tmp_path / "ds",
        annotation={
            "protocol": "Two annotators labelled every pair.",
            "resolution_rule": "strict majority",
            "rounds": rounds,
            "calibration": {"agreement": {"krippendorff_alpha": 0.8123}},
        },
    )
    per_action = {
        "labels": {"items": 7, "percent": 85.71, "cohen_kappa": 0.7, "krippendorff_alpha": None},
        "keypoints": {"pairs": 4, "mean_abs_seconds": 0.0667, "within_delta": 0.75, "delta_frames": 2},
    }
    write_json(
        ds.root / "annotation" / "agreement.json",
        {"delta_frames": 2, "actions": {"fitness_0": per_action}, "overall": per_action},
    )
    publish(ds.root, tmp_path / "hub", progress=False)
    text = (tmp_path / "hub" / "README.md").read_text()
    assert "Two annotators labelled every pair." in text and "resolved by: strict majority" in text
    assert "differences round (2026-11-26T04:00:00+00:00): 5 tasks, 10 annotations, 14 items resolved" in text
    html = markdown.markdown(DatasetCard.load(tmp_path / "hub" / "README.md").text, extensions=["tables"])
    table = next(t for t in re.findall(r"<table>.*?</table>", html, re.S) if "kappa" in t)
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", tr) for tr in re.findall(r"<tr>(.*?)</tr>", table, re.S)[1:]]
    assert cells[0] == ["fitness_0", "7", "85.7", "0.700", "n/a", "4", "0.07", "0.75", "2"]
    assert cells[-1][0] == "all"
    assert "No inter-annotator agreement" not in text


def test_refuses_with_every_reason_and_writes_nothing(tmp_path):
    ds = make_dataset(tmp_path / "ds")
    rows = ds.samples
    rows[0]["differences_gt"]["0"] = "x"  # schema error
    dataset_file = tmp_path / "ds" / "samples.jsonl"
    ds.video_path(rows[1], 0).unlink()  # missing video
    with open(ds.video_path(rows[2], 1), "ab") as fh:  # altered video
        fh.write(b"\0")
    rows[3]["differences_gt"] = dict.fromkeys(rows[3]["differences_gt"])  # unannotated
    dataset_file.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "hub"
    with pytest.raises(PublishRefused) as err:
        publish(ds.root, out, progress=False)
    kinds = sorted(p.kind for p in err.value.reasons)
    assert kinds == ["schema", "unannotated", "video_altered", "video_missing"]
    msg = str(err.value)
    assert "\n" not in msg and "samples.jsonl:1" in msg and "differences_gt.0" in msg
    assert rows[1]["sample_key"] in msg and "--allow-partial" in msg
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if "staging" in p.name]

    result = publish(ds.root, out, allow_partial=True, progress=False)
    assert [r["sample_key"] for r in read_rows(out)] == [rows[4]["sample_key"]]
    assert len(result.dropped_partial) == 4
    card = (out / "README.md").read_text()
    assert "Published with `--allow-partial`: 4 rows left out" in card


def test_c_only_rows_are_dropped_and_reported(tmp_path):
    ds = make_dataset(tmp_path / "ds", labels={"diving_0_1": {"0": "c", "1": None, "2": "c", "3": None}})
    result = publish(ds.root, tmp_path / "hub", progress=False)
    assert result.dropped_c_only == ["diving_0_1"]
    assert "diving_0_1" not in {r["sample_key"] for r in read_rows(tmp_path / "hub")}
    assert "dropped: 1 (diving_0_1)" in (tmp_path / "hub" / "README.md").read_text()


def test_balancing_swaps_videos_thumbnails_frames_and_flips_labels(tmp_path):
    labels = {
        "fitness_0_0": {"0": "b", "1": "b", "2": "c", "3": None},
        "fitness_0_1": {"0": "b", "1": "a", "2": "b", "3": None},
        "fitness_0_2": {"0": "b", "1": "b", "2": "b", "3": None},
    }
    ds = make_dataset(tmp_path / "ds", labels=labels)
    plain = {r["sample_key"]: r for r in read_rows(_published(ds, tmp_path / "plain", balance=False))}
    result = publish(ds.root, tmp_path / "bal", balance=True, progress=False)
    easy = next(b for b in result.balance if b.split == "easy")
    assert (easy.a_before, easy.b_before) == (1, 7)
    assert abs(easy.a_after - easy.b_after) < abs(easy.a_before - easy.b_before)
    assert easy.swapped
    balanced = {r["sample_key"]: r for r in read_rows(tmp_path / "bal")}
    src = ds.by_key
    for key in easy.swapped:
        got, before = balanced[key], plain[key]
        flipped = {k: {"a": "b", "b": "a"}.get(v, v) for k, v in src[key]["differences_gt"].items()}
        assert json.loads(got["differences_gt"]) == flipped
        assert json.loads(got["retrieval_frames"]) == src[key]["retrieval_frames"][::-1]
        assert got["vid0_thumbnail"]["bytes"] == before["vid1_thumbnail"]["bytes"]
        vids = json.loads(got["videos"])
        assert vids[0]["sha256"] == src[key]["videos"][1]["sha256"]
        assert (tmp_path / "bal" / vids[0]["path"]).read_bytes() == ds.video_path(src[key], 1).read_bytes()
    for key in set(balanced) - set(easy.swapped):
        assert balanced[key]["differences_gt"] == plain[key]["differences_gt"]
    card = (tmp_path / "bal" / "README.md").read_text()
    assert "A/B balancing" in card and all(k in card for k in easy.swapped)


def _published(ds, out: Path, **kw) -> Path:
    publish(ds.root, out, progress=False, **kw)
    return out


def test_trim_range_is_the_python_slice_of_frames_trim():
    assert list(trim_range([2, 9], 20)) == list(range(20))[2:9]
    assert list(trim_range([0, None, 2], 7)) == [0, 2, 4, 6]
    assert list(trim_range([5, 100, None], 8)) == [5, 6, 7]  # end past the clip is clamped, as a slice is
    assert list(trim_range([None, None], 3)) == [0, 1, 2]


def test_rules_on_rows():
    row = {
        "sample_key": "k",
        "videos": [{"p": 0}, {"p": 1}],
        "retrieval_frames": [{"x": [1]}, {"x": [2]}],
        "differences_gt": {"0": "a", "1": "c", "2": None, "3": "b"},
    }
    flipped = flip_sample(row)
    assert flipped["differences_gt"] == {"0": "b", "1": "c", "2": None, "3": "a"}
    assert flipped["videos"] == [{"p": 1}, {"p": 0}] and flipped["retrieval_frames"][0] == {"x": [2]}
    assert flip_sample(flipped) == row
    rows = [dict(row, sample_key=f"k{i}", split="s", differences_gt={"0": "b", "1": "b"}) for i in range(4)]
    out, report = balance_splits(rows)
    assert report[0].a_after == report[0].b_after == 4 and len(report[0].swapped) == 2


def test_republish_keeps_unchanged_files_and_removes_stale_ones(tmp_path):
    ds = make_dataset(tmp_path / "ds")
    out = tmp_path / "hub"
    publish(ds.root, out, progress=False)
    before = {p: os.stat(p).st_ino for p in out.rglob("*") if p.is_file()}
    (out / ".cache").mkdir()
    (out / ".cache" / "upload-state").write_text("kept")
    publish(ds.root, out, progress=False)
    after = {p: os.stat(p).st_ino for p in out.rglob("*") if p.is_file() and ".cache" not in p.parts}
    assert after == before  # same bytes -> same files: an interrupted upload can resume
    gone = ds.samples[0]
    ds.video_path(gone, 0).unlink()
    publish(ds.root, out, allow_partial=True, progress=False)
    assert not (out / "videos" / gone["sample_key"]).exists()
    assert (out / ".cache" / "upload-state").read_text() == "kept"


def test_refuses_foreign_output_folder(dataset, tmp_path):
    (tmp_path / "mine.txt").write_text("x")
    with pytest.raises(Exception, match="not empty"):
        publish(dataset.root, tmp_path, progress=False)


def test_upload_calls_hfapi_with_the_folder(hub_folder, monkeypatch):
    out, _ = hub_folder
    monkeypatch.setenv("HF_TOKEN", "hf_secret_test_token")
    with mock.patch.object(HfApi, "create_repo") as create, mock.patch.object(HfApi, "upload_folder") as up:
        url = upload(out, "me/viddiff-tiny", private=True)
    create.assert_called_once()
    assert create.call_args.args[0] == "me/viddiff-tiny"
    assert create.call_args.kwargs == {"repo_type": "dataset", "private": True, "exist_ok": True}
    up.assert_called_once()
    kw = up.call_args.kwargs
    assert kw["repo_id"] == "me/viddiff-tiny" and kw["repo_type"] == "dataset"
    assert Path(kw["folder_path"]) == out
    assert ".cache/**" in kw["ignore_patterns"]
    assert up.call_args.args == () and url.endswith("/datasets/me/viddiff-tiny")
    assert "hf_secret_test_token" not in url


def test_upload_errors_are_one_line_without_the_token(hub_folder, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_leaky_token")
    boom = RuntimeError("401 Unauthorized for token hf_leaky_token\nmore detail")
    with mock.patch.object(HfApi, "create_repo"), mock.patch.object(HfApi, "upload_folder", side_effect=boom):
        with pytest.raises(ToolkitError) as err:
            upload(hub_folder[0], "me/x")
    assert "hf_leaky_token" not in str(err.value) and "\n" not in str(err.value)
    assert "upload failed: RuntimeError: 401 Unauthorized" in str(err.value)


def test_ego_exo4d_pairs_are_flagged(tmp_path):
    ds = make_dataset(tmp_path / "ds")
    for row in ds.samples:
        if row["domain"] == "diving":
            row["source_dataset"] = "EgoExo4D"
    save_dataset(ds.root, ds.meta, ds.samples)
    result = publish(ds.root, tmp_path / "hub", progress=False)
    assert result.warnings and "2 pairs come from Ego-Exo4D" in result.warnings[0]
    card = (tmp_path / "hub" / "README.md").read_text()
    assert "Ego-Exo4D licence" in card and "forbids redistribution" in card
    assert "Ego-Exo4D" in (tmp_path / "hub" / "LICENSE_NOTES.md").read_text()


def test_upload_needs_a_token(hub_folder, monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    with mock.patch.object(HfApi, "upload_folder") as up, pytest.raises(Exception, match="HF_TOKEN"):
        upload(hub_folder[0], "me/x")
    up.assert_not_called()


def test_cli_publish_and_upload(dataset, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_cli_token")
    out = tmp_path / "hub"
    with mock.patch.object(HfApi, "create_repo"), mock.patch.object(HfApi, "upload_folder") as up:
        res = CliRunner().invoke(
            curate,
            [
                "publish",
                str(dataset.root),
                "--out",
                str(out),
                "--repo-id",
                "org/tiny",
                "--videos",
                "embed",
                "--balance",
            ],
        )
    assert res.exit_code == 0, res.output
    assert f"published {len(dataset.samples)} pairs" in res.output and "uploaded to" in res.output
    assert "hf_cli_token" not in res.output
    assert up.call_args.kwargs["repo_id"] == "org/tiny"
    assert 'load_dataset("org/tiny"' in (out / "README.md").read_text()


def test_cli_refusal_is_one_line(tmp_path):
    ds = make_dataset(tmp_path / "ds")
    ds.video_path(ds.samples[0], 1).unlink()
    res = CliRunner().invoke(curate, ["publish", str(ds.root), "--out", str(tmp_path / "hub")])
    assert res.exit_code == 1
    lines = [line for line in res.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "video file not found" in lines[0] and "Traceback" not in res.output


@pytest.mark.network
@pytest.mark.skipif(not os.environ.get("HF_TOKEN"), reason="needs HF_TOKEN (and network) for a live upload")
def test_live_upload_round_trip(hub_folder, monkeypatch):
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    api = HfApi(token=os.environ["HF_TOKEN"])
    owner = os.environ.get("HF_TEST_NAMESPACE") or api.whoami()["name"]
    repo_id = f"{owner}/viddiff-toolkit-test-{uuid.uuid4().hex[:8]}"
    try:
        upload(hub_folder[0], repo_id, private=True)
        files = set(api.list_repo_files(repo_id, repo_type="dataset"))
        assert "README.md" in files and any(f.startswith("data/test-") for f in files)
    finally:
        api.delete_repo(repo_id, repo_type="dataset", missing_ok=True)


def test_statistics_table_lines_subtotals_and_total():
    from curation.publish.stats import dataset_stats

    def row(domain, action, split, gt, fps, n, stamps=None):
        return {
            "domain": domain,
            "action": action,
            "action_name": f"{action} name",
            "split": split,
            "differences_gt": gt,
            "retrieval_frames": stamps,
            "videos": [{"fps_original": fps, "n_frames": n}, {"fps_original": None, "n_frames": n}],
        }

    rows = [
        row("music", "piano_1", "hard", {"0": "a", "1": "c", "2": None}, 29.97, 91, [{"0": [3]}, {"0": []}]),
        row("fitness", "squat_0", "easy", {"0": "b"}, 30.0, 61),
        row("music", "piano_0", "medium", {"0": "a", "1": "b"}, 23.976, 100),
        row("music", "piano_1", "easy", {"0": "a"}, 59.94, 77),
    ]
    actions, domains, total = dataset_stats(rows)
    assert [(r.domain, r.action, r.split) for r in actions] == [
        ("fitness", "squat_0", "easy"),
        ("music", "piano_0", "medium"),
        ("music", "piano_1", "hard"),
    ]  # first split
    piano = actions[2]
    assert (piano.pairs, piano.differences, piano.a, piano.b, piano.c, piano.timestamps, piano.clips) == (
        2,
        3,
        2,
        0,
        1,
        1,
        2,
    )
    assert piano.mean_clip_seconds == (91 / 29.97 + 77 / 59.94) / 2  # a clip without fps is not counted
    assert [(d.domain, d.pairs, d.differences) for d in domains] == [("fitness", 1, 1), ("music", 3, 5)]
    running = 0.0
    for r in rows:  # the total is the running sum in row order, bit for bit
        running += r["videos"][0]["n_frames"] / r["videos"][0]["fps_original"]
    assert (total.pairs, total.differences, total.clips, total.clip_seconds) == (4, 6, 4, running)
    assert total.share("a") == 3 / 6 and dataset_stats([])[2].pairs == 0


def test_source_lines_merge_spellings_of_one_source():
    from curation.publish.stats import source_stats

    rows = [
        {"source_dataset": s, "action": a}
        for s, a in (
            ("my-lab", "x_1"),
            ("HuMMan", "fitness_1"),
            ("humann", "fitness_0"),
            ("HuMMan", "fitness_1"),
        )
    ]
    assert source_stats(rows) == {
        "humman": {"name": "HuMMan", "pairs": 3, "actions": ["fitness_0", "fitness_1"]},
        "mylab": {"name": "my-lab", "pairs": 1, "actions": ["x_1"]},
    }
