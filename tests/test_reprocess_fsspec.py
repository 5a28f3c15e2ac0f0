"""fsspec: input shards on a non-local filesystem (memory://) are indexed and read by offset; output URLs are checked up front."""

from __future__ import annotations

import json
from pathlib import Path

import fsspec
import pytest

from curation.config import build_config
from curation.errors import ConfigError
from curation.wds_input import copy_member, expand_shards
from curation.wds_plan import COL_CAPTION, COL_MEMBERS, shard_table
from tests.support.tars import write_tar


def test_memory_filesystem_shards_plan_and_stream(tmp_path: Path) -> None:
    video = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40
    local = write_tar(tmp_path / "00003.tar", [("k1.json", b'{"label": "cat"}'), ("k1.mp4", video), ("k1.txt", b"hello")])
    fs = fsspec.filesystem("memory")
    fs.pipe("/bucket/shards/00003.tar", local.read_bytes())
    try:
        urls = expand_shards("memory://bucket/shards/*.tar")
        assert len(urls) == 1 and urls[0].startswith("memory://") and urls[0].endswith("/bucket/shards/00003.tar")
        table, problems = shard_table(urls[0], {"mp4"})
        assert problems == []
        row = table.to_pylist()[0]
        assert (row["key"], row["label"], row[COL_CAPTION]) == ("k1", "cat", "hello")
        offset, size = json.loads(row[COL_MEMBERS])["mp4"]
        dest = tmp_path / "out.bin"
        assert copy_member(urls[0], offset, size, dest) == len(video)
        assert dest.read_bytes() == video
    finally:
        fs.rm("/bucket", recursive=True)


def test_output_folder_urls(tmp_path: Path) -> None:
    """file:// is a local folder; a remote URL stays a URL (tests/test_remote_output.py runs them) if fsspec can write there."""
    assert build_config(None, output_folder=f"file://{tmp_path}/out").output_folder == f"{tmp_path}/out"
    assert build_config(None, output_folder="s3://bucket/out/").output_folder == "s3://bucket/out"
    with pytest.raises(ConfigError, match="output_folder: unknown filesystem protocol nosuch://"):
        build_config(None, output_folder="nosuch://bucket/out")
