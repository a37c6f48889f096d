"""Closed-eval speed: ``viddiff eval closed`` on a benchmark-sized fixture, as ratios in the same run.

Every timing is the best of ``--repeat`` fresh processes (wall clock, start-up included):

* ``python -c pass``: the interpreter alone;
* import floor: ``python -c "import viddiff_method.cli, eval.protocols.closed"`` (the CLI and the scorer imported,
  nothing run);
* ``viddiff eval closed DATASET PREDICTIONS --out OUT`` on ``bench/eval_fixture.py``'s 550 pairs with
  about 4.5k scored a/b items (the benchmark's size).

It prints each time, the eval's ratio to both, and the heavy modules the eval process imported (none
of torch, scipy, datasets, matplotlib, pandas, numpy, pyarrow, jsonschema is needed for a valid dataset
directory). Goal: the eval under 1 s wall on the 2-core development machine.

Run: ``.venv/bin/python bench/bench_eval.py [--items 4500] [--repeat 5]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.eval_fixture import make_fixture

HEAVY = ("torch", "scipy", "datasets", "matplotlib", "pandas", "numpy", "pyarrow", "jsonschema", "av", "PIL")
ROOT = Path(__file__).resolve().parents[1]


def best_of(n: int, cmd: list[str]) -> float:
    """Fastest wall time of ``n`` runs of ``cmd`` (output discarded; a failure stops the benchmark)."""
    times = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=4500)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-eval-"))
    dataset, preds, n_ab = make_fixture(tmp, n_items=args.items)
    py = sys.executable
    eval_args = ["eval", "closed", str(dataset), str(preds), "--out", str(tmp / "out")]
    t_pass = best_of(args.repeat, [py, "-c", "pass"])
    t_floor = best_of(args.repeat, [py, "-c", "import viddiff_method.cli, eval.protocols.closed"])
    t_eval = best_of(args.repeat, [py, "-m", "viddiff_method.cli", *eval_args])
    probe = (
        "import sys\nfrom viddiff_method.cli import main\n"
        f"try:\n    main({eval_args!r})\nexcept SystemExit:\n    pass\n"
        f"print('HEAVY', [m for m in {HEAVY!r} if m in sys.modules])"
    )
    out = subprocess.run([py, "-c", probe], check=True, capture_output=True, text=True, cwd=ROOT).stdout
    heavy = out.rsplit("HEAVY", 1)[1].strip()
    m = json.loads((tmp / "out" / "metrics.json").read_text())
    print(f"fixture: {len(json.loads(preds.read_text()))} pairs, {n_ab} a/b items (scored n={m['n']})")
    print(f"python -c pass           {t_pass:6.3f} s")
    print(f"import floor             {t_floor:6.3f} s")
    print(f"viddiff eval closed      {t_eval:6.3f} s  (goal < 1 s)")
    print(f"ratio vs python -c pass  {t_eval / t_pass:6.1f}x")
    print(
        f"ratio vs import floor    {t_eval / t_floor:6.2f}x  (work beyond imports {t_eval - t_floor:.3f} s)"
    )
    print(f"heavy modules imported   {heavy}")


if __name__ == "__main__":
    main()
