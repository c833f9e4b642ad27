"""The deploy graph: integer nodes and the edges between them, validated once at construction."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import cast

import numpy as np

from spikeport.errors import IRValidationError
from spikeport.ir.nodes import DenseInt, LIFInt, Node, SpikeInput


@dataclass(frozen=True, kw_only=True)
class DeployGraph:
    """A spiking network in a chip's integer formats.

    Structure rules (checked here, so no consumer has to): exactly one `SpikeInput`; every `DenseInt` has exactly
    one source (the input or a neuron population) and one target population, with matching sizes; populations
    receive only from synapses; edges name existing nodes. Cycles through synapses (recurrence) are allowed.
    """

    nodes: Mapping[str, Node]
    edges: tuple[tuple[str, str], ...]
    output: str
    """Name of the population whose activity is the network's output."""
    chip: str = "loihi2"
    metadata: Mapping[str, object] = field(default_factory=dict)
    """Free-form, JSON-serializable facts about the graph's origin (float scales, dt, class names)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "nodes", MappingProxyType(dict(self.nodes)))
        object.__setattr__(self, "edges", tuple((str(a), str(b)) for a, b in self.edges))
        object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))
        for name, node in self.nodes.items():
            if node.name != name:
                raise IRValidationError(f"node stored under {name!r} is named {node.name!r}")
        for src, dst in self.edges:
            for end in (src, dst):
                if end not in self.nodes:
                    raise IRValidationError(f"edge {src!r} -> {dst!r}: node {end!r} does not exist (dangling edge)")
        inputs = [n for n in self.nodes.values() if isinstance(n, SpikeInput)]
        if len(inputs) != 1:
            raise IRValidationError(f"a deploy graph needs exactly one SpikeInput node, found {len(inputs)}")
        for dense in self.synapses:
            self._check_synapse(dense)
        for pop in self.populations:
            for src in self.sources_of(pop.name):
                if not isinstance(self.nodes[src], DenseInt):
                    raise IRValidationError(
                        f"edge {src!r} -> {pop.name!r}: a neuron population can only receive from synapses"
                    )
        if self.output not in self.nodes or not isinstance(self.nodes[self.output], LIFInt):
            raise IRValidationError(f"output {self.output!r} must name a neuron population")

    def _check_synapse(self, dense: DenseInt) -> None:
        sources, targets = self.sources_of(dense.name), self.targets_of(dense.name)
        if len(sources) != 1 or len(targets) != 1:
            raise IRValidationError(
                f"synapse {dense.name!r} needs one source and one target, has sources {sources} and targets {targets}"
            )
        src, dst = self.nodes[sources[0]], self.nodes[targets[0]]
        if isinstance(src, DenseInt) or not isinstance(dst, LIFInt):
            raise IRValidationError(
                f"synapse {dense.name!r} must connect the input or a population to a population, "
                f"got {type(src).__name__} -> {type(dst).__name__}"
            )
        if src.out_size != dense.in_size:
            raise IRValidationError(
                f"synapse {dense.name!r}: source {src.name!r} has {src.out_size} outputs, "
                f"weights expect {dense.in_size}"
            )
        if dst.in_size != dense.out_size:
            raise IRValidationError(
                f"synapse {dense.name!r}: target {dst.name!r} has {dst.in_size} neurons, weights give {dense.out_size}"
            )

    @property
    def input(self) -> SpikeInput:
        """The graph's single input node."""
        return next(n for n in self.nodes.values() if isinstance(n, SpikeInput))

    @property
    def synapses(self) -> list[DenseInt]:
        """All synapse nodes, in insertion order."""
        return [n for n in self.nodes.values() if isinstance(n, DenseInt)]

    @property
    def populations(self) -> list[LIFInt]:
        """All neuron populations, in insertion order (the order used in reports and mismatch messages)."""
        return [n for n in self.nodes.values() if isinstance(n, LIFInt)]

    def sources_of(self, name: str) -> list[str]:
        """Names of nodes with an edge into `name`."""
        return [a for a, b in self.edges if b == name]

    def targets_of(self, name: str) -> list[str]:
        """Names of nodes that `name` has an edge to."""
        return [b for a, b in self.edges if a == name]

    def source_of(self, dense: DenseInt) -> Node:
        """The node feeding synapse `dense`."""
        return self.nodes[self.sources_of(dense.name)[0]]

    def target_of(self, dense: DenseInt) -> LIFInt:
        """The population synapse `dense` drives."""
        return cast(LIFInt, self.nodes[self.targets_of(dense.name)[0]])  # checked in _check_synapse


def assert_graph_equal(a: DeployGraph, b: DeployGraph) -> None:
    """Raise AssertionError naming the first node and field where two graphs differ (values and dtypes)."""
    if list(a.nodes) != list(b.nodes):
        raise AssertionError(f"node names differ: {list(a.nodes)} vs {list(b.nodes)}")
    for attr in ("edges", "output", "chip"):
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
