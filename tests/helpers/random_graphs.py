"""Random valid deploy graphs and inputs: the one generator behind the equivalence tests, the sweep and benchmarks.

Two front ends share one generator (`_build`):

- `random_case(seed, **overrides)`: plain and seeded (`np.random.default_rng(seed)`), for parametrized edge cases,
  the sweep and the benchmarks;
- `graph_cases(**overrides)`: a hypothesis strategy. Structural choices (topology, node kinds, decays, thresholds,
  sign modes, exponents, delays, input shape) are hypothesis draws, so failures shrink toward simple networks; bulk
  arrays (weights, biases, delays, input spikes) come from a numpy generator seeded by one more draw.

What is drawn (every knob can be pinned with an override of the same name, applied to every population or synapse):

- ``topology``: "chain" (input -> p0 -> p1 -> p2), "fanin" (a chain plus a second synapse into the last
  population, from the input or an earlier population), "recurrent_self" (a chain plus p_k -> p_k),
  "recurrent_back" (a chain plus a synapse from a later population back to an earlier one); ``populations`` 1..3,
  ``size``/``input_size`` 1..30; ``extra_synapse``: one more synapse between random ends (15 %; it may close a
  loop, so pin it to False for strictly feed-forward graphs).
- ``kind`` per population: "lif", "reset" (LIFResetInt, reset_interval dividing the steps per sample), "ternary".
- ``du`` in {-1, 0, 4095, random 0..4095}; ``dv`` in {0, 4096, random 0..4096}; ``vth`` 0..131071 (0, small,
  log-uniform, max); ``vth_lo`` likewise negative; ``bias_mode`` ("zero", "small", "full" 13-bit, "extreme" = only
  -4096/4095) with ``bias_exp`` -8..7.
- ``sign`` per synapse: "excitatory", "inhibitory", "mixed", "clipped" (values outside the 8-bit range of their mode,
  to exercise Lava's clipping); ``num_weight_bits`` 1..8; ``weight_exp`` -8..7; ``graded`` (num_message_bits > 0);
  ``delays`` "none" (Dense), "random" (DelayDense, max delay 0..63), "zero" (DelayDense, all 0), "max" (DelayDense
  including 63; the steps per sample then exceed 64 so the delayed spikes arrive).
- ``input_bits``: 0 (binary spikes) or the payload width 1..24 of graded input (payloads may be signed);
  ``rate`` of non-zero inputs; ``steps`` per sample; ``samples``.
- ``drive``: "normal", or "strong_excitatory" / "strong_inhibitory": the input synapse gets near-full-scale weights
  of one sign and weight_exp 7, inputs fire at 90 %, so |a << 6| > 2**24 (u overflow) and v saturates.

Each node is made by the generator `KIND_TABLE` names for its kind (the ``kind`` knob picks a population kind), so
a new node kind needs a generator here before the property tests can draw it.

`case_features.py` (re-exported here) holds `EDGE_CASES`, the knob settings that reach each named edge case, and
`features(case, record)`, which names the edge cases a case exercises, statically (from the graph) and dynamically
(from a run's record: u wrapped, v saturated, a negative ternary spike, ...), per sample; the sweep reports their
counts.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import strategies as st

from helpers.case_features import EDGE_CASES, VTH_MAX, features
from helpers.random_attention import attention_connection
from helpers.random_plastic import plastic_connection
from spikeport.ir import DenseInt, DeployGraph, LIFInt, LIFResetInt, SpikeInput, TernaryLIFInt
from spikeport.ir.kinds import KindTable, Role
from spikeport.ir.plastic import PlasticDenseInt

TOPOLOGIES = ("chain", "fanin", "recurrent_self", "recurrent_back")
KINDS = ("lif", "reset", "ternary")
"""Values of the ``kind`` knob; `KNOB_KINDS` maps them to node kinds."""
SIGNS = ("excitatory", "inhibitory", "mixed", "clipped")
DELAY_MODES = ("none", "random", "zero", "max")
BIAS_MODES = ("zero", "small", "full", "extreme")
DRIVES = ("normal", "strong_excitatory", "strong_inhibitory")
KNOBS = (
    "topology", "populations", "size", "input_size", "kind", "du", "dv", "vth", "vth_lo", "bias_mode", "bias_exp",
    "sign", "num_weight_bits", "weight_exp", "graded", "delays", "input_bits", "rate", "steps", "samples", "drive",
    "reset_interval", "extra_synapse",
)  # fmt: skip
MAX_SIZE = 30
MAX_STEPS = 80


@dataclass(frozen=True, eq=False)
class Case:
    """One random network with its inputs (samples, steps, n_in)."""

    label: str
    graph: DeployGraph
    inputs: np.ndarray
    overrides: Mapping[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"Case({self.label}; inputs {self.inputs.shape}; {describe(self.graph)})"


def describe(graph: DeployGraph) -> str:
    """A compact one-line description of a graph: every node's kind and register values."""
    parts = []
    for node in graph.nodes.values():
        if node.role is Role.SOURCE:
            parts.append(f"{node.name}:input({node.size}, bits={node.num_message_bits})")
        elif node.role is Role.CONNECTION:
            src, dst = graph.sources_of(node.name)[0], graph.targets_of(node.name)[0]
            w = node.weights
            delay = "" if node.delays is None else f", delay<={node.max_delay}"
            parts.append(
                f"{src}-{node.name}[{w.shape[0]}x{w.shape[1]}, w in [{w.min()}, {w.max()}], "
                f"bits={node.num_weight_bits}, exp={node.weight_exp}, msg={node.num_message_bits}{delay}]->{dst}"
            )
        else:
            extra = ""
            if node.kind == LIFResetInt.kind:
                extra = f", reset={node.reset_interval}/{node.reset_offset}"
            elif node.kind == TernaryLIFInt.kind:
                extra = f", vth_lo={node.vth_lo}"
            b = node.bias_mant
            parts.append(
                f"{node.name}:{node.kind}({node.size}, du={node.du}, dv={node.dv}, vth={node.vth}{extra}, "
                f"bias [{b.min()}, {b.max()}]<<{node.bias_exp})"
            )
    return "; ".join(parts)


