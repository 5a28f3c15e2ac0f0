"""The fused plan: one ffmpeg per source, order-independent, robust to damaged input, stream copy when possible."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

from subsamplers import build_subsamplers
from subsamplers.base import SubsamplerError
from subsamplers.ffmpeg_command import compile_plan
from subsamplers.ffmpeg_plan import build_plan, transform
from tests.support.chain import config_for, rate, run_chain, sample_for, streams
from tests.support.launches import launches, log_launches
from tests.support.media import make_corrupt_ts, make_image, make_video

CHAIN = {
    "ResolutionSubsampler": {"args": {"video_size": 112, "resize_mode": "scale,crop"}},
    "FrameSubsampler": {"args": {"frame_rate": 8}},
    "ClippingSubsampler": {"args": {"precision": "exact"}},
}
SPANS = [[0.5, 1.5], [2.0, 3.5]]


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("plan")
    return [
        make_video(folder / "a.mp4", duration=4.0, size="320x240", fps=25),
        make_video(folder / "-b.mp4", duration=4.0, size="240x320", fps=30),  # portrait, name starts with '-'
    ]


@pytest.fixture
def ffmpeg_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every ffmpeg launched from now on is logged."""
    return log_launches("ffmpeg", tmp_path, monkeypatch)


def test_resize_fps_clip_is_one_ffmpeg_per_source(sources, ffmpeg_log, tmp_path) -> None:
    for index, source in enumerate(sources):
        outs = run_chain(source, CHAIN, tmp_path / f"o{index}", clips=SPANS + [[3.6, 3.9]], key=f"s{index}")
        assert len(outs) == 3
    launched = launches(ffmpeg_log)
    assert len(launched) == len(sources)
    for launch, source in zip(launched, sources, strict=True):
        assert f"file:{source.resolve()}" in launch


def test_cut_detection_is_its_own_small_decode_before_the_one_transcode(sources, ffmpeg_log, tmp_path) -> None:
    """The clips must be known before the ffmpeg that cuts them starts: detection is a separate pass."""
    chain = {**CHAIN, "CutDetectionSubsampler": {"args": {}, "cuts_are_clips": True}}
    run_chain(sources[0], chain, tmp_path / "o")
    detect, transcode = launches(ffmpeg_log)
    assert "scale=160:-2,select=" in detect and "-f null" in detect
    assert "libx264" in transcode and "libx264" not in detect


def test_full_chain_output(sources, tmp_path) -> None:
    sub = dict(CHAIN, AudioRateSubsampler={"args": {"sample_rate": 16000}}, FFProbeSubsampler={"args": {}})
    outs = run_chain(sources[1], sub, tmp_path, clips=SPANS, key="-b", encode_formats={"video": "mp4", "audio": "m4a"})
    assert [o.key for o in outs] == ["-b_00000", "-b_00001"]
    for out, (start, end) in zip(outs, SPANS, strict=True):
        assert out.metadata["clips"] == [[start, end]]
        assert out.metadata["original_key"] == "-b"
        assert out.metadata["decode_errors"] == 0
        assert out.metadata["video_metadata"]["height"] == 320
        [video] = streams(out.media["mp4"], "video")
        assert (video["width"], video["height"]) == (112, 112)
        assert rate(video) == pytest.approx(8.0)
        assert int(video["nb_read_frames"]) == round((end - start) * 8)
        assert float(video["duration"]) == pytest.approx(end - start, abs=0.13)
        [audio] = streams(out.media["m4a"], "audio")
        assert int(audio["sample_rate"]) == 16000
        assert float(audio["duration"]) == pytest.approx(end - start, abs=0.06)


def _argv(source: Path, subsampling: dict, tmp: Path, spans: list | None = None) -> list[str]:
    config = config_for(subsampling)
    _, chain = build_subsamplers(config.subsampling)
    return compile_plan(build_plan(sample_for(source, tmp, clips=spans or SPANS), chain, config)).argv


def test_config_order_does_not_change_the_result(sources, tmp_path) -> None:
    forward = dict(CHAIN)
    backward = dict(reversed(list(CHAIN.items())))
    assert list(forward) != list(backward)
    assert _argv(sources[0], forward, tmp_path) == _argv(sources[0], backward, tmp_path)
    digests = []
    for name, sub in (("f", forward), ("b", backward)):
        outs = run_chain(sources[0], sub, tmp_path / name, clips=SPANS)
        digests.append([hashlib.sha256(o.media["mp4"].read_bytes()).hexdigest() for o in outs])
    assert digests[0] == digests[1]


def test_frames_are_dropped_before_scaling(sources, tmp_path) -> None:
    argv = _argv(sources[0], CHAIN, tmp_path)
    graph = argv[argv.index("-filter_complex") + 1]
    assert 0 <= graph.index("fps=") < graph.index("scale=") < graph.index("crop=")


