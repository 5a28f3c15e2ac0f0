"""The in-process MP4 header probe answers exactly as ffprobe for what the chain decides on, or defers to it."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from curation.mp4_header import read_mp4_header
from curation.probe import ProbeError, probe, probe_media
from tests.support.media import make_video, run_ffmpeg

H264_FAST = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]


def _lavfi(path: Path, video: str | None, audio: str | None, codecs: list[str], duration: float = 1.5,
           extra: list[str] | None = None) -> Path:
    args: list[str] = []
    if video:
        args += ["-f", "lavfi", "-i", f"{video}:d={duration}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=f=440:d={duration}:sample_rate={audio}"]
    run_ffmpeg([*args, *codecs, *(extra or []), str(path)])
    return path


def _rotated(path: Path, source: Path, degrees: int) -> Path:
    run_ffmpeg(["-i", str(source), "-c", "copy", "-metadata:s:v:0", f"rotate={degrees}", str(path)])
    return path


# name -> how to make it; every one of these must be read in-process (no ffprobe launch)
READABLE = {
    "h264_aac_faststart": lambda p: make_video(p / "a.mp4", duration=2.0, size="320x240", fps=25),
    "moov_at_the_end": lambda p: _lavfi(p / "b.mp4", "testsrc2=s=160x120:r=30", "44100", [*H264_FAST, "-c:a", "aac"]),
    "ntsc_rate_no_audio": lambda p: _lavfi(p / "c.mp4", "testsrc=s=322x180:r=30000/1001", None, H264_FAST),
    "b_frames_edit_list": lambda p: _lavfi(p / "d.mp4", "testsrc2=s=256x144:r=24", "48000",
                                           ["-c:v", "libx264", "-preset", "medium", "-bf", "3", "-c:a", "aac"]),
    "hevc_hvc1": lambda p: _lavfi(p / "e.mp4", "testsrc2=s=128x96:r=25", "22050",
                                  ["-c:v", "libx265", "-preset", "ultrafast", "-tag:v", "hvc1", "-x265-params",
                                   "log-level=error", "-c:a", "aac"]),
    "mp3_audio": lambda p: _lavfi(p / "f.mp4", "testsrc=s=160x90:r=15", "44100", [*H264_FAST, "-c:a", "libmp3lame"]),
    "opus_audio": lambda p: _lavfi(p / "g.mp4", "testsrc=s=160x90:r=10", "48000", [*H264_FAST, "-c:a", "libopus"]),
    "audio_only_m4a": lambda p: _lavfi(p / "h.m4a", None, "32000", ["-c:a", "aac"]),
    "vp9_in_mp4": lambda p: _lavfi(p / "i.mp4", "testsrc=s=96x64:r=12", None,
                                   ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8"]),
    "rotated_90": lambda p: _rotated(p / "j.mp4", make_video(p / "j0.mp4", size="160x96", fps=20), 90),
    "rotated_270": lambda p: _rotated(p / "k.mp4", make_video(p / "k0.mp4", size="160x96", fps=20), 270),
    "rotated_180": lambda p: _rotated(p / "l.mp4", make_video(p / "l0.mp4", size="160x96", fps=20), 180),
    "long_gop_60fps": lambda p: make_video(p / "m.mp4", duration=3.0, size="192x108", fps=60, gop=120),
}


def _vfr(p: Path) -> Path:
    return _lavfi(p / "vfr.mp4", "testsrc=s=96x64:r=30", None,
                  [*H264_FAST, "-vf", "select='not(mod(n\\,3))+eq(n\\,4)+eq(n\\,13)'", "-fps_mode", "vfr"])


# files this reader must leave to ffprobe
DEFERRED = {
    "fragmented": lambda p: _lavfi(p / "frag.mp4", "testsrc=s=96x64:r=25", "44100",
                                   [*H264_FAST, "-c:a", "aac", "-movflags", "frag_keyframe+empty_moov"]),
    "matroska": lambda p: make_video(p / "x.mkv", size="96x64"),
    "variable_frame_rate": _vfr,
    "non_square_pixels": lambda p: _lavfi(p / "sar.mp4", "testsrc=s=96x64:r=25", None, [*H264_FAST, "-vf", "setsar=2"]),
    "mpeg4_part2": lambda p: _lavfi(p / "mp4v.mp4", "testsrc=s=96x64:r=25", None, ["-c:v", "mpeg4"]),
    "html_named_mp4": lambda p: _write(p / "page.mp4", b"<html><body>not a video</body></html>" * 40),
}


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _fields(raw: dict) -> dict:
    """What the chain reads from a probe: format duration/name/start and each stream's decision fields."""
    fmt = raw["format"]
    streams = []
    for stream in raw["streams"]:
        rotation = next((s["rotation"] for s in stream.get("side_data_list", []) if "rotation" in s), 0)
        streams.append({
            "codec_type": stream["codec_type"], "codec_name": stream["codec_name"],
            "width": stream.get("width"), "height": stream.get("height"),
            "r_frame_rate": stream["r_frame_rate"], "avg_frame_rate": stream["avg_frame_rate"],
            "sample_rate": stream.get("sample_rate"), "rotation": rotation,
        })
    return {"duration": fmt["duration"], "format_name": fmt["format_name"], "start_time": fmt["start_time"],
            "streams": streams}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mp4_header")


