"""Section downloads: a Kinetics row without --media_dir fetches only its window through yt-dlp.

yt-dlp's generic extractor runs against a real HTTP server on 127.0.0.1 that honours ``Range`` (as
YouTube's media servers do) and counts the bytes it sends, so the test sees that only the window
was downloaded, and that the clip written has the window's length.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from curation.config import ReadingConfig
from curation.sections import clips_in_download, download_section, record_section
from curation.sources import Fetched, FetchError, classify, fetch
from subsamplers.base import SampleOutput
from tests.support.datasets import kinetics_csv_text
from tests.support.media import make_video, video_stream

FPS = 25
SOURCE_SECONDS = 30.0
CHUNK = 16 * 1024


class RangeServer:
    """Serves ``root/<name>`` and ``/watch?v=<id>`` (→ ``root/<id>.mp4``) with Range support.

    Bodies go out in small paced chunks, so the bytes counted are the bytes the client read
    (nothing piles up in socket buffers). ``/slow/<name>`` trickles forever-slow.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.sent: dict[str, int] = {}
        self.per_request: list[list[Any]] = []  # [name, Range header, bytes sent]
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                outer._handle(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{path.lstrip('/')}"

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        path, _, query = h.path.partition("?")
        slow = path.startswith("/slow/")
        name = path.removeprefix("/slow/").lstrip("/")
        if name == "watch":
            name = query.removeprefix("v=") + ".mp4"
        file = self.root / name
        if not file.is_file():
            h.send_response(404)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        body = file.read_bytes()
        start, end = 0, len(body) - 1
        wanted = h.headers.get("Range")
        with self._lock:
            self.per_request.append([name, wanted or "", 0])
            counter = self.per_request[-1]
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", wanted or "")
        if match:
            start = int(match.group(1))
            end = min(int(match.group(2)), end) if match.group(2) else end
            h.send_response(206)
            h.send_header("Content-Range", f"bytes {start}-{end}/{len(body)}")
        else:
            h.send_response(200)
        h.send_header("Accept-Ranges", "bytes")
        h.send_header("Content-Type", "video/mp4")
        h.send_header("Content-Length", str(end - start + 1))
        h.end_headers()
        h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, CHUNK)  # little unread data piles up
        with contextlib.suppress(OSError):
            for offset in range(start, end + 1, CHUNK):
                piece = body[offset : min(offset + CHUNK, end + 1)]
                h.wfile.write(piece)
                h.wfile.flush()
                with self._lock:
                    self.sent[name] = self.sent.get(name, 0) + len(piece)
                    counter[2] += len(piece)
                time.sleep(1.0 if slow else 0.005)

    def __enter__(self) -> RangeServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def long_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """30 s with a keyframe every second and audio: a stand-in for a YouTube video."""
    root = tmp_path_factory.mktemp("yt")
    return make_video(root / "source.mp4", duration=SOURCE_SECONDS, size="320x240", fps=FPS, audio=True, gop=FPS)


@pytest.fixture
def range_server(long_video: Path) -> Iterator[RangeServer]:
    with RangeServer(long_video.parent) as server:
        yield server


def seconds(path: Path) -> float:
    return float(video_stream(path)["duration"])


def reading(**extra: Any) -> ReadingConfig:
    return ReadingConfig(downloader="ytdlp", timeout=30, retries=0, **extra)


def run_here(config: dict[str, Any], **top: Any) -> None:
    """Plan and process every shard in this process (the engine is not under test here)."""
    from curation.config import build_config
    from curation.plan import make_plan
    from curation.worker import process_shard

    built = build_config(config, **top)
    for shard_id in make_plan(built).shard_ids:
        process_shard(shard_id, built)


# -- the rule -------------------------------------------------------------------------------------


def test_only_a_single_window_is_downloaded_as_a_section() -> None:
    plain = ReadingConfig()
    assert download_section([[10.0, 20.0]], plain) == (10.0, 20.0)
    assert download_section([10, 20], plain) == (10.0, 20.0)
    assert download_section('[["00:00:10", "00:00:20.5"]]', plain) == (10.0, 20.5)
    assert download_section([[0, 5], [10, 20]], plain) is None  # several clips: the whole video
    assert download_section(None, plain) is None
    assert download_section([[20, 10]], plain) is None
    assert download_section([[10, 20]], ReadingConfig(yt_args={"download_sections": False})) is None


def test_section_offset_is_shifted_for_the_chain_and_restored_in_the_json(tmp_path: Path) -> None:
    fetched = Fetched(path=tmp_path / "x.mp4", size=1, is_temp=True, meta={"section": [12.0, 15.0]})
    assert clips_in_download([[12.0, 15.0]], fetched, 3.0) == [[0.0, 3.0]]
    out = SampleOutput(key="k_00000", metadata={"clips": [[0.0, 2.96]], "clips_failed": [[1.0, 2.0]],
                                                "clips_clamped": [{"clip": [0.0, 3.0], "to": [0.0, 2.96]}]})
    meta = record_section([out], fetched)[0].metadata
    assert meta["clips"] == [[12.0, 14.96]] and meta["download_section"] == [12.0, 15.0]
    assert meta["clips_failed"] == [[13.0, 14.0]]
    assert meta["clips_clamped"] == [{"clip": [12.0, 15.0], "to": [12.0, 14.96]}]
    whole = Fetched(path=tmp_path / "x.mp4", size=1, is_temp=True, meta={"section": [12.0, 15.0]})
    assert clips_in_download([[12.0, 15.0]], whole, SOURCE_SECONDS) == [[12.0, 15.0]]  # yt-dlp ignored the range
    assert "section" not in whole.meta and "30.0s" in whole.meta["section_fallback"]