# ---------------------------------------------------------------------------------------------------------------
# Draw sources: numpy (seeded function) and hypothesis (strategy)


class _Draws:
    """Scalar choices; `int` is inclusive on both ends."""

    def int(self, lo: int, hi: int) -> int:
        raise NotImplementedError

    def pick(self, options: Sequence[Any]) -> Any:
        return options[self.int(0, len(options) - 1)]

    def chance(self, percent: int) -> bool:
        """True with about `percent` % probability (hypothesis shrinks toward False)."""
        return self.int(0, 99) >= 100 - percent


class _NumpyDraws(_Draws):
    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def int(self, lo: int, hi: int) -> int:
        return int(self.rng.integers(lo, hi + 1))


class _HypothesisDraws(_Draws):
    def __init__(self, draw: Callable[[st.SearchStrategy], Any]) -> None:
        self.draw = draw

    def int(self, lo: int, hi: int) -> int:
        return self.draw(st.integers(lo, hi))

    def pick(self, options: Sequence[Any]) -> Any:
        return self.draw(st.sampled_from(list(options)))


class _Knobs:
    """Resolves a knob: the override if pinned, else a fresh draw."""

    def __init__(self, draws: _Draws, overrides: Mapping[str, Any]) -> None:
        unknown = set(overrides) - set(KNOBS)
        if unknown:
            raise ValueError(f"unknown generator knobs {sorted(unknown)}; known: {KNOBS}")
        self.draws, self.overrides = draws, overrides

    def __call__(self, name: str, draw: Callable[[], Any]) -> Any:
        return self.overrides[name] if name in self.overrides else draw()


# ---------------------------------------------------------------------------------------------------------------
# The generator


