"""Simulators of deploy graphs: the integer reference (torch, batched) and Lava `fixed_pt`, and their comparison."""

from spikeport.simulators.compare import Comparison, Mismatch, compare_runs
from spikeport.simulators.record import PopulationTrace, RunRecord, load_record, save_record
from spikeport.simulators.reference import run_reference

__all__ = [
    "Comparison",
    "Mismatch",
    "PopulationTrace",
    "RunRecord",
    "compare_runs",
    "load_record",
    "run_reference",
    "save_record",
]
