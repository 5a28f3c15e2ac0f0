"""Real finished runs for the stats/report/inspect tests, made once per session and shared.

Each run is the real pipeline on tiny generated videos; tests that damage a folder copy it first.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from curation import curate

LABELS = ["a", "b", "c", "a"]
_CACHE: dict[str, Path] = {}
SUMMARIES: dict[str, Any] = {}  # output_format → the RunSummary curate() returned

# FFProbe records the sources (video_metadata: "in"); FrameSubsampler makes "out" differ (5 fps).
CHAIN = {"FFProbeSubsampler": {"args": {}}, "FrameSubsampler": {"args": {"frame_rate": 5}}}


def write_list(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text("url,label\n" + "".join(f"{url},{label}\n" for url, label in rows))
    return path


def finished_run(media: Path, factory: pytest.TempPathFactory, output_format: str = "webdataset") -> Path:
    """3 shards of 2: four good videos, one missing file (download failure), one non-video (subsample failure).

    ``webdataset`` runs the FFProbe + fps chain; ``files`` and ``parquet`` pass sources through.
    """
    if output_format in _CACHE:
        return _CACHE[output_format]
    root = factory.mktemp(f"run-{output_format}")
    rows = [(str(media / f"v{i}.mp4"), LABELS[i]) for i in range(4)]
    rows += [(str(media / "missing.mp4"), "a"), (str(media / "not_video.mp4"), "b")]
    config: dict[str, Any] = {
        "subsampling": CHAIN if output_format == "webdataset" else {},
        "storage": {"number_sample_per_shard": 2},
        "distribution": {"processes_count": 2, "thread_count": 2},
        "reading": {"retries": 0},
    }
    SUMMARIES[output_format] = curate(
        url_list=str(write_list(root / "list.csv", rows)), output_folder=str(root / "out"),
        output_format=output_format, save_additional_columns=["label"], config=config, quiet=True)
    _CACHE[output_format] = root / "out"
    return root / "out"


def cli_in_process(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``curate ARGS`` through the real entry point, in this process (no interpreter start-up)."""
    from curation.cli import main

    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def copy_run(folder: Path, dest: Path) -> Path:
    return Path(shutil.copytree(folder, dest))


def stats_files(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*_stats.json"))]


def summed(stats: list[dict[str, Any]], key: str) -> Any:
    return sum(s[key] for s in stats)
