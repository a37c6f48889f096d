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
    # A local Ray of our own is private to this command: without RAY_AUTH_MODE, Ray would turn token
    # authentication on and write ~/.ray/auth_token, a file outside the output folder (and one that makes
    # later `ray start --head` clusters demand a token). A mode the user set is kept.
    own_auth = not os.environ.get("RAY_ADDRESS") and "RAY_AUTH_MODE" not in os.environ
    if own_auth:
        os.environ["RAY_AUTH_MODE"] = "disabled"
    try:
        if not ray.is_initialized():
            address = os.environ.get("RAY_ADDRESS")
            kwargs: dict[str, Any] = {"address": address} if address else {"num_cpus": max(1, workers)}
            try:
                ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False, **kwargs)
            except ConnectionError as e:
                raise ToolkitError(_connect_hint(address, e), key="RAY_ADDRESS") from None
            started = True
        return _run_on_ray(ray, out, tasks, bar)
    finally:
        if started:
            ray.shutdown()
        if own_auth:
            os.environ.pop("RAY_AUTH_MODE", None)


def _run_on_ray(ray: Any, out: Path, tasks: list[ClipTask], bar: tqdm) -> list[ClipResult]:
    """Submit every task to the Ray that is up, and collect the results as they finish."""
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


def _connect_hint(address: str | None, error: Exception) -> str:
    """One line for a cluster that could not be reached, with the token-auth cause Ray itself misreports.

    Ray turns token authentication on at ``ray start --head`` once ``~/.ray/auth_token`` exists (any local
    ``ray.init()`` writes it), but a ``ray://`` client sends the token only when ``RAY_AUTH_MODE=token`` is set
    for it; the client proxy then refuses it and the client reports a connection timeout.
    """
    hint = ""
    if address and address.startswith("ray://") and os.environ.get("RAY_AUTH_MODE") != "token":
        hint = (
            "; if the cluster uses token authentication (`ray start` says 'Token authentication is enabled'), "
            "set RAY_AUTH_MODE=token and the cluster's token in RAY_AUTH_TOKEN (or ~/.ray/auth_token)"
        )
    return f"cannot reach the Ray cluster at {address or 'a local Ray'}: {error}{hint}"
