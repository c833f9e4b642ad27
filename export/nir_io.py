"""NIR in and out: spikeport models to NIR graphs, and `.nir` files to and from disk.

Exported graphs use standard NIR nodes only (Input, Linear, Delay, CubaLIF, CubaLI, Output). Time constants and
delays are in seconds; the simulation step `dt` (seconds) and the discretization are recorded in the graph
metadata and in every neuron node's metadata, since NIR itself is continuous-time. The discretization is forward
Euler of NIR's CubaLIF equations with the input held over the step (see `spikeport.export.nir_neurons`):

    I[t] = I[t-1] + dt/tau_syn * (-I[t-1] + w_in * x[t])
    v[t] = v[t-1] + dt/tau_mem * (v_leak - v[t-1] + r * I[t]);  spike if v[t] > v_threshold, then v <- v_reset

norse's `LIFCell`, which the decoders train with, adds the input to the current unscaled, so it is written with
w_in = tau_syn / dt (then dt/tau_syn * w_in = 1). The one-step synaptic delay that spikeport's decoders train with
(Loihi's Dense has it) is written explicitly as a NIR `Delay` node after each Linear, so other NIR readers see the
same timing.
"""

from __future__ import annotations

import itertools
import json
import warnings
from pathlib import Path

import nir
import numpy as np

from spikeport.errors import IRValidationError, SpikeportWarning
from spikeport.files import atomic_write

DISCRETIZATION = "forward Euler, input held over the step: the current is updated first, v integrates the new current"
METADATA_KEY = "spikeport"  # JSON string of spikeport's own facts about a graph (format, class names, readout)
EXPORT_FORMAT = 1
DEFLATE_MAX_RATIO = 1032
"""The most deflate (gzip, which `nir.write` uses) can expand its input: 258-byte matches coded in 2 bits give
1032:1 (RFC 1951, section 3.2.5). A dataset that declares more bytes than this times the file's size cannot be
stored in it, so its header is damaged; h5py would try to read it anyway and fill memory."""


def float64_array(t) -> np.ndarray:
    """A torch tensor (or array-like) as a new float64 numpy array, for writing into NIR nodes."""
    return np.array(t.detach().cpu().numpy() if hasattr(t, "detach") else t, dtype=np.float64)


def neuron_metadata(dt: float) -> dict:
    """What every neuron node spikeport writes records: the step, the discretization and the reset."""
    return {"dt": float(dt), "discretization": DISCRETIZATION, "reset": "to v_reset (zero)"}


def model_to_nir(model, *, class_names: tuple[str, ...] = (), extra: dict | None = None) -> nir.NIRGraph:
    """Describe a trained spiking decoder (the training stage's `SpikingDecoder`) as a NIR graph.

    Args:
        model: the decoder (its `fc_in`, `lif`, `fc_out`, `readout` and `config` are read).
        class_names: names of the output classes, stored in the graph metadata.
        extra: further JSON-serializable facts to store under the graph's `spikeport` metadata.
    """
    cfg = model.config
    hidden, n_classes = cfg.n_hidden, cfg.n_classes

    def full(n: int, value: float) -> np.ndarray:
        return np.full(n, float(value))

    nodes = {
        "input": nir.Input(input_type={"input": np.array([cfg.n_inputs])}),
        "fc_in": nir.Linear(weight=float64_array(model.fc_in.weight)),
        "fc_in_delay": nir.Delay(delay=full(hidden, cfg.synaptic_delay_steps * cfg.dt_s)),
        "lif": nir.CubaLIF(
            tau_syn=full(hidden, cfg.tau_syn_s),
            tau_mem=full(hidden, cfg.tau_mem_s),
            r=full(hidden, 1.0),
            v_leak=full(hidden, 0.0),
            v_threshold=full(hidden, cfg.v_th),
            v_reset=full(hidden, 0.0),
            w_in=full(hidden, cfg.tau_syn_s / cfg.dt_s),
            metadata=neuron_metadata(cfg.dt_s),
        ),
        "fc_out": nir.Linear(weight=float64_array(model.fc_out.weight)),
        "fc_out_delay": nir.Delay(delay=full(n_classes, cfg.synaptic_delay_steps * cfg.dt_s)),
        "readout": nir.CubaLI(
            tau_syn=full(n_classes, cfg.readout_tau_syn_s),
            tau_mem=full(n_classes, cfg.readout_tau_mem_s),
            r=full(n_classes, 1.0),
            v_leak=full(n_classes, 0.0),
            w_in=full(n_classes, cfg.readout_tau_syn_s / cfg.dt_s),
            metadata=neuron_metadata(cfg.dt_s),
        ),
        "output": nir.Output(output_type={"output": np.array([n_classes])}),
    }
    chain = ["input", "fc_in", "fc_in_delay", "lif", "fc_out", "fc_out_delay", "readout", "output"]
    if cfg.synaptic_delay_steps == 0:
        del nodes["fc_in_delay"], nodes["fc_out_delay"]
        chain = [n for n in chain if n in nodes]
    edges = list(itertools.pairwise(chain))
    facts = {"format": EXPORT_FORMAT, "class_names": list(class_names), "readout": "mean_v", **(extra or {})}
    return nir.NIRGraph(
        nodes=nodes, edges=edges, metadata={"dt": float(cfg.dt_s), METADATA_KEY: json.dumps(facts, sort_keys=True)}
    )


