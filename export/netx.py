"""The deploy graph in lava-dl's netx HDF5 layout, the network description Intel's tools load onto Loihi 2.

Layout (lava-dl 0.6.0, `lava.lib.dl.netx.hdf5.Network` and `netx.utils.NetDict`, which read it; slayer's
`export_hdf5` writes the same): a group `layer` with one numbered group per layer, in signal order:

    layer/0   type 'input', shape [n_in]                      (no neuron: the spikes enter the next layer's synapses)
    layer/k   type 'dense', shape [n], weight (n, n_in) int, optional delay (n, n_in) int, optional bias (n,) int,
              neuron/{type 'CUBA', iDecay, vDecay, vThMant, refDelay, gradedSpike}

Each dense layer is a Lava `Dense` (or `DelayDense`) feeding a `LIF` with du = iDecay - 1, dv = vDecay,
vth = vThMant and bias_mant = bias with bias_exp = 6. The loader derives the weight exponent, precision and sign
mode from the integer weights itself (`netx.utils.optimize_weight_bits`), so a weight in the file is the effective
weight in units of 2**6 on u: our mantissa (as Lava's Dense uses it, `NumberFormats.effective_weights`) times
2**weight_exp. That is exact only where it is an integer within the 8-bit range the loader can re-encode; the
writer checks it per connection and refuses otherwise, naming the connection, rather than write a graph that runs
differently. The file is therefore a chain: one input, then one dense layer per population, each fed only by the
layer before it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from spikeport.errors import UnsupportedNodeError
from spikeport.files import atomic_write
from spikeport.ir import DenseInt, DeployGraph, LIFInt, LIFResetInt, SpikeInput, TernaryLIFInt
from spikeport.ir.formats import SignMode
from spikeport.ir.kinds import KindTable, Unsupported

__all__ = ["KIND_TABLE", "NETX_BIAS_EXP", "NETX_WEIGHT_RANGE", "netx_layers", "write_netx"]

NETX_BIAS_EXP = 6
"""netx gives every LIF bias_exp 6 (`hdf5.Network.get_neuron_params`)."""
NETX_WEIGHT_RANGE = {SignMode.EXCITATORY: (0, 255), SignMode.MIXED: (-256, 254)}
"""Integer weights lava-dl's loader re-encodes exactly (checked against lava-dl 0.6.0 in tests/export/test_netx.py):
non-negative in [0, 255] with some positive weight, or both signs in [-256, 254], all even when reaching beyond
[-128, 127]. It derives the sign mode as mixed whenever the matrix is not strictly negative, while Lava's Dense
takes a non-positive matrix as inhibitory, so matrices without a positive weight are refused."""


def _input_layer(graph: DeployGraph, node: SpikeInput) -> dict:
    if node.num_message_bits:
        raise UnsupportedNodeError(
            f"input {node.name!r} carries graded spikes ({node.num_message_bits} bits); netx files hold no input "
            "message width (lava-dl takes it as `input_message_bits` when loading), so only binary inputs export"
        )
    return {"type": "input", "shape": np.array([node.size], dtype=np.int64)}


def netx_weights(node: DenseInt, graph: DeployGraph) -> np.ndarray:
    """The weights as netx stores them (effective mantissa x 2**weight_exp), or `UnsupportedNodeError`."""
    mantissa = graph.formats.effective_weights(node.weights, node.num_weight_bits)
    scaled = mantissa.astype(np.float64) * 2.0**node.weight_exp
    where = f"connection {node.name!r} (weight_exp {node.weight_exp}, {node.num_weight_bits}-bit)"
    if not np.array_equal(scaled, np.round(scaled)):
        raise UnsupportedNodeError(
            f"{where}: its weights times 2**weight_exp are not integers, and netx stores integer weights at "
            "exponent 0; re-quantize with a chip file whose [formats.weight_exp_max] value is 0 (docs/export.md)"
        )
    weights = scaled.astype(np.int64)
    low, high = (0, 255) if weights.min(initial=0) >= 0 else (-256, 254)
    wide = weights.max(initial=0) > 127 or weights.min(initial=0) < -128
    problem = None
    if weights.max(initial=0) <= 0:
        problem = (
            "no positive weight (lava-dl's loader fails on an all-zero matrix and re-encodes non-positive ones "
            "in a sign mode other than the one Lava's Dense then uses)"
        )
    elif weights.min() < low or weights.max() > high:
        problem = f"weights in [{int(weights.min())}, {int(weights.max())}] beyond [{low}, {high}]"
    elif low < 0 and wide and np.any(weights % 2 != 0):
        problem = "odd weights in a mixed-sign matrix reaching beyond [-128, 127] (the mixed mode drops the lowest bit)"
    if problem:
        raise UnsupportedNodeError(
            f"{where}: netx cannot hold it exactly: {problem}; re-quantize with a chip file whose "
            "[formats.weight_exp_max] value is 0 (docs/export.md)"
        )
    return weights


def _dense_layer(graph: DeployGraph, conn: DenseInt) -> dict:
    if conn.num_message_bits:
        raise UnsupportedNodeError(
            f"connection {conn.name!r} takes graded spikes; netx derives message widths from neuron types, so only "
            "binary-spike connections export"
        )
    layer = {"type": "dense", "weight": netx_weights(conn, graph)}
    if conn.delays is not None:
        layer["delay"] = np.asarray(conn.delays, dtype=np.int64)
    return layer


def _lif_neuron(graph: DeployGraph, pop: LIFInt) -> dict:
    if np.ndim(pop.du) or np.ndim(pop.dv):
        raise UnsupportedNodeError(
            f"population {pop.name!r} has per-neuron decays (a multi-timescale population, several LIF processes); "
            "a netx layer holds one iDecay and vDecay: quantize with max_decay_groups=1 to export it"
        )
    shift = pop.bias_exp - NETX_BIAS_EXP
    bias = pop.bias_mant.astype(np.float64) * 2.0**shift
    if not np.array_equal(bias, np.round(bias)):
        raise UnsupportedNodeError(
            f"population {pop.name!r}: bias_mant x 2**(bias_exp - 6) = bias_mant x 2**{shift} is not an integer; "
            "netx fixes bias_exp at 6"
        )
    neuron = {
        "type": "CUBA",
        "iDecay": pop.du + 1,
        "vDecay": pop.dv,
        "vThMant": pop.vth,
        "refDelay": 1,
        "gradedSpike": False,
    }
    out = {"shape": np.array([pop.size], dtype=np.int64), "neuron": neuron}
    if np.any(bias != 0):
        out["bias"] = bias.astype(np.int64)
    return out


KIND_TABLE: KindTable = KindTable(
    "the netx exporter",
    {
        SpikeInput.kind: _input_layer,
        DenseInt.kind: _dense_layer,
        LIFInt.kind: _lif_neuron,
        LIFResetInt.kind: Unsupported(
            "netx files hold no per-layer reset; lava-dl sets one network-wide reset_interval when loading"
        ),
        TernaryLIFInt.kind: Unsupported("netx's CUBA neuron has one threshold; ternary spikes have no netx layer"),
        "plastic_dense_int": Unsupported("netx dense layers hold fixed weights; on-chip learning has no netx layer"),
        "spike_attention_int": Unsupported("spike-driven attention has no netx block"),
    },
)
"""How each node kind becomes (part of) a netx layer: the source -> the input layer, a connection -> a dense
layer's synapse fields, a population -> its neuron fields."""


