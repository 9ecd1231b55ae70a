"""`python -m harness [-m] [overrides...]` — see README."""

import os
import sys

try:
    from harness.cli import main
except KeyboardInterrupt:  # Ctrl-C while the CLI's libraries load: one line, as during a sweep (cli.main)
    print("harness: interrupted; no job had started", file=sys.stderr, flush=True)
    # cli.EXIT_INTERRUPTED (128 + SIGINT), which cannot be imported here. Nothing was written yet, so the
    # interpreter's finalization of half-imported libraries is skipped: under load a run once ended by
    # SIGINT (-2) after this very line
    os._exit(130)

sys.exit(main())
