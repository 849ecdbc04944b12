"""Polling, for state another process or thread changes with no event a test can wait on (a
vendor's sandbox state, a restarted process, a receiver thread's inbox). Jobs have events:
``tests.admin.helpers.wait_job`` and ``wait_idle`` wait on the server's long poll instead."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(predicate: Callable[[], T], what: str = "the condition", timeout: float = 30.0) -> T:
    """``predicate()``'s first truthy value; fails once ``timeout`` seconds pass without one."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, f"not reached in {timeout} s: {what}"
        time.sleep(0.05)
    return value
