"""Checking a plan's media: decode the source frames every clip needs before the first clip is written."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tqdm import tqdm

from curation.build.tasks import ClipTask
from schemas.errors import ToolkitError


def check_plan_media(
    tasks: list[ClipTask], *, workers: int = 4, progress: bool | None = None
) -> dict[str, str]:
    """Decode the source frames every task needs (once per source, up to its largest end), in parallel.

    Returns ``{source path: why}`` for sources that are shorter than needed or do not decode; nothing is
    written. Run before the first clip, so a truncated or garbage source cannot stop a build half-way.
    """
    from viddiff_runtime import media

    needed: dict[str, int] = {}
    for t in tasks:
        needed[t.src] = max(needed.get(t.src, 0), t.end)
    bad: dict[str, str] = {}
    if not needed:
        return bad

    def one(item: tuple[str, int]) -> tuple[str, str | None]:
        src, end = item
        try:
            media.check_frames(src, end, what=f"clip frames up to {end}")
        except ToolkitError as e:
            return src, str(e).split(": ", 1)[-1] if e.file == src else str(e)
        return src, None

    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(needed)))) as pool:
        for src, why in tqdm(
            pool.map(one, sorted(needed.items())),
            total=len(needed),
            desc="check media",
            unit="source",
            leave=False,
            disable=None if progress is None else not progress,
        ):
            if why is not None:
                bad[src] = why
    return bad
