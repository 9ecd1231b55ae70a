"""Child-process entry point: `python -m harness.worker SPEC_JSON EVENTS_FD`.

Runs one job and reports over a pipe (JSON lines on EVENTS_FD): a `started` event with the
interpreter's versions, throttled `phase` events for the progress display, and one `result`.
Library chatter goes to stdout/stderr, which the parent sends to the job's log file.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

PROGRESS_INTERVAL_S = 0.5
MAX_ERROR_CHARS = 4000


class EventChannel:
    def __init__(self, fd: int) -> None:
        self._pipe = os.fdopen(fd, "w", buffering=1)
        self._last_phase = ""
        self._last_sent = 0.0

    def send(self, event: str, **payload: Any) -> None:
        self._pipe.write(json.dumps({"event": event, **payload}, default=_jsonable) + "\n")
        self._pipe.flush()

    @property
    def last_phase(self) -> str:
        """The phase the job was last in (load, prepare, measure, accuracy, ...)."""
        return self._last_phase

    def phase(self, phase: str, **details: Any) -> None:
        """Progress; repeated counter updates of the same phase are throttled to two a second."""
        now = time.monotonic()
        if phase == self._last_phase and "detail" not in details and now - self._last_sent < PROGRESS_INTERVAL_S:
            return
        self._last_phase, self._last_sent = phase, now
        self.send("phase", phase=phase, **details)


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return value.tolist()
    return str(value)


def error_text(exc: BaseException, phase: str = "") -> str:
    """The row's one-line error: the exception's type and message (cut at MAX_ERROR_CHARS), then
    where it happened — the job's phase and the innermost frame that raised it (a library's file and
    function), since a bare "IndexError: tuple index out of range" names neither. The whole
    traceback is in the job's log (jobs/<run_id>/job.log)."""
    text = f"{type(exc).__name__}: {exc}".strip()
    text = text if len(text) <= MAX_ERROR_CHARS else text[:MAX_ERROR_CHARS] + " [...]"
    where = [f"during {phase}"] if phase else []
    frames = traceback.extract_tb(exc.__traceback__)
    if frames:
        path = Path(frames[-1].filename)
        inside = (
            path.parts[path.parts.index("site-packages") + 1 :] if "site-packages" in path.parts else path.parts[-2:]
        )
        where.append(f"raised in {'/'.join(inside)}:{frames[-1].lineno} {frames[-1].name}")
    return f"{text} [{'; '.join(where)}]" if where else text


def pin(threads: int) -> str:
    """Pin this process to its first `threads` allowed cores (before torch starts its thread pools);
    returns them as text, e.g. "0-1" or "0,2"."""
    cores = sorted(os.sched_getaffinity(0))[:threads]
    os.sched_setaffinity(0, cores)
    if cores == list(range(cores[0], cores[-1] + 1)) and len(cores) > 1:
        return f"{cores[0]}-{cores[-1]}"
    return ",".join(str(c) for c in cores)


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this child when the process that started it dies (prctl
    PR_SET_PDEATHSIG), so a job killed with its launcher's worker (a Ray worker, a Slurm task) never
    leaves an orphan measuring beside the next job. Elsewhere a no-op."""
    import ctypes
    import signal

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the parent died before the request: nobody will read our result
        os._exit(1)


def main(argv: list[str]) -> int:
    spec_path, fd = Path(argv[1]), int(argv[2])
    die_with_parent()
    channel = EventChannel(fd)
    # Imports after the channel exists, so even an import failure is reported as a result.
    from harness.config import ConfigError, JobSpec, UnsupportedError

    placed: dict[str, Any] = {}
    try:
        spec = JobSpec.from_dict(json.loads(spec_path.read_text()))
        placed["cpu_affinity"] = pin(spec.threads) if spec.pin_cores and spec.threads else None
        from harness.job import interpreter_columns, run_job

        channel.send("started", **interpreter_columns())
        row, latencies = run_job(spec, channel.phase, spec_path.parent)
        row.update(placed, status="ok")
        channel.send("result", row=row, latencies_ms=latencies)
        return 0
    except ConfigError as exc:  # bad input found at run time: unreadable data, missing column
        channel.send("result", row={**placed, "status": "invalid", "error": str(exc)})
    except UnsupportedError as exc:
        channel.send("result", row={**placed, "status": "unsupported", "error": str(exc)})
    except Exception as exc:
        traceback.print_exc()  # the full story goes to the job log; the row gets the message
        channel.send("result", row={**placed, "status": "error", "error": error_text(exc, channel.last_phase)})
    return 0


if __name__ == "__main__":
    code = main(sys.argv)
    sys.stdout.flush()
    sys.stderr.flush()
    # The result is sent and every file the job wrote is closed: skip the interpreter's teardown, which
    # takes 0.4 s (torch) to over 1 s (torch, torchvision, dynamo) while the sweep waits for this exit.
    os._exit(code)
