"""A number from a chip description: its value, unit, source and how it was obtained."""

from __future__ import annotations

from dataclasses import dataclass

from spikeport.errors import ChipSpecError

BASES = ("published", "measured", "derived", "commonly quoted")
"""How a figure was obtained, as the energy-constants notes label it."""


@dataclass(frozen=True)
class Figure:
    """One number with its unit and where it comes from."""

    value: float
    """The number, in `unit` (an int where the file gives an int)."""
    unit: str
    """Unit of `value`, e.g. "pJ", "ns", "W", "cores"."""
    source: str
    """Full citation of the figure."""
    note: str = ""
    """Qualifier (operating conditions, how it was derived)."""
    basis: str = "published"
    """One of `BASES`, or "proxy" when the energy model borrowed the figure from another chip."""

    def as_int(self) -> int:
        """The value as an int (limits, bit widths); raises ChipSpecError if it is not integral."""
        if float(self.value) != int(self.value):
            raise ChipSpecError(f"figure {self.value} {self.unit} is not an integer ({self.source})")
        return int(self.value)

    def label(self) -> str:
        """`23.6 pJ [published] (source)`: the figure as a report line shows it."""
        note = f"; {self.note}" if self.note else ""
        return f"{self.value:g} {self.unit} [{self.basis}{note}] ({self.source})"

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form with a stable key order."""
        value = int(self.value) if isinstance(self.value, int) else float(self.value)
        return {"value": value, "unit": self.unit, "basis": self.basis, "source": self.source, "note": self.note}
