"""Quantization: a float NIR network to a Loihi integer deploy graph, with a per-layer account of what it cost.

Each population p gets one scale S_p (integer units of v per float unit of v), so that Loihi's u = S_p * cur and
v = S_p * v exactly mirror the float discrete form of `spikeport.export.network` (`ParsedNetwork`):

    du = round(4096 * beta) - 1        (Lava decays u by (du + 1) / 4096)
    dv = round(4096 * alpha)
    W_q * 2**(6 + weight_exp) = S_p * gain * W      (per synapse into p)
    vth = round(S_p * v_th / 2**6),    bias_mant * 2**bias_exp = round(S_p * bias)

S_p and weight_exp are chosen together: the weights of the synapses into p fill the 8-bit mantissa range (254
for mixed signs, which lose their lowest bit on Loihi), and weight_exp is the largest exponent in [-8, 7] that
keeps S_p times the population's float range (threshold, and the calibrated peak |u| and |v|) below 2**22, half
the 24-bit state range. Nothing saturates silently: clipped values are counted, reported and warned about.
Every width, shift and range (the numbers above are Loihi's) comes from the chip's `NumberFormats`
(`load_chip(chip).formats`), and weights are put on its grid (`NumberFormats.weight_grid`).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, replace

import numpy as np

from spikeport.checks import check_spike_inputs
from spikeport.errors import QuantizationRangeError, SpikeportWarning
from spikeport.export import ParsedNetwork, Population, simulate_float
from spikeport.ir import DenseInt, DeployGraph, LIFInt, SpikeInput
from spikeport.ir.formats import DEFAULT_CHIP, NumberFormats, SignMode, WeightGrid, sign_mode
from spikeport.targets.chip import load_chip
from spikeport.targets.decay_groups import DEFAULT_MAX_GROUPS, group_decays, group_fields, grouping_agreement


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
                + (f", {len(p.decay_groups)} decay groups" if p.decay_groups else "")
                + (f" ({p.decay_groups_merged} merged)" if p.decay_groups_merged else "")
                + (f", grouping agreement {p.grouping_agreement:.4f}" if p.grouping_agreement is not None else "")
            )
        return lines


def _constant(values: np.ndarray, name: str, what: str) -> float:
    if not np.allclose(values, values[0], rtol=1e-9, atol=0):
        raise QuantizationRangeError(
            f"population {name!r}: {what} differs between neurons; a Loihi LIF process has one {what} per "
            "population. Split the population or make the time constants equal"
        )
    return float(values[0])


def _decays(pop: Population, formats: NumberFormats, max_groups: int):
    """(du, dv, du error, dv error, grouping): ints for one decay pair; per-neuron arrays and the grouping (one
    LIF process per group, `spikeport.targets.decay_groups`) when the neurons' decays differ."""
    if np.ptp(pop.beta) or np.ptp(pop.alpha):  # LIFInt stores equal per-neuron registers as one int
        g = group_decays(pop.beta, pop.alpha, formats, max_groups, name=pop.name)
        du_err, dv_err = max(r.max_decay_u_error for r in g.groups), max(r.max_decay_v_error for r in g.groups)
        return g.du, g.dv, du_err, dv_err, g
    beta, alpha = _constant(pop.beta, pop.name, "synaptic decay"), _constant(pop.alpha, pop.name, "membrane decay")
    unity, (du_low, du_high), (dv_low, dv_high) = formats.decay_unity, formats.du_range, formats.dv_range
    du = min(max(round(unity * beta) - 1, du_low), du_high)
    dv = min(max(round(unity * alpha), dv_low), dv_high)
    return du, dv, abs((du + 1) / unity - beta), abs(dv / unity - alpha), None


def _state_budget(formats: NumberFormats) -> float:
    """Half of the u/v range (2**22 for 24 bits): headroom for excursions beyond the calibration set."""
    return 2.0 ** (min(formats.u_bits, formats.v_bits) - 2)


def _float_range(pop: Population, calibration) -> float:
    """Largest float magnitude the population's u or v must represent."""
    candidates = [float(np.max(pop.v_th))] if pop.spiking else []
    if calibration is not None:
        trace = calibration[pop.name]
        candidates += [float(np.max(np.abs(trace.cur), initial=0)), float(np.max(np.abs(trace.v), initial=0))]
    if not all(math.isfinite(c) for c in candidates):
        raise QuantizationRangeError(
            f"population {pop.name!r}: its float run reaches NaN or infinite values on the calibration inputs, "
            "so it cannot be quantized; check the NIR graph's parameters (time constants, weights, gains)"
        )
    candidates = [c for c in candidates if c > 0]
    if not candidates and calibration is None:
        raise QuantizationRangeError(
            f"population {pop.name!r} is non-spiking and no calibration inputs were given, so its value range is "
            "unknown; pass calibration_inputs (a few training samples) to quantize()"
        )
    if not candidates:
        raise QuantizationRangeError(
            f"population {pop.name!r} is non-spiking and stayed at 0 on every calibration input, so its value "
            "range is unknown; calibrate on more, longer or denser inputs that reach it (on the command line: "
            "`spikeport train --steps N` for a run's training inputs, `spikeport import --samples/--steps/--rate` "
            "for random ones)"
        )
    return max(candidates)


