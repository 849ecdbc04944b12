"""A broadcast "something ended" signal, so a caller waiting for a job (``GET /jobs/{id}?wait=``, a
test, a CLI) wakes when this process's worker finishes an attempt instead of re-reading on a timer.

Jobs run by another process's worker fire nothing here; the waiter's re-read interval covers them.
"""

from __future__ import annotations

import asyncio
import contextlib


class Pulse:
    """``fire()`` wakes every current ``wait()``; a later ``wait()`` waits for the next ``fire()``."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def fire(self) -> None:
        event, self._event = self._event, asyncio.Event()
        event.set()

    async def wait(self, timeout: float) -> bool:
        """True when fired within ``timeout`` seconds, False when the time ran out."""
        event = self._event
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)
            return True
        return False
