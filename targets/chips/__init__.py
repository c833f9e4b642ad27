"""Chip description files, read by `spikeport.targets.chip` and `spikeport.targets.energy_models`.

Chip targets (`loihi.toml`, `loihi2.toml`: limits, number formats, per-op energy and timing, static power) and, marked
by a top-level `kind`, energy-only chip models (`spinnaker2`, `truenorth`, `speck`, `xylo`) and conventional
baselines (`cmos45nm_fp32`, `cmos45nm_int8`, `cpu`, `gpu`). Every number in them carries a unit and a source.
"""

__all__: list[str] = []
