"""Each output format holds every sample, failures included as metadata only, and is readable."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from curation import curate
from tests.support.shards import read_webdataset


def _table(tmp_path: Path, media: Path) -> Path:
    table = tmp_path / "in.csv"
    table.write_text(
        "url,caption,label\n"
        f"{media / 'v0.mp4'},zero,a\n{media / 'v1.mp4'},one,b\n{media / 'missing.mp4'},gone,c\n{media / 'v3.mp4'},three,d\n"
    )
    return table


def _run(tmp_path: Path, media: Path, fmt: str) -> Path:
    out = tmp_path / fmt
    curate(url_list=str(_table(tmp_path, media), ), output_folder=str(out), output_format=fmt, caption_col="caption",
           save_additional_columns=["label"], number_sample_per_shard=2, quiet=True)
    return out


def test_webdataset_members_and_failed_sample_without_media(media: Path, tmp_path: Path) -> None:
    out = _run(tmp_path, media, "webdataset")
    samples = {s["__key__"]: s for s in read_webdataset(out)}
    assert sorted(samples) == ["000000", "000001", "000010", "000011"]
    failed = samples["000010"]
    assert "mp4" not in failed and json.loads(failed["json"])["status"] == "failed_to_download"
    assert "file not found" in json.loads(failed["json"])["error_message"]
    assert samples["000011"]["mp4"] == (media / "v3.mp4").read_bytes()
    assert samples["000011"]["txt"] == b"three"


def test_metadata_parquet_per_shard_for_every_format(media: Path, tmp_path: Path) -> None:
    for fmt in ("webdataset", "files", "dummy"):
        out = _run(tmp_path, media, fmt)
        frame = pd.concat([pd.read_parquet(p) for p in sorted(out.glob("0000?.parquet"))])
        assert list(frame["key"]) == ["000000", "000001", "000010", "000011"], fmt
        assert list(frame["status"]) == ["success", "success", "failed_to_download", "success"]
        assert list(frame["label"]) == ["a", "b", "c", "d"]


def test_files_format_folder_per_shard(media: Path, tmp_path: Path) -> None:
    out = _run(tmp_path, media, "files")
    names = sorted(p.name for p in (out / "00001").iterdir())
    assert names == ["000010.json", "000010.txt", "000011.json", "000011.mp4", "000011.txt"]
    assert (out / "00000" / "000001.mp4").read_bytes() == (media / "v1.mp4").read_bytes()


def test_parquet_format_holds_media_bytes(media: Path, tmp_path: Path) -> None:
    out = _run(tmp_path, media, "parquet")
    table = pq.read_table(out / "00000.parquet").to_pandas()
    assert list(table["key"]) == ["000000", "000001"]
    assert table["mp4"][1] == (media / "v1.mp4").read_bytes()
    failed = pq.read_table(out / "00001.parquet").to_pandas()
    assert failed["mp4"][0] is None and failed["status"][0] == "failed_to_download"


def test_dummy_format_writes_no_media(media: Path, tmp_path: Path) -> None:
    out = _run(tmp_path, media, "dummy")
    assert not list(out.glob("*.tar")) and not (out / "00000").exists()
    assert json.loads((out / "00000_stats.json").read_text())["successes"] == 2
