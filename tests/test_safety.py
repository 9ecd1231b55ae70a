"""Results and caches are input from strangers: nothing in them runs code, damage is detected and
repaired without losing rows, options are typed, and report/compare/rerun survive any file
(issue 11's cases, each with the right outcome)."""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness import compare, report, results
from harness.envinfo import PROJECT_ROOT
from tests.conftest import immutable
from tests.test_report_compare import _python, make_set


class _Payload:
    """Unpickling this creates the marker file: proof that something unpickled foreign data."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


# -- 1. no code execution from data -----------------------------------------------------------------------


def test_a_crafted_exported_program_in_the_cache_is_never_loaded(cli, tmp_path: Path) -> None:
    marker = tmp_path / "pwned-export"
    cache = tmp_path / "cache"
    for entry in ("x", "0123456789abcdef0123"):  # anywhere a cached program could be looked for
        (cache / "conversions" / "torch_export" / entry).mkdir(parents=True)
        (cache / "conversions" / "torch_export" / entry / "program.pt2").write_bytes(pickle.dumps(_Payload(marker)))
    run = cli("workload=tiny_resnet", "runtime=export", f"cache_dir={cache}", "results_dir=res")
    assert run.returncode == 0, run.stderr[-3000:]
    assert not marker.exists()
    assert pd.read_csv(tmp_path / "res" / "results.csv").iloc[0]["agreement"] == 1.0


def test_a_forged_reference_array_is_never_unpickled(cli, tmp_path: Path) -> None:
    from harness.cache import write_manifest

    cache = tmp_path / "cache"
    first = cli("workload=tiny_resnet", f"cache_dir={cache}", "results_dir=res")
    assert first.returncode == 0, first.stderr[-3000:]
    (entry,) = (cache / "reference").glob("*/logits.npy")
    marker = tmp_path / "pwned-reference"
    np.save(entry, np.array([_Payload(marker)], dtype=object), allow_pickle=True)
    (entry.parent / "manifest.json").unlink()
    write_manifest(entry.parent)  # a forger rewrites the manifest too
    # openvino has no cached scores yet, so it must read the reference to score itself
    again = cli("workload=tiny_resnet", "runtime=openvino", f"cache_dir={cache}", "results_dir=res")
    assert again.returncode == 0, again.stderr[-3000:]
    assert not marker.exists()
    row = pd.read_csv(tmp_path / "res" / "results.csv").iloc[-1]
    assert (
        row["agreement"] == 1.0 and "not a plain array" in row["cache_note"] and str(entry.parent) in row["cache_note"]
    )


def test_a_reference_entry_of_text_or_the_wrong_shape_is_refused(tmp_path: Path) -> None:
    """np.load without pickle still loads text arrays: a forged reference of strings (or of another
    model's shape) must be refused before scoring, not fail inside it."""
    from types import SimpleNamespace

    from harness.job import REFERENCE_FILE, _load_reference

    workload, handle = SimpleNamespace(n_samples=3), SimpleNamespace(n_outputs=2)
    for forged in (np.array([["a", "b"]] * 3), np.zeros((3, 5), np.float32), np.zeros(6, np.float32)):
        np.save(tmp_path / REFERENCE_FILE, forged, allow_pickle=False)
        with pytest.raises(ValueError):
            _load_reference(tmp_path, workload, handle)
    np.save(tmp_path / REFERENCE_FILE, np.ones((3, 2), np.float32))
    assert _load_reference(tmp_path, workload, handle).shape == (3, 2)


def test_rerun_never_runs_an_interpreter_or_module_named_by_a_results_file(cli, tmp_path: Path, shared_cache) -> None:
    run = cli("workload=tiny_resnet", "results_dir=res")
    assert run.returncode == 0, run.stderr[-3000:]
    marker = tmp_path / "pwned-rerun"
    script = tmp_path / "evil.sh"
    script.write_text(f"#!/bin/sh\ntouch {marker}\n")
    script.chmod(0o755)
    (tmp_path / "evil_module.py").write_text(f"open({str(marker)!r}, 'w').close()\nWORKLOAD = RUNTIME = None\n")
    (row_file,) = (tmp_path / "res" / "rows").glob("*.json")
    payload = json.loads(row_file.read_text())
    config = json.loads(payload["row"]["config_json"])
    config["runtime"]["python"] = str(script)
    config["runtime"]["module"] = "evil_module"
    config["workload"]["module"] = "evil_module"
    payload["row"]["config_json"] = json.dumps(config)
    row_file.write_text(json.dumps(payload))
    rerun = _python("-m", "harness.rerun", str(tmp_path / "res"), payload["row"]["run_id"], "--tolerance", "1e9",
                    "--cache-dir", str(shared_cache), cwd=tmp_path)  # fmt: skip
    assert not marker.exists(), rerun.stdout + rerun.stderr
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr[-2000:]
    assert f"interpreter: stored {str(script)!r}" in rerun.stdout
    assert "runtime module: stored 'evil_module', this checkout's 'runtimes.eager' runs" in rerun.stdout


# -- 2. cached artifacts are verified ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("runtime", "victim", "damage"),
    [
        pytest.param("openvino", "model.xml", "truncate", marks=pytest.mark.slow),
        ("openvino", "model.bin", "overwrite"),
        pytest.param("onnxruntime", "model.onnx", "truncate", marks=pytest.mark.slow),
    ],
)
def test_a_damaged_cached_artifact_is_rebuilt_and_said(
    cli, tmp_path: Path, runtime: str, victim: str, damage: str
) -> None:
    cache = tmp_path / "cache"
    first = cli("workload=tiny_resnet", f"runtime={runtime}", f"cache_dir={cache}", "results_dir=res")
    assert first.returncode == 0, first.stderr[-3000:]
    (path,) = (cache / "conversions").glob(f"*/*/{victim}")
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    else:
        data[len(data) // 2 : len(data) // 2 + 64] = os.urandom(64)  # weights changed in place, same size
        path.write_bytes(data)
    again = cli("workload=tiny_resnet", f"runtime={runtime}", f"cache_dir={cache}", "results_dir=res", "force=true")
    assert again.returncode == 0, again.stderr[-3000:]
    rows = pd.read_csv(tmp_path / "res" / "results.csv").sort_values("started_at")
    rebuilt = rows.iloc[-1]
    assert rebuilt["status"] == "ok" and not bool(rebuilt["cache_hit"])
    assert (
        f"{victim} changed since it was written" in rebuilt["cache_note"] and str(path.parent) in rebuilt["cache_note"]
    )
    assert rebuilt["agreement"] == 1.0 and rebuilt["max_abs_diff"] == pytest.approx(rows.iloc[0]["max_abs_diff"])


# -- 3. damaged result files never spread ------------------------------------------------------------------


def _rows(n: int, directory: Path) -> None:
    for k in range(n):
        results.append_result(directory, {"run_id": f"r{k}", "config_hash": f"h{k}", "status": "ok",
                                          "workload": "bert", "runtime": "eager", "batch_size": 1,
                                          "precision_requested": "fp32", "error": 'a "quoted, text" field',
                                          "latency_ms_p50": 1.0 + k}, np.arange(1.0, 4.0))  # fmt: skip


@pytest.mark.parametrize("cut", ["inside-quotes", "after-ok"])
def test_a_cut_results_csv_is_rewritten_from_the_row_files(tmp_path: Path, cut: str) -> None:
    _rows(3, tmp_path)
    text = (tmp_path / "results.csv").read_text()
    position = text.rindex('"a ""quoted') + 5 if cut == "inside-quotes" else text.rindex(",ok") + 3
    (tmp_path / "results.csv").write_text(text[:position])
    row = {"run_id": "r3", "config_hash": "h3", "status": "ok", "workload": "bert", "runtime": "eager",
           "batch_size": 1, "precision_requested": "fp32", "latency_ms_p50": 4.0}  # fmt: skip
    notes = results.append_result(tmp_path, row)
    assert len(notes) == 1 and "results.csv was damaged or changed" in notes[0] and "rewritten" in notes[0]
    for view in (pd.read_csv(tmp_path / "results.csv"), pd.read_parquet(tmp_path / "results.parquet")):
        assert sorted(view["run_id"]) == ["r0", "r1", "r2", "r3"]
    assert results.completed(tmp_path).ok == {(f"h{k}", 0) for k in range(4)}


def test_an_older_directory_with_a_cut_csv_recovers_from_its_parquet(tmp_path: Path) -> None:
    _rows(3, tmp_path)
    shutil.rmtree(tmp_path / "rows")  # as written before row files existed
    text = (tmp_path / "results.csv").read_text()
    (tmp_path / "results.csv").write_text(text[: text.rindex('"a ""quoted') + 5])
    notes = results.gather(tmp_path).notes
    assert any("results.csv was damaged" in n and "kept as results.csv.damaged-" in n for n in notes), notes
    assert any("3 complete rows recovered" in n for n in notes), notes
    assert sorted(pd.read_csv(tmp_path / "results.csv")["run_id"]) == ["r0", "r1", "r2"]
    assert len(results.read_latencies(tmp_path)) == 9
    assert list(tmp_path.glob("results.csv.damaged-*"))


def test_an_older_directory_with_only_a_cut_csv_keeps_its_complete_rows(tmp_path: Path) -> None:
    _rows(3, tmp_path)
    shutil.rmtree(tmp_path / "rows")
    (tmp_path / "results.parquet").unlink()
    text = (tmp_path / "results.csv").read_text()
    (tmp_path / "results.csv").write_text(text[: text.rindex(",ok") + 3])  # the last row ends after its status
    results.gather(tmp_path)
    assert sorted(pd.read_csv(tmp_path / "results.csv")["run_id"]) == ["r0", "r1"]
    assert results.completed(tmp_path).ok == {("h0", 0), ("h1", 0)}, "a half-written row is not a finished job"


WRITER = """
import sys, numpy as np
from pathlib import Path
from harness import results
directory, start = Path(sys.argv[1]), int(sys.argv[2])
for k in range(start, start + 1000):
    results.append_result(directory, {"run_id": f"w{k:05d}", "config_hash": f"c{k}", "status": "ok",
                          "workload": "bert", "runtime": "eager", "batch_size": 1, "precision_requested": "fp32",
                          "latency_ms_p50": float(k + 1)}, np.arange(1.0, 51.0))
"""


def test_a_writer_killed_at_random_points_loses_no_complete_row(tmp_path: Path) -> None:
    """Seeded fault injection: a writer appending rows is SIGKILLed after a random delay, 25 times.
    Every whole row file survives in both views after the next gather; resume counts exactly those."""
    rng = np.random.default_rng(1234)
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT))
    for attempt in range(25):
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), str(attempt * 1000)], env=env)
        time.sleep(float(rng.uniform(0.8, 2.5)))  # interpreter start-up, then somewhere inside an append
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    gathered = results.gather(tmp_path)
    whole = set()
    for path in (tmp_path / "rows").glob("*.json"):
        json.loads(path.read_text())  # every row file is whole: a killed writer leaves only a temporary file
        whole.add(path.stem)
    assert len(whole) > 25, "the writer got some rows in before being killed"
    assert set(gathered.frame["run_id"]) == whole
    assert set(pd.read_csv(tmp_path / "results.csv")["run_id"]) == whole
    assert set(pd.read_parquet(tmp_path / "results.parquet")["run_id"]) == whole
    done = {f"w{int(h[1:]):05d}" for h, _ in results.completed(tmp_path).ok}
    assert done == whole
    assert not list((tmp_path / "rows").glob(".*.tmp")), "the dead writers' temporary files are cleared"


