"""URLs that are not direct media go through yt-dlp's Python API (here its generic extractor on 127.0.0.1)."""

from __future__ import annotations

import json
from pathlib import Path

from curation import curate
from tests.support.shards import read_webdataset


def test_ytdlp_downloads_and_reports_errors(media: Path, server, tmp_path: Path) -> None:
    table = tmp_path / "in.csv"
    table.write_text(f"url\n{server.url('v4.mp4?via=ytdlp')}\n{server.url('fault/404?via=ytdlp')}\n")
    out = tmp_path / "out"
    curate(url_list=str(table), output_folder=str(out), output_format="webdataset",
           config={"reading": {"downloader": "ytdlp", "timeout": 20, "retries": 0}}, quiet=True)
    samples = read_webdataset(out)
    first, second = (json.loads(s["json"]) for s in samples)
    assert first["status"] == "success"
    assert samples[0]["mp4"] == (media / "v4.mp4").read_bytes()
    assert second["status"] == "failed_to_download"
    assert second["error_message"].startswith("yt-dlp:") and "404" in second["error_message"]
