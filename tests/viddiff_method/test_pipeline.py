"""`viddiff run` end to end on clips with known stage boundaries, the toy CLIP and an oracle VLM."""

from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner

from schemas import validate
from schemas.io import read_json
from tests.helpers.openai_server import FakeOpenAI
from tests.helpers.viddiff_cli import invoke_run
from tests.viddiff_method.shapes import (
    DIFFS,
    PAIRS,
    STAGES_ANSWER,
    boundaries,
    links_answer,
    make_shapes_dataset,
    oracle_reply,
    toy_clip_config,
)
from viddiff_method.cli import main
from viddiff_method.config import RunConfig
from viddiff_method.pipeline import run


def lmm_reply(body):
    schema = body["response_format"]["json_schema"]["schema"]
    if "answers" in schema["properties"]:
        return {"answers": {k: {"prediction": "b"} for k in schema["properties"]["answers"]["required"]}}
    return {"differences": [{"description": f"statement {i}", "prediction": "a"} for i in range(9)]}


OPEN_DIFFS = {
    "differences": [
        {
            "name": "bigger circle",
            "description": "the circle is bigger",
            "query_string": "circle",
            "num_frames": "1",
        },
        {
            "name": "bigger square",
            "description": "the square is bigger",
            "query_string": "square",
            "num_frames": "gt_1",
        },
        {
            "name": "bigger triangle",
            "description": "the triangle is bigger",
            "query_string": "t",
            "num_frames": "1",
        },
        {
            "name": "bigger moon",
            "description": "the moon is bigger",
            "query_string": "moon",
            "num_frames": "1",
        },
        {"name": "extra", "description": "one too many", "query_string": "x", "num_frames": "1"},
    ]
}


def judge(body):
    text = FakeOpenAI.text_of(body)
    if "moon" in text or "one too many" in text:
        return {"answer_detailed": "", "answer": "a"}
    return oracle_reply(body)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("shapes")
    ds = make_shapes_dataset(root / "ds")
    with FakeOpenAI() as srv:
        srv.add("You are shown two videos", lmm_reply)
        srv.add("Split the action into", STAGES_ANSWER)
        srv.add("For every stage, list the names", links_answer())
        srv.add("List up to", OPEN_DIFFS)
        srv.add("Statement", judge)
        yield ds, srv, root


def config(srv, **over):
    over["llm"] = {"base_url": srv.base_url, **over.get("llm", {})}
    return RunConfig.from_dict(toy_clip_config(**over))


def llm_calls(out):
    return read_json(out / "usage.json")["total"]["calls"]


