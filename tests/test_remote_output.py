"""Remote output (and input) folders through fsspec, against a real S3 API on 127.0.0.1.

A remote run works in a local staging folder and publishes each finished shard: files first, the
stats file last. The remote folder is the truth: a new machine resumes from it, a lost remote
shard is redone, and what a reader of the bucket sees is always whole shards.
"""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from pathlib import Path

import pytest

from curation import curate
from curation.errors import ConfigError, TableError
from curation.manifest import PLAN_DIR
from tests.support.chain import FAST, streams
from tests.support.launches import launches, log_launches
from tests.support.s3 import BUCKET, s3

CHAIN = {"FrameSubsampler": {"args": {"frame_rate": 5}}}


@pytest.fixture
def endpoint(s3_endpoint: str) -> str:
    return s3_endpoint


def _table(media: Path, folder: Path, names: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    table = folder / "list.csv"
    table.write_text("url,caption\n" + "".join(f"{media / n},caption of {n}\n" for n in names))
    return table


def _run(table: Path, out: str, staging: Path, **overrides) -> object:
    overrides.setdefault("subsampling", CHAIN)
    return curate(url_list=str(table), output_folder=out, output_format="webdataset", caption_col="caption",
                  number_sample_per_shard=2, processes_count=1, quiet=True, encoding=FAST,
                  staging_folder=str(staging), **overrides)


def _tar_members(fs, path: str) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(fs.cat_file(path))) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]


def _objects(fs, prefix: str) -> dict[str, str]:
    """Object name → ETag (changes when an object is written again)."""
    return {Path(p).name if "/_plan/" not in p else f"_plan/{Path(p).name}": info["ETag"]
            for p, info in fs.find(prefix, detail=True).items()}


def test_shards_are_published_whole_and_staging_keeps_only_markers(endpoint, media, tmp_path) -> None:
    out = f"s3://{BUCKET}/run1"
    summary = _run(_table(media, tmp_path, ["v0.mp4", "v1.mp4", "v2.mp4"]), out, tmp_path / "staging")
    assert summary.totals["successes"] == 3 and summary.shards_done == 2
    assert summary.output_folder == out
    fs = s3()
    names = sorted(_objects(fs, f"{BUCKET}/run1"))
    assert names == ["00000.parquet", "00000.tar", "00000_stats.json", "00001.parquet", "00001.tar", "00001_stats.json",
                     "_plan/manifest.json", "_plan/source-00000.arrow"]
    members = _tar_members(fs, f"{BUCKET}/run1/00000.tar")
    assert sorted(members) == ["000000.json", "000000.mp4", "000000.txt", "000001.json", "000001.mp4", "000001.txt"]
    assert members["000001.txt"] == b"caption of v1.mp4"
    stats = json.loads(fs.cat_file(f"{BUCKET}/run1/00001_stats.json"))
    assert (stats["count"], stats["successes"]) == (1, 1)
    staged = sorted(p.name for p in (tmp_path / "staging").iterdir())
    assert staged == ["00000_stats.json", "00001_stats.json", "_plan"]  # the lock is gone with the run
    assert json.loads((tmp_path / "staging" / "00001_stats.json").read_bytes()) == stats


def test_a_new_machine_resumes_from_the_bucket_and_redoes_only_what_is_missing(endpoint, media, tmp_path,
                                                                                monkeypatch) -> None:
    out, table = f"s3://{BUCKET}/run2", _table(media, tmp_path, ["v0.mp4", "v1.mp4", "v2.mp4", "v3.mp4"])
    _run(table, out, tmp_path / "first")
    fs = s3()
    before = _objects(fs, f"{BUCKET}/run2")
    # a crash after 00001's files were uploaded but before its stats: the bucket shows it unfinished
    fs.rm(f"{BUCKET}/run2/00001_stats.json")
    ffmpeg_log = log_launches("ffmpeg", tmp_path, monkeypatch)
    summary = _run(table, out, tmp_path / "second-machine")  # an empty staging folder
    assert summary.shards_done == 2 and summary.totals["successes"] == 4
    assert len(launches(ffmpeg_log)) == 2  # the two samples of shard 00001, nothing else
    after = _objects(fs, f"{BUCKET}/run2")
    assert sorted(after) == sorted(before)
    unchanged = {name for name in after if after[name] == before[name]}
    assert {"00000.tar", "00000.parquet", "00000_stats.json", "_plan/manifest.json"} <= unchanged
    assert _tar_members(fs, f"{BUCKET}/run2/00001.tar").keys() == {
        "000010.json", "000010.mp4", "000010.txt", "000011.json", "000011.mp4", "000011.txt"}
    # the first machine's staging still believes 00001 was never done and 00000 is: the bucket wins
    fs.rm(f"{BUCKET}/run2", recursive=True)
    summary = _run(table, out, tmp_path / "first")
    assert summary.shards_done == 2 and len(launches(ffmpeg_log)) == 6  # everything again
    assert "00000_stats.json" in _objects(fs, f"{BUCKET}/run2")


