"""Test-suite set-up: make `tests/helpers` importable as `helpers` from every test directory; gate `lava` tests.

Test modules import shared factories as `from helpers.random_graphs import ...`; putting the tests directory on
`sys.path` here does what a pytest `pythonpath` setting would (benchmarks/ scripts insert it themselves).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_TESTS = str(Path(__file__).resolve().parent)
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip `lava`-marked tests, with the reason, where lava-nc is not installed (the marker gates them)."""
    if importlib.util.find_spec("lava") is not None:
        return
    skip = pytest.mark.skip(reason="lava-nc is not installed (run `make install`)")
    for item in items:
        if "lava" in item.keywords:
            item.add_marker(skip)