def _grids(modes: list[SignMode], bits: int, formats: NumberFormats) -> list[WeightGrid]:
    """Each synapse's mantissa grid; refuses a precision that leaves a sign mode no usable magnitude."""
    grids = [formats.weight_grid(m, bits) for m in modes]
    for grid in grids:
        if grid.limit == 0:
            raise QuantizationRangeError(
                f"num_weight_bits={bits} (CLI: --weight-bits) leaves {grid.mode.value} weights only the mantissas "
                f"{grid.low} and {grid.high}; use at least {bits + 1} bits"
            )
    return grids


def _choose_scale(
    effective: list[np.ndarray], grids: list[WeightGrid], float_range: float, formats: NumberFormats
) -> tuple[float, int]:
    """(S, weight_exp): weights fill the mantissa range and S * float_range stays within the state budget."""
    peak = max(
        (float(np.max(np.abs(w), initial=0)) / g.limit for w, g in zip(effective, grids, strict=True)),
        default=0,
    )
    s_max = _state_budget(formats) / float_range
    if peak == 0:
        return s_max, 0
    per_mantissa = 1.0 / peak  # mantissa units per float unit that make the largest weight full-scale
    low_exp, high_exp = formats.weight_exp_range
    for exp in range(high_exp, low_exp - 1, -1):
        scale = per_mantissa * 2.0 ** (formats.act_shift + exp)
        if scale <= s_max:
            return scale, exp
    return s_max, low_exp  # weights cannot use their full range without overflowing the state


def _quantize_weights(w_eff: np.ndarray, grid: WeightGrid, denom: float) -> tuple[np.ndarray, int]:
    """Round onto the grid, within +-limit (a mixed grid is used symmetrically: [-254, 254] at 8 bits)."""
    mant = np.round(w_eff / denom / grid.step) * grid.step
    low, high = max(grid.low, -grid.limit), min(grid.high, grid.limit)
    clipped = int(np.count_nonzero((mant < low) | (mant > high)))
    return np.clip(mant, low, high).astype(np.int64), clipped


def _quantize_bias(bias_int: np.ndarray, formats: NumberFormats) -> tuple[np.ndarray, int, int]:
    low, high = formats.bias_mant_range
    peak = float(np.max(np.abs(bias_int), initial=0))
    exp = 0
    while exp < formats.bias_exp_max and peak / 2**exp > high:
        exp += 1
    mant = np.round(bias_int / 2**exp)
    clipped = int(np.count_nonzero((mant < low) | (mant > high)))
    return np.clip(mant, low, high).astype(np.int64), exp, clipped


