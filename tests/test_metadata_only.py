"""Metadata-only passes over existing shards: same shard names and keys, json (+ npy) only, filters."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

import pytest
import webdataset as wds

from curation import curate
from tests.support.media import make_two_shot_video
from tests.support.runs import cli_in_process
from tests.support.shards import read_webdataset, sample_json, stats_files
from tests.test_subsampler_optical_flow import lavfi_video

FPS = 25
ANALYSES = {
    "OpticalFlowSubsampler": {"args": {"save_flow": True}},
    "MotionScoreSubsampler": {"args": {}},
    "CutDetectionSubsampler": {"args": {}},
    "FFProbeSubsampler": {"args": {}},
}


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two shards written by curate: still, testsrc2, mandelbrot | a hard cut at 2 s, a missing file."""
    root = tmp_path_factory.mktemp("meta-src")
    videos = [lavfi_video(root / "still.mp4", "color=c=0x3366aa", 3), lavfi_video(root / "testsrc2.mp4", "testsrc2", 3),
              lavfi_video(root / "mandelbrot.mp4", "mandelbrot", 2),
              make_two_shot_video(root / "cut.mp4", first=2.0, second=1.0, fps=FPS), root / "missing.mp4"]
    table = root / "in.jsonl"
    table.write_text("".join(json.dumps({"url": str(v), "caption": f"video {v.stem}"}) + "\n" for v in videos))
    curate(url_list=str(table), output_folder=str(root / "shards"), output_format="webdataset", caption_col="caption",
           number_sample_per_shard=3, processes_count=1, thread_count=2, reading={"retries": 0}, quiet=True)
    return root / "shards"


