"""How long must a sweep from an empty cache take at the least? (read from measured rows, never asserted.)

From an empty cache every (runtime, options, precision, batch) needs one pass of the runtime over the eval
set (accuracy), and every (model, data, batch) one eager fp32 pass (the reference; eager's own accuracy
pass makes it). IPEX's jobs run in their own interpreter and make their own reference pass in its torch.
This script adds up the inference those passes need at the rows' own measured speed, the median latency
per call (`latency_ms_p50`) times the calls a pass makes (n_eval_samples / batch_size): a lower bound for
the passes when the eval batches have the timed shape (fixed timing inputs and fixed padding; with
`padding=longest` it is an estimate), with no loading, conversion or Python overhead counted. Rows from
a harness that records `accuracy_s` and `reference_s` also show the passes' measured wall time.

    python benchmarks/accuracy_floor.py outputs/study-r1 outputs/study-r1-resnet
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from harness.results import ResultsError, read_results

OWN_REFERENCE = ("ipex",)  # runtimes whose jobs make their own eager reference pass (own interpreter)
# One pass per accuracy key (runtime options are not in these columns: rows differing only in them count once)
PASS_KEY = ["workload", "model_hash", "data_hash", "runtime", "precision_requested", "batch_size"]
REFERENCE_KEY = ["workload", "model_hash", "data_hash", "batch_size"]  # the reference is per model, data, batching


def first_round(rows: pd.DataFrame) -> pd.DataFrame:
    """The ok rows of the first repeat: the round that ran from an empty cache."""
    return rows[(rows["status"] == "ok") & (rows["repeat"].fillna(0) == 0)]


def floor_minutes(rows: pd.DataFrame) -> dict[str, float]:
    """Minutes of inference the accuracy and reference passes need, from the first repeat's ok rows (each
    pass counted once, at the median speed of the rows that need it): {"accuracy": every runtime and
    precision but eager fp32, "reference": eager fp32's passes, "own_reference": the own-interpreter
    runtimes' eager passes (estimated at the main interpreter's eager fp32 speed)}."""
    first = first_round(rows).copy()
    first["pass_s"] = first["latency_ms_p50"] / 1000 * np.ceil(first["n_eval_samples"] / first["batch_size"])
    reference = (first["runtime"] == "eager") & (first["precision_requested"] == "fp32")
    accuracy = first[~reference].groupby(PASS_KEY, dropna=False)["pass_s"].median()
    eager = first[reference].groupby(REFERENCE_KEY, dropna=False)["pass_s"].median()
    # the own interpreter's torch hashes the same weights differently: matched by workload, data and batch
    matched = ["workload", "data_hash", "batch_size"]
    eager_speed = first[reference].groupby(matched)["pass_s"].median()
    own = first[first["runtime"].isin(OWN_REFERENCE)].drop_duplicates(REFERENCE_KEY)
    own_s = [eager_speed.get(tuple(key), np.nan) for key in own[matched].itertuples(index=False)]
    return {"accuracy": accuracy.sum() / 60, "reference": eager.sum() / 60, "own_reference": np.nansum(own_s) / 60}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", type=Path, help="result directories or results files")
    args = parser.parse_args()
    total = 0.0
    for directory in args.results:
        try:
            rows = read_results(directory)
        except ResultsError as exc:
            raise SystemExit(f"accuracy_floor: {exc}") from None
        parts = floor_minutes(rows)
        total += sum(parts.values())
        first = first_round(rows)
        measured = ""
        if {"accuracy_s", "reference_s"} <= set(rows.columns):
            measured = (f"; measured passes: accuracy {first['accuracy_s'].sum() / 60:.1f} min, "
                        f"reference {first['reference_s'].sum() / 60:.1f} min")  # fmt: skip
        print(f"{directory}: {len(first)} ok rows; passes at least: accuracy {parts['accuracy']:.1f} min, "
              f"eager reference {parts['reference']:.1f} min, own-interpreter reference "
              f"{parts['own_reference']:.1f} min{measured}")  # fmt: skip
    print(f"all: at least {total:.1f} min of inference for the accuracy and reference passes")


if __name__ == "__main__":
    main()