def test_ctrl_c_while_the_views_are_written_waits_for_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C between a view and its recorded digest (found by breaking it): the next run called results.csv,
    results.parquet and latencies.parquet "damaged or changed since the harness wrote it". The interrupt
    now takes effect when the row and the views are whole."""
    row = {"run_id": "r-0", "config_hash": "h", "status": "ok", "workload": "w", "runtime": "eager",
           "batch_size": 1, "latency_ms_p50": 1.0}  # fmt: skip
    results.append_result(tmp_path, row, np.arange(1.0, 11.0))
    real_write, calls = results.atomic_write, []

    def write_then_ctrl_c(path: Path, write: object) -> None:
        real_write(path, write)
        calls.append(path)
        if len(calls) == 2:  # the first view written, the others and the digests not yet
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(results, "atomic_write", write_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        results.append_result(tmp_path, {**row, "run_id": "r-1", "config_hash": "i"}, np.arange(1.0, 11.0))
    assert len(calls) > 2, "the interrupt waited for the rest of the views"
    monkeypatch.setattr(results, "atomic_write", real_write)
    again = results.gather(tmp_path)
    assert again.notes == [] and sorted(again.frame["run_id"]) == ["r-0", "r-1"], again.notes


@pytest.mark.parametrize("tool", ["harness.report", "harness.compare", "harness.gather", "harness.rerun"])
def test_ctrl_c_while_a_tool_loads_is_one_line(tmp_path: Path, tool: str) -> None:
    """Ctrl-C while `python -m harness.report` (...) imported pandas and matplotlib: a traceback and SIGINT
    (found by breaking it). Now one line and 130 while loading; later its own answer (here: one line, 2)."""
    args = {"harness.compare": ["/nonexistent", "/x"], "harness.rerun": ["/nonexistent", "x"]}.get(tool, ["/no"])
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT))
    proc = subprocess.Popen([sys.executable, "-m", tool, *args], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)  # fmt: skip
    time.sleep(0.25)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err[-2000:]
    answered = (proc.returncode, err.strip()) == (130, f"{tool}: interrupted") or proc.returncode == 2
    assert answered, (proc.returncode, err)


def test_ctrl_c_after_a_tool_is_done_never_turns_its_exit_into_a_signal(tmp_path: Path) -> None:
    """A Ctrl-C as a command ended normally (during the interpreter's finalization) ended it by SIGINT, -2, with
    nothing said (found by breaking it): the exit code the tool chose stands."""
    script = ("import atexit, os, signal\n"
              "atexit.register(lambda: os.kill(os.getpid(), signal.SIGINT))  # arrives during finalization\n"
              "from harness.tool_args import exit_process\nexit_process(1)\n")  # fmt: skip
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT))
    run = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 1 and "Traceback" not in run.stderr, (run.returncode, run.stderr)


# -- 4. an unusable results directory is found before anything runs ---------------------------------------


def test_an_unwritable_results_directory_is_bad_input_before_any_job(cli, tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    with immutable(locked):
        run = cli("workload=tiny_resnet", f"results_dir={locked}")
    assert run.returncode == 2 and "Traceback" not in run.stderr
    (line,) = run.harness_lines()
    assert f"results directory '{locked}' is not writable" in line
    assert "starting" not in run.stderr, "no job may start"
    (tmp_path / "afile").write_text("x")
    run = cli("workload=tiny_resnet", f"results_dir={tmp_path / 'afile' / 'sub'}")
    assert run.returncode == 2
    (line,) = run.harness_lines()
    assert "is a file, not a directory" in line
    # the cache too (found by breaking it: every job an error row, NotADirectoryError or PermissionError)
    run = cli("workload=tiny_resnet", f"cache_dir={tmp_path / 'afile'}")
    assert run.returncode == 2 and "starting" not in run.stderr
    (line,) = run.harness_lines()
    assert f"cache_dir='{tmp_path / 'afile'}' cannot be used: {tmp_path / 'afile'} is a file, not a directory" in line
    with immutable(locked):
        run = cli("workload=tiny_resnet", f"cache_dir={locked / 'cache'}")
    assert run.returncode == 2 and "starting" not in run.stderr
    (line,) = run.harness_lines()
    assert f"cache_dir='{locked / 'cache'}' is not writable" in line


def test_a_directory_in_a_locks_place_is_moved_aside(tmp_path: Path) -> None:
    """Found by breaking it: a directory where a cache entry's or a job claim's lock file goes made every
    job an error row (IsADirectoryError). It is moved aside whole, never removed, and the lock made."""
    from harness.locking import file_lock

    (tmp_path / "k.lock").mkdir()
    (tmp_path / "k.lock" / "kept").write_text("x")
    with file_lock(tmp_path / "k.lock"):
        assert (tmp_path / "k.lock").is_file()
    (aside,) = tmp_path.glob("k.lock.damaged-*")
    assert (aside / "kept").read_text() == "x"
    (tmp_path / ".claims" / "h-r0.lock").mkdir(parents=True)
    with results.claim(tmp_path, "h", 0) as mine:
        assert mine


# -- 5, 6, 7. typed options; nothing silently ignored or swapped; bounds -----------------------------------


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["runtime=export", "runtime.fullgraph=maybe"], ["unknown key 'runtime.fullgraph'"]),
        (["runtime=compile", "runtime.fullgraph=maybe"], ["runtime.fullgraph='maybe'", "true or false"]),
        (["force=maybe"], ["force='maybe'", "true or false"]),
        (["force=no"], ["force='no'", "true or false"]),  # read as false, which no message admitted
        (["pin_cores=0"], ["pin_cores=0", "true or false"]),
        (["runtime=onnxruntime", "runtime.opset=abc"], ["runtime.opset='abc'", "an integer (or null)"]),
        (["runtime=onnxruntime", "runtime.opset=3"], ["runtime.opset=3", "produces opsets 18 to 23"]),
        (["runtime=onnxruntime", "runtime.exporter=torchscript", "runtime.opset=21"], ["opsets 7 to 20"]),
        (["workload=resnet101", "workload.split=validation"], ["workload.split='validation'", "test, train"]),
        (["workload=bert", "workload.split=validation"], ["workload.split='validation'", "test, train"]),
        (["+foo=1"], ["unknown key 'foo'", "batch"]),
        (["batch=1000000000"], ["batch=1000000000", "from 1 to 1024"]),
        (["runtime=compile", "runtime.mode=reduce-overhead"], ["runtime.mode='reduce-overhead'", "max-autotune"]),
        (["workload=tiny_bert", "workload.subset=mrpc"], ["workload.subset='mrpc' has no effect"]),
        (["workload=resnet101", "workload.image_column=img"], ["workload.image_column='img' has no effect"]),
        (["runtime=export", "runtime.strict=2"], ["runtime.strict=2", "true or false"]),
        (["seed=-1"], ["seed=-1", "an integer from 0 to"]),
        (["timeout_s=0"], ["timeout_s=0", "a number from 1"]),
    ],
)
def test_options_are_typed_and_nothing_is_silently_ignored(cli, args: list[str], needles: list[str]) -> None:
    run = cli(*args)
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr[-2000:]
    (line,) = run.harness_lines()
    for needle in needles:
        assert needle in line, line


def test_a_quoted_false_is_false(cli, tmp_path: Path) -> None:
    run = cli("workload=tiny_resnet", "runtime=export", 'runtime.strict="false"', "results_dir=res")
    assert run.returncode == 0, run.stderr[-2000:]
    row = pd.read_csv(tmp_path / "res" / "results.csv").iloc[0]
    assert json.loads(row["config_json"])["runtime"]["options"]["strict"] is False


def test_inter_op_threads_switch_on_parallel_execution(cli, tmp_path: Path) -> None:
    run = cli("workload=tiny_resnet", "runtime=onnxruntime", "runtime.inter_op_threads=2", "results_dir=res")
    assert run.returncode == 0, run.stderr[-2000:]
    row = pd.read_csv(tmp_path / "res" / "results.csv").iloc[0]
    assert row["ort_execution_mode"] == "ORT_PARALLEL" and row["ort_inter_op_threads"] == 2


def test_a_batch_the_machine_cannot_hold_is_bad_input(cli, tmp_path: Path) -> None:
    run = cli("workload=tiny_resnet", "workload.image_size=1024", "batch=1024", "results_dir=res")
    assert run.returncode == 2, run.stderr[-2000:]
    row = pd.read_csv(tmp_path / "res" / "results.csv").iloc[0]
    assert row["status"] == "invalid" and "batch=1024 needs about" in row["error"] and "GiB are free" in row["error"]


# -- 8. report, compare and rerun survive any file ---------------------------------------------------------


def _bad_files(tmp_path: Path) -> dict[str, Path]:
    files = {
        "empty.csv": b"",
        "garbage.csv": b"\x00\xff\xfe not a csv \x00\n\x01\x02",
        "foreign.csv": b"name,age\nann,3\n",
        "cut.csv": b'run_id,workload,runtime,batch_size,precision_requested,status\nr1,bert,eager,1,fp32,"ok',
        "mistyped.csv": b"run_id,workload,runtime,batch_size,precision_requested,status,latency_ms_p50\n"
        b"r1,bert,eager,1,fp32,ok,fast\n",
        "badstatus.csv": b"run_id,workload,runtime,batch_size,precision_requested,status\nr1,bert,eager,1,fp32,great\n",
        "garbage.parquet": b"PAR1 this is not parquet",
    }
    out = {}
    for name, data in files.items():
        out[name] = tmp_path / name
        out[name].write_bytes(data)
    foreign = tmp_path / "foreign.parquet"
    pd.DataFrame({"x": [1, 2]}).to_parquet(foreign)
    out["foreign.parquet"] = foreign
    return out


def test_report_and_compare_give_one_line_for_every_bad_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = make_set(tmp_path / "good", [{"runtime": "eager", "median": 10.0}], seed=1)
    (tmp_path / "empty-dir").mkdir()
    for name, path in {**_bad_files(tmp_path), "empty-dir": tmp_path / "empty-dir"}.items():
        assert report.main([str(path)]) == 2, name
        assert compare.main([str(good), str(path)]) == 2, name
        assert compare.main([str(path), str(good), "--fail-on-regression", "5"]) == 2, name
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 3 and all(line.startswith("harness.") for line in err), (name, err)


def test_a_gate_with_nothing_to_compare_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = make_set(tmp_path / "a", [{"runtime": "eager", "median": 10.0}], seed=1)
    b = make_set(tmp_path / "b", [{"runtime": "openvino", "median": 10.0}], seed=2)
    assert compare.main([str(a), str(b), "--fail-on-regression", "5"]) == 1
    assert "nothing was compared" in capsys.readouterr().err


def test_rerun_gives_one_line_for_rows_it_cannot_rebuild(tmp_path: Path) -> None:
    make_set(tmp_path / "s", [{"runtime": "eager", "median": 10.0}], seed=1)  # synthetic rows: no config_json
    files = _bad_files(tmp_path)
    cases = [
        (tmp_path / "s", "s-0", "has no stored configuration"),
        (tmp_path / "s", "nope", "no row with run_id"),
        (files["garbage.csv"], "r1", "cannot be read"),
        (files["foreign.csv"], "r1", "not a harness results file"),
    ]
    frame = pd.read_csv(tmp_path / "s" / "results.csv")
    for bad, label in (("{not json", "not JSON"), ('["a list"]', "not a job configuration"),
                       ('{"workload": {}}', "not a job configuration")):  # fmt: skip
        frame["config_json"] = bad
        path = tmp_path / f"config-{label.replace(' ', '-')}.csv"
        frame.to_csv(path, index=False)
        cases.append((path, "s-0", label))
    for source, run_id, needle in cases:
        run = _python("-m", "harness.rerun", str(source), run_id, cwd=tmp_path)
        assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
        (line,) = run.stderr.strip().splitlines()
        assert line.startswith("harness.rerun:") and needle in line, line


def test_report_quotes_rerun_commands_from_foreign_files(tmp_path: Path) -> None:
    make_set(tmp_path / "s", [{"runtime": "eager", "median": 10.0}], seed=1)
    frame = pd.read_csv(tmp_path / "s" / "results.csv")
    frame["run_id"] = "x; touch pwned"  # a row file cannot hold such a run_id; a results.csv from elsewhere can
    frame.to_csv(tmp_path / "foreign.csv", index=False)
    built = report.build([tmp_path / "foreign.csv"])
    assert built.reruns["command"].iloc[0].endswith("'x; touch pwned'")


# -- 9. two sweeps into one directory split the work -------------------------------------------------------


def test_two_sweeps_at_once_never_measure_a_configuration_twice(cli_factory, tmp_path: Path) -> None:
    import threading

    args = ("-m", "workload=tiny_resnet", "batch=1,2,3,4", "measure.min_s=0.5", "measure.max_s=1",
            f"hydra.sweep.dir={tmp_path / 'shared'}")  # fmt: skip
    outcomes = []
    runs = [threading.Thread(target=lambda d=d: outcomes.append(cli_factory(tmp_path / d)(*args))) for d in "ab"]
    for d in "ab":
        (tmp_path / d).mkdir()
    for thread in runs:
        thread.start()
    for thread in runs:
        thread.join()
    assert all(o.returncode == 0 for o in outcomes), [o.stderr[-2000:] for o in outcomes]
    frame = pd.read_csv(tmp_path / "shared" / "results.csv")
    ok = frame[frame["status"] == "ok"]
    assert sorted(ok["batch_size"]) == [1, 2, 3, 4], "each configuration measured exactly once"


# -- 10. a foreign directory's fields and files are data, never paths, programs or traps -------------------


def test_a_stored_run_id_never_chooses_where_a_file_is_written(tmp_path: Path) -> None:
    directory = tmp_path / "sub" / "older"
    _rows(3, directory)
    shutil.rmtree(directory / "rows")  # an older directory: its results.csv is imported into row files
    frame = pd.read_csv(directory / "results.csv")
    frame.loc[0, "run_id"], frame.loc[1, "run_id"] = "../../ESCAPED", str(tmp_path / "ABSOLUTE")
    frame.to_csv(directory / "results.csv", index=False)
    (directory / "results.parquet").unlink()
    notes = results.gather(directory).notes
    assert not list(tmp_path.rglob("ESCAPED*")) and not list(tmp_path.glob("ABSOLUTE*"))
    assert sum("is not a plain name" in n for n in notes) == 2, notes
    assert sorted(pd.read_csv(directory / "results.csv")["run_id"]) == ["r2"]
    with pytest.raises(ValueError, match="not a plain name"):
        results.write_row(directory, {"run_id": "../x", "status": "ok"})


def test_report_replaces_a_planted_link_instead_of_writing_through_it(tmp_path: Path) -> None:
    """In an --out directory (a results directory holding a link is refused: see below)."""
    good = make_set(tmp_path / "s", [{"runtime": "eager", "median": 10.0}], seed=1)
    out = tmp_path / "out"
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (out / "plots").mkdir(parents=True)
    (out / "report.md").symlink_to(victim)
    (out / "plots" / "bert-fp32-latency.png").symlink_to(victim)
    assert report.main([str(good), "--out", str(out)]) == 0
    assert victim.read_text() == "precious"
    assert not (out / "report.md").is_symlink() and (out / "report.md").read_text().startswith("# ")


@pytest.mark.parametrize("trap", ["fifo", "dev-zero", "link"])
def test_a_row_file_that_is_no_regular_file_is_skipped_not_read(tmp_path: Path, trap: str) -> None:
    good = make_set(tmp_path / "s", [{"runtime": "eager", "median": 10.0}], seed=1)
    planted = good / "rows" / "zzz.json"
    if trap == "fifo":
        os.mkfifo(planted)
    elif trap == "dev-zero":
        planted.symlink_to("/dev/zero")
    else:  # a link to a valid row file elsewhere: still not this directory's row
        outside = make_set(tmp_path / "elsewhere", [{"runtime": "openvino", "median": 5.0}], seed=2)
        planted.symlink_to(next((outside / "rows").glob("*.json")))
    run = _python("-m", "harness.compare", str(good), str(good), cwd=tmp_path)  # a hang fails by timeout
    assert "Traceback" not in run.stderr, run.stderr[-2000:]
    if trap == "fifo":
        assert run.returncode == 0 and "zzz.json is damaged" in run.stderr
    else:  # the tools refuse a directory holding a link in one line (results.check_no_links)
        assert run.returncode == 2 and f"{planted} is a symbolic link" in run.stderr
    notes: list[str] = []
    assert list(results.read_results(good, notes)["runtime"]) == ["eager"]


@pytest.mark.parametrize(
    ("tool", "args", "needle"),
    [
        ("compare", ["--fail-on-regression", "nan"], "--fail-on-regression: 'nan' is not allowed: a number from 0"),
        ("compare", ["--fail-on-regression", "-5"], "'-5' is not allowed"),
        ("compare", ["--min-effect", "inf"], "--min-effect: 'inf' is not allowed"),
        ("compare", ["--min-effect", "-10"], "'-10' is not allowed"),
        ("report", ["--accuracy-budget", "nan"], "--accuracy-budget: 'nan' is not allowed: a number from 0 to 100"),
        ("report", ["--accuracy-budget", "-5"], "'-5' is not allowed"),
        ("compare", ["--no-such-option"], "unrecognized arguments: --no-such-option"),
    ],
)
def test_tool_options_are_finite_and_in_range(tmp_path: Path, tool: str, args: list[str], needle: str) -> None:
    good = make_set(tmp_path / "s", [{"runtime": "eager", "median": 10.0}], seed=1)
    paths = [str(good), str(good)] if tool == "compare" else [str(good)]
    run = _python("-m", f"harness.{tool}", *paths, *args, cwd=tmp_path)
    assert run.returncode == 2, (run.returncode, run.stderr)
    (line,) = run.stderr.strip().splitlines()
    assert line.startswith(f"harness.{tool}: ") and needle in line, line


def _tampered(tmp_path: Path, column: str, value: object) -> Path:
    directory = make_set(tmp_path / "t", [{"runtime": "eager", "median": 10.0}], seed=1)
    (path,) = (directory / "rows").glob("*.json")
    payload = json.loads(path.read_text())
    payload["row"][column] = value
    path.write_text(json.dumps(payload))
    return directory


@pytest.mark.parametrize(
    ("column", "value", "needle"),
    [
        ("latency_ms_p50", 0, "'latency_ms_p50' holds 0.0 in an ok row"),
        ("latency_ms_p50", -5, "'latency_ms_p50' holds -5.0 in an ok row"),
        ("latency_ms_p50", 1e308, "'latency_ms_p50' holds 1e+308 in an ok row"),
        ("latency_ms_p50", 1e-300, "'latency_ms_p50' holds 1e-300 in an ok row"),
        ("latency_ms_p50", None, "has no latency_ms_p50; every ok row is a measurement"),  # passed a gate
        ("latency_ms_p99", 1.0, "has latency_ms_p99 below a lower quantile"),
        ("latency_ms_p50_ci_high", 1.0, "has its p50 outside its own 95% CI"),
        ("throughput_sps", 0, "'throughput_sps' holds 0.0 in an ok row"),
        # found by breaking it: an infinite rate divided by zero in the Decision; an accuracy of 1e308 broke a plot
        ("max_qps_meeting_bound", float("inf"), "'max_qps_meeting_bound' holds inf in an ok row"),
        ("accuracy", 1e308, "'accuracy' holds 1e+308 (run_id 't-0'); it must be a number in [0, 1]"),
        ("accuracy_delta_vs_fp32", -2, "'accuracy_delta_vs_fp32' holds -2.0 (run_id 't-0')"),
        ("speedup_vs_eager", 0, "'speedup_vs_eager' holds 0.0 (run_id 't-0'); it must be a number in [1e-09"),
        ("cpu_model", [1], "column 'cpu_model' holds a list (row 1), not a single value"),
        ("config_json", {"a": 1}, "column 'config_json' holds a dict"),
    ],
)
def test_values_no_measurement_can_have_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], column: str, value: object, needle: str
) -> None:
    damaged = _tampered(tmp_path, column, value)
    good = make_set(tmp_path / "good", [{"runtime": "eager", "median": 10.0}], seed=2)
    run = _python("-m", "harness.report", str(damaged), cwd=tmp_path)  # the command as a user runs it
    assert run.returncode == 2, run.stderr[-2000:]
    (line,) = run.stderr.strip().splitlines()
    assert needle in line, line
    for pair in ([damaged, good], [good, damaged]):  # the same check reads both sides (in this process: faster)
        assert compare.main([str(p) for p in pair]) == 2
        (line,) = capsys.readouterr().err.strip().splitlines()
        assert needle in line, line


def test_config_json_nested_past_the_recursion_limit_is_no_configuration(tmp_path: Path) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    damaged = _tampered(tmp_path, "config_json", deep)
    run = _python("-m", "harness.rerun", str(damaged), "t-0", cwd=tmp_path)
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr[-2000:]
    (line,) = run.stderr.strip().splitlines()
    assert "config_json is not JSON (JSON nested too deeply)" in line, line
    for command in (["harness.report", str(damaged)], ["harness.compare", str(damaged), str(damaged)]):
        run = _python("-m", *command, cwd=tmp_path)
        assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr[-2000:]


def test_a_results_csv_cut_inside_its_last_row_loses_that_row_only(tmp_path: Path) -> None:
    _rows(3, tmp_path / "s")
    text = (tmp_path / "s" / "results.csv").read_text()
    cut = tmp_path / "cut.csv"
    cut.write_text(text[: text.rindex("\n", 0, len(text) - 1) + 40])  # the last row, 40 characters of it
    notes: list[str] = []
    frame = results.read_results(cut, notes)
    assert sorted(frame["run_id"]) == ["r0", "r1"]
    assert len(notes) == 1 and "cut.csv is damaged" in notes[0] and "incomplete rows are skipped" in notes[0]
    assert "no final newline" in notes[0] or "fields" in notes[0]


def test_a_damaged_row_file_never_stops_the_views_being_written(tmp_path: Path) -> None:
    damaged = _tampered(tmp_path, "latency_ms_p50", 0)  # e.g. copied in from elsewhere
    notes = results.append_result(damaged, {"run_id": "new", "config_hash": "n", "status": "ok", "workload": "bert",
                                            "runtime": "eager", "batch_size": 1, "precision_requested": "fp32",
                                            "latency_ms_p50": 2.0})  # fmt: skip
    assert sorted(pd.read_csv(damaged / "results.csv")["run_id"]) == ["new", "t-0"]
    assert any(n.startswith("summary not written:") and "holds 0.0 in an ok row" in n for n in notes), notes


def test_text_from_a_foreign_directory_is_inert_in_the_report_and_on_the_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Markdown viewers render inline HTML and terminals act on escape sequences: a workload name, an error
    or a hostname from someone else's rows shows as text in report.md, report.html and compare's output."""
    hostile = "<img src=x onerror=alert(1)>\x1b]0;owned\x07|x\nnext"
    good = make_set(tmp_path / "s", [{"runtime": "eager", "median": 10.0},
                                     {"runtime": "ipex", "median": 9.0, "status": "error", "error": hostile}],
                    seed=1, env={"hostname": hostile, "cpu_model": "c", "torch_version": "2"})  # fmt: skip
    (good / "rows" / "\x1b]0;owned\x07.json").write_text("not json")  # its name is printed in the note about it
    assert report.main([str(good)]) == 0
    said = capsys.readouterr()
    assert "is damaged" in said.err and "\x1b" not in said.out + said.err and "\x07" not in said.out + said.err
    markdown, page = (good / "report.md").read_text(), (good / "report.html").read_text()
    for text in (markdown, page):
        assert "<img src=x" not in text and "\x1b" not in text and "\x07" not in text
    # escaped for the terminal (\\x1b), then for Markdown (a backslash doubled, so it shows as one)
    assert "&lt;img src=x onerror=alert(1)&gt;\\\\x1b]0;owned\\\\x07\\|x next" in markdown
    assert compare.main([str(good), str(good)]) in (0, 1)
    out = capsys.readouterr()
    assert "\x1b" not in out.out + out.err and "\x07" not in out.out + out.err


def test_names_in_rows_never_choose_where_the_report_writes_nor_break_its_plots(tmp_path: Path) -> None:
    """Plot files are named after the rows' workload, precision and host: a `../` in them stays inside
    plots/, and names that differ only in unsafe characters keep apart; a `$` in a name (matplotlib's
    mathtext) is drawn as typed, not parsed and failed on."""
    directory = tmp_path / "a" / "b" / "s"
    make_set(directory, [{"runtime": "eager", "median": 10.0, "workload": "../../../victim/pwn"},
                         {"runtime": "$\\frac{$", "median": 5.0, "workload": "../../../victim/pwn"},
                         {"runtime": "eager", "median": 10.0, "workload": "x/y", "precision_requested": "/../../q"},
                         {"runtime": "eager", "median": 10.0, "workload": "x_y", "precision_requested": "_.._.._q"}],
             seed=1)  # fmt: skip
    assert report.main([str(directory)]) == 0
    written = {p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file()}
    plots = {p for p in written if p.parent == Path("a/b/s/plots")}
    assert all(p.parts[:3] == ("a", "b", "s") for p in written), written - plots
    assert len(plots) == 3 * 5, sorted(plots)  # three workload x precision sets of 4 plots, one trade-off plot each


def test_a_placement_record_that_is_a_trap_reads_as_unknown(tmp_path: Path) -> None:
    """The driver reads where a dead worker ran from the sweep directory: a FIFO there must not block it, and
    JSON nested past the stack or not an object reads as "node unknown"."""
    from harness import cluster

    os.mkfifo(tmp_path / "fifo.json")
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (tmp_path / "list.json").write_text("[1]")
    for name in ("fifo.json", "deep.json", "list.json", "missing.json"):
        assert cluster.read_placement(tmp_path / name) == {}, name
    assert cluster.describe_node({}) == "node unknown"


def _planted(tmp_path: Path, change: dict[str, object], row: int = 1) -> Path:
    """A small result set (eager and openvino at batch 1) whose row `row` has `change` applied in its row file."""
    directory = make_set(tmp_path / "s", [{"runtime": "eager", "median": 10.0}, {"runtime": "openvino", "median": 5.0}],
                         seed=1)  # fmt: skip
    path = directory / "rows" / f"s-{row}.json"
    payload = json.loads(path.read_text())
    payload["row"].update(change)
    path.write_text(json.dumps(payload))
    for view in ("results.csv", "results.parquet", "latencies.parquet"):
        (directory / view).unlink(missing_ok=True)
    return directory


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"workload": None}, "column 'workload' is empty"),
        ({"batch_size": None}, "column 'batch_size' holds nan"),
        ({"batch_size": 1e300}, "it must be an integer from 1 to 1024"),
        ({"batch_size": 2.5}, "it must be an integer from 1 to 1024"),
        ({"target_qps": "abc"}, "column 'target_qps' holds 'abc'"),
        ({"gflops_per_s": "abc"}, "column 'gflops_per_s' holds 'abc'"),
        ({"run_id": "s-0"}, "run_id 's-0' names two rows"),
        # int() of an infinite `streams` or `timed_batches` raised OverflowError in report
        ({"streams": float("inf")}, "column 'streams' holds inf (row 2); it must be an integer from 0 to"),
        ({"timed_batches": float("inf")}, "column 'timed_batches' holds inf"),
        ({"repeat": -1}, "column 'repeat' holds -1.0"),
        ({"threads": 2.5}, "column 'threads' holds 2.5"),
        ({"requests_unserved": 1e300}, "column 'requests_unserved' holds 1e+300"),
        ({"cpu_model": {"a": 1}}, "column 'cpu_model' holds a dict"),
    ],
)  # fmt: skip
def test_a_planted_field_the_tools_compute_with_is_one_line_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: dict[str, object], said: str
) -> None:
    """Each of these crashed report (or, for a shared run_id, silently pooled two rows' latencies in compare)."""
    directory = _planted(tmp_path, change)
    for tool in (report.main, lambda argv: compare.main([*argv, *argv])):
        assert tool([str(directory)]) == 2
        err = capsys.readouterr().err
        assert said in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize(
    "change",
    [
        {"n_runs": "x", "_merge": "x", "variant": 3, "settings": [1]},  # names the tools compute: dropped
        {"profile_top_ops": '[["aten::mm", 1' + "0" * 400 + "]]"},
        {"workload": "w" * 200, "precision_requested": "p" * 200, "hostname": "h" * 200},
        {"config_json": json.dumps({"scenario": {"name": "single\x1b[31mRED"},
                                    "workload": {"options": {"k": "\x1b]0;t\x07"}}})},
        {"started_at": 17},  # a number among ISO texts: every sort of the rows raised TypeError
        {"status_a": "x", "latency_ms_p50_b": 3.0},  # compare's own join suffixes: pandas MergeError
    ],
)  # fmt: skip
def test_odd_fields_still_make_a_report_and_a_comparison(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: dict[str, object]
) -> None:
    directory = _planted(tmp_path, change)
    (directory / "rows" / ".x.json.99999999999999999999999.tmp").write_text("{}")  # a pid no process can have
    assert report.main([str(directory)]) == 0
    assert compare.main([str(directory), str(directory)]) == 0
    out = capsys.readouterr()
    assert "\x1b" not in out.out + out.err and "Traceback" not in out.err
    assert all(len(p.name) < 200 for p in (directory / "plots").iterdir())


