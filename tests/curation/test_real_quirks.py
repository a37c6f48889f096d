"""`curate build` on trees laid out like the real releases, with their real quirks (issue 10, issue 13 item 5).

Each test names the quirk it reproduces; the trees come from tests/curation/real_quirks.py.
"""

from __future__ import annotations

import json
import shutil
from fractions import Fraction
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from curation.build.builder import build
from curation.cli import main as curate
from curation.publish.card import CardInputs, render_card
from curation.samples.synthetic import read_barcode
from curation.sources import get_adapter
from curation.sources.finediving import parse_height
from schemas import check
from schemas.dataset_dir import load_dataset
from schemas.errors import ToolkitError
from schemas.io import read_json, write_json
from viddiff_runtime import media

from .real_quirks import JIGSAWS_RATE, finediving_tree, jigsaws_tree

SURGERY = {"name": "suturing", "description": "suturing", "domain": "surgery", "source": "jigsaws"}


@pytest.fixture(scope="module")
def jigsaws(tmp_path_factory) -> Path:
    return jigsaws_tree(tmp_path_factory.mktemp("jigsaws_real"))


@pytest.fixture(scope="module")
def finediving(tmp_path_factory) -> Path:
    return finediving_tree(tmp_path_factory.mktemp("finediving_real"))


def write_config(folder: Path, sources: dict, actions: list[dict]) -> Path:
    path = folder / "config.yaml"
    path.write_text(
        yaml.safe_dump(
            {"name": "real-quirks", "version": "1", "seed": 0, "sources": sources, "actions": actions},
            sort_keys=False,
        )
    )
    return path


def barcodes(path: Path) -> list[int]:
    return [read_barcode(f) for f in media.decode(path).frames]


def jigsaws_config(tmp_path: Path, root: Path, **source) -> Path:
    return write_config(
        tmp_path,
        {"jigsaws": {"root": str(root), **source}},
        [
            # the README's surgery example: no fps, so clips keep the source's own rate
            {
                "key": "surgery_0",
                **SURGERY,
                "select": {"task": "Suturing", "capture": "capture1"},
                "trim": {"by": "clip"},
                "pairs": {"count": 2, "strategy": "random"},
            },
            {
                "key": "surgery_1",
                **SURGERY,
                "select": {"task": "Suturing", "capture": "capture1"},
                "trim": {"by": "subactions", "first": "G1", "last": "G11"},
                "fps": 10,
                "pairs": {"count": 1, "strategy": "random"},
            },
        ],
    )


# ------------------------------------------------------------------------------------------ JIGSAWS


