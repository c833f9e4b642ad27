"""Mapping a deploy graph onto a chip's cores within its per-core limits (a consumer of the deploy graph).

Memory model (docs/energy.md, "Mapping"): every population is split into slices of at most `n` neurons, one
slice per core, in graph order (cores 0, 1, ...; tile = core // cores_per_tile). A connection's synapses live on
the cores of its target population, as Lava's Dense stores them: the full matrix, zero weights included, so a
slice of `n` neurons holds `in_size x n` synapses of every incoming connection. The per-core resources of a slice:

- neurons: `n` <= compartments_per_core (else neurons_per_chip / cores_per_chip, derived);
- synaptic memory: sum over incoming connections of ceil(in_size x n x bits / 8) bytes <= synaptic_memory_per_core,
  with bits = num_weight_bits, + 1 sign bit for mixed-sign weights, + the delay field (bit length of the chip's
  delay_max) for DelayDense and + `plastic_extra_bits` for plastic connections (Loihi: weight bits only, no
  per-synapse tags or list headers, so the count is a lower bound); where a chip publishes no per-core memory
  (Loihi 2) the limit is in synapses, synapses_per_chip / cores_per_chip (derived);
- input axons: sum of in_size over incoming connections (each source neuron enters the core once per connection);
- output axons: n x (cores of every outgoing connection's target), one axon per neuron and destination core.

`n` is the largest slice meeting every limit. A layer that cannot fit even one neuron on a core raises
`ChipCapacityError` naming the layer, the resource, the need and the limit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from spikeport.errors import ChipCapacityError, ChipSpecError
from spikeport.ir import DenseInt, DeployGraph, LIFInt, LIFResetInt, SpikeInput, TernaryLIFInt
from spikeport.ir.attention import AttentionInt
from spikeport.ir.formats import NumberFormats, SignMode, sign_mode
from spikeport.ir.kinds import KindTable, Role
from spikeport.ir.plastic import PlasticDenseInt
from spikeport.targets.chip import ChipSpec, Figure

RESOURCES = ("neurons", "synaptic_memory", "input_axons", "output_axons")
"""The per-core resources checked, in the order they are reported."""


@dataclass(frozen=True)
class Limit:
    """One per-core limit: its value, unit and where it comes from (a chip figure, or derived from two)."""

    value: int
    unit: str
    key: str
    """The chip-file key(s) it comes from, e.g. `limits.synaptic_memory_per_core`."""
    source: str
    basis: str


@dataclass(frozen=True)
class ConnectionDemand:
    """What one connection asks of its target's cores, per target neuron."""

    name: str
    source: str
    in_size: int
    """Synapses per target neuron (and input axons per core)."""
    bits_per_synapse: int
    plastic: bool = False
    internal_neurons: int = 0
    """Neurons inside the connection itself (a spike-driven attention block's units), placed on their own cores."""
    internal_synapses: int = 0
    """Synapses among those internal neurons (their projections and AND/gate inputs)."""


def synapse_bits(node: DenseInt, formats: NumberFormats, plastic: bool = False) -> int:
    """Stored bits per synapse under the memory model: weight bits, sign bit if mixed, delay bits, plastic extra."""
    bits = int(node.num_weight_bits) + (1 if sign_mode(node.weights) is SignMode.MIXED else 0)
    if node.delays is not None:
        bits += int(formats.delay_max).bit_length()
    return bits + (PLASTIC_EXTRA_BITS if plastic else 0)


PLASTIC_EXTRA_BITS = 0
"""Extra stored bits per plastic synapse (traces and tags are per neuron in Lava's LearningDense): none modelled."""


def _dense(node: DenseInt, source: str, formats: NumberFormats) -> ConnectionDemand:
    return ConnectionDemand(node.name, source, node.in_size, synapse_bits(node, formats))


def _plastic(node: PlasticDenseInt, source: str, formats: NumberFormats) -> ConnectionDemand:
    """Plastic weights are 8-bit mixed-sign (a sign bit) whatever their initial values."""
    bits = int(node.num_weight_bits) + 1 + PLASTIC_EXTRA_BITS
    return ConnectionDemand(node.name, source, node.in_size, bits, plastic=True)


