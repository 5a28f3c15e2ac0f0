"""Fixtures shared by the engine tests (registered with ``pytest_plugins`` in those modules).

One small input (6 tiny videos, 2 per shard) and its multiprocessing output are the reference every
engine must reproduce: same shard names, sample keys, statuses and media bytes.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.engines import PER_SHARD, ROWS, base_config, output_fingerprint
from tests.support.media import make_video


@pytest.fixture(scope="session")
def engine_input(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CSV of 6 local 1 s videos at 10 fps: 3 shards of 2."""
    root = tmp_path_factory.mktemp("engine-input")
    paths = [make_video(root / "media" / f"clip{i}.mp4", duration=1.0, size="64x48", fps=10, source="testsrc2")
             for i in range(ROWS)]
    table = root / "videos.csv"
    table.write_text("url\n" + "".join(f"{p}\n" for p in paths), encoding="utf-8")
    return table


@pytest.fixture(scope="session")
def reference_output(engine_input: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The multiprocessing engine's output, checked to be a real, complete dataset."""
    from curation.runner import run
    from tests.support.media import ffprobe_streams

    folder = tmp_path_factory.mktemp("engine-multiprocessing") / "out"
    summary = run(base_config(engine_input, folder, distributor="multiprocessing", processes_count=2), quiet=True)
    assert summary.shards_done == summary.shards_total == ROWS // PER_SHARD
    fingerprint = output_fingerprint(folder)
    assert sorted(fingerprint) == ["00000", "00001", "00002"]
    assert all(r[1] == "success" for shard in fingerprint.values() for r in shard["rows"])
    with tarfile.open(folder / "00000.tar") as archive:
        media = archive.extractfile("000000.mp4").read()  # type: ignore[union-attr]
    probe = folder.parent / "probe.mp4"
    probe.write_bytes(io.BytesIO(media).getvalue())
    video = next(s for s in ffprobe_streams(probe)["streams"] if s["codec_type"] == "video")
    assert int(video["nb_read_frames"]) == 10
    return fingerprint


@pytest.fixture(scope="session")
def slurm() -> Iterator[Any]:
    """A single-node Slurm cluster (munged + slurmctld + slurmd) for the whole test session."""
    from tests.support.slurm import slurm_cluster

    with slurm_cluster() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def spark_standalone() -> Iterator[Any]:
    """A Spark standalone master + worker on 127.0.0.1 for the whole test session."""
    from tests.support.spark import standalone_cluster

    with standalone_cluster() as cluster:
        yield cluster


@pytest.fixture
def wandb_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """wandb in offline mode, every file it writes under this test's temp dir."""
    root = tmp_path / "wandb"
    root.mkdir()
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    for name in ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR", "WANDB_CONFIG_DIR"):
        monkeypatch.setenv(name, str(root))
    return root
