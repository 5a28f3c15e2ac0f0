"""Reprocessing shards written by curate: same shard names, same keys, new media, captions untouched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from curation import curate
from curation.config import build_config
from curation.plan import make_plan
from curation.worker import process_shard
from tests.support.chain import FAST, streams
from tests.support.launches import launches, log_launches
from tests.support.shards import read_webdataset, sample_json, stats_files

CAPTIONS = ["a cat, on a mat", "ünïcödé caption", "third \"quoted\"", "fourth\nline two"]


@pytest.fixture(scope="module")
def curated(media: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two shards (2 samples each) written by curate from a caption table."""
    root = tmp_path_factory.mktemp("curated")
    table = root / "in.jsonl"
    table.write_text("".join(json.dumps({"url": str(media / f"v{i}.mp4"), "caption": c}) + "\n" for i, c in enumerate(CAPTIONS)))
    curate(url_list=str(table), output_folder=str(root / "shards"), output_format="webdataset", caption_col="caption",
           number_sample_per_shard=2, processes_count=1, quiet=True)
    return root / "shards"


def test_round_trip_lower_resolution(curated: Path, tmp_path: Path) -> None:
    out = tmp_path / "small"
    summary = curate(url_list=f"{curated}/{{00000..00001}}.tar", input_format="webdataset", output_folder=str(out),
                     output_format="webdataset", processes_count=1, quiet=True, encoding=FAST,
                     subsampling={"ResolutionSubsampler": {"args": {"height": 32}}})
    assert summary.totals["successes"] == 4
    names = sorted(p.name for p in out.iterdir() if not p.name.startswith(("_", ".")))
    assert names == ["00000.parquet", "00000.tar", "00000_stats.json", "00001.parquet", "00001.tar", "00001_stats.json"]
    before = {s["__key__"]: s for s in read_webdataset(curated)}
    after = {s["__key__"]: s for s in read_webdataset(out)}
    assert list(after) == list(before)  # same keys, same order, as webdataset itself reads them
    for key, sample in after.items():
        assert sample["txt"] == before[key]["txt"]  # captions copied byte for byte
        path = tmp_path / f"{key}.mp4"
        path.write_bytes(sample["mp4"])
        video = streams(path, "video")[0]
        assert (video["width"], video["height"]) == (48, 32)  # the inputs are 96x64
        meta = sample_json(sample)
        assert meta["source"] == {"shard": f"{curated}/{key[:5]}.tar", "key": key}
        assert meta["caption"] == sample_json(before[key])["caption"]  # the json is carried over
        assert meta["status"] == "success"
    again = tmp_path / "again"  # reprocessing a reprocessed shard keeps the whole provenance chain
    config = build_config(None, url_list=str(out), input_format="webdataset", output_folder=str(again), output_format="webdataset")
    for shard_id in make_plan(config).shard_ids:
        process_shard(shard_id, config)
    for sample in read_webdataset(again):
        key = sample["__key__"]
        assert sample_json(sample)["source"] == {"shard": f"{out}/{key[:5]}.tar", "key": key,
                                                 "source": {"shard": f"{curated}/{key[:5]}.tar", "key": key}}


def test_cli_file_url_brace_pattern_pass_through_and_resume(curated: Path, tmp_path: Path, cli) -> None:  # noqa: ANN001
    out = tmp_path / "copy"
    args = ["run", "--input_format", "webdataset", "--url_list", f"file://{curated}/{{00000..00001}}.tar",
            "--output_folder", str(out), "--output_format", "webdataset", "--processes_count", "1", "--quiet"]
    first = cli(*args)
    assert first.code == 0, first.stderr
    assert "4 ok" in first.stdout
    before = {s["__key__"]: s for s in read_webdataset(curated)}
    after = {s["__key__"]: s for s in read_webdataset(out)}
    assert list(after) == list(before)
    for key, sample in after.items():
        assert sample["mp4"] == before[key]["mp4"]  # nothing in the chain: the member passes through untouched
        assert sample_json(sample)["source"]["shard"].startswith("file://")
    stats = stats_files(out)
    assert sorted(stats) == ["00000_stats.json", "00001_stats.json"]
    assert all(s["input_problems"] == {} for s in stats.values())
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.glob("*.tar")}
    again = cli(*args)
    assert again.code == 0, again.stderr
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.tar")} == mtimes  # resume: finished shards skipped