def _attention(node: AttentionInt, source: str, formats: NumberFormats) -> ConnectionDemand:
    """A spike-driven attention block: its units (Q, K, V, kv, attn, gate; below) on cores of
    their own; the target receives token-local input (D synapses per neuron with an output projection, else 1).

    Internal units: 3 N D (Q, K, V) + N D (kv AND) + N D (attn AND) + D (gate column sums). Internal synapses:
    3 N D^2 (per-token projections, stored per token as Lava's Dense would) + 2 N D (kv) + N D (gate) + 2 N D
    (attn). Their memory is shared evenly over the block's cores (an average per unit)."""
    n, d = node.n_tokens, node.n_features
    bits = int(formats.weight_mant_bits) + 1
    return ConnectionDemand(
        node.name, source, d if node.out_weights is not None else 1, bits,
        internal_neurons=5 * n * d + d, internal_synapses=3 * n * d * d + 5 * n * d,
    )  # fmt: skip


def _population(node: LIFInt) -> int:
    return int(node.size)


def _host(node: SpikeInput) -> None:
    """The input is fed by the host: it takes no core (its spikes are injected, not routed from a core)."""


KIND_TABLE: KindTable = KindTable(
    "the core mapper",
    {
        SpikeInput.kind: _host,
        DenseInt.kind: _dense,
        PlasticDenseInt.kind: _plastic,
        AttentionInt.kind: _attention,
        LIFInt.kind: _population,
        LIFResetInt.kind: _population,
        TernaryLIFInt.kind: _population,
    },
)
"""How each node kind is mapped, by role: a SOURCE's `(node) -> None` (host); a CONNECTION's
`(node, source name, formats) -> ConnectionDemand`; a POPULATION's `(node) -> neurons`."""


@dataclass(frozen=True)
class LayerMapping:
    """One population on its cores, with the connections stored there."""

    name: str
    kind: str
    neurons: int
    incoming: tuple[ConnectionDemand, ...]
    neurons_per_core: int
    cores: int
    first_core: int
    bound: str
    """The resource that set `neurons_per_core` (or "layer size" when the whole layer fits one core)."""
    need: dict[str, int] = field(default_factory=dict)
    """Per-core need of the fullest core, per resource (RESOURCES), in the limits' units."""
    utilization: dict[str, float] = field(default_factory=dict)
    """need / limit per resource, for the fullest core."""

    @property
    def synapses(self) -> int:
        """Stored synapses of the incoming connections (zero weights included)."""
        return sum(c.in_size for c in self.incoming) * self.neurons

    def core_of(self, neuron: int) -> int:
        """The core holding `neuron` (0-based) of this layer."""
        return self.first_core + neuron // self.neurons_per_core


