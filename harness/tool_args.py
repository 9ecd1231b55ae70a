"""Command-line parsing shared by the tools (report, compare, rerun, gather): bad input is one line
naming the value and what is allowed, exit 2, as for the Hydra CLI."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from typing import NoReturn


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
