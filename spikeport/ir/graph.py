"""The deploy graph: integer nodes and the edges between them, validated once at construction.

The structure rules are stated over node *roles* (`spikeport.ir.kinds.Role`), never over node classes, so a new
node kind with a known role (another neuron model, another synapse type) fits the graph without touching this
module; what each consumer does with the new kind is decided in that consumer's `KindTable`.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from spikeport.errors import IRValidationError, SpikeportWarning
from spikeport.ir.formats import DEFAULT_CHIP, LOIHI_FORMATS, NumberFormats, sign_mode
from spikeport.ir.kinds import Role
from spikeport.ir.nodes import Node


def _role(name: str, node: Node) -> Role:
    """The node's role; a node class without one cannot be placed in a graph."""
    role = getattr(node, "role", None)
    if not isinstance(role, Role):
        raise IRValidationError(
            f"node {name!r} ({type(node).__name__}, kind {getattr(node, 'kind', '?')!r}) declares no role; "
            "give its class `role: ClassVar[Role]` (SOURCE, CONNECTION or POPULATION)"
        )
    return role


def _size(node: Node, attr: str) -> int:
    """`node.in_size` or `node.out_size`; every connection and population (and the source's output) needs them."""
    try:
        return int(getattr(node, attr))
    except AttributeError as exc:
        raise IRValidationError(
            f"node {node.name!r} (kind {node.kind!r}, role {node.role.value}) has no {attr}; "
            f"a node of this role must define it so edge sizes can be checked"
        ) from exc


@dataclass(frozen=True, kw_only=True)
class DeployGraph:
    """A spiking network in a chip's integer formats.

    Structure rules (checked here, so no consumer has to), by node role: exactly one SOURCE; every CONNECTION has
    exactly one source (the SOURCE or a POPULATION) and one target POPULATION, with matching sizes
    (`out_size` of the source = `in_size` of the connection, `out_size` of the connection = `in_size` of the
    target); POPULATIONs receive only from CONNECTIONs; the output names a POPULATION; edges name existing nodes.
    Cycles through connections (recurrence) are allowed.
    """

    nodes: Mapping[str, Node]
    edges: tuple[tuple[str, str], ...]
    output: str
    """Name of the population whose activity is the network's output."""
    chip: str = DEFAULT_CHIP
    formats: NumberFormats = LOIHI_FORMATS
    """The chip's number formats (`ChipSpec.formats`); every node's registers are checked against them."""
    metadata: Mapping[str, object] = field(default_factory=dict)
    """Free-form, JSON-serializable facts about the graph's origin (float scales, dt, class names)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "nodes", MappingProxyType(dict(self.nodes)))
        object.__setattr__(self, "edges", tuple((str(a), str(b)) for a, b in self.edges))
        object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))
        for name, node in self.nodes.items():
            if node.name != name:
                raise IRValidationError(f"node stored under {name!r} is named {node.name!r}")
            _role(name, node)
            node.check_formats(self.formats)
        for src, dst in self.edges:
            for end in (src, dst):
                if end not in self.nodes:
                    raise IRValidationError(f"edge {src!r} -> {dst!r}: node {end!r} does not exist (dangling edge)")
        sources = self._with_role(Role.SOURCE)
        if len(sources) != 1:
            raise IRValidationError(
                f"a deploy graph needs exactly one source node (role SOURCE, such as SpikeInput), found "
                f"{len(sources)}: {[n.name for n in sources]}"
            )
        for connection in self.connections:
            self._check_connection(connection)
        for pop in self.populations:
            for src in self.sources_of(pop.name):
                if self.nodes[src].role is not Role.CONNECTION:
                    raise IRValidationError(
                        f"edge {src!r} -> {pop.name!r}: a neuron population can only receive from synapses"
                    )
        if self.output not in self.nodes or self.nodes[self.output].role is not Role.POPULATION:
            raise IRValidationError(f"output {self.output!r} must name a neuron population")

    def _check_connection(self, connection: Node) -> None:
        name = connection.name
        sources, targets = self.sources_of(name), self.targets_of(name)
        if len(sources) != 1 or len(targets) != 1:
            raise IRValidationError(
                f"synapse {name!r} needs one source and one target, has sources {sources} and targets {targets}"
            )
        src, dst = self.nodes[sources[0]], self.nodes[targets[0]]
        if src.role is Role.CONNECTION or dst.role is not Role.POPULATION:
            raise IRValidationError(
                f"synapse {name!r} must connect the input or a population to a population, "
                f"got {type(src).__name__} ({src.role.value}) -> {type(dst).__name__} ({dst.role.value})"
            )
        if _size(src, "out_size") != _size(connection, "in_size"):
            raise IRValidationError(
                f"synapse {name!r}: source {src.name!r} has {_size(src, 'out_size')} outputs, "
                f"weights expect {_size(connection, 'in_size')}"
            )
        if _size(dst, "in_size") != _size(connection, "out_size"):
            raise IRValidationError(
                f"synapse {name!r}: target {dst.name!r} has {_size(dst, 'in_size')} neurons, "
                f"weights give {_size(connection, 'out_size')}"
            )

    def _with_role(self, role: Role) -> list[Any]:
        # typed Any: consumers read kind-specific fields after dispatching on the kind through their KindTable
        return [n for n in self.nodes.values() if n.role is role]

    @property
    def input(self) -> Any:
        """The graph's single SOURCE node (a `SpikeInput` for every kind that exists today)."""
        return self._with_role(Role.SOURCE)[0]

    @property
    def connections(self) -> list[Any]:
        """All CONNECTION nodes (synapses), in insertion order."""
        return self._with_role(Role.CONNECTION)

    @property
    def synapses(self) -> list[Any]:
        """All CONNECTION nodes, in insertion order (the historical name of `connections`)."""
        return self.connections

    @property
    def populations(self) -> list[Any]:
        """All POPULATION nodes, in insertion order (the order used in reports and mismatch messages)."""
        return self._with_role(Role.POPULATION)

    def sources_of(self, name: str) -> list[str]:
        """Names of nodes with an edge into `name`."""
        return [a for a, b in self.edges if b == name]

    def targets_of(self, name: str) -> list[str]:
        """Names of nodes that `name` has an edge to."""
        return [b for a, b in self.edges if a == name]

    def source_of(self, connection: Node) -> Any:
        """The node feeding `connection` (the SOURCE or a POPULATION; checked at construction)."""
        return self.nodes[self.sources_of(connection.name)[0]]

    def target_of(self, connection: Node) -> Any:
        """The POPULATION `connection` drives (checked at construction)."""
        return self.nodes[self.targets_of(connection.name)[0]]


