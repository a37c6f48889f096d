"""Judge protocols as data: shipped files, --judge-prompts, the request a protocol sends, comparability."""

from __future__ import annotations

import ast
import json
import shutil

import pytest
from click.testing import CliRunner

import eval.judges.protocol as protocol_mod
from eval.judges.protocol import available_protocols, comparability, load_protocol, sha256_text, with_prompts
from schemas.errors import ToolkitError
from tests.eval.fixtures import rows, write_dataset
from tests.helpers.openai_server import FakeOpenAI, text_of
from viddiff_method.cli import main

# Stand-in prompt texts with the published protocol's placeholders (the official text is not shipped;
# a researcher passes the official eval_viddiff.py). JSON braces in the text must survive filling.
STAND_IN = '''
prompt_open_eval_matching = """MATCH for "{action_description}".
Dictionary 0: {differences0}
Dictionary 1: {differences1}
Keys 0: {dict0_keys}; keys 1: {dict1_keys}. Example: {"0": "3", "{final}": "0"}"""

prompt_open_eval_check_opposite = "old text, overwritten below"
prompt_open_eval_check_opposite = """OPPOSITE pairs: {statements}
Answer {"results": ["0", "1"]}"""
'''


def _consts(text: str) -> dict[str, str]:
    tree = ast.parse(text)
    return {n.targets[0].id: n.value.value for n in tree.body if isinstance(n, ast.Assign)}


def test_shipped_protocols_load_and_validate():
    assert {"toolkit-v1", "published-v1"} <= set(available_protocols())
    pub = load_protocol("published-v1")
    assert pub.shipped and pub.spec["published"]
    for c in ("match", "opposite"):
        assert pub.sampling(c) == {"temperature": 1, "top_p": 1, "max_tokens": 2048}
        assert pub.prompts[c] is None  # not shipped: must come from --judge-prompts
    tk = load_protocol()
    assert tk.name == "toolkit-v1" and not tk.spec["published"] and tk.prompts["match"]


def test_bad_protocol_file_is_one_line(tmp_path):
    bad = json.loads((protocol_mod.PROTOCOL_DIR / "toolkit-v1.json").read_text())
    bad["match"]["sampling"]["top_p"] = 2
    (tmp_path / "p.json").write_text(json.dumps(bad))
    with pytest.raises(ToolkitError, match=r"p\.json.*match\.sampling\.top_p"):
        load_protocol(tmp_path / "p.json")
    with pytest.raises(ToolkitError, match="unknown judge protocol"):
        load_protocol("nope-v9")


def test_judge_prompts_from_python_or_json(tmp_path):
    (tmp_path / "eval_viddiff.py").write_text(STAND_IN)
    pub = with_prompts(load_protocol("published-v1"), tmp_path / "eval_viddiff.py")
    consts = _consts(STAND_IN)
    assert pub.prompts["match"] == consts["prompt_open_eval_matching"]
    assert pub.prompts["opposite"].startswith("OPPOSITE")  # the last assignment wins
    (tmp_path / "p.json").write_text(json.dumps({"match": "no placeholders here"}))
    with pytest.raises(ToolkitError, match=r"match prompt lacks the placeholder\(s\) \{action_description\}"):
        with_prompts(load_protocol("published-v1"), tmp_path / "p.json")
    (tmp_path / "q.json").write_text(json.dumps({"opposite": "pairs: {pairs} ({n})"}))
    tk = with_prompts(load_protocol(), tmp_path / "q.json")
    assert (
        tk.prompts["opposite"] == "pairs: {pairs} ({n})"
        and tk.prompts["match"] == load_protocol().prompts["match"]
    )


def test_published_protocol_needs_the_prompt_text(tmp_path):
    ds = write_dataset(tmp_path / "ds", rows()[:1])
    (tmp_path / "p.json").write_text(json.dumps({"s1": {"0": {"description": "x", "prediction": "a"}}}))
    res = CliRunner().invoke(
        main,
        [
            "eval",
            "open",
            str(ds),
            str(tmp_path / "p.json"),
            "--out",
            str(tmp_path / "o"),
            "--judge-protocol",
            "published-v1",
            "--base-url",
            "http://127.0.0.1:9",
        ],
    )
    assert res.exit_code == 1 and "pass --judge-prompts" in res.output and "Traceback" not in res.output


def _match_reply(body):
    text = text_of(body)
    d0 = json.loads(text.split("Dictionary 0: ")[1].split("\n")[0])
    d1 = json.loads(text.split("Dictionary 1: ")[1].split("\n")[0])
    pairs = {"0": "0", "1": "1"}  # "squats lower" -> 0, "arms more bent" -> 1; the rest "None"
    return {
        "matches": [
            {"key_dict0": k, "key_dict1": pairs.get(k, "None") if pairs.get(k) in d1 else "None"} for k in d0
        ]
    }


def _opposite_reply(body):
    pairs = ast.literal_eval(text_of(body).split("OPPOSITE pairs: ")[1].split("\n")[0])
    return {"results": ["1" if "bent" in p else "0" for _g, p in pairs]}


