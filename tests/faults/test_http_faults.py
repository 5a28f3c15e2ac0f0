"""Every HTTP fault ends as the right per-sample status, within its timeout, and the run goes on."""

from __future__ import annotations

import json
import time
from pathlib import Path

from curation import curate
from tests.faults.conftest import Ledger
from tests.support.shards import read_webdataset

TIMEOUT = 3.0


def test_http_faults_each_end_with_the_right_status(server, tmp_path: Path, ledger: Ledger) -> None:
    cases = {
        "not_found": ("fault/404", "failed_to_download", "HTTP 404"),
        "forbidden": ("fault/403", "failed_to_download", "HTTP 403"),
        "flaky": ("fault/500then200/v4.mp4?from=faults", "success", None),
        "slow_body": ("fault/slow/v0.mp4", "failed_to_download", "longer than"),
        "reset": ("fault/reset/v1.mp4", "failed_to_download", "after 2 attempts"),
        "wrong_type": ("fault/html/v2.mp4", "failed_to_download", "yt-dlp"),
        "too_large": ("fault/huge", "failed_to_download", "max_download_bytes"),
        "redirect_loop": ("fault/redirect-loop", "failed_to_download", "too many redirects"),
        "fine": ("v3.mp4", "success", None),
    }
    table = tmp_path / "in.csv"
    table.write_text("url,case\n" + "".join(f"{server.url(path)},{name}\n" for name, (path, _, _) in cases.items()))
    out = tmp_path / "out"
    started = time.monotonic()
    curate(url_list=str(table), output_folder=str(out), output_format="webdataset", save_additional_columns=["case"],
           config={"reading": {"timeout": TIMEOUT, "retries": 1, "retry_backoff": 0.05, "max_download_bytes": 50_000_000},
                   "distribution": {"processes_count": 1, "thread_count": 9}},
           quiet=True)
    elapsed = time.monotonic() - started
    meta = {json.loads(s["json"])["case"]: json.loads(s["json"]) for s in read_webdataset(out)}
    assert sorted(meta) == sorted(cases)
    for name, (_, status, message) in cases.items():
        assert meta[name]["status"] == status, (name, meta[name])
        if message:
            assert message in meta[name]["error_message"], (name, meta[name]["error_message"])
    # all faults run concurrently: bounded by (retries + 1) × timeout plus start-up, never hanging
    assert elapsed < 60, elapsed
    ledger.notes.append(f"http faults: {len(cases)} cases in {elapsed:.1f}s")
