"""Small SYNTHETIC source trees in the four real layouts, plus a build config that uses them all.

``curate samples OUT`` (and the tests) call :func:`write_sample_sources`. Every frame is made by
:func:`curation.samples.synthetic.render_frame` with ``index`` = the frame's position in its source media (0, 1,
2, … in sorted order, also for image folders whose file names keep the real layout's numbers), so a test
can read the barcode of any built clip and tell exactly which source frames landed in it. The trees carry
the pitfalls of the real layouts (README, "Source adapters"): HuMMan Recon ids stepping by 6 (and a folder with a gap), a
Point ``video_splitter`` frame folder next to its mp4; an Ego-Exo4D take with ``best_exo`` and task times
null, ``gp01`` cameras, camera roles in ``capture.cameras`` (one take only in ``captures.json``), ``downscaled/448`` next to full-size files, a take listed but not downloaded,
proficiency files both wrapped and bare; FineDiving 5- and 8-digit names, a numeric source ``'01'``, numpy
arrays in the pickles, a label/frame-count mismatch; JIGSAWS double-tab meta lines, a 320x240 capture1
vs a 160x120 capture2, a transcription running past the video, the missing ``Suturing_H002`` video and
both mirror layouts. Nothing here is real data: ``README.txt`` in the tree and the text on every frame
say so.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from curation.samples.taxonomies import write_sample_taxonomies
from curation.sources import BaseAdapter, sources
from schemas import check
from schemas.io import atomic_write, write_json

GENERATOR_VERSION = 3
README = """SYNTHETIC SAMPLE SOURCES - NOT REAL DATA

Written by `curate samples` (curation/samples/trees.py, generator v{version}, seed {seed}).
These folders mimic the on-disk layouts of HuMMan, Ego-Exo4D, FineDiving and JIGSAWS so that
`curate build config.yaml` can run end to end. Every image and video frame is rendered: it shows its
frame index as text and as a 16-bit barcode (curation.samples.synthetic.read_barcode). Names, scores, skill
levels and annotations are invented; no frame, label or score comes from the real datasets.
"""


# --------------------------------------------------------------------------------------------- config


def sample_config() -> dict[str, Any]:
    """The build config for the sample trees (relative roots; every source, trim kind and strategy).

    Each registered source with a sample tree contributes its ``SAMPLE_OPTIONS`` block and its
    ``SAMPLE_ACTIONS`` (set on its adapter class under curation/sources/).
    """
    with_trees = sample_sources()
    return {
        "name": "viddiff-sample",
        "version": "0.1.0",
        "seed": 0,
        "output": "dataset",
        "encode": {"crf": 18, "preset": "veryfast"},
        "sources": {name: dict(cls.SAMPLE_OPTIONS) for name, cls in with_trees.items()},
        "actions": [dict(a) for cls in with_trees.values() for a in cls.SAMPLE_ACTIONS],
    }


def sample_sources() -> dict[str, type[BaseAdapter]]:
    """The registered sources that ship a SYNTHETIC sample tree, in registry order."""
    return {name: cls for name, cls in sources().items() if cls.SAMPLE_OPTIONS is not None}


STAMP = ".sample_sources.json"


def write_sample_sources(out: Path, *, seed: int = 0, force: bool = False) -> Path:
    """Write the four synthetic source trees under ``out/`` and ``out/config.yaml``; return the config path.

    Deterministic for a seed. Each tree is written to a temporary folder and renamed into place, so an
    interrupted run leaves no half tree; a finished tree for the same seed and generator version is kept
    as is (``force`` rewrites it), so rerunning ``make sample`` does no work.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    stamp = {"generator": GENERATOR_VERSION, "seed": seed}
    config_path = out / "config.yaml"
    done = out / STAMP
    if (
        not force
        and done.is_file()
        and json.loads(done.read_text()) == stamp
        and config_path.is_file()
        and all((out / name).is_dir() for name in sample_sources())
    ):
        return config_path
    done.unlink(missing_ok=True)
    for k, (name, cls) in enumerate(sample_sources().items()):
        tmp = out / f".{name}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        try:
            cls.write_sample_tree(tmp, np.random.default_rng([seed, k]))
            atomic_write(tmp / "README.txt", README.format(version=GENERATOR_VERSION, seed=seed))
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        shutil.rmtree(out / name, ignore_errors=True)
        tmp.rename(out / name)
    config = sample_config()
    config["seed"] = seed
    check("build_config", config, file=str(config_path))
    atomic_write(out / "README.txt", README.format(version=GENERATOR_VERSION, seed=seed))
    atomic_write(
        config_path,
        "# SYNTHETIC sample sources: see README.txt. Relative roots resolve against this folder.\n"
        "# humman on_bad_media: skip leaves out the Recon folder with a gap (p000004) instead of stopping.\n"
        + yaml.safe_dump(config, sort_keys=False, allow_unicode=True, width=110),
    )
    write_sample_taxonomies(out / "taxonomies", config)  # one per action, for annotation rounds
    write_json(done, stamp)
    return config_path
