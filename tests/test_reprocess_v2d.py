"""Reprocessing shards laid out exactly as video2dataset 1.3.0 writes them (8-digit keys, json-only failures)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from curation import curate
from tests.support.chain import FAST, streams
from tests.support.shards import read_webdataset, sample_json, stats_files
from tests.support.tars import v2d_shard

SHARDS = {
    0: [("00000000", "cat", 0), ("00000001", "dog", None), ("00000002", "dog", 1)],
    1: [("00001000", "cat", 2), ("00001001", "dog", 3), ("00001002", "cat", None)],
}
GOOD = [key for rows in SHARDS.values() for key, _, video in rows if video is not None]


@pytest.fixture(scope="module")
def v2d_folder(media: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("v2d")
    for shard, rows in SHARDS.items():
        samples = []
        for key, label, video in rows:
            sample = {"key": key, "url": f"https://example.com/{key}.mp4", "caption": f"caption of {key}", "label": label}
            if video is None:
                sample["error"] = "HTTP Error 404: Not Found"
            else:
                sample["video"] = str(media / f"v{video}.mp4")
            samples.append(sample)
        v2d_shard(folder, shard, samples)
    return folder


def _inline(**kwargs: object) -> None:
    """Plan and process every shard in this process: the worker's code path without the engine's start-up."""
    from curation.config import build_config
    from curation.plan import make_plan
    from curation.worker import process_shard

    config = build_config(None, input_format="webdataset", output_format="webdataset", **kwargs)
    for shard_id in make_plan(config).shard_ids:
        process_shard(shard_id, config)


def _by_key(folder: Path) -> dict[str, dict]:
    return {s["__key__"]: s for s in read_webdataset(folder)}


def test_every_successful_sample_out_failed_ones_recorded(v2d_folder: Path, media: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    summary = curate(url_list=str(v2d_folder), input_format="webdataset", output_folder=str(out), output_format="webdataset",
                     processes_count=2, quiet=True)  # a directory of shards, next to their parquet and stats files
    assert summary.totals["count"] == 6 and summary.totals["successes"] == 4
    assert sorted(stats_files(out)) == ["00000_stats.json", "00001_stats.json"]
    samples = _by_key(out)
    assert sorted(samples) == sorted(key for rows in SHARDS.values() for key, _, _ in rows)
    for shard, rows in SHARDS.items():
        for key, label, video in rows:
            sample, meta = samples[key], sample_json(samples[key])
            assert meta["label"] == label and meta["url"] == f"https://example.com/{key}.mp4"
            assert meta["source"] == {"shard": str(v2d_folder / f"{shard:05d}.tar"), "key": key}
            assert sample["txt"].decode() == f"caption of {key}" if video is not None else "txt" not in sample
            if video is None:
                assert "mp4" not in sample and meta["status"] == "failed_to_subsample"
                assert meta["error_message"] == "no mp4 member in the input sample (input status failed_to_download: HTTP Error 404: Not Found)"
            else:
                assert meta["status"] == "success" and meta["error_message"] is None
                assert sample["mp4"] == (media / f"v{video}.mp4").read_bytes()
                assert meta["video_metadata"]["streams"][0]["width"] == 96  # still true: the media passed through
    assert all(s["failed_to_subsample"] == 1 and s["successes"] == 2 for s in stats_files(out).values())


def test_clips_field_drives_clipping_and_resolution(v2d_folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "clips"
    _inline(url_list=f"{v2d_folder}/{{00000..00001}}.tar", output_folder=str(out), clip_col="clips", encoding=FAST,
            subsampling={"ResolutionSubsampler": {"args": {"height": 32}}})
    samples = _by_key(out)
    assert sorted(k for k, s in samples.items() if sample_json(s)["status"] == "success") == sorted(f"{k}_00000" for k in GOOD)
    for key in GOOD:
        sample = samples[f"{key}_00000"]
        path = tmp_path / f"{key}.mp4"
        path.write_bytes(sample["mp4"])
        video = streams(path, "video")[0]
        assert video["height"] == 32 and float(video["duration"]) == pytest.approx(0.5, abs=0.15)
        meta = sample_json(sample)
        assert meta["clips"] == [[0.0, 0.5]]
        assert meta["video_metadata"] is None  # the input's ffprobe record describes the old media ...
        assert meta["source"]["video_metadata"]["streams"][0]["height"] == 64  # ... and is kept as the source's
        assert sample["txt"].decode() == f"caption of {key}"


def test_class_subset_reads_labels_from_json_only(v2d_folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "subset"
    _inline(url_list=f"{v2d_folder}/*.tar", output_folder=str(out),
            subsampling={"ClassSubsetSubsampler": {"args": {"label_col": "label", "samples_per_class": 1}}})
    samples = _by_key(out)
    metas = [sample_json(s) for s in samples.values()]
    assert sorted(m["label"] for m in metas) == ["cat", "dog"]  # one per class, never a failed input sample
    assert all(m["status"] == "success" and m["key"] in GOOD for m in metas)
    classes = json.loads((out / "classes.json").read_text())
    assert classes["classes"] == {"cat": 0, "dog": 1}
    assert sorted(m["class_index"] for m in metas) == [0, 1]
    report = json.loads((out / "subset_report.json").read_text())
    assert report["excluded"]["counts"] == {"missing url": 2}  # the json-only samples could not be chosen
    for name in {m["source"]["shard"].rsplit("/", 1)[-1][:-4] for m in metas}:
        assert (out / f"{name}_stats.json").exists()  # output shards keep their input names


def test_sidecar_parquet_fills_what_the_json_lacks(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from curation.wds_plan import COL_JSON, shard_table
    from tests.support.tars import write_tar

    tar = write_tar(tmp_path / "00007.tar", [("00007000.json", b'{"caption": "from json"}'), ("00007000.mp4", b"x" * 64),
                                             ("00007001.mp4", b"y" * 64)])
    pq.write_table(pa.table({"key": ["00007000", "00007001"], "caption": ["from parquet", "only parquet"],
                             "label": ["cat", "dog"], "spans": [[[0.0, 1.0]], [[0.5, 1.5], [2.0, 3.0]]]}),
                   tmp_path / "00007.parquet")
    table, problems = shard_table(str(tar), {"mp4"}, {"clips", "spans"})
    assert problems == []
    rows = table.to_pylist()
    assert [r["label"] for r in rows] == ["cat", "dog"]  # a class subset can pick by the sidecar's labels
    assert [r["caption"] for r in rows] == ["from json", "only parquet"]  # the json wins where it has the field
    assert [json.loads(r["spans"]) for r in rows] == [[[0.0, 1.0]], [[0.5, 1.5], [2.0, 3.0]]]  # usable as --clip_col spans
    assert json.loads(rows[1][COL_JSON])["label"] == "dog"


def test_sidecar_parquet_labels_and_clip_column_drive_a_real_run(media: Path, tmp_path: Path) -> None:
    """Labels and spans only in the sidecar parquet: a class subset picks by them, and two clips per
    sample come out keyed <key>_00000 and <key>_00001 with their spans."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tests.support.tars import write_tar

    keys = ["00003000", "00003001", "00003002"]
    members = []
    for i, key in enumerate(keys):
        members += [(f"{key}.json", json.dumps({"key": key, "status": "success"}).encode()),
                    (f"{key}.mp4", (media / f"v{3 + i % 2}.mp4").read_bytes())]
    folder = tmp_path / "in"
    write_tar(folder / "00003.tar", members)
    spans = [[0.0, 0.5], [0.6, 1.2]]
    pq.write_table(pa.table({"key": keys, "label": ["cat", "dog", "cat"], "spans": [spans] * 3}), folder / "00003.parquet")
    out = tmp_path / "out"
    _inline(url_list=str(folder / "00003.tar"), output_folder=str(out), clip_col="spans", encoding=FAST,
            subsampling={"ClassSubsetSubsampler": {"args": {"label_col": "label", "samples_per_class": 1}},
                         "ResolutionSubsampler": {"args": {"height": 32}},
                         "ClippingSubsampler": {"args": {"precision": "exact"}}})
    samples = _by_key(out)
    originals = {sample_json(s)["original_key"] for s in samples.values()}
    assert len(originals) == 2 and {sample_json(s)["label"] for s in samples.values()} == {"cat", "dog"}
    assert sorted(samples) == sorted(f"{k}_{i:05d}" for k in originals for i in range(2))
    for name, sample in samples.items():
        meta = sample_json(sample)
        assert meta["clips"] == [spans[int(name[-5:])]]
        path = tmp_path / f"{name}.mp4"
        path.write_bytes(sample["mp4"])
        [video] = streams(path, "video")
        assert video["height"] == 32
        assert float(video["duration"]) == pytest.approx(spans[int(name[-5:])][1] - spans[int(name[-5:])][0], abs=0.11)
