"""Vectorised membership over arrays of parsed addresses, with numpy.

For audits of millions of addresses: one call answers a whole array, with
no Python-level work per address.  numpy is optional; it is imported on
first use, and its absence is a clear :class:`ModuleNotFoundError`.

IPv4 addresses are a ``uint32`` array.  IPv6 addresses are an ``(n, 2)``
array of ``uint64``, the high and the low 64 bits, because numpy has no
128-bit integer.  An IPv4-mapped IPv6 address is judged as IPv4, as
everywhere else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from policy._address import Version
from policy._errors import PolicyTypeError

if TYPE_CHECKING:
    from policy._index import IntervalIndex

__all__ = ["contains_array"]

_LOW64: Final = (1 << 64) - 1


def _numpy() -> Any:
    """Import numpy, or explain how to get it."""
    try:
        import numpy
    except ModuleNotFoundError:
        raise ModuleNotFoundError(
            "contains_array needs numpy; install it (pip install numpy) or use "
            "contains_many",
            name="numpy",
        ) from None
    return numpy


def contains_array(index: IntervalIndex, values: Any, *, version: Version) -> Any:
    """Return a boolean array: is each address of ``values`` in ``index``?

    Args:
        index: The index to look addresses up in.
        values: For ``version=4``, integers ``0 <= v < 2**32`` (a
            ``uint32`` array is used as is); for ``version=6``, an
            ``(n, 2)`` array of ``uint64`` high and low halves.
        version: 4 or 6.

    Returns:
        A numpy ``bool`` array of the addresses' length, in order.

    Raises:
        PolicyTypeError: ``version`` is not 4 or 6, or ``values`` has the
            wrong shape, type or range.
        ModuleNotFoundError: numpy is not installed.
    """
    np = _numpy()
    if version == 4:
        return _contains4(np, index, _as_v4(np, values))
    if version == 6:
        return _contains6(np, index, _as_v6(np, values))
    raise PolicyTypeError(f"version must be 4 or 6, got {version!r}")


def _as_v4(np: Any, values: Any) -> Any:
    """Check and convert IPv4 values to a ``uint32`` array."""
    array = np.asarray(values)
    if array.dtype == np.uint32 and array.ndim == 1:
        return array
    if array.ndim != 1 or (array.size and array.dtype.kind not in "iu"):
        raise PolicyTypeError(
            "IPv4 values must be a one-dimensional array of integers, "
            f"got shape {array.shape} of {array.dtype}"
        )
    if array.size and (array.min() < 0 or array.max() > 0xFFFF_FFFF):
        raise PolicyTypeError(
            f"IPv4 values must be 0 to 4294967295, got {array.min()} to {array.max()}"
        )
    return array.astype(np.uint32)


def _as_v6(np: Any, values: Any) -> Any:
    """Check and convert IPv6 values to an ``(n, 2)`` ``uint64`` array."""
    array = np.asarray(values)
    if array.ndim != 2 or array.shape[1] != 2 or array.dtype != np.uint64:
        raise PolicyTypeError(
            "IPv6 values must be an (n, 2) uint64 array of high and low "
            f"halves, got shape {array.shape} of {array.dtype}"
        )
    return array


def _tables(np: Any, index: IntervalIndex, version: Version) -> dict[str, Any]:
    """The index's arrays for one family, built once and kept on the index."""
    key = f"numpy{version}"
    cached = index.vectors.get(key)
    if isinstance(cached, dict):
        return cached
    ranges = index.ranges(version)
    if version == 4:
        found: dict[str, Any] = {
            "starts": np.array([first for first, _ in ranges], dtype=np.uint32),
            "ends": np.array([last for _, last in ranges], dtype=np.uint32),
            "table": np.frombuffer(index.first_level(4), dtype=np.uint8),
        }
    else:
        halves = [
            (first >> 64, first & _LOW64, last >> 64, last & _LOW64)
            for first, last in ranges
        ]
        columns = np.array(halves, dtype=np.uint64).reshape(-1, 4)
        found = {
            "start_hi": columns[:, 0].copy(),
            "start_lo": columns[:, 1].copy(),
            "end_hi": columns[:, 2].copy(),
            "end_lo": columns[:, 3].copy(),
        }
    index.vectors[key] = found
    return found


def _contains4(np: Any, index: IntervalIndex, values: Any) -> Any:
    """Membership of a ``uint32`` array, first-level table then search."""
    tables = _tables(np, index, 4)
    verdict = tables["table"][values >> 16]
    result = verdict == 1
    # Only addresses in split 16-bit blocks (verdict 2) need a search.
    split = np.flatnonzero(verdict == 2)
    if split.size:
        wanted = values[split]
        ends = tables["ends"]
        i = np.searchsorted(tables["starts"], wanted, side="right") - 1
        result[split] = (i >= 0) & (wanted <= ends[np.maximum(i, 0)])
    return result


def _contains6(np: Any, index: IntervalIndex, values: Any) -> Any:
    """Membership of ``(n, 2)`` halves; IPv4-mapped rows go to IPv4."""
    high, low = values[:, 0], values[:, 1]
    result = np.zeros(len(values), dtype=bool)
    mapped = (high == 0) & ((low >> np.uint64(32)) == 0xFFFF)
    if mapped.any():
        as_v4 = (low[mapped] & np.uint64(0xFFFF_FFFF)).astype(np.uint32)
        result[mapped] = _contains4(np, index, as_v4)
    rows = np.flatnonzero(~mapped)
    tables = _tables(np, index, 6)
    if not rows.size or not tables["start_hi"].size:
        return result
    high, low = high[rows], low[rows]
    i = np.searchsorted(tables["start_hi"], high, side="right") - 1
    at = np.maximum(i, 0)
    end_hi, end_lo = tables["end_hi"][at], tables["end_lo"][at]
    below_end = (high < end_hi) | ((high == end_hi) & (low <= end_lo))
    result[rows] = (i >= 0) & below_end
    # The search keyed on the high half alone: when interval i starts in
    # the same high half but after the address, the answer lies with an
    # earlier interval.  Such rows are rare; the scalar index decides them.
    unsure = np.flatnonzero(
        (i >= 0) & (tables["start_hi"][at] == high) & (tables["start_lo"][at] > low)
    )
    for row in unsure:
        value = int(high[row]) << 64 | int(low[row])
        result[rows[row]] = index.contains(6, value)
    return result
