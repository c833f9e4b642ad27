"""Reading and writing deploy graphs as `.npz` files with a versioned JSON header.

A file holds one JSON document (`format_version`, `chip`, nodes with their kind and scalar fields, edges, output,
metadata) and one array per array field. Writes go to a temporary file that is renamed into place, so a failed
write never leaves a half-written graph.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from spikeport.errors import IRValidationError
from spikeport.ir.graph import DeployGraph
from spikeport.ir.nodes import NODE_TYPES

FORMAT_VERSION = 1
_HEADER = "__deploy_graph__"


def save_deploy_graph(graph: DeployGraph, path: str | Path) -> Path:
    """Write `graph` to `path` (conventionally `*.deploy.npz`) atomically; returns the path."""
    path = Path(path)
    header = {
        "format_version": FORMAT_VERSION,
        "chip": graph.chip,
        "output": graph.output,
        "edges": [list(e) for e in graph.edges],
        "metadata": dict(graph.metadata),
        "nodes": [{"kind": n.kind, **n.scalar_fields()} for n in graph.nodes.values()],
    }
    arrays = {f"{n.name}/{key}": value for n in graph.nodes.values() for key, value in n.array_fields().items()}
    arrays[_HEADER] = np.frombuffer(json.dumps(header, sort_keys=True).encode("utf-8"), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


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
    if not isinstance(header, dict) or header.get("format_version") != FORMAT_VERSION:
        raise IRValidationError(
            f"{str(path)!r}: deploy-graph format_version "
            f"{header.get('format_version') if isinstance(header, dict) else None!r} is not supported "
            f"(this spikeport reads version {FORMAT_VERSION})"
        )
    missing = {"nodes", "edges", "output", "chip", "metadata"} - set(header)
    if missing:
        raise IRValidationError(f"{str(path)!r}: the deploy-graph header lacks {sorted(missing)}")
    nodes = {}
    for spec in header["nodes"]:
        kind = spec.pop("kind", None)
        if kind not in NODE_TYPES:
            raise IRValidationError(f"{str(path)!r}: node {spec.get('name')!r} has unknown kind {kind!r}")
        name = spec.get("name", "")
        fields = {key[len(name) + 1 :]: value for key, value in arrays.items() if key.startswith(f"{name}/")}
        try:
            nodes[name] = NODE_TYPES[kind](**spec, **fields)
        except TypeError as exc:  # a field missing from the file, or one this version does not know
            raise IRValidationError(f"{str(path)!r}: node {name!r} ({kind}) does not match its type: {exc}") from exc
    return DeployGraph(
        nodes=nodes,
        edges=tuple(tuple(e) for e in header["edges"]),
        output=header["output"],
        chip=header["chip"],
        metadata=header["metadata"],
    )
