"""RAT-SNN (issue 10): multi-timescale LIF encoder, spike-driven attention, integrator readout, for reach decoding."""

from spikeport.train.models.rat_snn.config import RatSnnConfig

__all__ = ["RatSnnConfig"]
