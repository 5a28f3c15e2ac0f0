"""CutDetectionSubsampler: a hard cut between two sources is found; cuts_are_clips clips on it."""

from __future__ import annotations

import pytest

from subsamplers.scene_detect import scenes_from_cuts
from tests.support.chain import run_chain, streams
from tests.support.media import make_two_shot_video, make_video

FPS = 25


@pytest.fixture(scope="module")
def two_shots(tmp_path_factory: pytest.TempPathFactory):
    # testsrc2 for 2 s, then smptebars for 1.6 s: one cut at frame 50
    return make_two_shot_video(tmp_path_factory.mktemp("cut") / "two.mp4", first=2.0, second=1.6, fps=FPS)


def test_finds_the_hard_cut(two_shots, tmp_path) -> None:
    [out] = run_chain(two_shots, {"CutDetectionSubsampler": {"args": {}}}, tmp_path)
    cuts = out.metadata["cuts"]
    assert cuts["original_fps"] == pytest.approx(FPS)
    assert cuts["cuts_original_fps"] == [[0, 50], [50, 90]]
    assert out.media == {"mp4": two_shots}  # detection alone changes no media


def test_pyscenedetect_finds_the_same_cut(two_shots, tmp_path) -> None:
    """video2dataset's detector (PySceneDetect's ContentDetector), installed with the `scenedetect` extra."""
    [out] = run_chain(two_shots, {"CutDetectionSubsampler": {"args": {"detector": "pyscenedetect"}}}, tmp_path)
    assert out.metadata["cuts"]["cuts_original_fps"] == [[0, 50], [50, 90]]
    assert out.metadata["cuts"]["cut_times"] == [2.0]


@pytest.mark.parametrize("detector", ["ffmpeg", "pyscenedetect"])
@pytest.mark.parametrize(("args", "scenes"), [
    ({"threshold": 95}, [[0, 90]]),  # a cut weaker than the threshold is no cut
    ({"min_scene_len": 60}, [[0, 90]]),  # a first scene of 50 frames is too short: merged
    ({"min_scene_len": 40}, [[0, 50], [50, 90]]),
])
def test_threshold_and_min_scene_len_decide_the_cuts(two_shots, tmp_path, detector, args, scenes) -> None:
    chain = {"CutDetectionSubsampler": {"args": {"detector": detector, **args}}}
    [out] = run_chain(two_shots, chain, tmp_path)
    assert out.metadata["cuts"]["cuts_original_fps"] == scenes


def test_no_cut_in_a_single_shot(tmp_path) -> None:
    video = make_video(tmp_path / "one.mp4", duration=2.0, size="160x120", fps=FPS, audio=False)
    [out] = run_chain(video, {"CutDetectionSubsampler": {"args": {}}}, tmp_path / "o")
    assert out.metadata["cuts"]["cuts_original_fps"] == [[0, 50]]


def test_longest_mode(two_shots, tmp_path) -> None:
    [out] = run_chain(two_shots, {"CutDetectionSubsampler": {"args": {"cut_detection_mode": "longest"}}}, tmp_path)
    assert out.metadata["cuts"]["cuts_original_fps"] == [[0, 50]]


def test_cuts_are_clips(two_shots, tmp_path) -> None:
    sub = {
        "CutDetectionSubsampler": {"args": {"cuts_are_clips": True}},
        "ClippingSubsampler": {"args": {"precision": "exact"}},
    }
    outs = run_chain(two_shots, sub, tmp_path)
    assert [o.key for o in outs] == ["k_00000", "k_00001"]
    assert [o.metadata["clips"] for o in outs] == [[[0.0, 2.0]], [[2.0, 3.6]]]
    counts = [int(streams(o.media["mp4"], "video")[0]["nb_read_frames"]) for o in outs]
    assert counts == [50, 40]


def test_min_scene_len_merges_close_cuts() -> None:
    assert scenes_from_cuts([10, 12, 40], total_frames=60, min_scene_len=15) == [[0, 40], [40, 60]]
    assert scenes_from_cuts([], total_frames=60, min_scene_len=15) == [[0, 60]]


def test_video2dataset_puts_cuts_are_clips_beside_args(two_shots, tmp_path) -> None:
    from curation.errors import ConfigError
    from tests.support.chain import config_for

    sub = {"CutDetectionSubsampler": {"cuts_are_clips": True, "args": {"threshold": 27, "min_scene_len": 15}}}
    outs = run_chain(two_shots, sub, tmp_path)
    assert [o.key for o in outs] == ["k_00000", "k_00001"]
    with pytest.raises(ConfigError, match="CutDetectionSubsampler"):
        config_for({"CutDetectionSubsampler": {"cuts_are_cips": True, "args": {}}})
