"""A bad row costs that sample: its status and message are recorded and the run finishes."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from curation import curate
from tests.support.shards import read_webdataset


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_bad_rows_are_recorded_and_stats_add_up(media: Path, server, tmp_path: Path) -> None:
    rows = {
        "ok_http": server.url("v0.mp4"),
        "not_found": server.url("fault/404?from=bad_rows"),
        "flaky": server.url("fault/500then200/v1.mp4?from=bad_rows"),
        "always_500": server.url("fault/500"),
        "unreachable": f"http://127.0.0.1:{_closed_port()}/v.mp4",
        "not_video": str(media / "not_video.mp4"),
        "zero_bytes": str(media / "empty.mp4"),
        "missing": str(media / "does_not_exist.mp4"),
        "ok_local": str(media / "v2.mp4"),
    }
    table = tmp_path / "in.csv"
    table.write_text("url,name\n" + "".join(f"{url},{name}\n" for name, url in rows.items()))
    out = tmp_path / "out"
    curate(url_list=str(table), output_folder=str(out), output_format="webdataset", save_additional_columns=["name"],
           number_sample_per_shard=4, config={"reading": {"timeout": 5, "retries": 2, "retry_backoff": 0.05}}, quiet=True)
    by_name = {json.loads(s["json"])["name"]: s for s in read_webdataset(out)}
    assert sorted(by_name) == sorted(rows)
    meta = {name: json.loads(s["json"]) for name, s in by_name.items()}
    expected = {
        "ok_http": "success", "flaky": "success", "ok_local": "success",
        "not_found": "failed_to_download", "always_500": "failed_to_download", "unreachable": "failed_to_download",
        "zero_bytes": "failed_to_download", "missing": "failed_to_download", "not_video": "failed_to_subsample",
    }
    assert {n: m["status"] for n, m in meta.items()} == expected
    assert meta["not_found"]["error_message"] == "HTTP 404 Not Found"
    assert "after 3 attempts" in meta["always_500"]["error_message"]
    assert "ConnectionError" in meta["unreachable"]["error_message"]
    assert "empty" in meta["zero_bytes"]["error_message"]
    assert "not a media file" in meta["not_video"]["error_message"]
    assert by_name["flaky"]["mp4"] == (media / "v1.mp4").read_bytes()
    assert all("mp4" not in by_name[n] for n, status in expected.items() if status != "success")
    # 404 is permanent: asked once; the flaky URL needed exactly one retry
    assert server.hits["/fault/404?from=bad_rows"] == 1
    assert server.hits["/fault/500then200/v1.mp4?from=bad_rows"] == 2
    stats = [json.loads(p.read_text()) for p in sorted(out.glob("*_stats.json"))]
    assert sum(s["count"] for s in stats) == 9
    assert sum(s["successes"] for s in stats) == 3
    assert sum(s["failed_to_download"] for s in stats) == 5
    assert sum(s["failed_to_subsample"] for s in stats) == 1
    assert sum(sum(s["status_dict"].values()) for s in stats) == 9
