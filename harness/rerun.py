"""`python -m harness.rerun SOURCE RUN_ID [--out DIR] [--tolerance PCT]`: re-run one stored row.

Rebuilds the job from the configuration stored with the row (`config_json`), runs it again in a
fresh child process into DIR (default: SOURCE/reruns), and gives a verdict: the same accuracy and
agreement, and a p50 that is not significantly slower or faster by more than PCT (default 10%),
means "reproduced" (exit 0); anything else says what differs (exit 1).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from harness import analysis, results
from harness.config import ConfigError, JobSpec
from harness.runner import run_job_isolated


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.rerun", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("source", type=Path, help="the sweep directory or results file holding the row")
    parser.add_argument("run_id")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--tolerance", type=float, default=10.0, metavar="PCT")
    args = parser.parse_args(argv)
    source = analysis.source_dir(args.source)
    frame = results.read_results(args.source)
    match = frame[frame["run_id"] == args.run_id]
    if match.empty:
        print(f"harness.rerun: no row with run_id {args.run_id!r} in {args.source}", file=sys.stderr)
        return 2
    old = match.iloc[-1].copy()
    try:
        spec = JobSpec.from_dict(json.loads(old["config_json"])).validate()
    except (ConfigError, TypeError, ValueError) as exc:
        print(f"harness.rerun: the stored configuration cannot run here: {exc}", file=sys.stderr)
        return 2
    out = args.out or source / "reruns"
    new = pd.Series(run_job_isolated(spec, out, force=True).row)
    old["source"], new["source"] = str(source), str(out)
    if new["status"] != results.OK or old["status"] != results.OK:
        print(f"not reproduced: status was {old['status']}, now {new['status']} {new.get('error') or ''}")
        return 1
    verdict, ratio, method = analysis.latency_verdict(old, new)
    same_scores = old["accuracy"] == new["accuracy"] and old["agreement"] == new["agreement"]
    within = verdict == "no significant difference" or abs(ratio - 1) * 100 <= args.tolerance
    print(f"p50 {old['latency_ms_p50']:.3f} ms -> {new['latency_ms_p50']:.3f} ms (x{ratio:.3f}): {verdict} ({method})")
    print(f"accuracy {old['accuracy']:.4f} -> {new['accuracy']:.4f}; agreement {old['agreement']:.4f} -> "
          f"{new['agreement']:.4f}")  # fmt: skip
    for column in analysis.ENVIRONMENT_COLUMNS:
        if not analysis.same_recorded(old.get(column), new.get(column)):
            print(f"environment differs: {column}: {old.get(column)} -> {new.get(column)}")
    same_inputs = True
    for column in ("model_hash", "data_hash"):  # rows from before these columns existed have none
        if not analysis.same_recorded(old.get(column), new.get(column)):
            print(f"not the same {column.split('_')[0]}: {column} {old.get(column)} -> {new.get(column)}")
            same_inputs = False
    reproduced = same_scores and within and same_inputs
    print("reproduced" if reproduced else "not reproduced")
    return 0 if reproduced else 1


if __name__ == "__main__":
    sys.exit(main())
