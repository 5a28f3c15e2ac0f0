"""PySpark: one Spark task per shard, in batches of ``subjob_size``; our retries on top of Spark's.

Uses the active SparkSession if there is one (a notebook, ``spark-submit``), else builds one from
``distributor_args`` (``master``, ``app_name``, ``executor_memory``, ..., ``conf`` or any
``spark.*`` key) and stops it at the end. Executors run the same ``process_shard`` and read the plan
from the output folder, so that folder must be on storage every executor sees: checked first.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

from curation.config import Config
from curation.errors import ConfigError, UserError
from curation.manifest import MANIFEST, PLAN_DIR
from distributors.base import Distributor, OnOutcome, ShardOutcome, absolute_paths, run_shard_safely

BUILDER_KEYS = {
    "master": None,
    "app_name": None,
    "executor_memory": "spark.executor.memory",
    "executor_cores": "spark.executor.cores",
    "driver_memory": "spark.driver.memory",
    "cores_max": "spark.cores.max",
}
OTHER_KEYS = {"conf", "check_visibility"}


def spark_conf(args: dict[str, Any]) -> dict[str, str]:
    """distributor_args → Spark conf entries; an unknown key is an error naming it."""
    conf: dict[str, str] = {}
    for key, value in args.items():
        if key.startswith("spark."):
            conf[key] = str(value)
        elif key in BUILDER_KEYS:
            if BUILDER_KEYS[key]:
                conf[BUILDER_KEYS[key]] = str(value)
        elif key == "conf":
            if not isinstance(value, dict):
                raise ConfigError("distribution.distributor_args.conf: expected a mapping of Spark settings")
            conf.update({str(k): str(v) for k, v in value.items()})
        elif key not in OTHER_KEYS:
            known = ", ".join(sorted({*BUILDER_KEYS, *OTHER_KEYS, "spark.*"}))
            raise ConfigError(f"distribution.distributor_args.{key}: unknown key for pyspark (known: {known})")
    return conf


def _visible(manifest: str) -> tuple[str, bool]:
    """Runs on an executor: can it see the plan the driver wrote?"""
    return socket.gethostname(), os.path.exists(manifest)


def _run_task(task: tuple[int, int], config: Config) -> ShardOutcome:
    shard_id, attempt = task
    return run_shard_safely(shard_id, config, attempt)


class PySparkDistributor(Distributor):
    def __init__(self, config: Config) -> None:
        super().__init__(absolute_paths(config))
        self.args = dict(config.distribution.distributor_args)
        self.conf = spark_conf(self.args)

    def session(self) -> tuple[Any, bool]:
        """(SparkSession, created here?) — an active session is used as is."""
        try:
            from pyspark.sql import SparkSession
        except ImportError:
            raise UserError("distributor pyspark needs pyspark: pip install 'curation[spark]'") from None
        active = SparkSession.getActiveSession()
        if active is not None:
            return active, False
        builder = SparkSession.builder.appName(str(self.args.get("app_name", "curate")))
        if self.args.get("master"):
            builder = builder.master(str(self.args["master"]))
        for key, value in self.conf.items():
            builder = builder.config(key, value)
        return builder.getOrCreate(), True

    def check_visible(self, sc: Any) -> None:
        """One tiny task per default slot: a one-line error if an executor cannot see the plan."""
        manifest = str((Path(self.config.output_folder) / PLAN_DIR / MANIFEST).resolve())
        slots = max(1, int(sc.defaultParallelism))
        seen = sc.parallelize(range(slots), slots).map(lambda _: _visible(manifest)).collect()
        blind = sorted({host for host, ok in seen if not ok})
        if blind:
            raise UserError(
                f"output_folder: executors on {', '.join(blind)} cannot see {manifest}; with Spark the output "
                "folder must be on storage every executor mounts at the same path (NFS, Lustre, ...)")

    def run(self, shard_ids: list[int], on_outcome: OnOutcome) -> list[ShardOutcome]:
        spark, created = self.session()
        sc = spark.sparkContext
        try:
            # a remote output folder carries the plan and the results: executors need no shared mount
            if self.args.get("check_visibility", True) and not self.config.publish_to:
                self.check_visible(sc)
            return self._run(sc, shard_ids, on_outcome)
        except KeyboardInterrupt:
            sc.cancelAllJobs()
            raise
        finally:
            if created:
                spark.stop()

    def _run(self, sc: Any, shard_ids: list[int], on_outcome: OnOutcome) -> list[ShardOutcome]:
        config = self.config
        batch = self.config.distribution.subjob_size
        final: dict[int, ShardOutcome] = {}
        todo = list(shard_ids)
        for attempt in range(1, self.config.max_shard_retry + 2):
            failed: list[int] = []
            for start in range(0, len(todo), batch):
                tasks = [(s, attempt) for s in todo[start : start + batch]]
                sc.setJobDescription(f"curate shards {tasks[0][0]}..{tasks[-1][0]} (attempt {attempt})")
                outcomes = sc.parallelize(tasks, len(tasks)).map(lambda t: _run_task(t, config)).collect()
                for outcome in outcomes:
                    final[outcome.shard_id] = outcome
                    on_outcome(outcome)
                    if not outcome.ok:
                        failed.append(outcome.shard_id)
            todo = sorted(failed)
            if not todo:
                break
        return [final[s] for s in shard_ids if s in final]
