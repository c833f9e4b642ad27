"""Test-suite set-up: make `tests/helpers` importable as `helpers` from every test directory.

The pytest `pythonpath` setting lives in pyproject.toml, which this directory does not own; inserting the tests
directory here has the same effect for every test module and for `benchmarks/` scripts that import the helpers.
"""

from __future__ import annotations

import sys
from pathlib import Path

_TESTS = str(Path(__file__).resolve().parent)
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)
