"""harness: honest, reproducible CPU inference benchmarks."""

import os
import signal
import sys

__version__ = "0.1.0"

# `python -m harness.report` (compare, gather, rerun) imports pandas, matplotlib and the harness before its
# main runs: a Ctrl-C then printed a traceback and ended by SIGINT (found by breaking it). Until the tool's
# main starts (tool_args.run_tool restores Python's handler), Ctrl-C is one line and exit 130. The CLI
# (`python -m harness`) does the same in harness/__main__.py.
_TOOLS = ("harness.report", "harness.compare", "harness.gather", "harness.rerun")
_argv = getattr(sys, "orig_argv", [])
_tool = _argv[_argv.index("-m") + 1] if "-m" in _argv[:-1] else ""
if _tool in _TOOLS and signal.getsignal(signal.SIGINT) is signal.default_int_handler:

    def _interrupted_while_loading(_number: int, _frame: object) -> None:
        print(f"{_tool}: interrupted", file=sys.stderr, flush=True)
        os._exit(130)  # nothing written yet; half-imported libraries need no finalization

    signal.signal(signal.SIGINT, _interrupted_while_loading)