def test_low_precision_clipping_alone_is_a_stream_copy(sources, ffmpeg_log, tmp_path) -> None:
    outs = run_chain(sources[0], {"ClippingSubsampler": {"args": {"precision": "low"}}}, tmp_path, clips=[[1.0, 2.0]])
    [launch] = launches(ffmpeg_log)
    assert "-c:v copy" in launch and "libx264" not in launch
    assert "decode_errors" in outs[0].metadata


def test_nothing_to_change_runs_no_ffmpeg(sources, ffmpeg_log, tmp_path) -> None:
    [out] = run_chain(sources[0], {}, tmp_path)
    assert out.media == {"mp4": sources[0]}
    [out] = run_chain(sources[0], {"FFProbeSubsampler": {"args": {}}, "FrameSubsampler": {"args": {"frame_rate": 60}}}, tmp_path)
    assert out.media == {"mp4": sources[0]}
    assert launches(ffmpeg_log) == []


def test_images_pass_frame_and_clipping_untouched(tmp_path) -> None:
    image = make_image(tmp_path / "i.jpg")
    [out] = run_chain(image, {"FrameSubsampler": {"args": {"frame_rate": 8}}}, tmp_path / "o", clips=[[0, 1]])
    assert out.media == {"jpg": image} and out.key == "k"


def test_corrupt_packets_are_decoded_past_and_counted(tmp_path) -> None:
    damaged = make_corrupt_ts(tmp_path / "bad.ts", duration=4.0, fps=25)
    [out] = run_chain(damaged, {"ResolutionSubsampler": {"args": {"height": 120}}}, tmp_path / "o")
    assert out.metadata["decode_errors"] > 0
    [video] = streams(out.media["mp4"], "video")
    assert (video["width"], video["height"]) == (160, 120)
    assert int(video["nb_read_frames"]) >= 80  # most of the 100 frames survive


def test_unusable_file_fails_only_the_sample(sources, tmp_path) -> None:
    broken = tmp_path / "broken.mp4"
    shutil.copy(sources[0], broken)
    sample_probe_first = sample_for(broken, tmp_path / "o")
    broken.write_bytes(os.urandom(4096))  # damaged after the worker probed it
    config = config_for(CHAIN)
    _, chain = build_subsamplers(config.subsampling)
    from subsamplers.ffmpeg_plan import transform

    with pytest.raises(SubsamplerError) as info:
        transform(sample_probe_first, chain, config)
    assert "\n" not in str(info.value) and str(info.value).startswith("ffmpeg")


def test_ffmpeg_timeout_is_a_sample_error(sources, tmp_path) -> None:
    with pytest.raises(SubsamplerError, match="ffmpeg timed out after"):
        run_chain(sources[0], CHAIN, tmp_path, clips=SPANS, reading={"ffmpeg_timeout": 0.01})


def test_many_clips_share_one_decoder_and_encoder(sources, tmp_path) -> None:
    spans = [[i * 0.35, i * 0.35 + 0.25] for i in range(10)]  # 10 clips with 0.1 s gaps between them
    sub = {"FrameSubsampler": {"args": {"frame_rate": 20}}, "ClippingSubsampler": {"args": {"precision": "exact"}}}
    argv = _argv(sources[0], sub, tmp_path / "argv", spans)
    assert argv.count("-i") == 1 and argv.count("-c:v") == 1
    outs = run_chain(sources[0], sub, tmp_path / "o", clips=spans, encode_formats={"video": "mp4", "audio": "m4a"})
    assert [o.key for o in outs] == [f"k_{i:05d}" for i in range(10)]
    for out in outs:
        [video] = streams(out.media["mp4"], "video")
        assert int(video["nb_read_frames"]) == 5  # 0.25 s at 20 fps
        [audio] = streams(out.media["m4a"], "audio")
        assert float(audio["duration"]) == pytest.approx(0.25, abs=0.05)
    # the throw-away gap segments are gone: only the clips' members are left
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == sorted(
        f"k_{i:05d}.{ext}" for i in range(10) for ext in ("mp4", "m4a"))


def test_overlapping_clips_are_each_cut_exactly(sources, tmp_path) -> None:
    spans = [[0.0, 2.0], [1.0, 3.0]]
    outs = run_chain(sources[0], {"ClippingSubsampler": {"args": {"precision": "exact"}}}, tmp_path, clips=spans)
    assert [o.metadata["clips"] for o in outs] == [[s] for s in spans]
    assert [int(streams(o.media["mp4"], "video")[0]["nb_read_frames"]) for o in outs] == [50, 50]



