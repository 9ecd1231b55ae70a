"""Progress display for one job, fed by the child's phase events (at most two a second).

On a terminal: one tqdm line per job that changes in place. Elsewhere (CI, pipes): one plain
line per phase change, so logs stay readable.
"""

from __future__ import annotations

import sys
from typing import Any

from tqdm import tqdm


def describe(event: dict[str, Any]) -> str:
    phase = event.get("phase", "")
    if phase == "measure" and "calls" in event:
        return f"measure: {event['calls']} calls, p50 CI ±{100 * event['ci_rel']:.1f}%"
    if phase == "accuracy" and "total" in event:
        return f"accuracy: {event['done']}/{event['total']} samples"
    if event.get("detail"):
        return f"{phase}: {event['detail']}"
    return phase


class JobProgress:
    def __init__(self, label: str) -> None:
        self.label = label
        self.interactive = sys.stderr.isatty()
        self._last_phase = ""
        self._bar = tqdm(total=None, desc=label, bar_format="{desc} | {postfix} [{elapsed}]", file=sys.stderr,
                         leave=True, postfix="starting") if self.interactive else None  # fmt: skip
        if not self.interactive:
            print(f"{label}: starting", file=sys.stderr, flush=True)

    def update(self, event: dict[str, Any]) -> None:
        text = describe(event)
        if self._bar is not None:
            self._bar.set_postfix_str(text)
        elif event.get("phase") != self._last_phase or event.get("detail"):
            print(f"{self.label}: {text}", file=sys.stderr, flush=True)
        self._last_phase = event.get("phase", "")

    def close(self, status: str | None) -> None:
        final = status or "no result"
        if self._bar is not None:
            self._bar.set_postfix_str(final)
            self._bar.close()
        else:
            print(f"{self.label}: {final}", file=sys.stderr, flush=True)