@dataclass(frozen=True)
class CoreMapping:
    """A deploy graph on a chip: cores per layer, utilization and chips."""

    chip: str
    chip_name: str
    limits: dict[str, Limit]
    layers: tuple[LayerMapping, ...]
    cores_per_chip: int
    cores_per_tile: int | None

    @property
    def cores_used(self) -> int:
        return sum(layer.cores for layer in self.layers)

    @property
    def chips_used(self) -> int:
        return max(1, math.ceil(self.cores_used / self.cores_per_chip))

    @property
    def tiles_used(self) -> int | None:
        """Tiles spanned by the used cores (cores are numbered densely from 0); None where tiles are unknown."""
        return None if self.cores_per_tile is None else max(1, math.ceil(self.cores_used / self.cores_per_tile))

    def layer(self, name: str) -> LayerMapping:
        return next(layer for layer in self.layers if layer.name == name)

    def tile_of(self, core: int) -> int | None:
        return None if self.cores_per_tile is None else core // self.cores_per_tile

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (docs/report-schema.md, `mapping`)."""
        return {
            "chip": self.chip,
            "chip_name": self.chip_name,
            "memory_model": "dense matrices stored on the target's cores; bits per synapse = weight bits "
            "(+1 sign if mixed, + delay bits, + plastic extra); docs/energy.md 'Mapping'",
            "limits": {k: vars(v) for k, v in self.limits.items()},
            "cores_used": self.cores_used,
            "chips_used": self.chips_used,
            "cores_per_chip": self.cores_per_chip,
            "tiles_used": self.tiles_used,
            "utilization": {
                r: max((lay.utilization.get(r, 0.0) for lay in self.layers), default=0.0)
                for r in RESOURCES
                if r in self.limits
            },
            "layers": {
                lay.name: {
                    "kind": lay.kind,
                    "neurons": lay.neurons,
                    "synapses": lay.synapses,
                    "incoming": {
                        c.name: {
                            "source": c.source,
                            "in_size": c.in_size,
                            "bits_per_synapse": c.bits_per_synapse,
                            "plastic": c.plastic,
                        }
                        for c in lay.incoming
                    },
                    "cores": lay.cores,
                    "first_core": lay.first_core,
                    "neurons_per_core": lay.neurons_per_core,
                    "bound": lay.bound,
                    "need_per_core": dict(lay.need),
                    "utilization": dict(lay.utilization),
                }
                for lay in self.layers
            },
        }


def chip_limits(chip: ChipSpec) -> dict[str, Limit]:
    """Per-core limits of `chip`; those it does not publish are derived from per-chip figures or left out."""
    lim = chip.limits
    cores = lim.cores_per_chip.as_int()

    def own(fig: Figure, key: str) -> Limit:
        if fig.as_int() < 1:
            raise ChipSpecError(f"chip file {chip.origin or chip.label}: 'limits.{key}.value' must be >= 1")
        return Limit(fig.as_int(), fig.unit, f"limits.{key}", fig.source, fig.basis)

    def per_chip(fig: Figure, key: str, unit: str) -> Limit:
        return Limit(int(fig.value // cores), unit, f"limits.{key} / limits.cores_per_chip", fig.source, "derived")

    out = {
        "neurons": own(lim.compartments_per_core, "compartments_per_core")
        if lim.compartments_per_core is not None
        else per_chip(lim.neurons_per_chip, "neurons_per_chip", "neurons"),
        "synaptic_memory": own(lim.synaptic_memory_per_core, "synaptic_memory_per_core")
        if lim.synaptic_memory_per_core is not None
        else per_chip(lim.synapses_per_chip, "synapses_per_chip", "synapses"),
    }
    if lim.input_axons_per_core is not None:
        out["input_axons"] = own(lim.input_axons_per_core, "input_axons_per_core")
    if lim.output_axons_per_core is not None:
        out["output_axons"] = own(lim.output_axons_per_core, "output_axons_per_core")
    return out


def _memory(incoming: tuple[ConnectionDemand, ...], n: int, limit: Limit) -> int:
    """Synaptic memory of a slice of `n` neurons, in the limit's unit (bytes, or synapses)."""
    if limit.unit == "bytes":
        return sum(math.ceil(c.in_size * n * c.bits_per_synapse / 8) for c in incoming)
    return sum(c.in_size for c in incoming) * n


def _fail(layer: str, chip: ChipSpec, resource: str, need: int, limit: Limit, what: str) -> ChipCapacityError:
    return ChipCapacityError(
        f"layer {layer!r} does not fit one core of {chip.name}: {resource} needs {need} {limit.unit} ({what}), "
        f"the limit is {limit.value} {limit.unit} per core ({limit.key}); shrink the layer, lower its weight bits "
        "or choose a chip file with larger limits (--chip FILE)"
    )


