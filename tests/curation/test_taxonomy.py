"""`curate taxonomy ...` end to end: the real CLI, real files, the real openai client on loopback.

LLM answers are scripted by the test; nothing here measures a model.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from curation.cli import main
from curation.taxonomy.checks import check_taxonomy
from curation.taxonomy.edits import add_difference
from curation.taxonomy.store import load_taxonomy, save_taxonomy, taxonomy_path
from schemas.dataset_dir import load_dataset
from schemas.io import read_json, write_json
from tests.helpers.openai_server import FakeOpenAI, write_llm_config

MODEL = "fake-4o"

STAGES_ANSWER = {
    "stages": [
        {"name": "setup", "description": "stands tall"},
        {"name": "descent", "description": "bends down"},
        {"name": "rise", "description": "stands up"},
    ],
    "keypoints": [
        {"id": "lowest", "name": "lowest position", "description": "hips lowest", "stage": "descent"},
        {"id": "peak", "name": "peak", "description": "the lowest or highest point", "stage": "main"},
    ],
}


def diffs_answer(*names: str, keypoints=("lowest",)) -> dict:
    return {
        "differences": [
            {
                "name": n,
                "description": f"the {n} is more pronounced",
                "query_string": n,
                "num_frames": "1",
                "keypoints": list(keypoints),
            }
            for n in names
        ]
    }


@pytest.fixture
def ds(tiny_dataset) -> Path:
    return tiny_dataset


def run(*args: str, ok: bool = True, env: dict | None = None):
    res = CliRunner().invoke(main, [str(a) for a in args], env=env)
    if ok:
        assert res.exit_code == 0, res.output
    return res


def propose(srv: FakeOpenAI, ds: Path, tmp_path: Path, *extra: str, ok: bool = True):
    cfg = write_llm_config(tmp_path / "llm.yaml", srv, models={"taxonomy": MODEL})
    return run("taxonomy", "propose", ds, "--config", cfg, *extra, ok=ok)


def test_propose_adds_linked_drafts_and_keeps_accepted_items(ds, tmp_path):
    before = load_taxonomy(taxonomy_path(ds, "fitness_0"))
    notes = tmp_path / "expert.txt"
    notes.write_text("Coach: watch how low the hips go.")
    with FakeOpenAI() as srv:
        srv.add("stage transcript", STAGES_ANSWER)
        srv.add(
            "Propose 3 differences",
            diffs_answer(
                "hip depth", "knee travel", "torso lean", keypoints=("lowest", "peak", "nonexistent")
            ),
        )
        res = propose(srv, ds, tmp_path, "--action", "fitness_0", "--n", "3", "--context", notes)
        assert len(srv.requests) == 2
        assert "watch how low the hips go" in srv.text_of(srv.requests[0])
        # the second call sees the merged keypoints and the existing differences
        second = srv.text_of(srv.requests[1])
        assert "lowest: hips lowest" in second and "the movement is deeper" in second
        assert srv.requests[0]["model"] == MODEL
    tax = load_taxonomy(taxonomy_path(ds, "fitness_0"))
    new = {k: v for k, v in tax["differences"].items() if k not in before["differences"]}
    assert sorted(new, key=int) == ["4", "5", "6"]  # keys continue after next_key, never reused
    assert all(v["status"] == "draft" and v["origin"] == f"llm:{MODEL}" for v in new.values())
    assert new["4"]["keypoints"] == ["lowest", "peak"]  # unknown link dropped, existing 'peak' reused
    assert "unknown keypoint 'nonexistent'" in res.output
    for k, v in before["differences"].items():
        assert tax["differences"][k] == v
    assert tax["stages"] == before["stages"]  # existing stage transcript kept
    assert tax["keypoints"]["lowest"]["status"] == "draft" and tax["keypoints"]["lowest"]["stage"] is None
    assert "unknown stage 'descent'" in res.output
    assert tax["version"] == before["version"] + 1 and tax["status"] == "draft"
    assert read_json(ds / "taxonomies" / "history" / f"fitness_0.v{before['version']}.json") == before
    assert not [i for i in check_taxonomy(tax) if i.level == "error"]
    assert "taxonomy.differences" in res.output  # usage table (printed to stderr)


def test_propose_for_an_action_without_taxonomy(ds, tmp_path):
    taxonomy_path(ds, "diving_0").unlink()
    with FakeOpenAI() as srv:
        srv.add("stage transcript", STAGES_ANSWER)
        srv.add("Propose 2 differences", diffs_answer("entry angle", "splash"))
        propose(srv, ds, tmp_path, "--action", "diving_0", "--n", "2")
    tax = load_taxonomy(taxonomy_path(ds, "diving_0"))
    meta = read_json(ds / "dataset.json")["actions"]["diving_0"]
    assert tax["name"] == meta["name"] and tax["description"] == meta["description"]
    assert [s["name"] for s in tax["stages"]] == ["setup", "descent", "rise"]
    assert tax["keypoints"]["lowest"]["stage"] == "descent"
    assert "peak" in tax["keypoints"] and tax["keypoints"]["peak"]["stage"] is None  # 'main' is unknown
    assert sorted(tax["differences"]) == ["0", "1"] and tax["version"] == 1 and tax["next_key"] == 2


# case: (stages answer, differences answer, notes expected in the output, new keys, start from no taxonomy)
ODD = {
    "empty": (
        {"stages": [], "keypoints": []},
        {"differences": []},
        ["no stages", "no keypoints", "no differences"],
        0,
        True,
    ),
    "too_many": (
        STAGES_ANSWER,
        {
            "differences": [
                {
                    "name": f"{part} {how}",
                    "description": f"{how} {part}",
                    "query_string": "",
                    "num_frames": "1",
                    "keypoints": [],
                }
                for part in (
                    "hip",
                    "knee",
                    "ankle",
                    "elbow",
                    "wrist",
                    "shoulder",
                    "head",
                    "torso",
                    "foot",
                    "hand",
                )
                for how in ("raised", "wider", "quicker", "straighter", "bent")
            ]
        },
        ["returned 50 differences, 15 were asked"],
        15,
        False,
    ),
    "duplicates": (
        STAGES_ANSWER,
        {
            "differences": diffs_answer("arm swing", "arm swing", "Arm  Swing")["differences"]
            + [
                {
                    "name": "deeper",
                    "description": "the movement is deeper",
                    "query_string": "",
                    "num_frames": "1",
                    "keypoints": [],
                }
            ]
        },
        ["duplicate of key 4 (draft)", "duplicate of key 0 (active)"],
        1,
        False,
    ),
    "long_strings": (
        STAGES_ANSWER,
        {
            "differences": [
                {
                    "name": "n" * 5000,
                    "description": "d" * 20000,
                    "query_string": "q" * 3000,
                    "num_frames": "gt_1",
                    "keypoints": ["x" * 2000],
                }
            ]
        },
        ["cut to 80", "cut to 500", "cut to 200", "link dropped"],
        1,
        True,
    ),
    "names_a_video": (
        STAGES_ANSWER,
        {
            "differences": [
                {
                    "name": "depth",
                    "description": "Video A squats deeper",
                    "query_string": "",
                    "num_frames": "1",
                    "keypoints": ["Lowest Position"],
                }
            ]
        },
        ["not direction-free", "kept the 3 existing stage(s)"],
        1,
        False,
    ),
    "empty_strings": (
        {
            "stages": [
                {"name": " ", "description": ""},
                {"name": "go", "description": "x"},
                {"name": "GO", "description": "y"},
            ],
            "keypoints": [{"id": "", "name": "", "description": "", "stage": ""}],
        },
        {
            "differences": [
                {"name": "", "description": "", "query_string": "", "num_frames": "1", "keypoints": []}
            ]
        },
        ["stage 0: empty name", "duplicate, skipped", "no id or name", "empty name or description"],
        0,
        True,
    ),
}


@pytest.mark.parametrize("case", sorted(ODD))
def test_odd_but_valid_answers_are_repaired_and_reported(ds, tmp_path, case):
    stages, diffs, expected_notes, n_added, fresh = ODD[case]
    if fresh:
        taxonomy_path(ds, "diving_0").unlink()
    n_before = 0 if fresh else len(load_taxonomy(taxonomy_path(ds, "diving_0"))["differences"])
    with FakeOpenAI() as srv:
        srv.add("stage transcript", stages)
        srv.add("differences in how", diffs)
        res = propose(srv, ds, tmp_path, "--action", "diving_0")
    for note in expected_notes:
        assert note in res.output, (note, res.output)
    tax = load_taxonomy(taxonomy_path(ds, "diving_0"))
    assert len(tax["differences"]) == n_before + n_added
    assert not [i for i in check_taxonomy(tax) if i.level == "error"]
    for d in tax["differences"].values():
        assert len(d["name"]) <= 80 and len(d["description"]) <= 500 and len(d["query_string"]) <= 200
    if case == "names_a_video":
        assert tax["differences"]["4"]["keypoints"] == ["lowest"]  # matched by name


def test_curation_by_key_and_history(ds):
    t = lambda: load_taxonomy(taxonomy_path(ds, "fitness_0"))  # noqa: E731
    v1 = t()
    tax = t()
    add_difference(
        tax,
        {
            "name": "deeper squat",
            "description": "the squat movement is deeper",
            "query_string": "deeper squat",
            "num_frames": "1",
            "keypoints": ["peak"],
        },
    )
    add_difference(tax, {"name": "arm swing", "description": "the arms swing more", "num_frames": "gt_1"})
    assert save_taxonomy(ds, tax, op="test")
    res = run("taxonomy", "validate", ds, "--action", "fitness_0")
    assert "near-duplicate of 0" in res.output and "2 draft difference(s)" in res.output
    run("taxonomy", "accept", ds, "--action", "fitness_0", "5")
    run("taxonomy", "merge", ds, "--action", "fitness_0", "0", "4", "--description", "the squat is deeper")
    run("taxonomy", "retire", ds, "--action", "fitness_0", "2")
    run(
        "taxonomy", "edit", ds, "--action", "fitness_0", "5", "--num-frames", "1", "--keypoints", "start,peak"
    )
    tax = t()
    d = tax["differences"]
    assert (
        d["5"]["status"] == "active"
        and d["5"]["num_frames"] == "1"
        and d["5"]["keypoints"] == ["start", "peak"]
    )
    assert d["4"]["status"] == "retired" and d["4"]["merged_into"] == "0"
    assert d["0"]["description"] == "the squat is deeper" and d["0"]["keypoints"] == ["peak"]
    assert d["2"]["status"] == "retired" and tax["status"] == "accepted"
    assert tax["version"] == v1["version"] + 5
    assert [h["op"] for h in tax["history"]][-4:] == ["accept", "merge", "retire", "edit"]
    hist = sorted(p.name for p in (ds / "taxonomies" / "history").iterdir())
    assert hist == [f"fitness_0.v{v}.json" for v in range(1, 6)]
    # a new difference never reuses a key, even after retirements
    tax = t()
    assert add_difference(tax, {"name": "new", "description": "something new"}) == "6"
    # diff between the first and the current version
    res = run(
        "taxonomy",
        "diff",
        ds / "taxonomies" / "history" / "fitness_0.v1.json",
        taxonomy_path(ds, "fitness_0"),
    )
    assert "+ 4 [retired] deeper squat" in res.output and "~ 2.status: 'active' -> 'retired'" in res.output
    js = json.loads(
        run(
            "taxonomy", "diff", taxonomy_path(ds, "fitness_0"), taxonomy_path(ds, "fitness_0"), "--json"
        ).output
    )
    assert js["added"] == [] and js["changed"] == {}
    # no change -> no new version
    res = run("taxonomy", "retire", ds, "--action", "fitness_0", "2")
    assert "no change" in res.output and t()["version"] == v1["version"] + 5


def test_keys_are_never_removed_and_bad_edits_are_one_line_errors(ds):
    path = taxonomy_path(ds, "fitness_0")
    tax = load_taxonomy(path)
    del tax["differences"]["1"]
    with pytest.raises(Exception, match="never removed"):
        save_taxonomy(ds, tax, op="test")
    for args, msg in [
        (("accept", ds, "--action", "fitness_0", "99"), "no difference with key '99'"),
        (("edit", ds, "--action", "fitness_0", "0", "--keypoints", "nowhere"), "unknown keypoint"),
        (("merge", ds, "--action", "fitness_0", "0", "0"), "into itself"),
        (("accept", ds, "--action", "fitness_0", "3"), "is retired"),
    ]:
        res = run("taxonomy", *args, ok=False)
        assert res.exit_code == 1 and msg in res.output and "Traceback" not in res.output
        assert len(res.output.strip().splitlines()) == 1
    assert load_taxonomy(path)["version"] == 1  # nothing was written


def test_validate_reports_json_paths(ds):
    path = taxonomy_path(ds, "fitness_0")
    tax = read_json(path)
    tax["differences"]["1"]["num_frames"] = "3"
    write_json(path, tax)
    res = run("taxonomy", "validate", path, ok=False)
    assert res.exit_code == 1 and "$.differences.1.num_frames" in res.output
    tax["differences"]["1"]["num_frames"] = "1"
    tax["differences"]["1"]["keypoints"] = ["start", "elbow"]
    tax["keypoints"]["start"]["stage"] = "warmup"
    tax["next_key"] = 2
    write_json(path, tax)
    res = run("taxonomy", "validate", ds, ok=False)
    for p in ("$.differences.1.keypoints[1]", "$.keypoints.start.stage", "$.differences.3: key is not below"):
        assert p in res.output
    assert "diving_0.json: ok" in res.output
    # apply refuses a broken taxonomy and writes nothing
    before = (ds / "samples.jsonl").read_bytes()
    res = run("taxonomy", "apply", ds, ok=False)
    assert (
        res.exit_code == 1
        and "fitness_0.json" in res.output
        and (ds / "samples.jsonl").read_bytes() == before
    )


def test_apply_refuses_a_taxonomy_filed_under_another_action(ds):
    tax = read_json(taxonomy_path(ds, "fitness_0"))
    tax["action"] = "diving_0"
    write_json(taxonomy_path(ds, "fitness_0"), tax)
    before = (ds / "samples.jsonl").read_bytes()
    res = run("taxonomy", "apply", ds, ok=False)
    assert res.exit_code == 1 and "fitness_0.json" in res.output and "'diving_0'" in res.output
    assert (ds / "samples.jsonl").read_bytes() == before


def test_apply_fills_rows_retired_null_drafts_left_out(ds):
    tax = load_taxonomy(taxonomy_path(ds, "fitness_0"))
    add_difference(
        tax,
        {"name": "arm swing", "description": "the arms swing more", "num_frames": "gt_1"},
        status="active",
    )
    add_difference(tax, {"name": "head tilt", "description": "the head tilts more", "num_frames": "1"})
    tax["differences"]["1"]["status"] = "retired"
    save_taxonomy(ds, tax, op="test")
    gt_before = {s["sample_key"]: s["differences_gt"] for s in load_dataset(ds).samples}
    res = run("taxonomy", "apply", ds)
    assert "fitness_0: 2 row(s) updated" in res.output and "1 draft difference(s) not applied" in res.output
    loaded = load_dataset(ds)
    for s in loaded.samples:
        assert s["differences_gt"] == gt_before[s["sample_key"]]
        da = s["differences_annotated"]
        if s["action"] == "fitness_0":
            assert da["1"] is None and da["3"] is None and "5" not in da
            assert da["4"] == {
                "name": "arm swing",
                "description": "the arms swing more",
                "query_string": "the arms swing more",
                "num_frames": "gt_1",
                "keypoints": [],
            }
            assert da["0"]["keypoints"] == ["peak"]
    assert loaded.meta["meta"]["taxonomy_versions"]["fitness_0"] == 2
    res = run("taxonomy", "apply", ds)
    assert "0 row(s) updated, 2 unchanged" in res.output


def test_dups_command(ds):
    tax = load_taxonomy(taxonomy_path(ds, "fitness_0"))
    add_difference(
        tax, {"name": "faster movement", "description": "the movement is a bit faster", "num_frames": "gt_1"}
    )
    save_taxonomy(ds, tax, op="test")
    res = run("taxonomy", "dups", ds, "--action", "fitness_0")
    assert "1 ~ 4" in res.output
    assert (
        "no near-duplicates"
        in run("taxonomy", "dups", ds, "--action", "diving_0", "--threshold", "99").output
    )


def test_accept_all_and_keypoints_then_apply(ds, tmp_path):
    taxonomy_path(ds, "diving_0").unlink()
    with FakeOpenAI() as srv:
        srv.add("stage transcript", STAGES_ANSWER)
        srv.add("Propose 2 differences", diffs_answer("entry angle", "splash size", keypoints=()))
        propose(srv, ds, tmp_path, "--action", "diving_0", "--n", "2")
    run("taxonomy", "accept", ds, "--action", "diving_0", "--keypoint", "peak")
    tax = load_taxonomy(taxonomy_path(ds, "diving_0"))
    assert tax["keypoints"]["peak"]["status"] == "active" and tax["keypoints"]["lowest"]["status"] == "draft"
    assert tax["status"] == "draft"
    res = run("taxonomy", "accept", ds, "--action", "diving_0", "--all")
    assert "accepted 0, 1" in res.output and "keypoints lowest" in res.output
    tax = load_taxonomy(taxonomy_path(ds, "diving_0"))
    assert tax["status"] == "accepted" and {d["status"] for d in tax["differences"].values()} == {"active"}
    run("taxonomy", "apply", ds, "--action", "diving_0")
    row = next(s for s in load_dataset(ds).samples if s["action"] == "diving_0")
    assert sorted(row["differences_annotated"]) == ["0", "1"]
    assert row["differences_annotated"]["1"]["name"] == "splash size"
    res = run("taxonomy", "accept", ds, "--action", "diving_0", ok=False)
    assert res.exit_code == 1 and "--all" in res.output
