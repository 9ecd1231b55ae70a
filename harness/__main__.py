"""`python -m harness [-m] [overrides...]` — see README."""

import os
import sys

try:
    from harness.cli import main
    from harness.tool_args import exit_process
except KeyboardInterrupt:  # Ctrl-C while the CLI's libraries load: one line, as during a sweep (cli.main)
    print("harness: interrupted; no job had started", file=sys.stderr, flush=True)
    # tool_args.EXIT_INTERRUPTED (128 + SIGINT), which cannot be imported here. Nothing was written yet, so
    # the interpreter's finalization of half-imported libraries is skipped (see tool_args.exit_process)
    os._exit(130)

exit_process(main())  # Ctrl-C: cli.main says it in one line and returns 130
