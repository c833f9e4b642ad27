"""The quantization report: per synapse and per population, what the quantizer chose and what it cost.

`spikeport.targets.quantize` fills it; `quantization.json` is its `to_dict()`, and `spikeport import|quantize`
print its `summary_lines()`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from spikeport.targets.approximations import Approximation


@dataclass(frozen=True)
class SynapseQuantization:
    """How one synapse's weights were quantized."""

    name: str
    target: str
    weight_exp: int
    num_weight_bits: int
    sign_mode: str
    max_abs_mantissa: int
    clipped: int
    total: int
    max_abs_error: float
    """Largest |W_float_effective - W_int_effective| in float units of v per input spike."""
    rel_rms_error: float
    """RMS error relative to the RMS of the float effective weights."""
    late_by_one_step: int
    """Connections with no delay in the float graph: on Loihi every Dense adds one step, so these arrive later."""
    fine: str | None = None
    """The second Dense that carries this synapse's rounding residual (`quantize(fine_weights=True)`); the errors
    above are then those of the two together."""


@dataclass(frozen=True)
class PopulationQuantization:
    """How one population's neuron parameters were quantized."""

    name: str
    kind: str
    scale: float
    du: int | tuple[int, ...]
    """The current decay register; one per decay group, in group order, for a multi-timescale population."""
    dv: int | tuple[int, ...]
    vth: int
    decay_u_error: float
    """|(du + 1)/4096 - beta|, largest over neurons."""
    decay_v_error: float
    vth_rel_error: float
    bias_clipped: int
    spiking: bool
    decay_groups: tuple[dict, ...] = ()
    """Multi-timescale populations (neurons with different decays): each group's du, dv, size and largest decay
    errors (`spikeport.targets.decay_groups`); du and dv above are then the groups' values. Empty otherwise."""
    decay_groups_merged: int = 0
    """Distinct rounded decay pairs merged into neighbouring groups because of `max_decay_groups`."""
    grouping_agreement: float | None = None
    """Float run with learned decays vs float run with the grouped quantized ones, on the calibration inputs:
    spike agreement (spiking) or 1 - max|dv|/max|v| (readout); None without calibration or groups."""
    approximations: tuple[Approximation, ...] = ()
    """Every approximation of the float semantics with its size (`spikeport.targets.approximations`)."""
    agreement_before: float | None = None
    """Layer-alone spike agreement with the float population (fed the float inputs) at the range rule's scale;
    None where the scale was not searched (no calibration inputs, a readout, or no input but its own recurrence)."""
    agreement_after: float | None = None
    """The same at the scale the behaviour search chose (`spikeport.targets.scale_search`)."""
    bias_axon: str | None = None
    """The connection that carries the population's synaptic biases into its current (`targets/bias_axon.py`)."""


@dataclass(frozen=True)
class QuantizationReport:
    """Everything the quantizer decided and every value it had to clip."""

    synapses: tuple[SynapseQuantization, ...]
    populations: tuple[PopulationQuantization, ...]
    calibration: str = "none"
    """What the ranges and the scale search were calibrated on, e.g. "random spikes, rate 0.2, 16 samples"."""

    @property
    def total_clipped(self) -> int:
        return sum(s.clipped for s in self.synapses) + sum(p.bias_clipped for p in self.populations)

    def to_dict(self) -> dict:
        return {
            "synapses": [asdict(s) for s in self.synapses],
            "populations": [asdict(p) for p in self.populations],
            "total_clipped": self.total_clipped,
            "calibration": self.calibration,
        }

    def summary_lines(self) -> list[str]:
        lines = [f"calibration: {self.calibration}"]
        for s in self.synapses:
            lines.append(
                f"{s.name} -> {s.target}: weight_exp {s.weight_exp}, {s.num_weight_bits}-bit {s.sign_mode}, "
                f"rel. RMS error {s.rel_rms_error:.2%}, {s.clipped}/{s.total} clipped"
                + (f", {s.late_by_one_step} zero-delay connections arrive one step late" if s.late_by_one_step else "")
                + (f", residual in {s.fine}" if s.fine else "")
            )
        for p in self.populations:
            lines.append(
                f"{p.name} ({p.kind}): du {p.du}, dv {p.dv}, vth {p.vth}"
                + (f" (rel. error {p.vth_rel_error:.2e})" if p.spiking else " (non-spiking readout)")
                + (f", {p.bias_clipped} biases clipped" if p.bias_clipped else "")
                + (f", {len(p.decay_groups)} decay groups" if p.decay_groups else "")
                + (f" ({p.decay_groups_merged} merged)" if p.decay_groups_merged else "")
                + (f", grouping agreement {p.grouping_agreement:.4f}" if p.grouping_agreement is not None else "")
                + (f", biases into the current via {p.bias_axon}" if p.bias_axon else "")
                + (
                    f", layer agreement {p.agreement_before:.2%} -> {p.agreement_after:.2%} (scale search)"
                    if p.agreement_before is not None and p.agreement_after is not None
                    else ""
                )
            )
            lines += [f"  approximation: {a.describe()}" for a in p.approximations]
        return lines
