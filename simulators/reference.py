"""spikeport's integer reference simulator: a deploy graph run batched in torch, bit-exact to Lava `fixed_pt`.

Timing follows Lava: the input of sample step k (0-based) is emitted at step k; every synapse delivers what it
received at step k at step k + 1 + delay. Feed-forward graphs are run population by population, with each
synapse's matrix product taken over all samples and steps at once (by default through the fast, integer path of
`spikeport.simulators.feedforward`); graphs with recurrence run step by step (`spikeport.simulators.stepwise`).
Every path uses the kernels of `spikeport.simulators.kernels` with the graph's number formats, and counts every
value those formats saturate, wrap or clip (`spikeport.simulators.saturation`, `RunRecord.saturation`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, replace

import numpy as np
import torch

from spikeport.errors import IRValidationError
from spikeport.ir import DenseInt, DeployGraph, LIFInt, LIFResetInt, SpikeInput, TernaryLIFInt
from spikeport.ir.formats import LOIHI_FORMATS, NumberFormats
from spikeport.ir.graph import warn_clipped_weights
from spikeport.ir.kinds import KindTable
from spikeport.simulators import accumulate, attention, decay_split, feedforward, kernels, learning, saturation, timing
from spikeport.simulators import stepwise as stepwise_order
from spikeport.simulators.graph_cycles import has_cycle  # re-exported: qat and attention use it here
from spikeport.simulators.record import PopulationTrace, RunRecord
from spikeport.simulators.saturation import SaturationTally


@dataclass(frozen=True)
class PreparedSynapse:
    source: str
    target: str
    weights_t_by_delay: tuple[tuple[int, torch.Tensor], ...]
    """(delay, W^T restricted to that delay) for every delay present, W as Lava's Dense uses it."""
    weight_exp: int
    graded: bool
    delayed: bool
    """True for a synapse with delays (Lava `DelayDense`, whose graded arithmetic differs from `Dense`'s)."""
    name: str = ""
    """The connection's node name (where its overflows are counted)."""
    formats: NumberFormats = LOIHI_FORMATS
    """The graph's number formats."""
    weights_clipped: int = 0
    """Stored weights beyond the clip range of their sign mode, which `effective_weights` (and the chip) clip."""


def check_inputs(graph: DeployGraph, inputs: np.ndarray) -> np.ndarray:
    """Validate a (samples, steps, n_in) integer input array against the graph; returns it as int64.

    The checks that depend on a node's kind (binary vs graded input, reset phases) come from `KIND_TABLE`, so a
    graph holding a kind this simulator does not know fails here, before any work, naming that kind.

    Raises:
        IRValidationError: the inputs do not fit the graph's source or populations.
        UnsupportedNodeError: a node's kind has no entry in `KIND_TABLE`.
    """
    array = np.asarray(inputs)
    source = graph.input
    size = source.out_size
    if array.ndim != 3 or array.shape[2] != size:
        raise IRValidationError(
            f"inputs must have shape (samples, steps, {size}) for input {source.name!r}, got {array.shape}"
        )
    if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
        raise IRValidationError("inputs must be integer spikes or payloads, got NaN or infinite values")
    if array.dtype.kind == "f" and not np.array_equal(array, np.round(array)):
        raise IRValidationError("inputs must be integer spikes or payloads, got fractional values")
    if array.dtype.kind not in "iubf":
        raise IRValidationError(f"inputs must be numeric, got dtype {array.dtype}")
    array = array.astype(np.int64, copy=False)
    KIND_TABLE.handler(source)(source, array)
    for pop in graph.populations:
        KIND_TABLE.handler(pop).check_steps(pop, array.shape[1])
    return array


def _check_spike_input(source: SpikeInput, array: np.ndarray) -> None:
    """Binary inputs (num_message_bits=0) may only hold 0 and 1; graded ones any integer payload."""
    if source.num_message_bits == 0 and array.size and (array.min() < 0 or array.max() > 1):
        raise IRValidationError(
            f"input {source.name!r} is binary (num_message_bits=0) but inputs hold values other than 0/1"
        )


def _prepare_dense(graph: DeployGraph, dense: DenseInt) -> PreparedSynapse:
    """Lava's stored weights (`effective_weights`), split into one transposed matrix per delay value."""
    weights = kernels.effective_weights(dense.weights, dense.num_weight_bits, graph.formats)
    delays = dense.delays if dense.delays is not None else np.zeros_like(weights)
    groups = tuple(
        (int(d), torch.as_tensor(np.where(delays == d, weights, 0).T.astype(np.float64))) for d in np.unique(delays)
    )
    return PreparedSynapse(
        source=graph.source_of(dense).name,
        target=graph.target_of(dense).name,
        weights_t_by_delay=groups,
        weight_exp=dense.weight_exp,
        graded=dense.num_message_bits > 0,
        delayed=dense.delays is not None,
        name=dense.name,
        formats=graph.formats,
        weights_clipped=graph.formats.weights_beyond_clip(dense.weights),
    )


