"""Engines that run ``process_shard`` over shard ids: multiprocessing, pyspark, slurm."""

from __future__ import annotations

from distributors.base import Distributor, ShardOutcome


def get_distributor(name: str) -> type[Distributor]:
    """Import only the engine asked for (pyspark is heavy)."""
    if name == "multiprocessing":
        from distributors.multiprocessing import MultiprocessingDistributor

        return MultiprocessingDistributor
    if name == "pyspark":
        from distributors.pyspark import PySparkDistributor

        return PySparkDistributor
    if name in ("slurm", "slurm_worker"):
        from distributors import slurm

        return slurm.SlurmDistributor if name == "slurm" else slurm.SlurmWorkerDistributor
    raise ValueError(f"unknown distributor {name!r}")


__all__ = ["Distributor", "ShardOutcome", "get_distributor"]