def test_glob_directory_and_list_file_find_the_same_shards(curated: Path, tmp_path: Path) -> None:
    from curation.wds_input import expand_shards

    expected = [str(curated / "00000.tar"), str(curated / "00001.tar")]
    listing = tmp_path / "shards.txt"
    listing.write_text(f"# two shards\n{curated / '00000.tar'}\n\n{curated / '00001.tar'}\n")
    assert expand_shards(f"{curated}/*.tar") == expected
    assert expand_shards(str(curated)) == expected
    assert expand_shards(str(listing)) == expected
    assert expand_shards(f"file://{curated}/*.tar") == [f"file://{p}" for p in expected]
    from curation.errors import TableError

    with pytest.raises(TableError, match="no such shard"):
        expand_shards(f"{curated}/{{00000..00002}}.tar")
    listing.write_text(f"{curated / '00000.tar'}\n{curated / 'gone.tar'}\n")
    with pytest.raises(TableError, match="names a shard that does not exist: .*gone.tar"):
        expand_shards(str(listing))


def test_overwrite_mode_clears_shards_named_after_their_tars(tmp_path: Path) -> None:
    from curation.runner import clear_outputs

    out = tmp_path / "out"
    (out / "_plan").mkdir(parents=True)
    (out / "_plan" / "manifest.json").write_text(json.dumps({"names": {"0": "train-a", "7": "00007"}}))
    for name in ("train-a.tar", "train-a.parquet", "train-a_stats.json", "00007.tar", "notes.txt", "train-b.tar"):
        (out / name).write_text("x")
    clear_outputs(out)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "train-b.tar"]


def test_audio_member_per_encode_formats_and_untouched_members_copied(tmp_path: Path) -> None:
    """encode_formats picks the audio member; members the chain does not touch (.cls) are copied as they are."""
    from tests.support.media import run_ffmpeg
    from tests.support.tars import write_tar

    audio = tmp_path / "a.m4a"
    run_ffmpeg(["-f", "lavfi", "-i", "sine=f=440:d=1:sample_rate=44100", "-c:a", "aac", str(audio)])
    write_tar(tmp_path / "in" / "train-7.tar", [("s1.json", b'{"x": 1}'), ("s1.m4a", audio.read_bytes()), ("s1.cls", b"\x03raw"),
                                                ("s2.json", b'{"x": 2}'), ("s2.mp4", b"video only")])
    config = build_config(None, url_list=str(tmp_path / "in"), input_format="webdataset", output_folder=str(tmp_path / "out"),
                          output_format="webdataset", encode_formats={"audio": "m4a"},
                          subsampling={"AudioRateSubsampler": {"args": {"sample_rate": 16000}}})
    plan = make_plan(config)
    assert [plan.shard_name(i) for i in plan.shard_ids] == ["train-7"]  # a name that is not a number is kept too
    stats = process_shard(plan.shard_ids[0], config)
    assert stats["successes"] == 1 and stats["failed_to_subsample"] == 1
    samples = {s["__key__"]: s for s in read_webdataset(tmp_path / "out")}
    assert samples["s1"]["cls"] == b"\x03raw" and sample_json(samples["s1"])["x"] == 1
    (tmp_path / "o.m4a").write_bytes(samples["s1"]["m4a"])
    assert streams(tmp_path / "o.m4a", "audio")[0]["sample_rate"] == "16000"
    assert sample_json(samples["s2"])["error_message"] == "no m4a member in the input sample"
    assert sorted(k for k in samples["s2"] if not k.startswith("__")) == ["json"]


def test_input_shards_inside_the_output_folder_are_refused(curated: Path) -> None:
    from curation.errors import TableError

    for url in (f"{curated}/{{00000..00001}}.tar", f"file://{curated}/*.tar"):
        config = build_config(None, url_list=url, input_format="webdataset", output_folder=str(curated), output_format="webdataset")
        with pytest.raises(TableError, match="inside output_folder"):
            make_plan(config)
    before = sorted(p.name for p in curated.iterdir())
    with pytest.raises(TableError, match="inside output_folder"):  # checked before overwrite clears anything
        curate(url_list=f"{curated}/*.tar", input_format="webdataset", output_folder=str(curated), output_format="webdataset",
               incremental_mode="overwrite", quiet=True)
    assert sorted(p.name for p in curated.iterdir()) == before


def test_reprocessing_mp4_members_launches_one_ffmpeg_and_no_ffprobe(curated: Path, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Each member's MP4 header is read in-process: the only child per sample is its one ffmpeg."""
    ffprobe_log = log_launches("ffprobe", tmp_path, monkeypatch)
    ffmpeg_log = log_launches("ffmpeg", tmp_path, monkeypatch)
    summary = curate(url_list=f"{curated}/{{00000..00001}}.tar", input_format="webdataset", output_folder=str(tmp_path / "out"),
                     output_format="webdataset", processes_count=1, quiet=True, encoding=FAST,
                     subsampling={"ResolutionSubsampler": {"args": {"height": 32}}, "FrameSubsampler": {"args": {"frame_rate": 5}}})
    assert summary.totals["successes"] == 4
    assert launches(ffprobe_log) == []
    ffmpeg_runs = launches(ffmpeg_log)
    assert len(ffmpeg_runs) == 4 and all("-max_pixels" in run for run in ffmpeg_runs)
