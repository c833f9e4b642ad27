"""A NIR file to a bit-exact Lava run and an energy report, with spikeport's public API.

What it does: reads a NIR graph (written by snnTorch, Norse, Sinabs, Rockpool or by hand), quantizes it to Loihi
fixed point, runs it on spikeport's integer reference and on Lava's `fixed_pt` models, compares the two runs value
by value and prints the energy report. It writes OUT/model.deploy.npz (the deploy graph), OUT/inputs.npy (the
inputs it ran) and OUT/report.json. Exit code 0 when bit-exact, 1 when not, 2 on bad input.

Run it from the repository root:

    .venv/bin/python examples/nir_to_lava.py MODEL.nir --dt 1e-4 [--inputs X.npy] [--out DIR]
    .venv/bin/python examples/nir_to_lava.py            # a small hand-built NIR graph, written to DIR/example.nir

`--dt` is the step in seconds when the file records none (snnTorch: 1e-4, Sinabs: 1, Norse: 1e-3). Without
`--inputs` it runs 8 samples of 50 steps of seeded random spikes at rate 0.2; a file gives (samples, steps, n_in).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import nir
import numpy as np

import spikeport
from spikeport.errors import SpikeportError
from spikeport.ir import save_deploy_graph


def example_graph(dt: float = 1e-3) -> nir.NIRGraph:
    """Input (20) -> Affine -> LIF (16) -> Affine -> LIF (4), seeded weights, dt recorded in the metadata."""
    rng = np.random.default_rng(0)

    def lif(n: int) -> nir.LIF:
        ones = np.ones(n)
        return nir.LIF(tau=ones * 1e-2, r=ones * 10.0, v_leak=0 * ones, v_threshold=ones, v_reset=0 * ones)

    return nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([20])}),
            "fc1": nir.Affine(weight=rng.normal(0, 1.0, (16, 20)), bias=np.zeros(16)),
            "lif1": lif(16),
            "fc2": nir.Affine(weight=rng.normal(0, 1.0, (4, 16)), bias=np.zeros(4)),
            "lif2": lif(4),
            "output": nir.Output(output_type={"output": np.array([4])}),
        },
        edges=[("input", "fc1"), ("fc1", "lif1"), ("lif1", "fc2"), ("fc2", "lif2"), ("lif2", "output")],
        metadata={"dt": dt},
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("nir_file", nargs="?", help="the .nir file (default: a small hand-built graph)")
    parser.add_argument("--dt", type=float, help="step in seconds, when the file records none")
    parser.add_argument("--inputs", help="spike inputs (samples, steps, n_in) as .npy (default: seeded random)")
    default_out = Path(os.environ.get("SPIKEPORT_EXAMPLE_OUT", "runs/examples")) / "nir_to_lava"
    parser.add_argument("--out", type=Path, default=default_out, help=f"output folder (default {default_out})")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    path = Path(args.nir_file) if args.nir_file else args.out / "example.nir"
    if not args.nir_file:
        nir.write(path, example_graph())

    try:
        net = spikeport.load_nir(path, dt=args.dt)
        if args.inputs:
            from spikeport.files import read_array

            x = read_array(args.inputs, "--inputs")
        else:
            x = (np.random.default_rng(1).random((8, 50, net.input_size)) < 0.2).astype(np.int8)
        graph = spikeport.quantize(net, calibration=x)
        reference = spikeport.simulate(graph, x)
        lava = spikeport.simulate(graph, x, backend="lava")
        comparison = spikeport.compare(reference, lava)
        report = spikeport.report(graph, x, record=reference)
    except SpikeportError as exc:
        print(f"nir_to_lava: error: {exc}", file=sys.stderr)
        return 2

    print(comparison)
    print(report)
    save_deploy_graph(graph, args.out / "model.deploy.npz")
    np.save(args.out / "inputs.npy", x)
    report.save(args.out / "report.json")
    print(f"wrote {args.out / 'model.deploy.npz'}, {args.out / 'inputs.npy'} and {args.out / 'report.json'}")
    return 0 if comparison.bit_exact else 1


if __name__ == "__main__":
    sys.exit(main())
