"""Reading and writing deploy graphs as `.npz` files with a versioned JSON header.

A file holds one JSON document (`format_version`, `chip`, the chip's number `formats`, nodes with their kind and
scalar fields, edges, output, metadata) and one array per array field. Version 1 files, written before graphs
carried their formats, are read with the Loihi formats. Writes go to a temporary file that is renamed into place,
so a failed write never leaves a half-written graph.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from spikeport.errors import IRValidationError
from spikeport.files import atomic_write
from spikeport.ir.attention import AttentionInt
from spikeport.ir.formats import LOIHI_FORMATS, NumberFormats
from spikeport.ir.graph import DeployGraph, warn_clipped_weights
from spikeport.ir.kinds import KindTable
from spikeport.ir.nodes import DenseInt, LIFInt, LIFResetInt, SpikeInput, TernaryLIFInt
from spikeport.ir.plastic import PlasticDenseInt

FORMAT_VERSION = 2
_READABLE_VERSIONS = (1, 2)  # version 1: no "formats" in the header (the Loihi formats)
_HEADER = "__deploy_graph__"

KIND_TABLE: KindTable = KindTable(
    "the deploy-file reader/writer",
    {
        cls.kind: cls
        for cls in (SpikeInput, DenseInt, LIFInt, LIFResetInt, TernaryLIFInt, PlasticDenseInt, AttentionInt)
    },
)
"""The class that (de)serializes each node kind: its scalar fields go to the JSON header and its integer arrays to
the archive, and the class's constructor re-validates them on load. Listed explicitly rather than copied from
`NODE_TYPES`: the generic encoding only fits fields that are ints, None or integer arrays, so a new kind is added
here once someone has checked that it fits (or given it its own encoding)."""


def save_deploy_graph(graph: DeployGraph, path: str | Path) -> Path:
    """Write `graph` to `path` (conventionally `*.deploy.npz`) atomically; returns the path.

    Raises:
        UnsupportedNodeError: a node's kind has no entry in `KIND_TABLE` (nothing is written).
        SpikeportError: the file cannot be written.
    """
    path = Path(path)
    for node in graph.nodes.values():
        KIND_TABLE.handler(node)  # refuse a kind the reader could not read back, before writing anything
    header = {
        "format_version": FORMAT_VERSION,
        "chip": graph.chip,
        "formats": graph.formats.to_dict(),
        "output": graph.output,
        "edges": [list(e) for e in graph.edges],
        "metadata": dict(graph.metadata),
        "nodes": [{"kind": n.kind, **n.scalar_fields()} for n in graph.nodes.values()],
    }
    arrays = {f"{n.name}/{key}": value for n in graph.nodes.values() for key, value in n.array_fields().items()}
    arrays[_HEADER] = np.frombuffer(json.dumps(header, sort_keys=True).encode("utf-8"), dtype=np.uint8)

    def fill(tmp: Path) -> None:
        with tmp.open("wb") as handle:  # a handle, so np.savez does not append ".npz" to the temporary name
            np.savez(handle, **arrays)

    return atomic_write(path, fill)


def load_deploy_graph(path: str | Path) -> DeployGraph:
    """Read a graph written by `save_deploy_graph`; corrupt or foreign files raise `IRValidationError`."""
    path = Path(path)
    if not path.is_file():
        raise IRValidationError(f"deploy graph file {str(path)!r} does not exist")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise IRValidationError(f"{str(path)!r} is not a readable deploy graph (.npz): {exc}") from exc
    if _HEADER not in arrays:
        raise IRValidationError(f"{str(path)!r} has no spikeport deploy-graph header; was it written by spikeport?")
    try:
        header = json.loads(arrays.pop(_HEADER).tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IRValidationError(f"{str(path)!r}: the deploy-graph header is corrupt ({exc})") from exc
    version = header.get("format_version") if isinstance(header, dict) else None
    if version not in _READABLE_VERSIONS or isinstance(version, bool):
        raise IRValidationError(
            f"{str(path)!r}: deploy-graph format_version {version!r} is not supported "
            f"(this spikeport reads versions {', '.join(map(str, _READABLE_VERSIONS))})"
        )
    missing = {"nodes", "edges", "output", "chip", "metadata"} | ({"formats"} if version >= 2 else set())
    missing -= set(header)
    if missing:
        raise IRValidationError(f"{str(path)!r}: the deploy-graph header lacks {sorted(missing)}")
    formats = (
        NumberFormats.from_dict(header["formats"], where=f"{str(path)!r}: header 'formats'")
        if version >= 2
        else LOIHI_FORMATS
    )
    nodes = {}
    for spec in header["nodes"]:
        kind = spec.pop("kind", None)
        if kind not in KIND_TABLE:
            raise IRValidationError(f"{str(path)!r}: node {spec.get('name')!r} has unknown kind {kind!r}")
        name = spec.get("name", "")
        node_class = KIND_TABLE.handler(SimpleNamespace(kind=kind, name=name))
        fields = {key[len(name) + 1 :]: value for key, value in arrays.items() if key.startswith(f"{name}/")}
        try:
            nodes[name] = node_class(**spec, **fields)
        except TypeError as exc:  # a field missing from the file, or one this version does not know
            raise IRValidationError(f"{str(path)!r}: node {name!r} ({kind}) does not match its type: {exc}") from exc
    graph = DeployGraph(
        nodes=nodes,
        edges=tuple(tuple(e) for e in header["edges"]),
        output=header["output"],
        chip=header["chip"],
        formats=formats,
        metadata=header["metadata"],
    )
    warn_clipped_weights(graph, f"deploy graph {str(path)!r}")  # legal in the file, but the chip clips them
    return graph