def assert_graph_equal(a: DeployGraph, b: DeployGraph) -> None:
    """Raise AssertionError naming the first node and field where two graphs differ (values and dtypes)."""
    if list(a.nodes) != list(b.nodes):
        raise AssertionError(f"node names differ: {list(a.nodes)} vs {list(b.nodes)}")
    for attr in ("edges", "output", "chip", "formats"):
        if getattr(a, attr) != getattr(b, attr):
            raise AssertionError(f"{attr} differs: {getattr(a, attr)!r} vs {getattr(b, attr)!r}")
    if dict(a.metadata) != dict(b.metadata):
        raise AssertionError(f"metadata differs: {dict(a.metadata)} vs {dict(b.metadata)}")
    for name in a.nodes:
        na, nb = a.nodes[name], b.nodes[name]
        if type(na) is not type(nb):
            raise AssertionError(f"node {name!r}: type {type(na).__name__} vs {type(nb).__name__}")
        if na.scalar_fields() != nb.scalar_fields():
            raise AssertionError(f"node {name!r}: {na.scalar_fields()} vs {nb.scalar_fields()}")
        for key, value in na.array_fields().items():
            other = nb.array_fields().get(key)
            if other is None or value.dtype != other.dtype or not np.array_equal(value, other):
                raise AssertionError(f"node {name!r}: field {key!r} differs")


def warn_clipped_weights(graph: DeployGraph, where: str, counts: Mapping[str, int] | None = None) -> dict[str, int]:
    """Warn (SpikeportWarning) once per connection whose stored weights the chip clips to its sign mode's range.

    Such weights are legal in a deploy graph (Lava clips them itself), but the network then computes something else
    than its stored values say; the reference simulator also counts them (`weights_clipped`).

    Args:
        graph: the deploy graph.
        where: what reads the graph, for the message (e.g. "the reference run", "deploy graph 'g.deploy.npz'").
        counts: connection name -> weights beyond the range, if the caller has counted them already.

    Returns:
        Connection name -> number of weights beyond the clip range, for those with any.
    """
    found = {}
    for dense in graph.synapses:
        clipped = counts[dense.name] if counts is not None else graph.formats.weights_beyond_clip(dense.weights)
        if not clipped:
            continue
        found[dense.name] = clipped
        mode = sign_mode(dense.weights)
        low, high = graph.formats.weight_clip_range(mode)
        warnings.warn(
            f"{where}: connection {dense.name!r} has {clipped} of {dense.weights.size} weights beyond the chip's "
            f"{mode.value} weight range [{low}, {high}], which the chip clips; re-quantize the graph to keep them",
            SpikeportWarning,
            stacklevel=3,
        )
    return found
