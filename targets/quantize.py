"""Quantization: a float NIR network to a Loihi integer deploy graph, with a per-layer account of what it cost.

Each population p gets one scale S_p (integer units of v per float unit of v), so that Loihi's u = S_p * cur and
v = S_p * v exactly mirror the float discrete form of `spikeport.export.nir_graph`:

    du = round(4096 * beta) - 1        (Lava decays u by (du + 1) / 4096)
    dv = round(4096 * alpha)
    W_q * 2**(6 + weight_exp) = S_p * gain * W      (per synapse into p)
    vth = round(S_p * v_th / 2**6),    bias_mant * 2**bias_exp = round(S_p * bias)

S_p and weight_exp are chosen together: the weights of the synapses into p fill the 8-bit mantissa range (254
for mixed signs, which lose their lowest bit on Loihi), and weight_exp is the largest exponent in [-8, 7] that
keeps S_p times the population's float range (threshold, and the calibrated peak |u| and |v|) below 2**22, half
the 24-bit state range. Nothing saturates silently: clipped values are counted, reported and warned about.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass

import numpy as np

from spikeport.errors import QuantizationRangeError, SpikeportWarning
from spikeport.export.nir_float import simulate_float
from spikeport.export.nir_graph import ParsedNetwork, Population
from spikeport.ir import DenseInt, DeployGraph, LIFInt, SpikeInput
from spikeport.ir.nodes import BIAS_EXP_RANGE, BIAS_MANT_RANGE, DECAY_UNITY, VTH_MANT_MAX, WEIGHT_EXP_RANGE

STATE_BUDGET = 2.0**22  # half of the 24-bit u/v range: headroom for excursions beyond the calibration set
THRESHOLD_SHIFT = 6


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


@dataclass(frozen=True)
class PopulationQuantization:
    """How one population's neuron parameters were quantized."""

    name: str
    kind: str
    scale: float
    du: int
    dv: int
    vth: int
    decay_u_error: float
    """|(du + 1)/4096 - beta|, largest over neurons."""
    decay_v_error: float
    vth_rel_error: float
    bias_clipped: int
    spiking: bool


@dataclass(frozen=True)
class QuantizationReport:
    """Everything the quantizer decided and every value it had to clip."""

    synapses: tuple[SynapseQuantization, ...]
    populations: tuple[PopulationQuantization, ...]

    @property
    def total_clipped(self) -> int:
        return sum(s.clipped for s in self.synapses) + sum(p.bias_clipped for p in self.populations)

    def to_dict(self) -> dict:
        return {
            "synapses": [asdict(s) for s in self.synapses],
            "populations": [asdict(p) for p in self.populations],
            "total_clipped": self.total_clipped,
        }

    def summary_lines(self) -> list[str]:
        lines = []
        for s in self.synapses:
            lines.append(
                f"{s.name} -> {s.target}: weight_exp {s.weight_exp}, {s.num_weight_bits}-bit {s.sign_mode}, "
                f"rel. RMS error {s.rel_rms_error:.2%}, {s.clipped}/{s.total} clipped"
                + (f", {s.late_by_one_step} zero-delay connections arrive one step late" if s.late_by_one_step else "")
            )
        for p in self.populations:
            lines.append(
                f"{p.name} ({p.kind}): du {p.du}, dv {p.dv}, vth {p.vth}"
                + (f" (rel. error {p.vth_rel_error:.2e})" if p.spiking else " (non-spiking readout)")
                + (f", {p.bias_clipped} biases clipped" if p.bias_clipped else "")
            )
        return lines


def _constant(values: np.ndarray, name: str, what: str) -> float:
    if not np.allclose(values, values[0], rtol=1e-9, atol=0):
        raise QuantizationRangeError(
            f"population {name!r}: {what} differs between neurons; a Loihi LIF process has one {what} per "
            "population. Split the population or make the time constants equal"
        )
    return float(values[0])


def _decays(pop: Population) -> tuple[int, int, float, float]:
    beta, alpha = _constant(pop.beta, pop.name, "synaptic decay"), _constant(pop.alpha, pop.name, "membrane decay")
    du = min(max(round(DECAY_UNITY * beta) - 1, -1), DECAY_UNITY - 1)
    dv = min(max(round(DECAY_UNITY * alpha), 0), DECAY_UNITY)
    return du, dv, abs((du + 1) / DECAY_UNITY - beta), abs(dv / DECAY_UNITY - alpha)