def spikeport_facts(graph: nir.NIRGraph) -> dict:
    """The `spikeport` metadata of a graph written by spikeport (empty for graphs from other tools)."""
    raw = graph.metadata.get(METADATA_KEY) if graph.metadata else None
    return json.loads(raw) if isinstance(raw, str) else {}


def graph_dt(graph: nir.NIRGraph) -> float | None:
    """The simulation step of a graph, from graph or node metadata, or None if it records none."""
    for meta in [graph.metadata or {}, *((n.metadata or {}) for n in graph.nodes.values())]:
        if "dt" in meta:
            try:
                (value,) = np.asarray(meta["dt"], dtype=np.float64).reshape(-1)
                return float(value)
            except (TypeError, ValueError):
                raise IRValidationError(
                    f"the NIR graph's metadata 'dt' is {meta['dt']!r}, not a step in seconds; give one (CLI: --dt)"
                ) from None
    return None


def _storable(graph: nir.NIRGraph) -> nir.NIRGraph:
    """The graph with torch tensors as numpy arrays and 0-d parameters as 1-element arrays.

    `nir.write` compresses every array and h5py cannot compress 0-d datasets, so graphs with scalar parameters
    (norse's `to_nir` writes them) fail to save as they are; a 1-element array broadcasts the same way.
    """
    for node in graph.nodes.values():
        if isinstance(node, nir.NIRGraph):
            _storable(node)
            continue
        for key, value in vars(node).items():
            if hasattr(value, "detach"):
                value = value.detach().cpu().numpy()
                setattr(node, key, value)
            if isinstance(value, np.ndarray) and value.ndim == 0 and key not in ("input_type", "output_type"):
                setattr(node, key, value.reshape(1))
    return graph


def write_nir(graph: nir.NIRGraph, path: str | Path) -> Path:
    """Write a NIR graph with `nir.write`, atomically (a temporary file renamed into place).

    Torch tensors and 0-d parameters are converted in place first (see `_storable`).
    """
    return atomic_write(path, lambda tmp: nir.write(str(tmp), _storable(graph)))


def read_nir(path: str | Path) -> nir.NIRGraph:
    """Read a `.nir` file with `nir.read`; a missing, corrupt or truncated file raises `IRValidationError`."""
    path = Path(path)
    if not path.is_file():
        problem = "is a directory" if path.is_dir() else "does not exist"
        raise IRValidationError(f"NIR file {str(path)!r} {problem}")
    _check_declared_sizes(path)
    try:
        return nir.read(str(path))
    except ValueError as exc:
        # nir's own checks (nir 1.0.8) reject graphs whose meaning is clear: type inference gets grouped and
        # non-square convolutions wrong, and edges into a subgraph spelled "SUBGRAPH.INPUT" are unknown to it.
        # spikeport's parser checks every shape and edge itself, so read the graph without them and say so.
        graph = _read_unchecked(path, checked_error=exc)
        warnings.warn(
            f"{path.name}: nir's graph check rejected the graph ({exc}); read without it, "
            "shapes and edges are checked by spikeport",
            SpikeportWarning,
            stacklevel=2,
        )
        return graph
    except AssertionError as exc:  # nir's node constructors assert that a neuron's parameters share one shape
        raise _parameter_error(path) or IRValidationError(
            f"{str(path)!r} is not a readable NIR graph (nir: {exc or 'a node failed its check'})"
        ) from exc
    except (OSError, KeyError, TypeError, AttributeError, RuntimeError) as exc:  # h5py: RuntimeError if damaged
        hint = "not an HDF5 file or truncated" if isinstance(exc, OSError) else f"{type(exc).__name__}: {exc}"
        raise IRValidationError(f"{str(path)!r} is not a readable NIR graph ({hint})") from exc


