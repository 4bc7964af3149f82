"""progress: bars on a terminal; plain lines per tenth of a long stage elsewhere."""

from __future__ import annotations

import pytest

from policyqa.service.progress import PLAIN_MIN_TOTAL, ProgressBars


def test_plain_lines_mark_each_tenth_of_a_long_stage(capsys: pytest.CaptureFixture[str]) -> None:
    with ProgressBars(enabled=False, plain=True) as progress:
        for done in range(0, 1001, 7):
            progress.update("embed", done, 1000)
        progress.update("embed", 1000, 1000)
        for done in range(PLAIN_MIN_TOTAL - 1):  # a short stage prints nothing
            progress.update("ask", done, PLAIN_MIN_TOTAL - 1)
    lines = capsys.readouterr().err.splitlines()
    assert [line.rsplit("(", 1)[1] for line in lines] == [f"{p}%)" for p in range(10, 101, 10)]
    assert lines[0] == "embedding chunks: 105/1000 (10%)" and lines[-1] == "embedding chunks: 1000/1000 (100%)"


def test_bars_and_lines_are_never_both_shown(capsys: pytest.CaptureFixture[str]) -> None:
    progress = ProgressBars(enabled=True, plain=True)
    assert progress.enabled and not progress.plain
    quiet = ProgressBars(enabled=False, plain=False)
    quiet.update("ask", 500, 500)
    assert capsys.readouterr().err == ""


def test_a_stage_that_runs_again_prints_its_tenths_again(capsys: pytest.CaptureFixture[str]) -> None:
    # The answer eval builds one index per fold under one ProgressBars: each has its own "embed".
    with ProgressBars(enabled=False, plain=True) as progress:
        for total in (500, 500, 300):
            for done in range(0, total + 1, 50):
                progress.update("embed", done, total)
    ends = [line for line in capsys.readouterr().err.splitlines() if line.endswith("(100%)")]
    assert ends == ["embedding chunks: 500/500 (100%)"] * 2 + ["embedding chunks: 300/300 (100%)"]
