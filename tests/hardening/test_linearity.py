"""No parser or matcher takes super-linear time on adversarial input.

Each case of ``benchmarks/linearity.py`` (a parser and its worst known input
shape) runs at two sizes eight times apart.  Linear code takes about eight
times as long; quadratic code, sixty-four.  The bound, forty times plus a
fixed allowance for timer noise, is deliberately generous: it cannot flake
on a loaded machine, and still catches the backtracking regular expression
(two stars over one class) this suite was written to keep out.
The full 1 KB to 10 MB table is ``python benchmarks/linearity.py``.

The structural tests below pin, without a clock, the shapes that keep the
hot paths linear.
"""

from __future__ import annotations

import re

import pytest

from benchmarks.linearity import CASES, Case, measure
from policy._entry_grammar import _HOSTNAME

SMALL = 2_000
LARGE = 8 * SMALL
# Linear: about 8.  Quadratic: about 64.
BOUND = 40
NOISE_SECONDS = 0.02


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_time_grows_linearly(case: Case) -> None:
    small = measure(case, SMALL)
    large = measure(case, LARGE)
    assert large <= BOUND * small + NOISE_SECONDS, (
        f"{case.name}: {small:.4f}s at {SMALL} bytes, {large:.4f}s at {LARGE}"
    )


def test_hostname_pattern_has_no_overlapping_stars() -> None:
    # The host-name check once read "[..]*[A-Za-z_][..]*": two unbounded
    # repeats of one class around a single member of it, which backtracks
    # quadratically on "aaaa...a!".
    assert not re.search(r"\]\*\[[^\]]*\]\[", _HOSTNAME.pattern)
    assert _HOSTNAME.fullmatch("a" * 200_000 + "!") is None


@pytest.mark.parametrize(
    ("word", "is_hostname"),
    [
        ("example.com", True),
        ("host", True),
        ("_srv.example.", True),
        ("10.0.0.1", False),
        ("1a.2", True),
        ("12.ab", False),
        ("a..b", False),
        ("-", False),
        ("", False),
    ],
)
def test_hostname_pattern_still_means_the_same(word: str, is_hostname: bool) -> None:
    # The first label must hold a letter or '_'; later labels need not.
    assert (_HOSTNAME.fullmatch(word) is not None) is is_hostname
