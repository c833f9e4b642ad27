"""Chip targets: quantization to a chip's integer formats, chip descriptions, op counts and energy."""

from spikeport.errors import ChipSpecError, EnergyModelError
from spikeport.targets.chip import ChipId, ChipSpec, Figure, load_baseline, load_chip
from spikeport.targets.energy import EnergyReport, estimate_energy
from spikeport.targets.opcount import OpCounts, SynopConvention, count_ops
from spikeport.targets.quantize import QuantizationReport, quantize

__all__ = [
    "ChipId",
    "ChipSpec",
    "ChipSpecError",
    "EnergyModelError",
    "EnergyReport",
    "Figure",
    "OpCounts",
    "QuantizationReport",
    "SynopConvention",
    "count_ops",
    "estimate_energy",
    "load_baseline",
    "load_chip",
    "quantize",
]
