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

Synaptic (Affine) biases enter the current through an always-on source neuron (`spikeport.targets.bias_axon`), the
scale of each spiking population is then chosen by its spike agreement with the float layer on the calibration
inputs (`spikeport.targets.scale_search`), `fine_weights` adds a residual Dense per synapse, and every remaining
approximation is listed per population with its size (`spikeport.targets.approximations`). All of it is stock
LIF and Dense nodes, so the reference and Lava stay bit-exact.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np

from spikeport.checks import check_payloads, check_spike_inputs
from spikeport.errors import QuantizationRangeError, SpikeportWarning
from spikeport.export import ParsedNetwork, Population, simulate_float
from spikeport.ir import DenseInt, DeployGraph, LIFInt, SpikeInput
from spikeport.ir.formats import DEFAULT_CHIP, NumberFormats, sign_mode
from spikeport.ir.nodes import MAX_MESSAGE_BITS
from spikeport.targets import bias_axon
from spikeport.targets.approximations import LayerFacts, list_approximations
from spikeport.targets.chip import load_chip
from spikeport.targets.decay_groups import DEFAULT_MAX_GROUPS, group_decays, group_fields, grouping_agreement
from spikeport.targets.quantize_report import PopulationQuantization, QuantizationReport, SynapseQuantization
from spikeport.targets.scale_search import (
    LayerNodes,
    SearchResult,
    choose_scale,
    float_range,
    grids,
    quantize_bias,
    quantize_weights,
    search_scale,
    state_budget,
)

# the names `spikeport.targets.quantize_attention` imports
_choose_scale, _float_range, _quantize_weights, _quantize_bias = (
    choose_scale,
    float_range,
    quantize_weights,
    quantize_bias,
)


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


@dataclass(frozen=True)
class _Layer:
    """One built population: its nodes, its synapses' report entries and the facts its approximations list."""

    nodes: LayerNodes
    synapses: list[SynapseQuantization]
    bias_clipped: int
    vth_err: float
    facts: dict


def _synapse_report(name: str, target: str, w_eff, mant, denom, exp, bits, grid, clipped, late) -> SynapseQuantization:
    err = w_eff - mant * denom
    rms = float(np.sqrt(np.mean(w_eff**2))) if w_eff.size else 0.0
    return SynapseQuantization(
        name=name,
        target=target,
        weight_exp=exp,
        num_weight_bits=bits,
        sign_mode=grid.mode.value,
        max_abs_mantissa=int(np.max(np.abs(mant), initial=0)),
        clipped=clipped,
        total=int(mant.size),
        max_abs_error=float(np.max(np.abs(err), initial=0)),
        rel_rms_error=float(np.sqrt(np.mean(err**2)) / rms) if rms else 0.0,
        late_by_one_step=late,
    )


