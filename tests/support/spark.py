"""Real Spark for tests: a local[2] session and a standalone master + worker, all on 127.0.0.1.

JVM start is the cost, so the options from ../shared/docs/real-components.md (C1 JIT, serial GC,
no UI) go into every session, and the cluster is started once per test session and stopped by PID.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.slurm import free_port

JVM_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xss4m"
JAVA_HOME = "/usr/lib/jvm/java-17-openjdk-amd64"


def spark_env() -> None:
    """Loopback only, and the venv's interpreter (not a resolved symlink: that escapes the venv)."""
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    if "JAVA_HOME" not in os.environ and Path(JAVA_HOME).is_dir():
        os.environ["JAVA_HOME"] = JAVA_HOME


def session_conf(master: str) -> dict[str, Any]:
    """What a test passes as ``distributor_args`` so the distributor builds a fast, loopback session."""
    return {
        "master": master,
        "app_name": "curate-test",
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.ui.enabled": "false",
        "spark.driver.extraJavaOptions": JVM_OPTIONS,
        "spark.executor.extraJavaOptions": JVM_OPTIONS,
        "spark.sql.shuffle.partitions": "2",
        "spark.executor.memory": "512m",
        "spark.python.worker.reuse": "true",
    }


@contextlib.contextmanager
def local_session(cores: int = 2, executor_env: dict[str, str] | None = None) -> Iterator[Any]:
    """An active local[N] SparkSession (the distributor must use it, not make its own).

    ``executor_env``: variables for the Python workers (the JVM, started once per test process,
    keeps the environment it started with).
    """
    spark_env()
    from pyspark.sql import SparkSession

    builder = SparkSession.builder
    conf = session_conf(f"local[{cores}]")
    conf.update({f"spark.executorEnv.{name}": value for name, value in (executor_env or {}).items()})
    for key, value in conf.items():
        if key == "master":
            builder = builder.master(value)
        elif key == "app_name":
            builder = builder.appName(value)
        else:
            builder = builder.config(key, value)
    spark = builder.getOrCreate()
    try:
        yield spark
    finally:
        spark.stop()


@dataclass
class StandaloneCluster:
    master_url: str
    root: Path
    pids: dict[str, int]


def _spark_class() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent / "bin" / "spark-class"


def _wait_for_line(log: Path, text: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and text in log.read_text(errors="replace"):
            return
        if process.poll() is not None:
            raise RuntimeError(f"{log.name}: process exited ({process.returncode}): {log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.1)
    raise RuntimeError(f"{log.name}: no {text!r} within {timeout} s: {log.read_text(errors='replace')[-2000:]}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)


@contextlib.contextmanager
def standalone_cluster(cores: int = 2, memory: str = "1g") -> Iterator[StandaloneCluster]:
    """Master + one worker from the pip package's spark-class, on free loopback ports."""
    spark_env()
    import pyspark

    root = Path(tempfile.mkdtemp(prefix="spark-standalone."))
    env = {**os.environ, "SPARK_HOME": str(Path(pyspark.__file__).parent), "SPARK_LOCAL_IP": "127.0.0.1",
           "SPARK_WORKER_DIR": str(root / "work"), "SPARK_LOG_DIR": str(root / "logs"),
           "SPARK_DAEMON_JAVA_OPTS": f"{JVM_OPTIONS} -Dspark.master.rest.enabled=false"}
    port, ui = free_port(), free_port()
    master_url = f"spark://127.0.0.1:{port}"
    processes: list[subprocess.Popen[bytes]] = []
    try:
        master_log = root / "master.log"
        with open(master_log, "wb") as out:
            master = subprocess.Popen(
                [str(_spark_class()), "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                 "--port", str(port), "--webui-port", str(ui)],
                stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        processes.append(master)
        _wait_for_line(master_log, "I have been elected leader", master, 60)
        worker_log = root / "worker.log"
        with open(worker_log, "wb") as out:
            worker = subprocess.Popen(
                [str(_spark_class()), "org.apache.spark.deploy.worker.Worker", master_url, "--host", "127.0.0.1",
                 "--cores", str(cores), "--memory", memory, "--webui-port", str(free_port()),
                 "--work-dir", str(root / "work")],
                stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        processes.append(worker)
        _wait_for_line(worker_log, "Successfully registered with master", worker, 60)
        yield StandaloneCluster(master_url, root, {"master": master.pid, "worker": worker.pid})
    finally:
        for process in reversed(processes):
            _stop(process)
        import shutil

        shutil.rmtree(root, ignore_errors=True)
