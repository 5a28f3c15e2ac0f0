"""--retry_failed redoes only failed samples; a full disk leaves nothing finished-looking and resumes."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from curation import curate
from curation.runner import ShardsFailedError
from tests.support.shards import read_webdataset


def test_retry_failed_redoes_only_failed_samples(media: Path, server, tmp_path: Path) -> None:
    table = tmp_path / "in.csv"
    flaky = server.url(f"fault/500then200/v3.mp4?retry={tmp_path.name}")
    table.write_text(f"url\n{media / 'v0.mp4'}\n{flaky}\n{media / 'v1.mp4'}\n{media / 'v2.mp4'}\n")
    out = tmp_path / "out"
    args = dict(url_list=str(table), output_folder=str(out), output_format="webdataset", number_sample_per_shard=2,
                config={"reading": {"retries": 0}}, quiet=True)
    curate(**args)
    first = {s["__key__"]: s for s in read_webdataset(out)}
    assert json.loads(first["000001"]["json"])["status"] == "failed_to_download"
    untouched_shard = (out / "00001.tar").read_bytes()
    untouched_stats = (out / "00001_stats.json").read_text()
    curate(**args, retry_failed=True)
    second = {s["__key__"]: s for s in read_webdataset(out)}
    assert json.loads(second["000001"]["json"])["status"] == "success"
    assert second["000001"]["mp4"] == (media / "v3.mp4").read_bytes()
    assert second["000000"]["mp4"] == first["000000"]["mp4"]
    assert second["000000"]["json"] == first["000000"]["json"]
    assert (out / "00001.tar").read_bytes() == untouched_shard, "a shard without failures is not rewritten"
    assert (out / "00001_stats.json").read_text() == untouched_stats
    assert json.loads((out / "00000_stats.json").read_text())["successes"] == 2


@pytest.fixture
def small_disk(tmp_path: Path):
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", str(mount)], check=True, timeout=30)
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False, timeout=30)


def test_disk_full_fails_clearly_and_resumes(media: Path, small_disk: Path, tmp_path: Path) -> None:
    table = tmp_path / "in.csv"
    table.write_text("url\n" + "".join(f"{media / f'v{i}.mp4'}\n" for i in range(6)) * 4)
    out = small_disk / "out"
    args = dict(url_list=str(table), output_folder=str(out), output_format="webdataset", number_sample_per_shard=4,
                tmp_dir=str(tmp_path / "tmp"), quiet=True)
    with pytest.raises(ShardsFailedError, match="No space left on device"):
        curate(**args)
    for stats in out.glob("*_stats.json"):  # whatever looks finished is complete
        shard = stats.name.removesuffix("_stats.json")
        assert len(read_webdataset_shard(out / f"{shard}.tar")) == json.loads(stats.read_text())["count"]
    assert not list(out.glob(".*tmp-*")), "no half-written file may stay behind"
    # space is back: move the folder to a roomy disk and resume
    roomy = tmp_path / "roomy"
    shutil.copytree(out, roomy)
    summary = curate(**{**args, "output_folder": str(roomy)})
    assert summary.totals["count"] == 24 and summary.totals["successes"] == 24


def read_webdataset_shard(tar: Path) -> list:
    folder = tar.parent
    return [s for s in read_webdataset(folder) if s["__url__"].endswith(tar.name)]
