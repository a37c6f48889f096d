"""Benchmark: push and pull of 549 pairs (the public VidDiffBench's size) against a real Label Studio.

Starts its own server from a migrated template (see annotation.server), builds a 549-pair dataset whose
clips are hard links of real synthetic clips, then times, for the differences kind:

* ``push`` (probe 1,098 clips, create project, import 549 tasks) vs the raw SDK import of the same tasks;
* a second ``push`` (idempotent: nothing to add);
* ``pull`` (JSON export + validation + conversion of 549 annotated tasks) vs the raw SDK export download.

Prints seconds and ratios. Run: ``.venv/bin/python bench/bench_annotation.py``.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from annotation.connect import connect
from annotation.projects import list_tasks
from annotation.pull import pull
from annotation.push import push
from annotation.server import LabelStudioServer, copy_data_dir, prepare_template
from annotation.tasks import task_data
from schemas.dataset_dir import load_dataset, save_dataset
from tests.helpers.tiny_dataset import TinyAction, make_tiny_dataset

N_PAIRS = 549


def build(root: Path) -> None:
    make_tiny_dataset(root, actions=(TinyAction("fitness_0", "fitness", "easy", 1, 30.0),), n_frames=(48, 60))
    ds = load_dataset(root)
    proto = ds.samples[0]
    rows = []
    for i in range(N_PAIRS):
        key = f"fitness_0_{i}"
        row = {**proto, "sample_key": key, "videos": [dict(v) for v in proto["videos"]]}
        for side, v in zip("ab", row["videos"]):
            dst = root / f"videos/{key}/{side}.mp4"
            if not dst.exists():
                dst.parent.mkdir(parents=True, exist_ok=True)
                os.link(root / v["path"], dst)
            v["path"] = f"videos/{key}/{side}.mp4"
        rows.append(row)
    save_dataset(root, ds.meta, rows)


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-ann-"))
    template = Path(
        os.environ.get("VIDDIFF_LS_TEMPLATE")
        or Path.home() / ".cache/viddiff-toolkit/label-studio-template-1.23.2"
    )
    prepare_template(template)
    media = work / "media"
    build(media / "ds")
    srv = LabelStudioServer(copy_data_dir(template, work / "data"), media_root=media).start()
    os.environ.update(
        LABEL_STUDIO_URL=srv.url,
        LABEL_STUDIO_API_KEY=srv.api_key,
        LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT=str(media),
    )
    try:
        ls = connect()
        ds = load_dataset(media / "ds")
        t = time.perf_counter()
        (res,) = push(ds.root, "differences", progress=False)
        t_push = time.perf_counter() - t
        assert res.tasks_added == N_PAIRS
        t = time.perf_counter()
        (res2,) = push(ds.root, "differences", progress=False)
        t_repush = time.perf_counter() - t
        assert res2.tasks_added == 0

        # raw tool: the same task payloads, one import call per 250 tasks, into a bare project
        payload = [{"data": task_data(ds, s, media)} for s in ds.samples]
        raw_p = ls.projects.create(
            title="raw import", label_config=ls.projects.get(id=res.project_id).label_config
        )
        t = time.perf_counter()
        for i in range(0, N_PAIRS, 250):
            ls.projects.import_tasks(id=raw_p.id, request=payload[i : i + 250])
        t_raw_import = time.perf_counter() - t

        user = ls.users.create(username="bench", email="bench@example.com")
        for k, task in enumerate(list_tasks(ls, res.project_id)):
            ls.annotations.create(
                id=task.id,
                completed_by=user.id,
                result=[
                    {
                        "from_name": f"diff_{d}",
                        "to_name": "video_a",
                        "type": "choices",
                        "value": {"choices": ["abc"[(k + int(d)) % 3]]},
                    }
                    for d in ("0", "1", "2")
                ],
            )
        t = time.perf_counter()
        raw = b"".join(
            ls.projects.exports.download_sync(id=res.project_id, export_type="JSON", download_all_tasks=True)
        )
        t_raw_export = time.perf_counter() - t
        t = time.perf_counter()
        (rep,) = pull(ds.root, "differences")
        t_pull = time.perf_counter() - t
        assert rep.annotated_tasks == N_PAIRS and not rep.problems, rep.summary()
        print(f"pairs: {N_PAIRS}  (export {len(raw) / 1e6:.1f} MB)")
        print(
            f"push (new):         {t_push:7.2f} s   raw SDK import: {t_raw_import:6.2f} s   "
            f"ratio {t_push / t_raw_import:5.2f}x"
        )
        print(f"push (no-op again): {t_repush:7.2f} s")
        print(
            f"pull + convert:     {t_pull:7.2f} s   raw SDK export: {t_raw_export:6.2f} s   "
            f"ratio {t_pull / t_raw_export:5.2f}x"
        )
    finally:
        srv.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
