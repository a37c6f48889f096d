"""Adversarial cases for curation: `curate build`, `import-release`, `publish` and the taxonomy tools on
foreign folders, concurrent writers, hostile keys, leftovers of killed runs. One test per case."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from click.testing import CliRunner

from curation.build.builder import build
from curation.cli import main as curate
from curation.publish.folder import publish
from curation.samples.synthetic import render_frame
from curation.samples.trees import write_sample_sources
from schemas.dataset_dir import load_dataset
from schemas.outdir import MARKER
from tests.curation.test_release_import import record
from tests.helpers.adversarial import assert_one_line_error, lock_held_elsewhere
from viddiff_runtime import media


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> Path:
    config = write_sample_sources(tmp_path_factory.mktemp("adv-samples") / "sources")
    data = yaml.safe_load(config.read_text())
    data["sources"]["humman"]["on_bad_media"] = "skip"
    data["actions"] = data["actions"][:1]  # one action keeps the builds short
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    return config


@pytest.fixture(scope="module")
def built(sources, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("adv-built") / "ds"
    build(sources, out=out, progress=False)
    return out


def invoke(*args: str):
    return CliRunner().invoke(curate, list(args))


def edited_config(sources: Path, tmp_path: Path, fn) -> Path:
    data = yaml.safe_load(sources.read_text())
    fn(data)
    p = tmp_path / "config.yaml"
    p.write_text(yaml.safe_dump(data, sort_keys=False))
    return p


# ------------------------------------------------------------------------------------ build


def test_build_into_a_folder_of_user_videos_is_refused(sources, tmp_path):
    out = tmp_path / "Videos"
    (out / "videos" / "holiday").mkdir(parents=True)
    (out / "videos" / "holiday" / "a.mp4").write_bytes(b"my film")
    r = invoke("build", str(sources), "--out", str(out))
    assert_one_line_error(r.output, r.exit_code, str(out), f"has no {MARKER}", "refusing to write into it")
    assert (out / "videos" / "holiday" / "a.mp4").read_bytes() == b"my film"
    assert sorted(p.name for p in out.iterdir()) == ["videos"]


def test_rebuild_keeps_a_user_file_in_videos(sources, built, tmp_path):
    out = tmp_path / "ds"
    shutil.copytree(built, out)
    (out / "videos" / "mine").mkdir()
    (out / "videos" / "mine" / "a.mp4").write_bytes(b"not the toolkit's")
    build(sources, out=out, progress=False)
    assert (out / "videos" / "mine" / "a.mp4").read_bytes() == b"not the toolkit's"


def test_second_build_into_the_same_folder_fails_fast(sources, built, tmp_path):
    out = tmp_path / "ds"
    shutil.copytree(built, out)
    before = sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))
    with lock_held_elsewhere(out, "dataset"):
        r = invoke("build", str(sources), "--out", str(out))
    assert_one_line_error(r.output, r.exit_code, "another command is writing into this dataset folder")
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == before


@pytest.mark.parametrize("key", ["..", ".hidden", "../../x", "a/b"])
def test_unsafe_action_key_in_build_config(sources, tmp_path, key):
    cfg = edited_config(sources, tmp_path, lambda d: d["actions"][0].update(key=key))
    r = invoke("build", str(cfg), "--out", str(tmp_path / "out"))
    assert_one_line_error(r.output, r.exit_code, str(cfg), "$.actions[0].key", "does not match")
    assert not (tmp_path / "out").exists()


def test_duplicate_key_in_build_config(sources, tmp_path):
    cfg = tmp_path / "dup.yaml"
    cfg.write_text(sources.read_text() + "\nname: again\n")
    r = invoke("build", str(cfg), "--out", str(tmp_path / "out"))
    assert_one_line_error(r.output, r.exit_code, str(cfg), "duplicate key 'name'")


def test_run_dir_given_as_build_out_is_refused(sources, tmp_path):
    from schemas.outdir import output_folder

    with output_folder(tmp_path / "run", "run"):
        pass
    r = invoke("build", str(sources), "--out", str(tmp_path / "run"))
    assert_one_line_error(r.output, r.exit_code, "this folder is a RUN_DIR, not a dataset folder")


# ------------------------------------------------------------------------------------ import-release


@pytest.fixture()
def video_root(tmp_path) -> Path:
    root = tmp_path / "root"
    media.write_frames((render_frame(i, 96, 64) for i in range(12)), root / "v.mp4", 30)
    return root


GOOD = [{"path": "v.mp4", "fps_original": 30, "frames_trim": [0, 6, None]}] * 2


def write_release(tmp_path: Path, *records: dict) -> Path:
    p = tmp_path / "release.parquet"
    pq.write_table(pa.Table.from_pylist(list(records)), p)
    return p


def test_release_action_with_path_traversal(tmp_path, video_root):
    rel = write_release(tmp_path, record("k0", GOOD, action="../../x"))
    r = invoke("import-release", str(rel), "--out", str(tmp_path / "ds"), "--videos", str(video_root))
    assert_one_line_error(r.output, r.exit_code, "release.parquet:row 1", "$.action", "does not match")
    assert not (tmp_path / "x").exists() and not list((tmp_path / "ds").rglob("*.mp4"))


def test_release_sample_key_dotdot(tmp_path, video_root):
    rel = write_release(tmp_path, record("..", GOOD))
    r = invoke("import-release", str(rel), "--out", str(tmp_path / "ds"), "--videos", str(video_root))
    assert_one_line_error(r.output, r.exit_code, "release.parquet:row 1", "$.sample_key")
    assert not list(tmp_path.rglob("a.mp4"))


def test_release_frames_trim_step_zero(tmp_path, video_root):
    bad = [{"path": "v.mp4", "fps_original": 30, "frames_trim": [0, 10, 0]}] * 2
    rel = write_release(tmp_path, record("k0", bad))
    r = invoke("import-release", str(rel), "--out", str(tmp_path / "ds"), "--videos", str(video_root))
    assert_one_line_error(r.output, r.exit_code, "release.parquet:row 1", "frames_trim[2]")


def test_interrupted_import_leaves_no_temps_after_rerun(tmp_path, video_root):
    rel = write_release(tmp_path, record("k0", GOOD), record("k1", GOOD))
    out = tmp_path / "ds"
    (out / "videos" / "k0").mkdir(parents=True)
    (out / ".import-progress.jsonl").write_text("")
    (out / "videos" / "k0" / ".b.mp4.x1y2z3w4.mp4").write_bytes(b"half an mp4")  # what kill -9 leaves
    r = invoke("import-release", str(rel), "--out", str(out), "--videos", str(video_root))
    assert r.exit_code == 0, r.output
    assert not [p for p in out.rglob(".*.mp4")]
    assert [s["sample_key"] for s in load_dataset(out).samples] == ["k0", "k1"]


# ------------------------------------------------------------------------------------ publish


def test_republish_keeps_a_user_file_in_the_published_folder(tiny_dataset, tmp_path):
    out = tmp_path / "hub"
    publish(tiny_dataset, out, progress=False)
    (out / "NOTES.md").write_text("my notes")
    (out / "data" / "extra.csv").write_text("mine")
    publish(tiny_dataset, out, progress=False)
    assert (out / "NOTES.md").read_text() == "my notes" and (out / "data" / "extra.csv").exists()


def test_republish_still_removes_its_own_stale_files(tiny_dataset, tmp_path):
    out = tmp_path / "hub"
    publish(tiny_dataset, out, progress=False)
    ds = load_dataset(tiny_dataset)
    gone = ds.samples[0]["sample_key"]
    ds.video_path(ds.samples[0], 0).unlink()
    publish(tiny_dataset, out, allow_partial=True, progress=False)
    assert not (out / "videos" / gone).exists()


def test_interrupted_publish_staging_is_cleaned(tiny_dataset, tmp_path):
    out = tmp_path / "hub"
    left = tmp_path / ".hub.staging-ab12cd34"
    (left / "data").mkdir(parents=True)
    (left / "data" / "test-00000-of-00001.parquet").write_bytes(b"partial")
    user = tmp_path / ".hub.staging-notes"  # not a name publish makes: kept
    user.mkdir()
    publish(tiny_dataset, out, progress=False)
    assert not left.exists() and user.exists()


def test_publish_into_a_busy_folder_fails_fast(tiny_dataset, tmp_path):
    out = tmp_path / "hub"
    with lock_held_elsewhere(out, "published"):
        r = invoke("publish", str(tiny_dataset), "--out", str(out))
    assert_one_line_error(r.output, r.exit_code, "another command is writing into this published folder")


def test_publish_into_a_dataset_folder_is_refused(tiny_dataset, tmp_path, built):
    out = tmp_path / "built"
    shutil.copytree(built, out)
    r = invoke("publish", str(tiny_dataset), "--out", str(out))
    assert_one_line_error(r.output, r.exit_code, str(out))
    assert (out / "samples.jsonl").exists()


# ------------------------------------------------------------------------------------ taxonomies


def test_taxonomy_whose_action_differs_from_its_file_name(tiny_dataset):
    path = tiny_dataset / "taxonomies" / "fitness_0.json"
    tax = json.loads(path.read_text())
    tax["action"] = "diving_0"
    path.write_text(json.dumps(tax))
    r = invoke("taxonomy", "validate", str(path))
    assert r.exit_code != 0
    assert (
        "error: $.action: taxonomy is for action 'diving_0' but the file is named for 'fitness_0'" in r.output
    )


def test_csv_with_a_nul_byte_in_a_name(tiny_dataset, tmp_path):
    csv = tmp_path / "t.csv"
    csv.write_text(
        "action,diff_key,name,num_frames,description,query_string\n"
        "fitness_0,7,sq\x00uat,1,the squat is deeper,deeper\n"
    )
    r = invoke("taxonomy", "import", str(csv), str(tiny_dataset))
    assert_one_line_error(r.output, r.exit_code, f"{csv}:line 2: name: name contains the control character")


def test_csv_with_an_unsafe_action(tiny_dataset, tmp_path):
    csv = tmp_path / "t.csv"
    csv.write_text(
        "action,diff_key,name,num_frames,description,query_string\n"
        "../x,7,deeper,1,the squat is deeper,deeper\n"
    )
    r = invoke("taxonomy", "import", str(csv), str(tiny_dataset))
    assert_one_line_error(r.output, r.exit_code, "unsafe action '../x'")


def test_csv_with_a_superscript_diff_key(tiny_dataset, tmp_path):
    csv = tmp_path / "t.csv"
    csv.write_text(
        "action,diff_key,name,num_frames,description,query_string\n"
        "fitness_0,²,deeper,1,the squat is deeper,deeper\n",
        encoding="utf-8",
    )
    r = invoke("taxonomy", "import", str(csv), str(tiny_dataset))
    assert_one_line_error(r.output, r.exit_code, "diff_key '²' is not a non-negative integer")


def test_file_size_limit_during_publish_leaves_the_published_folder_as_it_was(tiny_dataset, tmp_path):
    from tests.helpers.adversarial import cli

    out = tmp_path / "hub"
    publish(tiny_dataset, out, progress=False)
    before = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    r = cli(
        ["-m", "curation.cli", "publish", str(tiny_dataset), "--out", str(out), "--videos", "embed"],
        fsize=20000,
        extra_env={"PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert_one_line_error(
        r.stderr, r.returncode, f"{out}/data/test-00000-of-00001.parquet", "file too large (file-size limit)"
    )
    assert {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert not list(tmp_path.glob(".hub.staging-*"))


def test_file_size_limit_during_build_names_the_clip_not_the_source(sources, tmp_path):
    from tests.helpers.adversarial import cli

    out = tmp_path / "ds"
    r = cli(
        ["-m", "curation.cli", "build", str(sources), "--out", str(out)],
        fsize=3000,
        extra_env={"PYTHONDONTWRITEBYTECODE": "1"},
    )
    line = assert_one_line_error(r.stderr, r.returncode, f"{out}/videos/", "file too large (file-size limit)")
    assert str(sources.parent) not in line
    assert not list(out.rglob("*.mp4"))  # no clip, whole or partial, and no temporary


def test_second_import_into_the_same_folder_fails_fast(tmp_path, video_root):
    rel = write_release(tmp_path, record("k0", GOOD))
    out = tmp_path / "ds"
    with lock_held_elsewhere(out, "dataset"):
        r = invoke("import-release", str(rel), "--out", str(out), "--videos", str(video_root))
    assert_one_line_error(r.output, r.exit_code, "another command is writing into this dataset folder")
    assert not list(out.rglob("*.mp4"))


def test_build_config_inside_its_own_output_folder_is_allowed(sources, tmp_path):
    out = tmp_path / "ds"
    out.mkdir()
    cfg = out / "config.yaml"
    data = yaml.safe_load(sources.read_text())
    for src in data["sources"].values():
        src["root"] = str((sources.parent / src["root"]).resolve())
    cfg.write_text(yaml.safe_dump(data, sort_keys=False))
    r = invoke("build", str(cfg), "--out", str(out))
    assert r.exit_code == 0, r.output
    assert cfg.exists() and (out / "samples.jsonl").exists()
