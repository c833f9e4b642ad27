"""Node kinds, their roles, and the per-consumer tables that say how each kind is handled.

Every consumer of a deploy graph (reference simulator, Lava builder, op counter, integer training forward,
deploy-file reader, random-graph generator) keeps one `KindTable` mapping each node kind (the node class's stable
`kind` string) to its handler. A kind a consumer deliberately does not support maps to `Unsupported(reason)`, so
"not handled" is always a decision, never an omission: `missing_kinds` lists what a table forgot, and a test runs
it over every table (tests/ir/test_node_kind_tables.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType
from typing import Generic, TypeVar

from spikeport.errors import UnsupportedNodeError

T = TypeVar("T")


class Role(Enum):
    """What a node does in a graph; graph rules are stated over roles, not classes."""

    SOURCE = "source"
    """Emits spikes fed by the host (exactly one per graph)."""
    CONNECTION = "connection"
    """Carries spikes from one source or population to one population (synapses)."""
    POPULATION = "population"
    """Neurons with state; receives only from connections."""


@dataclass(frozen=True)
class Unsupported:
    """A table entry that refuses a kind on purpose, with the reason shown to the user."""

    reason: str


class KindTable(Mapping[str, "T | Unsupported"], Generic[T]):
    """An immutable mapping from node kind to a consumer's handler for it."""

    def __init__(self, consumer: str, entries: Mapping[str, T | Unsupported]) -> None:
        self.consumer = consumer
        self._entries = MappingProxyType(dict(entries))

    def __getitem__(self, kind: str) -> T | Unsupported:
        return self._entries[kind]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def handler(self, node: object) -> T:
        """The handler for `node` (anything with `.kind` and `.name`); unknown or refused kinds raise."""
        kind, name = getattr(node, "kind", "?"), getattr(node, "name", "?")
        entry = self._entries.get(kind)
        if entry is None:
            raise UnsupportedNodeError(
                f"{self.consumer} has no entry for node kind {kind!r} (node {name!r}); "
                "see 'How to add a node kind' in docs/architecture.md"
            )
        if isinstance(entry, Unsupported):
            raise UnsupportedNodeError(
                f"{self.consumer} does not support node {name!r} of kind {kind!r}: {entry.reason}"
            )
        return entry


def missing_kinds(table: Mapping[str, object], kinds: Iterable[str]) -> list[str]:
    """The kinds in `kinds` that `table` has no entry for (neither a handler nor `Unsupported`)."""
    return sorted(k for k in kinds if k not in table)


__all__ = ["KindTable", "Role", "Unsupported", "missing_kinds"]