def test_closed_run_recovers_stages_keypoints_and_answers(env):
    ds, srv, root = env
    out = root / "closed"
    n0 = len(srv.requests)
    summary = run(ds.root, out, mode="closed", config=config(srv), progress=False)
    assert summary.n_done_now == 2 and summary.n_incomplete == 0
    preds = read_json(out / "predictions.json")
    locs = read_json(out / "localization.json")
    dframes = read_json(out / "difference_frames.json")
    assert validate("predictions", preds) == [] and validate("localization", locs) == []
    for p, s in enumerate(ds.samples):
        key = s["sample_key"]
        # the oracle answers from the pixels it was sent: right only if the frames show the right shape
        assert {k: v["prediction"] for k, v in preds[key].items()} == s["differences_gt"]
        assert preds[key]["0"]["description"] == DIFFS["0"]["description"]
        segs = read_json(out / "samples" / f"{key}.json")["stage_segments"]
        for v in range(2):
            truth = boundaries(PAIRS[p]["lengths"][v])
            # decoded at 8 fps from 16: boundaries are exact to the sampled frame (2 native frames)
            assert all(abs(a - ta) <= 1 and abs(b - tb) <= 1 for (a, b), (ta, tb) in zip(segs[v], truth))
            for kp, (frame,) in locs[key][v].items():
                assert abs(frame - s["retrieval_frames"][v][kp][0]) <= 2
            stage = dict(zip("012", truth))
            for dk, frames in dframes[key][v].items():
                a, b = stage[dk]
                assert a <= frames[len(frames) // 2] < b, (dk, frames, (a, b))  # centred in the right stage
            assert len(dframes[key][v]["1"]) == 3
            assert (
                dframes[key][v]["1"][1] - dframes[key][v]["1"][0] == 6
            )  # round(0.35 s * 8 fps) rows = 6 frames
    usage = read_json(out / "usage.json")
    assert usage["proposer"]["calls"] == 2 and usage["differencer"]["calls"] == 6
    assert usage["clip"]["frames_encoded"] == sum(math.ceil(sum(l) / 2) for p in PAIRS for l in p["lengths"])
    assert len(srv.requests) - n0 == 8
    # the VLM is told the frames' real spacing, from the stored clips' native fps: 6 frames at 16 fps
    square = [
        t for t in map(FakeOpenAI.text_of, srv.requests[n0:]) if 'Statement: "the square is bigger' in t
    ]
    assert len(square) == 2 and all("video A about 0.38 s apart" in t for t in square)
    assert read_json(out / "config.json")["method"] == "viddiff"

    # rerun: finished samples are skipped, nothing is called or decoded
    again = run(ds.root, out, mode="closed", config=config(srv), progress=False)
    assert again.n_done_before == 2 and again.n_done_now == 0
    assert llm_calls(out) == 0 and "clip" not in read_json(out / "usage.json")
    assert read_json(out / "predictions.json") == preds

    # a fresh run directory (no --cache-dir): the shared user cache answers, zero LLM calls, zero CLIP frames,
    # model never loaded
    fresh = run(ds.root, root / "closed2", mode="closed", config=config(srv), progress=False)
    usage = fresh.usage
    assert usage["total"]["calls"] == 0 and usage["total"]["cache_hits"] == 8
    assert usage["clip"]["frames_encoded"] == 0 and usage["clip"]["texts_encoded"] == 0
    assert usage["clip"]["model_loaded"] is False
    assert read_json(root / "closed2" / "predictions.json") == preds
    assert len(srv.requests) - n0 == 8


def test_open_run_caps_predictions_at_n_diff(env):
    ds, srv, root = env
    out = root / "open"
    run(ds.root, out, mode="open", config=config(srv), progress=False)
    preds = read_json(out / "predictions.json")
    for s in ds.samples:
        p = preds[s["sample_key"]]
        assert len(p) == s["n_differences_open_prediction"] == 4
        assert p["0"] == {"description": "the circle is bigger", "prediction": s["differences_gt"]["0"]}
        assert p["3"]["description"] == "the moon is bigger"
    prop = read_json(out / "proposals" / "shapes_0.json")
    assert prop["n_open"] == 4 and len(prop["differences"]) == 4
    assert any("'3' linked to no stage" in r for r in prop["repairs"])
    # the unlinked difference is judged on frames spanning the whole clip
    rep = read_json(out / "report.json")
    assert rep["proposer_repairs"]["shapes_0"]


def test_lmm_baseline_one_call_per_pair_with_all_frames(env):
    ds, srv, root = env
    n0 = len(srv.requests)
    run(ds.root, root / "lmm", mode="closed", method="lmm", config=config(srv), progress=False)
    bodies = srv.requests[n0:]
    assert len(bodies) == 2
    n_a = math.ceil(sum(PAIRS[0]["lengths"][0]) / 2)
    n_b = math.ceil(sum(PAIRS[0]["lengths"][1]) / 2)
    first = next(b for b in bodies if f"first {n_a} images are video A" in FakeOpenAI.text_of(b))
    assert len(FakeOpenAI.images_in(first)) == n_a + n_b
    assert "sampled at 8 frames per second" in FakeOpenAI.text_of(first)
    preds = read_json(root / "lmm" / "predictions.json")
    assert all(v["prediction"] == "b" for p in preds.values() for v in p.values())
    assert read_json(root / "lmm" / "localization.json")[ds.samples[0]["sample_key"]] == [{}, {}]

    run(
        ds.root,
        root / "lmm_open",
        mode="open",
        method="lmm",
        config=config(srv, lmm={"max_frames_per_video": 5}),
        progress=False,
    )
    preds = read_json(root / "lmm_open" / "predictions.json")
    assert all(len(p) == 4 for p in preds.values())  # 9 proposed, truncated to N_diff
    assert len(FakeOpenAI.images_in(srv.requests[-1])) == 10


def test_prior_baseline_uses_the_other_samples_keypoints(env):
    ds, srv, root = env
    run(ds.root, root / "prior", mode="closed", method="prior", config=config(srv), progress=False)
    locs = read_json(root / "prior" / "localization.json")
    s0, s1 = ds.samples
    for kp in ("circle", "square", "triangle"):
        # leave-one-out: sample 0's prior comes from sample 1's two annotated clips only
        rel = [(s1["retrieval_frames"][v][kp][0] + 0.5) / s1["videos"][v]["n_frames"] for v in range(2)]
        expected = math.floor(sum(rel) / 2 * s0["videos"][0]["n_frames"])
        assert locs[s0["sample_key"]][0][kp] == [expected]
    dframes = read_json(root / "prior" / "difference_frames.json")
    assert dframes[s0["sample_key"]][0]["0"] == locs[s0["sample_key"]][0]["circle"]


def test_random_baseline_is_seeded_and_inside_the_clips(env):
    ds, srv, root = env
    run(ds.root, root / "rnd1", mode="closed", method="random", config=config(srv), progress=False)
    run(
        ds.root,
        root / "rnd2",
        mode="closed",
        method="random",
        config=config(srv),
        cache_dir=root / "rnd-cache",
        progress=False,
    )
    a = read_json(root / "rnd1" / "difference_frames.json")
    assert a == read_json(root / "rnd2" / "difference_frames.json")
    for s in ds.samples:
        for v in range(2):
            n = s["videos"][v]["n_frames"]
            assert all(0 <= f < n for fr in a[s["sample_key"]][v].values() for f in fr)


def test_cli_run_and_its_errors(env, tmp_path, monkeypatch):
    ds, srv, root = env
    cfg = tmp_path / "run.yaml"
    cfg.write_text(json.dumps(toy_clip_config(llm={"base_url": srv.base_url})))
    out = tmp_path / "run"
    r = invoke_run(ds.root, out, cfg, "--limit", "1", "--no-progress")
    assert r.exit_code == 0, r.output
    assert "1 samples selected: 0 already done, 1 done now" in r.output and "LLM: 5 calls" in r.output
    assert list(read_json(out / "predictions.json")) == [ds.samples[0]["sample_key"]]

    r = CliRunner().invoke(
        main, ["run", str(ds.root), "--mode", "open", "--out", str(out), "--config", str(cfg)]
    )
    assert r.exit_code == 1 and "different mode" in r.output and "Traceback" not in r.output

    bad = tmp_path / "bad.yaml"
    bad.write_text("clip:\n  batchsize: 3\n")
    r = CliRunner().invoke(
        main, ["run", str(ds.root), "--mode", "closed", "--out", str(tmp_path / "x"), "--config", str(bad)]
    )
    assert r.exit_code == 1 and "bad.yaml: clip.batchsize: unknown setting" in r.output
    assert len(r.output.strip().splitlines()) == 1

    r = CliRunner().invoke(
        main, ["run", str(ds.root), "--mode", "closed", "--out", str(tmp_path / "y"), "--split", "nope"]
    )
    assert r.exit_code == 1 and "no sample has split 'nope'" in r.output


def test_runs_on_the_shared_tiny_dataset_and_the_eval_reads_the_outputs(tmp_path):
    from tests.helpers.tiny_dataset import make_tiny_dataset

    ds = make_tiny_dataset(tmp_path / "tiny")
    with FakeOpenAI() as srv:
        srv.add(
            "Split the action into",
            {
                "stages": [
                    {"name": n, "description": n, "retrieval_strings": [f"a photo of the {n}"]}
                    for n in ("setup", "main", "finish")
                ]
            },
        )
        srv.add(
            "For every stage, list the names",
            {
                "links": [
                    {"stage": "setup", "differences": ["wider"], "keypoints": ["start"]},
                    {"stage": "main", "differences": ["deeper", "faster"], "keypoints": ["peak"]},
                ]
            },
        )
        srv.add("Statement", {"answer_detailed": "", "answer": "a"})
        out = tmp_path / "run"
        run(ds.root, out, mode="closed", config=config(srv), progress=False)
    preds = read_json(out / "predictions.json")
    locs = read_json(out / "localization.json")
    for s in ds.samples:
        gt = {k for k, v in s["differences_gt"].items() if v is not None}
        assert set(preds[s["sample_key"]]) == gt
        for v in range(2):
            n = s["videos"][v]["n_frames"]
            kp = locs[s["sample_key"]][v]
            assert set(kp) == {"start", "peak"}
            assert 0 <= kp["start"][0] < kp["peak"][0] < n  # stages are in order
    r = CliRunner().invoke(
        main, ["eval", "closed", str(ds.root), str(out / "predictions.json"), "--out", str(tmp_path / "eval")]
    )
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(
        main,
        [
            "eval",
            "localization",
            str(ds.root),
            str(out / "localization.json"),
            "--out",
            str(tmp_path / "eval_loc"),
        ],
    )
    assert r.exit_code == 0, r.output


def test_failed_calls_leave_a_pair_incomplete_and_a_rerun_finishes_it(env, tmp_path):
    ds, _, _ = env
    with FakeOpenAI() as srv:
        srv.add("Split the action into", STAGES_ANSWER)
        srv.add("For every stage, list the names", links_answer())
        srv.add(lambda b: "triangle" in FakeOpenAI.text_of(b), {"answer_detailed": "", "answer": "maybe"})
        srv.add("Statement", oracle_reply)
        cfg = config(srv, llm={"max_invalid_retries": 0})
        out = tmp_path / "run"
        first = run(ds.root, out, mode="closed", config=cfg, progress=False)
        assert first.n_incomplete == 2 and first.n_done_now == 0
        preds = read_json(out / "predictions.json")
        assert all(p["2"]["prediction"] is None for p in preds.values())  # not forced to 'a'
        assert read_json(out / "report.json")["incomplete"] == [s["sample_key"] for s in ds.samples]
        srv.rules.pop(2)  # the endpoint behaves again
        n = len(srv.requests)
        second = run(ds.root, out, mode="closed", config=cfg, progress=False)
        assert second.n_done_now == 2
        assert len(srv.requests) - n == 2  # only the two failed statements are asked again
        preds = read_json(out / "predictions.json")
        assert [p["2"]["prediction"] for p in preds.values()] == [
            s["differences_gt"]["2"] for s in ds.samples
        ]


def test_a_proposer_that_never_answers_stops_the_run_and_saves_nothing(env, tmp_path):
    ds, _, _ = env
    with FakeOpenAI() as srv:
        srv.add(lambda b: True, "I cannot help with that.")
        cfg = tmp_path / "c.yaml"
        cfg.write_text(json.dumps(toy_clip_config(llm={"base_url": srv.base_url, "max_invalid_retries": 0})))
        out = tmp_path / "run"
        r = invoke_run(ds.root, out, cfg, "--no-progress")
    assert r.exit_code == 1
    assert r.output.startswith("error: proposer: the proposer got no valid answer")
    assert len(r.output.strip().splitlines()) == 1
    assert not (out / "proposals").exists()
    assert read_json(out / "predictions.json") == {}


def test_a_clip_that_cannot_load_fails_before_any_llm_call(env, tmp_path):
    ds, _, _ = env
    with FakeOpenAI() as srv:
        srv.add(lambda b: True, {"stages": []})
        cfg = tmp_path / "c.yaml"
        cfg.write_text(
            json.dumps(
                {
                    "llm": {"base_url": srv.base_url},
                    "clip": {"model": "ViT-B-32", "pretrained": str(tmp_path / "nope.pt")},
                }
            )
        )
        r = invoke_run(ds.root, tmp_path / "run", cfg, "--no-progress")
        assert r.exit_code == 1 and "clip.pretrained: checkpoint file not found" in r.output
        assert srv.requests == []


def test_per_sample_proposals_use_the_sample_seed(env, tmp_path):
    ds, srv, root = env
    n0 = len(srv.requests)
    out = tmp_path / "per_sample"
    run(ds.root, out, mode="closed", config=config(srv, proposer={"per": "sample"}), progress=False)
    assert sorted(p.name for p in (out / "proposals").iterdir()) == sorted(
        f"{s['sample_key']}.json" for s in ds.samples
    )
    seeds = {b["seed"] for b in srv.requests[n0:] if "Split the action into" in FakeOpenAI.text_of(b)}
    assert len(seeds) == 2
    preds = read_json(out / "predictions.json")
    assert all(
        {k: v["prediction"] for k, v in preds[s["sample_key"]].items()} == s["differences_gt"]
        for s in ds.samples
    )
