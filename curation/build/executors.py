"""Running clip tasks: on a local thread pool or on Ray, advancing a progress bar per finished clip."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from tqdm import tqdm

from curation.build.resume import run_task
from curation.build.tasks import ClipResult, ClipTask
from schemas.errors import ToolkitError


def run_local(out: Path, tasks: list[ClipTask], workers: int, bar: tqdm) -> list[ClipResult]:
    results = []
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = [pool.submit(run_task, str(out), t) for t in tasks]
        try:
            for fut in as_completed(futures):
                results.append(fut.result())
                bar.update(1)
        except BaseException:
            for f in futures:
                f.cancel()
            raise
    return results


def run_ray(out: Path, tasks: list[ClipTask], workers: int, bar: tqdm) -> list[ClipResult]:
    """Run the same tasks on Ray: ``RAY_ADDRESS`` picks a cluster, else a local Ray with ``workers`` CPUs."""
    import ray

    started = False
    if not ray.is_initialized():
        address = os.environ.get("RAY_ADDRESS")
        kwargs: dict[str, Any] = {"address": address} if address else {"num_cpus": max(1, workers)}
        ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False, **kwargs)
        started = True
    try:
        remote = ray.remote(num_cpus=1, max_retries=2)(run_task)
        pending = [remote.remote(str(out), t) for t in tasks]
        results = []
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            try:
                results.append(ray.get(done[0]))
            except ray.exceptions.RayTaskError as e:
                cause = e.cause if isinstance(getattr(e, "cause", None), Exception) else None
                raise (
                    cause if isinstance(cause, ToolkitError) else ToolkitError(str(e).splitlines()[0])
                ) from None
            bar.update(1)
        return results
    finally:
        if started:
            ray.shutdown()
