"""Frame exactness of curation.media, proven by the barcode each synthetic frame carries."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from PIL import Image

from curation import media
from curation.synthetic import read_barcode, render_frame
from schemas.errors import ToolkitError


def barcodes(path, **kw) -> list[int]:
    return [read_barcode(f) for f in media.decode(path, **kw).frames]


@pytest.fixture(scope="module")
def src(tmp_path_factory):
    d = tmp_path_factory.mktemp("media")
    media.write_frames((render_frame(i, 160, 120) for i in range(75)), d / "src.mp4", 30)
    return d / "src.mp4"


def test_probe_reports_exact_rational_fps_and_count(tmp_path):
    media.write_frames((render_frame(i, 96, 64) for i in range(20)), tmp_path / "ntsc.mp4", Fraction(30000, 1001))
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
    import subprocess

    subprocess.run([media.ffmpeg_exe(), "-v", "error", "-i", str(src), "-c", "copy", "-output_ts_offset", "1.5",
                    str(shifted)], check=True)
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
        media.write_frames([np.zeros((8, 8, 3), np.uint8), np.zeros((9, 9, 3), np.uint8)], tmp_path / "mix.mp4", 10)
    assert not (tmp_path / "mix.mp4").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["odd.mp4"]
