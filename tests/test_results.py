"""Result files: the documented schema, concurrent appends, readable with no options."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness import results


def _append(args: tuple[str, int]) -> None:
    directory, k = args
    row = {"run_id": f"run{k}", "config_hash": f"h{k}", "status": "ok", "latency_ms_p50": float(k + 1)}
    results.append_result(Path(directory), row, np.arange(k + 1, dtype=float))


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
    results.append_result(tmp_path, {"run_id": "a", "config_hash": "good", "status": "ok"})
    results.append_result(tmp_path, {"run_id": "b", "config_hash": "bad", "status": "error", "error": "x"})
    assert results.completed(tmp_path).ok == {("good", 0)}


def test_reading_an_empty_directory_gives_the_schema_and_a_missing_one_an_error(tmp_path: Path) -> None:
    frame = results.read_results(tmp_path)
    assert frame.empty and list(frame.columns) == results.COLUMNS
    with pytest.raises(results.ResultsError, match="nothing does not exist"):
        results.read_results(tmp_path / "nothing")


def _row(run_id: str, config_hash: str, status: str, at: str, **more: object) -> dict[str, object]:
    return {"run_id": run_id, "config_hash": config_hash, "status": status, "started_at": at, "workload": "w",
            "runtime": "eager", "batch_size": 1, "precision_requested": "int8", "repeat": 0,
            "harness_git_sha": "0123456789ab", "hostname": "here", **more}  # fmt: skip


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
    assert done.reason("fixed", 0) == ("ok", "an ok row with config_hash fixed exists")
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