def _check_declared_sizes(path: Path) -> None:
    """Refuse, before reading any array, a file whose datasets declare more bytes than it can hold (a damaged
    header), which would otherwise make h5py allocate gigabytes and appear to hang."""
    import h5py

    limit = DEFLATE_MAX_RATIO * path.stat().st_size + 2**20
    declared: list[tuple[str, int]] = []

    def visit(name: str, item: object) -> None:
        if isinstance(item, h5py.Dataset):
            declared.append((name, int(item.size) * item.dtype.itemsize))

    try:
        with h5py.File(path, "r") as handle:
            handle.visititems(visit)
    except (OSError, RuntimeError, KeyError, TypeError, ValueError) as exc:  # h5py on files that are not HDF5
        hint = "not an HDF5 file or truncated" if isinstance(exc, OSError) else f"{type(exc).__name__}: {exc}"
        raise IRValidationError(f"{str(path)!r} is not a readable NIR graph ({hint})") from exc
    total = sum(size for _, size in declared)
    if total > limit:
        name, size = max(declared, key=lambda entry: entry[1])
        raise IRValidationError(
            f"{str(path)!r} is not a readable NIR graph (damaged: its datasets declare {total} bytes, more than a "
            f"{path.stat().st_size}-byte file can hold; the largest is {name!r} with {size} bytes)"
        )


def _read_unchecked(path: Path, checked_error: Exception) -> nir.NIRGraph:
    try:
        return nir.read(str(path), type_check=False)
    except (OSError, KeyError, ValueError, TypeError, AttributeError, AssertionError, RuntimeError):
        error = _parameter_error(path)
        if error is not None:
            raise error from checked_error
        raise IRValidationError(f"{str(path)!r} is not a readable NIR graph ({checked_error})") from checked_error


def _parameter_error(path: Path) -> IRValidationError | None:
    """The error naming the neuron node and parameters whose shapes differ in a NIR file, if there is one.

    nir's reader only says "All parameters must have the same shape" (an assert) or fails to broadcast, without the
    node; this looks the shapes up in the HDF5 file itself.
    """
    import h5py

    from spikeport.export.nir_neurons import parameter_mismatch

    def search(group, prefix: str) -> IRValidationError | None:
        for name, node in group.items():
            if not isinstance(node, h5py.Group) or "type" not in node:
                continue
            kind = node["type"][()]
            kind = kind.decode() if isinstance(kind, bytes) else str(kind)
            if kind == "NIRGraph" and "nodes" in node:
                found = search(node["nodes"], f"{prefix}{name}.")
            else:
                shapes = {key: value.shape for key, value in node.items() if isinstance(value, h5py.Dataset)}
                mismatch = parameter_mismatch(f"{prefix}{name}", kind, shapes)
                found = None if mismatch is None else IRValidationError(f"{path.name}: {mismatch}")
            if found is not None:
                return found
        return None

    try:
        with h5py.File(path, "r") as handle:
            return search(handle["node"]["nodes"], "")
    except (OSError, KeyError, TypeError, ValueError, RuntimeError):
        return None


def values_equal(a, b, rtol: float) -> bool:
    """Equality of parameter or metadata values: dicts key by key, arrays elementwise (floats up to rtol)."""
    if isinstance(a, dict) or isinstance(b, dict):
        return (
            isinstance(a, dict)
            and isinstance(b, dict)
            and set(a) == set(b)
            and all(values_equal(a[k], b[k], rtol) for k in a)
        )
    if isinstance(a, np.ndarray | np.generic) or isinstance(b, np.ndarray | np.generic):
        a, b = np.asarray(a), np.asarray(b)
        if a.dtype.kind == "f" and b.dtype.kind == "f" and rtol > 0:
            return a.shape == b.shape and bool(np.allclose(a, b, rtol=rtol, atol=0))
        return bool(np.array_equal(a, b))
    return a == b


def nir_graphs_equal(a: nir.NIRGraph, b: nir.NIRGraph, *, rtol: float = 0.0) -> bool:
    """True if two graphs have the same nodes (types and every parameter, subgraphs recursively), edges and
    metadata.

    Float arrays must be equal, or with `rtol` > 0 equal up to that relative tolerance (for graphs that went
    through a change of units such as dt / (dt / tau)).
    """
    if set(a.nodes) != set(b.nodes) or sorted(a.edges) != sorted(b.edges):
        return False
    if not values_equal(a.metadata or {}, b.metadata or {}, rtol):
        return False
    for name, node in a.nodes.items():
        other = b.nodes[name]
        if type(node) is not type(other):
            return False
        if isinstance(node, nir.NIRGraph):
            if not nir_graphs_equal(node, other, rtol=rtol):
                return False
            continue
        for key, value in vars(node).items():
            if key not in ("input_type", "output_type") and not values_equal(value, getattr(other, key, None), rtol):
                return False
    return True
