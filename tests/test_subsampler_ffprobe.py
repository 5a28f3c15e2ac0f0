"""FFProbeSubsampler: ffprobe's whole answer as video_metadata (even when the worker read the MP4 header); keyframes only when asked."""

from __future__ import annotations

import pytest

from tests.support.chain import run_chain
from tests.support.media import make_video


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory):
    return make_video(tmp_path_factory.mktemp("probe") / "src.mp4", duration=2.0, size="160x120", fps=25, gop=20)


def test_video_metadata_without_touching_the_media(source, tmp_path) -> None:
    [out] = run_chain(source, {"FFProbeSubsampler": {"args": {}}}, tmp_path)
    assert out.media == {"mp4": source}  # nothing to re-encode: the source passes through
    meta = out.metadata["video_metadata"]
    assert (meta["width"], meta["height"], meta["video_codec"], meta["audio_codec"]) == (160, 120, "h264", "aac")
    assert meta["fps"] == pytest.approx(25.0)
    assert meta["duration"] == pytest.approx(2.0, abs=0.05)
    assert {s["codec_type"] for s in meta["streams"]} == {"video", "audio"}
    assert "format_name" in meta["format"]
    # the worker read this MP4's header in-process; the json still gets what only ffprobe says
    assert meta["streams"][0]["codec_long_name"].startswith("H.264")
    assert meta["streams"][1]["channel_layout"] == "mono" and meta["format"]["probe_score"] == 100
    assert "keyframe_timestamps" not in meta


def test_keyframe_timestamps(source, tmp_path) -> None:
    [out] = run_chain(source, {"FFProbeSubsampler": {"args": {"extract_keyframes": True}}}, tmp_path)
    stamps = out.metadata["video_metadata"]["keyframe_timestamps"]
    assert stamps[:-1] == pytest.approx([0.0, 0.8, 1.6])
    assert stamps[-1] == pytest.approx(2.0, abs=0.05)  # the duration closes the list, as in video2dataset


def test_metadata_goes_to_every_clip(source, tmp_path) -> None:
    outs = run_chain(source, {"FFProbeSubsampler": {"args": {}}}, tmp_path, clips=[[0, 0.8], [0.8, 1.6]])
    assert len(outs) == 2
    assert all(o.metadata["video_metadata"]["width"] == 160 for o in outs)
