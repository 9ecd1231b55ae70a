"""Result files: the documented schema, concurrent appends, readable with no options."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness import results


def _append(args: tuple[str, int]) -> None:
    directory, k = args
    row = {"run_id": f"run{k}", "config_hash": f"h{k}", "status": "ok", "latency_ms_p50": float(k + 1)}
    results.append_result(Path(directory), row, np.arange(1, k + 2, dtype=float))  # latencies are > 0


def test_concurrent_writers_keep_every_row(tmp_path: Path) -> None:
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        pool.map(_append, [(str(tmp_path), k) for k in range(12)])
    frame = pd.read_csv(tmp_path / "results.csv")  # no options needed
    assert sorted(frame["run_id"]) == sorted(f"run{k}" for k in range(12))
    assert list(frame.columns[: len(results.COLUMNS)]) == results.COLUMNS
    parquet = pd.read_parquet(tmp_path / "results.parquet")
    assert len(parquet) == 12
    latencies = results.read_latencies(tmp_path)
    assert latencies.groupby("run_id").size().to_dict() == {f"run{k}": k + 1 for k in range(12)}


def test_completed_hashes_only_counts_ok_rows(tmp_path: Path) -> None:
    named = {"workload": "w", "runtime": "eager", "batch_size": 1, "precision_requested": "fp32"}  # as every row is
    results.append_result(tmp_path, {"run_id": "a", "config_hash": "good", "status": "ok", "latency_ms_p50": 1.0,
                                     **named})  # fmt: skip
    results.append_result(tmp_path, {"run_id": "b", "config_hash": "bad", "status": "error", "error": "x", **named})
    assert results.completed(tmp_path).ok == {("good", 0)}


def test_an_ok_row_of_other_harness_code_is_no_finished_repeat(tmp_path: Path) -> None:
    """Found by breaking it: after a code change a resume skipped 3 finished repeats that the summary then
    left out as other software, so repeats=4 gave a single run. A repeat is finished by this code's rows."""
    from harness.cache import code_fingerprint

    named = {"workload": "w", "runtime": "eager", "batch_size": 1, "precision_requested": "fp32", "status": "ok",
             "latency_ms_p50": 1.0, "config_hash": "c"}  # fmt: skip
    for run_id, repeat, code in (("a", 0, "old-code"), ("b", 1, code_fingerprint()), ("c", 2, None)):
        results.append_result(tmp_path, {**named, "run_id": run_id, "repeat": repeat, "harness_code": code})
    done = results.completed(tmp_path)
    assert done.ok == {("c", 1), ("c", 2)} and done.other_code == {("c", 0)}, done


def test_reading_an_empty_directory_gives_the_schema_and_a_missing_one_an_error(tmp_path: Path) -> None:
    frame = results.read_results(tmp_path)
    assert frame.empty and list(frame.columns) == results.COLUMNS
    with pytest.raises(results.ResultsError, match="nothing does not exist"):
        results.read_results(tmp_path / "nothing")


def _row(run_id: str, config_hash: str, status: str, at: str, **more: object) -> dict[str, object]:
    return {"run_id": run_id, "config_hash": config_hash, "status": status, "started_at": at, "workload": "w",
            "runtime": "eager", "batch_size": 1, "precision_requested": "int8", "repeat": 0,
            "harness_git_sha": "0123456789ab", "hostname": "here",
            **({"latency_ms_p50": 1.0} if status == "ok" else {}), **more}  # fmt: skip


