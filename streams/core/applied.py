"""Which events of a file a server state has applied, as intervals of the file's event chain.

``Event.prev`` links each event to the previous one the extractor produced for the same server in
the same file, so a file's events form a chain. Applied events are remembered as closed intervals of
that chain: an event inside an interval was applied before; a new one extends or joins intervals.
In-order delivery keeps one interval per file; arbitrary reordering adds intervals only until the
gaps fill, so memory follows the disorder, not the number of events. Exact for any order as long
as the ``prev`` links are right.

A file's marks are plain data, ``[newest_ts, prevs, bounds]`` (see :func:`mark`); ``newest_ts`` lets
the reducer forget the file with the oldest events first.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from typing import Any


def new_marks(ts: int, pos: int, prev: int) -> list[Any]:
    """Marks of a file whose first applied event is at ``pos`` (time ``ts``, predecessor ``prev``)."""
    return [ts, array("q", (prev,)), array("q", (pos, pos))]


def mark(marks: list[Any], pos: int, prev: int) -> bool:
    """Record chain position ``pos`` (whose predecessor is ``prev``) in a file's applied intervals.

    ``marks`` is ``[newest_ts, prevs, bounds]``. ``bounds`` is the flat sorted sequence
    ``start0, end0, start1, end1, ...`` of the applied intervals of the file's event chain and
    ``prevs[k]`` the predecessor of interval k's first event (so ``len(prevs)`` is the number of
    intervals). Both are ``array('q')``: one C bisect over packed ints finds whether ``pos`` lies
    inside an interval (odd insertion point, or equal to an end). False when ``pos`` was applied
    before. Two applied neighbours are always in one interval, which is what makes the joins exact.
    """
    prevs, bounds = marks[1], marks[2]
    last = bounds[-1]
    if pos > last:  # in-order delivery: extend or follow the last interval
        if prev == last:
            bounds[-1] = pos
        else:
            bounds.append(pos)
            bounds.append(pos)
            prevs.append(prev)
        return True
    j = bisect_right(bounds, pos)
    if j & 1 or (j and bounds[j - 1] == pos):
        return False
    # pos lies between interval k-1 (if any) and interval k (which exists: pos < the last end)
    k = j >> 1
    joins_left = j and prev == bounds[j - 1]  # ends are >= 0, so prev = -1 never joins
    if prevs[k] == pos:  # pos is the predecessor of interval k's first event
        if joins_left:
            del bounds[j - 1 : j + 1]
            del prevs[k]
        else:
            bounds[j] = pos
            prevs[k] = prev
    elif joins_left:
        bounds[j - 1] = pos
    else:
        bounds.insert(j, pos)
        bounds.insert(j, pos)
        prevs.insert(k, prev)
    return True


def marks_to_list(marks: list[Any]) -> list[Any]:
    """``[newest_ts, [[start, end, prev], ...]]``: the serialised form (orjson-friendly)."""
    prevs, bounds = marks[1], marks[2]
    return [marks[0], [[bounds[2 * k], bounds[2 * k + 1], p] for k, p in enumerate(prevs)]]


def marks_from_list(ts: int, intervals: list[list[int]]) -> list[Any]:
    """Inverse of :func:`marks_to_list`."""
    prevs = array("q", [iv[2] for iv in intervals])
    bounds = array("q", [b for iv in intervals for b in iv[:2]])
    return [ts, prevs, bounds]