def _prepare(graph: DeployGraph) -> list[PreparedSynapse]:
    return [KIND_TABLE.handler(c)(graph, c) for c in graph.connections]


class PopulationStep:
    """Per-population constants and the step of a plain LIF population, shared by both execution orders.

    Variants of the LIF update override the two hooks `_reset` (before the update) and `_spikes` (after it);
    `KIND_TABLE` names the class each population kind uses, so the step itself never inspects the node's type.
    """

    def __init__(self, pop: LIFInt, formats: NumberFormats = LOIHI_FORMATS) -> None:
        self.pop = pop
        self.formats = formats
        self.bias = kernels.effective_bias(pop.bias_mant, pop.bias_exp, formats)

    @classmethod
    def check_steps(cls, pop: LIFInt, steps: int) -> None:
        """Raise `IRValidationError` if `steps` per sample do not suit `pop` (any number suits a plain LIF)."""

    def step(
        self, u: torch.Tensor, v: torch.Tensor, a_in: torch.Tensor, lava_step: int, tally: SaturationTally | None = None
    ):
        """One step of every neuron: returns (u, v, spikes) after Lava step `lava_step` (1-based).

        With a `tally`, the step's overflows of u, v and the channel arithmetic are added to it.
        """
        u, v = self._reset(u, v, lava_step)
        u, v = decay_split.lif_update(self.pop, u, v, a_in, self.bias, self.formats, tally)  # per decay group
        s = self._spikes(v)
        return u, kernels.reset_spiked(v, s), s

    def _reset(self, u: torch.Tensor, v: torch.Tensor, lava_step: int) -> tuple[torch.Tensor, torch.Tensor]:
        return u, v

    def _spikes(self, v: torch.Tensor) -> torch.Tensor:
        return kernels.spikes_binary(v, self.pop.vth, self.formats)


class ResetLIFStep(PopulationStep):
    """`LIFResetInt`: u and v are zeroed before the update of every step t with t % interval == offset % interval."""

    pop: LIFResetInt

    @classmethod
    def check_steps(cls, pop: LIFResetInt, steps: int) -> None:
        """Samples run back to back, so each must start in the same reset phase: the interval must divide steps."""
        if steps % pop.reset_interval:
            raise IRValidationError(
                f"node {pop.name!r}: reset_interval {pop.reset_interval} must divide the steps per sample "
                f"({steps}) so that every sample starts in the same reset phase"
            )

    def _reset(self, u: torch.Tensor, v: torch.Tensor, lava_step: int) -> tuple[torch.Tensor, torch.Tensor]:
        pop = self.pop
        if lava_step % pop.reset_interval == pop.reset_offset % pop.reset_interval:
            return torch.zeros_like(u), torch.zeros_like(v)
        return u, v


class TernaryLIFStep(PopulationStep):
    """`TernaryLIFInt`: +1 above vth << 6, -1 below vth_lo << 6."""

    pop: TernaryLIFInt

    def _spikes(self, v: torch.Tensor) -> torch.Tensor:
        return kernels.spikes_ternary(v, self.pop.vth, self.pop.vth_lo, self.formats)


KIND_TABLE: KindTable = KindTable(
    "the reference simulator",
    {
        SpikeInput.kind: _check_spike_input,
        DenseInt.kind: _prepare_dense,
        LIFInt.kind: PopulationStep,
        LIFResetInt.kind: ResetLIFStep,
        TernaryLIFInt.kind: TernaryLIFStep,
        attention.AttentionInt.kind: attention.prepare_attention,
        learning.PlasticDenseInt.kind: learning.prepare_plastic,
    },
)
"""How the reference simulator handles each node kind, by role: a SOURCE maps to `check(node, inputs)` (validates
the int64 input array), a CONNECTION to `prepare(graph, node) -> PreparedSynapse`, a POPULATION to its
`PopulationStep` class."""


def population_step(pop: LIFInt, formats: NumberFormats = LOIHI_FORMATS) -> PopulationStep:
    """The step object of `pop`, by its kind (raises `UnsupportedNodeError` for a kind this simulator lacks)."""
    return KIND_TABLE.handler(pop)(pop, formats)


