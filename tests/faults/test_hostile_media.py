"""Broken and unusual media through a resize + fps chain: each is processed or recorded; none hangs."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from curation import curate
from tests.faults.conftest import Ledger
from tests.support.media import make_video, run_ffmpeg, set_rotation_matrix, video_stream
from tests.support.shards import read_webdataset

CHAIN = {
    "ResolutionSubsampler": {"args": {"video_size": 32, "resize_mode": "scale"}},
    "FrameSubsampler": {"args": {"frame_rate": 4}},
}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("hostile")
    files: dict[str, Path] = {}
    files["zero_bytes"] = root / "zero.mp4"
    files["zero_bytes"].write_bytes(b"")
    full = make_video(root / "full.mp4", duration=2, size="96x64", fps=10, codec_args=["-c:v", "libx264", "-preset", "ultrafast"])
    run_ffmpeg(["-i", str(full), "-c", "copy", str(root / "moov_at_end.mp4")])  # no faststart: moov last
    data = (root / "moov_at_end.mp4").read_bytes()
    files["truncated_no_moov"] = root / "truncated.mp4"
    files["truncated_no_moov"].write_bytes(data[: len(data) // 2])
    files["html_as_mp4"] = root / "page.mp4"
    files["html_as_mp4"].write_bytes(b"<!doctype html><html><body>404 not found</body></html>\n" * 10)
    files["audio_only"] = root / "audio.mp4"
    run_ffmpeg(["-f", "lavfi", "-i", "sine=f=440:d=2", "-c:a", "aac", str(files["audio_only"])])
    ts = make_video(root / "clean.ts", duration=3, size="96x64", fps=10, audio=False,
                    codec_args=["-c:v", "libx264", "-preset", "ultrafast", "-g", "5", "-f", "mpegts"])
    raw = bytearray(ts.read_bytes())
    for offset in range(len(raw) // 3, 2 * len(raw) // 3, 997):  # corrupt payload bytes mid-stream
        raw[offset] ^= 0xFF
    files["corrupt_frames"] = root / "corrupt.ts"
    files["corrupt_frames"].write_bytes(bytes(raw))
    files["variable_frame_rate"] = root / "vfr.mp4"
    run_ffmpeg(["-f", "lavfi", "-i", "testsrc2=d=2:s=96x64:r=30", "-vf", "select='not(mod(n\\,3))+eq(mod(n\\,7)\\,0)'",
                "-fps_mode", "vfr", "-c:v", "libx264", "-preset", "ultrafast", str(files["variable_frame_rate"])])
    files["rotated"] = set_rotation_matrix(make_video(root / "rotated.mp4", duration=1, size="96x64", fps=10, audio=False))
    files["declared_8k"] = root / "big.mp4"
    run_ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=7680x4320:r=1:d=1", "-frames:v", "1", "-c:v", "libx264",
                "-preset", "ultrafast", str(files["declared_8k"])])
    files["one_frame"] = root / "one.mp4"
    run_ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=96x64:r=10:d=1", "-frames:v", "1", "-c:v", "libx264", str(files["one_frame"])])
    files["two_hours"] = root / "long.mp4"
    run_ffmpeg(["-f", "lavfi", "-i", "color=c=blue:s=16x16:r=1:d=7200", "-c:v", "libx264", "-preset", "ultrafast",
                "-g", "600", str(files["two_hours"])])
    return files


def _curate(files: dict[str, Path], out: Path, reading: dict | None = None) -> dict[str, dict]:
    table = out.parent / f"{out.name}.csv"
    table.write_text("url,case\n" + "".join(f"{path},{name}\n" for name, path in files.items()))
    curate(url_list=str(table), output_folder=str(out), output_format="webdataset", save_additional_columns=["case"],
           config={"subsampling": CHAIN, "reading": {"timeout": 120, **(reading or {})},
                   "distribution": {"processes_count": 2, "thread_count": 2}, "storage": {"number_sample_per_shard": 5}},
           quiet=True)
    return {json.loads(s["json"])["case"]: s for s in read_webdataset(out)}


def test_each_hostile_file_is_processed_or_recorded(hostile: dict[str, Path], tmp_path: Path, ledger: Ledger) -> None:
    started = time.monotonic()
    samples = _curate(hostile, tmp_path / "out")
    ledger.notes.append(f"hostile media: {len(hostile)} files in {time.monotonic() - started:.1f}s")
    assert sorted(samples) == sorted(hostile), "every input must be accounted for"
    meta = {name: json.loads(s["json"]) for name, s in samples.items()}
    expected = {
        "zero_bytes": "failed_to_download", "truncated_no_moov": "failed_to_subsample", "html_as_mp4": "failed_to_subsample",
        "corrupt_frames": "success", "variable_frame_rate": "success", "rotated": "success", "declared_8k": "success",
        "one_frame": "success", "two_hours": "success",
    }
    for name, status in expected.items():
        assert meta[name]["status"] == status, (name, meta[name].get("error_message"))
    assert meta["audio_only"]["status"] in ("success", "failed_to_subsample")
    if meta["audio_only"]["status"] != "success":
        assert meta["audio_only"]["error_message"]
    for name, status in expected.items():
        if status != "success":
            assert "mp4" not in samples[name] and meta[name]["error_message"], name
    out = tmp_path / "out"
    for name in ("variable_frame_rate", "two_hours", "declared_8k", "rotated"):
        clip = out / f"{name}.mp4"
        clip.write_bytes(samples[name]["mp4"])
        assert int(video_stream(clip)["height"]) <= 32 or name == "rotated", name
    assert meta["corrupt_frames"].get("decode_errors", 0) > 0


def test_limits_refuse_bombs_and_endless_sources(hostile: dict[str, Path], tmp_path: Path) -> None:
    subset = {k: hostile[k] for k in ("declared_8k", "two_hours", "one_frame")}
    samples = _curate(subset, tmp_path / "out", reading={"max_pixels": 1920 * 1080, "max_duration": 3600})
    meta = {name: json.loads(s["json"]) for name, s in samples.items()}
    assert meta["declared_8k"]["status"] == "failed_to_subsample"
    assert "7680x4320 exceeds reading.max_pixels" in meta["declared_8k"]["error_message"]
    assert meta["two_hours"]["status"] == "failed_to_subsample"
    assert "exceeds reading.max_duration" in meta["two_hours"]["error_message"]
    assert meta["one_frame"]["status"] == "success"
