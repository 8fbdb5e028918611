"""The one clock: every "now" of the program is read here, so that a test can set it.

``now()`` is aware UTC. ``frozen(moment)`` makes it return ``moment`` (or call it, when it is a
function) until the ``with`` ends; it is for tests, in-process. Nothing reads the time from
the environment: a subprocess runs on the real clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager

_override: Callable[[], dt.datetime] | None = None


def now() -> dt.datetime:
    """The current time, aware, in UTC."""
    if _override is not None:
        return _override().astimezone(dt.UTC)
    return dt.datetime.now(dt.UTC)


def now_iso(timespec: str = "milliseconds") -> str:
    """``now()`` as ISO-8601 with its +00:00 offset (what the database stores)."""
    return now().isoformat(timespec=timespec)


def today_utc() -> dt.date:
    return now().date()


@contextmanager
def frozen(moment: dt.datetime | Callable[[], dt.datetime]) -> Iterator[None]:
    """``now()`` is ``moment`` (an aware time, or a function returning one) inside the block."""
    global _override
    if isinstance(moment, dt.datetime):
        if moment.tzinfo is None:
            raise ValueError(f"clock.frozen needs an aware time, not {moment}")
        fixed = moment
        moment = lambda: fixed  # noqa: E731
    previous, _override = _override, moment
    try:
        yield
    finally:
        _override = previous