def _log_uniform(d: _Draws, hi: int) -> int:
    """An integer in [1, hi], roughly uniform in its bit length."""
    bits = d.int(1, hi.bit_length())
    return min(hi, d.int(2 ** (bits - 1), 2**bits - 1))


def _du(d: _Draws) -> int:
    return d.pick((-1, 0, 4095)) if d.chance(60) else d.int(0, 4095)


def _dv(d: _Draws) -> int:
    return d.pick((0, 4096)) if d.chance(50) else d.int(0, 4096)


def _vth(d: _Draws) -> int:
    return d.pick((0, VTH_MAX)) if d.chance(15) else (d.int(1, 256) if d.chance(50) else _log_uniform(d, VTH_MAX))


def _weights(rng: np.random.Generator, sign: str, shape: tuple[int, int], sparse: float) -> np.ndarray:
    if sign == "excitatory":
        w = rng.integers(0, 256, shape)
    elif sign == "inhibitory":
        w = -rng.integers(0, 256, shape)
    elif sign == "mixed":
        w = rng.integers(-256, 256, shape)
    else:  # clipped: some values outside the 8-bit range of the matrix's sign mode
        mode = rng.choice(["excitatory", "inhibitory", "mixed"])
        low, high = {"excitatory": (0, 1024), "inhibitory": (-1023, 1), "mixed": (-1024, 1024)}[mode]
        w = rng.integers(low, high, shape)
    if sparse > 0:
        w = np.where(rng.random(shape) < sparse, 0, w)
    flat = w.reshape(-1)
    if sign == "mixed" and flat.size >= 2:  # keep the matrix mixed after sparsification
        flat[0], flat[-1] = rng.integers(1, 256), -rng.integers(1, 257)
    if sign == "clipped":
        big = int(rng.integers(257, 4096))
        flat[int(rng.integers(flat.size))] = -big if w.max() <= 0 and w.min() < 0 else big
    return w


def _spike_input(source: SpikeInput) -> SpikeInput:
    """The input is fully decided by `_build` (its size and payload width shape every other draw)."""
    return source


def _dense(rng: np.random.Generator, name: str, syn: dict[str, Any], shape: tuple[int, int]) -> DenseInt:
    """A Dense or DelayDense synapse from its drawn settings (`syn`); weights and delays come from `rng`."""
    if syn["strong"]:
        w = rng.integers(200, 256, shape)
        w = w if syn["sign"] == "excitatory" else -w
    else:
        w = _weights(rng, syn["sign"], shape, syn["sparse"])
    delays = None
    if syn["delays"] != "none":
        delays = rng.integers(0, syn["max_delay"] + 1, shape)
        if syn["delays"] == "max":
            delays.reshape(-1)[int(rng.integers(delays.size))] = 63
    return DenseInt(
        name=name, weights=w, weight_exp=syn["wexp"], num_weight_bits=syn["nwb"], num_message_bits=syn["msg"],
        delays=delays,
    )  # fmt: skip


def _lif(d: _Draws, k: _Knobs, common: dict[str, Any], divisors: list[int]) -> LIFInt:
    return LIFInt(**common)


def _lif_reset(d: _Draws, k: _Knobs, common: dict[str, Any], divisors: list[int]) -> LIFResetInt:
    """The reset interval divides the steps per sample, as the simulators require."""
    interval = k("reset_interval", lambda: d.pick(divisors))
    return LIFResetInt(**common, reset_interval=interval, reset_offset=d.int(0, 2 * interval))


def _ternary_lif(d: _Draws, k: _Knobs, common: dict[str, Any], divisors: list[int]) -> TernaryLIFInt:
    vth_lo = k("vth_lo", lambda: -_vth(d))
    return TernaryLIFInt(**common, vth_lo=vth_lo)


