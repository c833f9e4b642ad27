"""Float-vs-integer agreement of an imported NIR graph: where quantization changes what the network does.

The float side is spikeport's interpreter of the NIR semantics (`spikeport.export.simulate_float`), the integer
side the reference simulator on the quantized deploy graph (bit-exact to Lava). Loihi's Dense adds one step per
synapse, so a connection that has no delay in the float graph arrives one step later on the chip; populations are
compared after shifting the integer run back by that many steps.

The verdict per layer: spike agreement, rate error, output agreement (argmax of spike counts or summed v for
classifiers, R² of the readout's v against the float v for regressors) and, for a flagged layer, its dominant cause
(`dominant_cause`). A spiking layer that spikes in neither run is *untested*: equal silence says nothing about
whether quantization kept its behaviour, so it is never counted as agreement.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from spikeport.errors import RecordMismatchError, SpikeportError
from spikeport.export import FloatTrace, ParsedNetwork, simulate_float
from spikeport.ir import DeployGraph
from spikeport.simulators import RunRecord
from spikeport.targets.bias_axon import population_lags

FLAG_AGREEMENT = 0.95  # default verdict threshold: flag a layer whose spikes agree on fewer pairs than this
FLAG_RATE_CHANGE = 0.10  # or whose firing rate moves by more than this fraction
RELATIVE_UNITS = ("relative", "relative RMS", "relative to threshold", "per step")
"""Units of approximation sizes that are fractions (comparable with each other); the others count things."""


class ApproximationLike(Protocol):
    """What the verdict reads of an approximation (`spikeport.targets.approximations.Approximation`)."""

    kind: str
    size: float
    unit: str
    detail: str


@dataclass(frozen=True)
class LayerAgreement:
    """How closely one population's integer run follows its float run."""

    name: str
    spiking: bool
    step_shift: int
    """Steps the integer run lags the float run (one per zero-delay synapse on the way from the input)."""
    spike_agreement: float
    """Fraction of (sample, step, neuron) with equal spikes (1.0 for non-spiking layers)."""
    float_rate: float
    int_rate: float
    output_agreement: float
    """argmax: fraction of samples whose argmax of summed v (readouts) or of spike counts agrees (tied counts:
    agreeing when the float and integer top classes share one, `argmax_agreement`); r2: R² of the
    integer readout v (in float units) against the float v."""
    output_metric: str = "argmax"
    """"argmax" (classifiers, and graphs of unknown task) or "r2" (regression readouts)."""
    tested: bool = True
    """False for a layer with no activity in either run (no spike, or a readout whose v stays 0)."""
    threshold: float = FLAG_AGREEMENT
    """The agreement below which the layer is flagged (`--min-agreement`, else `FLAG_AGREEMENT`)."""
    cause: str | None = None
    """The dominant cause of a flagged layer (`dominant_cause`); None when not flagged."""

    @property
    def rate_error(self) -> float:
        """|integer rate - float rate| / float rate (inf if only the integer run spikes, 0 if neither does)."""
        if self.float_rate:
            return abs(self.int_rate - self.float_rate) / self.float_rate
        return float("inf") if self.int_rate else 0.0

    @property
    def score(self) -> float:
        """The number the threshold applies to: spike agreement (spiking layers) or output agreement (readouts)."""
        return self.spike_agreement if self.spiking else self.output_agreement

    @property
    def flagged(self) -> bool:
        if not self.tested:
            return False
        if self.spiking:
            return self.spike_agreement < self.threshold or self.rate_error > FLAG_RATE_CHANGE
        return self.output_agreement < self.threshold

    def describe(self) -> str:
        kind = "spiking" if self.spiking else "readout"
        head = f"{self.name} ({kind}, +{self.step_shift} steps): "
        if not self.tested:
            what = "no spikes in the float or the integer run" if self.spiking else "v stays 0 in both runs"
            return head + f"untested ({what}; use inputs that reach this layer)"
        output = (
            f"R² {self.output_agreement:.4f} against the float output"
            if self.output_metric == "r2"
            else f"argmax agrees {self.output_agreement:.2%}"
        )
        flag = f"  <-- quantization changes behaviour: {self.cause}" if self.flagged else ""
        if not self.spiking:
            return f"{head}spikes agree n/a (non-spiking), {output}{flag}"
        return (
            f"{head}spikes agree {self.spike_agreement:.2%}, rate float {self.float_rate:.4f} / int "
            f"{self.int_rate:.4f} (error {self.rate_error:.1%}), {output}{flag}"
        )


