"""Lowering spike-driven attention blocks to one `AttentionInt` node each, instead of their unrolled standard view.

`parse_nir` inlines a "spike_driven_attention" extension block (`spikeport.train.layers.attention_nir`) named P
into the populations P.q_lif, P.k_lif, P.v_lif, P.kv, P.g, P.attn (and P.o_lif) and the synapses between them,
with the per-token projections as kron(I_N, W) matrices, so its unrolled form grows with N**2. `find_blocks`
recognises each such block in the float network and checks that it is exactly the layer (one D x D matrix per
projection repeated over tokens, AND units, a column sum, a broadcast gate, delays d and 3d); `lower_block`
quantizes it into:

* one `AttentionInt` connection named P, from the block's source to its output units, holding each projection's
  D x D mantissas and the Q, K, V neurons' registers, chosen exactly as `spikeport.targets.quantize` chooses them
  for a population with one incoming synapse (the node stores weights as they are, on a step-1 grid of
  +-(2**num_weight_bits - 1));
* the block's output units as a `LIFInt`: P.attn as a memoryless relay (du 4095, dv 4096, vth 0: it spikes
  exactly where the node's AND gives 1), or P.o_lif quantized like any population fed by the output projection.

A float delay d = 0 becomes 1 on the chip (every Loihi connection takes a step), as for an unrolled Dense; the
report counts those connections in `late_by_one_step`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from spikeport.errors import QuantizationRangeError
from spikeport.export import ParsedNetwork, Population, Synapse
from spikeport.ir import AttentionInt, LIFInt
from spikeport.ir.formats import NumberFormats, SignMode, WeightGrid, sign_mode
from spikeport.targets.quantize import (
    PopulationQuantization,
    SynapseQuantization,
    _choose_scale,
    _constant,
    _float_range,
    _quantize_bias,
    _quantize_weights,
)

__all__ = [
    "ATTENTION_MODES", "INTERNAL", "AttentionBlock", "LoweredBlock", "find_blocks", "lower_attention", "lower_block",
]  # fmt: skip

ATTENTION_MODES = ("node", "unrolled")
"""`quantize(attention=...)`: one `AttentionInt` per block, or the block's standard NIR view (LIF + Dense nodes)."""
INTERNAL = ("q_lif", "k_lif", "v_lif", "kv", "g")
"""Populations of the unrolled view that live inside the node (P.attn too when there is an output projection)."""


@dataclass(frozen=True)
class AttentionBlock:
    """One recognised block: its name, source, sizes, float delay and the synapses of each part."""

    name: str
    source: str
    n_tokens: int
    n_features: int
    delay: int
    projections: dict[str, Synapse]
    """'q', 'k', 'v' (and 'o'): the per-token projection synapses."""
    target: str
    """The output units: P.o_lif with an output projection, else P.attn."""
    gate_threshold: int

    @property
    def covered(self) -> set[str]:
        """Population names the lowering replaces (the node's internals and its output units)."""
        inside = {f"{self.name}.{p}" for p in INTERNAL} | {f"{self.name}.attn"}
        return inside | {self.target}


@dataclass
class LoweredBlock:
    """What `lower_block` (or `lower_attention`, for every block) adds to the deploy graph and the report."""

    nodes: dict = field(default_factory=dict)
    edges: list = field(default_factory=list)
    synapses: list = field(default_factory=list)
    pops: list = field(default_factory=list)
    scales: dict = field(default_factory=dict)
    covered: set = field(default_factory=set)
    """Populations of the float network the main quantizer must skip."""

    @property
    def connections(self) -> dict:
        """The `AttentionInt` nodes by name."""
        return {k: v for k, v in self.nodes.items() if isinstance(v, AttentionInt)}


def _fail(block: str, what: str) -> QuantizationRangeError:
    return QuantizationRangeError(
        f"attention block {block!r}: {what}; it is not the spike-driven attention layer this lowering maps "
        "(quantize with attention='unrolled' to keep its standard NIR view)"
    )


def _one_delay(block: str, syn: Synapse) -> int:
    values = np.unique(syn.delay_steps)
    if values.size != 1:
        raise _fail(block, f"synapse {syn.name!r} has differing delays {values.tolist()}")
    return int(values[0])


def _incoming(net: ParsedNetwork, target: str) -> list[Synapse]:
    return [s for s in net.synapses if s.target == target]


def _and_unit(net: ParsedNetwork, block: str, name: str, sources: set[str]) -> None:
    """Check that population `name` spikes exactly when all its unit-weight inputs `sources` spike."""
    pop, syns = net.populations[name], _incoming(net, name)
    if {s.source for s in syns} != sources or not np.all(pop.alpha == 1) or not np.all(pop.beta == 1):
        raise _fail(block, f"{name!r} is not a memoryless unit fed by {sorted(sources)}")
    unit = float(np.max(np.abs(np.concatenate([s.weight.ravel() for s in syns])))) * float(np.max(pop.gain))
    if not np.all((pop.v_th >= unit * (len(sources) - 1)) & (pop.v_th < unit * len(sources))):
        raise _fail(block, f"{name!r}'s threshold does not make it an AND of its {len(sources)} inputs")