def _build_layer(
    pop: Population, incoming: list, effective: list, grids_: list, du, dv, scale: float, weight_exp: int, lag: int,
    axon: tuple[str, str], bits: int, formats: NumberFormats, fine: dict[str, str] | None = None,
    message_bits: Mapping[str, int] | None = None,
) -> _Layer:  # fmt: skip
    """The population's DenseInts, bias axon and LIFInt at scale S and weight_exp (the module docstring's rules).

    `message_bits` (source name -> bits): synapses from a source that sends graded payloads (the graph's input with
    `quantize(input_message_bits=)`) read them as Lava's graded `Dense` (`num_message_bits`).

    `fine` (synapse name -> node name): each synapse with weight_exp > 0 also gets a second Dense of exponent 0 that
    carries the rounding residual of the first, so that the summed weights have weight_exp more bits.
    """
    denom = 2.0 ** (formats.act_shift + weight_exp) / scale  # float value of one mantissa unit
    dense, extra, reports, clipped_w = {}, {}, [], 0
    for syn, w_eff, grid in zip(incoming, effective, grids_, strict=True):
        mant, clipped = _quantize_weights(w_eff, grid, denom)
        chip_delays = np.maximum(syn.delay_steps - 1, 0)  # Loihi's Dense itself delays by one step
        delays = chip_delays if chip_delays.any() else None
        graded = (message_bits or {}).get(syn.source, 0)
        dense[syn.name] = DenseInt(
            name=syn.name, weights=mant, weight_exp=weight_exp, num_weight_bits=bits, delays=delays,
            num_message_bits=graded,
        )
        residual = w_eff - mant * denom
        if fine is not None and weight_exp > 0:  # |residual| <= 2**weight_exp units of 2**6: fits the mantissa
            unit = 2.0**formats.act_shift / scale
            low, _ = _quantize_weights(residual, formats.weight_grid(sign_mode(residual), bits), unit)
            if np.any(low):
                extra[syn.name] = DenseInt(name=fine[syn.name], weights=low, num_weight_bits=bits, delays=delays,
                                           num_message_bits=graded)
                mant, denom_used = mant * 2**weight_exp + low, unit
        late = int(np.count_nonzero(syn.delay_steps == 0))
        used = denom_used if syn.name in extra else denom
        report = _synapse_report(syn.name, pop.name, w_eff, mant, used, weight_exp, bits, grid, clipped, late)
        reports.append(replace(report, fine=extra[syn.name].name) if syn.name in extra else report)
        clipped_w += clipped
    syn_bias = sum((s.bias for s in incoming if s.bias is not None), np.zeros(pop.size))
    voltage, axon_nodes, timing_exact = pop.bias * scale, None, True
    if np.any(syn_bias):  # into the current, through the always-on bias axon (spikeport.targets.bias_axon)
        current = scale * pop.gain * syn_bias
        plan = bias_axon.plan_bias(current, bias_axon.chip_current_decay(du, pop.size, formats), lag, bits, formats)
        voltage, timing_exact = voltage + plan.voltage_bias, plan.timing_exact
        if plan.mantissa is not None:
            axon_nodes = (bias_axon.bias_source(axon[0]), bias_axon.axon_synapse(axon[1], plan, bits))
            unit, grid = 2.0 ** (formats.act_shift + plan.weight_exp) / scale, plan.grid
            args = (plan.target / scale, plan.mantissa[:, 0], unit, plan.weight_exp, bits, grid, 0, 0)
            reports.append(_synapse_report(axon[1], pop.name, *args))
    bias_mant, bias_exp, bias_clipped = _quantize_bias(np.round(voltage), formats)
    bias_error = float(np.max(np.abs(bias_mant * 2.0**bias_exp - voltage), initial=0))
    if pop.spiking:
        v_th = _constant(pop.v_th, pop.name, "threshold")
        vth = round(scale * v_th / 2**formats.act_shift)
        if vth > formats.vth_max:
            raise QuantizationRangeError(f"population {pop.name!r}: vth {vth} exceeds {formats.vth_max}")
        vth_err = abs(vth * 2**formats.act_shift / scale - v_th) / v_th if v_th else 0.0
    else:
        vth, vth_err = formats.vth_max, 0.0  # beyond the calibrated range: the readout never spikes
    lif = LIFInt(name=pop.name, size=pop.size, du=du, dv=dv, vth=vth, bias_mant=bias_mant, bias_exp=bias_exp)
    reference = float(vth * 2**formats.act_shift) if pop.spiking and vth else state_budget(formats)
    facts = dict(
        vth=vth, spiking=pop.spiking, weight_exp=weight_exp, bias_error=bias_error / reference,
        weight_errors=tuple((r.name, r.rel_rms_error) for r in reports if r.name != axon[1]),
        bias_timing_exact=timing_exact, clipped=clipped_w + bias_clipped, vth_rel_error=vth_err,
        early_bias=lag * float(np.max(np.abs(bias_mant * 2.0**bias_exp), initial=0)) / reference,
        reference="threshold" if pop.spiking and vth else "state range",
    )  # fmt: skip
    return _Layer(LayerNodes(lif, dense, axon_nodes, extra), reports, bias_clipped, vth_err, facts)


def _warn_clipped(layer: _Layer, name: str, formats: NumberFormats) -> None:
    bits = formats.weight_mant_bits
    messages = [f"synapse {s.name!r}: {s.clipped} of {s.total} weights clipped to the {bits}-bit range"
                for s in layer.synapses if s.clipped]  # fmt: skip
    if layer.bias_clipped:
        messages.append(
            f"population {name!r}: {layer.bias_clipped} biases clipped to the {formats.bias_mant_bits}-bit mantissa"
        )
    for message in messages:
        warnings.warn(message, SpikeportWarning, stacklevel=3)


