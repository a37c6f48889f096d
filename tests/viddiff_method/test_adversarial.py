"""Adversarial cases for `viddiff run` and its config: stale results, bad values, a busy or foreign
RUN_DIR, a damaged CLIP cache, silent skips, secrets echoed by the endpoint. One test per case."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from schemas.dataset_dir import load_dataset, save_dataset
from schemas.io import read_json
from schemas.outdir import MARKER
from tests.helpers.adversarial import assert_one_line_error, lock_held_elsewhere
from tests.helpers.openai_server import FakeOpenAI
from tests.helpers.viddiff_cli import invoke_run
from viddiff_method.backends.clip_cache import ClipCache
from viddiff_method.config import RunConfig

CANARY = "sk-" + "canary0123456789abcdefCANARY"  # built at run time: no secret-shaped literal in the repo


@pytest.fixture()
def srv():
    with FakeOpenAI() as s:
        s.add("Statement", {"answer_detailed": "looked", "answer": "a"})
        yield s


def run_cli(ds: Path, out: Path, srv: FakeOpenAI, *extra: str, mode: str = "closed"):
    cfg = out.parent / "run.yaml"
    cfg.write_text(json.dumps({"llm": {"base_url": srv.base_url, "max_concurrency": 1}}))
    return invoke_run(ds, out, cfg, "--method", "random", "--no-progress", *extra, mode=mode)


def edit_rows(ds: Path, fn) -> None:
    d = load_dataset(ds)
    fn(d.by_key)
    save_dataset(ds, d.meta, d.samples)


# ------------------------------------------------------------------------------------ stale results


def test_rerun_unchanged_redoes_nothing(tiny_dataset, tmp_path, srv):
    out = tmp_path / "run"
    assert run_cli(tiny_dataset, out, srv).exit_code == 0
    r = run_cli(tiny_dataset, out, srv)
    assert r.exit_code == 0, r.output
    assert "3 already done, 0 done now" in r.output and "redone" not in r.output
    assert "nothing to run: every selected pair is already done with unchanged inputs" in r.output


def test_changed_statement_is_redone_and_said(tiny_dataset, tmp_path, srv):
    out = tmp_path / "run"
    assert run_cli(tiny_dataset, out, srv).exit_code == 0
    edit_rows(
        tiny_dataset,
        lambda rows: rows["fitness_0_0"]["differences_annotated"]["0"].update(
            description="the squat is much deeper"
        ),
    )
    r = run_cli(tiny_dataset, out, srv)
    assert r.exit_code == 0, r.output
    assert "2 already done, 1 done now" in r.output
    assert "1 redone: inputs changed" in r.output
    preds = read_json(out / "predictions.json")
    assert preds["fitness_0_0"]["0"]["description"] == "the squat is much deeper"
    assert read_json(out / "report.json")["redone"] == {"fitness_0_0": "inputs changed"}


def test_swapped_clips_are_redone(tiny_dataset, tmp_path, srv):
    out = tmp_path / "run"
    assert run_cli(tiny_dataset, out, srv).exit_code == 0
    edit_rows(tiny_dataset, lambda rows: rows["diving_0_0"].update(videos=rows["diving_0_0"]["videos"][::-1]))
    r = run_cli(tiny_dataset, out, srv)
    assert "1 redone: inputs changed" in r.output and "2 already done, 1 done now" in r.output, r.output


def test_added_difference_is_redone(tiny_dataset, tmp_path, srv):
    out = tmp_path / "run"
    assert run_cli(tiny_dataset, out, srv).exit_code == 0

    def add(rows):
        row = rows["fitness_0_1"]
        row["differences_annotated"]["9"] = {
            "name": "higher",
            "description": "the jump is higher",
            "query_string": "higher",
            "num_frames": "1",
        }
        row["differences_gt"]["9"] = "b"

    edit_rows(tiny_dataset, add)
    r = run_cli(tiny_dataset, out, srv)
    assert "1 redone: inputs changed" in r.output, r.output
    assert "9" in read_json(out / "predictions.json")["fitness_0_1"]


def test_removed_label_is_redone(tiny_dataset, tmp_path, srv):
    out = tmp_path / "run"
    assert run_cli(tiny_dataset, out, srv).exit_code == 0
    edit_rows(tiny_dataset, lambda rows: rows["fitness_0_0"]["differences_gt"].update({"0": None}))
    r = run_cli(tiny_dataset, out, srv)
    assert "1 redone: inputs changed" in r.output, r.output
    assert "0" not in read_json(out / "predictions.json")["fitness_0_0"]


def test_result_without_fingerprint_is_redone(tiny_dataset, tmp_path, srv):
    out = tmp_path / "run"
    assert run_cli(tiny_dataset, out, srv).exit_code == 0
    p = out / "samples" / "fitness_0_0.json"
    p.write_text(json.dumps({k: v for k, v in read_json(p).items() if k != "inputs"}))
    r = run_cli(tiny_dataset, out, srv)
    assert "1 redone: inputs not recorded" in r.output, r.output


# ------------------------------------------------------------------------------------ nothing silent


def test_skipped_samples_say_why_and_what_next(tmp_path, srv):
    from tests.helpers.tiny_dataset import make_tiny_dataset

    ds = make_tiny_dataset(tmp_path / "ds", labelled=False)
    r = run_cli(ds.root, tmp_path / "run", srv)
    assert r.exit_code == 0, r.output
    assert "3 skipped: no labelled (non-null) differences to predict" in r.output
    assert "label the pairs (curate annotate) or run --mode open" in r.output


# ------------------------------------------------------------------------------------ RUN_DIR


def test_foreign_non_empty_out_refused(tiny_dataset, tmp_path, srv):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("keep")
    r = run_cli(tiny_dataset, out, srv)
    assert_one_line_error(r.output, r.exit_code, str(out), f"has no {MARKER}")
    assert sorted(p.name for p in out.iterdir()) == ["thesis.tex"]


def test_dataset_folder_as_run_dir_refused(tiny_dataset, tmp_path, srv):
    from schemas.outdir import output_folder

    with output_folder(tiny_dataset, "dataset", legacy=("dataset.json",)):
        pass
    r = run_cli(tiny_dataset, tiny_dataset, srv)
    assert_one_line_error(r.output, r.exit_code, "this folder is a dataset folder, not a RUN_DIR")


def test_concurrent_run_fails_fast(tiny_dataset, tmp_path, srv):
    out = tmp_path / "run"
    with lock_held_elsewhere(out, "run"):
        r = run_cli(tiny_dataset, out, srv)
    assert_one_line_error(r.output, r.exit_code, "another command is writing into this RUN_DIR")
    assert not (out / "samples").exists()


# ------------------------------------------------------------------------------------ caches


def test_corrupt_clip_cache_is_moved_aside_and_rebuilt(tmp_path, caplog):
    path = tmp_path / "cache" / "clip.sqlite"
    path.parent.mkdir()
    path.write_bytes(b"this is not a database" * 100)
    cache = ClipCache(path)
    cache.put_texts("m", ["a squat"], np.ones((1, 4)))
    assert list(cache.get_texts("m", ["a squat"])) == ["a squat"]
    aside = [p.name for p in path.parent.iterdir() if ".corrupt-" in p.name]
    assert len(aside) == 1 and "moved aside" in caplog.text


def test_clip_cache_path_is_a_directory(tmp_path):
    (tmp_path / "clip.sqlite").mkdir()
    from schemas.errors import ToolkitError

    with pytest.raises(ToolkitError, match=r"clip\.sqlite: is a folder, expected the CLIP cache file"):
        ClipCache(tmp_path / "clip.sqlite")


# ------------------------------------------------------------------------------------ secrets


def test_echoed_api_key_never_reaches_screen_or_files(tiny_dataset, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    with FakeOpenAI() as s:
        s.add("Statement", ("status", 400, f"Incorrect API key provided: Bearer {CANARY}"))
        out = tmp_path / "run"
        r = run_cli(tiny_dataset, out, s)
    assert r.exit_code != 0
    assert CANARY not in r.output
    for p in out.rglob("*"):
        if p.is_file():
            assert CANARY.encode() not in p.read_bytes(), p
    report = read_json(out / "report.json")
    assert report["errors"], report  # the failure is recorded, redacted


# ------------------------------------------------------------------------------------ config values

BAD_VALUES = [
    ({"proposer": {"n_retrieval_strings": -2}}, "proposer.n_retrieval_strings: must be at least 1"),
    ({"differencer": {"max_side": 0}}, "differencer.max_side: must be at least 1 pixel"),
    ({"llm": {"image_format": "gif"}}, "llm.image_format: must be png or jpeg"),
    ({"lmm": {"max_frames_per_video": 0}}, "lmm.max_frames_per_video: must be at least 1"),
    ({"seed": -1}, "seed: must be >= 0"),
    ({"llm": {"image_detail": "ultra"}}, "llm.image_detail: must be low, high, auto or null"),
    ({"localizer": {"frames_per_difference": 2}}, "localizer.frames_per_difference: must be an odd number"),
    ({"proposer": {"n_retrieval_strings": "five"}}, "proposer.n_retrieval_strings: expected int, got str"),
    ({"clip": {"batch_size": 0}}, "clip.batch_size: must be at least 1"),
]


@pytest.mark.parametrize("over,message", BAD_VALUES, ids=[m.split(":")[0] for _, m in BAD_VALUES])
def test_bad_config_value_is_one_line(tmp_path, over, message, tiny_dataset):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(json.dumps(over))
    r = invoke_run(tiny_dataset, tmp_path / "run", cfg, "--method", "random", "--no-progress")
    assert_one_line_error(r.output, r.exit_code, str(cfg), message)
    assert not (tmp_path / "run").exists()


def test_duplicate_key_in_run_config_rejected(tmp_path, tiny_dataset):
    cfg = tmp_path / "dup.yaml"
    cfg.write_text("llm:\n  base_url: http://127.0.0.1:9\nllm:\n  temperature: 0\n")
    r = invoke_run(tiny_dataset, tmp_path / "run", cfg, "--no-progress")
    assert_one_line_error(r.output, r.exit_code, "duplicate key 'llm' (first at line 1)")


def test_defaults_still_valid():
    from viddiff_method.config import DEFAULT_YAML

    # the shipped default YAML parses with the duplicate-key loader and passes every range check

    assert RunConfig.load(DEFAULT_YAML).to_dict() == RunConfig().to_dict()


def test_samples_row_with_a_traversal_action_is_refused(tiny_dataset, tmp_path, srv):
    path = tiny_dataset / "samples.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    rows[1]["action"] = "../../x"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "run"
    r = run_cli(tiny_dataset, out, srv)
    assert_one_line_error(r.output, r.exit_code, f"{path}:2", "$.action")
    assert not (tmp_path / "x.json").exists() and not (out / "proposals").exists()


def test_file_size_limit_during_a_run_is_one_line(tiny_dataset, tmp_path, srv):
    from tests.helpers.adversarial import cli

    cfg = tmp_path / "run.yaml"
    cfg.write_text(json.dumps({"llm": {"base_url": srv.base_url, "max_concurrency": 1}}))
    out = tmp_path / "run"
    r = cli(
        [
            "-m",
            "viddiff_method.cli",
            "run",
            str(tiny_dataset),
            "--mode",
            "closed",
            "--out",
            str(out),
            "--config",
            str(cfg),
            "--method",
            "random",
            "--no-progress",
        ],
        fsize=20000,
        extra_env={"PYTHONDONTWRITEBYTECODE": "1", "OPENAI_API_KEY": "test-key"},
    )
    assert_one_line_error(r.stderr, r.returncode, "file-size limit")
    for p in out.rglob("*.json"):  # whatever was written is whole
        json.loads(p.read_text())
    assert not [p for p in out.rglob(".*.json.*")]


def test_viddiff_proposal_fingerprint_follows_the_actions_differences(tiny_dataset, tmp_path):
    from viddiff_method.pipeline import Run

    def fingerprints(method: str) -> dict[str, str]:
        run = Run(tiny_dataset, tmp_path / method, mode="closed", method=method, progress=False)
        return {s["sample_key"]: run._sample_inputs(s) for s in run.select()}

    before = {m: fingerprints(m) for m in ("viddiff", "random")}
    # a new difference on one pair changes the action's proposal (stages are linked to every difference)
    edit_rows(
        tiny_dataset,
        lambda rows: rows["fitness_0_1"]["differences_annotated"].update(
            {
                "8": {
                    "name": "wider",
                    "description": "the grip is wider",
                    "query_string": "grip",
                    "num_frames": "1",
                }
            }
        ),
    )
    after = {m: fingerprints(m) for m in ("viddiff", "random")}
    assert (
        after["viddiff"]["fitness_0_0"] != before["viddiff"]["fitness_0_0"]
    )  # same action: proposal changed
    assert after["viddiff"]["diving_0_0"] == before["viddiff"]["diving_0_0"]  # other action: untouched
    assert (
        after["random"]["fitness_0_0"] == before["random"]["fitness_0_0"]
    )  # baselines use only their own row
