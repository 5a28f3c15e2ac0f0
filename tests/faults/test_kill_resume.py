"""SIGKILL the driver or a worker at random moments; resuming must give exactly the clean run's output."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.conftest import REPO
from tests.faults.conftest import Ledger
from tests.support.shards import read_webdataset

KILLS = 10
CONFIG = {
    "subsampling": {"ResolutionSubsampler": {"args": {"video_size": 32, "resize_mode": "scale"}}},
    "storage": {"number_sample_per_shard": 2},
    "distribution": {"processes_count": 2, "thread_count": 2},
}
# the same job with its shards in two worker processes (by default both run inside the curate process)
WORKERS_CONFIG = {**CONFIG, "distribution": {**CONFIG["distribution"], "shards_per_process": 1}}


def _command(table: Path, out: Path, config: Path) -> list[str]:
    return [sys.executable, "-m", "curation", "run", "--url_list", str(table), "--output_folder", str(out),
            "--output_format", "webdataset", "--caption_col", "caption", "--config", str(config), "--quiet"]


def _run_to_end(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert proc.returncode == 0, proc.stderr


def _result(out: Path) -> dict:
    stats = [json.loads(p.read_text()) for p in sorted(out.glob("*_stats.json"))]
    totals = {k: sum(s[k] for s in stats) for k in ("count", "successes", "failed_to_download", "failed_to_subsample", "outputs_written")}
    return {
        "files": sorted(p.name for p in out.iterdir()),
        "tars": {p.name: p.read_bytes() for p in sorted(out.glob("*.tar"))},
        "parquets": {p.name: p.read_bytes() for p in sorted(out.glob("*.parquet"))},
        "keys": [s["__key__"] for s in read_webdataset(out)],
        "totals": totals,
    }


@pytest.fixture(scope="module")
def job(media: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict, float]:
    root = tmp_path_factory.mktemp("killjob")
    table = root / "in.csv"
    rows = [f"{media / f'v{i % 6}.mp4'},caption {i}" for i in range(12)] + [f"{media / 'missing.mp4'},lost"]
    table.write_text("url,caption\n" + "\n".join(rows) + "\n")
    config = root / "config.json.yaml"
    config.write_text(json.dumps(CONFIG))
    (root / "workers.json.yaml").write_text(json.dumps(WORKERS_CONFIG))
    clean = root / "clean"
    started = time.monotonic()
    _run_to_end(_command(table, clean, config))
    return table, config, _result(clean), time.monotonic() - started


def test_sigkill_anywhere_then_resume_equals_clean_run(job, tmp_path: Path, ledger: Ledger) -> None:
    table, config, clean, clean_seconds = job
    rng = random.Random(20261122)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    for attempt in range(KILLS):
        out = tmp_path / f"run{attempt}"
        target_kind = "driver" if attempt % 2 == 0 else "worker"
        cmd = _command(table, out, config if target_kind == "driver" else config.with_name("workers.json.yaml"))
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        deadline = time.monotonic() + rng.uniform(0.2, 0.9) * clean_seconds
        victim = None
        killed = False
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        if proc.poll() is None:
            if target_kind == "worker":
                workers = [c for c in psutil.Process(proc.pid).children() if "python" in c.name().lower()]
                victim = workers[rng.randrange(len(workers))] if workers else None
            if victim is not None:
                victim.send_signal(signal.SIGKILL)
            else:
                target_kind = "driver"
                proc.send_signal(signal.SIGKILL)
            killed = True
        proc.wait(timeout=300)
        _run_to_end(cmd)  # resume with the same arguments
        resumed = _result(out)
        lost = len(set(clean["keys"]) - set(resumed["keys"]))
        ledger.lost_samples += lost
        ledger.notes.append(f"kill {attempt}: {target_kind if killed else 'run ended before the kill'}, lost {lost}")
        assert resumed["keys"] == clean["keys"], f"kill {attempt} ({target_kind})"
        assert len(resumed["keys"]) == len(set(resumed["keys"]))
        assert resumed["tars"] == clean["tars"], f"kill {attempt} ({target_kind}): media bytes differ"
        assert resumed["parquets"] == clean["parquets"]
        assert resumed["totals"] == clean["totals"]
        assert resumed["files"] == clean["files"], "orphan or missing files after resume"
        assert not (out / "_tmp").exists()
