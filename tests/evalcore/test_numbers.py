"""Both implementations read numbers in text exactly as Python's correctly rounded float() does,
after JSON's grammar: the C core without strtod (which follows the process locale)."""

from __future__ import annotations

import random
import struct
from decimal import Decimal, getcontext
from types import ModuleType

import pytest


def bits(value: float) -> bytes:
    return struct.pack("<d", value)


def random_number(rng: random.Random) -> str:
    length = rng.choice([1, 2, 5, 15, 16, 17, 18, 19, 20, 25, 40, 120])
    digits = "".join(rng.choice("0123456789") for _ in range(length)).lstrip("0") or "0"
    text = ("-" if rng.random() < 0.3 else "") + digits
    if rng.random() < 0.6:
        text += "." + "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 30)))
    if rng.random() < 0.7:
        text += rng.choice("eE") + rng.choice(["", "+", "-"]) + str(rng.randint(0, 340))
    return text


def test_random_numbers_round_as_float_does(core: ModuleType) -> None:
    rng = random.Random(20261204)
    for _ in range(30_000):
        text = random_number(rng)
        parsed = core.parse_number(text)
        assert parsed is not None and bits(parsed) == bits(float(text)), text


def test_midpoints_between_doubles_round_to_even(core: ModuleType) -> None:
    getcontext().prec = 1200
    rng = random.Random(7)
    for _ in range(3_000):
        low = abs(rng.uniform(-1e300, 1e300) * 10.0 ** rng.randint(-300, 0))
        high = struct.unpack("<d", struct.pack("<q", struct.unpack("<q", bits(low))[0] + 1))[0]
        text = format((Decimal(low) + Decimal(high)) / 2, "e")  # exact, up to ~770 digits
        assert core.parse_number(text) == float(text), text[:40]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("-0", -0.0), ("1e400", float("inf")), ("-1e400", float("-inf")), ("1e-400", 0.0)],
)
def test_edges(core: ModuleType, text: str, expected: float) -> None:
    parsed = core.parse_number(text)
    assert parsed is not None and bits(parsed) == bits(expected)


@pytest.mark.parametrize(
    "text", ["", " 1", "1 ", "+1", "01", ".5", "1.", "1e", "NaN", "Infinity", "0x10", "\uff11"]
)
def test_outside_the_grammar(core: ModuleType, text: str) -> None:
    assert core.parse_number(text) is None
