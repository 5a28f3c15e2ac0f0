"""ResolutionSubsampler: sizes computed before ffmpeg runs, and what ffmpeg really writes."""

from __future__ import annotations

import pytest

from curation.errors import ConfigError
from subsamplers.resolution import ResolutionArgs, plan_filters
from tests.support.chain import config_for, run_chain, streams
from tests.support.media import make_image, make_video


def _size(args: dict, source: tuple[int, int]) -> tuple[int, int]:
    return plan_filters(ResolutionArgs(**args), source)[1]


@pytest.mark.parametrize(
    ("args", "source", "expected"),
    [
        ({"height": 120}, (320, 240), (160, 120)),
        ({"width": 160}, (320, 240), (160, 120)),
        ({"video_size": 100, "resize_mode": "scale,crop"}, (320, 240), (100, 100)),
        ({"video_size": 100, "resize_mode": "scale,crop"}, (240, 320), (100, 100)),  # portrait
        ({"height": 200, "width": 200, "resize_mode": "scale,pad"}, (320, 240), (200, 200)),
        ({"video_size": 100, "resize_mode": "scale,crop,pad"}, (320, 240), (100, 100)),
        ({"width": 100, "height": 80, "resize_mode": "crop"}, (320, 240), (100, 80)),
        ({"width": 400, "height": 300, "resize_mode": "pad"}, (320, 240), (400, 300)),
        ({"height": 480}, (320, 240), (320, 240)),  # no upscale
        ({"height": 480, "allow_upscale": True}, (320, 240), (640, 480)),
        ({"video_size": 480, "resize_mode": "scale,crop,pad"}, (320, 240), (480, 480)),  # small: padded, not upscaled
        ({"height": 101}, (320, 240), (134, 102)),  # sides stay even for yuv420p
    ],
)
def test_planned_output_size(args: dict, source: tuple[int, int], expected: tuple[int, int]) -> None:
    assert _size(args, source) == expected


def test_no_upscale_means_no_scale_filter() -> None:
    filters, _ = plan_filters(ResolutionArgs(height=480), (320, 240))
    assert filters == []


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory):
    return make_video(tmp_path_factory.mktemp("res") / "src.mp4", duration=1.0, size="320x240", fps=25)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"height": 120}, (160, 120)),
        ({"video_size": 100, "resize_mode": "scale,crop"}, (100, 100)),
        ({"height": 200, "width": 200, "resize_mode": "scale,pad"}, (200, 200)),
        ({"width": 100, "height": 80, "resize_mode": "crop"}, (100, 80)),
    ],
)
def test_ffmpeg_output_dimensions(source, tmp_path, args: dict, expected: tuple[int, int]) -> None:
    [out] = run_chain(source, {"ResolutionSubsampler": {"args": args}}, tmp_path)
    [video] = streams(out.media["mp4"], "video")
    assert (video["width"], video["height"]) == expected
    assert int(video["nb_read_frames"]) == 25  # resizing keeps every frame
    assert abs(float(video["duration"]) - 1.0) < 0.05
    assert streams(out.media["mp4"], "audio"), "the source's audio is kept in the video member"
    assert out.media["mp4"].parent == tmp_path


def test_small_video_is_not_upscaled(source, tmp_path) -> None:
    [out] = run_chain(source, {"ResolutionSubsampler": {"args": {"height": 480}}}, tmp_path)
    [video] = streams(out.media["mp4"], "video")
    assert (video["width"], video["height"]) == (320, 240)


def test_pad_is_centred_black(source, tmp_path) -> None:
    import subprocess

    [out] = run_chain(source, {"ResolutionSubsampler": {"args": {"width": 320, "height": 320, "resize_mode": "pad"}}}, tmp_path)
    # one gray frame: the 40 px bands above and below the 240 px picture are black
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(out.media["mp4"]), "-frames:v", "1", "-f", "rawvideo",
                          "-pix_fmt", "gray", "-"], check=True, capture_output=True).stdout
    assert len(raw) == 320 * 320
    rows = [raw[i * 320:(i + 1) * 320] for i in range(320)]
    assert max(max(rows[10]), max(rows[309])) < 30
    assert max(rows[160]) > 100


def test_crop_keeps_the_centre(tmp_path) -> None:
    """Red | green | blue thirds, 300x100, cropped to 100x100: only the green middle is left."""
    import subprocess

    source = tmp_path / "thirds.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "color=red:s=100x100:d=1", "-f", "lavfi",
                    "-i", "color=lime:s=100x100:d=1", "-f", "lavfi", "-i", "color=blue:s=100x100:d=1",
                    "-filter_complex", "[0][1][2]hstack=3", "-c:v", "libx264", "-pix_fmt", "yuv444p", str(source)],
                   check=True, timeout=60)
    [out] = run_chain(source, {"ResolutionSubsampler": {"args": {"video_size": 100, "resize_mode": "scale,crop"}}}, tmp_path / "o")
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(out.media["mp4"]), "-frames:v", "1", "-f", "rawvideo",
                          "-pix_fmt", "rgb24", "-"], check=True, capture_output=True, timeout=60).stdout
    assert len(raw) == 100 * 100 * 3
    means = [sum(raw[c::3]) / (100 * 100) for c in range(3)]
    assert means[1] > 200 and means[0] < 40 and means[2] < 40, means  # green, edge to edge


def test_image_is_resized_as_an_image(tmp_path) -> None:
    image = make_image(tmp_path / "src.jpg", size="64x48")
    [out] = run_chain(image, {"ResolutionSubsampler": {"args": {"video_size": 32, "resize_mode": "scale,crop"}}}, tmp_path / "o")
    assert list(out.media) == ["jpg"]
    [video] = streams(out.media["jpg"], "video")
    assert (video["width"], video["height"]) == (32, 32)


@pytest.mark.parametrize(
    "args",
    [{"video_size": 100, "height": 50}, {"resize_mode": "scale"}, {"height": 10, "resize_mode": "zoom"}, {"height": 10, "size": 3}],
)
def test_bad_arguments_are_config_errors(args: dict) -> None:
    with pytest.raises(ConfigError, match="ResolutionSubsampler"):
        config_for({"ResolutionSubsampler": {"args": args}})
