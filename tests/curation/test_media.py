"""Frame exactness of viddiff_runtime.media, proven by the barcode each synthetic frame carries."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from PIL import Image

from curation.samples.synthetic import read_barcode, render_frame
from schemas.errors import ToolkitError
from viddiff_runtime import media


def barcodes(path, **kw) -> list[int]:
    return [read_barcode(f) for f in media.decode(path, **kw).frames]


@pytest.fixture(scope="module")
def src(tmp_path_factory):
    d = tmp_path_factory.mktemp("media")
    media.write_frames((render_frame(i, 160, 120) for i in range(75)), d / "src.mp4", 30)
    return d / "src.mp4"


def test_probe_reports_exact_rational_fps_and_count(tmp_path):
    media.write_frames(
        (render_frame(i, 96, 64) for i in range(20)), tmp_path / "ntsc.mp4", Fraction(30000, 1001)
    )
    info = media.probe(tmp_path / "ntsc.mp4")
    assert info.fps == Fraction(30000, 1001)
    assert info.n_frames == 20 and info.start_time == 0.0
    assert (info.width, info.height, info.codec) == (96, 64, "h264")


@pytest.mark.parametrize("start,end", [(0, 1), (0, 75), (17, 48), (74, 75)])
def test_trim_video_keeps_exactly_the_asked_frames(src, tmp_path, start, end):
    info = media.trim(src, tmp_path / "t.mp4", start, end)
    assert info.n_frames == end - start and info.fps == 30 and info.start_time == 0
    assert barcodes(tmp_path / "t.mp4") == list(range(start, end))
    assert media.count_frames(tmp_path / "t.mp4", decode=True) == end - start


def test_trim_resampled_count_and_frames(src, tmp_path):
    info = media.trim(src, tmp_path / "r.mp4", 5, 65, fps=8)
    expected = media.resample_indices(60, Fraction(30), Fraction(8), start=5)
    assert len(expected) == 16 == info.n_frames  # ceil(60 * 8 / 30)
    assert info.fps == 8
    assert barcodes(tmp_path / "r.mp4") == expected


def test_trim_refuses_upsampling_and_ranges_outside(src, tmp_path):
    with pytest.raises(ToolkitError, match="above the source fps"):
        media.trim(src, tmp_path / "u.mp4", 0, 10, fps=60)
    with pytest.raises(ToolkitError, match=r"outside the clip's 75 frames"):
        media.trim(src, tmp_path / "o.mp4", 70, 80)
    assert not (tmp_path / "o.mp4").exists() and not list(tmp_path.iterdir())


@pytest.mark.parametrize("codec,ext", [("mjpeg", ".avi"), ("vp9", ".webm")])
def test_trim_other_containers(tmp_path, codec, ext):
    src = tmp_path / f"src{ext}"
    media.write_frames((render_frame(i, 160, 120) for i in range(30)), src, 30, codec=codec)
    media.trim(src, tmp_path / "t.mp4", 4, 21)
    assert barcodes(tmp_path / "t.mp4") == list(range(4, 21))


def test_trim_seeks_exactly_with_b_frames_and_a_start_offset(src, tmp_path):
    """Late starts seek by timestamp; a source with B-frames and start_time 1.5 s still cuts exactly."""
    shifted = tmp_path / "shifted.mp4"
    import ffmpeg

    ffmpeg.input(str(src)).output(str(shifted), c="copy", output_ts_offset=1.5).global_args(
        "-v", "error"
    ).run(cmd=media.ffmpeg_exe(), quiet=True)
    assert media.probe(shifted).start_time == pytest.approx(1.5, abs=0.05)
    assert media.seek_window(shifted, 40, 55) is not None
    for start, end in [(1, 2), (40, 55), (61, 75)]:
        media.trim(shifted, tmp_path / "t.mp4", start, end)
        assert barcodes(tmp_path / "t.mp4") == list(range(start, end))
    media.trim(shifted, tmp_path / "r.mp4", 33, 71, fps=7)
    assert barcodes(tmp_path / "r.mp4") == media.resample_indices(38, Fraction(30), Fraction(7), start=33)


def test_trim_image_folder_orders_by_integer_stem(tmp_path):
    folder = tmp_path / "kinect_000"
    folder.mkdir()
    # stems step by 6 and have no zero padding: string order would put 12 before 6
    for pos in range(12):
        Image.fromarray(render_frame(pos, 160, 120)).save(folder / f"{pos * 6}.png")
    assert [p.stem for p in media.list_frame_files(folder)][:4] == ["0", "6", "12", "18"]
    info = media.trim(folder, tmp_path / "f.mp4", 2, 11, src_fps=5)
    assert info.fps == 5 and info.n_frames == 9
    assert barcodes(tmp_path / "f.mp4") == list(range(2, 11))
    assert barcodes(folder, src_fps=5, indices=[0, 11]) == [0, 11]


def test_decode_fps_size_and_cap(src):
    dec = media.decode(src, fps=6, size=48)
    assert dec.fps == 6 and dec.frames.shape[1:] == (48, 64, 3)
    assert dec.indices == list(range(0, 75, 5))
    capped = media.decode(src, max_frames=4)
    assert capped.indices[0] == 0 and capped.indices[-1] == 74 and len(capped.indices) == 4
    assert [read_barcode(f) for f in media.decode(src, indices=[3, 3, 60]).frames] == [3, 3, 60]


def test_corrupt_and_truncated_videos_give_one_line_errors(src, tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all" * 100)
    with pytest.raises(ToolkitError, match="bad.mp4"):
        media.probe(bad)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(src.read_bytes()[: len(src.read_bytes()) // 3])
    with pytest.raises(ToolkitError) as err:
        info = media.probe(cut)
        media.trim(cut, tmp_path / "x.mp4", 0, info.n_frames)
    assert "\n" not in str(err.value) and "cut.mp4" in str(err.value)


def test_write_frames_pads_odd_sizes_and_is_atomic(tmp_path):
    frames = np.zeros((5, 33, 47, 3), np.uint8)
    info = media.write_frames(frames, tmp_path / "odd.mp4", 10)
    assert (info.width, info.height, info.n_frames) == (48, 34, 5)
    with pytest.raises(ToolkitError):
        media.write_frames(
            [np.zeros((8, 8, 3), np.uint8), np.zeros((9, 9, 3), np.uint8)], tmp_path / "mix.mp4", 10
        )
    assert not (tmp_path / "mix.mp4").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["odd.mp4"]


def _argv_value(cmd: list[str], flag: str) -> str:
    assert flag in cmd, (flag, cmd)
    return cmd[cmd.index(flag) + 1]


def test_trim_command_is_built_by_ffmpeg_python_with_the_expected_pieces(src, tmp_path):
    """The compiled trim command (ffmpeg-python graph) of a late start: seek + timestamp window, one x264
    thread, CFR at the exact rate; running exactly that argv gives trim's bytes (trim runs this graph)."""
    import subprocess

    start, end = 40, 55
    seek, first, last = media.seek_window(src, start, end)
    graph = media.trim_command(
        src,
        tmp_path,
        tmp_path / "cmd.mp4",
        start,
        end,
        rate=Fraction(30),
        out_rate=Fraction(10),
        crf=18,
        preset="veryfast",
        threads=1,
        max_height=64,
        size=None,
    )
    cmd = media.ffmpeg_command(graph)
    assert cmd[0] == media.ffmpeg_exe()
    assert cmd.index("-copyts") < cmd.index("-ss") < cmd.index("-i")
    assert _argv_value(cmd, "-ss") == f"{seek:.9f}" and _argv_value(cmd, "-i") == str(src)
    chain = _argv_value(cmd, "-filter_complex").split(";")
    assert [link.split("]")[1].split("=")[0] for link in chain] == [
        "select",
        "trim",
        "setpts",
        "select",
        "setpts",
        "scale",
    ]
    assert f"select=expr=between(t\\,{first:.9f}\\,{last:.9f})" in chain[0]
    assert f"trim=end_frame={end - start}" in chain[1] and "setpts=expr=PTS-STARTPTS" in chain[2]
    assert "lt(floor((n*1+2)/3)\\,floor(((n+1)*1+2)/3))" in chain[3]  # keeps every 3rd frame: 30 -> 10 fps
    assert "setpts=expr=N/(10/1)/TB" in chain[4] and "min(ih\\,64)" in chain[5]
    assert _argv_value(cmd, "-map") == chain[-1][chain[-1].rindex("[") :]
    for flag, value in [
        ("-c:v", "libx264"),
        ("-preset", "veryfast"),
        ("-crf", "18"),
        ("-pix_fmt", "yuv420p"),
        ("-x264-params", "threads=1:lookahead-threads=1"),
        ("-r", "10/1"),
        ("-fps_mode", "cfr"),
        ("-movflags", "+faststart"),
        ("-map_metadata", "-1"),
        ("-f", "mp4"),
    ]:
        assert _argv_value(cmd, flag) == value
    assert [cmd[i + 1] for i, a in enumerate(cmd) if a == "-threads"] == ["1", "1"]  # decoder and encoder
    assert {"-an", "-sn", "-dn", "-y", "-nostdin"} <= set(cmd) and "-video_track_timescale" not in cmd
    subprocess.run(cmd, check=True)
    media.trim(src, tmp_path / "trim.mp4", start, end, fps=10, max_height=64)
    assert (tmp_path / "cmd.mp4").read_bytes() == (tmp_path / "trim.mp4").read_bytes()


