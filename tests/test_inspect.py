"""`curate inspect SHARD`: a tar, a shard folder or a parquet lists its samples as they really are."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.support.runs import cli_in_process, finished_run


@pytest.fixture(scope="module")
def tar_run(media: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return finished_run(media, tmp_path_factory)


def inspect_json(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict]:
    code, out, err = cli_in_process(capsys, "inspect", *args, "--json")
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines()]


def test_tar_members_sizes_status_and_duration(tar_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = inspect_json(capsys, str(tar_run / "00000.tar"))
    with tarfile.open(tar_run / "00000.tar") as tar:
        expected: dict[str, dict[str, int]] = {}
        metas = {}
        for member in tar.getmembers():
            key, ext = member.name.split(".", 1)
            expected.setdefault(key, {})[ext] = member.size
            if ext == "json":
                metas[key] = json.loads(tar.extractfile(member).read())  # type: ignore[union-attr]
    assert [r["key"] for r in rows] == list(expected)
    for row in rows:
        assert row["members"] == expected[row["key"]]
        assert row["bytes"] == sum(expected[row["key"]].values())
        assert row["status"] == "success"
        assert row["duration"] == pytest.approx(metas[row["key"]]["video_metadata"]["duration"])


def test_failed_samples_show_status_and_error(tar_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli_in_process(capsys, "inspect", str(tar_run / "00002.tar"))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["key", "status", "duration", "bytes", "members"]
    assert "failed_to_download" in lines[1] and "file not found" in lines[1]
    assert "failed_to_subsample" in lines[2] and "not a media file" in lines[2]
    assert lines[-1].startswith("2 samples, 0 success, 2 other")


def test_metadata_parquet_of_a_tar_shard_lists_the_tar_members(tar_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from_parquet = inspect_json(capsys, str(tar_run / "00001.parquet"))
    from_tar = inspect_json(capsys, str(tar_run / "00001.tar"))
    assert from_parquet == from_tar and len(from_tar) == 2


def test_files_folder(media: Path, tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]) -> None:
    folder = finished_run(media, tmp_path_factory, "files") / "00000"
    rows = inspect_json(capsys, str(folder))
    assert [r["key"] for r in rows] == ["000000", "000001"]
    for row in rows:
        assert row["members"] == {p.suffix[1:]: p.stat().st_size for p in sorted(folder.glob(f"{row['key']}.*"))}
        assert row["duration"] is None  # no FFProbe in this run and no --probe
    probed = inspect_json(capsys, str(folder), "--probe")
    assert [r["duration"] for r in probed] == pytest.approx([1.0, 1.2], abs=0.05)  # v0, v1 as generated


def test_parquet_format_shard(media: Path, tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]) -> None:
    shard = finished_run(media, tmp_path_factory, "parquet") / "00001.parquet"
    rows = inspect_json(capsys, str(shard))
    table = pq.read_table(shard, columns=["key", "mp4"]).to_pylist()
    assert [r["key"] for r in rows] == [t["key"] for t in table]
    assert [r["members"]["mp4"] for r in rows] == [len(t["mp4"]) for t in table]
    probed = inspect_json(capsys, str(shard), "--probe")
    assert [r["duration"] for r in probed] == pytest.approx([1.4, 1.6], abs=0.05)  # v2, v3


def test_user_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "x.txt").write_text("hello")
    (tmp_path / "bad.tar").write_bytes(b"\0garbage" * 200)
    for target in ("missing.tar", "x.txt", "bad.tar"):
        code, _, err = cli_in_process(capsys, "inspect", str(tmp_path / target))
        assert code == 2 and err.startswith("curate: error:") and err.count("\n") == 1, target


def test_a_clip_lasts_its_span_not_its_source() -> None:
    from curation.shard_inspect import SampleEntry

    clip = SampleEntry("k_00001", {"mp4": 10}, {"clips": [[1.5, 3.5]], "video_metadata": {"duration": 10.0}})
    assert clip.duration == pytest.approx(2.0)
    whole = SampleEntry("k", {"mp4": 10}, {"video_metadata": json.dumps({"format": {"duration": "7.25"}})})
    assert whole.duration == pytest.approx(7.25)  # ffprobe's own JSON, kept as text by a metadata parquet