def _float_range(pop: Population, calibration) -> float:
    """Largest float magnitude the population's u or v must represent."""
    candidates = [float(np.max(pop.v_th))] if pop.spiking else []
    if calibration is not None:
        trace = calibration[pop.name]
        candidates += [float(np.max(np.abs(trace.cur), initial=0)), float(np.max(np.abs(trace.v), initial=0))]
    candidates = [c for c in candidates if c > 0]
    if not candidates:
        raise QuantizationRangeError(
            f"population {pop.name!r} is non-spiking and no calibration inputs were given, so its value range is "
            "unknown; pass calibration_inputs (a few training samples) to quantize()"
        )
    return max(candidates)


def _mantissa_limit(sign_mode: str, num_weight_bits: int) -> tuple[int, int]:
    """(largest usable |mantissa|, step between representable mantissas) on Loihi."""
    step = 2 ** (8 - num_weight_bits + (1 if sign_mode == "mixed" else 0))
    return 256 - step, step  # mixed: [-256, 254] in steps of 2 at 8 bits; one sign: up to 255


def _sign_mode(w: np.ndarray) -> str:
    if w.min(initial=0) >= 0:
        return "excitatory"
    return "inhibitory" if w.max(initial=0) <= 0 else "mixed"


def _choose_scale(effective: list[np.ndarray], modes: list[str], bits: int, float_range: float) -> tuple[float, int]:
    """(S, weight_exp): weights fill the mantissa range and S * float_range stays within STATE_BUDGET."""
    peak = max(
        (
            float(np.max(np.abs(w), initial=0)) / _mantissa_limit(m, bits)[0]
            for w, m in zip(effective, modes, strict=True)
        ),
        default=0,
    )
    s_max = STATE_BUDGET / float_range
    if peak == 0:
        return s_max, 0
    per_mantissa = 1.0 / peak  # mantissa units per float unit that make the largest weight full-scale
    for exp in range(WEIGHT_EXP_RANGE[1], WEIGHT_EXP_RANGE[0] - 1, -1):
        scale = per_mantissa * 2.0 ** (THRESHOLD_SHIFT + exp)
        if scale <= s_max:
            return scale, exp
    return s_max, WEIGHT_EXP_RANGE[0]  # weights cannot use their full range without overflowing the state


def _quantize_weights(w_eff: np.ndarray, mode: str, bits: int, denom: float) -> tuple[np.ndarray, int]:
    limit, step = _mantissa_limit(mode, bits)
    mant = np.round(w_eff / denom / step) * step
    low, high = (-limit, limit) if mode == "mixed" else ((0, limit) if mode == "excitatory" else (-limit, 0))
    clipped = int(np.count_nonzero((mant < low) | (mant > high)))
    return np.clip(mant, low, high).astype(np.int64), clipped


def _quantize_bias(bias_int: np.ndarray) -> tuple[np.ndarray, int, int]:
    peak = float(np.max(np.abs(bias_int), initial=0))
    exp = 0
    while exp < BIAS_EXP_RANGE[1] and peak / 2**exp > BIAS_MANT_RANGE[1]:
        exp += 1
    mant = np.round(bias_int / 2**exp)
    clipped = int(np.count_nonzero((mant < BIAS_MANT_RANGE[0]) | (mant > BIAS_MANT_RANGE[1])))
    return np.clip(mant, *BIAS_MANT_RANGE).astype(np.int64), exp, clipped


