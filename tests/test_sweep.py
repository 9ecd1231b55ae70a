"""Real multiruns into tmp_path: rows, raw latencies, resumption, and children that die."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from harness import results


@pytest.mark.slow  # minutes on a 2-core AVX2 machine: `make test-all` (make test stays nearer 20 min)
def test_multirun_over_both_workloads_writes_one_row_per_job(cli, tmp_path: Path) -> None:
    run = cli("-m", "workload=tiny_bert,tiny_resnet", "batch=1,3", "hydra.sweep.dir=sweep")
    assert run.returncode == 0, run.stderr[-3000:]
    frame = pd.read_csv(tmp_path / "sweep" / "results.csv")
    assert len(frame) == 4
    assert set(frame["status"]) == {"ok"}, frame[["status", "error"]].to_string()
    assert sorted(zip(frame["workload"], frame["batch_size"], strict=True)) == [
        ("bert", 1), ("bert", 3), ("resnet101", 1), ("resnet101", 3),
    ]  # fmt: skip
    # eager against the cached eager reference: identical up to summation order (the reference may
    # have been computed by an earlier job with another thread count)
    assert (frame["agreement"] == 1.0).all() and (frame["max_rel_diff"] < 1e-5).all()
    assert frame["accuracy"].between(0, 1).all() and (frame["n_eval_samples"] > 0).all()
    assert (frame["precision_effective"] == "fp32").all() and (frame["threads_effective"] == frame["threads"]).all()
    established = frame[frame["latency_ms_p50_ci_low"].notna()]  # a CI needs 6 calls (measure.median_ci)
    assert (established["latency_ms_p50_ci_low"] <= established["latency_ms_p50"]).all()
    assert (established["latency_ms_p50"] <= established["latency_ms_p50_ci_high"]).all()
    assert frame["config_hash"].nunique() == 4 and frame["run_id"].nunique() == 4
    assert (frame["throughput_sps"] > 0).all() and (frame["peak_rss_mb"] > 0).all()
    latencies = results.read_latencies(tmp_path / "sweep")
    per_run = latencies.groupby("run_id").size()
    assert per_run.loc[frame["run_id"]].tolist() == frame["n_calls"].tolist()
    for run_id in frame["run_id"]:
        assert (tmp_path / "sweep" / "jobs" / run_id / "config.yaml").exists()
    assert "results:" in run.stdout and str(tmp_path / "sweep" / "results.csv") in run.stdout

    again = cli("-m", "workload=tiny_bert,tiny_resnet", "batch=1,3", "hydra.sweep.dir=sweep")
    assert again.returncode == 0
    assert again.stderr.count("skipped, an ok row") == 4
    assert len(pd.read_csv(tmp_path / "sweep" / "results.csv")) == 4

    forced = cli("-m", "workload=tiny_bert", "batch=1", "force=true", "hydra.sweep.dir=sweep")
    assert forced.returncode == 0
    assert len(pd.read_csv(tmp_path / "sweep" / "results.csv")) == 5


def test_children_that_crash_hang_or_raise_become_rows_and_the_sweep_goes_on(cli, tmp_path: Path) -> None:
    run = cli(
        "-m", "workload=tiny_resnet", "runtime.name=faulty", "runtime.module=tests.faulty_runtime",
        "+runtime.behaviour=segfault,hang,raise,sigkill,exit", "timeout_s=25", "hydra.sweep.dir=sweep",
    )  # fmt: skip
    assert run.returncode == 1, run.stderr[-3000:]
    frame = pd.read_csv(tmp_path / "sweep" / "results.csv")
    behaviour = frame["config_json"].str.extract(r'"behaviour": "(\w+)"')[0]
    by = dict(zip(behaviour, zip(frame["status"], frame["error"], strict=True), strict=True))
    assert by["segfault"][0] == "crashed" and "SIGSEGV" in by["segfault"][1]
    assert by["hang"][0] == "timeout" and "timeout_s=25" in by["hang"][1]
    assert by["raise"][0] == "error" and "the library refused this model" in by["raise"][1]
    # where it happened: the phase and the raising frame, since a library's bare message may name neither
    assert by["raise"][1].endswith("[during prepare; raised in tests/faulty_runtime.py:38 prepare]"), by["raise"][1]
    assert by["sigkill"][0] == "crashed" and "SIGKILL" in by["sigkill"][1]
    assert by["exit"][0] == "crashed" and "code 3" in by["exit"][1]
    assert frame["latency_ms_p50"].isna().all(), "a failed job must not carry made-up numbers"
    assert frame["python_version"].notna().all(), "identity columns are filled even for dead children"


@pytest.mark.slow  # minutes on a 2-core AVX2 machine: `make test-all` (make test stays nearer 20 min)
def test_ctrl_c_during_a_measurement_is_one_line_and_the_sweep_resumes(cli, tmp_path: Path) -> None:
    """Ctrl-C (SIGINT to the terminal's process group) during a timed window: one line saying where the
    finished jobs are (exit 130), not a KeyboardInterrupt traceback; no half row; the host lock freed,
    so the same command then runs the job."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.conftest import TEST_CONF

    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parent.parent))
    command = [sys.executable, "-m", "harness", f"hydra.searchpath=[file://{TEST_CONF}]", "-m", "workload=tiny_resnet",
               f"cache_dir={tmp_path / 'cache'}", "measure=quick", "measure.min_s=120", "measure.max_s=120",
               "hydra.sweep.dir=sweep"]  # fmt: skip
    log = tmp_path / "stderr.txt"
    with log.open("w") as stderr:
        proc = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=stderr,
                                start_new_session=True)  # fmt: skip
        deadline = time.monotonic() + 300
        while "measure" not in log.read_text() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.5)
        assert proc.poll() is None, log.read_text()[-2000:]
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=120)
    text = log.read_text()
    assert proc.returncode == 130 and "Traceback" not in text, text[-3000:]
    assert [line for line in text.splitlines() if line.startswith("harness: interrupted")], text[-2000:]
    assert not list((tmp_path / "sweep" / "rows").glob("*.json")), "no half row"
    again = cli("-m", "workload=tiny_resnet", "hydra.sweep.dir=sweep")
    assert again.returncode == 0, again.stderr[-2000:]
    assert len(pd.read_csv(tmp_path / "sweep" / "results.csv")) == 1