def test_decode_errors_count_only_the_inputs_components() -> None:
    from subsamplers.ffmpeg_runner import count_decode_errors

    stderr = "\n".join([
        "[h264 @ 0x55d0c0a0] error while decoding MB 18 12",
        "[mpegts @ 0x55d0c0b0] Packet corrupt (stream = 0, dts = 3600)",
        "[mp4 @ 0x55d0c0c0] some muxer complaint",
        "[libx264 @ 0x55d0c0d0] some encoder complaint",
        "Error while decoding stream #0:0: Invalid data found when processing input",
    ])
    assert count_decode_errors(stderr, {"h264", "mpegts"}) == 3
    assert count_decode_errors("", {"h264"}) == 0



def test_a_hole_in_the_video_never_shifts_clips(tmp_path) -> None:
    from tests.support.media import closest_frame, gray_frames, run_ffmpeg

    # an AVI declared 25 fps whose frames stop at 0.96 s and resume at 3.0 s (audio throughout),
    # like a damaged stretch: the middle clip has no frame of its own
    holed = tmp_path / "hole.avi"
    run_ffmpeg(["-f", "lavfi", "-i", "testsrc2=d=2:s=160x120:r=25", "-f", "lavfi", "-i", "sine=d=4",
                "-vf", "setpts='if(gte(T,1),PTS+2/TB,PTS)'", "-fps_mode", "passthrough", "-c:v", "libx264",
                "-preset", "ultrafast", "-c:a", "aac", "-f", "avi", str(holed)])
    spans = [[0.2, 0.8], [1.5, 2.5], [3.2, 3.8]]
    outs = run_chain(holed, {"ClippingSubsampler": {"args": {"precision": "exact"}}}, tmp_path / "o", clips=spans)
    assert [o.metadata["clips"] for o in outs] == [[s] for s in spans]
    counts = [int(streams(o.media["mp4"], "video")[0]["nb_read_frames"]) for o in outs]
    assert counts == [15, 25, 15]  # the hole is held on its last frame, timing kept
    source = gray_frames(holed)  # 50 frames: 0..0.96 s, then 3.0..3.96 s
    # the frame at 3.2 s (AVI's empty chunks make the decoder's timestamps jitter by a frame)
    assert abs(closest_frame(gray_frames(outs[2].media["mp4"], limit=1)[0], source) - 30) <= 1
    assert abs(closest_frame(gray_frames(outs[0].media["mp4"], limit=1)[0], source) - 5) <= 1  # the frame at 0.2 s


def test_segments_are_renamed_and_gap_segments_deleted(tmp_path) -> None:
    from subsamplers.ffmpeg_segments import _boundaries, claim_segments

    # clip, clip right after it, a long gap, a clip: the gap opens a segment of its own
    times = _boundaries([(0.0, 1.0), (1.0, 2.0), (2.5, 3.0)], step=0.1)
    assert times == [1.0, 2.0, 2.5]
    written = [tmp_path / f"k.seg{i:05d}.mp4" for i in range(3)]  # the stream ended inside the gap
    for path in written:
        path.write_bytes(path.name.encode())
    targets = [tmp_path / f"k_{i:05d}.mp4" for i in range(3)]
    claim_segments(written, [0, 1, 3], targets)
    assert [t.read_bytes() if t.exists() else None for t in targets] == [b"k.seg00000.mp4", b"k.seg00001.mp4", None]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k_00000.mp4", "k_00001.mp4"]


def test_clips_without_output_are_recorded_not_fatal(sources, tmp_path, monkeypatch) -> None:
    from subsamplers import ffmpeg_segments

    real = ffmpeg_segments.claim_segments

    def lose_second(written, clip_segments, targets):  # as if clip 1 had decoded to nothing
        real(written, clip_segments, targets)
        targets[1].unlink()

    monkeypatch.setattr(ffmpeg_segments, "claim_segments", lose_second)
    spans = [[0.0, 1.0], [1.0, 2.0], [2.0, 3.0]]
    outs = run_chain(sources[0], CHAIN, tmp_path, clips=spans)
    assert [o.key for o in outs] == ["k_00000", "k_00002"]
    assert outs[0].metadata["clips_failed"] == [spans[1]]


def test_shared_encoder_cuts_are_frame_exact(sources, tmp_path) -> None:
    from tests.support.media import closest_frame, gray_frames

    spans = [[0.4, 1.2], [1.2, 2.0], [2.4, 3.2]]  # on frame boundaries at 25 fps: a contiguous pair, then a gap
    argv = _argv(sources[0], {"ClippingSubsampler": {"args": {"precision": "exact"}}}, tmp_path / "a", spans)
    assert argv.count("-i") == 1
    outs = run_chain(sources[0], {"ClippingSubsampler": {"args": {"precision": "exact"}}}, tmp_path / "o", clips=spans)
    source = gray_frames(sources[0])
    for out, (start, end) in zip(outs, spans, strict=True):
        frames = gray_frames(out.media["mp4"])
        assert len(frames) == round((end - start) * 25)
        assert closest_frame(frames[0], source) == round(start * 25)
        assert closest_frame(frames[-1], source) == round(end * 25) - 1


