"""`viddiff report` on a tiny dataset with real clips: numbers, embedded frames and offline-ness."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from curation.samples.synthetic import read_barcode
from eval.protocols.closed import eval_closed
from eval.protocols.localization import eval_localization
from schemas.errors import ToolkitError
from tests.helpers.tiny_dataset import make_tiny_dataset
from viddiff_method.cli import main


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    ds = make_tiny_dataset(root / "ds")
    for name, shift, flip in (("method", 1, False), ("baseline", 3, True)):
        run = root / name
        run.mkdir()
        preds, loc = {}, {}
        for s in ds.samples:
            gt = {k: v for k, v in s["differences_gt"].items() if v}
            preds[s["sample_key"]] = {
                k: {"description": None, "prediction": {"a": "b", "b": "a"}.get(v, v) if flip else v}
                for k, v in gt.items()
            }
            loc[s["sample_key"]] = [
                {k: [min(v[0] + shift, s["videos"][i]["n_frames"] - 1)] for k, v in d.items()}
                for i, d in enumerate(s["retrieval_frames"])
            ]
        (run / "predictions.json").write_text(json.dumps(preds))
        (run / "localization.json").write_text(json.dumps(loc))
        (run / "config.json").write_text(json.dumps({"name": name}))
        if name == "method":  # what `viddiff run` writes: the frames it looked at per difference
            dfr = {s["sample_key"]: [{"0": [5, 7]}, {"0": [9]}] for s in ds.samples}
            (run / "difference_frames.json").write_text(json.dumps(dfr))
    # the method run has eval outputs; the baseline is scored by the report itself
    eval_closed(ds.root, root / "method" / "predictions.json", root / "method" / "eval" / "closed")
    eval_localization(
        ds.root, root / "method" / "localization.json", root / "method" / "eval" / "localization"
    )
    res = CliRunner().invoke(
        main,
        [
            "report",
            str(root / "method"),
            str(root / "baseline"),
            "--dataset",
            str(ds.root),
            "--out",
            str(root / "report.html"),
            "--pairs",
            "2",
        ],
    )
    assert res.exit_code == 0, res.output
    return root, ds


def test_report_leaderboard_numbers(workspace):
    root, ds = workspace
    html = (root / "report.html").read_text()
    n_ab = sum(v in ("a", "b") for s in ds.samples for v in s["differences_gt"].values())
    # method answers every a/b item right, the baseline flips every one: 100% and 0% pooled
    row = re.search(r'<td class="name"[^>]*>method</td>(.*?)</tr>', html, re.S).group(1)
    assert n_ab >= 6  # enough items for 100% to be significant: p = 2 / 2**n_ab < 0.05
    assert f'title="{n_ab}/{n_ab}, 95% CI' in row and ">100.0%*</td>" in row
    row = re.search(r'<td class="name"[^>]*>baseline</td>(.*?)</tr>', html, re.S).group(1)
    assert f'title="0/{n_ab}, 95% CI' in row and ">0.0%*</td>" in row
    assert "computed by viddiff report" in html  # the baseline had no eval folder
    assert html.count('title="frames this run looked at">A 5,7 · B 9</span>') == 2  # statement 0 of 2 pairs


def test_report_is_self_contained_and_frames_are_the_keypoints(workspace):
    root, ds = workspace
    html = (root / "report.html").read_text()
    assert not re.search(r'(src|href)="(https?:|file:|/)', html)  # nothing outside the file
    assert (
        html.count('src="data:image/png;base64,') == 3
    )  # per-action bars, hit-rate curves, per-keypoint bars
    # frame strips: the alt text names the frame; the JPEG's barcode must show that same source frame
    thumbs = re.findall(r'<img src="data:image/jpeg;base64,([^"]+)" alt="([AB]) (\w+) frame (\d+)">', html)
    assert len(thumbs) == 2 * 2 * 2 * 3  # 2 pairs x 2 keypoints x 2 videos x (annotated + 2 runs)
    for b64, _video, _label, frame in thumbs:
        img = np.asarray(Image.open(io.BytesIO(base64.b64decode(b64))).convert("RGB"))
        assert read_barcode(img) == int(frame)
    md = (root / "report.md").read_text()
    assert "| method |" in md and (root / "report_files" / "loc_hits.png").stat().st_size > 1000
    for p in (root / "report.html", root / "report.md", root / "report_files" / "loc_hits.png"):
        assert p.stat().st_mode & 0o777 == 0o644  # meant to be shared (not mkstemp's 0600)


def test_report_without_anything_to_show(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ToolkitError, match="no predictions.json"):
        from eval.report import build_report

        build_report([tmp_path / "empty"], tmp_path / "r.html")
    assert not (tmp_path / "r.html").exists()


def test_run_with_human_items_from_its_eval_folder(tmp_path, monkeypatch):
    """A run's eval/localization/human_items.jsonl is read with its metrics and drawn as the human curve."""
    from eval.report import figures, load_run
    from tests.eval.fixtures import write_dataset
    from tests.eval.test_localization import PRED

    ds = write_dataset(tmp_path / "ds")
    (ds / "annotation").mkdir()
    ann = {"s3": {"ann1": [{"0": [100]}, {"0": [50]}], "ann2": [{"0": [106]}, {"0": [47]}]}}
    (ds / "annotation" / "timestamps_annotators.json").write_text(json.dumps(ann))
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "loc.json").write_text(json.dumps(PRED))
    eval_localization(ds, tmp_path / "run" / "loc.json", tmp_path / "run" / "eval" / "localization")
    run = load_run(tmp_path / "run", None)  # no dataset: everything comes from the eval folder
    assert [(h["gt_frame"], h["pred_frame"]) for h in run.items["human"]] == [(100, 106), (50, 47)]
    drawn = {}
    monkeypatch.setattr("eval.report.plots.hit_rate_curves", lambda errors: drawn.update(errors) or b"png")
    assert [f["id"] for f in figures([run])] == ["loc_hits", "loc_keypoints"]
    assert drawn["human vs human"] == [pytest.approx(6 / 30), pytest.approx(3 / 30)]
    assert drawn["run"] == pytest.approx([2 / 8, 4 / 8, 0, 15 / 30, 30 / 30, 1 / 30])  # test_localization.ERR


