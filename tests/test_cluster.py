"""Sweeps through Hydra's Ray and submitit launchers (docs/CLUSTER.md): the same rows as the basic
launcher, a killed Ray worker as a crashed row naming its node, resume, timed windows that never
overlap on one host, gathering from row files, per-host reports and bad launcher input. The Ray tests
start a local Ray instance (2 CPUs) through the launcher and the launcher shuts it down; nothing
asserts a timing."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness import analysis, cluster, report, results
from harness.config import ConfigError
from harness.envinfo import PROJECT_ROOT
from harness.machine import host_lock

TEST_CONF = Path(__file__).parent / "conf"
GRID = ("workload=tiny_bert,tiny_resnet", "batch=1,2")  # the 2x2 sweep
RAY = ("hydra/launcher=ray", "hydra.launcher.ray.init.num_cpus=2")
needs_ray = pytest.mark.skipif(cluster._missing(cluster.RAY_PACKAGES) is not None, reason="no cluster extra")
needs_submitit = pytest.mark.skipif(cluster._missing(cluster.SUBMITIT_PACKAGES) is not None, reason="no cluster extra")


def rows(directory: Path) -> pd.DataFrame:
    return pd.read_csv(directory / "results.csv")


def no_ray_left() -> bool:
    out = subprocess.run(["pgrep", "-f", "raylet|gcs_server"], capture_output=True, text=True).stdout
    mine = [pid for pid in out.split() if int(pid) != os.getpid()]
    return not mine


@pytest.fixture(scope="module")
def basic_sweep(cli_factory, tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """The 2x2 sweep through Hydra's basic launcher: what the other launchers must reproduce."""
    cwd = tmp_path_factory.mktemp("basic")
    run = cli_factory(cwd)("-m", *GRID, "hydra.sweep.dir=sweep")
    assert run.returncode == 0, run.stderr[-3000:]
    return rows(cwd / "sweep")


def assert_same_rows(basic: pd.DataFrame, other: pd.DataFrame) -> None:
    assert len(other) == len(basic) == 4
    assert set(other.columns) == set(basic.columns), set(other.columns) ^ set(basic.columns)
    key = ["workload", "batch_size"]
    a, b = basic.set_index(key).sort_index(), other.set_index(key).sort_index()
    assert a.index.equals(b.index)
    for column in ("status", "config_hash", "accuracy", "agreement", "n_eval_samples", "precision_effective"):
        assert a[column].tolist() == b[column].tolist(), column
    assert (b["hostname"] == socket.gethostname()).all()


def windows_never_overlap(frame: pd.DataFrame) -> bool:
    windows = frame.sort_values("measure_started_at")[["measure_started_at", "measure_ended_at"]].to_numpy()
    return all(windows[k][1] <= windows[k + 1][0] for k in range(len(windows) - 1))


class Background:
    """`python -m harness` in a thread (the cli fixture blocks), so a test can act while it runs."""

    def __init__(self, runner, *args: str, env: dict[str, str]) -> None:
        self.result = None
        self.thread = threading.Thread(target=lambda: setattr(self, "result", runner(*args, env=env)))
        self.thread.start()

    def join(self, timeout: float = 900):
        self.thread.join(timeout)
        assert self.result is not None, "the sweep did not finish"
        return self.result


def wait_for(paths: Callable[[], Iterable[Path]], n: int, timeout: float = 300) -> list[Path]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = sorted(paths())
        if len(found) >= n:
            return found
        time.sleep(0.2)
    raise AssertionError(f"waited {timeout} s for {n} files")


