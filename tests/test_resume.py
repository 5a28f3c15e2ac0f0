"""Resume redoes exactly the unfinished shards, and the result equals a clean run."""

from __future__ import annotations

import json
from pathlib import Path

from curation import curate


def _table(tmp_path: Path, media: Path) -> Path:
    table = tmp_path / "in.csv"
    table.write_text("url,caption\n" + "".join(f"{media / f'v{i}.mp4'},caption {i}\n" for i in range(6)))
    return table


def _run(table: Path, out: Path) -> None:
    curate(url_list=str(table), output_folder=str(out), output_format="webdataset", caption_col="caption",
           number_sample_per_shard=2, processes_count=2, quiet=True)


def _finished_files(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.is_file() and not p.name.endswith("_stats.json")}


def test_only_the_deleted_shard_is_redone_and_output_equals_clean_run(media: Path, tmp_path: Path) -> None:
    table = _table(tmp_path, media)
    clean, resumed = tmp_path / "clean", tmp_path / "resumed"
    _run(table, clean)
    _run(table, resumed)
    stats_before = {p.name: json.loads(p.read_text()) for p in resumed.glob("*_stats.json")}
    (resumed / "00001_stats.json").unlink()
    (resumed / "00001.tar").unlink()
    _run(table, resumed)
    stats_after = {p.name: json.loads(p.read_text()) for p in resumed.glob("*_stats.json")}
    assert stats_after["00000_stats.json"] == stats_before["00000_stats.json"]
    assert stats_after["00002_stats.json"] == stats_before["00002_stats.json"]
    assert stats_after["00001_stats.json"]["start_time"] > stats_before["00001_stats.json"]["end_time"]
    assert _finished_files(resumed) == _finished_files(clean)


def test_leftover_temporary_files_never_count_as_done(media: Path, tmp_path: Path) -> None:
    table = _table(tmp_path, media)
    out = tmp_path / "out"
    _run(table, out)
    for name in ("00002_stats.json", "00002.tar", "00002.parquet"):
        (out / name).unlink()
    # what a killed run leaves: a partial tar and a partial stats file under temporary names
    (out / ".00002.tar.tmp-12345").write_bytes(b"partial")
    (out / ".00002_stats.json.tmp-12345").write_text("{")
    _run(table, out)
    assert json.loads((out / "00002_stats.json").read_text())["successes"] == 2
    assert not list(out.glob(".*tmp-*"))
    assert not (out / "_tmp").exists()


def test_overwrite_mode_redoes_everything(media: Path, tmp_path: Path) -> None:
    table = _table(tmp_path, media)
    out = tmp_path / "out"
    _run(table, out)
    first = json.loads((out / "00000_stats.json").read_text())["start_time"]
    (out / "user_notes.txt").write_text("mine")
    curate(url_list=str(table), output_folder=str(out), output_format="webdataset", caption_col="caption",
           number_sample_per_shard=2, incremental_mode="overwrite", quiet=True)
    assert json.loads((out / "00000_stats.json").read_text())["start_time"] > first
    assert (out / "user_notes.txt").read_text() == "mine"
