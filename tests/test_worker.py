"""The time-limited worker process (chatbot/worker.py)."""

from __future__ import annotations

import os

import pytest

from chatbot.worker import TimeLimitExceeded, WorkerDied, time_limited


def raises_value_error(message: str) -> None:
    raise ValueError(message)


def test_results_and_exceptions_come_back() -> None:
    assert time_limited(os.getpid, seconds=60) != os.getpid()  # it ran elsewhere
    assert time_limited(sorted, [3, 1, 2], seconds=60) == [1, 2, 3]
    with pytest.raises(ValueError, match="bad input"):
        time_limited(raises_value_error, "bad input", seconds=60)


@pytest.mark.timeout(120)  # a hang guard
def test_a_late_or_dead_worker_is_replaced() -> None:
    import time

    first = time_limited(os.getpid, seconds=60)
    with pytest.raises(TimeLimitExceeded):
        time_limited(time.sleep, 30, seconds=0.5)
    second = time_limited(os.getpid, seconds=60)
    assert second != first
    with pytest.raises(WorkerDied):
        time_limited(os._exit, 3, seconds=60)
    assert time_limited(os.getpid, seconds=60) not in (first, second)
