"""Probe an MP4/MOV file in-process by reading its ``moov`` box: the common case without an ffprobe launch.

Why: launching ffprobe costs ~70 ms of CPU on these machines, 85 % of it the dynamic loader resolving
the symbols of its 215 shared libraries, whatever the file. Reading the ``moov`` box costs ~1 ms.
Reprocessing shards of MP4s (ours, video2dataset's) probes every sample before its one ffmpeg
run, so the launch was a fifth of the per-sample cost and made reprocessing slower than bare
ffmpeg. PyAV would probe in-process too, but adds ~25 MB to every shard process.

The answer must be the one ffprobe (libavformat's mov demuxer) would give for the fields the
chain decides on: duration (``mvhd``), size (the sample entry), frame rates (``stts``, as
``mov.c`` computes them), codecs, rotation (``tkhd`` matrix), audio rate. Whenever the file is
not plainly one of what this reader understands (fragmented, several video or audio tracks,
other track kinds, edit lists that shift or cut, variable frame rate, non-square pixels,
QuickTime sound descriptions, codecs whose size only the decoder knows, anything truncated or
inconsistent), it returns None and the caller runs ffprobe. It never raises on hostile bytes.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

MAX_MOOV_BYTES = 64 << 20  # a 2-hour 60 fps video's sample tables are ~10 MB
MAX_TOP_LEVEL_BOXES = 64
MOV_FORMAT_NAME = "mov,mp4,m4a,3gp,3g2,mj2"  # libavformat's name for its mov demuxer

_VIDEO_CODECS = {"avc1": "h264", "avc3": "h264", "hvc1": "hevc", "hev1": "hevc", "av01": "av1", "vp09": "vp9"}
# MPEG-4 object type indications of an mp4a sample entry (ISO/IEC 14496-1 table 5)
_AAC_OBJECT_TYPES = {0x40, 0x66, 0x67, 0x68}
_MP3_OBJECT_TYPES = {0x69, 0x6B}
_AAC_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350)
_AAC_LC = 2
_UNIT = 0x10000  # 1.0 in the tkhd matrix's 16.16 fixed point


class Unsure(Exception):
    """This reader cannot vouch for an ffprobe-equal answer: run ffprobe."""


@dataclass
class Track:
    handler: str = ""
    enabled: bool = True
    matrix: tuple[int, ...] = ()
    tkhd_size: tuple[int, int] = (0, 0)
    timescale: int = 0
    stts: list[tuple[int, int]] = field(default_factory=list)
    has_ctts: bool = False
    edits: list[tuple[int, int, int]] | None = None  # (segment duration, media time, rate)
    fourcc: str = ""
    codec: str | None = None
    size: tuple[int, int] = (0, 0)
    sample_rate: int = 0
    square_pixels: bool = True


def _boxes(data: bytes, start: int, end: int) -> Iterator[tuple[str, int, int]]:
    """(type, payload start, payload end) of each box in ``data[start:end]``."""
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            if pos + 16 > end:
                raise Unsure("truncated box header")
            size, header = struct.unpack_from(">Q", data, pos + 8)[0], 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            raise Unsure("a box overruns its parent")
        yield kind.decode("latin-1"), pos + header, pos + size
        pos += size


def _children(data: bytes, start: int, end: int) -> dict[str, list[tuple[int, int]]]:
    found: dict[str, list[tuple[int, int]]] = {}
    for kind, begin, stop in _boxes(data, start, end):
        found.setdefault(kind, []).append((begin, stop))
    return found


def _one(children: dict[str, list[tuple[int, int]]], kind: str) -> tuple[int, int]:
    boxes = children.get(kind, [])
    if len(boxes) != 1:
        raise Unsure(f"{len(boxes)} {kind} boxes")
    return boxes[0]


def _read_moov(path: Path) -> tuple[bytes, int]:
    """The ``moov`` payload and the file size; the file must start with ``ftyp``."""
    with open(path, "rb") as handle:
        handle.seek(0, 2)
        file_size = handle.tell()
        pos = 0
        for index in range(MAX_TOP_LEVEL_BOXES):
            handle.seek(pos)
            header = handle.read(16)
            if len(header) < 8:
                break
            size, raw_kind = struct.unpack_from(">I4s", header)
            kind, header_size = raw_kind.decode("latin-1"), 8
            if size == 1:
                if len(header) < 16:
                    break
                size, header_size = struct.unpack_from(">Q", header, 8)[0], 16
            elif size == 0:
                size = file_size - pos
            if size < header_size or pos + size > file_size:
                raise Unsure("a top-level box overruns the file")
            if index == 0 and kind != "ftyp":
                raise Unsure("no ftyp box first")
            if kind in ("moof", "mfra", "sidx"):
                raise Unsure("fragmented file")
            if kind == "moov":
                if size - header_size > MAX_MOOV_BYTES:
                    raise Unsure("moov box too large")
                handle.seek(pos + header_size)
                data = handle.read(size - header_size)
                if len(data) != size - header_size:
                    raise Unsure("truncated moov box")
                return data, file_size
            pos += size
    raise Unsure("no moov box")


def _fullbox_version(data: bytes, start: int) -> int:
    return data[start]


def _mvhd(data: bytes, start: int) -> tuple[int, int]:
    """(timescale, duration) of the movie."""
    if _fullbox_version(data, start) == 1:
        timescale, duration = struct.unpack_from(">IQ", data, start + 20)
    else:
        timescale, duration = struct.unpack_from(">II", data, start + 12)
    return timescale, duration


def _tkhd(data: bytes, start: int, track: Track) -> None:
    version = _fullbox_version(data, start)
    track.enabled = bool(data[start + 3] & 1)
    body = start + 4 + (32 if version == 1 else 20)
    matrix_at = body + 16
    track.matrix = struct.unpack_from(">9i", data, matrix_at)
    width, height = struct.unpack_from(">II", data, matrix_at + 36)
    track.tkhd_size = (width >> 16, height >> 16)


def _mdhd(data: bytes, start: int, track: Track) -> None:
    if _fullbox_version(data, start) == 1:
        track.timescale = struct.unpack_from(">I", data, start + 20)[0]
    else:
        track.timescale = struct.unpack_from(">I", data, start + 12)[0]


def _stts(data: bytes, start: int, end: int) -> list[tuple[int, int]]:
    """The first three (sample count, sample duration) runs: a video needs at most two."""
    (count,) = struct.unpack_from(">I", data, start + 4)
    if start + 8 + 8 * count > end:
        raise Unsure("truncated stts")
    return [struct.unpack_from(">II", data, start + 8 + 8 * i) for i in range(min(count, 3))]


def _elst(data: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    version = _fullbox_version(data, start)
    (count,) = struct.unpack_from(">I", data, start + 4)
    layout, step = (">Qqi", 20) if version == 1 else (">Iii", 12)
    if start + 8 + step * count > end:
        raise Unsure("truncated elst")
    return [struct.unpack_from(layout, data, start + 8 + step * i) for i in range(min(count, 4))]


def _descriptor(data: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """(tag, payload start, payload end) of an MPEG-4 descriptor (ISO/IEC 14496-1, 8.3.3)."""
    if pos >= end:
        raise Unsure("truncated esds")
    tag, pos, length = data[pos], pos + 1, 0
    for _ in range(4):
        if pos >= end:
            raise Unsure("truncated esds")
        byte, pos = data[pos], pos + 1
        length = (length << 7) | (byte & 0x7F)
        if not byte & 0x80:
            break
    if pos + length > end:
        raise Unsure("esds descriptor overruns its box")
    return tag, pos, pos + length


def _esds(data: bytes, start: int, end: int) -> tuple[int, bytes]:
    """(object type indication, decoder specific info) of an ``esds`` box."""
    tag, pos, stop = _descriptor(data, start + 4, end)
    if tag != 0x03 or pos + 3 > stop:
        raise Unsure("no ES descriptor")
    flags, pos = data[pos + 2], pos + 3
    if flags & 0x80:
        pos += 2
    if flags & 0x40:
        pos += 1 + data[pos] if pos < stop else 0
    if flags & 0x20:
        pos += 2
    tag, pos, stop = _descriptor(data, pos, stop)
    if tag != 0x04 or pos + 13 > stop:
        raise Unsure("no decoder config descriptor")
    object_type = data[pos]
    specific = b""
    if pos + 13 < stop:
        tag, begin, finish = _descriptor(data, pos + 13, stop)
        specific = data[begin:finish] if tag == 0x05 else b""
    return object_type, specific


def _aac_rate(config: bytes) -> int:
    """Sample rate of an AAC-LC AudioSpecificConfig (anything else: Unsure)."""
    if len(config) < 2:
        raise Unsure("no AudioSpecificConfig")
    bits = int.from_bytes(config[:5].ljust(5, b"\0"), "big")
    object_type, rate_index = bits >> 35, (bits >> 31) & 0xF
    if object_type != _AAC_LC:
        raise Unsure(f"AAC object type {object_type}")  # SBR/PS: the decoder decides the rate
    if rate_index >= len(_AAC_RATES):
        raise Unsure("explicit AAC sample rate")
    return _AAC_RATES[rate_index]


def _visual_entry(data: bytes, start: int, end: int, track: Track) -> None:
    track.codec = _VIDEO_CODECS.get(track.fourcc)
    if track.codec is None:
        raise Unsure(f"video sample entry {track.fourcc!r}")
    if start + 78 > end:
        raise Unsure("truncated visual sample entry")
    track.size = struct.unpack_from(">HH", data, start + 24)
    for kind, begin, stop in _boxes(data, start + 78, end):
        if kind == "pasp" and stop - begin >= 8:
            h_spacing, v_spacing = struct.unpack_from(">II", data, begin)
            track.square_pixels = h_spacing == v_spacing


def _audio_entry(data: bytes, start: int, end: int, track: Track) -> None:
    if start + 28 > end:
        raise Unsure("truncated audio sample entry")
    version = struct.unpack_from(">H", data, start + 8)[0]
    if version != 0:
        raise Unsure("QuickTime sound description")
    track.sample_rate = struct.unpack_from(">I", data, start + 24)[0] >> 16
    children = _children(data, start + 28, end)
    if track.fourcc == "Opus":
        track.codec, track.sample_rate = "opus", 48000  # libavformat always reports 48 kHz for Opus
    elif track.fourcc == "mp4a":
        object_type, specific = _esds(data, *_one(children, "esds"))
        if object_type in _AAC_OBJECT_TYPES:
            if _aac_rate(specific) != track.sample_rate:
                raise Unsure("AAC rate differs from the sample entry")
            track.codec = "aac"
        elif object_type in _MP3_OBJECT_TYPES:
            track.codec = "mp3"
        else:
            raise Unsure(f"mp4a object type {object_type:#x}")
    else:
        raise Unsure(f"audio sample entry {track.fourcc!r}")


def _stsd(data: bytes, start: int, end: int, track: Track) -> None:
    (count,) = struct.unpack_from(">I", data, start + 4)
    entries = list(_boxes(data, start + 8, end))
    if count != 1 or len(entries) != 1:
        raise Unsure("several sample descriptions")
    kind, begin, stop = entries[0]
    track.fourcc = kind
    if track.handler == "vide":
        _visual_entry(data, begin, stop, track)
    else:
        _audio_entry(data, begin, stop, track)


def _track(data: bytes, start: int, end: int) -> Track:
    track = Track()
    trak = _children(data, start, end)
    _tkhd(data, _one(trak, "tkhd")[0], track)
    if "edts" in trak:
        edts = _children(data, *_one(trak, "edts"))
        track.edits = _elst(data, *_one(edts, "elst")) if "elst" in edts else []
    mdia = _children(data, *_one(trak, "mdia"))
    _mdhd(data, _one(mdia, "mdhd")[0], track)
    hdlr = _one(mdia, "hdlr")[0]
    track.handler = data[hdlr + 8: hdlr + 12].decode("latin-1")
    if track.handler not in ("vide", "soun"):
        raise Unsure(f"a {track.handler!r} track")
    stbl = _children(data, *_one(_children(data, *_one(mdia, "minf")), "stbl"))
    track.stts = _stts(data, *_one(stbl, "stts"))
    track.has_ctts = "ctts" in stbl
    _stsd(data, *_one(stbl, "stsd"), track)
    return track


def _check_timing(track: Track) -> None:
    """Only tracks whose first timestamp libavformat puts at 0, and whose frame rate mov.c reads off stts."""
    if not track.enabled or track.timescale <= 0 or not track.stts:
        raise Unsure("disabled track or no timing")
    if track.handler == "vide":
        # ffmpeg guesses r_frame_rate from the timestamps of anything but one rate (and a last frame)
        if len(track.stts) > 2 or (len(track.stts) == 2 and track.stts[1][0] != 1):
            raise Unsure("variable frame rate")
        if any(count <= 0 or delta <= 0 for count, delta in track.stts):
            raise Unsure("zero or negative frame durations")
        if len(track.stts) == 2 and track.stts[1][1] > track.stts[0][1]:
            raise Unsure("a long last frame")  # mov.c shortens some; keep to the unambiguous case
    if track.edits is None:
        if track.has_ctts:
            raise Unsure("composition offsets without an edit list")  # the first pts is not 0
        return
    if len(track.edits) != 1:
        raise Unsure("an edit list of several edits")
    _, media_time, rate = track.edits[0]
    if media_time < 0 or rate != _UNIT:
        raise Unsure("an edit list that shifts the start or changes the rate")


def _rotation(matrix: tuple[int, ...]) -> int:
    """The display rotation ffprobe reports (``av_display_rotation_get``), for pure quarter turns only."""
    a, b, u, c, d, v, _x, _y, w = matrix
    if (u, v, w) != (0, 0, 0x40000000) or any(value not in (0, _UNIT, -_UNIT) for value in (a, b, c, d)):
        raise Unsure("a display matrix that scales, skews or flips")
    if (a, b, c, d) not in ((_UNIT, 0, 0, _UNIT), (0, _UNIT, -_UNIT, 0), (-_UNIT, 0, 0, -_UNIT), (0, -_UNIT, _UNIT, 0)):
        raise Unsure("a mirrored display matrix")
    return int(-math.degrees(math.atan2(b, a)))


def _rate(numerator: int, denominator: int) -> str:
    value = Fraction(numerator, denominator)
    return f"{value.numerator}/{value.denominator}"


def _duration_text(duration: int, timescale: int) -> str:
    """``duration`` in seconds as ffprobe prints it: rescaled to microseconds (rounding half away), then %f."""
    micros = (2 * duration * 1_000_000 + timescale) // (2 * timescale)
    return f"{micros / 1_000_000:f}"


def _video_stream(index: int, track: Track) -> dict[str, Any]:
    if not track.square_pixels or min(track.size) <= 0:
        raise Unsure("non-square pixels or no size")
    rotation = _rotation(track.matrix)
    shown = track.size if abs(rotation) % 180 == 0 else track.size[::-1]
    if track.tkhd_size not in (track.size, shown):
        raise Unsure("track size differs from the coded size")  # libavformat derives a pixel aspect ratio
    frames = sum(count for count, _ in track.stts)
    ticks = sum(count * delta for count, delta in track.stts)
    stream: dict[str, Any] = {
        "index": index, "codec_type": "video", "codec_name": track.codec, "codec_tag_string": track.fourcc,
        "width": track.size[0], "height": track.size[1],
        "r_frame_rate": _rate(track.timescale, track.stts[0][1]),
        "avg_frame_rate": _rate(track.timescale * frames, ticks),
        "time_base": f"1/{track.timescale}", "nb_frames": str(frames),
    }
    if rotation:
        stream["side_data_list"] = [{"side_data_type": "Display Matrix", "rotation": rotation}]
    return stream


def _audio_stream(index: int, track: Track) -> dict[str, Any]:
    return {
        "index": index, "codec_type": "audio", "codec_name": track.codec, "codec_tag_string": track.fourcc,
        "sample_rate": str(track.sample_rate),
        "r_frame_rate": "0/0", "avg_frame_rate": "0/0", "time_base": f"1/{track.timescale}",
    }


def read_mp4_header(path: Path | str) -> dict[str, Any] | None:
    """ffprobe-shaped ``{"streams": [...], "format": {...}}`` for the fields curation uses, or None.

    None means: not an MP4/MOV this reader vouches for (ask ffprobe). Only the fields the chain
    decides on are filled; ``video_metadata`` (FFProbeSubsampler) still comes from ffprobe itself.
    """
    try:
        return _read(Path(path))
    except (Unsure, struct.error, IndexError, ValueError, ZeroDivisionError, OverflowError, OSError):
        return None  # damaged, unusual or unreadable: ffprobe answers (or reports it in its own words)


def _read(path: Path) -> dict[str, Any]:
    data, file_size = _read_moov(path)
    moov = _children(data, 0, len(data))
    if "mvex" in moov:
        raise Unsure("fragmented file")
    timescale, duration = _mvhd(data, _one(moov, "mvhd")[0])
    if timescale <= 0 or duration <= 0:
        raise Unsure("no movie duration")
    tracks = [_track(data, begin, end) for begin, end in moov.get("trak", [])]
    kinds = [t.handler for t in tracks]
    if not tracks or kinds.count("vide") > 1 or kinds.count("soun") > 1:
        raise Unsure("no track, or several video or audio tracks")
    streams = []
    for index, track in enumerate(tracks):
        _check_timing(track)
        streams.append(_video_stream(index, track) if track.handler == "vide" else _audio_stream(index, track))
    fmt = {
        "nb_streams": len(streams), "format_name": MOV_FORMAT_NAME, "start_time": "0.000000",
        "duration": _duration_text(duration, timescale), "size": str(file_size),
    }
    return {"streams": streams, "format": fmt}
