"""OpticalFlowSubsampler and MotionScoreSubsampler on generated videos: still is ~0, motion is clearly more."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.support.chain import config_for, run_chain
from tests.support.media import run_ffmpeg

SIZE = "160x120"


def lavfi_video(path: Path, source: str, seconds: float = 3.0, fps: int = 25) -> Path:
    """A silent H.264 file from a lavfi source (``-t`` bounds sources that have no duration option)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    joiner = ":" if "=" in source else "="
    run_ffmpeg(["-f", "lavfi", "-i", f"{source}{joiner}s={SIZE}:r={fps}", "-t", str(seconds), "-c:v", "libx264",
                "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path)])
    return path


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("flow")
    return {
        "still": lavfi_video(root / "still.mp4", "color=c=0x3366aa"),
        "testsrc2": lavfi_video(root / "testsrc2.mp4", "testsrc2"),
        "mandelbrot": lavfi_video(root / "mandelbrot.mp4", "mandelbrot"),
    }


FLOW = {"OpticalFlowSubsampler": {"args": {}}}
MOTION = {"MotionScoreSubsampler": {"args": {}}}


def test_still_card_has_no_flow_and_moving_sources_do(videos: dict[str, Path], tmp_path: Path) -> None:
    flow = {name: run_chain(path, FLOW, tmp_path / name)[0].metadata for name, path in videos.items()}
    still = flow["still"]["optical_flow"]
    assert still["mean"] == pytest.approx(0.0, abs=0.01) and still["max"] < 0.05
    for moving in ("testsrc2", "mandelbrot"):
        summary = flow[moving]["optical_flow"]
        assert summary["mean"] > 0.5, moving  # ≥ 50× the still card's
        assert summary["max"] >= summary["mean"]
    # 3 s at the default 2 fps: 6 frames, 5 pairs, one value per second
    assert still["pairs"] == 5 and len(still["per_second"]) == 3 and still["fps"] == 2.0
    assert still["size"] == [85, 64]  # short side 64, aspect kept
    assert flow["testsrc2"]["mean_optical_flow_magnitude"] == flow["testsrc2"]["optical_flow"]["mean"]  # video2dataset's field


def test_per_second_series_follows_when_the_motion_happens(tmp_path: Path) -> None:
    """2 s of a still card, then 2 s of testsrc2: the series is ~0 for seconds 0-1 and large after."""
    path = tmp_path / "still_then_moving.mp4"
    run_ffmpeg(["-f", "lavfi", "-i", f"color=c=0x3366aa:s={SIZE}:r=25:d=2", "-f", "lavfi", "-i", f"testsrc2=s={SIZE}:r=25:d=2",
                "-filter_complex", "[0][1]concat=n=2:v=1[v]", "-map", "[v]", "-c:v", "libx264", "-preset", "ultrafast",
                "-pix_fmt", "yuv420p", str(path)])
    for chain, key in ((FLOW, "optical_flow"), (MOTION, "motion")):
        series = run_chain(path, chain, tmp_path / key)[0].metadata[key]["per_second"]
        assert len(series) == 4, (key, series)
        assert series[0] == pytest.approx(0.0, abs=0.05) and series[2] > 0.5 and series[3] > 0.5, (key, series)
        assert min(series[2:]) > 10 * max(series[0], 0.01), (key, series)


def test_motion_score_separates_still_from_moving(videos: dict[str, Path], tmp_path: Path) -> None:
    scores = {name: run_chain(path, MOTION, tmp_path / name)[0].metadata["motion"] for name, path in videos.items()}
    assert scores["still"]["mean"] == pytest.approx(0.0, abs=0.05)
    assert scores["testsrc2"]["mean"] > 2 and scores["mandelbrot"]["mean"] > 2
    assert scores["still"]["pairs"] == 11  # 3 s at 4 fps


def test_flow_saved_as_npy_frames_by_h_by_w_by_2(videos: dict[str, Path], tmp_path: Path) -> None:
    sub = {"OpticalFlowSubsampler": {"args": {"save_flow": True, "dtype": "fp32", "downsample_size": 32, "target_fps": 4}}}
    [out] = run_chain(videos["testsrc2"], sub, tmp_path)
    flow = np.load(out.media["npy"])
    assert flow.shape == (11, 32, 43, 2) and flow.dtype == np.float32
    assert out.media["mp4"] == videos["testsrc2"]  # analysis alone touches no media
    # the json's mean is the mean of the saved field's magnitudes
    assert float(np.hypot(flow[..., 0], flow[..., 1]).mean()) == pytest.approx(out.metadata["optical_flow"]["mean"], rel=1e-3)
    [half] = run_chain(videos["testsrc2"], {"OpticalFlowSubsampler": {"args": {"save_flow": True}}}, tmp_path / "h")
    assert np.load(half.media["npy"]).dtype == np.float16


def test_each_clip_gets_the_flow_of_its_own_span(videos: dict[str, Path], tmp_path: Path) -> None:
    sub = {"OpticalFlowSubsampler": {"args": {"save_flow": True}}, "ClippingSubsampler": {"args": {"precision": "exact"}}}
    outs = run_chain(videos["testsrc2"], sub, tmp_path, clips=[[0.0, 1.0], [1.0, 3.0]], encoding={"preset": "ultrafast"})
    assert [o.key for o in outs] == ["k_00000", "k_00001"]
    first, second = (o.metadata["optical_flow"] for o in outs)
    assert (first["pairs"], second["pairs"]) == (2, 3)  # frames at 0, .5, 1 | 1, 1.5, 2, 2.5 (3 s has frames < 3)
    assert (len(first["per_second"]), len(second["per_second"])) == (1, 2)
    assert [np.load(o.media["npy"]).shape[0] for o in outs] == [2, 3]


def test_bad_flow_arguments_are_one_line_config_errors() -> None:
    from curation.errors import ConfigError

    with pytest.raises(ConfigError, match=r"OpticalFlowSubsampler\.args\.detector_args.*unknown Farneback parameter 'window'"):
        config_for({"OpticalFlowSubsampler": {"args": {"detector_args": {"window": 3}}}})
    with pytest.raises(ConfigError, match=r"OpticalFlowSubsampler\.args\.dtype"):
        config_for({"OpticalFlowSubsampler": {"args": {"dtype": "int8"}}})
    with pytest.raises(ConfigError, match=r"MotionScoreSubsampler\.args\.target_fps"):
        config_for({"MotionScoreSubsampler": {"args": {"target_fps": 0}}})
    with pytest.raises(ConfigError, match=r"save_flow: <key>\.npy members need output_format webdataset or files, not parquet"):
        config_for({"OpticalFlowSubsampler": {"args": {"save_flow": True}}}, output_format="parquet")


def test_frame_reader_times_out_and_reports_undecodable_input(videos: dict[str, Path], tmp_path: Path) -> None:
    from subsamplers.base import SubsamplerError
    from subsamplers.frame_signals import gray_frames

    frames = list(gray_frames(videos["testsrc2"], 2, (16, 12), timeout=30))
    assert len(frames) == 6 and frames[0].shape == (12, 16) and frames[0].dtype == np.uint8
    with pytest.raises(SubsamplerError, match="timed out after 0.001s"):
        list(gray_frames(videos["mandelbrot"], 25, (160, 120), timeout=0.001))
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 100)
    with pytest.raises(SubsamplerError, match="decoded no frame"):
        list(gray_frames(junk, 2, (16, 12), timeout=30))


def test_video2dataset_argument_spellings(videos: dict[str, Path], tmp_path: Path) -> None:
    """video2dataset's ``fps`` (-1: the source's rate) and positional ``detector_args`` are accepted."""
    from curation.errors import ConfigError

    sub = {"OpticalFlowSubsampler": {"args": {"detector": "cv2", "fps": -1, "downsample_size": 16, "dtype": "fp16",
                                              "detector_args": [0.5, 3, 15, 3, 5, 1.2, 0], "is_slurm_task": False}}}
    [out] = run_chain(videos["testsrc2"], sub, tmp_path)
    assert out.metadata["optical_flow"]["fps"] == 25 and out.metadata["optical_flow"]["pairs"] == 74
    assert out.metadata["optical_flow"]["size"] == [21, 16]
    with pytest.raises(ConfigError, match="detector_args as a list needs 7 values"):
        config_for({"OpticalFlowSubsampler": {"args": {"detector_args": [0.5, 3]}}})
