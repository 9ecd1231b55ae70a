"""Command-line parsing and exits shared by the tools (report, compare, rerun, gather) and the Hydra CLI:
bad input is one line naming the value and what is allowed, exit 2; Ctrl-C is one line, exit 130."""

from __future__ import annotations

import argparse
import atexit
import math
import os
import signal
import sys
from collections.abc import Callable
from typing import NoReturn

EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a command ended by Ctrl-C


class ToolParser(argparse.ArgumentParser):
    """argparse, with its usage-plus-error output on bad input replaced by one line (`prog: message`)
    and exit 2, as the tools' other one-line errors (`harness.compare: ...`); `--help` is unchanged."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog.removeprefix('python -m ')}: {message}", file=sys.stderr)
        sys.exit(2)


def bounded(low: float, high: float) -> Callable[[str], float]:
    """An argparse `type` accepting a finite number from `low` to `high` (inclusive). NaN and infinities
    are refused: `--fail-on-regression nan` would compare False everywhere and silently pass a gate."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and low <= value <= high):
            raise argparse.ArgumentTypeError(f"{text!r} is not allowed: a number from {low:g} to {high:g}")
        return value

    parse.__name__ = "number"  # argparse names the type in its messages
    return parse


def exit_process(code: int) -> NoReturn:
    """End the process with `code`, no longer interrupted by Ctrl-C. After Ctrl-C (`code`
    EXIT_INTERRUPTED) the exit handlers (log files, a Ray launcher's shutdown) run and the process ends
    without the interpreter's own finalization: after a Ctrl-C that landed inside torch's import (caught,
    and said in one line) that finalization ended the process by SIGINT, status -2 instead of 130, in 4 of
    10 tries at 1.75-1.9 s into a sweep here (tests/test_sweep.py::test_ctrl_c_before_any_job_is_one_line);
    with os._exit, 0 of 12."""
    if code != EXIT_INTERRUPTED:
        # the work is done and said: a Ctrl-C during the interpreter's finalization ended the process by SIGINT
        # (-2) with nothing said (found by breaking it)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        sys.exit(code)
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def run_tool(main: Callable[[], int], prog: str, interrupted: str = "") -> NoReturn:
    """Run a tool's `main` and exit with its code; Ctrl-C is one line (`prog: interrupted; ...` with
    `interrupted` saying what was kept) and exit 130, never a traceback."""
    import harness

    if signal.getsignal(signal.SIGINT) is getattr(harness, "_interrupted_while_loading", None):
        signal.signal(signal.SIGINT, signal.default_int_handler)  # loaded: Ctrl-C raises again (harness/__init__)
    try:
        code = main()
    except KeyboardInterrupt:
        print(f"{prog}: interrupted{'; ' + interrupted if interrupted else ''}", file=sys.stderr, flush=True)
        code = EXIT_INTERRUPTED
    exit_process(code)
