"""Waiting on a condition instead of sleeping for a guessed time.

A test that sleeps "long enough" is slow on a fast machine and flaky on a loaded one; `wait_until`
returns as soon as the condition holds and fails with a message saying what never happened.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class ConditionTimeout(AssertionError):
    """A condition a test waited on did not hold in time."""


def wait_until(condition: Callable[[], T | None], timeout: float, what: str, interval: float = 0.05) -> T:
    """Call ``condition`` until it returns a truthy value, and return that value.

    Fails with ``what`` (the thing that never happened) after ``timeout`` seconds. ``condition`` may
    raise AssertionError to stop the wait early (a process it watches has died, for one).
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise ConditionTimeout(f"{what}: not within {timeout:g} s")
        time.sleep(interval)
