"""`python -m harness [-m] [overrides...]` — see README."""

import sys

from harness.cli import main

sys.exit(main())