def quantize(
    net: ParsedNetwork,
    *,
    calibration_inputs: np.ndarray | None = None,
    num_weight_bits: int = 8,
    chip: str = "loihi2",
    metadata: dict | None = None,
) -> tuple[DeployGraph, QuantizationReport]:
    """Quantize a parsed NIR network to a `DeployGraph` for a Loihi-class chip.

    Args:
        net: the float network (`spikeport.export.parse_nir`).
        calibration_inputs: (samples, steps, n_in) inputs whose float run sets each population's range;
            required for non-spiking populations (readouts), recommended for all.
        num_weight_bits: weight precision, 1..8.
        chip: chip id stored in the graph.
        metadata: extra JSON-serializable facts stored in the graph.

    Returns:
        The deploy graph and the per-layer quantization report. Clipping emits a `SpikeportWarning`.
    """
    if not 1 <= num_weight_bits <= 8:
        raise QuantizationRangeError(f"num_weight_bits must be in 1..8, got {num_weight_bits}")
    calibration = simulate_float(net, calibration_inputs) if calibration_inputs is not None else None
    nodes = {net.input_name: SpikeInput(name=net.input_name, size=net.input_size)}
    edges, syn_reports, pop_reports, scales = [], [], [], {}
    for name, pop in net.populations.items():
        incoming = [s for s in net.synapses if s.target == name]
        effective = [s.weight * pop.gain[:, None] for s in incoming]
        modes = [_sign_mode(w) for w in effective]
        scale, weight_exp = _choose_scale(effective, modes, num_weight_bits, _float_range(pop, calibration))
        scales[name] = scale
        denom = 2.0 ** (THRESHOLD_SHIFT + weight_exp) / scale  # float value of one mantissa unit
        bias_float = pop.bias + sum(
            (s.bias * pop.gain / _constant(pop.beta, name, "synaptic decay") for s in incoming if s.bias is not None),
            np.zeros(pop.size),
        )
        for syn, w_eff, mode in zip(incoming, effective, modes, strict=True):
            mant, clipped = _quantize_weights(w_eff, mode, num_weight_bits, denom)
            err = w_eff - mant * denom
            rms = float(np.sqrt(np.mean(w_eff**2))) if w_eff.size else 0.0
            chip_delays = np.maximum(syn.delay_steps - 1, 0)  # Loihi's Dense itself delays by one step
            nodes[syn.name] = DenseInt(
                name=syn.name,
                weights=mant,
                weight_exp=weight_exp,
                num_weight_bits=num_weight_bits,
                delays=chip_delays if chip_delays.any() else None,
            )
            undelayed = int(np.count_nonzero(syn.delay_steps == 0))
            edges += [(syn.source, syn.name), (syn.name, syn.target)]
            syn_reports.append(
                SynapseQuantization(
                    name=syn.name,
                    target=name,
                    weight_exp=weight_exp,
                    num_weight_bits=num_weight_bits,
                    sign_mode=mode,
                    max_abs_mantissa=int(np.max(np.abs(mant), initial=0)),
                    clipped=clipped,
                    total=int(mant.size),
                    max_abs_error=float(np.max(np.abs(err), initial=0)),
                    rel_rms_error=float(np.sqrt(np.mean(err**2)) / rms) if rms else 0.0,
                    late_by_one_step=undelayed,
                )
            )
            if clipped:
                warnings.warn(
                    f"synapse {syn.name!r}: {clipped} of {mant.size} weights clipped to the 8-bit range",
                    SpikeportWarning,
                    stacklevel=2,
                )
        du, dv, du_err, dv_err = _decays(pop)
        bias_mant, bias_exp, bias_clipped = _quantize_bias(np.round(bias_float * scale))
        if bias_clipped:
            warnings.warn(
                f"population {name!r}: {bias_clipped} biases clipped to the 13-bit mantissa range",
                SpikeportWarning,
                stacklevel=2,
            )
        if pop.spiking:
            v_th = _constant(pop.v_th, name, "threshold")
            vth = round(scale * v_th / 2**THRESHOLD_SHIFT)
            if vth > VTH_MANT_MAX:
                raise QuantizationRangeError(f"population {name!r}: vth {vth} exceeds {VTH_MANT_MAX}")
            vth_err = abs(vth * 2**THRESHOLD_SHIFT / scale - v_th) / v_th if v_th else 0.0
        else:
            vth, vth_err = VTH_MANT_MAX, 0.0  # beyond the calibrated range: the readout never spikes
        nodes[name] = LIFInt(name=name, size=pop.size, du=du, dv=dv, vth=vth, bias_mant=bias_mant, bias_exp=bias_exp)
        pop_reports.append(
            PopulationQuantization(
                name=name,
                kind=pop.kind,
                scale=scale,
                du=du,
                dv=dv,
                vth=vth,
                decay_u_error=du_err,
                decay_v_error=dv_err,
                vth_rel_error=vth_err,
                bias_clipped=bias_clipped,
                spiking=pop.spiking,
            )
        )
    meta = {"dt": net.dt, "scales": {n: s for n, s in scales.items() if math.isfinite(s)}, **(metadata or {})}
    # Populations first in network order, then synapses: the graph keeps insertion order for reports.
    ordered = {net.input_name: nodes[net.input_name]}
    ordered.update({n: nodes[n] for n in net.populations})
    ordered.update({s.name: nodes[s.name] for s in net.synapses})
    graph = DeployGraph(nodes=ordered, edges=tuple(edges), output=net.output, chip=chip, metadata=meta)
    return graph, QuantizationReport(tuple(syn_reports), tuple(pop_reports))