def test_only_the_newest_row_of_this_commit_on_this_host_settles_unsupported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A configuration counts as finished for every repeat only when its newest row is `unsupported` from this
    very commit on this host: a later ok (or error) row, another commit, a dirty tree or another host asks again."""
    monkeypatch.setattr(results, "git_sha", lambda: "0123456789ab")
    monkeypatch.setattr(results.socket, "gethostname", lambda: "here")
    rows = [
        _row("a", "settled", "unsupported", "2026-11-30T10:00:00+00:00", error="no int8 \x1b]0;owned\x07here"),
        _row("b", "fixed", "unsupported", "2026-11-30T10:00:00+00:00", error="x"),
        _row("c", "fixed", "ok", "2026-11-30T11:00:00+00:00", latency_ms_p50=1.0),
        _row("d", "failed_later", "unsupported", "2026-11-30T10:00:00+00:00", error="x"),
        _row("e", "failed_later", "error", "2026-11-30T11:00:00+00:00", error="boom"),
        _row("f", "elsewhere", "unsupported", "2026-11-30T10:00:00+00:00", error="x", hostname="node7"),
        _row("g", "older_code", "unsupported", "2026-11-30T10:00:00+00:00", error="x", harness_git_sha="fedcba987654"),
        _row("h", "silent", "unsupported", "2026-11-30T10:00:00+00:00"),
    ]
    for row in rows:
        results.append_result(tmp_path, row)
    done = results.completed(tmp_path)
    assert ("settled", 0) in done and ("settled", 5) in done and ("silent", 2) in done
    assert ("fixed", 0) in done and ("fixed", 1) not in done, "an ok row after the unsupported one"
    for config_hash in ("failed_later", "elsewhere", "older_code"):
        assert (config_hash, 0) not in done, config_hash
    status, reason = done.reason("settled", 3)
    assert status == "unsupported" and "\x1b" not in reason and "\\x1b]0;owned\\x07here" in reason
    assert "no reason recorded" in done.reason("silent", 0)[1]
    assert done.reason("fixed", 0) == ("ok", "an ok row with config_hash fixed, repeat 0, exists")
    monkeypatch.setattr(results, "git_sha", lambda: "0123456789ab-dirty")
    assert ("settled", 0) not in results.completed(tmp_path), "uncommitted code may answer otherwise"


def test_text_read_from_results_cannot_drive_the_terminal(tmp_path: Path) -> None:
    """Rows from elsewhere are printed (tables, reports, compare): escape sequences, other controls and bidi
    overrides come back as visible escapes; newlines, tabs and non-ASCII letters are kept."""
    results.append_result(tmp_path, _row("a", "h", "error", "2026-11-30T10:00:00+00:00",
                                         error="\x1b[2J\x1b]0;t\x07 \u202eevil\rgone \x9b1m é\n\tnext"))  # fmt: skip
    error = results.read_results(tmp_path)["error"].iloc[0]
    assert error == "\\x1b[2J\\x1b]0;t\\x07 \\u202eevil\\rgone \\x9b1m é\n\tnext"


def test_the_closing_table_shows_each_row_once_and_survives_a_planted_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Repeat 0 ran in this session and came back unsupported; repeat 1 was skipped for that answer: one row.
    A row file that cannot be read as results ends the table with one line, not a traceback."""
    from harness.report_table import print_session_table
    from harness.runner import JobOutcome

    results.append_result(tmp_path, _row("old", "h", "unsupported", "2026-11-29T10:00:00+00:00", error="why"))
    results.append_result(tmp_path, _row("mine", "h", "unsupported", "2026-11-30T10:00:00+00:00", error="why"))
    outcomes = [JobOutcome(row=_row("mine", "h", "unsupported", "2026-11-30T10:00:00+00:00", error="why")),
                JobOutcome(row={"config_hash": "h", "repeat": 1, "status": "unsupported"}, skipped=True)]  # fmt: skip
    print_session_table([tmp_path], outcomes)
    table = capsys.readouterr().out
    assert table.count("unsupported") == 1, table
    results.append_result(tmp_path, _row("planted", "p", "unsupported", "2026-11-30T10:00:00+00:00", error=["a"]))
    print_session_table([tmp_path], outcomes)
    captured = capsys.readouterr()
    assert "harness: no summary table: " in captured.err and "holds a list" in captured.err, captured.err
    assert "Traceback" not in captured.err and len(captured.err.splitlines()) == 2  # and the unsupported job's line


