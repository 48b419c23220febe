"""`wait_for`: poll the database (or anything) until an outcome shows, for tests with real workers."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(predicate: Callable[[], T], *, timeout: float = 30.0, interval: float = 0.05, what: str = "") -> T:
    """Poll `predicate` until it returns something truthy and return that; fail after `timeout` seconds.

    Assert what happens, never how fast: the timeout only bounds a test that would otherwise hang.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}; last value {value!r}")
        time.sleep(interval)
