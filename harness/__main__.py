"""`python -m harness [-m] [overrides...]` — see README."""

import sys

try:
    from harness.cli import main
except KeyboardInterrupt:  # Ctrl-C while the CLI's libraries load: one line, as during a sweep (cli.main)
    print("harness: interrupted; no job had started", file=sys.stderr)
    sys.exit(130)  # cli.EXIT_INTERRUPTED (128 + SIGINT), which cannot be imported here

sys.exit(main())
