"""Every consumer of a deploy graph states, per node kind, how it handles that kind or why it refuses it.

Each consumer module defines one `KIND_TABLE` (`spikeport.ir.kinds.KindTable`). These tests make adding a node
kind a checklist: registering a kind (`register_node`) without giving every table an entry (a handler or
`Unsupported(reason)`) fails `test_every_consumer_handles_every_registered_kind`, naming the consumer and the kind;
and a graph holding a kind a consumer lacks fails in that consumer with `UnsupportedNodeError`, not deep inside.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from spikeport.errors import IRValidationError, UnsupportedNodeError
from spikeport.ir import DenseInt, DeployGraph, LIFInt, SpikeInput, save_deploy_graph
from spikeport.ir.kinds import KindTable, Role, missing_kinds
from spikeport.ir.nodes import NODE_TYPES, Node, register_node
from spikeport.simulators import RunRecord, run_reference

CONSUMER_MODULES = (
    "spikeport.simulators.reference",
    "spikeport.simulators.lava.builder",
    "spikeport.targets.opcount",
    "spikeport.targets.mapping",
    "spikeport.targets.conventions",
    "spikeport.export.netx",
    "spikeport.ir.io",
    "spikeport.train.qat",
    "helpers.random_graphs",
)
"""Every module that keeps a `KIND_TABLE`; `test_every_kind_table_is_listed` keeps this list complete."""

REPO = Path(__file__).resolve().parents[2]
SOURCE_TREES = ("spikeport", "train", "export", "targets", "simulators", "tests/helpers")
"""Where consumer modules live (the root folders are mapped onto `spikeport.<stage>` by pyproject)."""


def kind_tables() -> dict[str, KindTable]:
    """The `KIND_TABLE` of every consumer module, by module name."""
    return {name: importlib.import_module(name).KIND_TABLE for name in CONSUMER_MODULES}


def assert_tables_complete(kinds: Iterable[str]) -> None:
    """Raise AssertionError naming each consumer (and its module) whose table lacks an entry for some of `kinds`."""
    kinds = list(kinds)
    lines = [
        f"{table.consumer} ({name}.KIND_TABLE) has no entry for {missing}"
        for name, table in kind_tables().items()
        if (missing := missing_kinds(table, kinds))
    ]
    if lines:
        raise AssertionError(
            "node kinds without a handler or Unsupported(reason):\n  "
            + "\n  ".join(lines)
            + "\nadd an entry to each table (see 'How to add a node kind' in docs/architecture.md)"
        )


@dataclass(frozen=True, kw_only=True)
class ThrowawayInt(Node):
    """A population kind that no consumer knows: registered only inside the tests that patch `NODE_TYPES`."""

    kind: ClassVar[str] = "throwaway_int"
    role: ClassVar[Role] = Role.POPULATION
    size: int

    @property
    def in_size(self) -> int:
        return self.size

    @property
    def out_size(self) -> int:
        return self.size


@pytest.fixture
def throwaway_kind(monkeypatch: pytest.MonkeyPatch) -> str:
    """Register `ThrowawayInt` for one test; monkeypatch restores the registry afterwards."""
    monkeypatch.setitem(NODE_TYPES, ThrowawayInt.kind, ThrowawayInt)
    return ThrowawayInt.kind


def _graph_with_throwaway() -> DeployGraph:
    """input(3) -> Dense(2x3) -> ThrowawayInt(2): valid by roles, so only the consumers can refuse it."""
    nodes = {
        "in": SpikeInput(name="in", size=3),
        "syn": DenseInt(name="syn", weights=np.ones((2, 3), dtype=np.int64)),
        "odd": ThrowawayInt(name="odd", size=2),
    }
    return DeployGraph(nodes=nodes, edges=[("in", "syn"), ("syn", "odd")], output="odd")


# ---------------------------------------------------------------------------------------------------------------
# Completeness


def test_every_consumer_handles_every_registered_kind():
    assert {"spike_input", "dense_int", "lif_int", "lif_reset_int", "ternary_lif_int"} <= set(NODE_TYPES)
    assert ThrowawayInt.kind not in NODE_TYPES  # the fixture's patch never leaks into other tests
    assert_tables_complete(NODE_TYPES)


def test_a_new_kind_without_entries_fails_the_check_naming_it_for_every_consumer(throwaway_kind):
    with pytest.raises(AssertionError) as info:
        assert_tables_complete(NODE_TYPES)
    message = str(info.value)
    for name, table in kind_tables().items():
        assert f"{table.consumer} ({name}.KIND_TABLE) has no entry for ['{throwaway_kind}']" in message


def test_every_kind_table_is_listed():
    """A consumer that adds a `KIND_TABLE` must be listed in CONSUMER_MODULES, or the checks above would skip it."""
    found = set()
    for tree in SOURCE_TREES:
        for path in (REPO / tree).rglob("*.py"):
            if re.search(r"^KIND_TABLE\b", path.read_text(), flags=re.MULTILINE):
                parts = path.relative_to(REPO).with_suffix("").parts
                if parts[0] == "tests":
                    found.add(".".join(parts[1:]))
                else:
                    found.add(".".join(parts) if parts[0] == "spikeport" else ".".join(("spikeport", *parts)))
    assert found == set(CONSUMER_MODULES)
    assert all(table.consumer for table in kind_tables().values())


# ---------------------------------------------------------------------------------------------------------------
# A graph holding the throw-away kind: valid by roles, refused by each consumer with the kind's name


def test_graph_rules_are_stated_over_roles_not_classes(throwaway_kind):
    graph = _graph_with_throwaway()
    assert [p.name for p in graph.populations] == ["odd"] and [c.name for c in graph.connections] == ["syn"]
    assert graph.synapses == graph.connections and graph.input.name == "in"


def test_reference_simulator_refuses_the_unknown_kind_by_name(throwaway_kind):
    with pytest.raises(UnsupportedNodeError, match=r"the reference simulator has no entry for node kind "
                       r"'throwaway_int' \(node 'odd'\)"):  # fmt: skip
        run_reference(_graph_with_throwaway(), np.zeros((1, 4, 3), dtype=np.int64))


def test_op_counter_refuses_the_unknown_kind_by_name(throwaway_kind):
    from spikeport.targets.opcount import count_ops

    empty = RunRecord(backend="reference", populations={})
    with pytest.raises(UnsupportedNodeError, match=r"the op counter has no entry for node kind 'throwaway_int'"):
        count_ops(_graph_with_throwaway(), np.zeros((1, 4, 3), dtype=np.int64), empty)


def test_lava_builder_refuses_the_unknown_kind_before_importing_lava(throwaway_kind):
    from spikeport.simulators.lava.builder import build_network

    with pytest.raises(UnsupportedNodeError, match=r"the Lava builder has no entry for node kind 'throwaway_int'"):
        build_network(_graph_with_throwaway(), np.zeros((1, 4, 3), dtype=np.int64), {})


def test_writer_refuses_the_unknown_kind_and_writes_nothing(throwaway_kind, tmp_path):
    with pytest.raises(UnsupportedNodeError, match=r"reader/writer has no entry for node kind 'throwaway_int'"):
        save_deploy_graph(_graph_with_throwaway(), tmp_path / "g.deploy.npz")
    assert list(tmp_path.iterdir()) == []


def test_integer_training_refuses_the_unknown_kind_by_name(throwaway_kind):
    from spikeport.train.qat import IntegerNetwork

    with pytest.raises(UnsupportedNodeError, match=r"no entry for node kind 'throwaway_int' \(node 'odd'\)"):
        IntegerNetwork(_graph_with_throwaway())


# ---------------------------------------------------------------------------------------------------------------
# The registry and the role rules


def test_register_node_refuses_a_duplicate_kind_without_changing_the_registry():
    before = dict(NODE_TYPES)

    @dataclass(frozen=True, kw_only=True)
    class AnotherLIF(LIFInt):
        kind: ClassVar[str] = "lif_int"

    with pytest.raises(IRValidationError, match=r"node kind 'lif_int' of AnotherLIF is already registered by LIFInt"):
        register_node(AnotherLIF)
    assert dict(NODE_TYPES) == before


def test_register_node_requires_a_role():
    before = dict(NODE_TYPES)

    @dataclass(frozen=True, kw_only=True)
    class Roleless(Node):
        kind: ClassVar[str] = "roleless"

    with pytest.raises(IRValidationError, match=r"Roleless \(kind 'roleless'\) declares no role"):
        register_node(Roleless)
    assert dict(NODE_TYPES) == before


def test_a_connection_must_end_in_a_population_whatever_its_class():
    nodes = {
        "in": SpikeInput(name="in", size=3),
        "syn": DenseInt(name="syn", weights=np.ones((2, 3), dtype=np.int64)),
        "syn2": DenseInt(name="syn2", weights=np.ones((2, 2), dtype=np.int64)),
        "pop": LIFInt(name="pop", size=2, du=0, dv=0, vth=1),
    }
    edges = [("in", "syn"), ("syn", "syn2"), ("syn2", "pop")]
    with pytest.raises(IRValidationError, match=r"synapse 'syn' must connect .* DenseInt \(connection\)"):
        DeployGraph(nodes=nodes, edges=edges, output="pop")


def test_a_population_without_sizes_is_refused_naming_the_missing_size():
    @dataclass(frozen=True, kw_only=True)
    class Sizeless(Node):
        kind: ClassVar[str] = "sizeless"
        role: ClassVar[Role] = Role.POPULATION

    nodes = {
        "in": SpikeInput(name="in", size=3),
        "syn": DenseInt(name="syn", weights=np.ones((2, 3), dtype=np.int64)),
        "pop": Sizeless(name="pop"),
    }
    with pytest.raises(IRValidationError, match=r"node 'pop' \(kind 'sizeless', role population\) has no in_size"):
        DeployGraph(nodes=nodes, edges=[("in", "syn"), ("syn", "pop")], output="pop")
