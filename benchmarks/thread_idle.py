"""Why the torch runtimes are slower in the server scenario (docs/RESULTS.md, load scenarios): the same
torch model (a 6-layer, 384-wide transformer encoder, batch 1 x 128 tokens, 2 threads, pinned to 2
cores) timed back to back and with idle gaps between calls, on the main thread and on a second Python
thread. Medians in ms; measured, never asserted.

    python benchmarks/thread_idle.py
"""

from __future__ import annotations

import os
import statistics
import threading
import time

import torch

CALLS = 20


def median_ms(model: torch.nn.Module, x: torch.Tensor, gap_s: float) -> float:
    times = []
    with torch.inference_mode():
        for _ in range(3):
            model(x)
        for _ in range(CALLS):
            time.sleep(gap_s)
            started = time.perf_counter()
            model(x)
            times.append((time.perf_counter() - started) * 1e3)
    return statistics.median(times)


def main() -> None:
    os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[:2]))
    torch.set_num_threads(2)
    layer = torch.nn.TransformerEncoderLayer(384, 12, 1536, batch_first=True)
    model = torch.nn.TransformerEncoder(layer, 6, enable_nested_tensor=False).eval()
    x = torch.randn(1, 128, 384)
    for gap_s in (0.0, 0.2):
        on_thread: list[float] = []
        thread = threading.Thread(target=lambda g=gap_s, out=on_thread: out.append(median_ms(model, x, g)))
        thread.start()
        thread.join()
        print(f"gap {gap_s * 1e3:.0f} ms between calls: main thread {median_ms(model, x, gap_s):.2f} ms, "
              f"second Python thread {on_thread[0]:.2f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