def test_trim_command_from_frame_zero_folder_and_large_rate(src, tmp_path):
    """From frame 0: decode and trim by frame number; an image folder reads numbered links at its rate;
    a rate like 10000000/333333 gets an mp4 timescale that holds it exactly."""
    kw = {"crf": 18, "preset": "veryfast", "threads": 1, "max_height": None, "size": None}
    cmd = media.ffmpeg_command(
        media.trim_command(src, tmp_path, "o.mp4", 0, 9, rate=Fraction(30), out_rate=Fraction(30), **kw)
    )
    assert "-ss" not in cmd and "-copyts" not in cmd
    assert _argv_value(cmd, "-filter_complex").startswith("[0]trim=end_frame=9:start_frame=0[s0];")
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(render_frame(i, 32, 32)).save(folder / f"{i + 1}.png")
    rate = Fraction(10000000, 333333)
    cmd = media.ffmpeg_command(
        media.trim_command(folder, tmp_path, "o.mp4", 1, 3, rate=rate, out_rate=rate, **kw)
    )
    assert _argv_value(cmd, "-framerate") == "10000000/333333" and _argv_value(cmd, "-start_number") == "0"
    assert _argv_value(cmd, "-i") == str(tmp_path / "%08d.png")
    assert sorted(p.name for p in tmp_path.glob("*.png")) == ["00000000.png", "00000001.png"]
    assert (
        _argv_value(cmd, "-video_track_timescale") == "10000000"
        and _argv_value(cmd, "-r") == "10000000/333333"
    )


def test_a_failing_ffmpeg_run_is_one_line_naming_the_source_and_leaves_nothing(src, tmp_path):
    """x264 refuses an odd frame size: the ffmpeg-python run fails, the error is one line naming the source
    and the frames asked for, and no output or temporary file is left behind."""
    with pytest.raises(ToolkitError) as e:
        media.trim(src, tmp_path / "odd.mp4", 3, 9, size=(101, 81))
    assert str(e.value).startswith(f"{src}: ffmpeg could not trim frames [3, 9): ") and "\n" not in str(
        e.value
    )
    assert not list(tmp_path.iterdir())