def test_shared_encoder_with_default_codec_settings_keeps_audio_and_rate(tmp_path) -> None:
    # x264's defaults (B-frames) and long gaps: the mp4's audio and frame rate stay with each clip
    source = make_video(tmp_path / "long.mp4", duration=8.0, size="320x240", fps=30, gop=60)
    spans = [[0.75, 3.0], [4.0, 5.0], [7.0, 8.0]]
    sub = {"ClippingSubsampler": {"args": {"precision": "exact"}}, "FrameSubsampler": {"args": {"frame_rate": 8}},
           "ResolutionSubsampler": {"args": {"height": 120}}}
    outs = run_chain(source, sub, tmp_path / "o", clips=spans, encoding={})
    assert [o.metadata["clips"] for o in outs] == [[s] for s in spans]
    for out, (start, end) in zip(outs, spans, strict=True):
        [video] = streams(out.media["mp4"], "video")
        [audio] = streams(out.media["mp4"], "audio")
        assert rate(video) == pytest.approx(8.0)
        assert int(video["nb_read_frames"]) == round((end - start) * 8)
        assert float(audio["start_time"]) == pytest.approx(0.0, abs=0.03)
        assert float(video["start_time"]) == pytest.approx(0.0, abs=0.005)
        assert float(audio["duration"]) == pytest.approx(end - start, abs=0.07)


def _launch_threads(log: Path) -> list[str]:
    words = launches(log)[-1].split()
    return [f"{words[i]} {words[i + 1]}" for i, w in enumerate(words[:-1]) if w in ("-threads", "-filter_threads")]


def test_one_thread_per_ffmpeg_when_the_run_fills_every_core(sources, ffmpeg_log, tmp_path) -> None:
    cores = len(os.sched_getaffinity(0))
    busy = {"processes_count": cores, "thread_count": 1}
    outs = run_chain(sources[0], CHAIN, tmp_path / "busy", clips=SPANS, distribution=busy)
    assert len(outs) == 2 and streams(outs[0].media["mp4"], "video")[0]["height"] == 112
    # decoder (before -i), filter graph and encoder each on one thread: the parallelism is the shards'
    assert _launch_threads(ffmpeg_log) == ["-filter_threads 1", "-threads 1", "-threads 1"]
    run_chain(sources[0], CHAIN, tmp_path / "explicit", clips=SPANS, distribution=busy,
              encoding={"crf": 40, "preset": "ultrafast", "threads": 0})
    assert _launch_threads(ffmpeg_log) == ["-filter_threads 0", "-threads 0", "-threads 0"], "an explicit count wins"
    if cores > 1:
        run_chain(sources[0], CHAIN, tmp_path / "alone", clips=SPANS, distribution={"processes_count": 1})
        assert _launch_threads(ffmpeg_log) == [], "one transcode on a many-core machine keeps ffmpeg's threading"


def test_codec_settings_default_to_libx264s_own_and_are_applied_when_set(sources, tmp_path) -> None:
    """video2dataset passes no codec options: libx264 at its defaults (crf 23, preset medium)."""
    from curation.config import build_config

    chain = {"ResolutionSubsampler": {"args": {"video_size": 48}}}
    config = build_config(None, subsampling=chain)
    _, built = build_subsamplers(config.subsampling)
    argv = compile_plan(build_plan(sample_for(sources[0], tmp_path / "d"), built, config)).argv
    assert argv[argv.index("-c:v") + 1] == "libx264"
    assert not {"-crf", "-preset", "-pix_fmt"} & set(argv), argv
    [default] = transform(sample_for(sources[0], tmp_path / "d"), built, config)
    assert streams(default.media["mp4"], "video")[0]["pix_fmt"] == "yuv420p"  # libx264 keeps the source's
    encoding = {"crf": 40, "preset": "veryfast", "pix_fmt": "yuv444p"}
    tuned_config = build_config(None, subsampling=chain, encoding=encoding)
    argv = compile_plan(build_plan(sample_for(sources[0], tmp_path / "t"), built, tuned_config)).argv
    assert [argv[argv.index(f"-{k}") + 1] for k in encoding] == ["40", "veryfast", "yuv444p"]
    [tuned] = run_chain(sources[0], chain, tmp_path / "t", encoding=encoding)
    [video] = streams(tuned.media["mp4"], "video")
    assert video["pix_fmt"] == "yuv444p" and video["profile"] == "High 4:4:4 Predictive"
