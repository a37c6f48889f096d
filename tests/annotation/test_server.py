"""Push, pull and status against a real Label Studio 1.23.2 server (see conftest.py); nothing is mocked."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from annotation.agreement import agreement
from annotation.connect import api_errors
from annotation.pull import pull
from annotation.push import push
from annotation.server import copy_data_dir, free_port, port_is_free
from annotation.status import status
from schemas.dataset_dir import load_dataset, save_dataset
from schemas.errors import ToolkitError
from schemas.io import write_json
from tests.annotation.shapes import choice, mark

pytestmark = pytest.mark.labelstudio


def _tasks(ls, pid):
    return {t.data["sample_key"]: t for t in ls.tasks.list(project=pid, fields="all", page_size=100)}


def _user(ls, name):
    tag = uuid.uuid4().hex[:6]
    return ls.users.create(username=f"{name}{tag}", email=f"{name}{tag}@example.com")


def test_push_is_idempotent_and_guards_annotated_configs(ls, served_dataset, ls_env):
    ds = served_dataset
    full = list(ds.samples)
    save_dataset(ds.root, ds.meta, [s for s in full if s["sample_key"] != "fitness_0_1"])
    first = {r.action: r for r in push(ds.root, "differences", progress=False)}
    assert first["fitness_0"].created and first["fitness_0"].tasks_added == 1
    pid = first["fitness_0"].project_id
    task = _tasks(ls, pid)["fitness_0_0"]
    assert task.data["fps_a"] == 30.0 and task.data["n_frames_b"] == 36
    user = _user(ls, "ann")
    result = [choice("0", "a"), choice("1", "b"), choice("2", "c")]
    ann = ls.annotations.create(id=task.id, result=result, lead_time=9.2, completed_by=user.id)

    meta = load_dataset(ds.root).meta
    save_dataset(ds.root, meta, full)  # one new pair appears
    second = {r.action: r for r in push(ds.root, "differences", progress=False)}
    assert (second["fitness_0"].tasks_added, second["fitness_0"].tasks_existing) == (1, 1)
    assert (second["diving_0"].tasks_added, second["diving_0"].tasks_existing) == (0, 1)
    assert second["fitness_0"].project_id == pid and not second["fitness_0"].created
    third = {r.action: r for r in push(ds.root, "differences", progress=False)}
    assert third["fitness_0"].tasks_added == 0
    tasks = _tasks(ls, pid)
    assert sorted(tasks) == ["fitness_0_0", "fitness_0_1"]  # no duplicates
    kept = ls.annotations.list(id=task.id)
    assert [a.id for a in kept] == [ann.id] and [r["value"] for r in kept[0].result] == [
        r["value"] for r in result
    ]

    # the video URL in the task is served to an authenticated client
    r = httpx.get(
        ls_env["url"] + task.data["video_a"], headers={"Authorization": f"Token {ls_env['api_key']}"}
    )
    assert r.status_code == 200 and r.headers["content-type"] == "video/mp4"
    assert r.content == (ds.root / "videos/fitness_0_0/a.mp4").read_bytes()

    # a taxonomy edit changes the config: refused on an annotated project unless forced
    tax_path = ds.taxonomy_path("fitness_0")
    tax = json.loads(tax_path.read_text())
    tax["differences"]["0"]["description"] = "the squat is deeper"
    write_json(tax_path, tax)
    with pytest.raises(ToolkitError, match="--force"):
        push(ds.root, "differences", progress=False)
    forced = {r.action: r for r in push(ds.root, "differences", force=True, progress=False)}
    assert forced["fitness_0"].config_updated
    assert "the squat is deeper" in ls.projects.get(id=pid).label_config
    assert [a.id for a in ls.annotations.list(id=task.id)] == [ann.id]


def test_predictions_become_label_studio_predictions_once(ls, served_dataset, tmp_path, monkeypatch):
    ds = served_dataset
    run = tmp_path / "run-7"
    run.mkdir()
    write_json(
        run / "predictions.json",
        {
            "fitness_0_0": {
                "0": {"description": "deeper", "prediction": "b"},
                "1": {"description": "x", "prediction": None},
                "9": {"description": "not in taxonomy", "prediction": "a"},
            }
        },
    )
    write_json(
        run / "localization.json",
        {"fitness_0_0": [{"start": [0], "peak": [23]}, {"start": [35], "peak": [36]}]},
    )
    res = {r.action: r for r in push(ds.root, "differences", predictions=run, progress=False)}
    assert res["fitness_0"].predictions_added == 1 and any(
        "9" in m for m in res["fitness_0"].predictions_skipped
    )
    pid = res["fitness_0"].project_id
    tid = _tasks(ls, pid)["fitness_0_0"].id
    preds = list(ls.predictions.list(task=tid))
    assert [(p.model_version, p.result) for p in preds] == [
        (
            "run-7",
            [{"from_name": "diff_0", "to_name": "video_a", "type": "choices", "value": {"choices": ["b"]}}],
        )
    ]
    assert ls.projects.get(id=pid).model_version == "run-7"
    import annotation.push as push_module

    probed = []
    with monkeypatch.context() as m:
        m.setattr(push_module, "task_data", lambda *a, **kw: probed.append(a[1]["sample_key"]))
        again = {r.action: r for r in push(ds.root, "differences", predictions=run, progress=False)}
    assert len(list(ls.predictions.list(task=tid))) == 1  # again: no duplicate,
    assert again["fitness_0"].predictions_added == 0 and probed == []  # and no clip probed for it

    ts = {r.action: r for r in push(ds.root, "timestamps", predictions=run, progress=False)}
    skipped = ts["fitness_0"].predictions_skipped
    assert len(skipped) == 1 and "frame 36" in skipped[0]  # B has 36 frames: 0..35
    tid = _tasks(ls, ts["fitness_0"].project_id)["fitness_0_0"].id
    (pred,) = ls.predictions.list(task=tid)
    got = {(r["from_name"], r["value"]["timelinelabels"][0]): r["value"]["ranges"] for r in pred.result}
    assert got == {
        ("tl_a", "key:start"): [{"start": 1, "end": 1}],
        ("tl_a", "key:peak"): [{"start": 24, "end": 24}],
        ("tl_b", "key:start"): [{"start": 36, "end": 36}],
    }


def test_pull_round_trip_status_and_agreement(ls, served_dataset):
    ds = served_dataset
    diff = {r.action: r for r in push(ds.root, "differences", progress=False)}
    ts = {r.action: r for r in push(ds.root, "timestamps", progress=False)}
    u1, u2 = _user(ls, "ann"), _user(ls, "rev")
    dt, tt = _tasks(ls, diff["fitness_0"].project_id), _tasks(ls, ts["fitness_0"].project_id)
    # fitness_0_0: both annotate; agree on 0 and 2, split on 1
    ls.annotations.create(
        id=dt["fitness_0_0"].id,
        completed_by=u1.id,
        lead_time=30.0,
        result=[choice("0", "a"), choice("1", "b"), choice("2", "c")],
    )
    ls.annotations.create(
        id=dt["fitness_0_0"].id,
        completed_by=u2.id,
        lead_time=25.0,
        result=[choice("0", "a"), choice("1", "a"), choice("2", "c")],
    )
    # fitness_0_1: one annotator, one bad value
    ls.annotations.create(
        id=dt["fitness_0_1"].id,
        completed_by=u1.id,
        result=[choice("0", "b"), choice("1", "zz"), choice("2", "a")],
    )
    # timestamps: first and last frame of each clip; the two annotators differ by 1 and 3 frames
    ls.annotations.create(
        id=tt["fitness_0_0"].id,
        completed_by=u1.id,
        result=[
            mark("a", "key:start", 1),
            mark("a", "key:peak", 24),
            mark("b", "key:start", 2),
            mark("b", "key:peak", 36),
            mark("a", "stage:main", 3, 20),
        ],
    )
    ls.annotations.create(
        id=tt["fitness_0_0"].id,
        completed_by=u2.id,
        result=[
            mark("a", "key:start", 2),
            mark("a", "key:peak", 24),
            mark("b", "key:start", 2),
            mark("b", "key:peak", 33),
        ],
    )

    st = {(s.kind, s.action): s for s in status(ds.root)}
    assert (
        st[("differences", "fitness_0")].tasks,
        st[("differences", "fitness_0")].annotated,
        st[("differences", "fitness_0")].doubly_annotated,
    ) == (2, 2, 1)
    assert (st[("timestamps", "fitness_0")].annotated, st[("timestamps", "diving_0")].annotated) == (1, 0)

    reports = {r.kind: r for r in pull(ds.root)}  # both kinds, all projects
    assert reports["differences"].annotated_tasks == 2
    assert [str(p) for p in reports["differences"].problems] and "zz" in str(
        reports["differences"].problems[0]
    )
    row0, row1 = (load_dataset(ds.root).by_key[k] for k in ("fitness_0_0", "fitness_0_1"))
    assert row0["differences_gt"] == {"0": "a", "1": None, "2": "c", "3": None}
    assert row0["n_differences_open_prediction"] == 3
    assert (row1["differences_gt"]["0"], row1["differences_gt"]["2"]) == ("b", "a")
    # keypoints: start on A (1 vs 2 -> indices 0, 1: within 2 -> lower median 0); B peak 36 vs 33 -> unresolved
    assert row0["retrieval_frames"] == [{"start": [0], "peak": [23]}, {"start": [1], "peak": None}]
    users = json.loads((ds.root / "annotation/users.json").read_text())
    assert users[f"user:{u2.id}"] == u2.email
    exports = sorted((ds.root / "annotation/timestamps/exports").iterdir())
    assert {p.name.split("-project")[0] for p in exports} == {"fitness_0"}  # diving_0's empty export not kept
    assert all(isinstance(json.loads(p.read_bytes()), list) for p in exports)
    again = pull(ds.root, "timestamps")  # nothing changed on the server: nothing rewritten
    assert sorted((ds.root / "annotation/timestamps/exports").iterdir()) == exports
    assert ["no annotations yet" in r.summary() for r in again] == [True, False]  # diving_0, fitness_0

    # a named reviewer (by e-mail, known from the pull) settles the split
    pull(ds.root, "differences", reviewer=u2.email)
    assert load_dataset(ds.root).by_key["fitness_0_0"]["differences_gt"]["1"] == "a"

    res = agreement(ds.root, delta=2)["actions"]["fitness_0"]
    assert res["labels"]["items"] == 3 and res["labels"]["percent"] == pytest.approx(200 / 3)
    kp = res["keypoints"]
    # |d| = 1, 0, 0, 3 frames at 30 fps
    assert kp["items"] == 4 and kp["mean_abs_frames"] == pytest.approx(1.0)
    assert kp["mean_abs_seconds"] == pytest.approx(1 / 30) and kp["within_delta"] == pytest.approx(0.75)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_serve_prints_url_and_key_and_stops_on_ctrl_c_and_sigterm(ls_template, tmp_path, sig):
    data = copy_data_dir(ls_template, tmp_path / "data")
    port = free_port()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("LABEL_STUDIO_") or k == "LABEL_STUDIO_BIN"
    }
    env["PORT"] = "1"  # a stray PORT must not reach Label Studio
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "curation.cli",
            "annotate",
            "serve",
            "--data-dir",
            str(data),
            "--port",
            str(port),
            "--media-root",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    lines, key = [], None
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("export LABEL_STUDIO_API_KEY="):
                key = line.strip().split("=", 1)[1]
            if "Ctrl-C" in line:
                break
        assert key, "".join(lines)
        assert f"export LABEL_STUDIO_URL=http://127.0.0.1:{port}\n" in lines
        r = httpx.get(f"http://127.0.0.1:{port}/api/projects", headers={"Authorization": f"Token {key}"})
        assert r.status_code == 200
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert (
        f"{sig.name}: stopping Label Studio" in out
        and "Label Studio stopped" in out
        and "Traceback" not in out
    )
    assert port_is_free(port)  # no orphan Label Studio left answering


def test_push_checks_everything_before_touching_the_server(ls, served_dataset, ls_env, monkeypatch, tmp_path):
    ds = served_dataset
    media_root = Path(ls_env["media_root"])
    # the dataset outside the media root: refused, no project made
    outside = tmp_path / "elsewhere"
    shutil.copytree(ds.root, outside)
    with pytest.raises(ToolkitError, match="media root"):
        push(outside, "differences", composite=True, progress=False)
    # a clip missing in the second action: nothing is created for the first one either
    clip = ds.root / "videos/diving_0_0/b.mp4"
    clip.rename(tmp_path / "b.mp4")
    with pytest.raises(ToolkitError, match="stored clip not found"):
        push(ds.root, "differences", composite=True, progress=False)
    assert [p for p in ls.projects.list(page_size=1000) if p.title.startswith(ds.meta["name"])] == []
    (tmp_path / "b.mp4").rename(clip)
    # a relative dataset path works (made absolute for Label Studio's local storage)
    monkeypatch.chdir(media_root)
    res = {r.action: r for r in push(ds.root.name, "differences", composite=True, progress=False)}
    task = _tasks(ls, res["fitness_0"].project_id)["fitness_0_0"]
    assert task.data["video_ab"].endswith("annotation/composites/fitness_0_0.mp4")


def test_repush_with_composite_fills_existing_tasks_and_overlap_is_set(ls, served_dataset):
    ds = served_dataset
    first = {r.action: r for r in push(ds.root, "timestamps", progress=False)}
    pid = first["fitness_0"].project_id
    task = _tasks(ls, pid)["fitness_0_0"]
    ls.annotations.create(id=task.id, result=[mark("a", "key:start", 2)], completed_by=_user(ls, "ann").id)
    assert "video_ab" not in task.data
    # the composite is a layout change: allowed on an annotated project, and the old tasks get the clip
    again = {
        r.action: r
        for r in push(ds.root, "timestamps", composite=True, overlap=2, review=0.5, progress=False)
    }
    assert again["fitness_0"].tasks_updated == 2 and again["fitness_0"].config_updated
    tasks = _tasks(ls, pid)
    assert all(
        t.data["video_ab"].endswith(f"composites/{k}.mp4") and t.data["n_frames_ab"] > 0
        for k, t in tasks.items()
    )
    proj = ls.projects.get(id=pid)
    assert (proj.maximum_annotations, proj.overlap_cohort_percentage) == (2, 50)
    st = {(s.kind, s.action): s for s in status(ds.root)}
    assert st[("timestamps", "fitness_0")].overlap_tasks == 1  # 50 % of 2 tasks go to two annotators
    assert st[("timestamps", "fitness_0")].max_annotations == 2
    assert [a.id for a in ls.annotations.list(id=task.id)] != []
    # a second push adds nothing and updates nothing
    third = {r.action: r for r in push(ds.root, "timestamps", composite=True, progress=False)}
    assert (third["fitness_0"].tasks_added, third["fitness_0"].tasks_updated) == (0, 0)


def test_push_of_a_dataset_skips_actions_with_nothing_to_mark(ls, served_dataset):
    ds = served_dataset
    path = ds.taxonomy_path("diving_0")
    tax = json.loads(path.read_text())
    tax["keypoints"], tax["stages"] = {}, []
    for d in tax["differences"].values():
        d["keypoints"] = []
    write_json(path, tax)
    res = {r.action: r for r in push(ds.root, "timestamps", progress=False)}
    assert res["diving_0"].skipped and "no keypoints or stages" in res["diving_0"].summary()
    assert res["fitness_0"].project_id and res["fitness_0"].tasks_added == 2
    with pytest.raises(ToolkitError, match="no keypoints or stages"):  # asked for by name: an error
        push(ds.root, "timestamps", actions=["diving_0"], progress=False)


def test_label_studio_errors_are_one_line_without_headers_or_token(ls, ls_env):
    with pytest.raises(ToolkitError) as ei, api_errors("read the project", key="p"):
        ls.projects.get(id=987654321)
    msg = str(ei.value)
    assert "HTTP 404" in msg and "\n" not in msg and "headers" not in msg.lower()
    assert ls_env["api_key"] not in msg