# -- the launchers ------------------------------------------------------------------------------------
@pytest.mark.slow  # minutes on a 2-core AVX2 machine: `make test-all` (make test stays nearer 20 min)
@needs_ray
def test_a_ray_sweep_gives_the_basic_launchers_rows_and_two_jobs_started_at_once_never_overlap(
    cli, tmp_path: Path, basic_sweep: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    lock = tmp_path / "host.lock"
    monkeypatch.setenv("HARNESS_HOST_LOCK", str(lock))
    env = {"HARNESS_HOST_LOCK": str(lock)}
    with host_lock("test"):  # held until the launcher has started two jobs at once: both must wait for it
        sweep = Background(cli, "-m", *GRID, *RAY, "hydra.launcher.ray.remote.num_cpus=1", "hydra.sweep.dir=ray",
                           env=env)  # fmt: skip
        started = wait_for(lambda: (tmp_path / "ray" / ".placement").glob("job*.json"), 2)
    run = sweep.join()
    assert run.returncode == 0, run.stderr[-3000:]
    frame = rows(tmp_path / "ray")
    assert_same_rows(basic_sweep, frame)
    first = [cluster.read_placement(p) for p in started[:2]]
    assert first[0]["pid"] != first[1]["pid"], "two Ray workers ran jobs at once"
    assert max(p["started"] for p in first) < frame["measure_started_at"].min(), "both started before any measured"
    assert windows_never_overlap(frame), "two timed windows shared the machine"
    assert no_ray_left(), "the launcher shuts down the Ray instance it started"


@needs_submitit
@pytest.mark.slow  # minutes of real sweeps: `make test-all` (make test stays near 20 min)
def test_a_submitit_local_sweep_gives_the_basic_launchers_rows(cli, tmp_path: Path, basic_sweep: pd.DataFrame) -> None:
    run = cli("-m", *GRID, "hydra/launcher=submitit_local", "hydra.sweep.dir=submitit")
    assert run.returncode == 0, run.stderr[-3000:]
    frame = rows(tmp_path / "submitit")
    assert_same_rows(basic_sweep, frame)
    assert windows_never_overlap(frame)
    assert list((tmp_path / "submitit" / ".submitit").iterdir()), "submitit ran the jobs"
    said = run.stdout + run.stderr  # the driver says where each job's progress goes and how it ended
    assert len(re.findall(r"\[\d/\d\] submitit job \S+: row ok", said)) == len(frame), said[-3000:]
    assert "its progress: " in said and ".submitit" in said


@needs_ray
@pytest.mark.slow  # minutes of real sweeps: `make test-all` (make test stays near 20 min)
def test_a_killed_ray_worker_is_a_crashed_row_naming_its_node_and_a_rerun_resumes(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lock = tmp_path / "host.lock"
    monkeypatch.setenv("HARNESS_HOST_LOCK", str(lock))
    args = ("-m", "workload=tiny_resnet", "batch=1,2,3", *RAY, "hydra.launcher.ray.remote.num_cpus=1",
            "hydra.sweep.dir=sweep")  # fmt: skip
    with host_lock("test"):  # the jobs wait inside their Ray workers: one is killed mid-job
        sweep = Background(cli, *args, env={"HARNESS_HOST_LOCK": str(lock)})
        victim = cluster.read_placement(wait_for(lambda: (tmp_path / "sweep" / ".placement").glob("job*.json"), 1)[0])
        os.kill(victim["pid"], signal.SIGKILL)
    run = sweep.join()
    assert run.returncode == 1, run.stderr[-3000:]
    frame = rows(tmp_path / "sweep")
    assert len(frame) == 3 and sorted(frame["status"]) == ["crashed", "ok", "ok"], frame[["status", "error"]]
    crashed = frame[frame["status"] == "crashed"].iloc[0]
    killed_batch = int(next(o for o in victim["overrides"] if o.startswith("batch=")).split("=")[1])
    assert crashed["batch_size"] == killed_batch
    assert "WorkerCrashedError" in crashed["error"] and f"pid {victim['pid']}" in crashed["error"]
    assert f"({socket.gethostname()})" in crashed["error"] and crashed["hostname"] == socket.gethostname()
    assert pd.isna(crashed["latency_ms_p50"]), "a crashed job carries no numbers"
    assert any("crashed" in line for line in run.harness_lines())

    again = cli(*args)  # resume: only the crashed job runs again, across the cluster
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stderr.count("skipped, an ok row") == 2
    after = rows(tmp_path / "sweep")
    assert len(after) == 4 and (after.loc[after["batch_size"] == killed_batch, "status"] == "ok").any()
    assert no_ray_left()


# -- results without shared locks -----------------------------------------------------------------------
KILLED_WRITER = """
import os, signal, sys
from pathlib import Path
from harness import results
def half(path):
    path.write_text('{"format": 1, "row": {"run_id": "killed", "status": "o')
    os.kill(os.getpid(), signal.SIGKILL)
results.atomic_write(Path(sys.argv[1]) / "rows" / "killed.json", half)
"""


def test_gather_recovers_every_complete_row_and_names_the_half_written_files(tmp_path: Path) -> None:
    row = {"workload": "bert", "runtime": "eager", "batch_size": 1, "precision_requested": "fp32", "status": "ok",
           "latency_ms_p50": 1.0}  # fmt: skip
    for k in range(3):
        results.write_row(tmp_path, {**row, "run_id": f"r{k}", "config_hash": f"h{k}"}, np.ones(4))
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT))
    killed = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(tmp_path)], env=env, capture_output=True)
    assert killed.returncode == -signal.SIGKILL
    (leftover,) = (tmp_path / "rows").glob(".killed.json.*.tmp")
    cut = tmp_path / "rows" / "cut.json"  # a row file cut short by a copy, not by the harness's own writer
    cut.write_text('{"format": 1, "row": {"run_id": "cut", "sta')

    run = subprocess.run([sys.executable, "-m", "harness.gather", str(tmp_path)], env=env, capture_output=True,
                         text=True)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "3 rows gathered" in run.stdout
    assert str(leftover) in run.stderr and "half-written" in run.stderr
    assert str(cut) in run.stderr and "skipped" in run.stderr
    assert "Traceback" not in run.stderr
    assert sorted(pd.read_csv(tmp_path / "results.csv")["run_id"]) == ["r0", "r1", "r2"]
    assert len(pd.read_parquet(tmp_path / "results.parquet")) == 3