def quantize(
    net: ParsedNetwork,
    *,
    calibration_inputs: np.ndarray | None = None,
    num_weight_bits: int = 8,
    chip: str = DEFAULT_CHIP,
    metadata: dict | None = None,
    max_decay_groups: int = DEFAULT_MAX_GROUPS,
    attention: str = "node",
    behaviour_search: bool = True,
    calibration_label: str | None = None,
    fine_weights: bool = False,
    input_message_bits: int = 0,
) -> tuple[DeployGraph, QuantizationReport]:
    """Quantize a parsed NIR network to a `DeployGraph` for a Loihi-class chip.

    Args:
        net: the float network (`spikeport.export.parse_nir`).
        calibration_inputs: (samples, steps, n_in) inputs whose float run sets each population's range and on
            which each spiking population's scale is chosen by behaviour; required for non-spiking populations
            (readouts), recommended for all.
        num_weight_bits: weight precision, 1..8 (the chip's num_weight_bits range).
        chip: the target chip (a `ChipId` value); its number formats set every range and are stored in the graph.
        metadata: extra JSON-serializable facts stored in the graph.
        max_decay_groups: the most LIF processes a population whose neurons have different time constants is
            split into (`spikeport.targets.decay_groups`).
        attention: "node": each spike-driven attention block becomes one `AttentionInt` (linear in tokens,
            `spikeport.targets.quantize_attention`); "unrolled": its standard NIR view, as LIF and Dense nodes.
        behaviour_search: with calibration inputs, choose each spiking population's scale by its layer-alone spike
            agreement with the float population (`spikeport.targets.scale_search`); False keeps the range rule.
        calibration_label: what `calibration_inputs` are, for the report (default: their shape).
        fine_weights: give every synapse with weight_exp > 0 a second Dense ("<synapse>_fine", exponent 0) holding
            the rounding residual of its weights: weight_exp more bits of weight precision for twice the synapses.
        input_message_bits: 0: the input sends binary spikes; k > 0: graded spikes whose payloads are integers in
            0..2**k - 1 (e.g. spike counts per time bin, Loihi 2's graded spikes); the synapses reading the input
            multiply by the payload, so the op counter reports them as MACs (the encoding layer).

    Returns:
        The deploy graph and the per-layer quantization report. Clipping emits a `SpikeportWarning`.
    """
    formats = load_chip(chip).formats
    low_bits, high_bits = formats.num_weight_bits_range
    if not low_bits <= num_weight_bits <= high_bits:
        raise QuantizationRangeError(f"num_weight_bits must be in {low_bits}..{high_bits}, got {num_weight_bits}")
    if not 0 <= input_message_bits <= MAX_MESSAGE_BITS:
        raise QuantizationRangeError(f"input_message_bits must be in 0..{MAX_MESSAGE_BITS}, got {input_message_bits}")
    if calibration_inputs is not None:
        check_spike_inputs(calibration_inputs, source="calibration inputs", n_in=net.input_size)
        check_payloads(calibration_inputs, input_message_bits, "calibration inputs")
    calibration = simulate_float(net, calibration_inputs) if calibration_inputs is not None else None
    source = SpikeInput(name=net.input_name, size=net.input_size, num_message_bits=input_message_bits)
    nodes, message_bits = {net.input_name: source}, {net.input_name: input_message_bits}
    edges, syn_reports, pop_reports, scales, groupings, axons, fines = [], [], [], {}, {}, {}, {}
    from spikeport.targets.quantize_attention import lower_attention  # lazy: it uses this module's helpers

    lowered = lower_attention(net, calibration, num_weight_bits, formats, attention)
    lags, source_name = bias_axon.population_lags(net), bias_axon.unique_name(net, bias_axon.BIAS_SOURCE)
    float_spikes = {net.input_name: calibration_inputs, **{n: t.spikes for n, t in (calibration or {}).items()}}
    for name, pop in net.populations.items():
        if name in lowered.covered:
            continue
        incoming = [s for s in net.synapses if s.target == name]
        effective = [s.weight * pop.gain[:, None] for s in incoming]
        grids_ = grids([sign_mode(w) for w in effective], num_weight_bits, formats)
        scale, weight_exp = choose_scale(effective, grids_, float_range(pop, calibration), formats)
        du, dv, du_err, dv_err, grouping = _decays(pop, formats, max_decay_groups)
        groupings.update({name: grouping} if grouping else {})
        axon = (source_name, bias_axon.unique_name(net, f"{source_name}_{name}"))

        fine = {s.name: bias_axon.unique_name(net, f"{s.name}_fine") for s in incoming} if fine_weights else None

        def build(
            s: float, e: int, lag: int, pop=pop, incoming=incoming, eff=effective, g=grids_, d=(du, dv), n=(axon, fine)
        ):
            return _build_layer(pop, incoming, eff, g, *d, s, e, lag, n[0], num_weight_bits, formats, n[1],
                                message_bits)

        search = SearchResult(scale, weight_exp, None, None)
        if behaviour_search and calibration is not None:
            local_lag = int(any(np.all(s.delay_steps == 0) for s in incoming))
            search = search_scale(
                lambda s, e, b=build, lag=local_lag: b(s, e, lag).nodes,
                scale, weight_exp, pop, incoming, float_spikes, calibration[name].spikes, formats,
            )  # fmt: skip
        scale = scales[name] = search.scale
        layer = build(scale, weight_exp, lags[name])
        _warn_clipped(layer, name, formats)
        lif = layer.nodes.population
        nodes.update({name: lif, **layer.nodes.synapses})
        edges += [e for s in incoming for e in ((s.source, s.name), (s.name, name))]
        for syn_name, node in layer.nodes.fine.items():
            fines[node.name] = node
            edges += [(next(s.source for s in incoming if s.name == syn_name), node.name), (node.name, name)]
        if layer.nodes.axon is not None:
            axons[layer.nodes.axon[1].name] = layer.nodes.axon[1]
            edges += [(source_name, layer.nodes.axon[1].name), (layer.nodes.axon[1].name, name)]
        syn_reports += layer.synapses
        misaligned = sum(  # connections whose chip timing differs from the population's lag (agreement.step_shifts)
            int(np.count_nonzero(lags.get(s.source, 0) + (s.delay_steps == 0) != lags[name]))
            for s in incoming
            if s.source != name
        )
        facts = LayerFacts(decay_u_error=du_err, decay_v_error=dv_err, misaligned=misaligned, **layer.facts)
        pop_reports.append(
            PopulationQuantization(
                name=name,
                kind=pop.kind,
                scale=scale,
                vth=lif.vth,
                decay_u_error=du_err,
                decay_v_error=dv_err,
                vth_rel_error=layer.vth_err,
                bias_clipped=layer.bias_clipped,
                spiking=pop.spiking,
                **({"du": du, "dv": dv} if grouping is None else group_fields(grouping)),
                approximations=list_approximations(facts, formats.act_shift),
                agreement_before=search.before,
                agreement_after=search.after,
                bias_axon=layer.nodes.axon[1].name if layer.nodes.axon is not None else None,
            )
        )
    nodes.update(lowered.nodes)
    edges, syn_reports, pop_reports = edges + lowered.edges, syn_reports + lowered.synapses, pop_reports + lowered.pops
    scales.update(lowered.scales)
    if calibration_inputs is not None and groupings:
        agreement = grouping_agreement(net, groupings, calibration_inputs, formats)
        pop_reports = [replace(p, grouping_agreement=agreement.get(p.name)) for p in pop_reports]
    meta = {"dt": net.dt, "scales": {n: s for n, s in scales.items() if math.isfinite(s)}, **(metadata or {})}
    # Populations first in network order (then the bias axon), then synapses: the graph keeps insertion order.
    ordered = {net.input_name: nodes[net.input_name]}
    ordered.update({n: nodes[n] for n in net.populations if n in nodes})
    ordered.update({source_name: bias_axon.bias_source(source_name)} if axons else {})
    ordered.update(
        {s.name: nodes[s.name] for s in net.synapses if s.name in nodes} | lowered.connections | fines | axons
    )
    graph = DeployGraph(nodes=ordered, edges=tuple(edges), output=net.output, chip=chip, formats=formats, metadata=meta)
    if calibration_label is None:
        shape = np.shape(calibration_inputs)
        calibration_label = f"{shape[0]} samples x {shape[1]} steps" if calibration_inputs is not None else "none"
    return graph, QuantizationReport(tuple(syn_reports), tuple(pop_reports), calibration_label)
