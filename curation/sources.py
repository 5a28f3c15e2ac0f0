"""Fetch one sample to a local file: a local path, an http(s) download, or yt-dlp.

Every network step has a timeout and a byte limit; transient failures (timeouts, resets, 5xx, 429)
are retried with backoff, permanent ones (404, 403, refused schemes) are not. URLs never reach a
shell and never become command-line options.
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import requests
import urllib3

from curation.config import ReadingConfig

USER_AGENT = "curation/0.1 (+https://github.com/curation)"
YTDLP_HOSTS = ("youtube.com", "youtu.be", "vimeo.com", "dailymotion.com", "tiktok.com", "twitch.tv")
CHUNK = 1 << 18  # 256 KiB: one read buffer per download thread, 16 threads at once in a 2-shard run


class FetchError(Exception):
    """The sample could not be fetched; ``transient`` failures are worth another attempt."""

    def __init__(self, message: str, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


@dataclass
class Fetched:
    path: Path
    size: int
    is_temp: bool
    meta: dict[str, Any] = field(default_factory=dict)


def classify(url: str, reading: ReadingConfig) -> str:
    """'local', 'http' or 'ytdlp'; raise FetchError for schemes we refuse."""
    parsed = urlparse(url)
    scheme = parsed.scheme.lower()
    if scheme in ("http", "https"):
        if reading.downloader == "ytdlp":
            return "ytdlp"
        host = parsed.hostname or ""
        if reading.downloader == "auto" and any(host == h or host.endswith("." + h) for h in YTDLP_HOSTS):
            return "ytdlp"
        return "http"
    if scheme == "file":
        if reading.allow_local_files is not True:
            raise FetchError("refused file:// URL: set reading.allow_local_files: true to read local files named by URL")
        return "local"
    if scheme == "" or (len(scheme) == 1 and url[1:3] in (":\\", ":/")):
        if reading.allow_local_files is False:
            raise FetchError("refused local path: reading.allow_local_files is false")
        return "local"
    raise FetchError(f"refused URL scheme {scheme!r}: only http, https and local paths are read")


def fetch(url: str, dest_dir: Path, reading: ReadingConfig, section: tuple[float, float] | None = None) -> Fetched:
    """Fetch with retries for transient errors.

    ``section`` (start, end) asks yt-dlp for that time window only; local files and plain HTTP
    downloads ignore it. ``meta["section"]`` is set when only the window was downloaded (the file
    then starts at the window's start), ``meta["section_fallback"]`` (the reason) when yt-dlp could
    not cut and the whole video was downloaded instead.
    """
    kind = classify(url, reading)
    if kind == "local":
        return _local(url)
    attempts = reading.retries + 1
    for attempt in range(attempts):
        try:
            if kind == "http":
                try:
                    return _http(url, dest_dir, reading)
                except _NotMedia:
                    if reading.downloader == "http":
                        raise FetchError("server sent a web page (text/html), not media") from None
                    kind = "ytdlp"
            return _ytdlp_section_or_whole(url, dest_dir, reading, section)
        except FetchError as exc:
            _clean_dir(dest_dir)
            if not exc.transient or attempt == attempts - 1:
                if exc.transient and attempts > 1:
                    raise FetchError(f"{exc} (after {attempts} attempts)") from None
                raise
            time.sleep(reading.retry_backoff * (2**attempt))
    raise AssertionError("unreachable")


def _clean_dir(path: Path) -> None:
    for child in path.iterdir() if path.exists() else []:
        if child.is_dir():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def _local(url: str) -> Fetched:
    path = Path(urlparse(url).path if url.lower().startswith("file:") else url).expanduser()
    if not path.is_file():
        raise FetchError(f"file not found: {path}")
    size = path.stat().st_size
    if size == 0:
        raise FetchError("empty file (0 bytes)")
    return Fetched(path=path.resolve(), size=size, is_temp=False)


class _NotMedia(Exception):
    """An http response that is a web page: yt-dlp may know how to get the media behind it."""


def _http(url: str, dest_dir: Path, reading: ReadingConfig) -> Fetched:
    connect = reading.step_timeout("connect")
    read = reading.timeout
    deadline = time.monotonic() + reading.step_timeout("download")
    dest = dest_dir / "source"
    try:
        with requests.get(url, stream=True, timeout=(connect, read), headers={"User-Agent": USER_AGENT}) as response:
            status = response.status_code
            if status >= 400:
                transient = status >= 500 or status in (408, 425, 429)
                raise FetchError(f"HTTP {status} {response.reason or ''}".strip(), transient=transient)
            if response.headers.get("Content-Type", "").split(";")[0].strip().lower() == "text/html":
                raise _NotMedia()
            declared = int(response.headers.get("Content-Length") or 0)
            if declared > reading.max_download_bytes:
                raise FetchError(f"body of {declared} bytes exceeds reading.max_download_bytes ({reading.max_download_bytes})")
            size = 0
            with open(dest, "wb") as handle:
                while chunk := response.raw.read1(CHUNK, decode_content=True):  # returns as soon as data arrives
                    size += len(chunk)
                    if size > reading.max_download_bytes:
                        raise FetchError(f"body exceeds reading.max_download_bytes ({reading.max_download_bytes})")
                    if time.monotonic() > deadline:
                        raise FetchError(f"download took longer than {reading.step_timeout('download'):g}s", transient=True)
                    handle.write(chunk)
            if declared and size < declared:
                raise FetchError(f"connection closed after {size} of {declared} bytes", transient=True)
    except requests.exceptions.TooManyRedirects:
        raise FetchError("too many redirects") from None
    except (requests.exceptions.ConnectionError, requests.exceptions.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
        raise FetchError(f"{type(exc).__name__}: {_short(exc)}", transient=True) from None
    except (urllib3.exceptions.HTTPError, OSError) as exc:  # raised by raw reads: resets, read timeouts
        if isinstance(exc, (urllib3.exceptions.TimeoutError, TimeoutError)):
            raise FetchError(f"read timed out after {read:g}s", transient=True) from None
        raise FetchError(f"connection broken while reading the body ({type(exc).__name__})", transient=True) from None
    except requests.exceptions.RequestException as exc:
        raise FetchError(f"{type(exc).__name__}: {_short(exc)}") from None
    if size == 0:
        raise FetchError("empty response (0 bytes)")
    return Fetched(path=dest, size=size, is_temp=True, meta={"content_type": response.headers.get("Content-Type")})


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:300]


class _Deadline(Exception):
    pass


# yt-dlp's own words when it cannot cut a section: a protocol ffmpeg cannot cut, no usable ffmpeg, or
# ffmpeg failing on this source; the whole video is then downloaded and the clip cut from it
_CANNOT_CUT = ("cannot be partially downloaded", "requested downloading the video partially",
               "ffmpeg could not be found", "ffmpeg exited with code")


def _ytdlp_section_or_whole(url: str, dest_dir: Path, reading: ReadingConfig, section: tuple[float, float] | None) -> Fetched:
    """The section when yt-dlp can cut it, else the whole video with the reason recorded."""
    if section is None:
        return _ytdlp(url, dest_dir, reading, None)
    try:
        return _ytdlp(url, dest_dir, reading, section)
    except FetchError as exc:
        if exc.transient or not any(words in str(exc) for words in _CANNOT_CUT):
            raise
        reason = str(exc)
    _clean_dir(dest_dir)
    fetched = _ytdlp(url, dest_dir, reading, None)
    fetched.meta["section_fallback"] = reason
    return fetched


def _kill_children_writing_to(dest_dir: Path) -> None:
    """Stop the ffmpeg yt-dlp started for a section download (our child, writing into ``dest_dir``).

    yt-dlp waits on that ffmpeg with no timeout and calls no progress hook meanwhile, so a slow
    server would hold the sample forever; only our own children that name our temp folder are hit.
    """
    me, needle = os.getpid(), str(dest_dir).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if ppid == me and needle in (entry / "cmdline").read_bytes():
                os.kill(int(entry.name), signal.SIGKILL)
        except (OSError, ValueError, IndexError):
            continue


class _SilentLogger:
    """yt-dlp prints errors to stderr unless given a logger; ours become the sample's error message."""

    def debug(self, _msg: str) -> None:
        pass

    warning = error = info = debug


def ytdlp_format(yt_args: dict[str, Any]) -> str:
    """video2dataset's format choice: the smallest stream at least ``download_size`` high, else the best."""
    size = int(yt_args.get("download_size", 360))
    return f"wv*[height>={size}][ext=mp4]+ba[ext=m4a]/w*[height>={size}][ext=mp4]/bv*[ext=mp4]+ba[ext=m4a]/b[ext=mp4]/b"


def _ytdlp(url: str, dest_dir: Path, reading: ReadingConfig, section: tuple[float, float] | None) -> Fetched:
    import yt_dlp
    from yt_dlp.utils import DownloadError

    timeout = reading.step_timeout("ytdlp")
    deadline = time.monotonic() + timeout

    def guard(_progress: dict[str, Any]) -> None:
        if time.monotonic() > deadline:
            raise _Deadline()

    yt_args = dict(reading.yt_args)
    options: dict[str, Any] = {
        "quiet": True, "no_warnings": True, "noprogress": True, "noplaylist": True,
        "format": yt_args.pop("format", None) or ytdlp_format(yt_args),
        "outtmpl": {"default": str(dest_dir / "source.%(ext)s")},
        "socket_timeout": reading.step_timeout("connect"),
        "retries": 0, "fragment_retries": 1,
        "max_filesize": reading.max_download_bytes,
        "progress_hooks": [guard],
        "overwrites": True, "cachedir": False, "logger": _SilentLogger(),
    }
    for name in ("download_size", "download_audio_rate", "yt_metadata_args", "download_sections"):
        yt_args.pop(name, None)
    options.update(yt_args)
    watchdog: threading.Timer | None = None
    if section is not None:
        from yt_dlp.utils import download_range_func

        options["download_ranges"] = download_range_func(None, [section])
        options["force_keyframes_at_cuts"] = True  # re-encoded at the cuts: the file starts at the window's start
        # yt-dlp cuts with an ffmpeg child: a read timeout for stalls, a watchdog for the whole download
        rw_timeout = str(int(reading.timeout * 1_000_000))
        options["external_downloader_args"] = {"ffmpeg_i": ["-rw_timeout", rw_timeout], **options.get("external_downloader_args", {})}
        watchdog = threading.Timer(timeout, _kill_children_writing_to, args=(dest_dir,))
        watchdog.daemon = True
        watchdog.start()
    try:
        with yt_dlp.YoutubeDL(options) as ydl:
            info = ydl.extract_info(url, download=True)
    except _Deadline:
        raise FetchError(f"yt-dlp took longer than {timeout:g}s", transient=True) from None
    except DownloadError as exc:
        if time.monotonic() > deadline:
            raise FetchError(f"yt-dlp took longer than {timeout:g}s", transient=True) from None
        message = _short(exc).removeprefix("ERROR: ")
        transient = any(word in message for word in ("timed out", "Connection reset", "HTTP Error 5", "Temporary"))
        raise FetchError(f"yt-dlp: {message}", transient=transient) from None
    except Exception as exc:  # yt-dlp raises many kinds; every one costs just this sample
        raise FetchError(f"yt-dlp: {type(exc).__name__}: {_short(exc)}") from None
    finally:
        if watchdog is not None:
            watchdog.cancel()
    files = [p for p in dest_dir.iterdir() if p.is_file() and p.name.startswith("source.") and not p.name.endswith(".part")]
    if not files:
        raise FetchError("yt-dlp: no file was downloaded")
    path = max(files, key=lambda p: p.stat().st_size)
    size = path.stat().st_size
    if size == 0:
        raise FetchError("yt-dlp: empty file (0 bytes)")
    meta = {k: info.get(k) for k in ("id", "title", "duration", "webpage_url") if info and info.get(k) is not None}
    fetched = Fetched(path=path, size=size, is_temp=True, meta={"yt": meta})
    if section is not None:
        cut = [(d.get("section_start"), d.get("section_end")) for d in (info or {}).get("requested_downloads") or []]
        if cut and all(start is not None and abs(start - section[0]) < 1e-3 for start, _ in cut):
            fetched.meta["section"] = [float(section[0]), float(cut[0][1] if cut[0][1] is not None else section[1])]
        else:
            fetched.meta["section_fallback"] = "yt-dlp downloaded the whole video"
    return fetched