def test_a_half_written_row_of_another_node_is_left_alone_until_it_is_stale(tmp_path: Path) -> None:
    rows_dir = tmp_path / "rows"
    rows_dir.mkdir()
    fresh = rows_dir / ".a.json.4242@other-node.tmp"
    fresh.write_text("{")
    assert results._abandoned(fresh) is None, "it may still be writing"
    old = time.time() - 2 * results.STALE_TMP_S
    os.utime(fresh, (old, old))
    note = results._abandoned(fresh)
    assert note and "other-node" in note and fresh.exists(), "another node's file is named, not removed"


def test_a_worker_writes_only_its_row_file_and_the_driver_gathers(tmp_path: Path) -> None:
    row = {"run_id": "w1", "config_hash": "h", "status": "ok"}
    assert results.append_result(tmp_path, row, gather=False) == []
    assert (tmp_path / "rows" / "w1.json").exists() and not (tmp_path / "results.csv").exists()
    assert not (tmp_path / results.LOCK_FILE).exists(), "no lock taken in a worker"
    results.gather(tmp_path)
    assert rows(tmp_path)["run_id"].tolist() == ["w1"]


def composed(tmp_path: Path, *overrides: str):
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(PROJECT_ROOT / "conf"), version_base=None):
        cfg = compose(config_name="config", return_hydra_config=True,
                      overrides=[f"hydra.searchpath=[file://{TEST_CONF}]", "workload=tiny_resnet",
                                 f"hydra.sweep.dir={tmp_path / 'sweep'}", *overrides])  # fmt: skip
    GlobalHydra.instance().clear()
    return cfg


class FakeLoader:
    def __init__(self, cfg) -> None:
        self.cfg = cfg

    def load_sweep_config(self, master, overrides):
        return self.cfg


