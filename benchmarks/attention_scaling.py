"""How spike-driven attention's Lava deployment grows with the number of tokens: one node vs the unrolled view.

For each token count N (`--tokens`, default 4 8 16 32) the same trained-shape layer (D = `--features` channels,
output projection, seed 0) is exported to NIR, parsed and quantized twice: to one `AttentionInt` (the default) and
to the unrolled standard view (`quantize(..., attention="unrolled")`: threshold units as LIF populations, the
kron(I_N, W) projections, column sum and broadcast as Dense matrices). Both deploy graphs are then built as Lava
processes (`spikeport.simulators.lava.builder.build_network`, not run) and the script prints, per N: the number
of Lava processes and the bytes of all their Vars (recorders excluded; each `Var`'s initial value at its dtype),
and the bytes of the `SpikeAttention` process alone. The node grows linearly in N; the unrolled view
quadratically.

Example: `python benchmarks/attention_scaling.py`
"""

from __future__ import annotations

import argparse
import sys
import warnings

import nir
import numpy as np


def _graphs(n_tokens: int, n_features: int):
    from spikeport.export import parse_nir
    from spikeport.targets import quantize
    from spikeport.train.layers import AttentionConfig, SpikeDrivenAttention, attention_to_nir

    module = SpikeDrivenAttention(AttentionConfig(n_features=n_features, output_projection=True), seed=0).eval()
    size = n_tokens * n_features
    graph = nir.NIRGraph(
        nodes={"input": nir.Input(input_type={"input": np.array([size])}),
               "attention": attention_to_nir(module, n_tokens),
               "output": nir.Output(output_type={"output": np.array([size])})},
        edges=[("input", "attention"), ("attention", "output")], metadata={"dt": 1e-3}, type_check=False,
    )  # fmt: skip
    net = parse_nir(graph)
    calibration = (np.random.default_rng(0).random((2, 20, size)) < 0.3).astype(np.int64)  # synthetic, labelled
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {mode: quantize(net, calibration_inputs=calibration, attention=mode)[0] for mode in ("node", "unrolled")}


def _var_bytes(proc) -> int:
    return int(sum(np.asarray(var.init).nbytes for var in proc.vars))


def _lava_size(graph) -> tuple[int, int, int]:
    """(processes, bytes of their Vars, bytes of the SpikeAttention process) of the built graph, recorders aside."""
    from spikeport.simulators.lava.builder import build_network
    from spikeport.simulators.lava.processes.attention.process import SpikeAttention

    inputs = np.zeros((1, 1, graph.input.out_size), dtype=np.int64)
    network = build_network(graph, inputs, {p.name: "unused.rec" for p in graph.populations})  # built, never run
    procs = [network.source, *network.synapses.values(), *network.populations.values()]
    attention = sum(_var_bytes(p) for p in procs if isinstance(p, SpikeAttention))
    return len(procs), sum(_var_bytes(p) for p in procs), attention


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, nargs="+", default=[4, 8, 16, 32], help="token counts (4 8 16 32)")
    parser.add_argument("--features", type=int, default=16, help="channels per token D (default 16)")
    args = parser.parse_args(argv)
    from spikeport.simulators.lava import import_lava

    import_lava()
    print(f"spike-driven attention, D = {args.features}, output projection, d = 1; Lava processes (recorders aside)")
    header = f"{'node: procs':>11} {'bytes':>10} {'SpikeAttention':>14} | {'unrolled: procs':>15} {'bytes':>12}"
    print(f"{'tokens':>6} | {header}")
    for n in args.tokens:
        graphs = _graphs(n, args.features)
        node_procs, node_bytes, attention = _lava_size(graphs["node"])
        unrolled_procs, unrolled_bytes, _ = _lava_size(graphs["unrolled"])
        print(f"{n:>6} | {node_procs:>11} {node_bytes:>10} {attention:>14} | {unrolled_procs:>15} {unrolled_bytes:>12}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
