"""The same input through multiprocessing, Spark local[2] and a Spark standalone cluster gives the
same dataset, byte for byte; the Spark distributor's own rules (active session, retries, the
executor visibility check, arguments) hold against a real Spark."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from curation.errors import ConfigError, UserError
from tests.support.engines import base_config, break_shard, output_fingerprint

pytest_plugins = ["tests.conftest_engines"]
pytestmark = pytest.mark.spark


def test_spark_args_are_checked_before_any_work() -> None:
    from distributors.pyspark import spark_conf

    conf = spark_conf({"master": "local[2]", "executor_memory": "2g", "spark.foo.bar": 1, "conf": {"spark.x": "y"}})
    assert conf == {"spark.executor.memory": "2g", "spark.foo.bar": "1", "spark.x": "y"}
    with pytest.raises(ConfigError, match="distributor_args.executor_memroy"):
        spark_conf({"executor_memroy": "2g"})


def test_spark_local_session_matches_multiprocessing(engine_input: Path, reference_output: dict[str, Any], tmp_path: Path) -> None:
    """An active local[2] session is used (and left running); retries and the visibility check are real."""
    from curation.config import build_config
    from curation.plan import make_plan
    from curation.runner import run
    from distributors.pyspark import PySparkDistributor
    from tests.support.spark import local_session

    with local_session(cores=2) as spark:
        tracker = spark.sparkContext.statusTracker()
        jobs_before = len(tracker.getJobIdsForGroup(None))
        summary = run(base_config(engine_input, tmp_path / "out", distributor="pyspark", subjob_size=2), quiet=True)
        assert summary.shards_done == 3
        assert output_fingerprint(tmp_path / "out") == reference_output
        assert not spark.sparkContext._jsc.sc().isStopped(), "the user's session must not be stopped"
        # the visibility check, then 3 shards in batches of subjob_size 2: two Spark jobs
        assert len(tracker.getJobIdsForGroup(None)) - jobs_before == 1 + 2
        # the same run again: every shard is finished, nothing is submitted or rewritten
        written = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out").iterdir() if p.is_file()}
        jobs_before = len(tracker.getJobIdsForGroup(None))
        again = run(base_config(engine_input, tmp_path / "out", distributor="pyspark", subjob_size=2), quiet=True)
        assert again.shards_done == 3 and len(tracker.getJobIdsForGroup(None)) == jobs_before
        assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out").iterdir() if p.is_file()} == written

        # a shard whose output cannot be put in place fails on every attempt: retried, then reported.
        broken = break_shard(tmp_path / "broken", "00001")
        config = build_config(base_config(engine_input, broken, distributor="pyspark"), max_shard_retry=1)
        plan = make_plan(config)
        seen: list[Any] = []
        outcomes = PySparkDistributor(config).run(plan.shard_ids, seen.append)
        assert [(o.shard_id, o.ok, o.attempts) for o in outcomes] == [(0, True, 1), (1, False, 2), (2, True, 1)]
        assert "symbolic link" in (outcomes[1].error or "")
        assert len(seen) == 4  # every attempt is reported as it ends
        assert sorted(p.name for p in broken.glob("*_stats.json")) == ["00000_stats.json", "00002_stats.json"]

        # executors that cannot see the plan: one clear line, before any shard runs
        unseen = build_config(base_config(engine_input, tmp_path / "never-planned", distributor="pyspark"))
        with pytest.raises(UserError, match="cannot see .*never-planned/_plan/manifest.json.*same path"):
            PySparkDistributor(unseen).check_visible(spark.sparkContext)


def test_spark_standalone_cluster_matches_multiprocessing(
    engine_input: Path, reference_output: dict[str, Any], tmp_path: Path, spark_standalone: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No active session: the distributor builds one for spark://127.0.0.1:P from distributor_args and stops it.
    The output folder is relative: executors run elsewhere (the worker's app dir) and must still write here."""
    from pyspark.sql import SparkSession

    from curation.runner import run
    from tests.support.spark import session_conf

    assert SparkSession.getActiveSession() is None
    args = session_conf(spark_standalone.master_url)
    monkeypatch.chdir(tmp_path)
    summary = run(base_config(engine_input, Path("out"), distributor="pyspark", subjob_size=2, distributor_args=args), quiet=True)
    assert summary.shards_done == 3
    assert output_fingerprint(tmp_path / "out") == reference_output
    assert list((spark_standalone.root / "work").glob("app-*")), "the job did not run on the standalone worker"
    assert not list((spark_standalone.root / "work").rglob("*_stats.json")), "an executor wrote into its own cwd"
    assert SparkSession.getActiveSession() is None, "a session the distributor made must be stopped"


def test_spark_executors_publish_into_a_remote_output_folder(
    engine_input: Path, reference_output: dict[str, Any], tmp_path: Path, s3_endpoint: str,
) -> None:
    """With an s3:// output the executors publish each shard themselves (no shared mount is checked);
    the bucket then holds the same dataset as a local multiprocessing run, byte for byte."""
    from curation.runner import run
    from tests.support.s3 import BUCKET, S3_ENV, s3
    from tests.support.spark import local_session

    config = base_config(engine_input, tmp_path / "unused", distributor="pyspark", subjob_size=2)
    config.update(output_folder=f"s3://{BUCKET}/spark", staging_folder=str(tmp_path / "staging"))
    with local_session(cores=2, executor_env={**S3_ENV, "AWS_ENDPOINT_URL": s3_endpoint}) as spark:
        tracker = spark.sparkContext.statusTracker()
        jobs_before = len(tracker.getJobIdsForGroup(None))
        summary = run(config, quiet=True)
        assert (summary.shards_done, summary.output_folder) == (3, f"s3://{BUCKET}/spark")
        assert len(tracker.getJobIdsForGroup(None)) - jobs_before == 2  # no visibility job, two batches
    downloaded = tmp_path / "downloaded"
    downloaded.mkdir()
    fs = s3()
    for path in fs.glob(f"{BUCKET}/spark/*"):
        if fs.isfile(path):
            fs.get_file(path, str(downloaded / Path(path).name))
    assert output_fingerprint(downloaded) == reference_output
    assert not list((tmp_path / "staging").glob("*.tar")), "published shards leave only their stats in staging"
