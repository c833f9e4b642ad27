"""The approximations the quantizer makes, per layer, each with its size: what the float-vs-integer gap is made of.

Every entry is one way the integer population differs from its float NIR semantics (`spikeport.export.network`):

| kind | size | unit |
| --- | --- | --- |
| decay rounding | largest |(du + 1)/4096 - beta| or |dv/4096 - alpha| | per step |
| threshold mantissa | |vth * 2**6 / S - v_th| / v_th | relative |
| weight mantissa | largest RMS rounding error of an incoming synapse / RMS of its weights | relative RMS |
| weight exponent | a negative weight_exp floors each step's input: 2**6 / (vth * 2**6) | relative to threshold |
| bias | largest |rounded - float| voltage bias, with the bias axon's folded residual | relative to threshold |
| delay limit | connections off the layer's lag; a bias transient the chip cannot give | connections, steps |
| delay limit | the voltage bias acting k steps before the input arrives (lag k): k * |bias| | relative to threshold |
| reset semantics | never listed: a non-zero NIR v_reset is refused, and both sides reset v to 0 and keep u | - |
| clipping | weights and biases clipped to their mantissa range | values |

Readouts have no threshold: their relative sizes are relative to the state range, 2**22. Only approximations of
non-zero size are listed. `spikeport.validate` names a flagged layer's dominant cause from
these entries.
"""

from __future__ import annotations

from dataclasses import dataclass

KINDS = (
    "decay rounding",
    "threshold mantissa",
    "weight mantissa",
    "weight exponent",
    "bias",
    "delay limit",
    "reset semantics",
    "clipping",
)


@dataclass(frozen=True)
class Approximation:
    """One approximation of one population: its kind (one of `KINDS`), size, unit and a readable detail."""

    kind: str
    size: float
    unit: str
    detail: str

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"approximation kind {self.kind!r} is not one of {KINDS}")

    def describe(self) -> str:
        return f"{self.kind} {self.size:.3g} {self.unit} ({self.detail})"


@dataclass(frozen=True)
class LayerFacts:
    """What the quantizer measured for one population, from which its approximations are listed."""

    decay_u_error: float
    decay_v_error: float
    vth_rel_error: float
    vth: int
    spiking: bool
    weight_errors: tuple[tuple[str, float], ...]
    """(synapse, relative RMS error) of each incoming synapse (not the bias axon: its residual is in `bias_error`)."""
    weight_exp: int
    bias_error: float
    """Largest |rounded - float| voltage bias (with the bias axon's folded residual), relative to `reference`."""
    misaligned: int
    """Connections whose chip arrival differs from the population's lag: zero-delay ones arrive one step later
    than delayed ones from sources of equal lag."""
    bias_timing_exact: bool
    early_bias: float
    """The voltage bias times the steps it acts before the population's input arrives, relative to `reference`."""
    clipped: int
    reference: str
    """What the relative sizes are relative to: "threshold" (vth << 6), or "state range" (readouts, 2**22)."""


def list_approximations(facts: LayerFacts, act_shift: int) -> tuple[Approximation, ...]:
    """The non-zero approximations of one population, in the order of `KINDS`."""
    out, relative = [], f"relative to {facts.reference}"
    decay = max(facts.decay_u_error, facts.decay_v_error)
    if decay > 0:
        out.append(
            Approximation(
                "decay rounding",
                decay,
                "per step",
                f"current decay off by {facts.decay_u_error:.2e}, voltage decay by {facts.decay_v_error:.2e}",
            )
        )
    if facts.spiking and facts.vth_rel_error > 0:
        out.append(Approximation("threshold mantissa", facts.vth_rel_error, "relative", f"vth {facts.vth}"))
    worst = max(facts.weight_errors, key=lambda e: e[1], default=None)
    if worst is not None and worst[1] > 0:
        out.append(Approximation("weight mantissa", worst[1], "relative RMS", f"largest on synapse {worst[0]!r}"))
    if facts.weight_exp < 0 and facts.spiking and facts.vth:
        out.append(
            Approximation(
                "weight exponent",
                1 / facts.vth,
                "relative to threshold",
                f"weight_exp {facts.weight_exp} floors each step's summed input to whole units of 2**{act_shift}",
            )
        )
    if facts.bias_error > 0:
        out.append(Approximation("bias", facts.bias_error, relative, "bias mantissa and the bias axon's residual"))
    if facts.misaligned:
        detail = "zero-delay connections arrive one step later than delayed ones (every Loihi Dense adds a step)"
        out.append(Approximation("delay limit", float(facts.misaligned), "connections", detail))
    if not facts.bias_timing_exact:
        detail = "the synaptic bias misses the first step (no current leak to compensate with)"
        out.append(Approximation("delay limit", 1.0, "steps", detail))
    if facts.early_bias > 0:
        detail = "the voltage bias acts from a sample's first step, before the input reaches the population"
        out.append(Approximation("delay limit", facts.early_bias, relative, detail))
    if facts.clipped:
        out.append(Approximation("clipping", float(facts.clipped), "values", "weights or biases clipped to range"))
    return tuple(out)