@pytest.fixture(scope="module")
def jigsaws_built(jigsaws, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("jigsaws_build")
    out = folder / "dataset"
    build(jigsaws_config(folder, jigsaws), out=out, workers=2, progress=False)
    return out


def test_dx50_avi_at_its_own_rate_10000000_333333_builds(jigsaws, jigsaws_built):
    """Quirk: MPEG-4 part 2 (DX50) AVIs whose stream rate is 10000000/333333; a build at the source rate."""
    src = media.probe(jigsaws / "Suturing" / "video" / "Suturing_B001_capture1.avi")
    assert (src.codec, src.fps) == ("mpeg4", JIGSAWS_RATE)
    ds = load_dataset(jigsaws_built)
    at_source = [s for s in ds.samples if s["action"] == "surgery_0"]
    assert len(at_source) == 2 and ds.meta["actions"]["surgery_0"]["fps"] == float(JIGSAWS_RATE)
    for s in at_source:
        for v in s["videos"]:
            info = media.probe(ds.root / v["path"])
            assert info.fps == JIGSAWS_RATE  # exact, not 30 and not 999991/33333
            assert v["fps_original"] == float(JIGSAWS_RATE) and v["fps_original"] != 30
            start, end = v["source"]["frames"]
            assert barcodes(ds.root / v["path"]) == list(range(start, end))


def test_build_at_a_chosen_fps_from_the_native_rate(jigsaws_built):
    """Quirk: the same AVIs resampled to fps 10 keep source frame start + floor(k * src_fps / fps)."""
    ds = load_dataset(jigsaws_built)
    (s,) = [s for s in ds.samples if s["action"] == "surgery_1"]
    for v in s["videos"]:
        start, end = v["source"]["frames"]
        assert media.probe(ds.root / v["path"]).fps == 10 and v["fps_original"] == 10
        expected = media.resample_indices(end - start, JIGSAWS_RATE, Fraction(10), start=start)
        assert barcodes(ds.root / v["path"]) == expected


def test_fps_30_from_the_30_00003_source_keeps_every_frame(jigsaws, tmp_path):
    """Asking for 30 fps from 10000000/333333 is a (tiny) downsample that keeps frame k as frame k."""
    src = jigsaws / "Suturing" / "video" / "Suturing_B001_capture1.avi"
    info = media.trim(src, tmp_path / "c.mp4", 3, 33, fps=30)
    assert info.fps == 30 and info.n_frames == 30
    assert barcodes(tmp_path / "c.mp4") == list(range(3, 33))


def test_verify_still_catches_a_wrong_rate_or_count_with_enough_digits(jigsaws_built):
    clip = next((jigsaws_built / "videos").glob("surgery_0_*/a.mp4"))
    n = media.count_frames(clip)
    with pytest.raises(ToolkitError) as e:
        media.verify_clip(clip, n, Fraction(30))
    assert "wrote 10000000/333333 (30.00003) fps, expected 30" in str(e.value)
    with pytest.raises(ToolkitError) as e:
        media.verify_clip(clip, n, Fraction(30000, 1001))
    assert "expected 30000/1001 (29.97003)" in str(e.value)
    with pytest.raises(ToolkitError, match=f"wrote {n} frames, expected {n + 1}"):
        media.verify_clip(clip, n + 1, JIGSAWS_RATE)


def test_a_320x240_capture_paired_with_a_640x480_one(jigsaws, jigsaws_built, tmp_path):
    """Quirk: capture1 of G001 is 320x240, the others 640x480: by default both clips get the smaller size."""
    ds = load_dataset(jigsaws_built)
    mixed = [
        s for s in ds.samples if {tuple(v["source"]["size"]) for v in s["videos"]} == {(320, 240), (640, 480)}
    ]
    assert mixed, "no pair mixes the two sizes"
    for s in ds.samples:
        sizes = {
            (media.probe(ds.root / v["path"]).width, media.probe(ds.root / v["path"]).height)
            for v in s["videos"]
        }
        assert len(sizes) == 1, s["sample_key"]
    for s in mixed:
        for v in s["videos"]:
            assert v["source"]["pair_size"] == "smaller"
            assert v["source"]["resized_to"] == ([320, 240] if v["source"]["size"] == [640, 480] else None)
            assert (media.probe(ds.root / v["path"]).width, media.probe(ds.root / v["path"]).height) == (
                320,
                240,
            )
    assert ds.meta["actions"]["surgery_0"]["pair_size"] == "smaller"
    # pair_size: keep leaves each clip its own size
    cfg = yaml.safe_load(jigsaws_config(tmp_path, jigsaws).read_text())
    for a in cfg["actions"]:
        a["pair_size"] = "keep"
        a["pairs"]["count"] = 4
    path = tmp_path / "keep.yaml"
    path.write_text(yaml.safe_dump(cfg))
    build(path, out=tmp_path / "keep", progress=False)
    kept = load_dataset(tmp_path / "keep")
    assert any(
        len({media.probe(kept.root / v["path"]).width for v in s["videos"]}) == 2 for s in kept.samples
    )


def test_missing_capture_and_transcriptions_without_g1_are_counted(jigsaws, jigsaws_built):
    """Quirks: a trial with one capture (E001); transcriptions without G1 (G001, C002) under trim first G1."""
    scan = get_adapter("jigsaws").scan(jigsaws, {})
    assert scan.dropped() == {"missing capture": 1, "no video files": 1}
    assert any(what == "Suturing_E001.capture2" for what, _ in scan.skipped)
    ds = load_dataset(jigsaws_built)
    assert ds.meta["sources"]["jigsaws"]["dropped"] == {"missing capture": 1, "no video files": 1}
    assert ds.meta["actions"]["surgery_1"]["dropped"] == {"no sub-action labelled 'G1'": 2}
    assert ds.meta["actions"]["surgery_1"]["clips_selected"] == 5
    check("dataset", ds.meta, file="dataset.json")
    result = CliRunner().invoke(curate, ["sources", "scan", "jigsaws", str(jigsaws)])
    assert result.exit_code == 0, result.output
    assert "dropped per reason: missing capture 1, no video files 1" in result.output
    as_json = json.loads(
        CliRunner().invoke(curate, ["sources", "scan", "jigsaws", str(jigsaws), "--json"]).stdout
    )
    assert as_json["dropped"] == {"missing capture": 1, "no video files": 1}


def test_build_summary_prints_drops_and_assumptions(jigsaws, tmp_path):
    result = CliRunner().invoke(
        curate, ["build", str(jigsaws_config(tmp_path, jigsaws)), "--out", str(tmp_path / "ds")]
    )
    assert result.exit_code == 0, result.output
    assert "jigsaws: 9 clip(s); dropped: missing capture 1, no video files 1" in result.output
    assert "surgery_1: 5 clip(s) selected; dropped: no sub-action labelled 'G1' 2" in result.output
    assert (
        "warning: assumption: jigsaws: transcription frames read as 1-based with inclusive ends"
        in result.output
    )


def test_truncated_avi_shorter_than_its_transcription(jigsaws, tmp_path):
    """Quirk (issue 13 item 5): a JIGSAWS AVI cut to a third; its transcription is longer than the video."""
    root = tmp_path / "jigsaws"
    shutil.copytree(jigsaws, root)
    victim = root / "Suturing" / "video" / "Suturing_D001_capture1.avi"
    full = media.probe(victim).n_frames
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 3])
    short = media.probe(victim).n_frames
    assert short < full // 2
    out = tmp_path / "out"
    result = CliRunner().invoke(curate, ["build", str(jigsaws_config(tmp_path, root)), "--out", str(out)])
    assert result.exit_code != 0 and "Traceback" not in result.output
    (line,) = [l for l in result.output.splitlines() if l.strip()]
    assert line.startswith(f"error: {victim}: sources.jigsaws: media shorter than its annotations"), line
    assert f"the video has {short} frames" in line and "Suturing_D001.txt runs to frame" in line
    assert not out.exists()
    # on_bad_media: skip leaves it out and counts it
    build(jigsaws_config(tmp_path, root, on_bad_media="skip"), out=out, progress=False)
    meta = read_json(out / "dataset.json")
    assert meta["sources"]["jigsaws"]["dropped"]["media shorter than its annotations"] == 1
    assert all(
        "D001_capture1" not in v["source"]["path"] for s in load_dataset(out).samples for v in s["videos"]
    )


