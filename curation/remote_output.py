"""A remote output folder (``s3://``, ``gs://``, any fsspec URL): shards are made in a local staging folder, then published.

Why staging: the plan, the lock, the writers' temp names and the "stats file last" rule all rely on
a local folder with atomic renames, which object stores do not have. So a run whose output folder
is remote works in a staging folder (``staging_folder``, default under ``~/.cache/curation``)
exactly as in a local one, and each shard, once complete, is published: its files are uploaded
(an object appears whole or not at all), its ``_stats.json`` last, and only then is the local stats
file written and the local media removed. The remote folder thus keeps the local rule: a shard
with a stats file is complete. The remote folder is the truth and staging a cache: a run first
takes the plan and the stats from the remote (so a new machine resumes where another stopped) and
forgets what the remote no longer has.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path
from typing import Any

from curation.errors import TableError
from curation.fsutil import atomic_write_bytes, temp_name, url_scheme, url_to_fs
from curation.manifest import MANIFEST, PLAN_DIR

STATS_SUFFIX = "_stats.json"
_EXTRAS = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs"}  # pyproject extras that bring the filesystem


def remote_protocol(folder: str) -> str | None:
    """The fsspec protocol of a remote output folder (``s3``), None for local paths and ``file://``."""
    scheme = url_scheme(folder)
    return None if scheme in (None, "file", "local") else scheme


def check_remote_folder(url: str) -> str:
    """A one-line error now, not after planning, when fsspec cannot write there."""
    protocol = remote_protocol(url)
    assert protocol is not None
    import fsspec

    try:
        fsspec.get_filesystem_class(protocol)
    except ImportError as exc:
        extra = _EXTRAS.get(protocol)
        hint = f"pip install 'curation[{extra}]'" if extra else "install its fsspec implementation"
        raise ValueError(f"{protocol}:// needs a package that is not installed ({exc}); {hint}") from None
    except ValueError:
        raise ValueError(f"unknown filesystem protocol {protocol}://") from None
    return url.rstrip("/")


def default_staging(url: str) -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    slug = re.sub(r"[^A-Za-z0-9]+", "-", url.split("://", 1)[1]).strip("-")[-40:]
    return cache / "curation" / "staging" / f"{slug}-{hashlib.sha1(url.encode()).hexdigest()[:10]}"


def staged(config: Any) -> Any:
    """The same config writing into the staging folder and publishing to the remote one (idempotent)."""
    if remote_protocol(config.output_folder) is None:
        return config
    staging = Path(config.staging_folder).expanduser() if config.staging_folder else default_staging(config.output_folder)
    return config.model_copy(update={"output_folder": str(staging), "publish_to": config.output_folder})


class RemoteFolder:
    """The remote side: what it holds, uploads into it, downloads from it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.fs, self.root = url_to_fs(url)

    def path(self, name: str) -> str:
        return f"{self.root}/{name}"

    def stats_names(self) -> set[str]:
        self.fs.invalidate_cache()  # another machine may have published since this process last looked
        return {Path(p).name for p in self.fs.glob(self.path(f"*{STATS_SUFFIX}"))}

    def has_plan(self) -> bool:
        self.fs.invalidate_cache()
        return bool(self.fs.exists(self.path(f"{PLAN_DIR}/{MANIFEST}")))

    def download(self, name: str, local: Path) -> None:
        """Streamed to a temp name, then renamed: a shard tar or a plan file is never held in memory."""
        tmp = temp_name(local)
        try:
            self.fs.get_file(self.path(name), str(tmp))
            os.replace(tmp, local)
        finally:
            tmp.unlink(missing_ok=True)

    def upload(self, local: Path, name: str) -> None:
        """A file, or a folder's files (the ``files`` output format), under ``name``."""
        if local.is_dir():
            for child in sorted(local.rglob("*")):
                if child.is_file():
                    self.fs.put_file(str(child), self.path(f"{name}/{child.relative_to(local).as_posix()}"))
        else:
            self.fs.put_file(str(local), self.path(name))

    def download_many(self, names: list[str], folder: Path) -> None:
        """Small files (stats) fetched together: object stores answer them concurrently."""
        for start in range(0, len(names), 500):
            batch = names[start:start + 500]
            found = self.fs.cat([self.path(name) for name in batch])
            for name in batch:
                atomic_write_bytes(folder / name, found[self.path(name)])  # stats: a few KB each

    def remove(self, names: list[str]) -> None:
        if names:
            self.fs.rm([self.path(name) for name in names], recursive=True)

    def exists(self) -> bool:
        self.fs.invalidate_cache()
        return bool(self.fs.exists(self.root))

    def entries(self) -> list[str]:
        if not self.exists():
            return []
        return [Path(p.rstrip("/")).name for p in self.fs.ls(self.root, detail=False)]