def test_ctrl_c_of_a_forced_sweep_does_not_promise_a_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Found by breaking it: Ctrl-C under force=true said "the same command resumes", which measures every
    job again (and without force=true every repeat with an ok row, old ones included, is skipped). It names
    the command that finishes it: force_since= the interrupted run's start, to the second. Found by breaking
    that: without a directory named, Hydra picks a new time-stamped one each time, and the printed command
    started over there; the command names the directory."""
    from harness import cli as cli_module

    forced = False

    def interrupted(argv: list[str]) -> int:  # as run_task records it: the job's directory, and force=true seen
        cli_module.SESSION.results_dirs.append(tmp_path)
        cli_module.SESSION.forced = forced
        raise KeyboardInterrupt

    def command_said(*argv: str) -> str:
        monkeypatch.setattr(cli_module, "SESSION", cli_module.Session())
        assert cli_module.main(list(argv)) == 130
        line = capsys.readouterr().err.strip()
        assert len(line.splitlines()) == 1 and line.startswith("harness: interrupted;"), line
        return line

    monkeypatch.setattr(cli_module, "_main", interrupted)
    before = datetime.now(UTC).replace(microsecond=0)
    named = f"hydra.sweep.dir={tmp_path}"
    forced = True
    line = command_said("-m", "workload=tiny_resnet", "force=true", named)
    command = line.split("to finish it, measuring only what this run has not: ")[1]
    since = command.split()[-1]
    assert command == f"python -m harness -m workload=tiny_resnet {named} {since}", command
    assert before <= datetime.fromisoformat(since.removeprefix("force_since=")) <= datetime.now(UTC)
    line = command_said("-m", "workload=tiny_resnet", "force=true")  # no directory named: the command names it
    assert line.endswith(f"python -m harness -m workload=tiny_resnet {line.split()[-2]} {named}"), line
    assert line.split()[-2].startswith("force_since=")
    forced = False
    assert command_said("-m", "workload=tiny_resnet", named, since).endswith("the same command resumes")
    assert command_said("-m", "workload=tiny_resnet").endswith(f"python -m harness -m workload=tiny_resnet {named} "
                                                                "resumes")  # fmt: skip
    assert command_said("workload=tiny_resnet").endswith(f"workload=tiny_resnet results_dir={tmp_path} resumes")
    # what is kept: it said "finished jobs are kept" when none of this run had finished (found by a new user),
    # and "the job running was not recorded" when Ctrl-C came as its row was written (found by breaking it)
    assert f"; no job of this run had finished ({tmp_path} keeps what it held);" in command_said("-m", named)
    from harness import results

    def one_finished(argv: list[str]) -> int:  # a row file written by this run, as the Ctrl-C came
        results.write_row(tmp_path, {"run_id": "r-1", "config_hash": "h", "status": "ok", "workload": "w",
                                     "runtime": "eager", "batch_size": 1, "latency_ms_p50": 1.0})  # fmt: skip
        return interrupted(argv)

    monkeypatch.setattr(cli_module, "_main", one_finished)
    line = command_said("-m", named)
    assert f"interrupted; a job cut off before its row was written is not recorded; the 1 job(s) this run " \
           f"finished are kept in {tmp_path};" in line, line  # fmt: skip


def test_ctrl_c_before_any_job_is_one_line(tmp_path: Path) -> None:
    """Ctrl-C while the CLI loads its libraries or checks the sweep: a traceback from the imports."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.conftest import TEST_CONF

    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parent.parent))
    command = [sys.executable, "-m", "harness", f"hydra.searchpath=[file://{TEST_CONF}]", "-m", "workload=tiny_resnet",
               "runtime=eager,onnxruntime,openvino", "batch=1,2", "hydra.sweep.dir=sweep"]  # fmt: skip
    # while importing, while composing the jobs, and as the first job starts: a Ctrl-C inside torch's import
    # once ended the process by SIGINT (status -2) after its one line (tool_args.exit_process)
    for delay in (0.5, 1.0, 1.5, 1.75, 2.0, 2.5, 3.0):
        proc = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                text=True, start_new_session=True)  # fmt: skip
        time.sleep(delay)
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 130 and "Traceback" not in err, (delay, err[-2000:])
        assert err.strip().splitlines()[-1].startswith("harness: interrupted"), err[-500:]