def test_truncated_mp4_stops_the_build_before_the_first_clip(tmp_path):
    """Quirk (issue 13 item 5): a faststart mp4 cut short probes fine (its header promises every frame)."""
    from curation.samples.trees import write_sample_sources

    config = write_sample_sources(tmp_path / "src")
    data = yaml.safe_load(config.read_text())
    data["actions"] = [a for a in data["actions"] if a["source"] in ("egoexo4d", "jigsaws")]
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    # the best exo view of a take that sorts after others (clips of earlier pairs would be written first)
    victim = (
        tmp_path
        / "src"
        / "egoexo4d"
        / "takes"
        / "upenn_0726_Basketball_1_3"
        / "frame_aligned_videos"
        / "downscaled"
        / "448"
        / "gp01.mp4"
    )
    n = media.probe(victim).n_frames
    victim.write_bytes(victim.read_bytes()[: int(victim.stat().st_size * 0.6)])
    assert media.probe(victim).n_frames == n  # the header still promises all frames
    out = tmp_path / "out"
    result = CliRunner().invoke(curate, ["build", str(config), "--out", str(out)])
    assert result.exit_code != 0, result.output
    (line,) = [l for l in result.output.splitlines() if l.strip()]
    assert line.startswith(f"error: {victim}: ") and "sources.egoexo4d" in line, line
    assert "decodes" in line or "corrupt" in line
    assert not out.exists()  # nothing written: no clip, no folder
    data["sources"]["egoexo4d"]["on_bad_media"] = "skip"
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    build(config, out=out, progress=False)
    meta = read_json(out / "dataset.json")
    assert meta["sources"]["egoexo4d"]["dropped"] == {"not downloaded": 1, "unreadable video": 1}
    assert all("gp01" not in v["source"]["path"] for s in load_dataset(out).samples for v in s["videos"])


# --------------------------------------------------------------------------------------- FineDiving


@pytest.mark.parametrize(
    "name,height",
    [
        ("FINADivingWorldCup2021_Men10mSynchronised_final_r3", "10m"),
        ("FINADivingWorldCup2021_Women3mSynchronised_final_r1", "3m"),
        ("FullMenSynchronised10mPlatform_Tokyo2020Replays_2", "10m"),
        ("FINADivingWorldCup2021_Men10m_final_r1", "10m"),
        *((f"{k:02d}", None) for k in (1, 9, 26)),
    ],
)
def test_heights_from_every_real_name_form(name, height):
    """Quirk: 44 real source names contain 10mSynchronised / 3mSynchronised; 01..26 carry no height."""
    assert parse_height(name) == height