def _fit(name: str, size: int, incoming: tuple, limits: dict[str, Limit], fanout: int, chip: ChipSpec):
    """Largest neurons per core meeting every limit, and the limit that set it."""
    n, bound = size, "layer size"
    if limits["neurons"].value < n:
        n, bound = limits["neurons"].value, "neurons"
    mem = limits["synaptic_memory"]
    if _memory(incoming, 1, mem) > mem.value:
        raise _fail(name, chip, "synaptic memory", _memory(incoming, 1, mem), mem, "for one neuron's synapses")
    while _memory(incoming, n, mem) > mem.value:
        n, bound = n - 1, "synaptic_memory"
    if "input_axons" in limits:
        need = sum(c.in_size for c in incoming)
        if need > limits["input_axons"].value:
            raise _fail(name, chip, "input axons", need, limits["input_axons"], "one per source neuron and connection")
    if "output_axons" in limits and fanout:
        out = limits["output_axons"]
        if fanout > out.value:
            raise _fail(name, chip, "output axons", fanout, out, "one per destination core, for one neuron")
        if n * fanout > out.value:
            n, bound = out.value // fanout, "output_axons"
    return n, bound


def map_graph(graph: DeployGraph, chip: ChipSpec) -> CoreMapping:
    """Partition every population of `graph` onto `chip`'s cores (the memory model in the module docstring).

    Raises:
        ChipCapacityError: a layer cannot fit one neuron on a core (names the layer, resource, need and limit).
        UnsupportedNodeError: a node kind without an entry in `KIND_TABLE`.
    """
    limits = chip_limits(chip)
    KIND_TABLE.handler(graph.input)(graph.input)
    sizes = {p.name: KIND_TABLE.handler(p)(p) for p in graph.populations}
    incoming: dict[str, list[ConnectionDemand]] = {name: [] for name in sizes}
    outgoing: dict[str, list[str]] = {name: [] for name in sizes}
    kinds = {p.name: p.kind for p in graph.populations}
    for c in graph.connections:
        src, dst = graph.source_of(c), graph.target_of(c)
        demand = KIND_TABLE.handler(c)(c, src.name, graph.formats)
        incoming[dst.name].append(demand)
        first_stop = dst.name
        if demand.internal_neurons:  # the block's own units: a layer of their own, fed by the source
            per_unit = math.ceil(demand.internal_synapses / demand.internal_neurons)
            sizes[c.name], kinds[c.name], outgoing[c.name] = demand.internal_neurons, c.kind, [dst.name]
            incoming[c.name] = [ConnectionDemand(c.name, src.name, per_unit, demand.bits_per_synapse)]
            first_stop = c.name
        if src.role is Role.POPULATION:
            outgoing[src.name].append(first_stop)
    per_core = {name: min(size, limits["neurons"].value) for name, size in sizes.items()}
    bounds: dict[str, str] = {}
    for _ in range(64):  # output axons depend on the targets' core counts: iterate to a fixed point
        cores = {name: math.ceil(sizes[name] / per_core[name]) for name in sizes}
        new = {}
        for name, size in sizes.items():
            fanout = sum(cores[t] for t in outgoing[name])
            new[name], bounds[name] = _fit(name, size, tuple(incoming[name]), limits, fanout, chip)
        if new == per_core:
            break
        per_core = {k: min(per_core[k], v) for k, v in new.items()}
    layers, first = [], 0
    cores = {name: math.ceil(sizes[name] / per_core[name]) for name in sizes}
    for name in sizes:
        n, ins = per_core[name], tuple(incoming[name])
        need = {"neurons": n, "synaptic_memory": _memory(ins, n, limits["synaptic_memory"])}
        need["input_axons"] = sum(c.in_size for c in ins)
        need["output_axons"] = n * sum(cores[t] for t in outgoing[name])
        util = {r: need[r] / limits[r].value for r in RESOURCES if r in limits}
        layers.append(
            LayerMapping(
                name,
                kinds[name],
                sizes[name],
                ins,
                n,
                cores[name],
                first,
                bounds[name],
                {r: need[r] for r in RESOURCES if r in limits},
                util,
            )
        )
        first += cores[name]
    tile = chip.limits.cores_per_tile
    return CoreMapping(
        chip.label,
        chip.name,
        limits,
        tuple(layers),
        chip.limits.cores_per_chip.as_int(),
        tile.as_int() if tile is not None else None,
    )