def test_the_closing_table_and_progress_labels_tell_repeats_and_loads_apart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Three repeats of one configuration printed three identical-looking lines; an offline x2 job's progress
    label read like the x1 job's."""
    from harness.cli import CliOptions, job_label, spec_from_config
    from harness.report_table import print_session_table
    from harness.runner import JobOutcome

    rows = [_row(f"r{n}", "h", "ok", f"2026-11-30T10:0{n}:00+00:00", repeat=n) for n in range(3)]
    for row in rows:
        results.append_result(tmp_path, row)
    print_session_table([tmp_path], [JobOutcome(row=r) for r in rows])
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split()[:4] == ["workload", "runtime", "batch", "run"], lines
    assert [line.split()[3] for line in lines[1:4]] == ["1", "2", "3"], lines
    print_session_table([tmp_path], [JobOutcome(row=rows[0])])
    assert " run " not in capsys.readouterr().out  # one run shown: no column

    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(Path(__file__).parents[1] / "conf"), version_base=None):
        cfg = compose("config", overrides=["scenario=offline", "scenario.streams=2", "repeats=3"])
    spec, options = spec_from_config(cfg), CliOptions(repeats=3, repeat=1)
    assert job_label(spec, options, 2, 6).endswith("· batch 1 · fp32 · offline x2 · run 2/3"), job_label(
        spec, options, 2, 6
    )


def test_the_closing_table_of_a_resume_shows_the_commands_own_repeats_and_names_loads_in_its_warnings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A `repeats=2` resume over a directory holding 3 ok repeats (all skipped) showed run 3 and neither of its
    own; the busy-machine line of an offline x2 row read like the x1 row's; a run cut short went unsaid."""
    from harness.report_table import print_session_table
    from harness.runner import JobOutcome

    offline = json.dumps({"scenario": {"name": "offline", "streams": 2}, "measure": {"min_calls": 20}})
    rows = [_row(f"r{n}", "h", "ok", f"2026-11-30T10:0{n}:00+00:00", repeat=n, config_json=offline, n_calls=30,
                 other_cpu_share=0.5 if n == 1 else 0.0) for n in range(3)]  # fmt: skip
    rows[0]["n_calls"] = 12
    for row in rows:
        results.append_result(tmp_path, row)
    print_session_table([tmp_path], [JobOutcome(row={"config_hash": "h", "repeat": n, "status": "ok"}, skipped=True)
                                     for n in range(2)])  # fmt: skip
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split()[:4] == ["workload", "runtime", "batch", "run"], lines
    assert [line.split()[3] for line in lines[1:3]] == ["1", "2"] and lines[3] == "", lines
    assert lines[5].startswith("cut short: w · eager · batch 1 · int8 · offline x2: only 12 timed call(s), fewer "
                               "than measure.min_calls=20"), lines  # fmt: skip
    assert "busy machine: w · eager · batch 1 · int8 · offline x2 · run 2: other processes used 50%" in lines[6], lines
    assert len(lines) == 7, lines


# -- result directories from strangers: what the reading and writing of a directory refuses ------------------
def _legacy(directory: Path, **columns: object) -> Path:
    """An older results directory (results.parquet and latencies.parquet, no rows/) of two rows, with `columns`."""
    directory.mkdir()
    frame = pd.DataFrame({"run_id": ["old-0", "old-1"], "config_hash": ["h0", "h1"], "workload": "bert",
                          "runtime": ["eager", "openvino"], "batch_size": 1, "precision_requested": "fp32",
                          "status": "ok", "latency_ms_p50": [2.0, 1.0], **columns})  # fmt: skip
    frame.to_parquet(directory / "results.parquet")
    latencies = {"run_id": ["old-0"] * 3 + ["old-1"] * 3, "call_index": [0, 1, 2] * 2,
                 "latency_ms": [2.0, 2.1, 1.9, 1.0, 1.1, 0.9]}  # fmt: skip
    pd.DataFrame(latencies).to_parquet(directory / "latencies.parquet")
    return directory


