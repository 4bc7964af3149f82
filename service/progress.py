"""Progress bars on stderr for long CLI work (tqdm; silent when stderr is not a terminal)."""

from __future__ import annotations

import sys
from types import TracebackType

from tqdm import tqdm

_LABELS = {"read": "reading files", "ocr": "OCR pages", "embed": "embedding chunks", "write": "writing index"}


class ProgressBars:
    """One bar per stage, driven by the engine's progress(stage, done, total) callback."""

    def __init__(self, enabled: bool | None = None) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._bars: dict[str, tqdm] = {}

    def update(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        bar = self._bars.get(stage)
        if bar is None:
            bar = tqdm(total=total, desc=_LABELS.get(stage, stage), unit="", file=sys.stderr, leave=False)
            self._bars[stage] = bar
        bar.total = total
        bar.n = done
        bar.refresh()

    def __enter__(self) -> ProgressBars:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for bar in self._bars.values():
            bar.close()