def netx_layers(graph: DeployGraph) -> list[dict]:
    """The graph as netx layers (dicts of datasets; `neuron` a dict), or `UnsupportedNodeError` for a non-chain."""
    source = graph.input
    layers = [KIND_TABLE.handler(source)(graph, source)]
    previous, seen = source.name, set()
    while True:
        conns = graph.targets_of(previous)
        if not conns:
            break
        if len(conns) != 1:
            raise UnsupportedNodeError(
                f"{previous!r} feeds {len(conns)} connections {conns}; netx describes a chain of layers, each fed "
                "only by the one before"
            )
        conn = graph.nodes[conns[0]]
        pop = graph.target_of(conn)
        if pop.name in seen or graph.sources_of(pop.name) != [conn.name]:
            raise UnsupportedNodeError(
                f"population {pop.name!r} receives from {graph.sources_of(pop.name)}; netx describes a chain of "
                "layers without recurrence or skips, each fed only by the one before"
            )
        seen.add(pop.name)
        layer = KIND_TABLE.handler(conn)(graph, conn)
        layer.update(KIND_TABLE.handler(pop)(graph, pop))
        layers.append(layer)
        previous = pop.name
    if len(seen) != len(graph.populations) or previous != graph.output:
        raise UnsupportedNodeError(
            f"the chain from the input ends at {previous!r}, not at the output {graph.output!r}, or leaves "
            "populations out; netx describes a single chain from input to output"
        )
    return layers


def _write(group, layer: dict) -> None:
    for key, value in sorted(layer.items()):
        if key == "type":
            group.create_dataset("type", data=np.array([value.encode("ascii")], dtype="S10"), track_times=False)
        elif isinstance(value, dict):
            _write(group.create_group(key), value)
        elif isinstance(value, bool):
            group.create_dataset(key, data=np.bool_(value), track_times=False)
        else:
            group.create_dataset(key, data=np.asarray(value), track_times=False)


def write_netx(graph: DeployGraph, path: str | Path) -> Path:
    """Write `graph` as a netx HDF5 file (atomically); `UnsupportedNodeError` names what netx cannot hold.

    The file is fixed by the graph: no timestamps are stored (HDF5 object times are off), so the same graph gives
    the same bytes.
    """
    import h5py

    layers = netx_layers(graph)

    def fill(tmp: Path) -> None:
        with h5py.File(tmp, "w", track_order=True) as handle:
            root = handle.create_group("layer", track_order=True)
            for i, layer in enumerate(layers):
                _write(root.create_group(str(i), track_order=True), layer)

    return atomic_write(path, fill)