def count_table(runs):
    """A plugin protocol's leaderboard: how many pairs each run answered."""
    return {
        "title": "Answered pairs",
        "columns": ["pairs"],
        "rows": [
            {"name": r.name, "cells": [str(r.metrics["answered"]["pairs"])]}
            for r in runs
            if r.metrics.get("answered")
        ],
    }


class _Answered:
    def __init__(self, preds):
        self.metrics = {"task": "answered", "pairs": len([k for k, v in preds.items.items() if v])}
        self.items = []


def score_answered(data, preds):
    return _Answered(preds)


def test_a_registered_protocol_is_scored_and_reported(workspace, tmp_path, monkeypatch):
    from eval import protocols as registry
    from eval.report import build_report

    root, ds = workspace
    proto = registry.Protocol(
        "answered",
        "predictions.json",
        "eval.predictions:load_predictions",
        f"{__name__}:score_answered",
        f"{__name__}:count_table",
    )
    monkeypatch.setitem(registry._registry, "answered", registry.protocols() and proto)
    build_report([root / "method"], tmp_path / "r.html", dataset=ds.root)
    html = (tmp_path / "r.html").read_text()
    assert "<h2>Answered pairs</h2>" in html
    n = len([s for s in ds.samples if any(v in ("a", "b") for v in s["differences_gt"].values())])
    assert re.search(rf'<td class="name">method</td><td>{n}</td>', html)
    assert "## Answered pairs" in (tmp_path / "r.md").read_text()


def load_notes(path, data):
    """A plugin protocol's own run file: one note per sample."""
    return json.loads(Path(path).read_text())


def notes_table(runs):
    """A plugin table that reads its run file straight from ``run.loaded``."""
    return {
        "title": "Notes kept",
        "columns": ["notes"],
        "rows": [
            {"name": r.name, "cells": [str(len(r.loaded["notes.json"]))]}
            for r in runs
            if "notes.json" in r.loaded
        ],
    }


def test_a_protocol_with_its_own_run_file_gets_it_parsed_for_its_table(workspace, tmp_path, monkeypatch):
    """The report keeps every protocol's parsed run file by name, not only predictions and localization."""
    from eval import protocols as registry
    from eval.report import build_report

    root, ds = workspace
    run = tmp_path / "noted"
    shutil.copytree(root / "method", run)
    (run / "config.json").write_text(json.dumps({"name": "noted"}))
    (run / "notes.json").write_text(json.dumps({s["sample_key"]: "ok" for s in ds.samples[:3]}))
    proto = registry.Protocol(
        "notes", "notes.json", f"{__name__}:load_notes", None, f"{__name__}:notes_table"
    )
    monkeypatch.setitem(registry._registry, "notes", registry.protocols() and proto)
    build_report([run, root / "baseline"], tmp_path / "r.html", dataset=ds.root)
    html = (tmp_path / "r.html").read_text()
    assert "<h2>Notes kept</h2>" in html
    assert re.search(r'<td class="name">noted</td><td>3</td>', html), "the plugin table read the parsed file"
    table = html.split("<h2>Notes kept</h2>", 1)[1].split("</table>", 1)[0]
    assert "baseline" not in table, "a run without the file has no row"
