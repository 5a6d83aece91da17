"""Pausing Python's cyclic garbage collector while a large response is decoded and projected.

A LIST page of 500 nodes becomes a few hundred thousand short-lived dicts, lists and strings.
With the collector on, that allocation triggers collections that walk the page (and the growing
cache) again and again: measured at a third of a 5,000-node prime. Reference counting frees the
page as soon as it is dropped either way; the pause only postpones the search for cycles, which
a parsed JSON document cannot contain. Pauses nest and may overlap between threads: the
collector is switched back on (if it was on) when the last one ends.
"""

from __future__ import annotations

import gc
import threading
from contextlib import contextmanager
from typing import Iterator

_lock = threading.Lock()
_holders = 0
_was_enabled = False


@contextmanager
def collector_paused() -> Iterator[None]:
    """Keep the cyclic garbage collector off for the duration of the ``with`` block."""
    global _holders, _was_enabled
    with _lock:
        if _holders == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _was_enabled:
                gc.enable()
