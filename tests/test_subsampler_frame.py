"""FrameSubsampler: fps, keyframes only, first frame as jpg, checked with ffprobe."""

from __future__ import annotations

import subprocess

import pytest

from curation.errors import ConfigError
from tests.support.chain import config_for, rate, run_chain, streams
from tests.support.media import frame_times, make_video


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory):
    # 2 s at 25 fps, a keyframe every 10 frames: keyframes at 0, 0.4, 0.8, 1.2, 1.6
    return make_video(tmp_path_factory.mktemp("frame") / "src.mp4", duration=2.0, fps=25, gop=10)


def test_fps_downsamples(source, tmp_path) -> None:
    [out] = run_chain(source, {"FrameSubsampler": {"args": {"frame_rate": 8}}}, tmp_path)
    [video] = streams(out.media["mp4"], "video")
    assert rate(video) == pytest.approx(8.0)
    assert int(video["nb_read_frames"]) == 16
    assert float(video["duration"]) == pytest.approx(2.0, abs=0.13)
    assert (video["width"], video["height"]) == (320, 240)


def test_fps_never_invents_frames(source, tmp_path) -> None:
    [out] = run_chain(source, {"FrameSubsampler": {"args": {"frame_rate": 50}}}, tmp_path)
    [video] = streams(out.media["mp4"], "video")
    assert rate(video) == pytest.approx(25.0)
    assert int(video["nb_read_frames"]) == 50


def test_keyframe_method_keeps_only_keyframes(source, tmp_path) -> None:
    [out] = run_chain(source, {"FrameSubsampler": {"args": {"downsample_method": "keyframe"}}}, tmp_path)
    times = frame_times(out.media["mp4"])
    assert len(times) == len(frame_times(source, keyframes_only=True)) == 5
    assert times == pytest.approx([0.0, 0.4, 0.8, 1.2, 1.6], abs=0.02)
    # nothing was decoded or re-encoded: the packets are the source's keyframe packets
    assert _video_packets(out.media["mp4"]) == [p for p in _video_packets(source) if p[1]]


def test_keyframes_then_resized(source, tmp_path) -> None:
    sub = {"FrameSubsampler": {"args": {"downsample_method": "keyframe"}}, "ResolutionSubsampler": {"args": {"height": 120}}}
    [out] = run_chain(source, sub, tmp_path)
    [video] = streams(out.media["mp4"], "video")
    assert (video["width"], int(video["nb_read_frames"])) == (160, 5)


def _video_packets(path) -> list[tuple[int, bool]]:
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=size,flags",
                          "-of", "csv=p=0", str(path)], check=True, capture_output=True, text=True).stdout
    return [(int(size), "K" in flags) for size, flags in (line.split(",")[:2] for line in out.split())]


def test_first_frame_is_a_jpg_per_output(source, tmp_path) -> None:
    outs = run_chain(source, {"FrameSubsampler": {"args": {"downsample_method": "first_frame"}}}, tmp_path,
                     clips=[[0.0, 0.5], [1.0, 1.5]])
    assert [o.key for o in outs] == ["k_00000", "k_00001"]
    for out in outs:
        assert list(out.media) == ["jpg"]
        [image] = streams(out.media["jpg"], "video")
        assert (image["codec_name"], image["width"], image["height"]) == ("mjpeg", 320, 240)
        assert int(image["nb_read_frames"]) == 1


def test_fps_method_needs_a_rate() -> None:
    with pytest.raises(ConfigError, match="FrameSubsampler"):
        config_for({"FrameSubsampler": {"args": {"downsample_method": "fps"}}})
    with pytest.raises(ConfigError, match="FrameSubsampler.args.downsample_method"):
        config_for({"FrameSubsampler": {"args": {"frame_rate": 8, "downsample_method": "every_other"}}})
