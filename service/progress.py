"""Progress on stderr for long CLI work: tqdm bars on a terminal; elsewhere (a log,
CI, `nohup`) one plain line per tenth of a long stage, so a run of minutes does
not look stalled."""

from __future__ import annotations

import sys
from types import TracebackType

from tqdm import tqdm

_LABELS = {"read": "reading files", "ocr": "OCR pages", "embed": "embedding chunks", "write": "writing index"}
# Stages shorter than this print no plain lines: the seed ingest (124 chunks) stays quiet.
PLAIN_MIN_TOTAL = 200
PLAIN_STEPS = 10


class ProgressBars:
    """One bar per stage, driven by the engine's progress(stage, done, total) callback."""

    def __init__(self, enabled: bool | None = None, plain: bool | None = None) -> None:
        """`enabled`: bars (default: when stderr is a terminal). `plain`: lines instead,
        where there are no bars (default: when stderr is not a terminal)."""
        terminal = sys.stderr.isatty()
        self.enabled = terminal if enabled is None else enabled
        self.plain = (not terminal if plain is None else plain) and not self.enabled
        self._bars: dict[str, tqdm] = {}
        self._steps: dict[str, tuple[int, int]] = {}  # stage -> (its total, the last tenth printed)

    def update(self, stage: str, done: int, total: int) -> None:
        if self.plain:
            self._line(stage, done, total)
        if not self.enabled:
            return
        bar = self._bars.get(stage)
        if bar is None:
            bar = tqdm(total=total, desc=_LABELS.get(stage, stage), unit="", file=sys.stderr, leave=False)
            self._bars[stage] = bar
        bar.total = total
        bar.n = done
        bar.refresh()

    def _line(self, stage: str, done: int, total: int) -> None:
        if total < PLAIN_MIN_TOTAL:
            return
        step = min(PLAIN_STEPS, done * PLAIN_STEPS // total)
        last_total, last = self._steps.get(stage, (total, 0))
        if total != last_total or step < last:
            last = 0  # the stage runs again (the next fold's index): count its tenths afresh
        self._steps[stage] = (total, max(step, last))
        if step > last:
            label = _LABELS.get(stage, stage)
            print(f"{label}: {done}/{total} ({step * 100 // PLAIN_STEPS}%)", file=sys.stderr, flush=True)

    def __enter__(self) -> ProgressBars:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for bar in self._bars.values():
            bar.close()