def test_the_driver_writes_rows_a_worker_could_not_and_names_the_node_of_a_dead_one(tmp_path: Path) -> None:
    from hydra.core.utils import JobReturn, JobStatus

    from harness.cli import SESSION
    from harness.runner import JobOutcome

    cfg = composed(tmp_path, "batch=2")
    collector = cluster.Collector(FakeLoader(cfg), cfg, in_process=False)
    before = len(SESSION.outcomes)
    # a worker without a shared filesystem: its row comes back in the JobReturn only
    done = JobReturn(overrides=["batch=2"], status=JobStatus.COMPLETED)
    done.return_value = JobOutcome(row={"run_id": "remote-1", "config_hash": "x", "status": "ok", "hostname": "n1",
                                        "workload": "resnet101", "runtime": "eager", "batch_size": 2,
                                        "precision_requested": "fp32", "latency_ms_p50": 1.0},
                                   latencies_ms=np.ones(5))  # fmt: skip
    collector.collect(["batch=2"], done, 0)
    dead = JobReturn(overrides=["batch=2"], status=JobStatus.FAILED)
    dead.return_value = cluster.JobCrashed("NodeDiedError: the node is gone", node="node 10.0.0.7 (n7), pid 99",
                                           host="n7")  # fmt: skip
    collector.collect(["batch=2"], dead, 1)
    collector.gather()
    frame = rows(tmp_path / "sweep").set_index("run_id")
    assert frame.loc["remote-1", "status"] == "ok" and len(results.read_latencies(tmp_path / "sweep")) == 5
    crashed = frame[frame["status"] == "crashed"].iloc[0]
    assert "node 10.0.0.7 (n7)" in crashed["error"] and "NodeDiedError" in crashed["error"]
    assert crashed["hostname"] == "n7" and pd.isna(crashed["cpu_model"]), "never the driver's machine columns"
    assert crashed["batch_size"] == 2 and crashed["workload"] == "resnet101"
    assert [o.status for o in SESSION.outcomes[before:]] == ["ok", "crashed"]
    del SESSION.outcomes[before:]


def test_relative_paths_are_the_drivers() -> None:
    assert cluster.resolve_against("outputs/cache", "/home/me/harness") == Path("/home/me/harness/outputs/cache")
    assert cluster.resolve_against("/abs/cache", "/home/me") == Path("/abs/cache")
    assert cluster.hydra_quote("/a b/it's,here") == "'/a b/it\\'s,here'"


# -- whole nodes ------------------------------------------------------------------------------------------
def test_a_ray_job_takes_a_whole_node_and_never_waits_forever() -> None:
    nodes = [{"Alive": True, "Resources": {"CPU": 8.0}}, {"Alive": True, "Resources": {"CPU": 4.0}},
             {"Alive": True, "Resources": {"CPU": 0.0}}, {"Alive": False, "Resources": {"CPU": 2.0}}]  # fmt: skip
    assert cluster.ray_remote_options({"num_cpus": None, "max_retries": 0}, nodes) == {
        "num_cpus": 4.0,
        "max_retries": 0,
    }
    assert cluster.ray_remote_options({}, nodes)["max_retries"] == 0, "never Ray's silent retries"
    assert cluster.ray_remote_options({"num_cpus": 8}, nodes)["num_cpus"] == 8
    with pytest.raises(cluster.LaunchRefused, match="num_cpus=16: no node .* has that many CPUs .the largest has 8"):
        cluster.ray_remote_options({"num_cpus": 16}, nodes)


# -- per-node truth in the report ---------------------------------------------------------------------------
def test_the_report_keeps_hosts_apart_and_shows_them_side_by_side(tmp_path: Path) -> None:
    base = {"workload": "bert", "batch_size": 1, "precision_requested": "fp32", "precision_effective": "fp32",
            "status": "ok", "accuracy": 0.9, "agreement": 1.0, "latency_ms_p50_ci_low": 0.5,
            "latency_ms_p50_ci_high": 100.0, "throughput_sps": 1.0, "first_inference_ms": 1.0,
            "prepare_s": 1.0}  # fmt: skip
    speeds = {("fast", "eager"): 4.0, ("fast", "openvino"): 2.0, ("slow", "eager"): 20.0, ("slow", "openvino"): 5.0}
    for k, ((host, runtime), p50) in enumerate(speeds.items()):
        row = {**base, "run_id": f"r{k}", "config_hash": f"{runtime}-{host}", "runtime": runtime, "hostname": host,
               "cpu_model": f"CPU {host}", "threads": 2 if host == "fast" else 8, "latency_ms_p50": p50,
               "started_at": f"2026-01-01T00:00:0{k}"}  # fmt: skip
        results.write_row(tmp_path, row)
    built = report.build([tmp_path])
    assert sorted(built.tables) == ["bert · fp32 · fast (CPU fast)", "bert · fp32 · slow (CPU slow)"]
    speedup = {
        name: table.set_index("runtime")["speed-up vs eager"]["openvino"] for name, table in built.tables.items()
    }
    assert speedup == {"bert · fp32 · fast (CPU fast)": "2.00", "bert · fp32 · slow (CPU slow)": "4.00"}, (
        "each host's speed-up is over its own eager"
    )
    hosts = built.hosts.set_index("runtime")
    assert list(hosts.columns[-2:]) == ["fast (CPU fast)", "slow (CPU slow)"]
    assert hosts.loc["openvino", "fast (CPU fast)"] == "2.000 ms, 2.00x its eager (2 threads)"
    assert hosts.loc["openvino", "slow (CPU slow)"] == "5.000 ms, 4.00x its eager (8 threads)"
    markdown = report.to_markdown(built)
    assert "## Hosts" in markdown and "its eager" in markdown
    assert (tmp_path / "results.csv").exists(), "report gathers the directory's tables from its row files"
    single = analysis.hosts_view(pd.DataFrame({"hostname": ["a", "a"]}))
    assert single.empty