def test_text_inside_config_json_is_printable_and_markdown_links_are_inert(tmp_path: Path) -> None:
    from harness.analysis import config_of, flat_settings

    text = json.dumps({"workload": {"name": "\x1b[2J\u202e", "options": {"\x07key": ["\x9b"]}}})
    assert config_of(text) == {"workload": {"name": "\\x1b[2J\\u202e", "options": {"\\x07key": ["\\x9b"]}}}
    assert flat_settings(text)["workload.options.\\x07key"] == ["\\x9b"]
    assert report.markdown_text("![p](http://evil/t.png)") == "!\\[p](http://evil/t.png)"


def test_no_link_or_image_forms_in_report_markdown_from_any_cells() -> None:
    """A link reference definition in one cell and a reference image in another rendered a remote image
    (`](` was broken, reference links were not): rendered by a CommonMark parser, no link, no image."""
    from markdown_it import MarkdownIt

    cells = ["![a][x]", '[x]: http://evil.example/t.png "', "[y](http://evil.example)", "[z]", "\\[w](http://e)",
             "<img src=http://evil.example/i.png>", "<http://evil.example>"]  # fmt: skip
    table = pd.DataFrame({"workload": cells, "error": ['"'] * len(cells)})
    quote = report.markdown_text('"')
    flags = "\n".join(f"- {report.markdown_text(c)} · ipex: {quote}" for c in cells)
    html_out = MarkdownIt("commonmark").enable("table").render(report.markdown_table(table) + "\n\n" + flags)
    assert "<img" not in html_out and "<a " not in html_out, html_out


