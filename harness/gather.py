"""`python -m harness.gather DIR`: rebuild a results directory's tables from its row files.

Reads every whole row file under `DIR/rows/` (a row file a killed writer left half-written is
named and skipped), imports an older directory's results.csv/parquet when it has no row files
yet, and atomically rewrites results.csv, results.parquet, latencies.parquet and the summary.
Every damaged file it met is reported in one line with what was recovered. Exit 0; 2 when DIR
is unusable. Jobs of a sweep on Ray or Slurm write only their row files (docs/CLUSTER.md): this
is how their tables are rebuilt when the driver did not get to it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness import results
from harness.config import ConfigError
from harness.tool_args import ToolParser, run_tool
from harness.untrusted import one_line


def main(argv: list[str] | None = None) -> int:
    parser = ToolParser(prog="python -m harness.gather", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("directory", type=Path, help="a sweep or run directory")
    args = parser.parse_args(argv)
    if not args.directory.is_dir():
        print(f"harness.gather: {args.directory} is not a directory", file=sys.stderr)
        return 2
    try:
        results.check_no_links(args.directory)  # first: a link is named as a link, not as an odd file
        results.check_writable(args.directory)
    except (ConfigError, results.ResultsError) as exc:
        print(f"harness.gather: {one_line(str(exc))}", file=sys.stderr)
        return 2
    try:
        gathered = results.gather(args.directory)
    except (results.ResultsError, OSError) as exc:  # e.g. older files that cannot be imported: nothing changed
        why = str(exc) if isinstance(exc, results.ResultsError) else f"{exc.filename}: {exc.strerror}"
        print(f"harness.gather: {one_line(why)}", file=sys.stderr)
        return 2
    for note in gathered.notes:
        print(f"harness.gather: {one_line(note)}", file=sys.stderr)
    print(f"{len(gathered.frame)} rows gathered into {args.directory / results.RESULTS_CSV}")
    return 0


if __name__ == "__main__":
    run_tool(main, "harness.gather")
