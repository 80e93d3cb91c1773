"""One model, one request at a time: a FIFO gate with a bounded waiting line.

The embedded model answers one request at a time (two at once would each run at half speed
and both be late). Requests that need the model take the gate; up to `CHATBOT_SERVE_QUEUE`
wait their turn in arrival order, and any beyond that are refused at once with a `BusyError`
whose `retry_after` estimates the wait from the recent generation times.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque

from chatbot.errors import BusyError

#: Seconds assumed per generation before any has been measured.
FIRST_GUESS_S = 5.0


class ModelGate:
    def __init__(self, queue: int) -> None:
        self.queue = queue
        self.waiting = 0
        self._lock = asyncio.Lock()
        self._recent: deque[float] = deque(maxlen=16)

    @property
    def busy(self) -> bool:
        return self._lock.locked()

    def retry_after(self) -> int:
        """Whole seconds until the line probably has room again: the running request ends
        and the first waiting one moves up (the mean of recent generations; at least 1)."""
        each = sum(self._recent) / len(self._recent) if self._recent else FIRST_GUESS_S
        return max(1, math.ceil(each))

    async def acquire(self) -> float:
        """Wait for the model (FIFO); returns the start time to give `release`.
        Raises `BusyError` when the waiting line is full."""
        if self.busy and self.waiting >= self.queue:
            raise BusyError(
                f"the model is busy and {self.waiting} request(s) already wait "
                f"(CHATBOT_SERVE_QUEUE={self.queue}); retry later",
                retry_after=self.retry_after(),
            )
        self.waiting += 1
        try:
            await self._lock.acquire()
        finally:
            self.waiting -= 1
        return time.monotonic()

    def release(self, started: float) -> None:
        self._recent.append(time.monotonic() - started)
        self._lock.release()
