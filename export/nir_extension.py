r"""spikeport's NIR extension envelope: constructs without a NIR primitive, as standard subgraphs plus metadata.

NIR has no node for some constructs of spikeport's layers (spike-driven attention, a plastic associative memory and
its learning rule). spikeport writes each as an *extension block*: a nested `nir.NIRGraph` node made only of
standard NIR nodes whose `metadata` names the construct::

    {"spikeport_extension": NAME, "extension_version": VERSION, ...the block's parameters...}

Two readings of one block:

* the *standard view*: any NIR reader sees an ordinary subgraph and can simulate it with the plain NIR semantics
  (spikeport's `parse_nir` inlines it as "BLOCK.NODE"; see `spikeport.export.nir_parse`).
* the *extension view*: spikeport recognizes the block by its metadata (`find_extensions`) and a codec rebuilds the
  torch module, which then exports again to an equal block. The codecs build training modules, so they live in the
  training stage; this module holds what every codec shares: the metadata keys, the block checks, the metadata
  readers, and `ExtensionRegistry`, the read-only table of codecs keyed by extension name.

Metadata encoding (what survives `nir.write` / `nir.read`, nir 1.0.8 + h5py): strings stay `str`, numbers come
back as numpy scalars (read them with `meta_number` / `meta_integer`), arrays as arrays, nested dicts as dicts with
keys in sorted order. spikeport therefore writes

* flags as the ints 0 / 1 (`meta_flag`; HDF5 has no portable bool type);
* ordered collections as dicts keyed "0", "1", ... (decoded in numeric order, since HDF5 sorts group keys).

A block whose extension name or version spikeport does not know still imports as standard nodes; rebuilding it
raises `IRValidationError` naming the block and the supported extensions.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import nir
import numpy as np

from spikeport.errors import IRValidationError
from spikeport.export.nir_io import values_equal

__all__ = [
    "EXTENSION_KEY",
    "VERSION_KEY",
    "ExtensionCodec",
    "ExtensionRegistry",
    "add_delay",
    "block_node",
    "chain_edges",
    "extension_of",
    "find_extensions",
    "first_difference",
    "meta_flag",
    "meta_integer",
    "meta_number",
    "meta_text",
]

EXTENSION_KEY = "spikeport_extension"
"""Metadata key of a block's extension name."""
VERSION_KEY = "extension_version"
"""Metadata key of the version of that extension's layout (an int)."""


# ------------------------------------------------------------------------------------------------ metadata values
def meta_flag(value: bool) -> int:
    """A flag as metadata: the int 0 or 1."""
    return int(bool(value))


def meta_text(value: Any) -> str:
    """A metadata string as read back (str, or bytes / 0-d arrays from other HDF5 writers)."""
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.reshape(-1)[0]
    if isinstance(value, bytes | np.bytes_):
        return value.decode()
    return str(value)


def meta_number(block_name: str, meta: dict, key: str) -> float:
    """The number stored under `key` in a block's metadata.

    Raises:
        IRValidationError: If the key is missing or not a number (naming the block and the key).
    """
    if key not in meta:
        raise IRValidationError(f"NIR extension block {block_name!r}: metadata has no {key!r}")
    try:
        return float(np.asarray(meta[key]).reshape(-1)[0])
    except (TypeError, ValueError, IndexError):
        raise IRValidationError(f"NIR extension block {block_name!r}: metadata {key!r} is not a number") from None


def meta_integer(block_name: str, meta: dict, key: str) -> int:
    """The integer stored under `key` in a block's metadata.

    Raises:
        IRValidationError: If the key is missing, not a number or not a whole number.
    """
    value = meta_number(block_name, meta, key)
    if not math.isfinite(value) or value != round(value):
        raise IRValidationError(f"NIR extension block {block_name!r}: metadata {key!r} must be an integer, got {value}")
    return round(value)


# ------------------------------------------------------------------------------------------------- block contents
def extension_of(block: nir.NIRGraph) -> tuple[str, Any] | None:
    """(extension name, version as stored) from a block's metadata, or None if it is no spikeport extension block."""
    meta = block.metadata or {}
    if EXTENSION_KEY not in meta:
        return None
    return meta_text(meta[EXTENSION_KEY]), meta.get(VERSION_KEY)


def find_extensions(graph: nir.NIRGraph) -> dict[str, str]:
    """Subgraph node name -> extension name for every spikeport extension block in `graph`, nested ones too.

    Names of blocks inside other subgraphs are dotted ("OUTER.BLOCK"), as `parse_nir` names inlined nodes.
    Blocks of unknown extensions are listed too (rebuilding them raises `IRValidationError`).
    """
    found: dict[str, str] = {}
    for node_name, node in graph.nodes.items():
        if not isinstance(node, nir.NIRGraph):
            continue
        extension = extension_of(node)
        if extension is not None:
            found[node_name] = extension[0]
        found.update({f"{node_name}.{k}": v for k, v in find_extensions(node).items()})
    return found


def block_node(block: nir.NIRGraph, block_name: str, node_name: str, kinds: tuple[type, ...]) -> nir.NIRNode:
    """The node `node_name` of a block, checked to be one of the NIR node types `kinds`.

    Raises:
        IRValidationError: If the node is missing or of another type (naming the block, the node and the types).
    """
    node = block.nodes.get(node_name)
    if not isinstance(node, kinds):
        kind = "missing" if node is None else type(node).__name__
        expected = " or ".join(k.__name__ for k in kinds)
        raise IRValidationError(
            f"NIR extension block {block_name!r}: node {node_name!r} must be a {expected}, found {kind}"
        )
    return node


