"""Run the sample build and a sample `viddiff run` + eval through the CLIs; print a sha256 manifest.

Usage, from a checkout's root: ``PYTHONPATH=$PWD .venv/bin/python -m tests.helpers.snapshot_outputs OUT > a.txt``
Run it on two commits with the same OUT (moved aside in between) and diff the manifests: this is how the
architecture step (issue 15) was shown to leave every output byte-identical. Wall-clock JSON fields are
dropped before hashing; SQLite caches and locks are not listed.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from tests.helpers.openai_server import FakeOpenAI
from tests.viddiff_method import shapes

OUT = Path()
ENV: dict[str, str] = {}
BIN = Path(sys.executable).parent


def main(out_dir: str) -> None:
    """Build, run and evaluate the samples under ``out_dir``; print the manifest."""
    global OUT, ENV
    OUT = Path(out_dir).resolve()
    BIN = Path(sys.executable).parent
    ENV = {
        **os.environ,
        "PYTHONPATH": os.getcwd(),
        "OPENAI_API_KEY": "test-key",
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "VIDDIFF_CACHE_DIR": str(OUT / "user-cache"),
        "XDG_CACHE_HOME": str(OUT / "xdg"),
    }

    def sh(*args: str) -> None:
        r = subprocess.run([str(a) for a in args], env=ENV, capture_output=True, text=True)
        if r.returncode:
            sys.exit(f"failed: {' '.join(map(str, args))}\n{r.stdout}\n{r.stderr}")

    sh(BIN / "curate", "samples", OUT / "sample" / "sources")
    sh(
        BIN / "curate",
        "build",
        OUT / "sample" / "sources" / "config.yaml",
        "--out",
        OUT / "sample" / "dataset",
        "--workers",
        "2",
    )
    ds = shapes.make_shapes_dataset(OUT / "shapes" / "ds")
    with FakeOpenAI(port=18931) as srv:
        srv.add("Split the action into", shapes.STAGES_ANSWER)
        srv.add("For every stage, list the names", shapes.links_answer())
        srv.add("Statement", shapes.oracle_reply)
        import shutil

        toy = OUT / "toy_clip"  # the same path in every tree, so the run config is the same
        shutil.copytree(shapes.TOY_CLIP_DIR, toy, dirs_exist_ok=True)
        cfg = shapes.toy_clip_config(llm={"base_url": srv.base_url}, clip={"model": f"local-dir:{toy}"})
        (OUT / "run.yaml").write_text(yaml.safe_dump(cfg))
        run = OUT / "run-closed"
        sh(BIN / "viddiff", "run", ds.root, "--mode", "closed", "--out", run, "--config", OUT / "run.yaml")
        sh(BIN / "viddiff", "eval", "closed", ds.root, run / "predictions.json", "--out", run / "eval-closed")
        sh(
            BIN / "viddiff",
            "eval",
            "localization",
            ds.root,
            run / "localization.json",
            "--out",
            run / "eval-loc",
        )
    VOLATILE = {"created", "started", "finished", "elapsed_s", "wall_s"}

    def scrub(x):
        """Drop wall-clock fields, which differ between any two runs."""
        if isinstance(x, dict):
            return {k: scrub(v) for k, v in x.items() if k not in VOLATILE}
        return [scrub(v) for v in x] if isinstance(x, list) else x

    for p in sorted(OUT.rglob("*")):
        if p.is_file() and not p.name.endswith((".sqlite", ".sqlite-wal", ".sqlite-shm", ".lock")):
            data = p.read_bytes()
            if p.suffix == ".json":
                try:
                    data = json.dumps(scrub(json.loads(data)), sort_keys=True).encode()
                except ValueError:
                    pass
            print(hashlib.sha256(data).hexdigest(), p.relative_to(OUT))


if __name__ == "__main__":
    main(sys.argv[1])