@pytest.mark.slow  # minutes on a 2-core AVX2 machine: `make test-all` (make test stays nearer 20 min)
def test_the_stored_rerun_command_of_a_repeated_sweep_runs_one_job(cli, tmp_path: Path) -> None:
    """A row of a `repeats=2` sweep stored `python -m harness ... repeats=2 ... force=true`, which the CLI
    refuses (repeats needs -m): the command re-runs that one job."""
    import shlex

    run = cli("-m", "workload=tiny_resnet", "repeats=2", "force=false", "hydra.sweep.dir=s")
    assert run.returncode == 0, run.stderr[-2000:]
    commands = set(pd.read_csv(tmp_path / "s" / "results.csv")["rerun_command"])
    (command,) = commands
    # repeats=1 last (an experiment file's repeats: 3 is refused without -m); the search path that found the
    # tiny workloads kept (found by breaking it: without it the command named an unknown workload)
    assert command.count("repeats") == 1 and command.count("force=") == 1, command
    assert command.endswith("force=true repeats=1") and "hydra.searchpath=" in command, command
    again = cli(*[a for a in shlex.split(command)[3:] if not a.startswith("hydra.searchpath=")], "results_dir=again")
    assert again.returncode == 0, again.stderr[-2000:]
    assert len(pd.read_csv(tmp_path / "again" / "results.csv")) == 1
