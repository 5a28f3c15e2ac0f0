"""AudioRateSubsampler and encode_formats: which members are written, at which rate and channels."""

from __future__ import annotations

import pytest

from curation.errors import ConfigError
from tests.support.chain import config_for, run_chain, streams
from tests.support.media import make_video

BOTH = {"video": "mp4", "audio": "m4a"}


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory):
    return make_video(tmp_path_factory.mktemp("audio") / "src.mp4", duration=2.0, fps=25)  # 44.1 kHz mono


def test_audio_member_at_the_asked_rate_and_channels(source, tmp_path) -> None:
    sub = {"AudioRateSubsampler": {"args": {"sample_rate": 16000, "n_audio_channels": 2}}}
    [out] = run_chain(source, sub, tmp_path, encode_formats=BOTH)
    assert sorted(out.media) == ["m4a", "mp4"]
    [audio] = streams(out.media["m4a"], "audio")
    assert (int(audio["sample_rate"]), audio["channels"]) == (16000, 2)
    assert not streams(out.media["m4a"], "video")
    assert float(audio["duration"]) == pytest.approx(2.0, abs=0.1)
    [inner] = streams(out.media["mp4"], "audio")  # the video member's audio follows the same rate
    assert int(inner["sample_rate"]) == 16000
    [video] = streams(out.media["mp4"], "video")
    assert int(video["nb_read_frames"]) == 50


def test_audio_member_per_clip(source, tmp_path) -> None:
    sub = {"AudioRateSubsampler": {"args": {"sample_rate": 22050}}, "ClippingSubsampler": {"args": {"precision": "exact"}}}
    outs = run_chain(source, sub, tmp_path, encode_formats=BOTH, clips=[[0.0, 0.8], [1.0, 2.0]])
    assert [sorted(o.media) for o in outs] == [["m4a", "mp4"], ["m4a", "mp4"]]
    for out, length in zip(outs, (0.8, 1.0), strict=True):
        [audio] = streams(out.media["m4a"], "audio")
        assert int(audio["sample_rate"]) == 22050
        assert audio["channels"] == 1
        assert float(audio["duration"]) == pytest.approx(length, abs=0.06)


def test_audio_only_encode_format_writes_no_video(source, tmp_path) -> None:
    [out] = run_chain(source, {"AudioRateSubsampler": {"args": {"sample_rate": 8000}}}, tmp_path, encode_formats={"audio": "m4a"})
    assert list(out.media) == ["m4a"]
    [audio] = streams(out.media["m4a"], "audio")
    assert int(audio["sample_rate"]) == 8000


def test_sample_rate_is_required() -> None:
    with pytest.raises(ConfigError, match="AudioRateSubsampler.args.sample_rate"):
        config_for({"AudioRateSubsampler": {"args": {}}})
