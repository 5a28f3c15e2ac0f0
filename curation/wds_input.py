"""Existing webdataset shards as input: find the tars, index their members, stream one member out.

Why a module of its own: reprocessing must never extract a tar. The index records each member's
name, offset and size by walking the tar headers (tarfile seeks over the media), and a member is
later copied out by offset, one at a time, into a file whose name we choose, so a hostile member
name (absolute, ``..``, a link) can never make us write anywhere else. Local paths are read with
plain ``open``; URLs with a scheme (``file://``, ``s3://`` ...) go through fsspec, imported only then.
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
import tarfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from curation.errors import TableError
from curation.fsutil import url_scheme, url_to_fs

CHUNK = 1 << 20
HEADER_READ = 1 << 16
_GLOB_CHARS = re.compile(r"[*?\[]")


def is_url(path: str) -> bool:
    return url_scheme(path) is not None


@contextmanager
def open_input(url: str, block_size: int | None = None) -> Iterator[IO[bytes]]:
    """A seekable binary handle on a local path or an fsspec URL (``block_size``: remote read size)."""
    if is_url(url):
        fs, path = url_to_fs(url)
        options = {} if block_size is None else {"block_size": block_size}
        with fs.open(path, "rb", **options) as handle:
            yield handle
    else:
        with open(url, "rb") as handle:
            yield handle


def input_size(url: str) -> int:
    if is_url(url):
        fs, path = url_to_fs(url)
        return int(fs.size(path))
    return os.path.getsize(url)


def input_exists(url: str) -> bool:
    if is_url(url):
        fs, path = url_to_fs(url)
        return bool(fs.exists(path))
    return os.path.isfile(url)


def input_fingerprint(url: str) -> str:
    """Size plus the first and last 64 KiB: cheap enough for thousands of shards, catches rewrites."""
    size = input_size(url)
    digest = hashlib.sha1()
    with open_input(url) as handle:
        digest.update(handle.read(1 << 16))
        if size > 1 << 17:
            handle.seek(size - (1 << 16))
            digest.update(handle.read(1 << 16))
    return f"{size}:{digest.hexdigest()}"


# -- discovery ------------------------------------------------------------------------------------

def _glob(pattern: str) -> list[str]:
    if is_url(pattern):
        fs, path = url_to_fs(pattern)
        return sorted(fs.unstrip_protocol(p) for p in fs.glob(path))
    return sorted(glob.glob(os.path.expanduser(pattern)))


def _list_dir(url: str) -> list[str] | None:
    """The ``*.tar`` files of a directory (sorted), or None when ``url`` is not a directory."""
    if is_url(url):
        fs, path = url_to_fs(url)
        if not fs.isdir(path):
            return None
        return sorted(fs.unstrip_protocol(p) for p in fs.ls(path, detail=False) if str(p).endswith(".tar"))
    path = Path(url).expanduser()
    if not path.is_dir():
        return None
    return sorted(str(p) for p in path.iterdir() if p.is_file() and p.name.endswith(".tar") and not p.name.startswith("."))


def _read_list_file(url: str) -> list[str]:
    """One shard per line; relative local entries are relative to the list file."""
    with open_input(url) as handle:
        text = handle.read().decode("utf-8-sig")
    base = None if is_url(url) else Path(url).expanduser().parent
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if base is not None and not is_url(line) and not os.path.isabs(os.path.expanduser(line)):
            line = str(base / line)
        out.append(line)
    return out


def expand_shards(url_list: str | list[str]) -> list[str]:
    """Shard URLs from a brace pattern, a glob, a directory, a ``.tar``, a list file, or a list of these."""
    if isinstance(url_list, list):
        return [url for item in url_list for url in expand_shards(str(item))]
    spec = url_list.strip()
    if not spec:
        raise TableError("url_list: empty shard pattern")
    if "{" in spec and ".." in spec:
        from braceexpand import braceexpand

        urls = [u if is_url(u) else os.path.expanduser(u) for u in braceexpand(spec)]
        missing = [u for u in urls if not input_exists(u)]
        if missing:
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            raise TableError(f"url_list: no such shard: {missing[0]}{more}")
        return urls
    if _GLOB_CHARS.search(spec.split("://", 1)[-1]):
        urls = _glob(spec)
        if not urls:
            raise TableError(f"url_list: no shard matches {spec}")
        return urls
    listed = _list_dir(spec)
    if listed is not None:
        if not listed:
            raise TableError(f"url_list: directory {spec} holds no .tar shards")
        return listed
    local = spec if is_url(spec) else os.path.expanduser(spec)
    if not input_exists(local):
        raise TableError(f"url_list: no such shard or list file: {spec}")
    if local.endswith(".tar"):
        return [local]
    urls = _read_list_file(local)
    if not urls:
        raise TableError(f"url_list: list file {spec} names no shards")
    missing = next((u for u in urls if not input_exists(u)), None)
    if missing is not None:
        raise TableError(f"url_list: {spec} names a shard that does not exist: {missing}")
    return urls


# -- the member index ----------------------------------------------------------------------------

@dataclass
class Member:
    """One tar member as webdataset sees it: key = path up to the first dot of the file name."""

    name: str
    key: str
    ext: str
    offset: int  # of the data
    size: int
    problem: str | None = None  # why the member must not be read (unsafe name, link, cut off)


@dataclass
class TarIndex:
    url: str
    size: int
    members: list[Member] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # shard-level: unreadable, truncated


def split_name(name: str) -> tuple[str, str]:
    """webdataset's rule: ``dir/abc.seg.mp4`` → (``dir/abc``, ``seg.mp4``); a leading ``./`` is dropped."""
    while name.startswith("./"):
        name = name[2:]
    folder, _, base = name.rpartition("/")
    stem, dot, ext = base.partition(".")
    key = f"{folder}/{stem}" if folder else stem
    return key, ext if dot else ""