def test_youtube_ids_starting_with_a_dash_are_urls_for_yt_dlp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The id travels inside a watch URL through yt-dlp's Python API: never a command-line option."""
    import yt_dlp

    from curation.datasets.kinetics import YOUTUBE

    seen: dict[str, Any] = {}

    class FakeYDL:
        def __init__(self, options: dict[str, Any]) -> None:
            seen["options"] = options

        def __enter__(self) -> FakeYDL:
            return self

        def __exit__(self, *exc: object) -> None:
            pass

        def extract_info(self, url: str, download: bool) -> dict[str, Any]:
            seen["url"] = url
            (tmp_path / "source.mp4").write_bytes(b"x")
            return {"id": url.rsplit("=", 1)[1], "requested_downloads": [{"section_start": 10.0, "section_end": 20.0}]}

    monkeypatch.setattr(yt_dlp, "YoutubeDL", FakeYDL)
    url = YOUTUBE + "-0a1B2c3D4e"
    assert classify(url, ReadingConfig()) == "ytdlp"
    fetched = fetch(url, tmp_path, ReadingConfig(), section=(10.0, 20.0))
    assert seen["url"] == "https://www.youtube.com/watch?v=-0a1B2c3D4e"
    assert fetched.meta["section"] == [10.0, 20.0] and fetched.meta["yt"]["id"] == "-0a1B2c3D4e"
    assert seen["options"]["force_keyframes_at_cuts"] is True


# -- against a real server ------------------------------------------------------------------------


def test_yt_dlp_downloads_only_the_section(range_server: RangeServer, long_video: Path, tmp_path: Path) -> None:
    fetched = fetch(range_server.url("source.mp4"), tmp_path, reading(), section=(12.0, 15.0))
    assert fetched.meta["section"] == [12.0, 15.0] and "section_fallback" not in fetched.meta
    assert abs(seconds(fetched.path) - 3.0) <= 1 / FPS
    full = long_video.stat().st_size
    assert range_server.sent["source.mp4"] < full / 2, (range_server.per_request, full)


def test_kinetics_without_media_dir_fetches_only_each_window(
    range_server: RangeServer, long_video: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from curation.config import build_config
    from curation.datasets import kinetics

    rows = [("abseiling", "-0a1B2c3D4e", 12, 15, "train"), ("juggling, balls", "bbbbbbbbb01", 2, 5, "val")]
    for _, youtube_id, *_ in rows:
        (long_video.parent / f"{youtube_id}.mp4").write_bytes(long_video.read_bytes())
    annotations = tmp_path / "train.csv"
    annotations.write_text(kinetics_csv_text(rows), encoding="utf-8")
    # YouTube is this server: plan and shard run in this process, where the patch holds (the engine is not under test)
    monkeypatch.setattr(kinetics, "YOUTUBE", range_server.url("watch?v="))
    out = tmp_path / "out"
    config = {"reading": {"downloader": "ytdlp", "timeout": 30, "retries": 0},
              "distribution": {"thread_count": 1},  # one download at a time: clean byte counts
              "subsampling": {"ClippingSubsampler": {"args": {"precision": "exact"}}}}
    assert build_config(config).clip_col is None  # dataset layouts clip by their `clips` column without being told
    run_here(config, url_list=str(annotations), output_folder=str(out), input_format="kinetics")
    full = long_video.stat().st_size
    for label, youtube_id, start, end, split in rows:
        key = f"{youtube_id}_{start:06d}_{end:06d}_00000"
        meta = json.loads(next(out.glob(f"*/{key}.json")).read_text(encoding="utf-8"))
        assert meta["status"] == "success", meta
        assert (meta["label"], meta["split"], meta["youtube_id"]) == (label, split, youtube_id)
        assert meta["clips"] == [[float(start), float(end)]]  # the YouTube timeline, not the download's
        assert meta["download_section"] == [float(start), float(end)]
        assert abs(seconds(next(out.glob(f"*/{key}.mp4"))) - (end - start)) <= 1 / FPS
        assert range_server.sent[f"{youtube_id}.mp4"] < full / 2, (range_server.per_request, full)


def test_without_ffmpeg_for_yt_dlp_the_whole_video_is_downloaded_and_clipped(
    range_server: RangeServer, long_video: Path, tmp_path: Path,
) -> None:
    """yt-dlp cuts sections with ffmpeg; when it cannot, the fallback downloads everything and the chain cuts."""
    table = tmp_path / "in.jsonl"
    table.write_text(json.dumps({"url": range_server.url("source.mp4"), "clips": [[12, 15]]}) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    run_here({"reading": {"downloader": "ytdlp", "timeout": 30, "retries": 0,
                          "yt_args": {"ffmpeg_location": str(tmp_path / "no-ffmpeg")}},
              "subsampling": {"ClippingSubsampler": {"args": {"precision": "exact"}}}},
             url_list=str(table), output_folder=str(out), clip_col="clips")
    meta = json.loads(next(out.glob("*/*_00000.json")).read_text(encoding="utf-8"))
    assert meta["status"] == "success", meta
    assert "ffmpeg" in meta["download_section_fallback"] and "download_section" not in meta
    assert meta["clips"] == [[12.0, 15.0]]
    assert abs(seconds(next(out.glob("*/*_00000.mp4"))) - 3.0) <= 1 / FPS
    assert range_server.sent["source.mp4"] >= long_video.stat().st_size


def test_a_section_download_from_a_stalling_server_times_out(range_server: RangeServer, tmp_path: Path) -> None:
    began = time.monotonic()
    with pytest.raises(FetchError, match="longer than 3s") as info:
        fetch(range_server.url("slow/source.mp4"), tmp_path, reading(ytdlp_timeout=3), section=(12.0, 15.0))
    assert info.value.transient and time.monotonic() - began < 15