def test_the_hosts_view_sets_hosts_of_other_sizes_side_by_side(tmp_path: Path) -> None:
    """Found by breaking it: the default threads is every core, so a 2-core and an 8-core host's rows were
    variants threads=2 and threads=8 and never met in one row of the Hosts view. A host that ran two
    counts by choice still gets a row per count."""
    base = {
        "workload": "bert",
        "batch_size": 1,
        "precision_requested": "fp32",
        "precision_effective": "fp32",
        "status": "ok",
        "accuracy": 0.9,
        "agreement": 1.0,
        "latency_ms_p50_ci_low": 0.5,
        "latency_ms_p50_ci_high": 100.0,
        "throughput_sps": 1.0,
        "first_inference_ms": 1.0,
        "prepare_s": 1.0,
    }
    runs = [("fast", 2, "eager", 4.0), ("fast", 2, "openvino", 2.0), ("slow", 8, "eager", 20.0),
            ("slow", 8, "openvino", 5.0), ("slow", 1, "openvino", 30.0)]  # fmt: skip
    for k, (host, threads, runtime, p50) in enumerate(runs):
        config = json.dumps({"workload": {"name": "bert"}, "runtime": {"name": runtime}, "threads": threads})
        results.write_row(tmp_path, {**base, "run_id": f"r{k}", "config_hash": f"{runtime}-{host}-{threads}",
                                     "runtime": runtime, "hostname": host, "cpu_model": f"CPU {host}",
                                     "threads": threads, "latency_ms_p50": p50, "config_json": config,
                                     "started_at": f"2026-01-01T00:00:0{k}"})  # fmt: skip
    hosts = report.build([tmp_path]).hosts
    cells = {(r["runtime"], r.get("variant", "")): (r["fast (CPU fast)"], r["slow (CPU slow)"]) for _, r in
             hosts.iterrows()}  # fmt: skip
    assert cells[("eager", "")] == ("4.000 ms, 1.00x its eager (2 threads)", "20.000 ms, 1.00x its eager (8 threads)")
    assert cells[("openvino", "threads=8")][1] == "5.000 ms, 4.00x its eager (8 threads)", cells
    assert cells[("openvino", "threads=1")] == ("", "30.000 ms (1 threads)"), cells
    assert cells[("openvino", "threads=2")][0] == "2.000 ms, 2.00x its eager (2 threads)", cells


