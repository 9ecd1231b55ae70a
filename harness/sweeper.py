"""The sweep order: every configuration once per round, `repeats` rounds, each round's order
shuffled by `seed` and the round number, so a slow drift of the machine spreads over all
configurations instead of landing on one (pyperf runs many worker processes for the same reason:
https://pyperf.readthedocs.io/en/latest/system.html). Each round is one batch for the launcher, and
each job carries `repeat=<round>`. With `repeats: 1` the order is Hydra's (the cartesian product).

The sweeper class lives in hydra_plugins/harness_sweeper/ (Hydra's plugin namespace) and is
selected in conf/config.yaml (`override hydra/sweeper: interleaved`); it is Hydra's BasicSweeper
otherwise, so experiments' `hydra.sweeper.params` and every launcher work as before.
"""

from __future__ import annotations

import random


def interleaved_rounds(jobs: list[list[str]], repeats: int, seed: int) -> list[list[list[str]]]:
    """`repeats` rounds of `jobs` (lists of overrides), each job with `repeat=r` added; rounds after
    a single one are shuffled by (seed, r). Deterministic: the same seed gives the same order."""
    if repeats == 1:
        return [[[*job, "repeat=0"] for job in jobs]]
    rounds = []
    for r in range(repeats):
        order = list(range(len(jobs)))
        random.Random(f"harness-sweep-{seed}-{r}").shuffle(order)
        rounds.append([[*jobs[i], f"repeat={r}"] for i in order])
    return rounds
