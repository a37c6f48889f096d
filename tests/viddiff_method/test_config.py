"""The run config: defaults equal the documented YAML, overrides, and one-line errors naming file and key."""

from __future__ import annotations

import pytest

from schemas.errors import ToolkitError
from viddiff_method.config import DEFAULT_YAML, RunConfig


def test_default_yaml_documents_exactly_the_defaults():
    assert RunConfig.load(DEFAULT_YAML) == RunConfig()
    cfg = RunConfig()
    assert cfg.clip.model == "ViT-bigG-14" and cfg.clip.pretrained == "laion2b_s39b_b160k"
    assert cfg.fps == {"fitness": 8, "ballsports": 5, "diving": 6, "music": 1, "surgery": 1}
    assert (cfg.localizer.frames_per_difference, cfg.localizer.spacing_seconds) == (3, 0.35)
    assert cfg.llm.images_per_request == 250


def test_partial_override(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text(
        "clip:\n  pretrained: null\n  device: cpu\nfps:\n  fitness: 4\n  cooking: 2\nfps_default: 3\n"
    )
    cfg = RunConfig.load(p)
    assert cfg.clip.pretrained is None and cfg.clip.model == "ViT-bigG-14"
    assert cfg.fps_for("fitness") == 4 and cfg.fps_for("cooking") == 2 and cfg.fps_for("unknown") == 3


@pytest.mark.parametrize(
    "yaml_text,match",
    [
        ("clip:\n  batchsize: 3\n", "c.yaml: clip.batchsize: unknown setting"),
        ("llm:\n  images_per_request: 400\n", "llm.images_per_request: must be between 1 and 250"),
        (
            "localizer:\n  frames_per_difference: 2\n",
            "localizer.frames_per_difference: must be an odd number",
        ),
        ("localizer:\n  frames_per_difference: '3'\n", "expected int, got str"),
        ("differencer:\n  options: abcd\n", "differencer.options"),
        ("clip:\n  device: tpu\n", "clip.device"),
        ("fps:\n  fitness: 0\n", "fps.fitness: must be a positive number"),
        ("seed: [1]\n", "seed: expected int"),
        ("- a list\n", "expected a mapping"),
    ],
)
def test_bad_values_name_file_and_key(tmp_path, yaml_text, match):
    p = tmp_path / "c.yaml"
    p.write_text(yaml_text)
    with pytest.raises(ToolkitError, match=match) as e:
        RunConfig.load(p)
    assert "\n" not in str(e.value)
