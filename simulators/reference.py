"""spikeport's integer reference simulator: a deploy graph run batched in torch, bit-exact to Lava `fixed_pt`.

Timing follows Lava: the input of sample step k (0-based) is emitted at step k; every synapse delivers what it
received at step k at step k + 1 + delay. Feed-forward graphs are run population by population, with each
synapse's matrix product taken over all samples and steps at once; graphs with recurrence run step by step.
Both paths call the same kernels in `spikeport.simulators.kernels`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from spikeport.errors import IRValidationError
from spikeport.ir import DeployGraph, LIFInt, LIFResetInt, TernaryLIFInt
from spikeport.simulators import kernels
from spikeport.simulators.record import PopulationTrace, RunRecord


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


def check_inputs(graph: DeployGraph, inputs: np.ndarray) -> np.ndarray:
    """Validate a (samples, steps, n_in) integer input array against the graph; returns it as int64."""
    array = np.asarray(inputs)
    size = graph.input.size
    if array.ndim != 3 or array.shape[2] != size:
        raise IRValidationError(
            f"inputs must have shape (samples, steps, {size}) for input {graph.input.name!r}, got {array.shape}"
        )
    if array.dtype.kind == "f" and not np.array_equal(array, np.round(array)):
        raise IRValidationError("inputs must be integer spikes or payloads, got fractional values")
    if array.dtype.kind not in "iubf":
        raise IRValidationError(f"inputs must be numeric, got dtype {array.dtype}")
    array = array.astype(np.int64, copy=False)
    if graph.input.num_message_bits == 0 and array.size and (array.min() < 0 or array.max() > 1):
        raise IRValidationError(
            f"input {graph.input.name!r} is binary (num_message_bits=0) but inputs hold values other than 0/1"
        )
    for pop in graph.populations:
        if isinstance(pop, LIFResetInt) and array.shape[1] % pop.reset_interval:
            raise IRValidationError(
                f"node {pop.name!r}: reset_interval {pop.reset_interval} must divide the steps per sample "
                f"({array.shape[1]}) so that every sample starts in the same reset phase"
            )
    return array


def _prepare(graph: DeployGraph) -> list[PreparedSynapse]:
    prepared = []
    for dense in graph.synapses:
        weights = kernels.effective_weights(dense.weights, dense.num_weight_bits)
        delays = dense.delays if dense.delays is not None else np.zeros_like(weights)
        groups = tuple(
            (int(d), torch.as_tensor(np.where(delays == d, weights, 0).T.astype(np.float64))) for d in np.unique(delays)
        )
        prepared.append(
            PreparedSynapse(
                source=graph.source_of(dense).name,
                target=graph.target_of(dense).name,
                weights_t_by_delay=groups,
                weight_exp=dense.weight_exp,
                graded=dense.num_message_bits > 0,
                delayed=dense.delays is not None,
            )
        )
    return prepared


def has_cycle(graph: DeployGraph) -> bool:
    pops = {p.name for p in graph.populations}
    feeds = {p: set() for p in pops}
    for dense in graph.synapses:
        src = graph.source_of(dense).name
        if src in pops:
            feeds[src].add(graph.target_of(dense).name)
    visiting, done = set(), set()

    def visit(node: str) -> bool:
        if node in done:
            return False
        if node in visiting:
            return True
        visiting.add(node)
        cyclic = any(visit(nxt) for nxt in feeds[node])
        visiting.discard(node)
        done.add(node)
        return cyclic

    return any(visit(p) for p in pops)


class PopulationStep:
    """Per-population constants and a step function shared by both execution orders."""

    def __init__(self, pop: LIFInt) -> None:
        self.pop = pop
        self.bias = kernels.effective_bias(pop.bias_mant, pop.bias_exp)

    def step(self, u: torch.Tensor, v: torch.Tensor, a_in: torch.Tensor, lava_step: int):
        pop = self.pop
        if isinstance(pop, LIFResetInt) and lava_step % pop.reset_interval == pop.reset_offset % pop.reset_interval:
            u, v = torch.zeros_like(u), torch.zeros_like(v)
        u, v = kernels.lif_update(u, v, a_in, du=pop.du, dv=pop.dv, bias=self.bias)
        if isinstance(pop, TernaryLIFInt):
            s = kernels.spikes_ternary(v, pop.vth, pop.vth_lo)
        else:
            s = kernels.spikes_binary(v, pop.vth)
        return u, kernels.reset_spiked(v, s), s


def _delayed(x: torch.Tensor, steps: int) -> torch.Tensor:
    """x shifted later in time (dim 1) by `steps`, zeros first."""
    if steps == 0:
        return x
    out = torch.zeros_like(x)
    if steps < x.shape[1]:
        out[:, steps:] = x[:, : x.shape[1] - steps]
    return out


def _synaptic_input(syn: PreparedSynapse, source_spikes: torch.Tensor) -> torch.Tensor:
    """What a synapse delivers at every step, shape (samples, steps, n_out), given its source's spikes."""
    total = None
    for delay, weights_t in syn.weights_t_by_delay:
        acc = kernels.dense_accumulate(
            source_spikes, weights_t, weight_exp=syn.weight_exp, graded=syn.graded, delayed=syn.delayed
        )
        acc = _delayed(acc, 1 + delay)
        total = acc if total is None else total + acc
    return kernels.wrap_int32(total)