def test_a_results_file_without_scores_or_with_thousands_of_columns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An older results.csv without `accuracy`/`agreement` crashed report and compare (None - float);
    200,000 empty columns kept them busy for minutes: one line."""
    directory = _planted(tmp_path, {})
    results.gather(directory)
    frame = pd.read_csv(directory / "results.csv")
    frame.drop(columns=["accuracy", "agreement"]).to_csv(tmp_path / "noscores.csv", index=False)
    assert report.main([str(tmp_path / "noscores.csv"), "--out", str(tmp_path / "out")]) == 0
    assert compare.main([str(directory), str(tmp_path / "noscores.csv")]) == 0
    assert "Traceback" not in capsys.readouterr().err
    wide = frame.assign(**{f"x{k}": "" for k in range(results.MAX_COLUMNS)})
    wide.to_csv(tmp_path / "wide.csv", index=False)
    assert compare.main([str(directory), str(tmp_path / "wide.csv")]) == 2
    err = capsys.readouterr().err
    assert f"columns; a harness results file has fewer than {results.MAX_COLUMNS}" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("lacks", ["status", "run_id", "bad run_id"])
def test_an_older_directory_never_loses_the_rows_it_cannot_import(tmp_path: Path, lacks: str) -> None:
    """Rows without a status or run_id (or with one that names a path) were skipped and results.csv then
    rewritten from the row files: the only copy of those rows was gone, with exit 0."""
    _rows(3, tmp_path)
    shutil.rmtree(tmp_path / "rows")
    (tmp_path / "results.parquet").unlink()
    frame = pd.read_csv(tmp_path / "results.csv")
    if lacks == "bad run_id":
        frame.loc[1, "run_id"] = "../evil"
    else:
        frame = frame.drop(columns=lacks)
    frame.to_csv(tmp_path / "results.csv", index=False)
    original = (tmp_path / "results.csv").read_bytes()
    notes = results.gather(tmp_path).notes
    (kept,) = tmp_path.glob("results.csv.damaged-*")
    assert kept.read_bytes() == original, "the file as it was stays beside the views"
    assert any("not imported" in n and kept.name in n for n in notes), notes
    assert all(isinstance(n, results.LostRows) for n in notes if kept.name in n)


def test_an_older_directory_imports_the_whole_copy_and_keeps_the_latencies_of_what_it_cannot(
    tmp_path: Path,
) -> None:
    """A parquet copy without status hid the CSV's whole copy of the same row (both files called
    damaged, 4 of 5 rows); the raw latencies of a row not imported were dropped with the views."""
    _rows(3, tmp_path)
    shutil.rmtree(tmp_path / "rows")
    parquet = pd.read_parquet(tmp_path / "results.parquet")
    parquet.loc[0, "status"] = None
    parquet.to_parquet(tmp_path / "results.parquet", index=False)
    notes = results.gather(tmp_path).notes
    assert sorted(results.read_results(tmp_path)["run_id"]) == ["r0", "r1", "r2"]
    assert not any("damaged" in n for n in notes) and not list(tmp_path.glob("*.damaged-*")), notes
    other = tmp_path / "other"
    _rows(2, other)
    shutil.rmtree(other / "rows")
    (other / "results.parquet").unlink()
    frame = pd.read_csv(other / "results.csv")
    frame.loc[1, "status"] = None
    frame.to_csv(other / "results.csv", index=False)
    results.gather(other)
    (kept,) = other.glob("latencies.parquet.damaged-*")
    assert set(pd.read_parquet(kept)["run_id"]) == {"r0", "r1"}, "the raw latencies of r1 are kept"


def test_timestamps_and_missing_config_hashes_of_a_foreign_file(tmp_path: Path) -> None:
    """A parquet's datetime started_at became missing (the older run was shown as the newest); a file
    without config_hash read as one configuration (three runtimes shown as one row)."""
    base = {"workload": "bert", "batch_size": 1, "precision_requested": "fp32", "status": "ok", "hostname": "h",
            "accuracy": 0.9, "agreement": 1.0}  # fmt: skip
    rows = [{**base, "run_id": "new", "config_hash": "c", "runtime": "eager", "latency_ms_p50": 20.0,
             "started_at": pd.Timestamp("2026-01-02")},
            {**base, "run_id": "old", "config_hash": "c", "runtime": "eager", "latency_ms_p50": 10.0,
             "started_at": pd.Timestamp("2026-01-01")}]  # fmt: skip
    pd.DataFrame(rows).to_parquet(tmp_path / "times.parquet", index=False)
    frame = results.read_results(tmp_path / "times.parquet")
    assert frame.set_index("run_id")["started_at"].to_dict() == {"new": "2026-01-02T00:00:00",
                                                                 "old": "2026-01-01T00:00:00"}  # fmt: skip
    shown = report.build([tmp_path / "times.parquet"]).tables["bert · fp32"]
    assert shown["p50 ms [95% CI] (one run)"].iloc[0].startswith("20.000"), shown
    unnamed = [{**base, "run_id": f"u{k}", "runtime": runtime, "latency_ms_p50": 10.0 + k,
                "started_at": f"2026-01-01T00:0{k}:00"}
               for k, runtime in enumerate(["eager", "ov", "compile"])]  # fmt: skip
    pd.DataFrame(unnamed).to_csv(tmp_path / "unnamed.csv", index=False)
    assert len(report.build([tmp_path / "unnamed.csv"]).tables["bert · fp32"]) == 3


def test_figures_the_report_computes_cannot_come_from_a_file(tmp_path: Path) -> None:
    """A planted runs_busy silenced the busy-runs flag; a planted latency_ms_p50_runs made report raise
    KeyError: the merge renamed the computed column."""
    directory = _planted(tmp_path, {"runs_busy": 0, "latency_ms_p50_runs": 1.0, "host": "x", "test_verdict": "x"})
    assert report.main([str(directory)]) == 0
    assert compare.main([str(directory), str(directory)]) == 0


def test_rerun_gives_one_line_for_a_stored_cache_dir_of_no_path_and_a_damaged_reruns_dir(tmp_path: Path) -> None:
    """A stored cache_dir of 5 and a damaged row already in SOURCE/reruns gave tracebacks with exit 1,
    which rerun means as "not reproduced"."""
    from harness.config import JobSpec

    config = JobSpec.from_dict({"workload": {"name": "bert", "module": "workloads.bert", "options": {}},
                                "runtime": {"name": "eager", "module": "runtimes.eager", "options": {}}})  # fmt: skip
    stored = {**json.loads(json.dumps(config.__dict__, default=lambda o: o.__dict__)), "cache_dir": 5}
    directory = _planted(tmp_path, {"config_json": json.dumps(stored)})
    (directory / "reruns" / "rows").mkdir(parents=True)
    damaged = {"format": 1, "row": {"run_id": "zz", "workload": "bert", "runtime": "eager", "batch_size": 1,
                                    "precision_requested": "fp32", "status": "ok", "latency_ms_p50": 0}}  # fmt: skip
    (directory / "reruns" / "rows" / "zz.json").write_text(json.dumps(damaged))
    run = _python("-m", "harness.rerun", str(directory), "s-1", cwd=tmp_path)
    assert run.returncode == 2 and "zz.json" in run.stderr and "Traceback" not in run.stderr, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    shutil.rmtree(directory / "reruns")
    from harness.rerun import trusted_spec

    spec, said = trusted_spec(stored, None, str(tmp_path / "cache"))
    assert spec.cache_dir == str(tmp_path / "cache") and any("cache_dir: stored 5" in line for line in said), said


def test_rerun_of_a_stored_configuration_with_options_that_are_no_mapping_is_one_line(tmp_path: Path) -> None:
    config = {"workload": {"name": "bert", "module": "workloads.bert", "options": {}},
              "runtime": {"name": "openvino", "module": "runtimes.openvino", "options": "zz"}}  # fmt: skip
    directory = _planted(tmp_path, {"config_json": json.dumps(config)})
    run = _python("-m", "harness.rerun", str(directory), "s-1", cwd=tmp_path)
    assert run.returncode == 2 and "runtime.options is a str, not a mapping" in run.stderr, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


# -- 11. a directory or cache from elsewhere never has the harness write outside it, nor hang it -----------


def _victim(tmp_path: Path) -> tuple[Path, Path]:
    """A file and a directory outside every results directory and cache, which nothing may change."""
    victim, elsewhere = tmp_path / "victim.txt", tmp_path / "elsewhere"
    victim.write_text("precious")
    elsewhere.mkdir()
    return victim, elsewhere


@contextlib.contextmanager
def _deadline(seconds: int) -> Iterator[None]:
    """Fail instead of hanging (a FIFO or /dev/zero read by mistake blocks forever)."""

    def expired(signum: int, frame: object) -> None:
        raise TimeoutError(f"still blocked after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("lock", ["views", "claim", "cache"])
def test_a_lock_file_planted_as_a_link_is_never_written_through(tmp_path: Path, lock: str) -> None:
    from harness import cache

    victim, _ = _victim(tmp_path)
    directory = tmp_path / "d"
    if lock == "views":
        directory.mkdir()
        (directory / ".results.lock").symlink_to(victim)
        results.gather(directory)
    elif lock == "claim":
        (directory / ".claims").mkdir(parents=True)
        (directory / ".claims" / "h-r0.lock").symlink_to(victim)
        with results.claim(directory, "h", 0) as mine:
            assert mine
    else:  # a cache's lock names are predictable: <kind>/<key>.lock
        (directory / "kind").mkdir(parents=True)
        (directory / "kind" / "key.lock").symlink_to(victim)
        cache.cached_entry(directory, "kind", "key", lambda d: (d / "f").write_text("x"))
    assert victim.read_text() == "precious"


@pytest.mark.parametrize("planted", [".results.lock", "plots", "rows", "summary.csv"])
def test_report_compare_and_gather_refuse_a_directory_holding_a_link(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], planted: str
) -> None:
    from harness import gather

    good = make_set(tmp_path / "s", [{"runtime": "eager", "median": 10.0}], seed=1)
    victim, elsewhere = _victim(tmp_path)
    if planted == "rows":  # read through the link, gathered into the directory: refused the same way
        shutil.move(good / "rows", elsewhere / "rows")
        (good / "rows").symlink_to(elsewhere / "rows")
    elif planted == "plots":
        (good / "plots").symlink_to(elsewhere)
    else:
        (good / planted).unlink(missing_ok=True)
        (good / planted).symlink_to(victim)
    before = sorted(elsewhere.rglob("*"))
    capsys.readouterr()
    for main, args in ((report.main, [good]), (compare.main, [good, good]), (gather.main, [good])):
        assert main([str(a) for a in args]) == 2, main
        (line,) = capsys.readouterr().err.strip().splitlines()
        assert f"{good / planted} is a symbolic link" in line, line
    assert victim.read_text() == "precious" and sorted(elsewhere.rglob("*")) == before


def test_rerun_into_a_read_only_source_names_its_own_option_before_announcing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by breaking it: a re-run of a directory it cannot write printed "re-running ... into" and then
    told the user to choose results_dir= or hydra.sweep.dir=, options rerun does not have."""
    from types import SimpleNamespace

    from harness import rerun

    good = make_set(tmp_path / "s", [{"runtime": "eager", "median": 10.0, "config_json": "{}"}], seed=1)
    monkeypatch.setattr(rerun, "trusted_spec", lambda stored, python, cache_dir: (
        SimpleNamespace(cache_dir=str(tmp_path / "cache")), []))  # fmt: skip
    with immutable(good):
        assert rerun.main([str(good), "s-0"]) == rerun.EXIT_CANNOT
    out, err = capsys.readouterr()
    assert "re-running" not in out and "--out" in err and "hydra.sweep.dir" not in err, (out, err)


