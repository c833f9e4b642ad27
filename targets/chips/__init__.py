"""Chip description files: one TOML per chip (`loihi.toml`, `loihi2.toml`), read by `spikeport.targets.chip`.

Every number in them carries a unit and a source. The baseline file `baseline_cmos45nm.toml` holds the
conventional (non-neuromorphic) energy figures used only as context in energy reports.
"""

__all__: list[str] = []
