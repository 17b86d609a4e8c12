"""A one-line progress display, drawn only when the output is a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """`threads 12/502  checkpoints 180/7504  3.1 s`, redrawn at most ten times a second."""

    def __init__(self, totals: dict[str, int], *, out: TextIO = sys.stderr) -> None:
        self.totals = totals
        self.done = {name: 0 for name in totals}
        self.out = out
        self.enabled = out.isatty()
        self.started = time.monotonic()
        self._drawn = 0.0

    def advance(self, **counts: int) -> None:
        for name, n in counts.items():
            self.done[name] += n
        now = time.monotonic()
        if self.enabled and now - self._drawn >= 0.1:
            self._drawn = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        parts = [f"{name} {self.done[name]}/{total}" for name, total in self.totals.items()]
        self.out.write("\r" + "  ".join(parts) + f"  {now - self.started:.1f} s\x1b[K")
        self.out.flush()

    def finish(self) -> None:
        if self.enabled:
            self._draw(time.monotonic())
            self.out.write("\n")
            self.out.flush()
