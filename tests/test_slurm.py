"""A real single-node Slurm cluster runs the reference input as a job array and as srun tasks, with
the same result as multiprocessing; scancel + resubmit redoes nothing finished; a failing array
element is reported with its log; the sbatch script carries only what was asked for."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO
from tests.support.engines import base_config, break_shard, output_fingerprint

pytest_plugins = ["tests.conftest_engines"]
pytestmark = pytest.mark.slurm

FAST = {"poll_interval": 0.3, "shards_per_element": 1, "cpus_per_task": 1, "settle_time": 2}


def test_share_is_a_partition() -> None:
    from distributors.slurm import share

    ids = [0, 1, 2, 3, 5, 8, 13, 21, 34]
    parts = [share(ids, rank, 4) for rank in range(4)]
    assert sorted(s for part in parts for s in part) == ids
    assert parts[1] == [1, 5, 13, 21]
    # a task that starts late, when some shards are done, still takes only its own
    assert share([3, 5, 8], 1, 4) == [5]


def test_temp_names_are_unique_per_host_and_still_cleaned_up(tmp_path: Path) -> None:
    """Two tasks on different nodes may have the same pid: the temp name carries the host (and the
    Slurm ids) too, and stays what resume, overwrite and a restarted element recognise and remove."""
    from curation.fsutil import process_token, temp_name
    from curation.run_state import _TEMP
    from curation.runner import _OUR_ENTRY
    from distributors.slurm import remove_shard_temps

    assert process_token("node1", 4242) != process_token("node2", 4242)
    assert process_token("node1", 4242).startswith("4242") and process_token("node1", 4242).isdigit()
    mine, other = temp_name(tmp_path / "00001.tar"), temp_name(tmp_path / "00002_stats.json")
    assert str(os.getpid()) in mine.name and _TEMP.match(mine.name) and _OUR_ENTRY.match(mine.name)
    mine.write_bytes(b"partial")
    other.write_bytes(b"{")
    remove_shard_temps(tmp_path, ["00001"])
    assert not mine.exists() and other.exists()


def test_array_task_ids_as_squeue_prints_them() -> None:
    from distributors.slurm import array_task_ids

    assert array_task_ids("3") == [3]
    assert array_task_ids("[0-4%2]") == [0, 1, 2, 3, 4]
    assert array_task_ids("[1,3-5]") == [1, 3, 4, 5]
    assert array_task_ids("") == []


def test_sbatch_script_writes_only_given_options(tmp_path: Path) -> None:
    from curation.errors import ConfigError
    from distributors.slurm_script import check_args, render

    bare = render(tmp_path, 3, {}, "out")
    for absent in ("--account", "--partition", "--time", "--mem", "--cpus-per-task", "None", "%"):
        assert absent not in bare.replace("element-%a", "")
    assert "#SBATCH --array=0-2\n" in bare
    assert f"#SBATCH --output={tmp_path}/logs/element-%a.log" in bare
    assert "#SBATCH --requeue" in bare and "#SBATCH --signal=B:USR1@120" in bare
    assert f"{sys.executable} -m distributors.slurm_task {tmp_path}" in bare
    full = render(tmp_path, 5, {"partition": "gpu", "account": "lab", "time": "02:00:00", "mem": "8G", "max_parallel": 2,
                                "ntasks": 2, "extra_sbatch": ["--exclusive", "#SBATCH --qos=low"]}, "out")
    for line in ("--array=0-4%2", "--partition=gpu", "--account=lab", "--time=02:00:00", "--mem=8G", "--ntasks=2",
                 "#SBATCH --exclusive", "#SBATCH --qos=low"):
        assert line in full
    assert "srun " in full and "--split-by-procid" in full
    with pytest.raises(ConfigError, match="distributor_args.partiton"):
        check_args({"partiton": "gpu"})


def test_slurm_array_matches_multiprocessing(
    slurm: Any, engine_input: Path, reference_output: dict[str, Any], tmp_path: Path, wandb_offline: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """Also: the driver's progress comes from the elements' stats files; with enable_wandb the driver
    logs one run (elements never do), with the stats' totals."""
    from curation.runner import run
    from tests.support.wandb_reader import find_run_file, wait_for_exit

    out = tmp_path / "out"
    config = base_config(engine_input, out, distributor="slurm", distributor_args=dict(FAST, max_parallel=2))
    summary = run(dict(config, enable_wandb=True), quiet=True)
    assert summary.shards_done == 3
    assert output_fingerprint(out) == reference_output
    progress = capfd.readouterr().err
    assert "curate: 0/3 shards already done, 3 to run" in progress
    assert "3/3 shards (100.0%), 6 samples" in progress and "0 failed samples" in progress
    submit = out / "_slurm" / "submit-001"
    assert json.loads((submit / "shards.json").read_text()) == {"groups": [[0], [1], [2]]}
    assert "#SBATCH --array=0-2%2" in (submit / "array.sbatch").read_text()
    for element in range(3):
        assert f"element {element}: shards [{element}]" in (submit / "logs" / f"element-{element}.log").read_text()
    assert slurm.squeue() == ""
    logged = wait_for_exit(find_run_file(wandb_offline))  # exactly one run
    assert logged.config["distribution"]["distributor"] == "slurm"
    assert logged.summary["total/count"] == 6 and logged.summary["total/successes"] == 6
    assert [r["shard"] for r in logged.history if "shard" in r] == ["00000", "00001", "00002"]