def test_reprocess_shards_from_the_bucket_into_the_bucket(endpoint, media, tmp_path) -> None:
    """The issue's case: shards already in object storage, re-cut without downloading anything else."""
    _run(_table(media, tmp_path, ["v0.mp4", "v1.mp4", "v2.mp4"]), f"s3://{BUCKET}/src", tmp_path / "src", subsampling={})
    summary = curate(url_list=f"s3://{BUCKET}/src/{{00000..00001}}.tar", input_format="webdataset",
                     output_folder=f"s3://{BUCKET}/small", output_format="webdataset", processes_count=1, quiet=True,
                     encoding=FAST, staging_folder=str(tmp_path / "small"),
                     subsampling={"ResolutionSubsampler": {"args": {"height": 32}}})
    assert summary.totals["successes"] == 3
    fs = s3()
    for shard, keys in (("00000", ["000000", "000001"]), ("00001", ["000010"])):
        members = _tar_members(fs, f"{BUCKET}/small/{shard}.tar")
        assert sorted(members) == sorted(f"{k}.{e}" for k in keys for e in ("json", "mp4", "txt"))
        for key in keys:
            meta = json.loads(members[f"{key}.json"])
            assert meta["source"] == {"shard": f"s3://{BUCKET}/src/{shard}.tar", "key": key}
            video = tmp_path / f"{key}.mp4"
            video.write_bytes(members[f"{key}.mp4"])
            assert streams(video, "video")[0]["height"] == 32


def test_retry_failed_keeps_the_published_good_samples(endpoint, media, tmp_path) -> None:
    shutil.copy(media / "v0.mp4", tmp_path / "good.mp4")
    table = tmp_path / "list.csv"
    table.write_text(f"url,caption\n{tmp_path / 'good.mp4'},good\n{tmp_path / 'late.mp4'},late\n")
    out = f"s3://{BUCKET}/retry"
    first = _run(table, out, tmp_path / "staging", reading={"retries": 0})
    assert (first.totals["successes"], first.totals["failed_to_download"]) == (1, 1)
    fs = s3()
    good_before = _tar_members(fs, f"{BUCKET}/retry/00000.tar")["000000.mp4"]
    shutil.copy(media / "v1.mp4", tmp_path / "late.mp4")  # the missing file appears
    second = _run(table, out, tmp_path / "other-staging", retry_failed=True)
    assert second.totals["successes"] == 2
    members = _tar_members(fs, f"{BUCKET}/retry/00000.tar")
    assert members["000000.mp4"] == good_before  # kept byte for byte from the published shard
    assert json.loads(members["000001.json"])["status"] == "success"


def test_overwrite_clears_our_objects_and_nothing_else(endpoint, media, tmp_path) -> None:
    out, table = f"s3://{BUCKET}/over", _table(media, tmp_path, ["v0.mp4", "v1.mp4", "v2.mp4"])
    _run(table, out, tmp_path / "a")
    fs = s3()
    fs.pipe_file(f"{BUCKET}/over/README.md", b"my notes")
    _run(_table(media, tmp_path / "t2", ["v3.mp4"]), out, tmp_path / "b", incremental_mode="overwrite")
    assert sorted(_objects(fs, f"{BUCKET}/over")) == ["00000.parquet", "00000.tar", "00000_stats.json", "README.md",
                                                      "_plan/manifest.json", "_plan/source-00000.arrow"]
    assert fs.cat_file(f"{BUCKET}/over/README.md") == b"my notes"


def test_stats_of_a_remote_folder(endpoint, media, tmp_path, cli) -> None:
    out = f"s3://{BUCKET}/stats"
    _run(_table(media, tmp_path, ["v0.mp4", "missing.mp4", "v1.mp4"]), out, tmp_path / "s", reading={"retries": 0})
    result = cli("stats", out, "--json")
    assert result.code == 0, result.stderr
    overview = json.loads(result.stdout)
    assert overview["output_folder"] == out
    assert (overview["shards"]["total"], overview["shards"]["done"], overview["samples"], overview["successes"]) == (2, 2, 3, 2)
    assert overview["failed_to_download"] == 1
    missing = cli("stats", f"s3://{BUCKET}/nothing-here")
    assert missing.code == 2 and "no such output folder" in missing.stderr


def test_bad_remote_folders_are_one_line_errors(endpoint, media, tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"output_folder: .*gs:// needs a package that is not installed.*curation\[gcs\]"):
        curate(url_list=str(tmp_path / "x.csv"), output_folder="gs://bucket/out")
    with pytest.raises(ConfigError, match="unknown filesystem protocol nosuch://"):
        curate(url_list=str(tmp_path / "x.csv"), output_folder="nosuch://bucket/out")
    _run(_table(media, tmp_path, ["v0.mp4"]), f"s3://{BUCKET}/inside", tmp_path / "i", subsampling={})
    with pytest.raises(TableError, match="is inside output_folder"):
        curate(url_list=f"s3://{BUCKET}/inside/00000.tar", input_format="webdataset",
               output_folder=f"s3://{BUCKET}/inside", staging_folder=str(tmp_path / "j"), quiet=True)


def test_the_plan_travels_through_the_bucket(endpoint, media, tmp_path) -> None:
    """A worker whose staging folder has no plan (a Spark executor on another machine) takes it from the bucket."""
    from curation.config import build_config
    from curation.remote_output import staged
    from curation.worker import process_shard

    out = f"s3://{BUCKET}/executor"
    table = _table(media, tmp_path, ["v0.mp4", "v1.mp4", "v2.mp4"])
    _run(table, out, tmp_path / "driver")
    fs = s3()
    fs.rm(f"{BUCKET}/executor/00001_stats.json")
    config = staged(build_config(None, url_list=str(table), output_folder=out, output_format="webdataset",
                                 caption_col="caption", number_sample_per_shard=2, staging_folder=str(tmp_path / "executor"),
                                 subsampling=CHAIN, encoding=FAST))
    stats = process_shard(1, config)
    assert (stats["count"], stats["successes"]) == (1, 1)
    assert (tmp_path / "executor" / PLAN_DIR / "manifest.json").read_bytes() == fs.cat_file(f"{BUCKET}/executor/_plan/manifest.json")
    assert "00001_stats.json" in _objects(fs, f"{BUCKET}/executor")
