"""Exception and warning types of spikeport.

Every message says what failed, where, what was found and expected, and how to fix it.
"""

from __future__ import annotations


class SpikeportError(Exception):
    """Base class of every error spikeport raises on purpose."""


class IRValidationError(SpikeportError, ValueError):
    """A deploy graph or one of its nodes is malformed (shape, dtype, range, dangling edge)."""


class QuantizationRangeError(SpikeportError, ValueError):
    """A value cannot be represented in the chip's integer format and saturation was not allowed."""


class UnsupportedNodeError(SpikeportError, ValueError):
    """A NIR node or graph construct has no mapping to the chip."""


class ChipCapacityError(SpikeportError, ValueError):
    """A network does not fit the chip's cores or per-core limits."""


class SimulationError(SpikeportError, RuntimeError):
    """A simulator (the reference or Lava) failed or timed out."""


class MissingDependencyError(SpikeportError, ImportError):
    """An optional dependency (lava-nc, norse) is not installed."""


class SpikeportWarning(UserWarning):
    """A lossy but legal step happened, such as clipping values to a chip's range."""
