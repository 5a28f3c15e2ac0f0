"""ClippingSubsampler: span rules, and boundaries checked on the written files."""

from __future__ import annotations

import subprocess

import pytest

from subsamplers.base import SubsamplerError
from subsamplers.clip_spans import apply_lengths, parse_spans, split_span, to_seconds
from tests.support.chain import run_chain, streams
from tests.support.media import frame_times, make_video

FPS = 25


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory):
    # 4 s at 25 fps, keyframes exactly at 0, 1, 2, 3 s
    return make_video(tmp_path_factory.mktemp("clip") / "src.mp4", duration=4.0, fps=FPS, gop=FPS)


def _gray_frames(path, limit: int | None = None) -> list[bytes]:
    """The frames of a file (all, or the first ``limit``) as 80x60 gray pixels, in one decode."""
    args = ["-frames:v", str(limit)] if limit else []
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-vf", "scale=80:60", *args, "-f", "rawvideo", "-pix_fmt", "gray", "-"],
        check=True, capture_output=True, timeout=60,
    ).stdout
    return [raw[i:i + 4800] for i in range(0, len(raw), 4800)]


def _diff(a: bytes, b: bytes) -> float:
    return sum(abs(x - y) for x, y in zip(a, b, strict=True)) / len(a)


@pytest.fixture(scope="module")
def source_frames(source) -> list[bytes]:
    return _gray_frames(source)


def _closest_source_frame(source_frames: list[bytes], clip) -> int:
    """Which source frame the clip's first frame shows (testsrc2 changes every frame)."""
    first = _gray_frames(clip, limit=1)[0]
    return min(range(len(source_frames)), key=lambda n: _diff(first, source_frames[n]))


def test_exact_boundaries_within_one_frame(source, source_frames, tmp_path) -> None:
    spans = [[0.52, 1.48], [2.3, 3.1]]
    outs = run_chain(source, {"ClippingSubsampler": {"args": {"precision": "exact"}}}, tmp_path, clips=spans)
    assert [o.key for o in outs] == ["k_00000", "k_00001"]
    for out, (start, end) in zip(outs, spans, strict=True):
        assert out.metadata["clips"] == [[start, end]]
        assert out.metadata["original_key"] == "k"
        [video] = streams(out.media["mp4"], "video")
        assert abs(int(video["nb_read_frames"]) - round((end - start) * FPS)) <= 1
        assert float(video["duration"]) == pytest.approx(end - start, abs=1 / FPS + 1e-3)
        # the first frame written is the source frame at `start`, not a keyframe before it
        assert abs(_closest_source_frame(source_frames, out.media["mp4"]) - start * FPS) <= 1


def test_low_precision_copies_and_starts_on_keyframes(source, tmp_path) -> None:
    outs = run_chain(source, {"ClippingSubsampler": {"args": {"precision": "low"}}}, tmp_path, clips=[[1.3, 2.0], [2.5, 3.6]])
    keyframes = frame_times(source, keyframes_only=True)
    assert keyframes == pytest.approx([0.0, 1.0, 2.0, 3.0])
    assert [o.metadata["clips"] for o in outs] == [[[1.0, 2.0]], [[2.0, 3.6]]]
    for out in outs:
        start, end = out.metadata["clips"][0]
        assert min(abs(start - k) for k in keyframes) < 1e-3
        times = frame_times(out.media["mp4"])
        assert frame_times(out.media["mp4"], keyframes_only=True)[0] == times[0]
        assert len(times) == round((end - start) * FPS)


def test_keyframe_adjusted_shrinks_to_inner_keyframes(source, source_frames, tmp_path) -> None:
    [out] = run_chain(source, {"ClippingSubsampler": {"args": {"precision": "keyframe_adjusted"}}}, tmp_path, clips=[[0.5, 2.5]])
    assert out.metadata["clips"] == [[1.0, 2.0]]
    [video] = streams(out.media["mp4"], "video")
    assert int(video["nb_read_frames"]) == FPS
    assert _closest_source_frame(source_frames, out.media["mp4"]) == 25


def test_string_times_json_column_and_bad_spans_recorded(source, tmp_path) -> None:
    column = '[["00:00:00.500", "00:00:01.500"], [3, 1], ["x", 2], [-1, 1], [3.5, 9.0], [5.0, 6.0]]'
    outs = run_chain(source, {"ClippingSubsampler": {"args": {"precision": "exact"}}}, tmp_path, clips=column)
    assert [o.metadata["clips"] for o in outs] == [[[0.5, 1.5]], [[3.5, 4.0]]]
    reasons = [d["reason"] for d in outs[0].metadata["clips_dropped"]]
    assert len(reasons) == 4
    assert any("end is not after start" in r for r in reasons)
    assert any("negative" in r for r in reasons)
    assert any("after the end" in r for r in reasons)
    assert outs[0].metadata["clips_clamped"] == [{"clip": [3.5, 9.0], "to": [3.5, 4.0]}]
    [video] = streams(outs[1].media["mp4"], "video")
    assert abs(int(video["nb_read_frames"]) - 0.5 * FPS) <= 1