def simulate_feedforward(
    input_name: str, synapses: list[PreparedSynapse], populations: list[PopulationStep], x: torch.Tensor
) -> dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Run a feed-forward network population by population; returns (spikes, u, v) per population.

    This is the reference simulator's core and, on tensors that carry gradients, the quantization-aware training
    forward pass (`spikeport.targets.qat`): one function, so training and deployment cannot drift apart.
    """
    samples, steps = x.shape[:2]
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
                syn_in = _synaptic_input(syn, spikes[syn.source])
                a_in = syn_in if a_in is None else kernels.wrap_int32(a_in + syn_in)
        if a_in is None:  # a population without synapses
            a_in = torch.zeros(samples, steps, pop.pop.size, dtype=torch.float64)
        u = torch.zeros(samples, pop.pop.size, dtype=torch.float64)
        v = torch.zeros_like(u)
        ss, us, vs = (torch.empty_like(a_in) for _ in range(3))  # filled step by step (no stack copy)
        for k in range(steps):
            u, v, s = pop.step(u, v, a_in[:, k], k + 1)
            ss[:, k], us[:, k], vs[:, k] = s, u, v
        spikes[ready] = ss
        traces[ready] = (ss, us, vs)
    return traces


def _run_stepwise(graph, synapses, populations, x):
    samples, steps = x.shape[:2]
    max_delay = max((d for s in synapses for d, _ in s.weights_t_by_delay), default=0)
    size = {p.pop.name: p.pop.size for p in populations}
    # buffers[i][:, j] is what synapse i delivers j steps from now (Lava's DelayDense a_buff)
    buffers = [
        torch.zeros(samples, max_delay + 2, graph.target_of(d).size, dtype=torch.float64) for d in graph.synapses
    ]
    state = {name: (torch.zeros(samples, n, dtype=torch.float64),) * 2 for name, n in size.items()}
    last_spikes = {name: torch.zeros(samples, n, dtype=torch.float64) for name, n in size.items()}
    record = {name: ([], [], []) for name in size}
    # all delay groups of a synapse in one product: W^T of every delay side by side, and where each group lands
    stacked = [torch.cat([w for _, w in syn.weights_t_by_delay], dim=1) for syn in synapses]
    slots = [torch.tensor([d for d, _ in syn.weights_t_by_delay]) for syn in synapses]
    for k in range(steps):
        a_in = {name: torch.zeros(samples, n, dtype=torch.float64) for name, n in size.items()}
        for syn, buf in zip(synapses, buffers, strict=True):
            a_in[syn.target] = kernels.wrap_int32(a_in[syn.target] + buf[:, 0])
        current = {graph.input.name: x[:, k]}
        for pop in populations:
            u, v = state[pop.pop.name]
            u, v, s = pop.step(u, v, a_in[pop.pop.name], k + 1)
            state[pop.pop.name] = (u, v)
            current[pop.pop.name] = s
            for store, value in zip(record[pop.pop.name], (s, u, v), strict=True):
                store.append(value)
        last_spikes = current
        for i, syn in enumerate(synapses):
            buf = torch.roll(buffers[i], -1, dims=1)
            buf[:, -1] = 0
            acc = kernels.dense_accumulate(
                last_spikes[syn.source], stacked[i], weight_exp=syn.weight_exp, graded=syn.graded, delayed=syn.delayed
            )  # elementwise per output after the product, so stacking the groups changes nothing
            buf[:, slots[i]] = buf[:, slots[i]] + acc.reshape(samples, len(slots[i]), -1)
            buffers[i] = buf
    return {name: tuple(torch.stack(r, dim=1) for r in rec) for name, rec in record.items()}


def run_reference(graph: DeployGraph, inputs: np.ndarray, *, stepwise: bool | None = None) -> RunRecord:
    """Run `graph` on every sample of `inputs` (samples, steps, n_in) and record spikes, u and v.

    Args:
        graph: the deploy graph.
        inputs: integer spikes (or graded payloads if the input node is graded), one row per sample.
        stepwise: force the step-by-step order (default: only for graphs with recurrence).

    Returns:
        A `RunRecord` with backend "reference".
    """
    start = time.perf_counter()
    x = torch.as_tensor(check_inputs(graph, inputs), dtype=torch.float64)
    synapses = _prepare(graph)
    populations = [PopulationStep(p) for p in graph.populations]
    cyclic = has_cycle(graph)
    if stepwise is False and cyclic:
        raise IRValidationError("the graph has recurrent loops, which only the step-by-step order can run")
    with torch.no_grad():
        if stepwise or cyclic:
            traces = _run_stepwise(graph, synapses, populations, x)
        else:
            traces = simulate_feedforward(graph.input.name, synapses, populations, x)
    pops = {
        p.name: PopulationTrace(
            spikes=traces[p.name][0].numpy().astype(np.int8),
            u=traces[p.name][1].numpy().astype(np.int64),
            v=traces[p.name][2].numpy().astype(np.int64),
        )
        for p in graph.populations
    }
    return RunRecord(backend="reference", populations=pops, wall_time_s=time.perf_counter() - start)


__all__ = [
    "PopulationStep",
    "PreparedSynapse",
    "check_inputs",
    "has_cycle",
    "run_reference",
    "simulate_feedforward",
]
