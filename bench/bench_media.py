"""Media benchmarks, printed as ratios against the raw tools on the same machine in the same run.

1. trim: ``viddiff_runtime.media.trim`` against the bare ffmpeg command doing the same work (same filter
   graph, encoder settings and threads) on the same clips. Goal: <= 1.15.
2. decode: PyAV decode to RGB (``media.decode``) against ``ffmpeg -f null`` on the same file (with and
   without the RGB conversion). Goal: >= 0.8.
3. build: the build's clip stage with 2 workers against 1 on the same tasks. Goal: >= 1.7 on 2 cores.
4. check media: the build's pre-write media check (``media.check_frames``, decode without RGB) against
   ``ffmpeg -f null`` on the same file, and its share of a build's clip stage. Goal: >= 0.8.

Run: ``.venv/bin/python bench/bench_media.py`` (about a minute on 2 cores).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path

import tqdm

from curation.build.executors import run_local
from curation.build.tasks import ClipTask
from viddiff_runtime import media


def best_of(n: int, fn) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-media-"))
    src = tmp / "src.mp4"
    # a 20 s 640x360 clip with a keyframe every 60 frames, like a real source
    subprocess.run(
        [
            media.ffmpeg_exe(),
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=640x360:rate=30:duration=20",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-g",
            "60",
            "-pix_fmt",
            "yuv420p",
            str(src),
        ],
        check=True,
    )
    info = media.probe(src)
    ranges = [(30, 150), (200, 420), (450, 590)]

    def toolkit_trim():
        for i, (s, e) in enumerate(ranges):
            media.trim(src, tmp / f"t{i}.mp4", s, e, info=info)

    encode = [
        "-an",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-crf",
        "18",
        "-pix_fmt",
        "yuv420p",
        "-threads",
        "1",
        "-x264-params",
        "threads=1:lookahead-threads=1",
        "-r",
        "30/1",
        "-fps_mode",
        "cfr",
        "-movflags",
        "+faststart",
    ]
    bare = [media.ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-threads", "1"]
    tail = ",setpts=PTS-STARTPTS,setpts=N/(30/1)/TB,scale='2*trunc(iw/2)':'2*trunc(ih/2)'"

    def bare_trim_filter():
        """The usual exact recipe: decode from frame 0, trim filter by frame number."""
        for i, (s, e) in enumerate(ranges):
            subprocess.run(
                [
                    *bare,
                    "-i",
                    str(src),
                    "-vf",
                    f"trim=start_frame={s}:end_frame={e}" + tail,
                    *encode,
                    str(tmp / f"b{i}.mp4"),
                ],
                check=True,
            )

    windows = [media.seek_window(src, s, e) for s, e in ranges]

    def bare_same_command():
        """Exactly the ffmpeg command the toolkit runs (seek + select by timestamp): pure overhead."""
        for i, ((s, e), (seek, first, last)) in enumerate(zip(ranges, windows)):
            subprocess.run(
                [
                    *bare,
                    "-copyts",
                    "-ss",
                    f"{seek:.9f}",
                    "-i",
                    str(src),
                    "-vf",
                    f"select='between(t\\,{first:.9f}\\,{last:.9f})',trim=end_frame={e - s}" + tail,
                    *encode,
                    str(tmp / f"c{i}.mp4"),
                ],
                check=True,
            )

    t_tool, t_filter, t_same = (
        best_of(3, toolkit_trim),
        best_of(3, bare_trim_filter),
        best_of(3, bare_same_command),
    )
    print(
        f"trim   toolkit {t_tool:.2f}s  bare ffmpeg trim-filter recipe {t_filter:.2f}s  ratio {t_tool / t_filter:.3f}"
        f"  (goal <= 1.15); bare ffmpeg same command {t_same:.2f}s  ratio {t_tool / t_same:.3f} (overhead)"
    )

    def pyav_decode():
        media.decode(src)

    def ffmpeg_null(rgb: bool):
        extra = ["-pix_fmt", "rgb24"] if rgb else []
        subprocess.run(
            [media.ffmpeg_exe(), "-v", "error", "-i", str(src), *extra, "-f", "null", "-"], check=True
        )

    n = info.n_frames
    f_pyav = n / best_of(3, pyav_decode)
    f_null = n / best_of(3, lambda: ffmpeg_null(False))
    f_rgb = n / best_of(3, lambda: ffmpeg_null(True))
    print(
        f"decode PyAV->RGB {f_pyav:.0f} fps  ffmpeg -f null {f_null:.0f} fps  ratio {f_pyav / f_null:.3f} (goal >= 0.8); "
        f"against ffmpeg -pix_fmt rgb24 -f null {f_rgb:.0f} fps: ratio {f_pyav / f_rgb:.3f}"
    )

    tasks = [
        ClipTask(f"s{i}", "a", str(src), "video", 30.0, s, s + 150, None, 18, "veryfast", None)
        for i, s in enumerate(range(0, 500, 50))
    ]  # 10 tasks: an even split over 2 workers

    def run(workers: int):
        out = Path(tempfile.mkdtemp(dir=tmp))
        with tqdm.tqdm(total=len(tasks), disable=True) as bar:
            run_local(out, tasks, workers, bar)

    t1, t2 = best_of(2, lambda: run(1)), best_of(2, lambda: run(2))
    print(
        f"build  1 worker {t1:.2f}s  2 workers {t2:.2f}s  speed-up {t1 / t2:.2f}x on {os.cpu_count()} cores (goal >= 1.7)"
    )

    f_check = n / best_of(3, lambda: media.check_frames(src, n))
    t_check = best_of(3, lambda: media.check_frames(src, max(t.end for t in tasks)))
    print(
        f"check  media.check_frames {f_check:.0f} fps  ffmpeg -f null {f_null:.0f} fps  ratio {f_check / f_null:.3f}"
        f" (goal >= 0.8); checking the 10 tasks' source {t_check:.2f}s = {t_check / t1:.2f} of their 1-worker clip stage"
    )


if __name__ == "__main__":
    main()
