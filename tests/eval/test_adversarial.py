"""Adversarial cases for `viddiff eval`: missing rows, hostile prediction keys, a folder where a file is
expected, out-of-range options, annotator frames past the clip, disk refusals. One test per case."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

from click.testing import CliRunner

from schemas.dataset_dir import load_dataset
from schemas.io import read_json
from tests.helpers.adversarial import assert_one_line_error, cli
from viddiff_method.cli import main


def predictions(ds: Path, tmp_path: Path, **override) -> Path:
    d = load_dataset(ds)
    preds = {
        s["sample_key"]: {
            k: {"description": None, "prediction": "a"} for k, v in (s["differences_gt"] or {}).items() if v
        }
        for s in d.samples
    }
    preds.update(override)
    p = tmp_path / "preds.json"
    p.write_text(json.dumps(preds))
    return p


def invoke(*args: str):
    return CliRunner().invoke(main, ["eval", *args])


def test_closed_on_a_dataset_without_samples_jsonl(tiny_dataset, tmp_path):
    preds = predictions(tiny_dataset, tmp_path)
    (tiny_dataset / "samples.jsonl").unlink()
    r = invoke("closed", str(tiny_dataset), str(preds), "--out", str(tmp_path / "ev"))
    assert_one_line_error(
        r.output, r.exit_code, "samples.jsonl: no samples.jsonl: the dataset has no pairs to score"
    )
    assert not (tmp_path / "ev" / "metrics.json").exists()


def test_superscript_difference_key_in_predictions(tiny_dataset, tmp_path):
    preds = predictions(tiny_dataset, tmp_path, fitness_0_0={"²": "a"})
    r = invoke("closed", str(tiny_dataset), str(preds), "--out", str(tmp_path / "ev"))
    assert_one_line_error(
        r.output, r.exit_code, str(preds), "difference key '²' is not an ASCII decimal integer"
    )


def test_unsafe_sample_key_in_predictions(tiny_dataset, tmp_path):
    preds = predictions(tiny_dataset, tmp_path, **{"../../etc": {"0": "a"}})
    r = invoke("closed", str(tiny_dataset), str(preds), "--out", str(tmp_path / "ev"))
    assert_one_line_error(r.output, r.exit_code, str(preds), "does not match")


def test_directory_given_as_predictions(tiny_dataset, tmp_path):
    r = invoke("closed", str(tiny_dataset), str(tmp_path), "--out", str(tmp_path / "ev"))
    assert_one_line_error(r.output, r.exit_code, f"{tmp_path}: is a folder, expected a JSON file")


def test_local_judge_threshold_out_of_range(tiny_dataset, tmp_path):
    preds = predictions(tiny_dataset, tmp_path)
    r = invoke(
        "open",
        str(tiny_dataset),
        str(preds),
        "--out",
        str(tmp_path / "ev"),
        "--judge",
        "local",
        "--threshold",
        "7",
    )
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert "Invalid value for '--threshold': 7.0 is not in the range -1.0<=x<=1.0" in r.output


def test_annotator_frames_past_the_clip_are_reported_not_scored(tiny_dataset, tmp_path):
    d = load_dataset(tiny_dataset)
    row = d.samples[0]
    n = row["videos"][0]["n_frames"]
    ann = {row["sample_key"]: {"ann1": [{"peak": [3]}, {}], "ann2": [{"peak": [n + 50]}, {}]}}
    ann_path = tmp_path / "annotators.json"
    ann_path.write_text(json.dumps(ann))
    loc = tmp_path / "loc.json"
    loc.write_text(json.dumps({s["sample_key"]: [{"peak": [1]}, {"peak": [1]}] for s in d.samples}))
    out = tmp_path / "ev"
    r = invoke("localization", str(tiny_dataset), str(loc), "--out", str(out), "--annotators", str(ann_path))
    assert r.exit_code == 0, r.output
    assert (
        f"1 annotator keypoint(s) not scored: frame past the end of the clip (first: {row['sample_key']} "
        f"video a 'peak' by ann2: frame {n + 50} of {n})" in r.output
    )
    m = read_json(out / "metrics.json")
    assert m["human_not_scored"]["count"] == 1
    assert m["human_vs_human"] is None  # the only pair had a frame past the clip: nothing scored
    from schemas.dataset_dir import sha256_file

    assert m["inputs"]["annotators_sha256"] == sha256_file(ann_path)  # the result names what it was made from


def test_disk_full_while_writing_results(tiny_dataset, tmp_path, monkeypatch):
    preds = predictions(tiny_dataset, tmp_path)

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    out = tmp_path / "ev"
    r = invoke("closed", str(tiny_dataset), str(preds), "--out", str(out))
    assert_one_line_error(r.output, r.exit_code, str(out), "cannot write: no space left on the device")
    assert not [p for p in out.rglob("*") if p.is_file()]


def test_file_size_limit_while_writing_results(tiny_dataset, tmp_path):
    preds = predictions(tiny_dataset, tmp_path)
    out = tmp_path / "ev"
    r = cli(
        ["-m", "viddiff_method.cli", "eval", "closed", str(tiny_dataset), str(preds), "--out", str(out)],
        fsize=1024,
        extra_env={"PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert_one_line_error(r.stderr, r.returncode, str(out), "file too large (file-size limit)")
    assert not (out / "metrics.json").exists()
    assert not [p for p in out.rglob(".*") if p.is_file()]  # no temporary left behind


def test_echoed_api_key_never_reaches_screen_or_files_in_open_eval(tiny_dataset, tmp_path, monkeypatch):
    from tests.helpers.openai_server import FakeOpenAI

    canary = "sk-" + "canaryEVAL0123456789abcdef"  # built at run time: no secret-shaped literal in the repo
    monkeypatch.setenv("OPENAI_API_KEY", canary)
    d = load_dataset(tiny_dataset)
    preds = tmp_path / "open.json"
    preds.write_text(
        json.dumps(
            {
                s["sample_key"]: {"0": {"description": "the squat is deeper", "prediction": "a"}}
                for s in d.samples
            }
        )
    )
    out = tmp_path / "ev"
    with FakeOpenAI() as srv:
        srv.add(lambda body: True, ("status", 400, f"Incorrect API key provided: Bearer {canary}"))
        r = invoke("open", str(tiny_dataset), str(preds), "--out", str(out), "--base-url", srv.base_url)
    assert r.exit_code != 0 and "Traceback" not in r.output
    assert canary not in r.output
    for p in out.rglob("*") if out.exists() else []:
        if p.is_file():
            assert canary.encode() not in p.read_bytes(), p
