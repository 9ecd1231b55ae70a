"""The harness's sweeper as a Hydra plugin (Hydra instantiates sweepers only from `hydra_plugins`)."""

from __future__ import annotations

from typing import Any

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.types import Override
from omegaconf import DictConfig

from harness.sweeper import interleaved_rounds


class InterleavedSweeper(BasicSweeper):
    """Hydra's BasicSweeper with repeats run in interleaved, shuffled rounds (harness/sweeper.py)."""

    def setup(self, *, hydra_context: Any, task_function: Any, config: DictConfig) -> None:
        super().setup(hydra_context=hydra_context, task_function=task_function, config=config)
        self.repeats = int(config.get("repeats", 1) or 1)
        self.seed = int(config.get("seed", 0) or 0)

    def split_arguments(self, overrides: list[Override], max_batch_size: int | None) -> list[list[list[str]]]:  # type: ignore[override]
        (jobs,) = BasicSweeper.split_arguments(overrides, None)
        return interleaved_rounds(jobs, self.repeats, self.seed)