def test_rerun_never_writes_through_a_planted_reruns_link(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness import rerun
    from harness.config import ConfigError

    good = make_set(tmp_path / "s", [{"runtime": "eager", "median": 10.0, "config_json": "{}"}], seed=1)
    _, elsewhere = _victim(tmp_path)
    (good / "reruns").symlink_to(elsewhere)

    def writes_like_a_job(spec: object, out: Path, force: bool) -> None:  # what run_job_isolated writes first
        (Path(out) / "rows").mkdir(parents=True, exist_ok=True)
        raise ConfigError("stopped here")

    monkeypatch.setattr(rerun, "trusted_spec", lambda stored, python, cache_dir: (None, []))
    monkeypatch.setattr(rerun, "run_job_isolated", writes_like_a_job)
    assert rerun.main([str(good), "s-0"]) == rerun.EXIT_CANNOT
    assert f"{good / 'reruns'} is a symbolic link" in capsys.readouterr().err
    assert not list(elsewhere.iterdir())
    # a results file names its rows only: re-run beside it, refused only for a link where it writes
    assert rerun.main([str(good / "results.csv"), "s-0"]) == rerun.EXIT_CANNOT
    assert f"{good / 'reruns'} is a symbolic link" in capsys.readouterr().err and not list(elsewhere.iterdir())
    checkout = tmp_path / "checkout"  # found by breaking it: a checkout's .venv link refused every re-run of a file
    checkout.mkdir()
    shutil.copy(good / "results.csv", checkout / "mine.csv")
    (checkout / ".venv").symlink_to(elsewhere)

    def stops_here(stored: object, python: object, cache_dir: object) -> None:
        raise ConfigError("stopped here")

    monkeypatch.setattr(rerun, "trusted_spec", stops_here)  # past the link check: far enough
    assert rerun.main([str(checkout / "mine.csv"), "s-0"]) == rerun.EXIT_CANNOT
    err = capsys.readouterr().err
    assert "stopped here" in err and "symbolic link" not in err, err
    # a sweep directory given through a link (`latest`): only what is inside it is the re-run's to check
    fresh = make_set(tmp_path / "fresh", [{"runtime": "eager", "median": 10.0, "config_json": "{}"}], seed=1)
    (tmp_path / "latest").symlink_to(fresh)
    assert rerun.main([str(tmp_path / "latest"), "fresh-0"]) == rerun.EXIT_CANNOT
    err = capsys.readouterr().err
    assert "stopped here" in err and "symbolic link" not in err, err


@pytest.mark.parametrize("planted", ["multirun.yaml", "0/.hydra/overrides.yaml"])
def test_a_sweep_resumed_into_a_directory_holding_a_link_stops_before_any_job(
    cli, tmp_path: Path, planted: str
) -> None:
    victim, _ = _victim(tmp_path)
    sweep = tmp_path / "sweep"
    (sweep / planted).parent.mkdir(parents=True)
    (sweep / planted).symlink_to(victim)
    run = cli("workload=tiny_resnet", "-m", f"hydra.sweep.dir={sweep}")
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr[-2000:]
    (line,) = run.harness_lines()
    assert f"{sweep / planted} is a symbolic link" in line
    assert victim.read_text() == "precious" and not (sweep / "rows").exists()


def test_hydras_directory_is_checked_where_hydra_writes_only(cli, tmp_path: Path) -> None:
    """`hydra.run.dir=.` in a checkout (whose .venv holds links) with results elsewhere was refused: only
    Hydra's own places there (.hydra/, multirun.yaml, logs, job folders) must hold no link."""
    victim, _ = _victim(tmp_path)
    checkout = tmp_path / "checkout"
    (checkout / ".venv" / "bin").mkdir(parents=True)
    (checkout / ".venv" / "bin" / "python").symlink_to(sys.executable)
    ok = cli("workload=tiny_resnet", f"hydra.run.dir={checkout}", f"results_dir={tmp_path / 'res'}")
    assert ok.returncode == 0, ok.stderr[-2000:]
    (checkout / ".hydra").rename(checkout / "old-hydra")
    (checkout / ".hydra").mkdir()
    (checkout / ".hydra" / "overrides.yaml").symlink_to(victim)
    refused = cli("workload=tiny_resnet", f"hydra.run.dir={checkout}", f"results_dir={tmp_path / 'res2'}")
    assert refused.returncode == 2, refused.stderr[-2000:]
    (line,) = refused.harness_lines()
    assert "overrides.yaml is a symbolic link where Hydra writes" in line and victim.read_text() == "precious"


@pytest.mark.parametrize("view", ["results.csv", "results.parquet", "latencies.parquet"])
@pytest.mark.parametrize("trap", ["fifo", "dev-zero"])
def test_a_view_that_is_no_regular_file_never_blocks_gather_or_report(tmp_path: Path, view: str, trap: str) -> None:
    good = make_set(tmp_path / "s", [{"runtime": "eager", "median": 10.0}], seed=1)
    path = good / view
    path.unlink()
    if trap == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")
    with _deadline(60):
        notes = results.gather(good).notes  # the mechanism under report, compare and a resumed sweep
        assert any(f"{path} was damaged" in note for note in notes), notes
        assert path.is_file() and not path.is_symlink()
        if trap == "fifo":  # (a link is refused by the tools before they read: see above)
            path.unlink()
            os.mkfifo(path)
            assert report.main([str(good)]) == 0


@pytest.mark.parametrize("trap", ["fifo", "dev-zero"])
def test_the_latencies_of_an_older_directory_are_never_read_from_a_trap(tmp_path: Path, trap: str) -> None:
    older = tmp_path / "older"
    older.mkdir()
    if trap == "fifo":
        os.mkfifo(older / "latencies.parquet")
    else:
        (older / "latencies.parquet").symlink_to("/dev/zero")
    with _deadline(60):
        assert results.read_latencies(older).empty


def test_a_cached_file_replaced_by_a_link_is_rebuilt_not_read_through(tmp_path: Path) -> None:
    from harness import cache

    entry = cache.cached_entry(tmp_path / "cache", "kind", "key", lambda d: (d / "f").write_text("x"))
    copy = tmp_path / "same-bytes-elsewhere"
    copy.write_text("x")  # the manifest's digest matches: only the link itself is wrong
    (entry.path / "f").unlink()
    (entry.path / "f").symlink_to(copy)
    again = cache.cached_entry(tmp_path / "cache", "kind", "key", lambda d: (d / "f").write_text("x"))
    assert not again.hit and "f is unreadable" in (again.note or "")
    assert not (again.path / "f").is_symlink()


@pytest.mark.parametrize("odd", ["file", "link"])
def test_a_cache_kind_that_is_no_directory_is_replaced_and_said(tmp_path: Path, odd: str) -> None:
    from harness import cache

    _, elsewhere = _victim(tmp_path)
    kind = tmp_path / "cache" / "flops"
    kind.parent.mkdir()
    if odd == "file":
        kind.write_text("junk")
    else:
        kind.symlink_to(elsewhere)
    entry = cache.cached_entry(kind.parent, "flops", "key", lambda d: (d / "flops.json").write_text("{}"))
    assert not entry.hit and f"cache directory {kind} was" in (entry.note or "")
    assert kind.is_dir() and not kind.is_symlink() and not list(elsewhere.iterdir())


@pytest.mark.parametrize("trap", ["plots-link", "plots-file", "report-dir", "png-dir", "immutable"])
def test_report_finds_an_unusable_output_place_before_building(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], trap: str
) -> None:
    good = make_set(tmp_path / "s", [{"runtime": "eager", "median": 10.0}], seed=1)
    _, elsewhere = _victim(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    if trap == "plots-link":
        (out / "plots").symlink_to(elsewhere)
    elif trap == "plots-file":
        (out / "plots").write_text("x")
    elif trap == "report-dir":
        (out / "report.md").mkdir()
    elif trap == "png-dir":
        (out / "plots" / "bert-fp32-latency.png").mkdir(parents=True)
    capsys.readouterr()
    with immutable(out) if trap == "immutable" else contextlib.nullcontext():
        assert report.main([str(good), "--out", str(out)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("harness.report: ") and str(out) in line
    assert not list(elsewhere.iterdir())


def _as_nobody(action: Callable[[], object]) -> str:
    """Run `action` in a forked child as the user nobody (the interpreter's own directory may be closed
    to that user, so no new interpreter); returns "" when it succeeded, else the child's error."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: no pytest machinery from here on
        os.close(read_end)
        try:
            os.setgid(65534)
            os.setuid(65534)
            action()
            os._exit(0)
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            os.write(write_end, f"{type(exc).__name__}: {exc}".encode())
            os._exit(1)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        error = pipe.read().decode()
    _, status = os.waitpid(pid, 0)
    return error or ("" if os.waitstatus_to_exitcode(status) == 0 else f"exit status {status}")


def test_any_user_of_the_machine_can_take_the_host_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness import machine

    shared = Path(tempfile.mkdtemp(prefix="harness-host-lock-", dir="/tmp"))  # like /run/lock: sticky, for all
    try:
        shared.chmod(0o1777)
        made, older = shared / "made.lock", shared / "older.lock"
        monkeypatch.setenv(machine.HOST_LOCK_ENV, str(made))
        with machine.host_lock("root's job"):
            pass
        assert made.stat().st_mode & 0o777 == 0o666
        older.write_text("")  # what an older harness left: root's, 0644
        older.chmod(0o644)
        for path in (made, older):
            monkeypatch.setenv(machine.HOST_LOCK_ENV, str(path))
            assert _as_nobody(lambda: machine.host_lock("nobody's job").__enter__()) == "", path
    finally:
        shutil.rmtree(shared)


@pytest.mark.parametrize("bad", ["directory", "through-a-file", "fifo"])
def test_a_bad_host_lock_is_one_line_before_any_job(cli, tmp_path: Path, bad: str) -> None:
    lock = {"directory": tmp_path / "adir", "through-a-file": tmp_path / "afile" / "x", "fifo": tmp_path / "fifo"}[bad]
    if bad == "directory":
        lock.mkdir()
    elif bad == "through-a-file":
        lock.parent.write_text("x")
    else:
        os.mkfifo(lock)
    run = cli("workload=tiny_resnet", "results_dir=res", env={"HARNESS_HOST_LOCK": str(lock)})
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr[-2000:]
    (line,) = run.harness_lines()
    assert f"HARNESS_HOST_LOCK={lock} cannot be the machine-wide measurement lock" in line
    assert not (tmp_path / "res").exists()


# -- 9. result directories from strangers, second round ----------------------------------------------------


def test_a_raw_latency_that_is_no_number_never_passes_a_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """B is twice as slow as A; one NaN among its raw latencies made the raw-latency test's p NaN, read as "no
    significant difference": the gate passed (exit 0)."""
    a = make_set(tmp_path / "a", [{"runtime": "eager", "median": 10.0}], seed=1)
    b = make_set(tmp_path / "b", [{"runtime": "eager", "median": 20.0}], seed=2)
    path = b / "rows" / "b-0.json"
    payload = json.loads(path.read_text())
    payload["latencies_ms"][0] = float("nan")
    path.write_text(json.dumps(payload))  # JSON NaN, as Python writes it
    assert compare.main([str(a), str(b), "--fail-on-regression", "10"]) == 2, "B's only row file is damaged"
    capsys.readouterr()
    notes: list[str] = []
    assert results.read_results(b, notes).empty and "b-0.json is damaged" in notes[0] and "raw latency" in notes[0]
    # an older directory (no row files) whose latencies.parquet holds a NaN: the test has no answer
    shutil.rmtree(b / "rows")
    latencies = pd.read_parquet(a / "latencies.parquet").assign(run_id="b-0")
    latencies.loc[0, "latency_ms"] = np.nan
    latencies.assign(latency_ms=latencies["latency_ms"] * 2).to_parquet(b / "latencies.parquet")
    pd.read_parquet(a / "results.parquet").assign(run_id="b-0", latency_ms_p50=lambda f: f["latency_ms_p50"] * 2,
                                                  latency_ms_p50_ci_low=lambda f: f["latency_ms_p50_ci_low"] * 2,
                                                  latency_ms_p50_ci_high=lambda f: f["latency_ms_p50_ci_high"] * 2,
                                                  latency_ms_p99=lambda f: f["latency_ms_p99"] * 2,
                                                  ).to_parquet(b / "results.parquet")  # fmt: skip
    (b / "results.csv").unlink()
    table, _ = compare.compare([a], [b])
    assert list(table["verdict"]) == ["cannot decide"] and "p=nan" in table["evidence"].iloc[0]
    assert compare.main([str(a), str(b), "--fail-on-regression", "10"]) == 1
    assert "1 row(s) could not be decided" in capsys.readouterr().err


def test_a_sweep_resumes_only_into_a_directory_report_can_read_and_write(cli, tmp_path: Path) -> None:
    """A damaged ok row (p50 0, no latencies) counted as a finished job while report refused the directory;
    a directory where the lock or a view belongs, or a file where .claims belongs, failed only after a job
    had been measured (or turned it into an error row). Each is one line, exit 2, before any job starts."""
    sweep = ["-m", "workload=tiny_resnet", "runtime=eager", "batch=1", "hydra.sweep.dir=s"]
    run = cli(*sweep)
    assert run.returncode == 0, run.stderr[-3000:]
    directory = tmp_path / "s"
    (path,) = (directory / "rows").glob("*.json")
    good = path.read_text()
    payload = json.loads(good)
    payload["row"]["latency_ms_p50"], payload["latencies_ms"] = 0, []
    path.write_text(json.dumps(payload))
    assert report.main([str(directory)]) == 2
    cases = [
        (lambda: path.write_text(json.dumps(payload)), "holds 0.0 in an ok row"),
        (lambda: (directory / ".results.lock").unlink() or (directory / ".results.lock").mkdir(),
         ".results.lock is a directory where the harness writes a file"),
        (lambda: (directory / "results.csv").unlink() or (directory / "results.csv").mkdir(),
         "results.csv is a directory where the harness writes a file"),
        (lambda: shutil.rmtree(directory / ".claims") or (directory / ".claims").write_text(""),
         ".claims is not a directory (the harness keeps its job claims there)"),
    ]  # fmt: skip
    for damage, said in cases:
        path.write_text(good)
        for name in (".results.lock", "results.csv"):
            if (directory / name).is_dir():
                (directory / name).rmdir()
                (directory / name).write_text("")
        if (directory / ".claims").is_file():
            (directory / ".claims").unlink()
            (directory / ".claims").mkdir()
        damage()
        run = cli(*sweep)
        assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr[-3000:]
        (line,) = run.harness_lines()
        assert said in line and "cannot be" in line, line
        if said.startswith("holds"):  # the row file to move away is named
            assert f"move s/rows/{path.name} away" in line, line
        assert "starting" not in run.stderr and "skipped" not in run.stderr, "no job may start nor be skipped"
        assert len(list((directory / "rows").glob("*.json"))) == 1


@pytest.mark.parametrize("place", [".results.lock", "results.csv", "results.parquet"])
def test_gather_says_one_line_for_a_directory_where_a_file_belongs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], place: str
) -> None:
    from harness import gather

    directory = make_set(tmp_path / "s", [{"runtime": "eager", "median": 10.0}], seed=1)
    (directory / place).unlink(missing_ok=True)
    (directory / place).mkdir()
    assert gather.main([str(directory)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert f"{place} is a directory where the harness writes a file" in line, line
    assert report.main([str(directory)]) == 0, "report reads the row files all the same"


@pytest.mark.parametrize("column", ["latency_ms_p50", "repeat", "batch_size", "threads", "accuracy", "streams"])
def test_an_integer_beyond_int64_in_a_row_file_is_one_line_not_an_overflow(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], column: str
) -> None:
    """10**400 is valid JSON: numpy and pandas raised OverflowError in report, compare, gather and resume."""
    from harness import gather

    directory = _planted(tmp_path, {column: 10**400})
    assert report.main([str(directory)]) in (0, 2)
    assert compare.main([str(directory), str(directory)]) in (0, 2)
    assert gather.main([str(directory)]) == 0
    err = capsys.readouterr().err
    assert "Traceback" not in err and "Overflow" not in err, err
    if column != "accuracy":  # an accuracy of inf is shown as such; every other column refuses it
        assert "holds inf" in err, err
        with pytest.raises(results.ResultsError, match="holds inf"):
            results.completed(directory)


def test_an_integer_beyond_int64_among_raw_latencies_is_a_damaged_row_file(tmp_path: Path) -> None:
    directory = make_set(tmp_path / "s", [{"runtime": "eager", "median": 10.0}], seed=1)
    path = directory / "rows" / "s-0.json"
    payload = json.loads(path.read_text())
    payload["latencies_ms"][5] = 10**400
    path.write_text(json.dumps(payload))
    notes: list[str] = []
    assert results.read_results(directory, notes).empty and "s-0.json is damaged" in notes[0], notes


@pytest.mark.parametrize(
    "change",
    [
        {"target_qps": 5.0},  # without achieved_qps, latency_bound_ms: KeyError
        {"target_qps": 5.0, "achieved_qps": 4.0},
        {"speedup_vs_eager_ci_low": 1.5, "speedup_vs_eager": 2.0},  # without _ci_high: KeyError
        {"timed_batches": 3, "timed_len_min": 4},
        {"latency_ms_p99_ci_low": 5.5},
    ],
)
def test_a_column_without_its_partners_reads_as_partners_not_recorded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: dict[str, object]
) -> None:
    directory = _planted(tmp_path, change)
    assert report.main([str(directory)]) == 0
    assert compare.main([str(directory), str(directory)]) == 0
    assert "Traceback" not in capsys.readouterr().err


def test_parquet_categories_and_array_cells_are_plain_values_or_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A categorical `status` raised TypeError in report and compare; numpy arrays in object cells (a list
    column) raised "unhashable type: 'numpy.ndarray'"."""
    good = make_set(tmp_path / "s", [{"runtime": "eager", "median": 10.0}, {"runtime": "openvino", "median": 5.0}],
                    seed=1)  # fmt: skip
    frame = pd.read_parquet(good / "results.parquet")
    categorical = tmp_path / "categorical.parquet"
    frame.assign(status=frame["status"].astype("category"), runtime=frame["runtime"].astype("category")).to_parquet(
        categorical
    )
    assert report.main([str(categorical)]) == 0
    assert compare.main([str(categorical), str(categorical)]) == 0
    assert "Traceback" not in capsys.readouterr().err
    listed = tmp_path / "listed.parquet"
    frame.assign(cpu_model=[np.array(["a", "b"]), np.array(["c"])]).to_parquet(listed)
    assert report.main([str(listed)]) == 2
    assert compare.main([str(listed), str(good)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all("column 'cpu_model' holds a ndarray (row 1), not a single value" in e for e in err)


def test_a_gate_fails_when_a_damaged_row_file_was_skipped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """B's regressed row file damaged: it was skipped with a note, its configuration showed 'only in A',
    and the gate passed on the rows that were left."""
    a = make_set(tmp_path / "a", [{"runtime": "eager", "median": 10.0}, {"runtime": "openvino", "median": 5.0}], seed=1)
    b = make_set(tmp_path / "b", [{"runtime": "eager", "median": 10.0}, {"runtime": "openvino", "median": 9.0}], seed=2)
    assert compare.main([str(a), str(b), "--fail-on-regression", "10"]) == 1  # openvino 1.8x slower
    capsys.readouterr()
    slow = next(p for p in (b / "rows").glob("*.json") if '"openvino"' in p.read_text())
    slow.write_text(slow.read_text()[:50])  # cut: a damaged row file
    assert compare.main([str(a), str(b), "--fail-on-regression", "10"]) == 1
    err = capsys.readouterr().err
    assert "is damaged" in err and "a gate cannot vouch for rows it did not see" in err, err
    assert compare.main([str(a), str(b)]) == 0, "without a gate, the comparison of what was read stands"


def test_a_gate_does_not_fail_on_notes_that_lose_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Views rewritten from intact row files (a copy without .views.sha256.json, an edited results.csv)
    lose no row: the gate failed on the first run and passed on the second, same data."""
    a = make_set(tmp_path / "a", [{"runtime": "eager", "median": 10.0}], seed=1)
    b = make_set(tmp_path / "b", [{"runtime": "eager", "median": 10.0}], seed=2)
    (b / ".views.sha256.json").unlink()
    with (b / "results.csv").open("a") as edited:
        edited.write("\n")
    assert compare.main([str(a), str(b), "--fail-on-regression", "50"]) == 0
    assert "rewritten" in capsys.readouterr().err


def test_plot_axes_show_numbers_not_mathtext(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With mathtext off for the rows' names (literal_plot_text), log axes showed their ticks as raw
    `$\\mathdefault{10^{3}}$`: every tick label of every saved plot is plain text."""
    import matplotlib.figure

    seen: list[str] = []
    save = matplotlib.figure.Figure.savefig

    def capturing(figure, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
        figure.canvas.draw()
        for ax in figure.axes:
            for axis in (ax.xaxis, ax.yaxis):
                seen.extend(t.get_text() for t in axis.get_ticklabels(which="both") if t.get_text())
        return save(figure, *args, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", capturing)
    runs = [{"runtime": "eager", "median": 300.0}, {"runtime": "openvino", "median": 4.0}]
    good = make_set(tmp_path / "s", runs, seed=1)
    assert report.main([str(good)]) == 0
    assert seen and not [t for t in seen if "$" in t or "mathdefault" in t], seen


def test_a_name_with_a_line_break_cannot_forge_a_second_message_line(tmp_path: Path) -> None:
    """Found by breaking it: a link named `x\\nharness.report: all good` in a results directory split the
    one-line refusal into two lines, the second forged. Every message the tools print is one line (line
    breaks escaped) and cut at untrusted.MAX_LINE_CHARS."""
    from harness.untrusted import MAX_LINE_CHARS, one_line

    directory = make_set(tmp_path / "d", [{"runtime": "eager", "median": 10.0}], seed=1)
    (directory / "x\nharness.report: all good").symlink_to("/etc/passwd")
    run = _python("-m", "harness.report", str(directory), cwd=tmp_path)
    assert run.returncode == 2, run.stderr
    (line,) = run.stderr.strip().splitlines()
    assert "x\\nharness.report: all good is a symbolic link" in line, line
    assert one_line("a\r\nb\u2028c\td") == "a\\r\\nb\\u2028c\\td" and len(one_line("v" * 10**6)) == MAX_LINE_CHARS


def test_cache_entries_swapped_between_keys_are_rebuilt(tmp_path: Path) -> None:
    """Found by breaking it: two accuracy entries exchanged (each whole, its manifest matching its files)
    served eager's scores to onnxruntime and the other way round, cached, with no note. A manifest names
    its key; an entry under another name is rebuilt and said."""
    from harness import cache

    for key, text in (("a", "scores of a"), ("b", "scores of b")):
        cache.cached_entry(tmp_path, "accuracy", key, lambda d, t=text: (d / "s").write_text(t))
    kind = tmp_path / "accuracy"
    os.rename(kind / "a", kind / "swap")
    os.rename(kind / "b", kind / "a")
    os.rename(kind / "swap", kind / "b")
    for key in ("a", "b"):
        again = cache.cached_entry(tmp_path, "accuracy", key, lambda d, k=key: (d / "s").write_text(f"scores of {k}"))
        assert not again.hit and "filed under the wrong name" in (again.note or ""), again
        assert (again.path / "s").read_text() == f"scores of {key}"


def test_an_entry_written_before_manifests_named_their_key_stands(tmp_path: Path) -> None:
    """Found by breaking it: every entry of an older cache was "damaged (its manifest names another key
    ('None'))" and rebuilt: offline models keyed on their recipe alone refitted for minutes."""
    from harness import cache

    entry = cache.cached_entry(tmp_path, "models", "recipe", lambda d: (d / "f").write_text("x")).path
    manifest = json.loads((entry / "manifest.json").read_text())
    (entry / "manifest.json").write_text(json.dumps({"sha256": manifest["sha256"]}))  # as older code wrote it
    again = cache.cached_entry(tmp_path, "models", "recipe", lambda d: (d / "f").write_text("rebuilt"))
    assert again.hit and again.note is None and (again.path / "f").read_text() == "x"


def test_a_cache_dir_linked_to_a_disk_that_is_not_there_is_one_line(cli, tmp_path: Path) -> None:
    """Found by breaking it: a cache_dir that is a link to an unmounted disk passed the up-front check
    (a dangling link does not exist, so its parent was probed) and every job was an error row."""
    (tmp_path / "cache-link").symlink_to("/nonexistent/disk")
    for place in (tmp_path / "cache-link", tmp_path / "cache-link" / "sub"):
        run = cli("workload=tiny_resnet", f"cache_dir={place}")
        assert run.returncode == 2 and "starting" not in run.stderr, run.stderr[-2000:]
        (line,) = run.harness_lines()
        assert f"{tmp_path / 'cache-link'} is a symbolic link to '/nonexistent/disk', which does not exist" in line