def pull_plan(folder: Path, remote: RemoteFolder) -> bool:
    """Copy the remote plan into staging (the manifest last: it names the others); False when there is none."""
    if not remote.has_plan():
        return False
    plan_dir = folder / PLAN_DIR
    plan_dir.mkdir(parents=True, exist_ok=True)
    names = [Path(p).name for p in remote.fs.glob(remote.path(f"{PLAN_DIR}/*"))]
    for name in sorted(names, key=lambda n: n == MANIFEST):
        local = plan_dir / name
        if not local.is_file() or local.stat().st_size != remote.fs.size(remote.path(f"{PLAN_DIR}/{name}")):
            remote.download(f"{PLAN_DIR}/{name}", local)
    return True


def ensure_plan(folder: Path, url: str) -> None:
    """A worker on another machine (Spark executor) takes the plan from the remote folder."""
    if not (folder / PLAN_DIR / MANIFEST).is_file():
        pull_plan(folder, RemoteFolder(url))


def pull_state(folder: Path, url: str) -> None:
    """Make the staging folder show what the remote holds: its plan and its finished shards, nothing else."""
    remote = RemoteFolder(url)
    if not pull_plan(folder, remote) and (folder / PLAN_DIR).exists():
        shutil.rmtree(folder / PLAN_DIR)  # the remote folder was emptied: start afresh
    published = remote.stats_names()
    for local in folder.glob(f"*{STATS_SUFFIX}"):
        if local.name not in published:
            local.unlink()
    remote.download_many(sorted(name for name in published if not (folder / name).is_file()), folder)


def push_plan(folder: Path, url: str) -> None:
    """Upload the plan (manifest last), so another machine or ``curate stats URL`` sees the same shards."""
    remote = RemoteFolder(url)
    files = sorted((folder / PLAN_DIR).iterdir(), key=lambda p: p.name == MANIFEST)
    for local in files:
        name = f"{PLAN_DIR}/{local.name}"
        if not remote.fs.exists(remote.path(name)) or remote.fs.size(remote.path(name)) != local.stat().st_size:
            remote.upload(local, name)


def publish_shard(url: str, finals: list[Path], stats: bytes, shard_name: str) -> None:
    """Upload a complete shard's files, then its stats (the remote "done" marker), then drop the local files."""
    remote = RemoteFolder(url)
    for path in finals:
        remote.upload(path, path.name)
    remote.fs.pipe_file(remote.path(f"{shard_name}{STATS_SUFFIX}"), stats)
    for path in finals:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def fetch_shard(url: str, folder: Path, shard_name: str) -> None:
    """Bring a published shard's files back into staging (``--retry_failed`` keeps its good samples)."""
    remote = RemoteFolder(url)
    remote.fs.invalidate_cache()
    for name in (f"{shard_name}.tar", f"{shard_name}.parquet"):
        if remote.fs.isfile(remote.path(name)):
            remote.download(name, folder / name)
    for path in remote.fs.find(remote.path(shard_name)):  # the files format: a folder per shard
        relative = path[len(remote.path(shard_name)) + 1:]
        (folder / shard_name / relative).parent.mkdir(parents=True, exist_ok=True)
        remote.download(f"{shard_name}/{relative}", folder / shard_name / relative)


def clear_remote(url: str, ours: Any) -> None:
    """``incremental_mode: overwrite``: remove the plan and every shard entry ``ours(name)`` claims."""
    remote = RemoteFolder(url)
    remote.remove([entry for entry in remote.entries() if entry == PLAN_DIR or ours(entry)])


def refuse_inside(input_urls: list[str], url: str) -> None:
    prefix = url.rstrip("/") + "/"
    for item in input_urls:
        if item.startswith(prefix):
            raise TableError(f"url_list: input shard {item} is inside output_folder {url}; write to a new folder")