def unsafe_name(name: str) -> str | None:
    """Why a member name could escape a folder if it were ever used as a path, or None."""
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:[\\/]", name):
        return "absolute member name"
    if ".." in re.split(r"[\\/]", name):
        return "member name with '..'"
    return None


def _member(info: tarfile.TarInfo, archive_size: int) -> Member | None:
    if info.isdir():
        return None
    key, ext = split_name(info.name)
    member = Member(info.name, key, ext, info.offset_data, info.size)
    member.problem = unsafe_name(info.name)
    if member.problem is None and not info.isreg():
        member.problem = "link or special member (not followed)" if (info.issym() or info.islnk()) else "special member"
        member.size = 0
    if member.problem is None and info.offset_data + info.size > archive_size:
        present = max(0, archive_size - info.offset_data)
        member.problem = f"truncated tar: member cut off ({present} of {info.size} bytes present)"
    return member


def index_tar(url: str) -> TarIndex:
    """Walk the tar headers (never the media) and record what is wrong with the archive itself."""
    size = input_size(url)
    index = TarIndex(url, size)
    with open_input(url, block_size=HEADER_READ) as handle:  # remote: fetch headers, not the media between them
        try:
            archive = tarfile.open(fileobj=handle, mode="r:")  # noqa: SIM115
        except (tarfile.TarError, EOFError, OSError) as exc:
            index.problems.append(f"not a readable tar: {exc}")
            return index
        end = 0
        try:
            while True:
                info = archive.next()
                if info is None:
                    break
                end = info.offset_data + ((info.size + 511) // 512) * 512
                member = _member(info, size)
                if member is not None:
                    index.members.append(member)
        except (tarfile.TarError, EOFError, OSError) as exc:
            last = index.members[-1].name if index.members else "the first member"
            index.problems.append(f"truncated tar: {exc} after {last!r}")
            return index
        handle.seek(end)
        marker = handle.read(1024)
        if len(marker) < 1024 or marker.strip(b"\0"):
            index.problems.append(f"truncated tar: no end-of-archive marker after byte {end} (cut short or corrupt)")
    return index


def read_member(handle: IO[bytes], member: Member, limit: int) -> bytes:
    """A small member's bytes (json, txt), refusing anything over ``limit``."""
    if member.size > limit:
        raise ValueError(f"member {member.name!r} is {member.size} bytes, over the {limit}-byte limit")
    handle.seek(member.offset)
    data = handle.read(member.size)
    if len(data) != member.size:
        raise ValueError(f"member {member.name!r} is cut off")
    return data


def copy_member(url: str, offset: int, size: int, dest: Path, timeout: float | None = None) -> int:
    """Stream one member to ``dest`` in 1 MiB chunks (never the whole member in memory).

    ``timeout`` bounds the whole copy (checked between chunks: a slow remote store costs the sample).
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    remaining = size
    with open_input(url) as source, open(dest, "wb") as out:
        source.seek(offset)
        while remaining:
            chunk = source.read(min(CHUNK, remaining))
            if not chunk:
                raise OSError(f"input tar ended {remaining} bytes before the end of the member")
            out.write(chunk)
            remaining -= len(chunk)
            if deadline is not None and remaining and time.monotonic() > deadline:
                raise OSError(f"reading the member took longer than {timeout:g}s")
    return size
