"""Choosing each population's scale S and weight exponent: by weight range first, then by behaviour.

The range rule (`choose_scale`): the weights into a population fill the mantissa range and S times the population's
float range (threshold, calibrated peak |u| and |v|) stays below half the state range. Within that rule S can still
be any value down to half of it with the same exponent, and each S rounds the weights, the threshold and the biases
differently. `search_scale` picks among such candidates the one whose integer population, run alone on the float
network's own input spikes (so that errors of earlier layers do not compound during the search), agrees best with
the float population's spikes on the calibration inputs. Ties keep the range rule's choice. The search only picks
integers; the simulators are unchanged, so the result stays bit-exact on Lava.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from spikeport.errors import QuantizationRangeError
from spikeport.export import FloatTrace, Population, Synapse
from spikeport.ir import DenseInt, DeployGraph, LIFInt, Node, SpikeInput
from spikeport.ir.formats import NumberFormats, SignMode, WeightGrid
from spikeport.simulators import run_reference

SCALE_FACTORS = (1.0, 0.94, 0.88, 0.82, 0.76, 0.7, 0.64, 0.58, 0.52)
"""Candidate scales as fractions of the range rule's S (same weight exponent; below 1/2 the next exponent down
would round more finely, so the candidates stop there)."""
MAX_SEARCH_ENTRIES = 1_000_000
"""The search runs on the first calibration samples whose float spikes (samples x steps x neurons) fit in this
many entries (at least one sample), so that it costs seconds per layer however large the calibration set."""


def state_budget(formats: NumberFormats) -> float:
    """Half of the u/v range (2**22 for 24 bits): headroom for excursions beyond the calibration set."""
    return 2.0 ** (min(formats.u_bits, formats.v_bits) - 2)


def float_range(pop: Population, calibration: dict[str, FloatTrace] | None) -> float:
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
            "`spikeport import --calibration FILE.npy`, or `--samples/--steps/--rate` for random ones)"
        )
    return max(candidates)


def grids(modes: list[SignMode], bits: int, formats: NumberFormats) -> list[WeightGrid]:
    """Each synapse's mantissa grid; refuses a precision that leaves a sign mode no usable magnitude."""
    out = [formats.weight_grid(m, bits) for m in modes]
    for grid in out:
        if grid.limit == 0:
            raise QuantizationRangeError(
                f"num_weight_bits={bits} (CLI: --weight-bits) leaves {grid.mode.value} weights only the mantissas "
                f"{grid.low} and {grid.high}; use at least {bits + 1} bits"
            )
    return out


def choose_scale(
    effective: list[np.ndarray], grids: list[WeightGrid], range_: float, formats: NumberFormats
) -> tuple[float, int]:
    """(S, weight_exp): weights fill the mantissa range and S * range_ stays within the state budget."""
    peak = max(
        (float(np.max(np.abs(w), initial=0)) / g.limit for w, g in zip(effective, grids, strict=True)),
        default=0,
    )
    s_max = state_budget(formats) / range_
    if peak == 0:
        return s_max, 0
    per_mantissa = 1.0 / peak  # mantissa units per float unit that make the largest weight full-scale
    low_exp, high_exp = formats.weight_exp_range
    for exp in range(high_exp, low_exp - 1, -1):
        scale = per_mantissa * 2.0 ** (formats.act_shift + exp)
        if scale <= s_max:
            return scale, exp
    return s_max, low_exp  # weights cannot use their full range without overflowing the state


def quantize_weights(w_eff: np.ndarray, grid: WeightGrid, denom: float) -> tuple[np.ndarray, int]:
    """Round onto the grid, within +-limit (a mixed grid is used symmetrically: [-254, 254] at 8 bits)."""
    mant = np.round(w_eff / denom / grid.step) * grid.step
    low, high = max(grid.low, -grid.limit), min(grid.high, grid.limit)
    clipped = int(np.count_nonzero((mant < low) | (mant > high)))
    return np.clip(mant, low, high).astype(np.int64), clipped


def quantize_bias(bias_int: np.ndarray, formats: NumberFormats) -> tuple[np.ndarray, int, int]:
    """(mantissa, exponent, clipped): the smallest exponent that fits the integer biases into the mantissa."""
    low, high = formats.bias_mant_range
    peak = float(np.max(np.abs(bias_int), initial=0))
    exp = 0
    while exp < formats.bias_exp_max and peak / 2**exp > high:
        exp += 1
    mant = np.round(bias_int / 2**exp)
    clipped = int(np.count_nonzero((mant < low) | (mant > high)))
    return np.clip(mant, low, high).astype(np.int64), exp, clipped


@dataclass(frozen=True)
class SearchResult:
    scale: float
    weight_exp: int
    before: float | None
    """Layer-alone spike agreement of the range rule's choice; None when the population was not searched."""
    after: float | None