def test_array_element_with_two_srun_tasks_splits_its_group(
    slurm: Any, engine_input: Path, reference_output: dict[str, Any], tmp_path: Path,
) -> None:
    """ntasks > 1: the element starts its tasks with srun and they split its group by SLURM_PROCID."""
    from curation.runner import run

    out = tmp_path / "out"
    args = dict(FAST, shards_per_element=3, ntasks=2)
    summary = run(base_config(engine_input, out, distributor="slurm", distributor_args=args), quiet=True)
    assert summary.shards_done == 3
    assert output_fingerprint(out) == reference_output
    log = (out / "_slurm" / "submit-001" / "logs" / "element-0.log").read_text()
    assert "element 0: shards [0, 2]" in log and "element 0: shards [1]" in log
    assert all(json.loads(p.read_text())["attempt"] == 1 for p in out.glob("*_stats.json"))


def test_srun_worker_tasks_split_the_shards(slurm: Any, engine_input: Path, reference_output: dict[str, Any], tmp_path: Path) -> None:
    """`srun -n 2 curate run ...` (worker mode detected from the step): each shard done once, by its owner."""
    out = tmp_path / "out"
    command = ["srun", "-n", "2", "--cpus-per-task=1", sys.executable, "-m", "curation", "run",
               "--url_list", str(engine_input), "--output_folder", str(out), "--output_format", "webdataset",
               "--number_sample_per_shard", "2", "--processes_count", "1", "--quiet"]  # slurm_worker auto-detected
    done = subprocess.run(command, capture_output=True, text=True, timeout=180, env=slurm.env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert output_fingerprint(out) == reference_output
    assert "2 srun tasks: each runs its share of the shards (distributor slurm_worker)" in done.stderr
    assert "slurm task 0/2: 2 of 3 pending shard(s) are mine" in done.stderr
    # task 1 counts what is pending when it starts: task 0 (which planned first) may already have finished some
    assert re.search(r"slurm task 1/2: 1 of [123] pending shard\(s\) are mine", done.stderr)
    assert "slurm task 1/2: using the plan written by task 0" in done.stderr, "only task 0 reads the input"
    assert "slurm task 0/2: using the plan" not in done.stderr
    assert all(json.loads(p.read_text())["attempt"] == 1 for p in out.glob("*_stats.json"))


def test_users_own_job_array_in_worker_mode_splits_the_shards(
    slurm: Any, engine_input: Path, reference_output: dict[str, Any], tmp_path: Path,
) -> None:
    """`sbatch --array=0-1` of a script running `curate run --distributor slurm_worker`: ranks from
    SLURM_ARRAY_TASK_ID, each shard done once, only element 0 plans."""
    out = tmp_path / "out"
    logs = tmp_path / "logs"
    logs.mkdir()
    script = tmp_path / "mine.sbatch"
    command = [sys.executable, "-m", "curation", "run", "--url_list", str(engine_input), "--output_folder", str(out),
               "--output_format", "webdataset", "--number_sample_per_shard", "2", "--processes_count", "1",
               "--distributor", "slurm_worker", "--quiet"]
    script.write_text("#!/bin/bash\n#SBATCH --cpus-per-task=1\n"
                      f"export PYTHONPATH={REPO}\ncd {tmp_path}\nexec {' '.join(command)}\n")
    submitted = subprocess.run(["sbatch", "--parsable", "--array=0-1", "-o", str(logs / "e-%a.log"), str(script)],
                               capture_output=True, text=True, timeout=60, env=slurm.env)
    assert submitted.returncode == 0, submitted.stderr
    job = submitted.stdout.strip().split(";")[0]
    deadline = time.monotonic() + 180
    while job in slurm.squeue() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert job not in slurm.squeue(), "the array did not finish"
    element = {i: (logs / f"e-{i}.log").read_text() for i in (0, 1)}
    # shard 1 is element 1's whether element 0 has finished its shards 0 and 2 by then or not
    assert "slurm task 0/2: 2 of 3 pending shard(s) are mine" in element[0], element[0]
    assert re.search(r"slurm task 1/2: 1 of [13] pending shard\(s\) are mine", element[1]), element[1]
    assert "slurm task 1/2: using the plan written by task 0" in element[1]
    assert output_fingerprint(out) == reference_output
    assert all(json.loads(p.read_text())["attempt"] == 1 for p in out.glob("*_stats.json"))


def test_srun_tasks_other_than_0_wait_for_its_plan_or_its_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from curation.config import build_config
    from curation.errors import UserError
    from distributors.slurm import plan_for_task

    monkeypatch.setenv("SLURM_JOB_ID", "77")
    monkeypatch.setenv("SLURM_STEP_ID", "0")
    out = tmp_path / "out"

    def never(_config: object) -> None:
        raise AssertionError("only task 0 plans")

    task1 = build_config(None, url_list="in.csv", output_folder=str(out),
                         **{"distribution.distributor_args": {"rank": 1, "ntasks": 2, "plan_wait": 0.3}})
    with pytest.raises(UserError, match=r"slurm task 1/2: no plan from task 0 after 0 s"):
        plan_for_task(task1, never)

    task0 = build_config(None, url_list=str(tmp_path / "missing.csv"), output_folder=str(out),
                         **{"distribution.distributor_args": {"rank": 0, "ntasks": 2}})

    def failing(_config: object) -> None:
        raise UserError("url_list: missing.csv does not exist")

    with pytest.raises(UserError, match="missing.csv does not exist"):
        plan_for_task(task0, failing)
    with pytest.raises(UserError, match="slurm task 1/2: task 0 could not plan: url_list: missing.csv does not exist"):
        plan_for_task(task1, never)


class GatedServer:
    """Serves files from a folder, holding every response until ``release()``: a shard that cannot
    finish before the test decides so."""

    def __init__(self, root: Path) -> None:
        self.gate = threading.Event()
        gate = self.gate

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                gate.wait(120)
                body = (root / self.path.lstrip("/")).read_bytes()
                with contextlib.suppress(OSError):
                    self.send_response(200)
                    self.send_header("Content-Type", "video/mp4")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/{name}"

    def release(self) -> None:
        self.gate.set()

    def close(self) -> None:
        self.gate.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def gated(engine_input: Path) -> Iterator[GatedServer]:
    server = GatedServer(engine_input.parent / "media")
    try:
        yield server
    finally:
        server.close()


def _wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_ctrl_c_cancels_and_resubmit_skips_finished_shards(slurm: Any, engine_input: Path, gated: GatedServer, tmp_path: Path) -> None:
    """Shard 1 waits on the server; Ctrl-C on the driver scancels the job and exits non-zero; a new
    submission runs only shard 1, shards 0 and 2 keep their files untouched, and the output is complete."""
    from curation.runner import run

    media = sorted((engine_input.parent / "media").glob("*.mp4"))
    urls = [str(media[0]), str(media[1]), gated.url(media[2].name), str(media[3]), str(media[4]), str(media[5])]
    table = tmp_path / "mixed.csv"
    table.write_text("url\n" + "".join(f"{u}\n" for u in urls), encoding="utf-8")
    out = tmp_path / "out"
    config = base_config(table, out, distributor="slurm", distributor_args=FAST)
    config_file = tmp_path / "config.yaml"
    config_file.write_text(yaml.safe_dump(config), encoding="utf-8")
    driver = subprocess.Popen([sys.executable, "-m", "curation", "run", "--config", str(config_file), "--url_list", str(table), "--quiet"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=slurm.env)
    try:
        _wait_for(lambda: (out / "00000_stats.json").exists() and (out / "00002_stats.json").exists(), 90, "shards 0 and 2")
        assert not (out / "00001_stats.json").exists()
        driver.send_signal(signal.SIGINT)
        _, stderr = driver.communicate(timeout=90)
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait(timeout=30)
    assert driver.returncode == 130, stderr[-2000:]
    assert "cancelling slurm job" in stderr and "(scancel)" in stderr
    assert slurm.squeue() == "", "scancel left the job in the queue"
    assert not (out / "00001_stats.json").exists()
    before = {name: ((out / name).stat().st_mtime_ns, json.loads((out / name).read_text())["start_time"])
              for name in ("00000_stats.json", "00002_stats.json")}
    tars = {name: (out / name).stat().st_mtime_ns for name in ("00000.tar", "00002.tar")}

    gated.release()
    summary = run(config, quiet=True)
    assert summary.shards_done == 3 and summary.totals["successes"] == 6
    assert json.loads((out / "_slurm" / "submit-002" / "shards.json").read_text()) == {"groups": [[1]]}
    after = {name: ((out / name).stat().st_mtime_ns, json.loads((out / name).read_text())["start_time"]) for name in before}
    assert after == before
    assert {name: (out / name).stat().st_mtime_ns for name in tars} == tars


def test_scancel_from_outside_then_resubmit_skips_finished_shards(slurm: Any, engine_input: Path, gated: GatedServer, tmp_path: Path) -> None:
    """The job is killed with scancel while the driver watches: the driver reports the shard left
    undone with the cancelled element and its log, and exits non-zero; running again redoes only it."""
    from curation.runner import ShardsFailedError, run

    media = sorted((engine_input.parent / "media").glob("*.mp4"))
    urls = [str(media[0]), str(media[1]), gated.url(media[2].name), str(media[3]), str(media[4]), str(media[5])]
    table = tmp_path / "mixed.csv"
    table.write_text("url\n" + "".join(f"{u}\n" for u in urls), encoding="utf-8")
    out = tmp_path / "out"
    config = base_config(table, out, distributor="slurm", distributor_args=FAST)
    earlier = {line.split("_")[0] for line in slurm.squeue_all().splitlines()}
    result: dict[str, Any] = {}

    def drive() -> None:
        try:
            result["summary"] = run(config, quiet=True)
        except Exception as exc:  # surfaced by the assertions below
            result["error"] = exc

    driver = threading.Thread(target=drive, daemon=True)
    driver.start()
    _wait_for(lambda: (out / "00000_stats.json").exists() and (out / "00002_stats.json").exists(), 90, "shards 0 and 2")
    job = next(j for j in (line.split("_")[0] for line in slurm.squeue_all().splitlines()) if j not in earlier)
    cancel = subprocess.run(["scancel", job], capture_output=True, text=True, timeout=30, env=slurm.env)
    assert cancel.returncode == 0, cancel.stderr
    driver.join(90)
    assert not driver.is_alive()
    failure = result.get("error")
    assert isinstance(failure, ShardsFailedError), result
    log = out / "_slurm" / "submit-001" / "logs" / "element-1.log"
    assert f"array element 1 of job {job} (CANCELLED" in str(failure) and f"log: {log}" in str(failure)
    assert not (out / "00001_stats.json").exists()
    before = {name: (out / name).stat().st_mtime_ns for name in ("00000.tar", "00000_stats.json", "00002.tar", "00002_stats.json")}

    gated.release()
    summary = run(config, quiet=True)
    assert summary.shards_done == 3 and summary.totals["successes"] == 6
    assert json.loads((out / "_slurm" / "submit-002" / "shards.json").read_text()) == {"groups": [[1]]}
    assert {name: (out / name).stat().st_mtime_ns for name in before} == before


def test_failing_array_element_is_reported_with_its_log(slurm: Any, engine_input: Path, tmp_path: Path) -> None:
    from curation.runner import ShardsFailedError, run

    out = break_shard(tmp_path / "out", "00001")
    with pytest.raises(ShardsFailedError) as failure:
        run(base_config(engine_input, out, distributor="slurm", distributor_args=FAST), quiet=True)
    log = out / "_slurm" / "submit-001" / "logs" / "element-1.log"
    message = str(failure.value)
    assert "array element 1 of job" in message and f"log: {log}" in message
    assert "shard 00001" in message and "symbolic link" in message
    assert "Cannot call rmtree on a symbolic link" in log.read_text()
    assert sorted(p.name for p in out.glob("*_stats.json")) == ["00000_stats.json", "00002_stats.json"]
    assert os.path.islink(out / "00001.tar")


def test_failed_element_requeued_by_hand_is_waited_for(
    slurm: Any, engine_input: Path, reference_output: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """An element that ended FAILED is not final while it can still come back: requeued by hand
    (`scontrol requeue`, as Slurm does itself after a node failure or preemption) it goes back to
    PENDING, and the driver waits for it instead of reporting its shard failed; the rerun's output
    is the reference."""
    from curation.runner import run

    out = break_shard(tmp_path / "out", "00001")
    config = base_config(engine_input, out, distributor="slurm", distributor_args=dict(FAST, settle_time=30))
    result: dict[str, Any] = {}

    def drive() -> None:
        try:
            result["summary"] = run(config, quiet=True)
        except Exception as exc:  # surfaced by the assertions below
            result["error"] = exc

    def jobs() -> dict[str, str]:
        return dict(line.split() for line in slurm.squeue_all().splitlines())  # "7_1" -> "FAILED"

    earlier = {task.split("_")[0] for task in jobs()}  # the cluster is shared by the session's tests
    driver = threading.Thread(target=drive, daemon=True)
    driver.start()
    _wait_for(lambda: any(t.endswith("_1") and t.split("_")[0] not in earlier and s == "FAILED" for t, s in jobs().items()),
              90, "element 1 to fail")
    job = next(t.split("_")[0] for t in jobs() if t.split("_")[0] not in earlier)
    _wait_for(lambda: [jobs().get(f"{job}_{i}") for i in range(3)] == ["COMPLETED", "FAILED", "COMPLETED"], 90,
              "every element to end")
    time.sleep(1.5)  # the whole array looks ended for many polls: a driver without settle_time gives up here
    (out / "00001.tar").unlink()  # what broke the shard is mended
    requeue = subprocess.run(["scontrol", "requeue", f"{job}_1"], capture_output=True, text=True, timeout=30, env=slurm.env)
    assert requeue.returncode == 0, requeue.stderr
    _start_requeued_now(slurm, f"{job}_1")
    driver.join(120)
    assert not driver.is_alive() and "error" not in result, result
    assert result["summary"].shards_done == 3
    assert output_fingerprint(out) == reference_output
    assert f"array element 1 of job {job} requeued (FAILED -> PENDING)" in capsys.readouterr().err
    log = (out / "_slurm" / "submit-001" / "logs" / "element-1.log").read_text()
    assert "symbolic link" in log and "(restart 1)" in log


def test_timeout_cancels_the_job_and_fails(slurm: Any, gated: GatedServer, engine_input: Path, tmp_path: Path) -> None:
    from curation.runner import ShardsFailedError, run

    table = tmp_path / "one.csv"
    table.write_text(f"url\n{gated.url('clip0.mp4')}\n", encoding="utf-8")
    out = tmp_path / "out"
    started = time.monotonic()
    with pytest.raises(ShardsFailedError, match=r"timed out after 3 s\) did not finish shard 00000; log: .*element-0.log"):
        run(base_config(table, out, distributor="slurm", distributor_args=dict(FAST, timeout=3)), quiet=True)
    assert time.monotonic() - started < 60
    assert slurm.squeue() == ""
    assert not (out / "00000_stats.json").exists()


def _start_requeued_now(slurm: Any, task: str) -> None:
    """Make a requeued array task eligible at once instead of after Slurm's requeue delay.

    Slurm delays a requeued job (BeginTime = now + about 2 min) because slurmd refuses to launch a
    job whose credential it revoked when it killed the last run, comparing whole seconds: a restart
    in the same second as that kill fails at launch ("Job credential revoked", exit 1:0, FAILED),
    which is what made this test flaky. So wait past that second before starting it now."""
    time.sleep(1.2)
    subprocess.run(["scontrol", "update", f"JobId={task}", "StartTime=now"], capture_output=True, timeout=30,
                   env=slurm.env, check=True)


def test_near_time_limit_element_requeues_and_skips_its_finished_shard(
    slurm: Any, gated: GatedServer, engine_input: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """The USR1 that --signal sends near the time limit makes the element requeue itself; on restart
    it skips the shard it had finished and completes the other; the driver waits through the requeue."""
    from curation.runner import run

    media = sorted((engine_input.parent / "media").glob("*.mp4"))
    table = tmp_path / "two.csv"
    table.write_text(f"url\n{media[0]}\n{media[1]}\n{media[2]}\n{gated.url(media[3].name)}\n", encoding="utf-8")
    out = tmp_path / "out"
    config = base_config(table, out, distributor="slurm", distributor_args=dict(FAST, shards_per_element=2))
    result: dict[str, Any] = {}

    def drive() -> None:
        try:
            result["summary"] = run(config, quiet=True)
        except Exception as exc:  # surfaced by the assertions below
            result["error"] = exc

    driver = threading.Thread(target=drive, daemon=True)
    driver.start()
    _wait_for(lambda: (out / "00000_stats.json").exists() and "RUNNING" in slurm.squeue(), 90, "shard 0 finished")
    job = slurm.squeue().split()[0]
    finished = (out / "00000_stats.json").stat().st_mtime_ns
    signal_done = subprocess.run(["scancel", "--batch", "--signal=USR1", job], capture_output=True, text=True, timeout=30, env=slurm.env)
    assert signal_done.returncode == 0, signal_done.stderr
    log = out / "_slurm" / "submit-001" / "logs" / "element-0.log"
    _wait_for(lambda: "PENDING" in slurm.squeue(), 30, "the element to be requeued")
    _start_requeued_now(slurm, job)
    gated.release()
    driver.join(120)
    assert not driver.is_alive() and "error" not in result, result
    assert result["summary"].shards_done == 2
    assert f"array element 0 of job {job.split('_')[0]} requeued (" in capsys.readouterr().err
    text = log.read_text()
    assert "time limit near, requeueing element 0" in text and "(restart 1)" in text
    assert "shards [0] already finished, skipped" in text
    assert (out / "00000_stats.json").stat().st_mtime_ns == finished


def test_worker_mode_detection_and_ranks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only an srun step with several tasks switches; the batch script (SLURM_NTASKS=N, no step) is one task."""
    from curation.config import build_config
    from distributors.slurm import detect_worker_mode, task_rank

    for name in ("SLURM_STEP_NUM_TASKS", "SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SLURM_NTASKS", "4")
    monkeypatch.setenv("SLURM_PROCID", "0")
    config = build_config({"output_folder": "out"})
    assert detect_worker_mode(config).distribution.distributor == "multiprocessing"
    assert task_rank(config) == (0, 1)
    monkeypatch.setenv("SLURM_STEP_NUM_TASKS", "4")
    monkeypatch.setenv("SLURM_PROCID", "3")
    assert detect_worker_mode(config).distribution.distributor == "slurm_worker"
    assert detect_worker_mode(build_config({"distribution": {"distributor": "pyspark"}})).distribution.distributor == "pyspark"
    assert task_rank(config) == (3, 4)
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "6")
    monkeypatch.setenv("SLURM_ARRAY_TASK_MIN", "5")
    monkeypatch.setenv("SLURM_ARRAY_TASK_COUNT", "3")
    assert task_rank(config) == (7, 12)  # element 1 of 3, task 3 of 4


def test_worker_mode_refuses_overwrite(engine_input: Path, tmp_path: Path) -> None:
    from curation.errors import UserError
    from curation.runner import run

    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "00000_stats.json").write_text("{}")
    config = base_config(engine_input, tmp_path / "out", distributor="slurm_worker")
    with pytest.raises(UserError, match="overwrite cannot be used with distributor slurm_worker"):
        run(dict(config, incremental_mode="overwrite"), quiet=True)
    assert (tmp_path / "out" / "00000_stats.json").exists()