def step_shifts(net: ParsedNetwork) -> dict[str, int]:
    """Integer-vs-float lag of each population (`spikeport.targets.bias_axon.population_lags`)."""
    return population_lags(net)


def argmax_agreement(f_out: np.ndarray, i_out: np.ndarray) -> float:
    """Fraction of samples (rows) whose top classes agree. Spike counts tie often (a 3-neuron output over 40
    steps), and a tie is no decision for either class: a sample agrees when the float and integer sets of top
    classes share one (without ties, equal argmax)."""
    f_top = f_out == f_out.max(axis=1, keepdims=True)
    i_top = i_out == i_out.max(axis=1, keepdims=True)
    return float(np.mean((f_top & i_top).any(axis=1)))


def _r2(f_v: np.ndarray, i_v: np.ndarray) -> float:
    """Coefficient of determination of `i_v` as a prediction of `f_v` (1: equal; 0: no better than the mean)."""
    total = float(np.sum((f_v - f_v.mean()) ** 2))
    residual = float(np.sum((f_v - i_v) ** 2))
    return 1.0 - residual / total if total else float(residual == 0)


def float_int_agreement(
    net: ParsedNetwork,
    graph: DeployGraph,
    inputs: np.ndarray,
    record: RunRecord,
    float_run: dict[str, FloatTrace] | None = None,
    *,
    threshold: float = FLAG_AGREEMENT,
    task: str | None = None,
    approximations: Mapping[str, Sequence[ApproximationLike]] | None = None,
) -> list[LayerAgreement]:
    """Per-population agreement between the float NIR semantics and the integer run `record` of `graph`
    (`float_run`: `simulate_float(net, inputs)` if already computed). Populations that the quantizer folded into a
    block node (the inner units of a spike-driven attention block) have no integer trace of their own and are
    compared at the block's output population.

    Args:
        threshold: agreement (fraction) below which a layer is flagged and its cause named.
        task: "regression" scores readouts by R² against the float v (needs the graph's scales); anything else by
            argmax agreement.
        approximations: per population, the quantizer's approximations (`PopulationQuantization.approximations`)
            from which a flagged layer's cause is named.

    Raises:
        RecordMismatchError: `record` lacks a population that `graph` deploys (a record of another graph).
    """
    float_run = float_run if float_run is not None else simulate_float(net, inputs)
    deployed = {p.name for p in graph.populations}
    scales = graph.metadata.get("scales", {})
    result = []
    for name, shift in step_shifts(net).items():
        if name not in deployed:  # folded into a block node: no integer trace of its own
            continue
        if name not in record.populations:
            raise RecordMismatchError(
                f"the {record.backend!r} run has no population {name!r}, which the deploy graph holds; "
                "compare a run of this deploy graph"
            )
        steps = inputs.shape[1] - shift
        fl, it = float_run[name], record.populations[name]
        f_spikes, i_spikes = fl.spikes[:, :steps], np.abs(it.spikes[:, shift:].astype(np.float64))
        spiking = net.populations[name].spiking
        f_v, i_v = fl.v[:, :steps], it.v[:, shift:].astype(np.float64)
        metric = "r2" if task == "regression" and not spiking and name in scales else "argmax"
        if metric == "r2":
            output = _r2(f_v, i_v / float(scales[name]))
        else:
            f_out, i_out = (f_spikes.sum(axis=1), i_spikes.sum(axis=1)) if spiking else (f_v.sum(1), i_v.sum(1))
            output = argmax_agreement(f_out, i_out)
        active = (f_spikes.any() or i_spikes.any()) if spiking else (f_v.any() or i_v.any())
        result.append(
            LayerAgreement(
                name=name,
                spiking=spiking,
                step_shift=shift,
                spike_agreement=float(np.mean(f_spikes == i_spikes)) if f_spikes.size else 1.0,
                float_rate=float(f_spikes.mean()) if f_spikes.size else 0.0,
                int_rate=float(i_spikes.mean()) if i_spikes.size else 0.0,
                output_agreement=output,
                output_metric=metric,
                tested=bool(active),
                threshold=threshold,
            )
        )
    if any(layer.flagged for layer in result):
        local, ancestors = layer_alone_agreement(net, graph, inputs, float_run), upstream_of(net)
        by_name = {layer.name: layer for layer in result}
        result = [
            replace(
                layer,
                cause=dominant_cause(
                    layer,
                    [by_name[name] for name in ancestors[layer.name] if name in by_name],
                    local.get(layer.name),
                    (approximations or {}).get(layer.name, ()),
                    recurrent=layer.name in ancestors[layer.name],
                ),
            )
            if layer.flagged
            else layer
            for layer in result
        ]
    return result


