"""The synthetic sample trees: a valid config using everything, determinism, no half trees, barcodes that
prove which source frames a built clip holds."""

from __future__ import annotations

from pathlib import Path

import pytest

from curation.samples.synthetic import read_barcode
from curation.samples.trees import write_sample_sources
from curation.sources import get_adapter
from schemas import validate
from schemas.dataset_dir import load_dataset, sha256_file
from schemas.io import read_yaml
from viddiff_runtime import media

from .helpers import barcodes_of_files, barcodes_of_video


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): sha256_file(p) for p in sorted(root.rglob("*")) if p.is_file()}


def test_config_exercises_every_source_trim_and_strategy(sample_root):
    path = sample_root / "config.yaml"
    config = read_yaml(path)
    assert validate("build_config", config) == []
    assert set(config["sources"]) == {"humman", "egoexo4d", "finediving", "jigsaws"}
    for block in config["sources"].values():
        assert not Path(block["root"]).is_absolute() and (sample_root / block["root"]).is_dir()
    actions = config["actions"]
    assert {a["source"] for a in actions} == set(config["sources"])
    assert {a["pairs"]["strategy"] for a in actions} == {"random", "skill_contrast", "score_gap"}
    assert {a["trim"]["by"] for a in actions} == {"clip", "subactions"}
    assert any(a.get("fps") for a in actions)
    # every action's select finds at least 3 clips of distinct participants (or without participant ids)
    for i, a in enumerate(actions):
        adapter = get_adapter(a["source"])
        clips = adapter.scan(
            sample_root / a["source"],
            {k: v for k, v in config["sources"][a["source"]].items() if k != "root"},
        ).clips
        chosen = adapter.select(clips, a["select"], where=f"actions[{i}]")
        assert len(chosen) >= 3, a["key"]
        people = [c.participant for c in chosen if c.participant is not None]
        assert len(set(people)) == len(people)


def test_marked_synthetic(sample_root):
    for folder in [sample_root, *(sample_root / n for n in ("humman", "egoexo4d", "finediving", "jigsaws"))]:
        assert "SYNTHETIC" in (folder / "README.txt").read_text()
    assert "SYNTHETIC" in (sample_root / "config.yaml").read_text()


def test_image_folders_carry_positions_and_videos_indices(sample_root):
    for folder in [
        next((sample_root / "humman").rglob("kinect_000")),
        sample_root / "finediving" / "FINADiving_MTL_256s" / "01" / "3",
    ]:
        files = media.list_frame_files(folder)
        assert int(files[1].stem) > 1  # real file numbers, not positions
        assert barcodes_of_files(files) == list(range(len(files)))
    for video in [
        next((sample_root / "egoexo4d").rglob("gp01.mp4")),
        next((sample_root / "jigsaws").rglob("*_capture2.avi")),
    ]:
        n = media.probe(video).n_frames
        assert barcodes_of_video(video) == list(range(n))


def test_deterministic_and_seeded(sample_root, tmp_path):
    again = write_sample_sources(tmp_path / "same", seed=0).parent
    want = _digest(sample_root)
    got = _digest(again)
    assert got == want
    other = write_sample_sources(tmp_path / "other", seed=1).parent
    pkl = "finediving/Annotations/FineDiving_coarse_annotation.pkl"
    assert _digest(other)[pkl] != want[pkl]


def test_rerun_keeps_files_and_interruption_leaves_no_half_tree(tmp_path, monkeypatch):
    out = tmp_path / "s"

    def boom(root, rng):
        (root / "partial.txt").write_text("half")
        raise KeyboardInterrupt

    from curation.sources.finediving import FineDivingAdapter

    monkeypatch.setattr(FineDivingAdapter, "write_sample_tree", staticmethod(boom))
    with pytest.raises(KeyboardInterrupt):
        write_sample_sources(out)
    assert sorted(p.name for p in out.iterdir()) == ["egoexo4d", "humman"]  # no .tmp, no config, no stamp
    monkeypatch.undo()
    config = write_sample_sources(out)
    stamp = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    assert write_sample_sources(out) == config
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == stamp


def test_build_of_the_sample_config_holds_the_source_frames(sample_root, tmp_path):
    """End to end with `curate build`: each stored clip shows exactly the source frames its row names."""
    from curation.build.builder import build

    build(sample_root / "config.yaml", out=tmp_path / "ds", workers=2)
    ds = load_dataset(tmp_path / "ds")
    assert {s["action"] for s in ds.samples} == {
        a["key"] for a in read_yaml(sample_root / "config.yaml")["actions"]
    }
    for sample in ds.samples:
        for i, video in enumerate(sample["videos"]):
            src = video["source"]
            start, end = src["frames"]
            want = media.resample_indices(
                end - start, media.as_fraction(src["fps"]), media.as_fraction(video["fps_original"]), start
            )
            got = [read_barcode(f) for f in media.decode(ds.video_path(sample, i)).frames]
            assert got == want, (sample["sample_key"], i)


def test_every_left_out_or_changed_item_carries_its_reason_as_data(sample_root):
    """Built-in adapters report skips and adjustments as Skip records, so counts never parse message text."""
    import yaml

    from curation.sources import Skip, get_adapter, sources
    from curation.sources.records import reason_of

    config = yaml.safe_load((sample_root / "config.yaml").read_text())
    seen = 0
    for name in sources():
        opts = dict(config["sources"][name], root=str(sample_root / name), on_bad_media="skip")
        result = get_adapter(name).scan(sample_root / name, opts)
        for item in result.skipped + result.adjusted:
            assert isinstance(item, Skip), f"{name}: {item!r} is a plain pair"
            what, why = item
            assert why.startswith(item.reason), (name, item.reason, why)
            seen += 1
        assert sum(result.dropped().values()) == len(result.skipped)
    assert seen >= 8, "the sample trees carry skips and clamps of every source"
    # a plugin's plain (what, why) pair still counts, under the text before its first ': ' or ' ('
    assert reason_of("frame folder missing: /x/01/1") == "frame folder missing"