def _channel(x: torch.Tensor, formats: NumberFormats, tally: SaturationTally | None, name: str) -> torch.Tensor:
    """`x` brought into the channel width; its overflows are added to node `name` of `tally`, if one is given."""
    if tally is None:
        return kernels.wrap_channel(x, formats)
    x, count = kernels.bound_counted(x, formats.channel_bits, formats.channel_overflow)
    tally.add_channel(name, count)
    return x


def _accumulate(
    syn: PreparedSynapse, spikes: torch.Tensor, weights_t: torch.Tensor, tally: SaturationTally | None
) -> torch.Tensor:
    """`kernels.dense_accumulate` of `syn`, counting its internal wraps into `tally` if one is given."""
    acc, wrapped = kernels.dense_accumulate_counted(
        spikes, weights_t, weight_exp=syn.weight_exp, graded=syn.graded, delayed=syn.delayed, formats=syn.formats
    )
    if tally is not None:
        tally.add_channel(syn.name, wrapped)
    return acc


def _synaptic_input(
    syn: PreparedSynapse, source_spikes: torch.Tensor, tally: SaturationTally | None = None
) -> torch.Tensor:
    """What a synapse delivers at every step, shape (samples, steps, n_out), given its source's spikes."""
    total = syn.deliver(source_spikes, tally) if hasattr(syn, "deliver") else None  # attention: no product
    for delay, weights_t in syn.weights_t_by_delay:
        acc = timing.delayed(_accumulate(syn, source_spikes, weights_t, tally), 1 + delay, time_dim=1)
        total = acc if total is None else total + acc
    return _channel(total, syn.formats, tally, syn.name)


