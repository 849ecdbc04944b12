"""Retry policy: only connector errors that say they are temporary are retried.

Backoff is exponential with full jitter, capped, and never shorter than the vendor's own
``retry_after`` hint (ConnId RetryableException; baton's 429/5xx -> Unavailable)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from connectors.errors import RateLimited, RetryableError
from scim_server.store.db import now


def backoff_seconds(attempt: int, *, base: float = 1.0, cap: float = 300.0, rng: random.Random | None = None) -> float:
    ceiling = min(cap, base * 2 ** max(0, attempt - 1))
    return (rng or random).uniform(ceiling / 2, ceiling)


def retry_at(error: BaseException, attempt: int, max_attempts: int, *, base: float = 1.0) -> datetime | None:
    """When to try again, or None when the job must fail now (not retryable, or out of attempts)."""
    if not isinstance(error, RetryableError) or attempt >= max_attempts:
        return None
    delay = backoff_seconds(attempt, base=base)
    if isinstance(error, RateLimited) and error.retry_after is not None:
        delay = max(delay, float(error.retry_after))
    return now() + timedelta(seconds=delay)