# -- bad input ----------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (
            ["-m", "hydra/launcher=nope"],
            ["unknown hydra/launcher 'nope'", "allowed: basic, ray, slurm, submitit_local"],
        ),
        (
            ["-m", "hydra/launcher=ray", "hydra.launcher.ray.init.address=127.0.0.1:{port}"],
            ["127.0.0.1:{port} does not answer", "ray start --head"],
        ),
        (["-m", "hydra/launcher=slurm", "hydra.launcher.partition=cpu"], ["partition 'cpu'", "needs Slurm", "srun"]),
        (["hydra/launcher=ray"], ["hydra/launcher=ray launches the jobs of a sweep: add -m"]),
        (["-m", "hydra/launcher=submitit_slurm"], ["hydra/launcher=submitit_slurm", "use one of basic, ray"]),
        (["-m", "hydra/launcher=ray", "hydra.launcher.ray.remote.max_retries=3"], ["max_retries=3", "use 0"]),
        (
            ["-m", "hydra/launcher=ray", "hydra.launcher.ray.init.num_cpus=2", "hydra.launcher.ray.remote.num_cpus=4"],
            ["remote.num_cpus=4 is more than the local Ray instance has", "wait forever"],
        ),
        (["-m", "hydra/launcher=submitit_local", "hydra.launcher.timeout_min=1"], ["timeout_min=1", "timeout_s=1800"]),
        (["-m", "hydra/launcher=ray,submitit_local"], ["one launcher runs the whole sweep"]),
    ],
)
def test_bad_launcher_input_is_one_line_and_loses_no_rows(
    cli, tmp_path: Path, args: list[str], needles: list[str]
) -> None:
    if "hydra/launcher=slurm" in args and cluster.shutil.which("srun"):
        pytest.skip("this machine has Slurm")
    port = str(free_port())
    sweep = tmp_path / "sweep"
    kept = {"run_id": "kept", "config_hash": "h", "workload": "bert", "runtime": "eager", "batch_size": 1,
            "precision_requested": "fp32", "status": "ok", "latency_ms_p50": 1.0}  # fmt: skip
    results.append_result(sweep, kept)
    before = {p.name: p.read_bytes() for p in (sweep / "rows").iterdir()}
    run = cli("workload=tiny_resnet", *(a.replace("{port}", port) for a in args), f"hydra.sweep.dir={sweep}")
    assert run.returncode == 2, run.stderr[-2000:]
    assert "Traceback" not in run.stderr
    (line,) = run.harness_lines()
    for needle in needles:
        assert needle.replace("{port}", port) in line, line
    assert {p.name: p.read_bytes() for p in (sweep / "rows").iterdir()} == before, "no rows lost"


def test_an_unreachable_ray_address_is_found_in_seconds_not_minutes() -> None:
    port = free_port()
    problem = cluster.ray_address_problem(f"127.0.0.1:{port}")
    assert problem and f"127.0.0.1:{port} does not answer" in problem
    assert "not host:port" in cluster.ray_address_problem("head:notaport")
    with pytest.raises(ConfigError, match="applies to a Ray instance the launcher starts"):
        cluster.check_launcher("ray", {"_target_": "x.HarnessRayLauncher", "ray": {"init": {
            "address": f"127.0.0.1:{port}", "num_cpus": 2}, "remote": {}}}, multirun=True)  # fmt: skip


@needs_submitit
def test_a_submitit_job_whose_process_died_is_a_failed_return_naming_the_node() -> None:
    from hydra.core.utils import JobStatus
    from submitit.core.utils import UncompletedJobError

    from hydra_plugins.harness_launchers.submitit_launchers import HarnessLocalLauncher, _result

    class DeadJob:
        job_id, state = "4242", "FINISHED"
        paths = type("Paths", (), {"stderr": Path("/sweep/.submitit/4242/4242_0_log.err")})()

        def results(self) -> list:
            raise UncompletedJobError("Job 4242 (task: 0) has not produced any output (state: FINISHED)")

    result = _result(HarnessLocalLauncher(), ["batch=2"], DeadJob())
    assert result.status == JobStatus.FAILED and isinstance(result._return_value, cluster.JobCrashed)
    crash = result._return_value
    assert crash.host == socket.gethostname() and f"node {socket.gethostname()}, job 4242" in crash.node
    assert "UncompletedJobError" in str(crash)


