"""Adversarial cases for the data-contract layer: hostile keys, duplicate YAML keys, foreign or busy
output folders, disk refusals. One test per case, each asserting the one-line message."""

from __future__ import annotations

import errno
import json
import os

import pytest

from schemas import load_schema, validate
from schemas.errors import ToolkitError
from schemas.ids import (
    DIFF_KEY_PATTERN,
    LOC_ID_PATTERN,
    SAFE_ID_PATTERN,
    check_id,
    check_text,
    inside,
    is_safe,
)
from schemas.io import atomic_write, read_json, read_jsonl, read_yaml, write_json
from schemas.outdir import LOCK, MARKER, output_folder, read_marker, remove_temps
from tests.helpers.adversarial import cli, lock_held_elsewhere


@pytest.mark.parametrize(
    "bad", ["..", ".", ".hidden", "../../x", "a/b", "a\\b", "", "x" * 201, "ok\n", "é", "a b"]
)
def test_unsafe_identifier_rejected(bad):
    with pytest.raises(ToolkitError, match=r"unsafe action .*must be ASCII letters, digits"):
        check_id(bad, what="action", file="cfg.yaml")


@pytest.mark.parametrize("bad", ["²", "١", "-1", "1.0", "", "3\n", "0x1"])
def test_difference_key_must_be_ascii_integer(bad):
    assert not is_safe(bad, "diff")
    assert validate("predictions", {"k": {bad: {"prediction": "a"}}})


def test_loc_id_is_free_text_but_no_control_characters():
    assert is_safe("reaches lowest position", "loc")
    assert not is_safe("a\x00b", "loc") and not is_safe("", "loc")


def test_every_schema_uses_the_one_identifier_rule():
    texts = {
        k: json.dumps(load_schema(k))
        for k in ("sample", "taxonomy", "build_config", "label", "predictions", "localization", "dataset")
    }
    for kind in ("sample", "build_config", "label", "predictions", "localization", "dataset", "taxonomy"):
        assert json.dumps(SAFE_ID_PATTERN) in texts[kind], kind
    for kind in ("sample", "taxonomy", "label", "predictions"):
        assert json.dumps(DIFF_KEY_PATTERN) in texts[kind], kind
    for kind in ("sample", "localization", "taxonomy"):
        assert json.dumps(LOC_ID_PATTERN) in texts[kind], kind
    # no schema keeps an older, looser key pattern
    for kind, text in texts.items():
        assert '"^[A-Za-z0-9_.-]+$"' not in text and '"^[0-9]+$"' not in text, kind


def test_sample_row_with_traversal_keys_rejected_by_schema():
    errors = validate("sample", {"sample_key": "..", "action": "../../x"})
    paths = {p for p, _ in errors}
    assert "$.sample_key" in paths and "$.action" in paths


def test_control_character_in_text_rejected():
    with pytest.raises(
        ToolkitError, match=r"t\.csv:line 2: name: name contains the control character '\\x00'"
    ):
        check_text("sq\x00uat", what="name", file="t.csv:line 2", key="name")


def test_path_outside_the_output_folder_refused(tmp_path):
    with pytest.raises(ToolkitError, match=r"would be written outside"):
        inside(tmp_path / "out", "samples/../../escape.json", what="sample_key")
    assert inside(tmp_path / "out", "samples/a.json") == tmp_path / "out" / "samples/a.json"


def test_duplicate_yaml_key_rejected(tmp_path):
    p = tmp_path / "run.yaml"
    p.write_text("llm:\n  base_url: http://x\nseed: 1\nllm:\n  temperature: 0\n")
    with pytest.raises(ToolkitError) as e:
        read_yaml(p)
    assert str(e.value) == f"{p}: line 4 column 1: invalid YAML: duplicate key 'llm' (first at line 1)"


def test_duplicate_nested_yaml_key_rejected(tmp_path):
    p = tmp_path / "run.yaml"
    p.write_text("llm:\n  base_url: a\n  base_url: b\n")
    with pytest.raises(ToolkitError, match=r"line 3 column 3: invalid YAML: duplicate key 'base_url'"):
        read_yaml(p)