KIND_TABLE: KindTable = KindTable(
    "the random-graph generator",
    {
        SpikeInput.kind: _spike_input,
        DenseInt.kind: _dense,
        LIFInt.kind: _lif,
        LIFResetInt.kind: _lif_reset,
        TernaryLIFInt.kind: _ternary_lif,
        PlasticDenseInt.kind: plastic_connection,  # drawn only by helpers.random_plastic.random_plastic_case
        "spike_attention_int": attention_connection,  # drawn only by helpers.random_attention.random_attention_case
    },
)
"""Node generator per kind, by role: the SOURCE's takes the input `_build` made; a CONNECTION's
`(rng, name, settings, shape)`; a POPULATION's `(draws, knobs, LIF fields, divisors of the steps)`, drawing only the
fields its kind adds (so the draw order, and with it every seeded case, stays fixed)."""

KNOB_KINDS = {"lif": LIFInt.kind, "reset": LIFResetInt.kind, "ternary": TernaryLIFInt.kind}
"""The ``kind`` knob's values and the node kinds they draw."""


@dataclass(frozen=True)
class _Pending:
    """A node about to be generated: what `KindTable.handler` needs to look its kind up (and name it on failure)."""

    kind: str
    name: str


def _build(d: _Draws, rng: np.random.Generator, overrides: Mapping[str, Any], label: str) -> Case:
    k = _Knobs(d, overrides)
    drive = k("drive", lambda: d.pick(DRIVES) if d.chance(15) else "normal")
    topology = k("topology", lambda: d.pick(TOPOLOGIES))
    n_pops = k("populations", lambda: d.int(1, 3))
    if topology == "recurrent_back" and n_pops < 2:
        n_pops = 2
    pops = [f"p{i}" for i in range(n_pops)]
    input_min = 16 if drive != "normal" else 1
    input_size = k("input_size", lambda: d.int(input_min, MAX_SIZE))
    sizes = {p: k("size", lambda: d.int(1, MAX_SIZE)) for p in pops}

    # synapses (source, target)
    links = [("in", pops[0]), *itertools.pairwise(pops)]
    if topology == "fanin":
        links.append((d.pick(["in", *pops[:-1]]), pops[-1]))
    elif topology == "recurrent_self":
        p = d.pick(pops)
        links.append((p, p))
    elif topology == "recurrent_back":
        j = d.int(1, n_pops - 1)
        links.append((pops[j], pops[d.int(0, j - 1)]))
    if k("extra_synapse", lambda: d.chance(15)):  # one more random synapse: denser fan-in, maybe a loop
        links.append((d.pick(["in", *pops]), d.pick(pops)))

    input_bits = k("input_bits", lambda: 0 if d.chance(60) else d.pick((1, 2, 3, 4, 8, 8, 12, 16, 24)))
    signed_payloads = input_bits > 1 and d.chance(30)

    synapses = []
    for i, (src, dst) in enumerate(links):
        strong = drive != "normal" and i == 0
        if strong:
            sign = "excitatory" if drive == "strong_excitatory" else "inhibitory"
            nwb, wexp = 8, 7
        else:
            sign = k("sign", lambda: d.pick(SIGNS))
            nwb = k("num_weight_bits", lambda: 8 if d.chance(40) else d.int(1, 8))
            wexp = k("weight_exp", lambda: 0 if d.chance(20) else d.int(-8, 7))
        if src == "in":
            graded = k("graded", lambda: input_bits > 0 and d.chance(75))
            msg = max(input_bits, 1) if graded else 0
        else:
            graded = k("graded", lambda: d.chance(15))
            msg = d.int(1, 2) if graded else 0
        delays = k("delays", lambda: "none" if d.chance(70) else d.pick(DELAY_MODES[1:]))
        max_delay = {"none": 0, "zero": 0, "max": 63, "random": None}[delays]
        if max_delay is None:
            max_delay = d.pick((1, 2, 5, 63)) if d.chance(50) else d.int(0, 63)
        synapses.append(
            dict(src=src, dst=dst, sign=sign, nwb=nwb, wexp=wexp, msg=msg, delays=delays, max_delay=max_delay,
                 strong=strong, sparse=0.0 if strong or d.chance(60) else d.pick((0.3, 0.7, 0.95)))
        )  # fmt: skip

    longest_delay = (
        max(s["max_delay"] for s in synapses if s["delays"] != "none")
        if any(s["delays"] != "none" for s in synapses)
        else 0
    )
    steps = k("steps", lambda: d.int(4, 40) if d.chance(70) else d.int(41, 60))
    if longest_delay:
        steps = max(steps, min(MAX_STEPS, longest_delay + 2 + d.int(0, 12)))
    samples = k("samples", lambda: d.int(1, 3))
    rate = k("rate", lambda: 0.9 if drive != "normal" else d.pick((0.02, 0.1, 0.3, 0.6, 0.95)))

    divisors = [q for q in range(1, steps + 1) if steps % q == 0]
    source = SpikeInput(name="in", size=input_size, num_message_bits=input_bits)
    nodes: dict[str, Any] = {"in": KIND_TABLE.handler(source)(source)}
    for p in pops:
        kind = KNOB_KINDS[k("kind", lambda: "lif" if d.chance(60) else d.pick(KINDS[1:]))]
        bias_mode = k("bias_mode", lambda: d.pick(BIAS_MODES))
        n = sizes[p]
        if bias_mode == "zero":
            bias = np.zeros(n, dtype=np.int64)
        elif bias_mode == "small":
            bias = rng.integers(-64, 65, n)
        elif bias_mode == "full":
            bias = rng.integers(-4096, 4096, n)
        else:
            bias = rng.choice([-4096, 4095], n)
        common = dict(
            name=p, size=n, du=k("du", lambda: _du(d)), dv=k("dv", lambda: _dv(d)), vth=k("vth", lambda: _vth(d)),
            bias_mant=bias, bias_exp=k("bias_exp", lambda: d.int(-8, 7)),
        )  # fmt: skip
        nodes[p] = KIND_TABLE.handler(_Pending(kind, p))(d, k, common, divisors)

    edges = []
    for i, syn in enumerate(synapses):
        name = f"d{i}"
        n_in = input_size if syn["src"] == "in" else sizes[syn["src"]]
        shape = (sizes[syn["dst"]], n_in)
        nodes[name] = KIND_TABLE.handler(_Pending(DenseInt.kind, name))(rng, name, syn, shape)
        edges += [(syn["src"], name), (name, syn["dst"])]
    graph = DeployGraph(nodes=nodes, edges=edges, output=pops[-1])

    shape = (samples, steps, input_size)
    active = rng.random(shape) < rate
    if input_bits == 0:
        inputs = active.astype(np.int64)
    else:
        low = -(2 ** (input_bits - 1)) if signed_payloads else 0
        high = 2 ** (input_bits - 1) if signed_payloads else 2**input_bits
        inputs = np.where(active, rng.integers(low, high, shape), 0).astype(np.int64)
    if samples > 1 and d.chance(10):
        inputs[-1] = 0  # a silent sample: only bias and leftover dynamics
    return Case(label=label, graph=graph, inputs=inputs, overrides=dict(overrides))


def random_case(seed: int, **overrides: Any) -> Case:
    """A random valid graph and inputs from `np.random.default_rng(seed)`; `overrides` pin knobs (see KNOBS)."""
    rng = np.random.default_rng(seed)
    pinned = ",".join(f"{key}={value}" for key, value in overrides.items())
    return _build(_NumpyDraws(rng), rng, overrides, f"seed={seed}" + (f",{pinned}" if pinned else ""))


@st.composite
def graph_cases(draw: Callable[[st.SearchStrategy], Any], **overrides: Any) -> Case:
    """Hypothesis strategy of random valid `Case`s; `overrides` pin knobs (see KNOBS)."""
    array_seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(array_seed)
    return _build(_HypothesisDraws(draw), rng, overrides, f"hypothesis,array_seed={array_seed}")


__all__ = [
    "DRIVES", "EDGE_CASES", "KINDS", "KIND_TABLE", "KNOBS", "KNOB_KINDS", "Case", "describe", "features",
    "graph_cases", "random_case",
]  # fmt: skip
