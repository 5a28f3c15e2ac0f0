"""Each input format → webdataset shards that webdataset itself reads back, sample for sample."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation import curate
from tests.support.shards import read_webdataset, sample_json

ROWS = [("v0.mp4", "first caption", "cat"), ("v1.mp4", "second, with comma", "dog"), ("v2.mp4", "third \"quoted\"", "001")]


def _write_table(fmt: str, path: Path, media: Path) -> None:
    rows = [{"url": str(media / name), "caption": cap, "label": label} for name, cap, label in ROWS]
    if fmt in ("csv", "tsv", "tsv.gz"):
        import csv
        import io

        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=["url", "caption", "label"], delimiter="\t" if fmt.startswith("tsv") else ",")
        writer.writeheader()
        writer.writerows(rows)
        data = buffer.getvalue().encode()
        path.write_bytes(gzip.compress(data) if fmt.endswith(".gz") else data)
    elif fmt == "json":
        path.write_text(json.dumps(rows))
    elif fmt == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    elif fmt == "parquet":
        pq.write_table(pa.Table.from_pylist(rows), path)
    else:
        raise AssertionError(fmt)


@pytest.mark.parametrize("fmt", ["csv", "tsv", "tsv.gz", "json", "jsonl", "parquet"])
def test_table_format_round_trip(fmt: str, media: Path, tmp_path: Path) -> None:
    table = tmp_path / f"input.{fmt}"
    _write_table(fmt, table, media)
    out = tmp_path / "out"
    summary = curate(url_list=str(table), output_folder=str(out), output_format="webdataset",
                     caption_col="caption", save_additional_columns=["label"], quiet=True)
    assert summary.totals["successes"] == 3
    samples = read_webdataset(out)
    assert [s["__key__"] for s in samples] == ["00000000", "00000001", "00000002"]
    for sample, (name, caption, label) in zip(samples, ROWS, strict=True):
        assert sample["mp4"] == (media / name).read_bytes()
        assert sample["txt"].decode() == caption
        meta = sample_json(sample)
        assert meta["label"] == label  # verbatim: "001" stays a string
        assert meta["status"] == "success" and meta["error_message"] is None
        assert meta["caption"] == caption


def test_txt_one_url_per_line(media: Path, tmp_path: Path) -> None:
    table = tmp_path / "urls.txt"
    table.write_text("".join(f"{media / name}\n" for name, _, _ in ROWS) + "\n# a comment\n")
    out = tmp_path / "out"
    curate(url_list=str(table), output_folder=str(out), output_format="webdataset", quiet=True)
    samples = read_webdataset(out)
    assert len(samples) == 3
    assert sample_json(samples[0])["url"] == str(media / "v0.mp4")


def test_directory_of_tables_reads_all_sorted(media: Path, tmp_path: Path) -> None:
    folder = tmp_path / "tables"
    folder.mkdir()
    (folder / "b.csv").write_text(f"url\n{media / 'v1.mp4'}\n")
    (folder / "a.csv").write_text(f"url\n{media / 'v0.mp4'}\n{media / 'v2.mp4'}\n")
    (folder / "notes.md").write_text("ignored")
    out = tmp_path / "out"
    curate(url_list=str(folder), output_folder=str(out), output_format="webdataset", number_sample_per_shard=10, quiet=True)
    urls = [sample_json(s)["url"] for s in read_webdataset(out)]
    assert urls == [str(media / "v0.mp4"), str(media / "v2.mp4"), str(media / "v1.mp4")]
    assert sorted(p.name for p in out.glob("*.tar")) == ["00000.tar", "00001.tar"]


def test_media_folder_keys_from_relative_paths(media: Path, tmp_path: Path) -> None:
    root = tmp_path / "videos"
    (root / "class a").mkdir(parents=True)
    (root / "b").mkdir()
    (root / "class a" / "clip.one.mp4").write_bytes((media / "v0.mp4").read_bytes())
    (root / "b" / "two.mp4").write_bytes((media / "v1.mp4").read_bytes())
    (root / "b" / "readme.txt").write_text("not media")
    out = tmp_path / "out"
    curate(url_list=str(root), input_format="files", output_folder=str(out), output_format="webdataset", quiet=True)
    keys = [s["__key__"] for s in read_webdataset(out)]
    assert keys == ["b_two", "class_a_clip_one"]
    assert all("." not in k and "/" not in k for k in keys)
