"""Protects the chapters' summary of a measurement over seeds: median, range and how they print."""

import math

import pytest

from gradflow.seeds import Spread, spread, two_digits


def test_spread_by_hand():
    assert spread([3.0, 1.0, 10.0, 2.0, 4.0]) == Spread(median=3.0, low=1.0, high=10.0)
    assert spread([3.0, 1.0, 2.0, 10.0]) == (2.5, 1.0, 10.0)  # an even count: the middle two's mean
    median, low, high = spread([7])
    assert median == low == high == 7.0


def test_a_diverged_seed_is_the_largest_value():
    assert spread([1.0, math.inf, 2.0]) == (2.0, 1.0, math.inf)


def test_spread_prints_as_the_tables_show_it():
    assert f"{spread([0.8, 1.3, 0.9]):.2f}" == "0.90 (0.80 to 1.30)"
    assert format(Spread(0.5, 0.25, 1.0), ".0%") == "50% (25% to 100%)"


def test_no_values_is_an_error():
    with pytest.raises(ValueError, match="values is empty"):
        spread([])


@pytest.mark.parametrize(
    ("x", "rounded"), [(1137.2, 1100.0), (0.01234, 0.012), (96.0, 96.0), (-0.456, -0.46)]
)
def test_two_digits_by_hand(x, rounded):
    assert two_digits(x) == rounded