def test_an_older_directory_with_values_json_cannot_hold_is_imported_whole(tmp_path: Path) -> None:
    """A datetime `started_at` and a bytes column raised TypeError in write_row after rows/ was made; the next
    gather took the half rows/ for the truth and wrote 0 rows over results.parquet."""
    from harness import gather

    directory = _legacy(tmp_path / "old", started_at=pd.to_datetime(["2025-01-01T10:00:00", "2025-01-01T11:00:00"]),
                        blob=[b"\x00\xffab", b"x"])  # fmt: skip
    assert gather.main([str(directory)]) == 0
    for _ in range(2):  # a second gather finds the same rows
        frame = results.read_results(directory)
        assert sorted(frame["run_id"]) == ["old-0", "old-1"]
        assert frame.set_index("run_id").loc["old-0", "started_at"] == "2025-01-01T10:00:00"
        assert frame.set_index("run_id").loc["old-0", "blob"] == "\\x00\\xffab"
        assert len(results.read_latencies(directory)) == 6
        assert gather.main([str(directory)]) == 0
    listed = _legacy(tmp_path / "listed", cpu_model=[np.array(["a", "b"]), np.array(["c"])])
    assert gather.main([str(listed)]) == 0, "rows are kept; the reader says what is wrong with them"
    with pytest.raises(results.ResultsError, match="column 'cpu_model' holds a list"):
        results.read_results(listed)