@dataclass(frozen=True)
class LayerNodes:
    """One population as the quantizer builds it: its neurons, its incoming synapses and its bias axon."""

    population: LIFInt
    synapses: dict[str, DenseInt]
    """By the float synapse's name."""
    axon: tuple[LIFInt, DenseInt] | None
    """The always-on source and its connection into the population (`spikeport.targets.bias_axon`), if any."""
    fine: dict[str, DenseInt] = field(default_factory=dict)
    """By the float synapse's name: the Dense carrying its weights' rounding residual (`quantize(fine_weights=)`)."""


def _layer_agreement(
    nodes: LayerNodes,
    incoming: list[Synapse],
    sources: dict[str, np.ndarray],
    target_spikes: np.ndarray,
    formats: NumberFormats,
) -> float:
    """Spike agreement of the integer population `nodes`, fed the float sources' spikes, with the float one."""
    pop = nodes.population
    order = list(dict.fromkeys(s.source for s in incoming if s.source != pop.name))
    offsets = np.cumsum([0] + [sources[s].shape[2] for s in order])
    inputs = np.concatenate([sources[s] for s in order], axis=2).astype(np.int64)
    taken = {pop.name, *nodes.synapses, *(n.name for n in (*(nodes.axon or ()), *nodes.fine.values()))}
    feed = next(f"search_input{'_' * i}" for i in range(len(taken) + 1) if f"search_input{'_' * i}" not in taken)
    pieces = [(s, nodes.synapses[s.name]) for s in incoming] + [(s, nodes.fine[s.name]) for s in incoming
                                                                  if s.name in nodes.fine]  # fmt: skip
    graded = max((d.num_message_bits for _, d in pieces), default=0)  # graded payloads pass; binary Dense reads != 0
    graph_nodes: dict[str, Node] = {feed: SpikeInput(name=feed, size=int(offsets[-1]), num_message_bits=graded),
                                    pop.name: pop}  # fmt: skip
    edges = []
    for syn, dense in pieces:
        if syn.source == pop.name:  # recurrence runs closed-loop, as on the chip
            graph_nodes[dense.name] = dense
            edges += [(pop.name, dense.name), (dense.name, pop.name)]
            continue
        at = int(offsets[order.index(syn.source)])  # widened onto the concatenated input; zeros keep the sign mode
        weights = np.zeros((dense.weights.shape[0], int(offsets[-1])), dtype=np.int64)
        weights[:, at : at + dense.in_size] = dense.weights
        delays = None
        if dense.delays is not None:
            delays = np.zeros_like(weights)
            delays[:, at : at + dense.in_size] = dense.delays
        graph_nodes[dense.name] = replace(dense, weights=weights, delays=delays)
        edges += [(feed, dense.name), (dense.name, pop.name)]
    if nodes.axon is not None:
        source, dense = nodes.axon
        graph_nodes.update({source.name: source, dense.name: dense})
        edges += [(source.name, dense.name), (dense.name, pop.name)]
    graph = DeployGraph(nodes=graph_nodes, edges=tuple(edges), output=pop.name, formats=formats)
    lag = int(any(np.all(s.delay_steps == 0) for s in incoming))
    steps = inputs.shape[1] - lag
    spikes = run_reference(graph, inputs).populations[pop.name].spikes[:, lag:] != 0
    return float(np.mean(spikes == (target_spikes[:, :steps] != 0)))


def search_scale(
    build: Callable[[float, int], LayerNodes],
    scale: float,
    exp: int,
    pop: Population,
    incoming: list[Synapse],
    sources: dict[str, np.ndarray],
    target_spikes: np.ndarray,
    formats: NumberFormats,
) -> SearchResult:
    """The candidate (S * f, exp), f in `SCALE_FACTORS`, whose layer-alone integer spikes agree best with the float
    population's (`target_spikes`, (samples, steps, n)); `build(S, exp)` gives the population's nodes.

    `sources` maps each incoming synapse's source to its float spikes (samples, steps, size).
    """
    if not pop.spiking or all(s.source == pop.name for s in incoming):
        return SearchResult(scale, exp, None, None)
    keep = max(1, MAX_SEARCH_ENTRIES // max(1, target_spikes[0].size))  # the first samples, to bound the cost
    sources, target_spikes = {k: v[:keep] for k, v in sources.items()}, target_spikes[:keep]
    best_score, best_scale = -1.0, scale
    before = None
    for factor in SCALE_FACTORS:
        candidate = scale * factor
        try:
            score = _layer_agreement(build(candidate, exp), incoming, sources, target_spikes, formats)
        except QuantizationRangeError:
            continue
        before = score if factor == 1.0 else before
        if score > best_score:
            best_score, best_scale = score, candidate
        if score == 1.0:
            break
    return SearchResult(best_scale, exp, before, best_score if best_score >= 0 else None)
