"""Energy and latency of one inference on a Loihi-class chip, from operation counts and a chip description.

The model (docs/energy.md), per inference of `steps_per_sample` steps; every count is the per-step mean of the
counted run times `steps_per_sample` (count = total / (samples * steps) * steps_per_sample):

    E_dynamic = N_synop E_synop + N_active E_active + N_inactive E_inactive + N_packet E_spike_tile
    t_step    = max(barrier(tiles_used), synops per step * t_synop)   (synops serialised: an upper bound)
    latency   = steps_per_sample * t_step
    E_static  = P_static * (time the inference holds the chip), at two operating points: fastest (latency)
                and real time (steps_per_sample * dt_s); for the whole chip and, as a labelled estimate,
                scaled to the fraction of cores in use ("if power-gated").

N_synop follows `synop_convention` (default spikes x fan-out); N_packet is one packet per source event and
synapse node, at the within-tile figure (tile hops are not modelled). A chip without published per-op figures
(Loihi 2) is refused unless a `proxy` chip is given; every borrowed figure is then labelled "proxy".
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING

from spikeport.errors import EnergyModelError
from spikeport.targets.chip import Baseline, ChipSpec, Figure, OpEnergy, StepTiming
from spikeport.targets.energy_report import PJ, EnergyReport, EnergyTerm, Latency, OperatingPoint, format_si
from spikeport.targets.opcount import OpCounts, SynopConvention

if TYPE_CHECKING:
    from spikeport.targets.conventions import RunCounts
    from spikeport.targets.mapping import CoreMapping

__all__ = ["EnergyModelError", "EnergyReport", "EnergyTerm", "Latency", "OperatingPoint", "estimate_energy"]

NS = 1e-9


def _per_op_chip(chip: ChipSpec, proxy: ChipSpec | None) -> tuple[ChipSpec, OpEnergy, StepTiming, bool]:
    """The chip whose per-op figures are used, those figures, and whether they are a proxy."""
    if chip.energy is not None and chip.timing is not None:
        if proxy is not None:
            raise EnergyModelError(f"chip {chip.id.value!r} has its own per-op figures; drop proxy={proxy.id.value!r}")
        return chip, chip.energy, chip.timing, False
    if proxy is None:
        hint = chip.per_op_proxy.value if chip.per_op_proxy is not None else "loihi"
        raise EnergyModelError(
            f"chip {chip.id.value!r} has no published per-operation energy or timing figures in its "
            f"description; pass proxy=load_chip({hint!r}) to estimate with that chip's figures, labelled "
            "as a proxy"
        )
    if proxy.energy is None or proxy.timing is None:
        raise EnergyModelError(f"proxy chip {proxy.id.value!r} has no per-operation energy and timing either")
    return proxy, proxy.energy, proxy.timing, True


def _as_proxy(fig: Figure, chip: ChipSpec, proxy: ChipSpec) -> Figure:
    note = f"{proxy.name} figure used as a proxy for {chip.name}, which has no published figure"
    return replace(fig, basis="proxy", note=f"{note}; {fig.note}" if fig.note else note)


def _barrier(timing: StepTiming, tiles: int) -> Figure:
    lo, hi = timing.barrier_min_tiles.as_int(), timing.barrier_max_tiles.as_int()
    if not lo <= tiles <= hi:
        raise EnergyModelError(f"tiles_used is {tiles}; the barrier figures cover {lo} to {hi} tiles")
    if tiles in (lo, hi):
        return timing.barrier_min if tiles == lo else timing.barrier_max
    low, high = timing.barrier_min.value, timing.barrier_max.value
    note = f"linear interpolation to {tiles} tiles between the {lo}-tile and {hi}-tile figures"
    value = low + (tiles - lo) / (hi - lo) * (high - low)
    return Figure(value, "ns", timing.barrier_min.source, note, "derived")


def _estimate_cores(counts: OpCounts, chip: ChipSpec) -> tuple[int, str]:
    limits = chip.limits
    if limits.compartments_per_core is not None:
        per_core, how = limits.compartments_per_core.as_int(), "compartments_per_core"
    else:
        per_core = int(limits.neurons_per_chip.value // limits.cores_per_chip.value)
        how = "neurons_per_chip / cores_per_chip"
    cores = max(1, sum(math.ceil(p.size / per_core) for p in counts.populations))
    return cores, f"estimated lower bound: populations on separate cores, {per_core} neurons per core ({how})"


def _point(name: str, seconds: float, feasible: bool, power: Figure, gated: bool, dynamic_pj: float):
    static_pj = power.value * seconds / PJ
    total = static_pj + dynamic_pj
    fast = name.startswith("fastest")
    pace = "steps back to back at the modelled step time" if fast else "one step per dt_s"
    what = "static power of the used cores only (estimate)" if gated else "static power of whole chips"
    return OperatingPoint(
        name, f"{pace}; {what}", seconds, feasible, gated, power, static_pj, dynamic_pj, total, total * PJ / seconds
    )


def _check_args(steps_per_sample: int, dt_s: float, convention: SynopConvention, cores: int | None) -> None:
    if int(steps_per_sample) != steps_per_sample or steps_per_sample < 1:
        raise EnergyModelError(f"steps_per_sample must be a positive int, got {steps_per_sample!r}")
    if not (math.isfinite(dt_s) and dt_s > 0):
        raise EnergyModelError(f"dt_s must be a positive number of seconds, got {dt_s!r}")
    if convention is SynopConvention.DENSE:
        raise EnergyModelError("synop_convention DENSE counts idle synapses; Loihi is event-driven (FAN_OUT)")
    if cores is not None and cores < 1:
        raise EnergyModelError(f"cores_used must be >= 1, got {cores}")


def estimate_energy(
    counts: OpCounts,
    chip: ChipSpec,
    *,
    steps_per_sample: int,
    dt_s: float,
    proxy: ChipSpec | None = None,
    synop_convention: SynopConvention = SynopConvention.FAN_OUT,
    tiles_used: int | None = None,
    cores_used: int | None = None,
    baseline: Baseline | None = None,
    mapping: CoreMapping | None = None,
    layer_counts: RunCounts | None = None,
) -> EnergyReport:
    """Estimate the energy and latency of one inference from operation counts (a pure function).

    Args:
        counts: operation counts of a simulated run (`count_ops`).
        chip: the target chip.
        steps_per_sample: time steps of one inference; per-step mean counts are scaled to it.
        dt_s: real-time duration of one step, s (the real-time operating point).
        proxy: chip whose per-op figures stand in when `chip` has none (Loihi 2); labelled "proxy".
        synop_convention: FAN_OUT (default) or EFFECTIVE synaptic operations for energy and latency.
        tiles_used: tiles the network spans, for the barrier time (interpolated between the published ends);
            default: the mapping's tiles (clamped to the published range), else 1.
        cores_used: cores the network occupies; default: the mapping's, else a lower bound from population sizes.
        baseline: conventional-hardware figures (`load_baseline()`) to add as labelled context.
        mapping: the graph on `chip`'s cores (`targets.mapping.map_graph`): cores, chips and tiles used.
        layer_counts: per-layer counts taken with that mapping (`targets.conventions.count_layers`): spike packets
            (one per source event and destination core), inter-tile packets (charged one east-west tile hop each,
            a lower bound) and learning updates (charged the chip's STDP figure) replace the per-node estimates.

    Returns:
        An EnergyReport; energies in pJ per inference.

    Raises:
        EnergyModelError: no per-op figures and no proxy, no static power, or an argument out of range.
    """
    _check_args(steps_per_sample, dt_s, synop_convention, cores_used)
    notes: list[str] = []
    if cores_used is None and mapping is not None:
        cores_used = mapping.cores_used
    if tiles_used is None:
        tiles_used = 1
        if mapping is not None and mapping.tiles_used is not None and chip.timing is not None:
            hi = chip.timing.barrier_max_tiles.as_int()
            tiles_used = min(mapping.tiles_used, hi)
            if mapping.tiles_used > hi:
                notes.append(f"{mapping.tiles_used} tiles used; the barrier is taken at the published {hi}-tile end.")
    source, energy, timing, is_proxy = _per_op_chip(chip, proxy)
    power_chip = chip if chip.power is not None else source
    if power_chip.power is None:
        raise EnergyModelError(f"chip {chip.id.value!r} has no static power figure ([power] static_per_chip)")

    def fig(f: Figure, borrowed: bool = is_proxy) -> Figure:
        return _as_proxy(f, chip, source) if borrowed else f

    scale = steps_per_sample / (counts.samples * counts.steps)
    n_synops = counts.synops_for(synop_convention) * scale
    terms = (
        (f"synops ({synop_convention.name.lower()})", n_synops, synop_convention.value, energy.synop),
        (
            "active neuron updates",
            counts.active_updates * scale,
            "neuron spiked at that step",
            energy.neuron_update_active,
        ),
        (
            "inactive neuron updates",
            counts.inactive_updates * scale,
            "every neuron every step, minus active",
            energy.neuron_update_inactive,
        ),
        (
            "spike packets",
            counts.spike_packets * scale,
            "source events x outgoing synapse nodes",
            energy.spike_within_tile,
        ),
    )
    if layer_counts is not None and "spike_packets" in {m for la in layer_counts.layers for m in la.per_step}:
        per = steps_per_sample / layer_counts.steps
        routed = "one per source event and destination core (mapping)"
        terms = (
            *terms[:3],
            ("spike packets", layer_counts.total("spike_packets") * per, routed, energy.spike_within_tile),
        )
        inter = layer_counts.total("inter_tile_packets") * per
        if inter > 0 and energy.tile_hop_east_west is not None:
            hop = "packets leaving their tile, one east-west hop each (lower bound)"
            terms = (*terms, ("inter-tile hops", inter, hop, energy.tile_hop_east_west))
        learning = layer_counts.total("learning_updates") * per
        if learning > 0:
            if energy.stdp_update is None:
                raise EnergyModelError(f"chip {source.id.value!r} has no learning-update figure (energy.stdp_update)")
            terms = (*terms, ("learning updates", learning, "plastic synapses updated", energy.stdp_update))
    dynamic = tuple(EnergyTerm(n, c, conv, fig(f), c * f.value) for n, c, conv, f in terms)
    dynamic_pj = sum(t.energy_pj for t in dynamic)

    barrier, synop_time = fig(_barrier(timing, tiles_used)), fig(timing.synop_time)
    per_step = n_synops / steps_per_sample
    synop_s, barrier_s = per_step * synop_time.value * NS, barrier.value * NS
    step_s = max(barrier_s, synop_s)
    bound = "barrier" if barrier_s >= synop_s else "synaptic operations"
    latency = Latency(
        steps_per_sample, tiles_used, per_step, barrier, synop_time, step_s, steps_per_sample * step_s, bound
    )

    static = fig(power_chip.power.static_per_chip, power_chip is not chip)
    cores_per_chip = chip.limits.cores_per_chip.as_int()
    if mapping is not None and cores_used == mapping.cores_used:
        cores, cores_basis = cores_used, "mapped onto cores within the per-core limits (targets/mapping.py)"
    elif cores_used is not None:
        cores, cores_basis = cores_used, "given"
    else:
        cores, cores_basis = _estimate_cores(counts, chip)
    chips = math.ceil(cores / cores_per_chip)
    full = static
    if chips > 1:
        note = f"{chips} chips x ({static.note})"
        full = replace(static, value=static.value * chips, basis="derived", note=note)
    gated_note = f"estimate: x {cores}/{cores_per_chip} cores in use, assuming unused cores are power-gated"
    gated = Figure(static.value * cores / cores_per_chip, "W", static.source, gated_note, "derived")
    real_s, fast_s, feasible = steps_per_sample * dt_s, latency.inference_s, step_s <= dt_s
    points = (
        _point("fastest", fast_s, True, full, False, dynamic_pj),
        _point("real_time", real_s, feasible, full, False, dynamic_pj),
        _point("fastest_power_gated", fast_s, True, gated, True, dynamic_pj),
        _point("real_time_power_gated", real_s, feasible, gated, True, dynamic_pj),
    )
    context: tuple[EnergyTerm, ...] = ()
    if baseline is not None:
        dense, effective = counts.synops_dense * scale, counts.synops_effective * scale
        context = (
            EnergyTerm(
                f"dense ANN MACs, {baseline.name}",
                dense,
                SynopConvention.DENSE.value,
                baseline.mac,
                dense * baseline.mac.value,
            ),
            EnergyTerm(
                f"SNN effective ACs, {baseline.name}",
                effective,
                SynopConvention.EFFECTIVE.value,
                baseline.ac,
                effective * baseline.ac.value,
            ),
        )
    notes += [
        "Latency serialises a step's synops on one core (an upper bound) and leaves out neuron-update time, "
        "for which no figure is published.",
        "Spike packets are charged at the within-tile figure; host input injection is not modelled"
        + (
            "; packets leaving their tile add one east-west hop each (a lower bound)."
            if layer_counts
            else "; tile hops are not modelled (no mapping)."
        ),
    ]
    if is_proxy:
        notes.insert(0, f"PROXY: {chip.name} has no published per-operation figures; {source.name}'s used.")
    if steps_per_sample != counts.steps:
        notes.append(f"Counts taken over {counts.steps}-step samples, scaled to {steps_per_sample} steps.")
    if not feasible:
        notes.append(f"Real time is not feasible: a modelled step takes {format_si(step_s, 's')} > dt.")
    return EnergyReport(
        chip=chip.label,
        chip_name=chip.name,
        per_op_chip=source.id.value,
        per_op_proxy=is_proxy,
        synop_convention=synop_convention.value,
        counted_samples=counts.samples,
        counted_steps=counts.steps,
        steps_per_sample=int(steps_per_sample),
        dt_s=float(dt_s),
        synops=n_synops,
        synops_effective=counts.synops_effective * scale,
        synops_dense=counts.synops_dense * scale,
        neuron_updates=counts.neuron_updates * scale,
        dynamic_terms=dynamic,
        dynamic_pj=dynamic_pj,
        latency=latency,
        cores_used=cores,
        cores_used_basis=cores_basis,
        chips_used=chips,
        operating_points=points,
        baseline_terms=context,
        notes=tuple(notes),
    )