def simulate_feedforward(
    input_name: str,
    synapses: list[PreparedSynapse],
    populations: list[PopulationStep],
    x: torch.Tensor,
    *,
    tally: SaturationTally | None = None,
) -> dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Run a feed-forward network population by population; returns (spikes, u, v) per population.

    This is the reference simulator's core and, on tensors that carry gradients, the quantization-aware training
    forward pass (`spikeport.train.qat`): one function, so training and deployment cannot drift apart. With a
    `tally`, every overflow is counted into it (the arithmetic is the same either way).
    """
    samples, steps = x.shape[:2]
    synapses = decay_split.split_sources(synapses, populations)  # one sum per decay group of a source
    spikes = {input_name: x}
    traces = {}
    pending = [p.pop.name for p in populations]
    while pending:
        ready = next(name for name in pending if all(s.source in spikes for s in synapses if s.target == name))
        pending.remove(ready)
        pop = next(p for p in populations if p.pop.name == ready)
        a_in = None
        for syn in synapses:
            if syn.target == ready:
                syn_in = _synaptic_input(syn, spikes[syn.source], tally)
                a_in = syn_in if a_in is None else _channel(a_in + syn_in, pop.formats, tally, ready)
        if a_in is None:  # a population without synapses
            a_in = torch.zeros(samples, steps, pop.pop.size, dtype=torch.float64)
        u = torch.zeros(samples, pop.pop.size, dtype=torch.float64)
        v = torch.zeros_like(u)
        ss, us, vs = (torch.empty_like(a_in) for _ in range(3))  # filled step by step (no stack copy)
        for k in range(steps):
            u, v, s = pop.step(u, v, a_in[:, k], k + 1, tally)
            ss[:, k], us[:, k], vs[:, k] = s, u, v
        spikes[ready] = ss
        traces[ready] = (ss, us, vs)
    return traces


def run_reference(
    graph: DeployGraph,
    inputs: np.ndarray,
    *,
    stepwise: bool | None = None,
    strict: bool = False,
    states: bool | Iterable[str] = True,
    fast: bool = True,
) -> RunRecord:
    """Run `graph` on every sample of `inputs` (samples, steps, n_in) and record spikes, u and v.

    Every value the chip's number formats change is counted, per population or connection and variable, into
    `RunRecord.saturation` (see `spikeport.simulators.saturation`): v saturations, u wrap-arounds, int32 channel
    wraps, and weights beyond the chip's mantissa range (which the chip clips; they also raise a SpikeportWarning).
    `RunRecord.precision` states the dtype each connection's sums were computed in (`simulators/accumulate.py`).

    Args:
        graph: the deploy graph.
        inputs: integer spikes (or graded payloads if the input node is graded), one row per sample.
        stepwise: force the step-by-step order (default: only for graphs with recurrence).
        strict: raise `SaturationError` instead of clipping a weight (before running) or after a run in which
            any value saturated or wrapped.
        states: the populations whose u and v are recorded: True (every one), False (none) or their names; the
            others record spikes only (their trace's u and v are None), which saves 16 bytes per neuron and step.
        fast: run feed-forward graphs by `simulators/feedforward.py` (exact integers, event-driven sums, fused
            update); False runs the float64 path `simulate_feedforward`, which the fast one is tested against.

    Returns:
        A `RunRecord` with backend "reference", its saturation counts and its precision plan.

    Raises:
        IRValidationError: the inputs do not fit the graph, `stepwise=False` for a recurrent graph, or `states`
            names a population the graph lacks.
        UnsupportedNodeError: the graph holds a node kind with no entry in `KIND_TABLE`.
        SaturationError: `strict` and a weight lies beyond the chip's range or a value saturated or wrapped.
    """
    keep = _state_populations(graph, states)
    if learning.is_plastic(graph):  # weights change as samples stream: one after another (simulators/learning.py)
        return _keep_states(learning.run_plastic_reference(graph, inputs, strict=strict), keep)
    start = time.perf_counter()
    array = check_inputs(graph, inputs)
    synapses = _prepare(graph)
    populations = [population_step(p, graph.formats) for p in graph.populations]
    cyclic = has_cycle(graph)
    if stepwise is False and cyclic:
        raise IRValidationError("the graph has recurrent loops, which only the step-by-step order can run")
    clipped = {syn.name: syn.weights_clipped for syn in synapses}
    if strict:
        weights = {name: {saturation.WEIGHTS_CLIPPED: n} for name, n in clipped.items()}
        saturation.check_strict(weights, "the reference run, before it starts")
    warn_clipped_weights(graph, "the reference run", clipped)
    payload = float(np.abs(array).max(initial=0)) if graph.input.num_message_bits else 1.0
    plan = accumulate.precision_plan(synapses, {graph.input.name: payload})
    tally = SaturationTally(graph.formats, (p.name for p in graph.populations), clipped)
    with torch.no_grad():
        if fast and not (stepwise or cyclic) and feedforward.supports(synapses, populations):
            traces = feedforward.run_fast(graph.input.name, synapses, populations, array, tally, keep)
        else:
            x = torch.as_tensor(array, dtype=torch.float64)
            if stepwise or cyclic:
                raw = stepwise_order.run_stepwise(graph, synapses, populations, x, tally)
            else:
                raw = simulate_feedforward(graph.input.name, synapses, populations, x, tally=tally)
            traces = {name: _numpy_trace(trace, name in keep) for name, trace in raw.items()}
    counts = tally.counts(graph.nodes)
    if strict:
        saturation.check_strict(counts, f"the reference run of {array.shape[0]} samples x {array.shape[1]} steps")
    pops = {
        p.name: PopulationTrace(spikes=traces[p.name][0], u=traces[p.name][1], v=traces[p.name][2])
        for p in graph.populations
    }
    return RunRecord(
        backend="reference",
        populations=pops,
        saturation=counts,
        wall_time_s=time.perf_counter() - start,
        precision=plan,
    )


def _numpy_trace(trace: tuple[torch.Tensor, torch.Tensor, torch.Tensor], states: bool):
    """(spikes int8, u int64, v int64) numpy arrays of a float64 trace; u and v None unless `states`."""
    spikes, u, v = trace
    if not states:
        return spikes.numpy().astype(np.int8), None, None
    return spikes.numpy().astype(np.int8), u.numpy().astype(np.int64), v.numpy().astype(np.int64)


def _state_populations(graph: DeployGraph, states: bool | Iterable[str]) -> frozenset[str]:
    """The populations whose u and v a run records, from `run_reference`'s `states`."""
    names = [p.name for p in graph.populations]
    if states is True or states is False:
        return frozenset(names if states else ())
    if isinstance(states, str):
        states = [states]
    chosen = frozenset(states)
    unknown = sorted(chosen - set(names))
    if unknown:
        raise IRValidationError(f"states names {unknown}, which are not populations of the graph; it has {names}")
    return chosen


def _keep_states(record: RunRecord, keep: frozenset[str]) -> RunRecord:
    """`record` with u and v left out of every population not in `keep`."""
    if all(name in keep for name in record.populations):
        return record
    pops = {
        name: trace if name in keep else PopulationTrace(spikes=trace.spikes, u=None, v=None)
        for name, trace in record.populations.items()
    }
    return replace(record, populations=pops)


__all__ = [
    "KIND_TABLE",
    "PopulationStep",
    "PreparedSynapse",
    "ResetLIFStep",
    "TernaryLIFStep",
    "check_inputs",
    "has_cycle",
    "population_step",
    "run_reference",
    "simulate_feedforward",
]