def test_no_usable_span_fails_the_sample(source, tmp_path) -> None:
    with pytest.raises(SubsamplerError, match="no usable clip"):
        run_chain(source, {"ClippingSubsampler": {"args": {}}}, tmp_path, clips=[[9, 10], [2, 1]])


def test_clip_column_clips_without_a_configured_clipping_subsampler(source, tmp_path) -> None:
    outs = run_chain(source, {}, tmp_path, clips=[[0, 1], [1, 2]])
    assert [o.key for o in outs] == ["k_00000", "k_00001"]
    assert [o.metadata["clips"] for o in outs] == [[[0.0, 1.0]], [[1.0, 2.0]]]


def test_max_length_splits_in_one_run(source, tmp_path) -> None:
    args = {"max_length": 1.0, "precision": "exact"}
    outs = run_chain(source, {"ClippingSubsampler": {"args": args}}, tmp_path, clips=[[0.0, 3.5]])
    assert [o.metadata["clips"][0] for o in outs] == [[0.0, 1.0], [1.0, 2.0], [2.0, 3.0], [3.0, 3.5]]
    counts = [int(streams(o.media["mp4"], "video")[0]["nb_read_frames"]) for o in outs]
    assert counts[:3] == [25, 25, 25] and abs(counts[3] - 12.5) <= 1


def test_min_length_and_first_piece_in_a_real_run(source, tmp_path) -> None:
    """max_length_strategy first keeps one piece per span; min_length drops short spans, recorded,
    also when a span only becomes short by snapping inward to keyframes."""
    args = {"max_length": 1.0, "max_length_strategy": "first", "min_length": 0.8, "precision": "exact"}
    outs = run_chain(source, {"ClippingSubsampler": {"args": args}}, tmp_path / "first", clips=[[0.0, 2.5], [3.0, 3.5]])
    assert [o.metadata["clips"] for o in outs] == [[[0.0, 1.0]]]
    assert [d["clip"] for d in outs[0].metadata["clips_dropped"]] == [[3.0, 3.5]]
    assert int(streams(outs[0].media["mp4"], "video")[0]["nb_read_frames"]) == FPS
    snapped = {"min_length": 0.8, "precision": "keyframe_adjusted"}
    outs = run_chain(source, {"ClippingSubsampler": {"args": snapped}}, tmp_path / "snap", clips=[[0.5, 2.5], [2.2, 3.9]])
    assert [o.metadata["clips"] for o in outs] == [[[1.0, 2.0]]]  # [2.2, 3.9] snaps to [3, 3]: nothing left
    assert outs[0].metadata["clips_dropped"] == [{"clip": [2.2, 3.9], "reason": "fewer than two keyframes inside the span"}]


def test_span_rules() -> None:
    assert to_seconds("01:02:03.500") == pytest.approx(3723.5)
    assert to_seconds("02:03") == 123.0
    assert split_span(0, 3.5, 0.0, 1.0) == [(0, 1), (1, 2), (2, 3), (3, 3.5)]
    assert split_span(0, 3.5, 0.6, 1.0) == [(0, 1), (1, 2), (2, 3)]
    report = parse_spans([[0, 3.5], [4, 4.2]], duration=10)
    apply_lengths(report, min_length=0.5, max_length=1.0, strategy="first")
    assert report.spans == [(0, 1)]
    assert report.dropped[0]["reason"].startswith("shorter than min_length")
    assert parse_spans([1, 2], duration=None).spans == [(1.0, 2.0)]  # a single [start, end]
    assert parse_spans("not json", duration=None).dropped


def test_low_precision_on_mpegts_counts_from_the_start(tmp_path) -> None:
    # MPEG-TS timestamps start at 1.4 s: keyframes must be taken relative to the start, like clips
    ts = make_video(tmp_path / "src.ts", duration=4.0, fps=FPS, gop=FPS, audio=False,
                    codec_args=["-c:v", "libx264", "-preset", "ultrafast", "-g", str(FPS), "-keyint_min", str(FPS),
                                "-sc_threshold", "0", "-f", "mpegts"])
    outs = run_chain(ts, {"ClippingSubsampler": {"args": {"precision": "keyframe_adjusted"}}}, tmp_path / "o", clips=[[0.5, 3.5]])
    assert outs[0].metadata["clips"] == [[1.0, 3.0]]
    assert len(frame_times(outs[0].media["mp4"])) == 2 * FPS