def test_trimmed_video_frames_layout_found_without_options(finediving):
    """Quirk: frames under Trimmed_Video_Frames/FINADiving_MTL_256s/<source>/<instance>/."""
    scan = get_adapter("finediving").scan(finediving, {})
    assert len(scan.clips) == 8 and not scan.skipped
    assert all("/Trimmed_Video_Frames/FINADiving_MTL_256s/" in c.media_path for c in scan.clips)
    assert scan.facts == {"clips without a height": 2}
    sync10 = get_adapter("finediving").select(scan.clips, {"height": "10m", "synchronised": True}, where="a")
    assert {c.clip_id for c in sync10} == {
        "FINADivingWorldCup2021_Men10mSynchronised_final_r3.4",
        "FINADivingWorldCup2021_Men10mSynchronised_final_r3.9",
    }
    result = CliRunner().invoke(curate, ["sources", "scan", "finediving", str(finediving)])
    assert "clips without a height: 2" in result.output
    assert "assumption: finediving: frame folders assumed to play at 12 fps (the default)" in result.output


def test_errors_name_the_path_actually_looked_for(finediving, tmp_path):
    root = tmp_path / "fd"
    shutil.copytree(finediving, root)
    frames = root / "Trimmed_Video_Frames" / "FINADiving_MTL_256s"
    shutil.rmtree(frames / "01" / "1")
    scan = get_adapter("finediving").scan(root, {})
    assert ("01.1", f"frame folder missing: {frames / '01' / '1'}") in scan.skipped
    (root / "Trimmed_Video_Frames").rename(root / "elsewhere")
    with pytest.raises(ToolkitError) as e:
        get_adapter("finediving").scan(root, {})
    msg = str(e.value)
    assert e.value.key == "sources.finediving.frames_dir" and "none of the 8 annotated frame folders" in msg
    assert str(root / "Trimmed_Video_Frames" / "FINADiving_MTL_256s") in msg and str(root / "01" / "1") in msg


def test_build_counts_dives_without_a_height(finediving, tmp_path):
    cfg = write_config(
        tmp_path,
        {"finediving": {"root": str(finediving)}},
        [
            {
                "key": "diving_0",
                "name": "107B 10m",
                "description": "107B from 10m",
                "domain": "diving",
                "source": "finediving",
                "select": {"action_type": "107B", "height": "10m"},
                "fps": 6,
                "trim": {"by": "subactions", "first": "3.5 Soms.Pike", "last": "Entry"},
                "pairs": {"count": 3, "strategy": "score_gap"},
            }
        ],
    )
    result = CliRunner().invoke(curate, ["build", str(cfg), "--out", str(tmp_path / "ds")])
    assert result.exit_code == 0, result.output
    meta = read_json(tmp_path / "ds" / "dataset.json")
    # 15 real dives do not end with Entry: left out and counted; a repeated sub-action spans first..last
    no_entry = "no sub-action labelled 'Entry' after '3.5 Soms.Pike'"
    assert meta["actions"]["diving_0"]["dropped"] == {"no height": 2, no_entry: 1}
    assert meta["actions"]["diving_0"]["clips_selected"] == 5
    assert meta["sources"]["finediving"]["facts"] == {"clips without a height": 2}
    assert f"diving_0: 5 clip(s) selected; dropped: no height 2, {no_entry} 1" in result.output
    assert "finediving: 8 clip(s); clips without a height 2" in result.output
    rows = load_dataset(tmp_path / "ds").samples
    repeat = [v for s in rows for v in s["videos"] if v["source"]["clip_id"].endswith("final_r1.12")]
    assert repeat and repeat[0]["source"]["frames"] == [5, 5 + 6 + 2 + 5 + 4]
    assert any("FineDiving states no frame rate" in a for a in meta["assumptions"])
    check("dataset", meta, file="dataset.json")


# ---------------------------------------------------------------------------------------- Ego-Exo4D