def find_blocks(net: ParsedNetwork) -> list[AttentionBlock]:
    """Every attention block in `net` (populations P.q_lif, P.k_lif, P.v_lif, P.kv, P.g, P.attn), checked.

    Raises:
        QuantizationRangeError: a block's parts do not form the layer (naming the part).
    """
    blocks = []
    for kv_name in [n for n in net.populations if n.endswith(".kv")]:
        block = kv_name[: -len(".kv")]
        names = {p: f"{block}.{p}" for p in (*INTERNAL, "attn")}
        if not all(n in net.populations for n in names.values()):
            continue
        dim = net.populations[names["g"]].size
        size = net.populations[names["q_lif"]].size
        if dim < 1 or size % dim:
            raise _fail(block, f"Q has {size} neurons, not a multiple of the gate's {dim} channels")
        n = size // dim
        projections, sources = {}, set()
        for p in ("q", "k", "v"):
            syns = _incoming(net, names[f"{p}_lif"])
            if len(syns) != 1:
                raise _fail(block, f"{names[f'{p}_lif']!r} has {len(syns)} incoming synapses, expected 1")
            projections[p], sources = syns[0], sources | {syns[0].source}
        if len(sources) != 1:
            raise _fail(block, f"Q, K and V read different sources {sorted(sources)}")
        d = _one_delay(block, projections["q"])
        _and_unit(net, block, names["kv"], {names["k_lif"], names["v_lif"]})
        _and_unit(net, block, names["attn"], {names["q_lif"], names["g"]})
        (gate_in,) = _incoming(net, names["g"]) or (None,)
        if gate_in is None or gate_in.source != names["kv"]:
            raise _fail(block, f"{names['g']!r} is not fed by the column sum of {names['kv']!r}")
        if not np.array_equal(gate_in.weight, np.kron(np.ones((1, n)), np.eye(dim)) * gate_in.weight[0, 0]):
            raise _fail(block, f"{gate_in.name!r} is not a column sum over {n} tokens")
        gate = net.populations[names["g"]]
        theta = np.unique(gate.v_th / (gate.gain * gate_in.weight[0, 0]))
        if theta.size != 1 or not math.isfinite(theta[0]) or theta[0] < 0:
            raise _fail(block, f"{names['g']!r} needs one finite, non-negative gate threshold, got {theta.tolist()}")
        delays = {s.name: _one_delay(block, s) for s in net.synapses if s.target in names.values()}
        q_to_attn = next(s for s in _incoming(net, names["attn"]) if s.source == names["q_lif"])
        if any(v != (3 * d if k == q_to_attn.name else d) for k, v in delays.items()):
            raise _fail(block, f"its connections' delays {delays} are not d = {d} (Q -> attn: 3d)")
        target = names["attn"]
        outputs = [s for s in net.synapses if s.source == names["attn"] and s.target == f"{block}.o_lif"]
        if outputs:
            projections["o"], target = outputs[0], f"{block}.o_lif"
            if _one_delay(block, outputs[0]) != d or len(_incoming(net, target)) != 1:
                raise _fail(block, f"{target!r} must be fed only by the output projection, with delay {d}")
        for syn in projections.values():
            weight = syn.weight[:dim, :dim]
            if syn.weight.shape != (size, size) or not np.array_equal(syn.weight, np.kron(np.eye(n), weight)):
                raise _fail(block, f"projection {syn.name!r} is not one {dim} x {dim} matrix repeated over {n} tokens")
        (source,) = sources
        blocks.append(AttentionBlock(block, source, n, dim, d, projections, target, math.floor(theta[0])))
    return blocks