def test_directory_given_where_a_file_is_expected(tmp_path):
    for reader, what in ((read_json, "JSON"), (read_jsonl, "JSONL"), (read_yaml, "YAML")):
        with pytest.raises(ToolkitError, match=rf"{tmp_path}: is a folder, expected a {what} file"):
            reader(tmp_path)


def test_writing_onto_a_directory_is_one_line(tmp_path):
    (tmp_path / "x.json").mkdir()
    with pytest.raises(ToolkitError, match=r"x\.json: cannot write: is a folder, expected a file"):
        write_json(tmp_path / "x.json", {})


def test_disk_full_is_one_line_and_keeps_the_old_file(tmp_path, monkeypatch):
    dest = tmp_path / "metrics.json"
    dest.write_text("old")

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(ToolkitError) as e:
        atomic_write(dest, "new content")
    assert str(e.value).startswith(f"{dest}: cannot write: no space left on the device")
    assert dest.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]


def test_file_size_limit_efbig_is_one_line_and_nothing_half_written(tmp_path):
    dest = tmp_path / "big.json"
    code = (
        "import sys\nfrom schemas.errors import ToolkitError\nfrom schemas.io import atomic_write\n"
        f"try:\n    atomic_write({str(dest)!r}, 'x' * 100000)\n"
        "except ToolkitError as e:\n    print('error:', e); sys.exit(1)\n"
    )
    r = cli(["-c", code], fsize=4096)
    assert r.returncode == 1, r.stderr
    assert (
        r.stdout.strip() == f"error: {dest}: cannot write: file too large (file-size limit); nothing was "
        "half-written, free space or fix it and rerun"
    )
    assert not list(tmp_path.iterdir())


def test_non_empty_foreign_folder_refused(tmp_path):
    (tmp_path / "holiday.mp4").write_bytes(b"mine")
    refused = pytest.raises(
        ToolkitError, match=rf"{tmp_path}: --out: folder is not empty and has no {MARKER}"
    )
    with refused, output_folder(tmp_path, "dataset"):
        pass
    assert [p.name for p in tmp_path.iterdir()] == ["holiday.mp4"]


def test_folder_of_another_kind_refused(tmp_path):
    with output_folder(tmp_path / "run", "run"):
        pass
    refused = pytest.raises(ToolkitError, match=r"this folder is a RUN_DIR, not a published folder")
    with refused, output_folder(tmp_path / "run", "published"):
        pass


def test_file_given_as_output_folder_refused(tmp_path):
    (tmp_path / "f").write_text("x")
    refused = pytest.raises(ToolkitError, match=r"exists and is not a folder; --out needs a folder")
    with refused, output_folder(tmp_path / "f", "dataset"):
        pass


def test_second_writer_fails_fast(tmp_path):
    out = tmp_path / "ds"
    with lock_held_elsewhere(out, "dataset"):
        refused = pytest.raises(
            ToolkitError, match=rf"another command is writing into this dataset folder \(lock {LOCK}"
        )
        with refused, output_folder(out, "dataset"):
            pass
    with output_folder(out, "dataset"):  # released when the other process ends
        pass


def test_failed_command_leaves_no_new_folder(tmp_path):
    with pytest.raises(RuntimeError), output_folder(tmp_path / "new", "published"):
        raise RuntimeError("refused")
    assert not (tmp_path / "new").exists()


def test_marker_records_own_files(tmp_path):
    with output_folder(tmp_path / "p", "published") as f:
        f.record(["README.md", "data/test-00000-of-00001.parquet"])
    assert read_marker(tmp_path / "p")["files"] == ["README.md", "data/test-00000-of-00001.parquet"]


def test_temp_cleanup_spares_user_hidden_files(tmp_path):
    (tmp_path / "videos" / "k").mkdir(parents=True)
    ours = tmp_path / "videos" / "k" / ".b.mp4.a1b2c3d4.mp4"
    user = tmp_path / "videos" / "k" / ".notes.txt"
    ours.write_bytes(b"")
    user.write_text("keep")
    assert remove_temps(tmp_path, ("videos/*/.*",)) == [ours]
    assert user.exists() and not ours.exists()
