"""Methods are a registry: a new one is one class (or an entry point), and `viddiff run` runs it as is."""

from __future__ import annotations

import pytest

from schemas.errors import ToolkitError
from schemas.io import read_json
from viddiff_method import methods as reg
from viddiff_method.config import RunConfig
from viddiff_method.pipeline import run


class FirstFrameMethod(reg.RandomMethod):
    """A private baseline: every keypoint and every difference at frame 0."""

    name = "first-frame"

    def keypoint_frame(self, run, s, loc_id, n_frames, rng):
        return 0

    def difference_frames(self, run, d, kp, n_frames, fps, rng):
        return [0]


def test_builtin_methods_and_unknown_name():
    assert list(reg.methods())[:4] == ["viddiff", "lmm", "random", "prior"]
    with pytest.raises(ToolkitError, match="unknown method 'nope'; use one of viddiff, lmm, random, prior"):
        reg.get_method("nope")
    with pytest.raises(ToolkitError, match="not a method"):
        reg.register_method(dict)


def test_a_registered_method_runs_through_the_pipeline(tiny_dataset, tmp_path, monkeypatch):
    from tests.helpers.openai_server import FakeOpenAI

    monkeypatch.setitem(reg._registry, "first-frame", FirstFrameMethod)
    with FakeOpenAI() as srv:
        srv.add("Statement", {"answer": "a", "answer_detailed": ""})
        cfg = RunConfig.from_dict({"llm": {"base_url": srv.base_url, "structured_output": "json_schema"}})
        summary = run(
            tiny_dataset, tmp_path / "run", mode="closed", method="first-frame", config=cfg, progress=False
        )
    assert summary.n_done_now >= 1
    frames = read_json(tmp_path / "run" / "difference_frames.json")
    assert frames and all(f == [0] for sides in frames.values() for side in sides for f in side.values())
    assert read_json(tmp_path / "run" / "config.json")["method"] == "first-frame"