def test_a_benchmark_child_dies_with_the_job_process_that_started_it(cli_factory, tmp_path: Path) -> None:
    """A launcher's worker killed mid-job must not leave its benchmark child measuring beside the next job."""
    args = ["workload=tiny_resnet", "runtime.name=faulty", "runtime.module=tests.faulty_runtime",
            "+runtime.behaviour=hang", "results_dir=res"]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT), HARNESS_HOST_LOCK=str(tmp_path / "host.lock"))
    command = [sys.executable, "-m", "harness", f"hydra.searchpath=[file://{TEST_CONF}]", "measure=quick", *args]
    job = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        (spec,) = wait_for(lambda: (tmp_path / "res" / "jobs").glob("*/spec.json"), 1)
        child = None
        deadline = time.monotonic() + 120
        while child is None and time.monotonic() < deadline:
            found = subprocess.run(
                ["pgrep", "-f", f"harness.worker .*{spec.parent.name}"], capture_output=True, text=True
            ).stdout
            child = int(found.split()[0]) if found.split() else None
            time.sleep(0.2)
        assert child is not None, "the benchmark child started"
    finally:
        job.kill()
        job.wait()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and Path(f"/proc/{child}").exists():
        time.sleep(0.2)
    assert not Path(f"/proc/{child}").exists(), "the child outlived the process that started it"


def test_a_row_refused_mid_sweep_stops_the_sweep_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by breaking it: a row file planted mid-sweep (a foreign writer) that report refuses made the
    next job's resume check raise, and the driver's own check of it printed a traceback and lost the rest
    of the sweep. The collector stops the sweep: one line after the table, no further job launched."""
    from types import SimpleNamespace

    from hydra.core.utils import JobStatus

    from harness import cli as cli_module

    monkeypatch.setattr(cli_module, "SESSION", cli_module.Session())
    collector = cluster.Collector(loader=None, config=None, in_process=True)
    refused = results.ResultsError("/tmp/s5: column 'latency_ms_p50' holds 0.0 in an ok row")
    collector.collect(["batch=2"], SimpleNamespace(status=JobStatus.FAILED, _return_value=refused), 1)
    collector.collect(["batch=4"], SimpleNamespace(status=JobStatus.FAILED, _return_value=refused), 2)
    assert collector.stopped and cli_module.SESSION.launch_errors == [
        "stopped: /tmp/s5: column 'latency_ms_p50' holds 0.0 in an ok row; move that row file away and run the "
        "same command to resume"
    ]
    assert collector.without_finished([["batch=8"], ["batch=16"]]) == [], "no further job runs"


def test_under_force_a_job_that_died_after_writing_its_ok_row_keeps_it_and_is_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by breaking it: a forced job whose process died right after writing its ok row got a crashed row
    that replaced it, and the closing table left the job out. An ok row written by this invocation (started
    at or after its start) is the job's outcome; an older ok row (the one force=true re-measures) is not."""
    from datetime import UTC, datetime

    from hydra.core.utils import JobReturn, JobStatus

    from harness import cli as cli_module

    monkeypatch.setattr(cli_module, "SESSION", cli_module.Session(started=datetime(2026, 6, 1, tzinfo=UTC)))
    cfg = composed(tmp_path, "batch=2", "force=true")
    config_hash = cluster.job_context(cfg, tmp_path, 1, 1).spec.config_hash()
    row = {"config_hash": config_hash, "repeat": 0, "status": "ok", "hostname": "n1", "workload": "resnet101",
           "runtime": "eager", "batch_size": 2, "precision_requested": "fp32", "latency_ms_p50": 1.0}  # fmt: skip
    results.write_row(tmp_path / "sweep", {**row, "run_id": "old-ok", "started_at": "2026-05-01T00:00:00+00:00"})
    collector = cluster.Collector(FakeLoader(cfg), cfg, in_process=False)
    dead = JobReturn(overrides=["batch=2"], status=JobStatus.FAILED)
    dead.return_value = cluster.JobCrashed("the process died", node="node n1, pid 9", host="n1")
    collector.collect(["batch=2"], dead, 0)  # only the ok row force=true re-measures: the job crashed
    assert [o.status for o in cli_module.SESSION.outcomes] == ["crashed"]
    results.write_row(tmp_path / "sweep", {**row, "run_id": "new-ok", "started_at": "2099-01-01T00:00:00+00:00"})
    collector.collect(["batch=2"], dead, 1)  # this invocation's ok row, then the process died: ok, and shown
    assert [o.row.get("run_id") for o in cli_module.SESSION.outcomes][1:] == ["new-ok"]
    assert len(results.read_results(tmp_path / "sweep")) == 3  # old-ok, a crash, new-ok: no second crash