def first_difference(a: nir.NIRGraph, b: nir.NIRGraph, rtol: float) -> str | None:
    """The first node (by name, or "edges") where two flat graphs differ in type or parameters, else None.

    Metadata (the block's and each node's) is left out: the parameters in it are what `b` was built from, and its
    free text (semantics, discretization) may be reworded without changing what a block means.
    """
    for name in sorted(set(a.nodes) | set(b.nodes)):
        if name not in a.nodes or name not in b.nodes or type(a.nodes[name]) is not type(b.nodes[name]):
            return name
        for key, value in vars(a.nodes[name]).items():
            if key in ("input_type", "output_type", "metadata"):
                continue
            if not values_equal(value, getattr(b.nodes[name], key, None), rtol):
                return name
    if sorted(a.edges) != sorted(b.edges):
        return "edges"
    return None


def chain_edges(nodes: dict, edges: list, names: list[str]) -> None:
    """Add the edges of a chain of node names, skipping names that are not in `nodes` (absent zero delays)."""
    present = [n for n in names if n in nodes]
    edges.extend(itertools.pairwise(present))


def add_delay(nodes: dict, name: str, steps: int, size: int, dt: float) -> None:
    """Add a Delay node of `steps` * `dt` seconds on `size` values, or nothing when `steps` is 0."""
    if steps > 0:
        nodes[name] = nir.Delay(delay=np.full(size, steps * dt))


# ------------------------------------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class ExtensionCodec:
    """How to rebuild one extension's module from its block."""

    name: str
    """The extension name stored under `EXTENSION_KEY`."""
    versions: tuple[int, ...]
    """The layout versions `decode` can read."""
    decode: Callable[..., Any]
    """decode(block, meta, name, **options) -> module, called with the checked metadata of a supported block."""


class ExtensionRegistry(Mapping[str, ExtensionCodec]):
    """A read-only table of extension codecs keyed by extension name; it checks blocks and rebuilds them."""

    def __init__(self, codecs: Iterable[ExtensionCodec]) -> None:
        entries: dict[str, ExtensionCodec] = {}
        for codec in codecs:
            if codec.name in entries:
                raise ValueError(f"ExtensionRegistry: extension {codec.name!r} is listed twice")
            entries[codec.name] = codec
        self._codecs = MappingProxyType(entries)

    def __getitem__(self, name: str) -> ExtensionCodec:
        return self._codecs[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._codecs)

    def __len__(self) -> int:
        return len(self._codecs)

    def supported_text(self) -> str:
        """The supported extensions and versions, as error messages list them ("NAME v1, OTHER v1/2")."""
        return ", ".join(f"{c.name} v{'/'.join(map(str, c.versions))}" for c in self._codecs.values())

    def check_block(self, block: nir.NIRGraph, expected: str, name: str) -> dict:
        """The block's metadata, after checking that it is extension `expected` in a supported version.

        Raises:
            IRValidationError: If `block` is no NIRGraph or no extension block, its extension or version is not in
                the registry (the message names the block and the supported extensions), or it is another
                extension than `expected`.
        """
        if not isinstance(block, nir.NIRGraph):
            raise IRValidationError(
                f"NIR extension block {name!r}: expected a nir.NIRGraph, got {type(block).__name__}"
            )
        found = extension_of(block)
        if found is None:
            raise IRValidationError(
                f"NIR subgraph {name!r} is no spikeport extension block (its metadata has no {EXTENSION_KEY!r}); "
                f"supported extensions: {self.supported_text()}"
            )
        extension, version = found
        if extension not in self._codecs:
            raise IRValidationError(
                f"NIR extension block {name!r}: unknown extension {extension!r}; supported extensions: "
                f"{self.supported_text()}. Other readers (and spikeport's parse_nir) can still use its standard nodes"
            )
        try:
            version_number = int(np.asarray(version).reshape(-1)[0])
        except (TypeError, ValueError, IndexError):
            version_number = None
        if version_number not in self._codecs[extension].versions:
            raise IRValidationError(
                f"NIR extension block {name!r}: {extension!r} version {version!r} is not supported; supported "
                f"extensions: {self.supported_text()}. Other readers (and spikeport's parse_nir) can still use its "
                "standard nodes"
            )
        if extension != expected:
            raise IRValidationError(f"NIR extension block {name!r} is a {extension!r} block, not {expected!r}")
        return dict(block.metadata)

    def rebuild(self, block: nir.NIRGraph, *, name: str, expected: str | None = None, **options: Any) -> Any:
        """Rebuild the module of an extension block with its codec.

        Args:
            block: The extension block (a nested `nir.NIRGraph` node, e.g. from `read_nir`).
            name: The block's name, used in error messages.
            expected: The extension the block must be; None: whichever its metadata names.
            **options: Passed on to the codec's `decode`.

        Raises:
            IRValidationError: As `check_block`, and whatever the codec finds wrong with the block.
        """
        if expected is None:
            found = extension_of(block) if isinstance(block, nir.NIRGraph) else None
            expected = found[0] if found is not None else ""
        meta = self.check_block(block, expected, name)
        return self._codecs[expected].decode(block, meta, name, **options)
