"""A test-only runtime that fails in chosen ways, to prove the sweep survives its children."""

from __future__ import annotations

import ctypes
import os
import signal
import time
from dataclasses import dataclass
from typing import Any

from runtimes.eager import EagerRuntime
from workloads.base import ModelHandle

BEHAVIOURS = ("segfault", "hang", "raise", "sigkill", "exit")


@dataclass
class FaultyOptions:
    behaviour: str = "segfault"

    def validate(self) -> None:
        if self.behaviour not in BEHAVIOURS:
            raise ValueError(f"behaviour must be one of {BEHAVIOURS}")


class FaultyRuntime(EagerRuntime):
    Options = FaultyOptions

    def prepare(self, handle: ModelHandle) -> None:
        super().prepare(handle)
        behaviour = self.options.behaviour
        if behaviour == "segfault":
            ctypes.string_at(0)  # a real invalid read: the child dies of SIGSEGV
        elif behaviour == "hang":
            time.sleep(3600)
        elif behaviour == "raise":
            raise RuntimeError("faulty runtime: the library refused this model")
        elif behaviour == "sigkill":  # what the kernel's OOM killer does
            os.kill(os.getpid(), signal.SIGKILL)
        elif behaviour == "exit":
            os._exit(3)

    def run(self, inputs: Any) -> Any:
        return super().run(inputs)


RUNTIME = FaultyRuntime