def test_egoexo_cameras_classified_from_capture_metadata(tmp_path):
    """Quirk: roles come from capture.cameras[].is_ego (Ego-Exo4D metadata docs), not from names; an
    egocentric GoPro exists; a task_end_sec past the video is clamped and counted."""
    from curation.samples.trees import write_sample_sources

    write_sample_sources(tmp_path / "src")
    root = tmp_path / "src" / "egoexo4d"
    takes = read_json(root / "takes.json")
    take = next(t for t in takes if t["take_name"] == "unc_basketball_03-31-23_02_8")
    for cam in take["capture"]["cameras"]:
        if cam["cam_id"] == "cam02":
            cam["is_ego"] = True  # "there are some egocentric GoPros"
    take["task_end_sec"] = 99.0  # beyond the take's video
    nameless = next(t for t in takes if t["take_name"] == "upenn_0726_Basketball_1_3")
    del nameless["capture"]
    write_json(root / "takes.json", takes)
    write_json(
        root / "captures.json",
        [c for c in read_json(root / "captures.json") if c["capture_uid"] != nameless["capture_uid"]],
    )
    adapter = get_adapter("egoexo4d")
    scan = adapter.scan(root, {})
    by_id = {c.clip_id: c for c in scan.clips}
    gopro = by_id["unc_basketball_03-31-23_02_8.cam02"]
    assert gopro.meta["is_ego"] and gopro.view == "cam02" and gopro.meta["camera_role_from"] == "metadata"
    ego = {c.clip_id for c in adapter.select(scan.clips, {"view": "ego"}, where="a")}
    exo = {c.clip_id for c in adapter.select(scan.clips, {"view": "exo"}, where="a")}
    assert ego == {"unc_basketball_03-31-23_02_8.aria01", "unc_basketball_03-31-23_02_8.cam02"}
    assert not ego & exo and "unc_basketball_03-31-23_02_9.cam01" in exo  # take 9: roles from captures.json
    assert by_id["unc_basketball_03-31-23_02_9.cam01"].meta["camera_role_from"] == "metadata"
    assert {by_id[f"upenn_0726_Basketball_1_3.{c}"].meta["camera_role_from"] for c in ("gp01", "gp02")} == {
        "name"
    }
    assert scan.facts == {"cameras classified by name (no capture camera metadata)": 2}
    assert any("role was taken from the name" in a for a in scan.assumptions)
    assert scan.adjusted_counts() == {"clamped end": 3}
    assert (
        by_id["unc_basketball_03-31-23_02_8.cam01"].segment[1]
        == by_id["unc_basketball_03-31-23_02_8.cam01"].n_frames
    )


# -------------------------------------------------------------------------------------- assumptions


def test_assumptions_are_warned_stored_and_carded(tmp_path):
    """FineDiving fps, HuMMan Recon fps and the JIGSAWS transcription base reach the CLI, dataset.json, card."""
    from curation.samples.trees import write_sample_sources

    config = write_sample_sources(tmp_path / "src")
    result = CliRunner().invoke(curate, ["build", str(config), "--out", str(tmp_path / "ds")])
    assert result.exit_code == 0, result.output
    warned = [l for l in result.output.splitlines() if l.startswith("warning: assumption: ")]
    assert {l.split(": ")[2] for l in warned} >= {"finediving", "humman", "jigsaws"}
    ds = load_dataset(tmp_path / "ds")
    assert [l.removeprefix("warning: assumption: ") for l in warned] == ds.meta["assumptions"]
    assert ds.meta["sources"]["humman"]["assumptions"][0].startswith(
        "humman: Recon image folders assumed to play at 5"
    )
    card = render_card(ds.samples, CardInputs(meta=ds.meta, dataset_root=ds.root))
    assert "### Source assumptions and dropped clips" in card
    for line in ds.meta["assumptions"]:
        assert f"- Assumption: {line}" in card
    assert "`jigsaws` dropped by the scan: missing capture: 3, no video files: 1" in card
    assert "`finediving` clips without a height: 1" in card
    assert "`diving_0` clips left out by its select or trim: no height: 1" in card


def test_egoexo_bad_is_ego_names_the_file_and_key(tmp_path):
    from curation.samples.trees import write_sample_sources

    write_sample_sources(tmp_path / "src")
    root = tmp_path / "src" / "egoexo4d"
    captures = read_json(root / "captures.json")
    captures[1]["cameras"][0]["is_ego"] = "maybe"  # take 1's cameras live only in captures.json
    write_json(root / "captures.json", captures)
    with pytest.raises(ToolkitError) as e:
        get_adapter("egoexo4d").scan(root, {})
    assert e.value.file == str(root / "captures.json") and e.value.key.endswith("cameras[0].is_ego")
    assert "'maybe'" in str(e.value)
