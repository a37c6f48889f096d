"""A lab's private source, added without forking: one module in its own package, found by entry point.

The plugin below is written to a temporary folder as a real distribution (a module plus a ``.dist-info``
with ``entry_points.txt``), so the toolkit finds it through ``importlib.metadata`` exactly as it would
find an installed package; nothing in the toolkit is edited. Build configs, ``source_dataset`` names,
the licence notes and ``curate sources scan`` then know it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from curation.samples.synthetic import write_video
from curation.sources import registry

PLUGIN = '''
"""MyLab waves: ROOT/<person>_<novice|expert>.mp4 (SYNTHETIC test source)."""

from curation.sources import ON_BAD_MEDIA, BaseAdapter, ClipRecord, Option, ScanResult, norm, positive, probe_videos

RANK = {"novice": 0, "expert": 1}


class MyLabAdapter(BaseAdapter):
    name = "mylab"
    dataset_name = "MyLab"
    title = "MyLab Waves"
    licence = "MyLab internal licence (no redistribution)"
    link = "https://example.invalid/mylab"
    note = "Recorded in the lab; ask the lab for access."
    citation = "@misc{mylab, title = {MyLab Waves}}"
    OPTIONS = {"fps": Option(float, 30.0, "declared frame rate", positive), "on_bad_media": ON_BAD_MEDIA}
    SELECT = {"action": lambda c, v: norm(c.action) == norm(v)}

    def _scan(self, root, opts):
        paths = sorted(root.glob("*_*.mp4"))
        probed, bad = probe_videos(paths, on_error=opts["on_bad_media"], source=self.name)
        clips = []
        for path in paths:
            if path not in probed:
                continue
            person, level = path.stem.split("_")
            clips.append(
                ClipRecord(
                    clip_id=path.stem, dataset=self.name, action="wave", media_path=str(path),
                    media_kind="video", n_frames=probed[path].n_frames, fps_declared=opts["fps"],
                    fps_measured=probed[path].fps, participant=person,
                    skill={"level": level, "score": None, "scale": "novice/expert", "rank": RANK[level]},
                )
            )
        return ScanResult(clips, bad)
'''


def _write_plugin(site: Path) -> None:
    (site / "mylab_viddiff").mkdir(parents=True)
    (site / "mylab_viddiff" / "__init__.py").write_text("")
    (site / "mylab_viddiff" / "source.py").write_text(PLUGIN)
    info = site / "mylab_viddiff-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: mylab-viddiff\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[viddiff_toolkit.sources]\nmylab = mylab_viddiff.source:MyLabAdapter\n"
    )


@pytest.fixture
def plugin_site(tmp_path, monkeypatch) -> Path:
    site = tmp_path / "site"
    _write_plugin(site)
    monkeypatch.syspath_prepend(str(site))
    # a fresh registry for this test: built-ins plus whatever entry points are on sys.path now
    monkeypatch.setattr(registry, "_registry", {})
    monkeypatch.setattr(registry, "_loaded", False)
    return site


def _lab_root(root: Path) -> Path:
    for i, (person, level) in enumerate(
        [("p1", "novice"), ("p2", "expert"), ("p3", "novice"), ("p4", "expert")]
    ):
        write_video(root / f"{person}_{level}.mp4", 20 + i, "mylab")
    return root


def test_a_plugin_source_is_registered_and_builds_like_a_builtin(plugin_site, tmp_path):
    from curation.build.builder import build
    from curation.publish.card import licence_notes

    assert registry.source_names()[:4] == ("humman", "egoexo4d", "finediving", "jigsaws")
    assert "mylab" in registry.source_names()
    assert registry.source_key("MyLab") == "mylab"

    root = _lab_root(tmp_path / "lab")
    config = tmp_path / "build.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "name": "mylab-waves",
                "version": "0.1.0",
                "sources": {"mylab": {"root": str(root), "fps": 30}},
                "actions": [
                    {
                        "key": "wave_0",
                        "name": "wave",
                        "description": "A wave (SYNTHETIC).",
                        "domain": "gesture",
                        "source": "mylab",
                        "select": {"action": "wave"},
                        "pairs": {"count": 2, "strategy": "skill_contrast"},
                    }
                ],
            }
        )
    )
    report = build(config, out=tmp_path / "ds", workers=1, progress=False)
    assert report.n_samples == 2 and report.made == 4
    rows = [json.loads(line) for line in (tmp_path / "ds" / "samples.jsonl").read_text().splitlines()]
    assert {r["source_dataset"] for r in rows} == {"MyLab"}
    for r in rows:  # skill contrast: the pair holds one novice and one expert
        assert {v["source"]["skill"]["level"] for v in r["videos"]} == {"novice", "expert"}
    assert "**MyLab Waves**: MyLab internal licence (no redistribution)" in licence_notes(rows)


def test_a_plugin_source_shows_in_the_cli_from_its_entry_point(plugin_site, tmp_path):
    root = _lab_root(tmp_path / "lab")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(plugin_site), *sys.path])}
    r = subprocess.run(
        [sys.executable, "-m", "curation.cli", "sources", "scan", "mylab", str(root), "--json"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    clips = json.loads(r.stdout)["clips"]
    assert sorted(c["clip_id"] for c in clips) == ["p1_novice", "p2_expert", "p3_novice", "p4_expert"]
    # without the plugin on the path, the same command is one line naming the known sources
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p != str(plugin_site))
    r = subprocess.run(
        [sys.executable, "-m", "curation.cli", "sources", "scan", "mylab", str(root)],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert r.returncode != 0 and "unknown source 'mylab'" in r.stderr and "Traceback" not in r.stderr
    assert r.stderr.strip().count("\n") == 0, r.stderr