def _tiled(block: str, values: np.ndarray, n: int, what: str) -> np.ndarray:
    first = values[: values.size // n]
    if not np.array_equal(values, np.tile(first, n)):
        raise _fail(block, f"{what} differs between tokens")
    return first


def _projection(
    block: AttentionBlock, p: str, pop: Population, calibration, bits: int, formats: NumberFormats, out: LoweredBlock
) -> dict:
    """Quantize projection `p` into population `pop` (the main quantizer's rule for one incoming synapse)."""
    syn, dim, n = block.projections[p], block.n_features, block.n_tokens
    gain = _tiled(block.name, pop.gain, n, f"{pop.name!r} gain")
    w_eff = syn.weight[:dim, :dim] * gain[:, None]
    limit = 2**bits - 1
    grid = WeightGrid(SignMode.MIXED, -limit, limit, 1)  # stored as is: every integer of the range is kept
    scale, weight_exp = _choose_scale([w_eff], [grid], _float_range(pop, calibration), formats)
    denom = 2.0 ** (formats.act_shift + weight_exp) / scale
    mant, clipped = _quantize_weights(w_eff, grid, denom)
    err, rms = w_eff - mant * denom, float(np.sqrt(np.mean(w_eff**2))) if w_eff.size else 0.0
    out.synapses.append(
        SynapseQuantization(
            name=syn.name, target=pop.name, weight_exp=weight_exp, num_weight_bits=bits,
            sign_mode=sign_mode(mant).value, max_abs_mantissa=int(np.max(np.abs(mant), initial=0)), clipped=clipped,
            total=int(mant.size), max_abs_error=float(np.max(np.abs(err), initial=0)),
            rel_rms_error=float(np.sqrt(np.mean(err**2)) / rms) if rms else 0.0,
            late_by_one_step=int(np.count_nonzero(syn.delay_steps == 0)),
        )
    )  # fmt: skip
    beta = _constant(pop.beta, pop.name, "synaptic decay")
    alpha = _constant(pop.alpha, pop.name, "membrane decay")
    unity = formats.decay_unity
    du = min(max(round(unity * beta) - 1, formats.du_range[0]), formats.du_range[1])
    dv = min(max(round(unity * alpha), formats.dv_range[0]), formats.dv_range[1])
    bias_float = pop.bias + (0.0 if syn.bias is None else syn.bias * pop.gain / beta)
    bias_mant, bias_exp, bias_clipped = _quantize_bias(np.round(bias_float * scale), formats)
    v_th = _constant(pop.v_th, pop.name, "threshold") if pop.spiking else math.inf
    vth = round(scale * v_th / 2**formats.act_shift) if pop.spiking else formats.vth_max
    if vth > formats.vth_max:
        raise QuantizationRangeError(f"population {pop.name!r}: vth {vth} exceeds {formats.vth_max}")
    out.scales[pop.name] = scale
    out.pops.append(
        PopulationQuantization(
            name=pop.name, kind=pop.kind, scale=scale, du=du, dv=dv, vth=vth,
            decay_u_error=abs((du + 1) / unity - beta), decay_v_error=abs(dv / unity - alpha),
            vth_rel_error=abs(vth * 2**formats.act_shift / scale - v_th) / v_th if pop.spiking and v_th else 0.0,
            bias_clipped=bias_clipped, spiking=pop.spiking,
        )
    )  # fmt: skip
    return dict(weights=mant, weight_exp=weight_exp, du=du, dv=dv, vth=vth, bias_mant=bias_mant, bias_exp=bias_exp)


def lower_block(
    net: ParsedNetwork, block: AttentionBlock, calibration, num_weight_bits: int, formats: NumberFormats
) -> LoweredBlock:
    """The `AttentionInt` node, its output units and their report entries (module docstring)."""
    out, n, name = LoweredBlock(), block.n_tokens, block.name
    regs = {p: _projection(block, p, net.populations[f"{name}.{p}_lif"], calibration, num_weight_bits, formats, out)
            for p in ("q", "k", "v")}  # fmt: skip
    for p in ("q", "k", "v"):
        regs[p]["bias_mant"] = _tiled(name, regs[p]["bias_mant"], n, f"{name}.{p}_lif bias")
    stacked = {key: np.stack([np.asarray(regs[p][key]) for p in ("q", "k", "v")]) for key in regs["q"]}
    target = net.populations[block.target]
    if "o" in block.projections:
        o = _projection(block, "o", target, calibration, num_weight_bits, formats, out)
        extra = dict(out_weights=o["weights"], out_weight_exp=o["weight_exp"])
        keys = ("du", "dv", "vth", "bias_mant", "bias_exp")
        unit = LIFInt(name=target.name, size=target.size, **{k: o[k] for k in keys})
    else:
        extra = {}
        unit = LIFInt(name=target.name, size=target.size, du=formats.decay_unity - 1, dv=formats.decay_unity, vth=0)
        out.pops.append(
            PopulationQuantization(
                name=target.name, kind=target.kind, scale=1.0, du=unit.du, dv=unit.dv, vth=0, decay_u_error=0.0,
                decay_v_error=0.0, vth_rel_error=0.0, bias_clipped=0, spiking=True,
            )
        )  # fmt: skip
    out.nodes[name] = AttentionInt(
        name=name, n_tokens=n, n_features=block.n_features, delay=max(block.delay, 1),
        gate_threshold=block.gate_threshold, **stacked, **extra,
    )  # fmt: skip
    out.nodes[unit.name] = unit
    out.edges += [(block.source, name), (name, unit.name)]
    return out


def lower_attention(
    net: ParsedNetwork, calibration, num_weight_bits: int, formats: NumberFormats, mode: str = "node"
) -> LoweredBlock:
    """Every attention block of `net` lowered (mode "node"), or nothing to add (mode "unrolled").

    Raises:
        QuantizationRangeError: an unknown mode, or a block that is not the layer (see `find_blocks`).
    """
    if mode not in ATTENTION_MODES:
        raise QuantizationRangeError(f"attention must be one of {ATTENTION_MODES}, got {mode!r}")
    total = LoweredBlock()
    for block in find_blocks(net) if mode == "node" else []:
        part = lower_block(net, block, calibration, num_weight_bits, formats)
        total.nodes.update(part.nodes)
        total.edges += part.edges
        total.synapses += part.synapses
        total.pops += part.pops
        total.scales.update(part.scales)
        total.covered |= block.covered
    return total
