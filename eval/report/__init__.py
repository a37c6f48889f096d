"""``viddiff report``: one self-contained HTML page (and a Markdown twin) comparing runs.

A RUN_DIR holds ``predictions.json`` and/or ``localization.json``, an optional ``config.json`` and,
optionally, eval outputs: any ``metrics.json`` below it whose ``task`` is closed, open or localization
(e.g. ``RUN/eval/closed/metrics.json``). Closed and localization metrics that are missing are computed
on the fly when the dataset is known (``--dataset``, else ``config.json["dataset"]``, else the dataset
named in a metrics file); open metrics need a judge, so they only come from ``viddiff eval open``.

The page has: the leaderboard by split (closed accuracy with significance marks, open recall,
localization errors with the human ceiling), per-action accuracy bars, localization plots, and, for a
few pairs, a strip of frames of A against B at the annotated and predicted keypoints, with each
statement, its ground truth and every run's answer. Images are PNG/JPEG data URLs, so the file opens
in a browser with no server.
"""

from eval.report.figures import figures
from eval.report.render import build_report
from eval.report.runs import Run, find_metrics, load_run
from eval.report.strips import pick_pairs, strip
from eval.report.tables import closed_table, localization_table, open_table

__all__ = [
    "Run",
    "build_report",
    "closed_table",
    "figures",
    "find_metrics",
    "load_run",
    "localization_table",
    "open_table",
    "pick_pairs",
    "strip",
]