def test_published_protocol_request_shape_and_record(tmp_path):
    """The published protocol sends what eval_viddiff.py sends: str.replace filling, JSON dictionaries,
    sorted keys, {final}, the Python-list pairs, key_dict0/key_dict1 and "0"/"1" answers, and
    temperature 1, top_p 1, max_tokens 2048; the results record the protocol and every prompt's sha256."""
    ds = write_dataset(tmp_path / "ds", rows()[:1])  # s1: gt {0:a, 1:b, 2:c, 4:a}
    preds = {
        "s1": {
            "0": {"description": "squats lower", "prediction": "a"},
            "1": {"description": "arms more bent", "prediction": "a"},
        }
    }
    (tmp_path / "p.json").write_text(json.dumps(preds))
    (tmp_path / "eval_viddiff.py").write_text(STAND_IN)
    with FakeOpenAI() as srv:
        srv.add("MATCH for", _match_reply)
        srv.add("OPPOSITE pairs", _opposite_reply)
        res = CliRunner().invoke(
            main,
            [
                "eval",
                "open",
                str(ds),
                str(tmp_path / "p.json"),
                "--out",
                str(tmp_path / "o"),
                "--judge-protocol",
                "published-v1",
                "--judge-prompts",
                str(tmp_path / "eval_viddiff.py"),
                "--strict-official",
                "--base-url",
                srv.base_url,
            ],
        )
        assert res.exit_code == 0, res.output
        reqs = list(srv.requests)
    assert [r["model"] for r in reqs] == ["gpt-4o-2024-08-06", "gpt-4o-mini"]
    assert all((r["temperature"], r["top_p"], r["max_tokens"]) == (1, 1, 2048) for r in reqs)
    match_text = text_of(reqs[0])
    assert 'MATCH for "standing hip circle".' in match_text
    assert (
        '{"0": "the squat is deeper", "1": "the arms are straighter", "2": "the stance is wider", '
        in match_text
    )
    assert 'Keys 0: ["0", "1", "2", "4"]; keys 1: ["0", "1"]' in match_text
    assert 'Example: {"0": "3", "3": "0"}' in match_text  # {final} = number of gt keys - 1
    assert (
        "[['the squat is deeper', 'squats lower'], ['the arms are straighter', 'arms more bent']]"
        in text_of(reqs[1])
    )
    m = json.loads((tmp_path / "o" / "metrics.json").read_text())
    # gt 0 right; gt 1 "more bent" flipped a -> b, right; gt 4 no match
    assert (m["n"], m["correct"], m["err_nomatch"]) == (3, 2, pytest.approx(1 / 3))
    consts = _consts(STAND_IN)
    proto = m["judge"]["protocol"]
    assert proto["name"] == "published-v1" and proto["version"] == 1
    assert proto["prompts_sha256"] == {
        "match": sha256_text(consts["prompt_open_eval_matching"]),
        "opposite": sha256_text(consts["prompt_open_eval_check_opposite"]),
    }
    assert m["judge"]["sampling"]["match"] == {"temperature": 1, "top_p": 1, "max_tokens": 2048}
    # the stand-in text is not the official one, so the numbers are not comparable; the reason says why
    assert m["comparable_to_published"] is False
    assert any("match prompt sha256" in r for r in m["not_comparable_because"])
    assert "not comparable to the published leaderboard" in res.output


def test_comparable_only_with_published_protocol_prompts_models_and_rules(tmp_path, monkeypatch):
    (tmp_path / "eval_viddiff.py").write_text(STAND_IN)
    consts = _consts(STAND_IN)
    home = tmp_path / "protocols"
    shutil.copytree(protocol_mod.PROTOCOL_DIR, home)
    spec = json.loads((home / "published-v1.json").read_text())
    spec["match"]["prompt_sha256"] = sha256_text(consts["prompt_open_eval_matching"])
    spec["opposite"]["prompt_sha256"] = sha256_text(consts["prompt_open_eval_check_opposite"])
    (home / "published-v1.json").write_text(json.dumps(spec))
    monkeypatch.setattr(protocol_mod, "PROTOCOL_DIR", home)  # as if the stand-in were the official text

    pub = with_prompts(load_protocol("published-v1"), tmp_path / "eval_viddiff.py")
    models = {"match": "gpt-4o-2024-08-06", "opposite": "gpt-4o-mini-2024-07-18"}
    assert comparability(pub, models) == (True, [])
    ok, why = comparability(pub, {**models, "match": "my-judge"})
    assert not ok and why == ["match model 'my-judge' is not a published judge model"]
    ok, why = comparability(with_prompts(load_protocol("toolkit-v1"), None), models)
    assert not ok and "not the published one" in why[0]
    copy = tmp_path / "mine.json"  # a copy outside the toolkit never counts as the published protocol
    copy.write_text(json.dumps(spec))
    assert comparability(with_prompts(load_protocol(copy), tmp_path / "eval_viddiff.py"), models)[0] is False


def test_toolkit_protocol_sends_the_same_text_as_before_protocols():
    """toolkit-v1 renders byte-identical prompts to the hard-coded ones it replaced (sha256 of the old
    eval/judges/__init__.py output for this input), so judge caches written before protocols existed stay valid."""
    from eval.judges import match_values, opposite_values

    tk = load_protocol("toolkit-v1")
    gt = {"0": "the squat is deeper", "4": "the back is more upright"}
    match = tk.render("match", match_values("standing hip circle", gt, {"1": "squats lower"}))
    opposite = tk.render("opposite", opposite_values([("x", "y"), ("u", "v")]))
    assert sha256_text(match) == "fd7cb0572bca4827f5d03fbb86351c288e82ba4d1432c31b3642219b6b2c8f6a"
    assert sha256_text(opposite) == "51b7df06e4e61bcfc888dddbd3c0465ea2cb970296cbb776ff51c5b14f2ff5d0"
