"""`viddiff eval closed` imports no heavy package (start-up is most of its wall time; bench/bench_eval.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.eval.fixtures import rows, write_dataset

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "scipy", "datasets", "matplotlib", "pandas", "numpy", "pyarrow", "jsonschema", "av", "PIL")


def test_closed_eval_imports_nothing_heavy(tmp_path):
    ds = write_dataset(tmp_path / "ds", rows())
    (tmp_path / "p.json").write_text(json.dumps({"s1": {"0": "a", "1": "b"}, "s3": {"0": "a"}}))
    args = ["eval", "closed", str(ds), str(tmp_path / "p.json"), "--out", str(tmp_path / "o")]
    probe = (
        "import sys\nfrom viddiff_method.cli import main\n"
        f"try:\n    main({args!r})\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        f"print('HEAVY', sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True)
    assert "closed accuracy" in out.stdout
    assert out.stdout.rsplit("HEAVY", 1)[1].strip() == "[]"
    assert json.loads((tmp_path / "o" / "metrics.json").read_text())["n"] == 9
