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


class SaturationError(SimulationError):
    """A strict run saturated or wrapped a value, or its deploy graph holds weights the chip would clip."""


class MissingDependencyError(SpikeportError, ImportError):
    """An optional dependency (lava-nc, norse) is not installed."""


class CorruptFileError(SpikeportError, ValueError):
    """A file spikeport reads is damaged, truncated, or not in the format it expects."""


class InputDataError(SpikeportError, ValueError):
    """Input data (spike inputs, targets, labels) has the wrong shape or type, NaN/inf values, or labels outside
    the class range."""


class DataSourceError(SpikeportError, ValueError):
    """A recorded data source cannot be read as asked: a missing file, subject or run, a bad event-to-class
    mapping, a recording without the requested channels or events, or an optional reader that is not installed."""


class StaleArtifactError(SpikeportError):
    """An artifact of a run directory is missing, foreign, changed, or made from inputs that have changed since."""


class ModelFamilyError(SpikeportError, ValueError):
    """A model family is unknown, malformed, or registered twice under one name."""


class ChipSpecError(IRValidationError):
    """A chip description file is malformed (unknown or missing key, wrong unit, unknown source)."""


class EnergyModelError(SpikeportError, ValueError):
    """The energy model cannot be evaluated: a figure it needs is missing, or an argument is out of range."""


class RecordMismatchError(SpikeportError, ValueError):
    """Two run records cannot be compared: they hold different populations or differently shaped traces."""


class SpikeportWarning(UserWarning):
    """A lossy but legal step happened, such as clipping values to a chip's range."""


class Interrupted(KeyboardInterrupt):
    """A signal (SIGINT, SIGTERM, SIGHUP) stopped a run, after its clean-up; `exit_code` is 128 + the signal number.

    Like KeyboardInterrupt, it is not an `Exception`, so an `except Exception` (in Lava's code or a caller's) does
    not swallow it, and `except KeyboardInterrupt` still catches it.
    """

    def __init__(self, signum: int, message: str) -> None:
        super().__init__(message)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        """The exit status a shell reports for a command ended by this signal."""
        return 128 + self.signum