@pytest.mark.parametrize("case", sorted(READABLE))
def test_header_answers_as_ffprobe_does(case: str, folder: Path) -> None:
    path = READABLE[case](folder)
    header = read_mp4_header(path)
    assert header is not None, f"{case}: the reader deferred to ffprobe"
    assert _fields(header) == _fields(probe(path).raw)
    fast, slow = probe_media(path), probe(path)
    assert not fast.complete and slow.complete
    for name in ("duration", "width", "height", "fps", "video_codec", "audio_codec", "format_name", "is_image"):
        assert getattr(fast, name) == getattr(slow, name), name


@pytest.mark.parametrize("case", sorted(DEFERRED))
def test_anything_else_is_left_to_ffprobe(case: str, folder: Path) -> None:
    path = DEFERRED[case](folder)
    assert read_mp4_header(path) is None
    if case == "html_named_mp4":
        with pytest.raises(ProbeError, match="not a media file"):
            probe_media(path)
    else:
        assert probe_media(path).complete  # ffprobe's own answer


def test_quarter_turns_are_reported_as_rotations(folder: Path) -> None:
    """The resolution chain swaps width and height for quarter turns; an unrotated file has no display matrix."""
    for case, turn in (("rotated_90", 90), ("rotated_270", 90), ("rotated_180", 180)):
        path = READABLE[case](folder)
        header = read_mp4_header(path)
        assert header is not None
        rotation = header["streams"][0]["side_data_list"][0]["rotation"]
        assert abs(rotation) == turn
        assert rotation == probe(path).raw["streams"][0]["side_data_list"][0]["rotation"]
    plain = read_mp4_header(READABLE["h264_aac_faststart"](folder))
    assert plain is not None and "side_data_list" not in plain["streams"][0]


def test_truncated_and_mutated_headers_never_raise(folder: Path) -> None:
    """Hostile bytes: every truncation and 400 random byte changes give None or an answer, never an exception."""
    original = READABLE["h264_aac_faststart"](folder).read_bytes()
    target = folder / "mutant.mp4"
    moov_at = original.index(b"moov") - 4
    moov_end = moov_at + int.from_bytes(original[moov_at:moov_at + 4], "big")
    assert moov_end < original.index(b"mdat")  # faststart: the header comes first
    for cut in range(0, moov_end, 7):
        target.write_bytes(original[:cut])
        assert read_mp4_header(target) is None  # the moov box is cut short
    rng = random.Random(5)
    answered = 0
    for _ in range(400):
        mutant = bytearray(original[:moov_end])
        for _ in range(rng.randint(1, 4)):
            mutant[rng.randrange(len(mutant))] = rng.randrange(256)
        target.write_bytes(bytes(mutant) + original[moov_end:])
        answered += read_mp4_header(target) is not None
    assert 0 < answered < 400  # some changes hit fields it checks, some hit bytes it never reads