def quantize(
    net: ParsedNetwork,
    *,
    calibration_inputs: np.ndarray | None = None,
    num_weight_bits: int = 8,
    chip: str = DEFAULT_CHIP,
    metadata: dict | None = None,
    max_decay_groups: int = DEFAULT_MAX_GROUPS,
    attention: str = "node",
) -> tuple[DeployGraph, QuantizationReport]:
    """Quantize a parsed NIR network to a `DeployGraph` for a Loihi-class chip.

    Args:
        net: the float network (`spikeport.export.parse_nir`).
        calibration_inputs: (samples, steps, n_in) inputs whose float run sets each population's range;
            required for non-spiking populations (readouts), recommended for all.
        num_weight_bits: weight precision, 1..8 (the chip's num_weight_bits range).
        chip: the target chip (a `ChipId` value); its number formats set every range and are stored in the graph.
        metadata: extra JSON-serializable facts stored in the graph.
        max_decay_groups: the most LIF processes a population whose neurons have different time constants is
            split into (`spikeport.targets.decay_groups`).
        attention: "node": each spike-driven attention block becomes one `AttentionInt` (linear in tokens,
            `spikeport.targets.quantize_attention`); "unrolled": its standard NIR view, as LIF and Dense nodes.

    Returns:
        The deploy graph and the per-layer quantization report. Clipping emits a `SpikeportWarning`.
    """
    formats = load_chip(chip).formats
    low_bits, high_bits = formats.num_weight_bits_range
    if not low_bits <= num_weight_bits <= high_bits:
        raise QuantizationRangeError(f"num_weight_bits must be in {low_bits}..{high_bits}, got {num_weight_bits}")
    if calibration_inputs is not None:
        check_spike_inputs(calibration_inputs, source="calibration inputs", n_in=net.input_size)
    calibration = simulate_float(net, calibration_inputs) if calibration_inputs is not None else None
    nodes = {net.input_name: SpikeInput(name=net.input_name, size=net.input_size)}
    edges, syn_reports, pop_reports, scales, groupings = [], [], [], {}, {}
    from spikeport.targets.quantize_attention import lower_attention  # lazy: it uses this module's helpers

    lowered = lower_attention(net, calibration, num_weight_bits, formats, attention)
    for name, pop in net.populations.items():
        if name in lowered.covered:
            continue
        incoming = [s for s in net.synapses if s.target == name]
        effective = [s.weight * pop.gain[:, None] for s in incoming]
        grids = _grids([sign_mode(w) for w in effective], num_weight_bits, formats)
        scale, weight_exp = _choose_scale(effective, grids, _float_range(pop, calibration), formats)
        scales[name] = scale
        denom = 2.0 ** (formats.act_shift + weight_exp) / scale  # float value of one mantissa unit
        bias_float = pop.bias + sum(
            (s.bias * pop.gain / pop.beta for s in incoming if s.bias is not None),
            np.zeros(pop.size),
        )
        for syn, w_eff, grid in zip(incoming, effective, grids, strict=True):
            mant, clipped = _quantize_weights(w_eff, grid, denom)
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
                    sign_mode=grid.mode.value,
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
                    f"synapse {syn.name!r}: {clipped} of {mant.size} weights clipped to the "
                    f"{formats.weight_mant_bits}-bit range",
                    SpikeportWarning,
                    stacklevel=2,
                )
        du, dv, du_err, dv_err, grouping = _decays(pop, formats, max_decay_groups)
        groupings.update({name: grouping} if grouping else {})
        bias_mant, bias_exp, bias_clipped = _quantize_bias(np.round(bias_float * scale), formats)
        if bias_clipped:
            warnings.warn(
                f"population {name!r}: {bias_clipped} biases clipped to the "
                f"{formats.bias_mant_bits}-bit mantissa range",
                SpikeportWarning,
                stacklevel=2,
            )
        if pop.spiking:
            v_th = _constant(pop.v_th, name, "threshold")
            vth = round(scale * v_th / 2**formats.act_shift)
            if vth > formats.vth_max:
                raise QuantizationRangeError(f"population {name!r}: vth {vth} exceeds {formats.vth_max}")
            vth_err = abs(vth * 2**formats.act_shift / scale - v_th) / v_th if v_th else 0.0
        else:
            vth, vth_err = formats.vth_max, 0.0  # beyond the calibrated range: the readout never spikes
        nodes[name] = LIFInt(name=name, size=pop.size, du=du, dv=dv, vth=vth, bias_mant=bias_mant, bias_exp=bias_exp)
        pop_reports.append(
            PopulationQuantization(
                name=name,
                kind=pop.kind,
                scale=scale,
                vth=vth,
                decay_u_error=du_err,
                decay_v_error=dv_err,
                vth_rel_error=vth_err,
                bias_clipped=bias_clipped,
                spiking=pop.spiking,
                **({"du": du, "dv": dv} if grouping is None else group_fields(grouping)),
            )
        )
    nodes.update(lowered.nodes)
    edges, syn_reports, pop_reports = edges + lowered.edges, syn_reports + lowered.synapses, pop_reports + lowered.pops
    scales.update(lowered.scales)
    if calibration_inputs is not None and groupings:
        agreement = grouping_agreement(net, groupings, calibration_inputs, formats)
        pop_reports = [replace(p, grouping_agreement=agreement.get(p.name)) for p in pop_reports]
    meta = {"dt": net.dt, "scales": {n: s for n, s in scales.items() if math.isfinite(s)}, **(metadata or {})}
    # Populations first in network order, then synapses: the graph keeps insertion order for reports.
    ordered = {net.input_name: nodes[net.input_name]}
    ordered.update({n: nodes[n] for n in net.populations if n in nodes})
    ordered.update({s.name: nodes[s.name] for s in net.synapses if s.name in nodes} | lowered.connections)
    graph = DeployGraph(nodes=ordered, edges=tuple(edges), output=net.output, chip=chip, formats=formats, metadata=meta)
    return graph, QuantizationReport(tuple(syn_reports), tuple(pop_reports))