def upstream_of(net: ParsedNetwork) -> dict[str, set[str]]:
    """Every population's ancestors: the populations with a path to it (itself included if it is on a loop)."""
    parents = {name: {s.source for s in net.synapses if s.target == name} for name in net.populations}
    result = {}
    for name in net.populations:
        seen, stack = set(), list(parents[name])
        while stack:
            node = stack.pop()
            if node in parents and node not in seen:
                seen.add(node)
                stack.extend(parents[node])
        result[name] = seen
    return result


def layer_alone_agreement(
    net: ParsedNetwork, graph: DeployGraph, inputs: np.ndarray, float_run: dict[str, FloatTrace]
) -> dict[str, float]:
    """Spike agreement of each spiking layer run alone on the chip's arithmetic, fed the float graph's spikes of
    its sources (`spikeport.train.distill.LayerTeacher`), so that upstream errors do not reach it; {} for a graph
    whose layers cannot be run alone (a connection other than a binary Dense)."""
    import torch

    from spikeport.train.distill import LayerTeacher

    try:
        teacher = LayerTeacher(graph, net, inputs, float_run)
    except SpikeportError:
        return {}
    batch, result = torch.arange(np.asarray(inputs).shape[0]), {}
    with torch.no_grad():
        for layer in teacher.layers:
            if not net.populations[layer.name].spiking:
                continue
            spikes, _ = teacher.layer_run(layer, batch)
            lag = teacher.lags[layer.name]
            result[layer.name] = float((spikes[:, lag:] == teacher.float_s[layer.name][batch][:, lag:]).double().mean())
    return result


def dominant_cause(
    layer: LayerAgreement,
    upstream: Sequence[LayerAgreement],
    alone: float | None,
    approximations: Sequence[ApproximationLike],
    *,
    recurrent: bool = False,
) -> str:
    """Why `layer` is flagged, by a measured rule first and the quantizer's report second:

    1. Inherited: run alone (fed the float graph's spikes of its sources, `layer_alone_agreement`), the layer
       agrees at or above the threshold, so its own approximations are not what pushes it below: the error comes
       from the upstream spiking layer that agrees least, or (none below the threshold) from the layer's own
       recurrent loop, which feeds its errors back.
    2. Otherwise the largest of its approximations whose size is a fraction (`RELATIVE_UNITS`: relative weight,
       threshold and bias errors, decay error per step); with none of those, the first one that counts steps,
       connections or values (delay limit, reset semantics, clipping).
    """
    score = f"{layer.score:.2%}" if layer.spiking else f"{layer.output_metric} {layer.output_agreement:.4f}"
    if alone is not None and alone >= layer.threshold:
        tested = [other for other in upstream if other.spiking and other.tested and other.name != layer.name]
        worst = min(tested, key=lambda other: other.spike_agreement, default=None)
        if worst is not None and (worst.spike_agreement < layer.threshold or not recurrent):
            return (
                f"inherited: alone (fed the float inputs) it agrees {alone:.2%}, end to end {score}; lowest "
                f"upstream layer {worst.name} agrees {worst.spike_agreement:.2%}"
            )
        if recurrent:
            return f"recurrence: alone (fed the float inputs) it agrees {alone:.2%}; its own loop compounds to {score}"
    prefix = f"alone {alone:.2%}; " if alone is not None else ""
    fractions = [a for a in approximations if a.unit in RELATIVE_UNITS]
    chosen = max(fractions, key=lambda a: a.size) if fractions else next(iter(approximations), None)
    if chosen is None:
        return prefix + "no approximation reported for this layer (compare the float and integer traces)"
    return prefix + f"largest approximation: {chosen.kind} {chosen.size:.3g} {chosen.unit} ({chosen.detail})"


def below_minimum(layers: Sequence[LayerAgreement], minimum: float) -> LayerAgreement | None:
    """The tested layer that agrees least, if it is below `minimum` (a fraction); None when every one reaches it."""
    tested = [layer for layer in layers if layer.tested]
    worst = min(tested, key=lambda layer: layer.score, default=None)
    return worst if worst is not None and worst.score < minimum else None
