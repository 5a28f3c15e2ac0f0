"""A real single-node Slurm cluster for tests: munged + slurmctld + slurmd, all state in a temp dir.

Bound to 127.0.0.1 (see ../shared/docs/real-components.md); started once per session and stopped by
PID. ``SLURM_CONF`` is exported while it runs so sbatch/squeue/scancel/srun find it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(args: list[str], env: dict[str, str] | None = None, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env, check=False)


@dataclass
class SlurmCluster:
    root: Path
    conf: Path
    pids: dict[str, int] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "SLURM_CONF": str(self.conf)}

    def squeue(self) -> str:
        return _run(["squeue", "-h", "-o", "%i %T"], self.env).stdout.strip()

    def squeue_all(self) -> str:
        """Ended jobs too (slurmctld keeps them MinJobAge seconds)."""
        return _run(["squeue", "-h", "-t", "all", "-o", "%i %T"], self.env).stdout.strip()


def _write_conf(root: Path, socket_path: Path) -> Path:
    memory_mb = 4096
    spool = root / "spool"
    state = root / "state"
    for path in (spool, state, root / "log"):
        path.mkdir(parents=True, exist_ok=True)
    ctld_port, slurmd_port = free_port(), free_port()
    conf = root / "slurm.conf"
    conf.write_text(f"""\
ClusterName=curatetest
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
CommunicationParameters=NoCtldInAddrAny,NoInAddrAny
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={socket_path}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0,sched_interval=2
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc={root / 'log' / 'jobcomp.txt'}
StateSaveLocation={state}
SlurmdSpoolDir={spool}
SlurmctldPidFile={root / 'slurmctld.pid'}
SlurmdPidFile={root / 'slurmd.pid'}
SlurmctldLogFile={root / 'log' / 'slurmctld.log'}
SlurmdLogFile={root / 'log' / 'slurmd.log'}
MinJobAge=600
KillWait=5
ReturnToService=2
MpiDefault=none
NodeName=localhost NodeAddr=127.0.0.1 NodeHostname=localhost CPUs=2 RealMemory={memory_mb} State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
""", encoding="utf-8")
    return conf


def _wait_pidfile(path: Path, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError):
            return int(path.read_text().strip())
        time.sleep(0.05)
    raise RuntimeError(f"{path} not written within {timeout} s")


def start_cluster() -> SlurmCluster:
    """Start munged, slurmctld and slurmd; return once the node is idle."""
    for tool in (*DAEMONS, "sbatch", "sinfo"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} not installed: apt-get install slurmctld slurmd slurm-client munge")
    # munge: every directory above the socket must be o+x and the path short, so not pytest's tmp dirs
    root = Path(tempfile.mkdtemp(prefix="slurm.", dir="/tmp"))
    root.chmod(0o755)
    key = root / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    socket_path = root / "munge.sock"
    cluster = SlurmCluster(root, _write_conf(root, socket_path))
    try:
        done = _run(["munged", f"--socket={socket_path}", f"--key-file={key}", f"--pid-file={root / 'munged.pid'}",
                     f"--log-file={root / 'munged.log'}", f"--seed-file={root / 'munged.seed'}", "--force"])
        if done.returncode != 0:
            raise RuntimeError(f"munged failed: {done.stderr.strip()}")
        cluster.pids["munged"] = _wait_pidfile(root / "munged.pid", 10)
        env = cluster.env
        for name, args in (("slurmctld", ["slurmctld", "-f", str(cluster.conf)]),
                           ("slurmd", ["slurmd", "-f", str(cluster.conf), "-N", "localhost"])):
            done = _run(args, env)
            if done.returncode != 0:
                raise RuntimeError(f"{name} failed: {done.stderr.strip()}")
            cluster.pids[name] = _wait_pidfile(root / f"{name}.pid", 10)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            state = _run(["sinfo", "-h", "-o", "%T"], env).stdout.strip()
            if state == "idle":
                return cluster
            time.sleep(0.2)
        raise RuntimeError(f"slurm node not idle after 30 s (state {state!r}); logs in {root / 'log'}")
    except BaseException:
        stop_cluster(cluster)
        raise


def stop_cluster(cluster: SlurmCluster) -> None:
    """Cancel what is left, stop the daemons by PID (slurmd, slurmctld, munged), remove the temp dir."""
    if "slurmctld" in cluster.pids:
        with contextlib.suppress(Exception):
            _run(["scancel", "--user", "root"], cluster.env, timeout=10)
    for names in (("slurmd", "slurmctld"), ("munged",)):  # the Slurm daemons together, munge last
        pids = [cluster.pids[n] for n in names if n in cluster.pids]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        for pid in pids:
            _wait_gone(pid, 15)

    shutil.rmtree(cluster.root, ignore_errors=True)


def _wait_gone(pid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def slurm_cluster() -> Iterator[SlurmCluster]:
    """Running cluster with SLURM_CONF exported for the duration."""
    cluster = start_cluster()
    previous = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(cluster.conf)
    try:
        yield cluster
    finally:
        if previous is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = previous
        stop_cluster(cluster)