@pytest.fixture(scope="module")
def metadata(source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("meta-out") / "meta"
    summary = curate(url_list=f"{source}/*.tar", input_format="webdataset", output_folder=str(out), output_format="webdataset",
                     encode_formats={}, subsampling=ANALYSES, processes_count=1, thread_count=2, quiet=True)
    assert summary.totals["successes"] == 4 and summary.totals["failed_to_subsample"] == 1  # the missing file stays failed
    return out


def run_here(**kwargs: Any) -> dict[str, Any]:
    """The worker path in this process (no pool start-up): plan, every shard, the totals."""
    from curation.config import build_config
    from curation.plan import make_plan
    from curation.stats import read_all_stats, summarize
    from curation.worker import process_shard

    config = build_config(None, **kwargs)
    for shard_id in make_plan(config).shard_ids:
        process_shard(shard_id, config)
    return summarize(read_all_stats(Path(config.output_folder)))


def members(tar: Path) -> list[str]:
    with tarfile.open(tar) as handle:
        return handle.getnames()


def by_stem(samples: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {Path(sample_json(s)["url"]).stem: sample_json(s) for s in samples}


def test_same_shard_names_and_keys_and_no_media(source: Path, metadata: Path) -> None:
    assert sorted(p.name for p in metadata.glob("*.tar")) == sorted(p.name for p in source.glob("*.tar")) == ["00000.tar", "00001.tar"]
    assert sorted(p.name for p in metadata.glob("*.parquet")) == ["00000.parquet", "00001.parquet"]
    for tar in sorted(source.glob("*.tar")):
        src_keys = {name.split(".", 1)[0] for name in members(tar)}
        names = members(metadata / tar.name)
        assert {name.split(".", 1)[0] for name in names} == src_keys
        assert {name.split(".", 1)[1] for name in names} <= {"json", "npy"}  # no mp4, no txt: nothing copied
    # shard 1: the cut video (json + npy) and the failed source sample, still there as json only
    assert sorted(n.split(".", 1)[1] for n in members(metadata / "00001.tar")) == ["json", "json", "npy"]


def test_webdataset_reads_source_and_metadata_in_lockstep(source: Path, metadata: Path) -> None:
    urls = sorted(p.name for p in source.glob("*.tar"))
    left = wds.WebDataset([str(source / u) for u in urls], shardshuffle=False, empty_check=False)
    right = wds.WebDataset([str(metadata / u) for u in urls], shardshuffle=False, empty_check=False)
    pairs = list(zip(left, right, strict=True))
    assert len(pairs) == 5
    for media, meta in pairs:
        assert media["__key__"] == meta["__key__"]
        assert "mp4" not in meta and "txt" not in meta
        if "mp4" in media:
            assert sample_json(meta)["status"] == "success"
            assert sample_json(meta)["source"]["key"] == media["__key__"]


def test_flow_and_motion_separate_still_from_moving(metadata: Path) -> None:
    meta = by_stem(read_webdataset(metadata))
    still = meta["still"]
    assert still["optical_flow"]["mean"] == pytest.approx(0.0, abs=0.01)
    assert still["motion"]["mean"] == pytest.approx(0.0, abs=0.05)
    for moving in ("testsrc2", "mandelbrot"):
        assert meta[moving]["optical_flow"]["mean"] > 0.5
        assert meta[moving]["motion"]["mean"] > 2
    assert len(still["optical_flow"]["per_second"]) == 3
    assert meta["still"]["video_metadata"]["duration"] == pytest.approx(3.0, abs=0.05)  # ffprobe of the source


def test_the_hard_cut_is_reported_within_one_frame(metadata: Path) -> None:
    cuts = by_stem(read_webdataset(metadata))["cut"]["cuts"]
    assert len(cuts["cut_times"]) == 1
    assert abs(cuts["cut_times"][0] - 2.0) <= 1 / FPS
    [[_, boundary], _] = cuts["cuts_original_fps"]
    assert abs(boundary - 2 * FPS) <= 1


def test_npy_members_and_parquet_sidecar_columns(metadata: Path) -> None:
    import numpy as np
    import pyarrow.parquet as pq

    for sample in read_webdataset(metadata):
        if sample_json(sample)["status"] != "success":
            assert "npy" not in sample
            continue
        flow = sample["npy"]  # webdataset decodes .npy itself
        flow = np.load(__import__("io").BytesIO(flow)) if isinstance(flow, bytes) else flow
        assert flow.ndim == 4 and flow.shape[1:] == (64, 85, 2) and flow.dtype == np.float16
        assert flow.shape[0] == sample_json(sample)["optical_flow"]["pairs"]
    table = pq.read_table(metadata / "00000.parquet")
    assert {"key", "optical_flow", "motion", "cuts", "mean_optical_flow_magnitude"} <= set(table.column_names)
    assert table.num_rows == 3
    assert table.column("optical_flow").combine_chunks().field("mean").to_pylist()[0] == pytest.approx(0.0, abs=0.01)


def test_a_filter_run_drops_exactly_the_failing_samples(source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "moving"
    totals = run_here(url_list=f"{source}/*.tar", input_format="webdataset", output_folder=str(out), output_format="webdataset",
                      metadata_only=True, subsampling={"MotionScoreSubsampler": {"args": {}}}, filters=["motion.mean >= 0.5"])
    written = by_stem(read_webdataset(out))
    # kept: the moving ones; dropped: the still card; the missing file is a failure and keeps its json
    assert sorted(written) == ["cut", "mandelbrot", "missing", "testsrc2"]
    assert all(m["motion"]["mean"] >= 0.5 for stem, m in written.items() if stem != "missing")
    stats = stats_files(out)
    assert stats["00000_stats.json"]["filtered"] == 1
    assert stats["00000_stats.json"]["filter_drops"] == {"motion.mean >= 0.5": 1}
    assert stats["00001_stats.json"]["filtered"] == 0
    assert totals["filtered"] == 1 and totals["filter_drops"] == [("motion.mean >= 0.5", 1)]
    assert totals["outputs_written"] == 3  # the failure's json is a record, not an output
    code, text, _ = cli_in_process(capsys, "stats", str(out))
    assert code == 0 and "1 outputs dropped by filters: motion.mean >= 0.5 failed 1×" in text


def test_filter_on_source_metadata_with_media_kept(source: Path, tmp_path: Path) -> None:
    """Filters work in a media-writing pass too, on fields the input json already had."""
    out = tmp_path / "long"
    run_here(url_list=f"{source}/*.tar", input_format="webdataset", output_folder=str(out), output_format="webdataset",
             subsampling={"FFProbeSubsampler": {"args": {}}}, filters=["video_metadata.duration >= 2.5"])
    samples = read_webdataset(out)
    kept = {Path(sample_json(s)["url"]).stem for s in samples if "mp4" in s}
    assert kept == {"still", "testsrc2", "cut"}  # mandelbrot is 2 s long
    assert sum(s["filtered"] for s in stats_files(out).values()) == 1


def test_metadata_only_refuses_media_changes_and_bad_filters_in_one_line(source: Path, tmp_path: Path, cli) -> None:  # noqa: ANN001
    base = ["run", "--input_format", "webdataset", "--url_list", f"{source}/*.tar", "--output_folder", str(tmp_path / "o"),
            "--output_format", "webdataset", "--quiet"]
    bad = cli(*base, "--filters", "motion.mean <> 0.5")
    assert bad.code == 2 and bad.stderr.strip().count("\n") == 0
    assert "filters[0]" in bad.stderr and "motion.mean <> 0.5" in bad.stderr
    config = tmp_path / "c.yaml"
    config.write_text("metadata_only: true\nsubsampling:\n  ResolutionSubsampler: {args: {height: 32}}\n")
    refused = cli(*base, "--config", str(config))
    assert refused.code == 2 and refused.stderr.strip().count("\n") == 0
    assert "subsampling.ResolutionSubsampler" in refused.stderr and "metadata-only" in refused.stderr
    config.write_text("encode_formats: {}\nsubsampling:\n  CutDetectionSubsampler: {cuts_are_clips: true, args: {}}\n")
    refused = cli(*base, "--config", str(config))  # cuts as clips would cut media that is not written
    assert refused.code == 2 and refused.stderr.strip().count("\n") == 0
    assert "cuts_are_clips" in refused.stderr, refused.stderr
    assert not (tmp_path / "o").exists()


def test_shipped_motion_metadata_config_is_a_metadata_only_pass() -> None:
    from curation.config import build_config

    config = build_config("motion_metadata")
    assert config.metadata_only and not config.writes_media and config.source_formats == {"video": "mp4"}
    assert set(config.subsampling) == {"FFProbeSubsampler", "CutDetectionSubsampler", "MotionScoreSubsampler",
                                       "OpticalFlowSubsampler"}