def test_a_failed_import_of_an_older_directory_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness import gather

    directory = _legacy(tmp_path / "old")
    before = {p.name: p.read_bytes() for p in directory.iterdir()}
    written = []

    def failing(*args: object, **kwargs: object) -> Path:
        if written:
            raise OSError(28, "No space left on device")
        written.append(args)
        return write_row(*args, **kwargs)

    write_row = results.write_row
    monkeypatch.setattr(results, "write_row", failing)
    assert gather.main([str(directory)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "older result files cannot be imported" in line and "nothing was changed" in line, line
    after = {p.name: p.read_bytes() for p in directory.iterdir() if p.name != results.LOCK_FILE}
    assert after == before, "no half rows/, no staging directory"


def test_a_foreign_latencies_file_is_one_line_not_a_key_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness import compare, gather

    directory = _legacy(tmp_path / "old")
    pd.DataFrame({"x": [1.0]}).to_parquet(directory / "latencies.parquet")
    assert compare.main([str(directory), str(directory)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "latencies.parquet is not a harness latency file: no column run_id, latency_ms" in line, line
    assert gather.main([str(directory)]) == 0
    err = capsys.readouterr().err
    assert "latencies.parquet was damaged" in err and "kept as latencies.parquet.damaged-" in err, err
    assert sorted(results.read_results(directory)["run_id"]) == ["old-0", "old-1"]


def test_a_csv_field_over_128_kib_is_whole(tmp_path: Path) -> None:
    """csv.reader stops at 128 KiB a field by default: a valid file with a long error text read as cut."""
    path = tmp_path / "results.csv"
    rows = {"run_id": ["a", "b"], "workload": "bert", "runtime": "eager", "batch_size": 1,
            "precision_requested": "fp32", "status": "error", "error": ["x" * 300_000, "y"]}  # fmt: skip
    pd.DataFrame(rows).to_csv(path)
    notes: list[str] = []
    frame = results.read_results(path, notes)
    assert sorted(frame["run_id"]) == ["a", "b"] and len(frame["error"].iloc[0]) == 300_000 and not notes, notes
    import csv

    assert csv.field_size_limit() == 131072, "the module's limit is put back"


def test_a_directory_named_like_an_abandoned_row_file_is_left_alone(tmp_path: Path) -> None:
    """_abandoned removed what a dead writer left with unlink(): on a directory, IsADirectoryError."""
    import socket

    results.append_result(tmp_path, _row("a", "h", "ok", "2026-11-30T10:00:00+00:00"))
    planted = tmp_path / "rows" / f".a.json.3999999@{socket.gethostname()}.tmp"
    planted.mkdir()
    gathered = results.gather(tmp_path)
    assert list(gathered.frame["run_id"]) == ["a"] and planted.is_dir()
    assert any("no regular file" in n and str(planted) in n for n in gathered.notes), gathered.notes
    assert ("h", 0) in results.completed(tmp_path)


def test_a_row_file_with_more_raw_latencies_than_a_run_can_make_is_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(results, "MAX_LATENCIES_PER_ROW", 100)
    results.append_result(tmp_path, _row("a", "h", "ok", "2026-11-30T10:00:00+00:00"), np.ones(101))
    results.append_result(tmp_path, _row("b", "g", "ok", "2026-11-30T10:00:00+00:00"), np.ones(100))
    gathered = results.gather(tmp_path)
    assert list(gathered.frame["run_id"]) == ["b"]
    assert any("a.json is damaged" in n and "more than 100" in n for n in gathered.notes), gathered.notes


@pytest.mark.parametrize("latency", [float("nan"), float("inf"), -1.0, 0.0, 10**400])
def test_a_row_file_with_a_raw_latency_that_is_no_measurement_is_damaged(tmp_path: Path, latency: object) -> None:
    import json

    results.append_result(tmp_path, _row("a", "h", "ok", "2026-11-30T10:00:00+00:00"), np.ones(10))
    path = tmp_path / "rows" / "a.json"
    payload = json.loads(path.read_text())
    payload["latencies_ms"][3] = latency
    path.write_text(json.dumps(payload))
    notes: list[str] = []
    assert results.read_results(tmp_path, notes).empty
    assert len(notes) == 1 and "a.json is damaged" in notes[0] and "raw latency" in notes[0], notes
    assert results.completed(tmp_path).ok == frozenset(), "a damaged row file is no finished job"


def test_the_closing_table_says_whether_a_server_run_met_its_bound() -> None:
    """A server run with p99 105 ms against a 100 ms bound showed nothing of it in the closing table."""
    from harness.report_table import table

    rows = [_row("a", "h1", "ok", "2026-11-30T10:00:00+00:00", latency_bound_ms=100.0, meets_latency_bound=False),
            _row("b", "h2", "ok", "2026-11-30T10:01:00+00:00", latency_bound_ms=100.0, meets_latency_bound=None),
            _row("c", "h3", "ok", "2026-11-30T10:02:00+00:00")]  # fmt: skip
    frame = pd.DataFrame(rows).reindex(columns=[*results.COLUMNS, "latency_bound_ms", "meets_latency_bound"])
    text = table(frame)
    assert "missed (100 ms)" in text and "not established (100 ms)" in text, text
    assert "p99 bound" not in table(frame.iloc[[2]]), "no server row: no column"


def test_readers_never_remove_what_a_dead_writer_left(tmp_path: Path) -> None:
    """Found by breaking it: report, compare and rerun removed a dead writer's temporary row file while
    reading, and on a directory they could not write (chattr +i, a read-only mount) raised PermissionError.
    Readers leave it and say so; gather removes it, and says so when it cannot."""
    from tests.conftest import immutable

    results.append_result(tmp_path, _row("a", "h", "ok", "2026-11-30T10:00:00+00:00"))
    leftover = tmp_path / "rows" / ".zz.json.99999999.tmp"  # pid 99999999: no such process
    leftover.write_text("{}")
    frame = results.read_results(tmp_path, notes := [])
    assert list(frame["run_id"]) == ["a"] and leftover.exists(), "a reader removes nothing"
    assert any("half-written" in n and "skipped" in n and "removed" not in n for n in notes), notes
    with immutable(tmp_path / "rows"):
        gathered = results.gather(tmp_path)
        assert any("not removed" in n for n in gathered.notes), gathered.notes
    results.gather(tmp_path)
    assert not leftover.exists(), "gather removes it where it can"


def test_an_import_keeps_raw_latencies_whose_rows_it_could_not_read(tmp_path: Path) -> None:
    """Found by breaking it: results.parquet cut short (kept as .damaged) while latencies.parquet was
    rewritten from the rows imported, none: 6 raw latencies gone without a copy."""
    directory = _legacy(tmp_path / "old")
    whole = (directory / "results.parquet").read_bytes()
    (directory / "results.parquet").write_bytes(whole[:300])
    gathered = results.gather(directory)
    kept = list(directory.glob("latencies.parquet.damaged-*"))
    assert len(kept) == 1 and len(pd.read_parquet(kept[0])) == 6, gathered.notes
    assert any("raw latencies of 2 run(s) whose rows were not imported" in n for n in gathered.notes)


def test_a_results_csv_naming_a_column_twice_is_one_line(tmp_path: Path) -> None:
    """Found by breaking it: a second latency_ms_p50 column (999) was imported by gather (the last copy,
    the real value gone without a copy) while report read the first: neither can know which is meant."""
    directory = tmp_path / "old"
    directory.mkdir()
    text = "run_id,workload,runtime,batch_size,precision_requested,status,latency_ms_p50,latency_ms_p50\n"
    (directory / "results.csv").write_text(text + "r1,bert,eager,1,fp32,ok,36.08,999\n")
    for read in (results.gather, results.read_results, lambda d: results.read_results(d / "results.csv")):
        with pytest.raises(results.ResultsError, match="column 'latency_ms_p50' appears twice in its header"):
            read(directory)
    assert (directory / "results.csv").read_text().endswith("36.08,999\n") and not (directory / "rows").exists()


def test_an_older_directory_with_a_categorical_status_is_imported(tmp_path: Path) -> None:
    """Found by breaking it: a results.parquet whose `status` is a category could not be imported
    (TypeError of `&` on a categorical), though report reads the same file."""
    directory = _legacy(tmp_path / "old", status=pd.Categorical(["ok", "ok"]))
    gathered = results.gather(directory)
    assert sorted(gathered.frame["run_id"]) == ["old-0", "old-1"] and (gathered.frame["status"] == "ok").all()


def test_resuming_an_older_damaged_directory_says_what_it_recovered(tmp_path: Path) -> None:
    """Found by breaking it: a resume imported an older directory whose results.csv was cut short (kept
    aside as damaged, the lost row re-measured) without a word; harness.gather says it in three lines."""
    import shutil

    named = {"workload": "w", "runtime": "eager", "batch_size": 1, "precision_requested": "fp32", "status": "ok",
             "latency_ms_p50": 1.0}  # fmt: skip
    for k in range(3):
        results.append_result(tmp_path, {**named, "run_id": f"r{k}", "config_hash": f"c{k}"}, [1.0, 1.1])
    shutil.rmtree(tmp_path / "rows")  # an older directory: its tables only
    for path in tmp_path.iterdir():
        if path.name not in ("results.csv", "latencies.parquet"):
            path.unlink()
    text = (tmp_path / "results.csv").read_text()
    (tmp_path / "results.csv").write_text(text[:-40])  # the last row cut
    notes = results.check_resumable(tmp_path)
    assert any("results.csv was damaged" in n for n in notes) and any("2 complete rows recovered" in n for n in notes)


@pytest.mark.parametrize("column", ["repeat", "batch_size", "n_calls"])
def test_a_json_boolean_is_no_count(tmp_path: Path, column: str) -> None:
    """Found by breaking it: a row file with "repeat": true counted as finished repeat 1, and "batch_size":
    true was read as batch 1 (to_numeric takes True for 1). A boolean in a number column is refused."""
    frame = pd.DataFrame([_row("a", "h", "ok", "2026-11-30T10:00:00+00:00", **{column: True})])
    with pytest.raises(results.ResultsError, match=f"column '{column}' holds true \\(row 1\\), not a number"):
        results.check_frame(frame, "x")
