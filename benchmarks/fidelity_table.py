"""Float-vs-integer fidelity of the project's own test graphs, before and after the behaviour-aware quantizer.

For every graph the tests build (the recurrent CubaLIF with Affine biases, the 3-layer Conv2d + IF graph, the live
snnTorch Leaky / Synaptic / RLeaky / conv-Leaky exports, the sinabs IAF conv export and the norse LIF + LI export;
the builders are imported from `tests/`), on the same inputs the tests use (seeded random spikes, SYNTHETIC):

- before: calibration on seeded random spikes (rate 0.2, 16 samples), scale chosen by the range rule (weights fill
  the mantissa range, `quantize(..., behaviour_search=False)`);
- search: calibration on the graph's own test inputs, scale chosen by layer-alone spike agreement (the default),
  and `--fine-weights` (a residual Dense per synapse) where it raises the layers' mean score (spike agreement;
  readouts: argmax agreement);
- distill: then `--distill EPOCHS` (`spikeport.train.distill`), kept only where it raises the layers' mean
  agreement (distillation itself keeps its best epoch, so it never lowers it on these inputs).

Prints one row per layer: spike agreement (readouts: n/a) for the three settings and the output layer's argmax
agreement, then a verdict per graph against the acceptance of the fidelity issue (every spiking layer >= 97%,
output argmax >= 95%), naming the layer and its cause (`spikeport.agreement.dominant_cause`) where it is missed.

Example: `python benchmarks/fidelity_table.py --epochs 4` (a few minutes on two cores; `--graphs snntorch_leaky`
runs one).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the graph builders of the tests

SPIKING_MIN, OUTPUT_MIN = 0.97, 0.95  # the acceptance of the fidelity issue


@dataclass(frozen=True)
class Case:
    """One test graph: how the tests build it, read it and feed it."""

    name: str
    build: Callable[[], object]
    """() -> nir.NIRGraph"""
    inputs: Callable[[int], np.ndarray]
    """n_in -> (samples, steps, n_in) test inputs."""
    dt: float | None = None
    tau_convention: str = "seconds"


def _spikes(samples: int, steps: int, rate: float, seed: int) -> Callable[[int], np.ndarray]:
    from spikeport.nir_import import random_spikes

    return lambda n_in: random_spikes(n_in, samples=samples, steps=steps, rate=rate, seed=seed)


def _cases() -> list[Case]:
    from export import test_nir_other_frameworks as frameworks
    from helpers.nir_conv_graphs import conv_net_graph
    from helpers.nir_graphs import recurrent_graph

    def conv_inputs(n_in: int) -> np.ndarray:  # as tests/export/test_nir_conv.py: (4, 30) steps of 2x34x34
        rng = np.random.default_rng(0)
        conv_net_graph(rng)  # the test draws the graph first from the same generator
        return (rng.random((4, 30, 2, 34, 34)) < 0.2).astype(np.int64).reshape(4, 30, -1)

    def norse_graph():
        import norse.torch as nt
        import torch
        from norse.torch.utils.export_nir import to_nir

        torch.manual_seed(0)
        model = nt.SequentialState(
            torch.nn.Linear(12, 10), nt.LIFBoxCell(), torch.nn.Linear(10, 3), nt.LIBoxCell()
        ).double()
        with torch.no_grad():
            model[0].weight.mul_(8.0)
        return to_nir(model, torch.zeros(1, 12, dtype=torch.float64), dt=1e-3)

    def snntorch_conv():
        import torch

        snn = frameworks._snn()
        torch.manual_seed(3)
        leaky = snn.Leaky(
            beta=frameworks._per_neuron(0.85, 3, 4, 4),
            threshold=frameworks._per_neuron(1.0, 3, 4, 4),
            init_hidden=True,
            reset_mechanism="zero",
            reset_delay=False,
        )
        model = torch.nn.Sequential(
            torch.nn.Conv2d(2, 3, 3), leaky, torch.nn.Flatten(), torch.nn.Linear(48, 5), frameworks._leaky(5)
        )
        with torch.no_grad():
            model[0].weight.mul_(4.0)
            model[3].weight.mul_(4.0)
        return frameworks._export_snntorch(model, (2, 6, 6))

    dt = frameworks.SNNTORCH_DT
    return [
        Case(
            "recurrent_affine",
            lambda: recurrent_graph(np.random.default_rng(8), n_in=16, hidden=20, n_out=4, affine_biases=True),
            _spikes(8, 40, 0.2, 0),
        ),
        Case("conv_if", lambda: conv_net_graph(np.random.default_rng(0)), conv_inputs),
        Case(
            "snntorch_leaky",
            lambda: frameworks._export_snntorch(frameworks._two_layer_snntorch(), (12,)),
            _spikes(16, 40, 0.3, 1),
            dt,
        ),
        Case("snntorch_synaptic", lambda: frameworks._synaptic_graph(None)[1], _spikes(16, 40, 0.3, 1), dt),
        Case("snntorch_rleaky", lambda: frameworks._rleaky_graph()[1], _spikes(16, 40, 0.3, 1), dt),
        Case("snntorch_conv", snntorch_conv, _spikes(12, 30, 0.3, 2), dt),
        Case(
            "sinabs_iaf_conv",
            lambda: frameworks._sinabs_export(frameworks._sinabs_conv_model(), (2, 10, 10)),
            _spikes(12, 30, 0.3, 3),
            1.0,
        ),
        Case("norse_lif_li", norse_graph, _spikes(12, 25, 0.3, 1), 1e-3, "norse"),
    ]


def _verdict(net, graph, x, report=None):
    from spikeport.agreement import float_int_agreement
    from spikeport.simulators import run_reference

    approximations = {p.name: p.approximations for p in report.populations} if report is not None else None
    return float_int_agreement(
        net, graph, x, run_reference(graph, x), threshold=SPIKING_MIN, approximations=approximations
    )


def _mean(layers) -> float:
    """Mean over tested layers of the verdict's score: spike agreement, or output agreement for readouts."""
    scores = [layer.score for layer in layers if layer.tested]
    return float(np.mean(scores)) if scores else 1.0


def run_case(case: Case, epochs: int) -> list[str]:
    """The table rows and the verdict line of one graph."""
    from spikeport.export import parse_nir
    from spikeport.nir_import import random_spikes
    from spikeport.targets import quantize
    from spikeport.train.distill import distill

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the RLeaky loop without Delay warns; the tests check that warning
        net = parse_nir(case.build(), dt=case.dt, tau_convention=case.tau_convention)
        x = case.inputs(net.input_size)
        random = random_spikes(net.input_size, samples=16, steps=x.shape[1], rate=0.2, seed=0)
        old, _ = quantize(net, calibration_inputs=random, behaviour_search=False)
        new, report = quantize(net, calibration_inputs=x)
        fine, fine_report = quantize(net, calibration_inputs=x, fine_weights=True)
    before, search = _verdict(net, old, x), _verdict(net, new, x, report)
    fine_layers, fine_used = _verdict(net, fine, x, fine_report), False
    if _mean(fine_layers) > _mean(search):  # --fine-weights: a residual Dense per synapse, where it helps
        new, report, search, fine_used = fine, fine_report, fine_layers, True
    final, distilled = search, None
    if epochs:
        distilled = distill(new, net, x, epochs=epochs, seed=0)
        after = _verdict(net, distilled.graph, x, report)
        if _mean(after) > _mean(search):
            final = after
    rows = []
    for b, s, f in zip(before, search, final, strict=True):
        cells = [
            f"{layer.spike_agreement:8.2%}" if layer.spiking and layer.tested else "     n/a" for layer in (b, s, f)
        ]
        output = f"{f.output_agreement:8.2%}" if f.name == net.output else "        "
        notes = [
            *(["fine weights"] if fine_used else []),
            *([] if final is search else [f"distilled, epoch {distilled.kept_epoch}"]),
        ]
        distill_note = f" ({', '.join(notes)})" if notes else ""
        rows.append(f"{case.name:18s} {f.name:10s} {cells[0]} {cells[1]} {cells[2]} {output}{distill_note}")
    failures = [
        f"{layer.name} {layer.spike_agreement:.2%} < 97% ({layer.cause})"
        for layer in final
        if layer.spiking and layer.tested and layer.spike_agreement < SPIKING_MIN
    ]
    out = next(layer for layer in final if layer.name == net.output)
    if out.output_agreement < OUTPUT_MIN:
        failures.append(f"output {out.name} argmax {out.output_agreement:.2%} < 95% ({out.cause})")
    untested = [layer.name for layer in final if not layer.tested]
    verdict = "MEETS the acceptance" if not failures else "MISSES: " + "; ".join(failures)
    rows.append(f"{'':18s} verdict: {verdict}" + (f"; untested (no spikes): {', '.join(untested)}" if untested else ""))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=4, help="distillation epochs (0: no distillation)")
    parser.add_argument("--graphs", nargs="+", default=None, help="run only these graphs (default: all)")
    args = parser.parse_args(argv)
    cases = [c for c in _cases() if args.graphs is None or c.name in args.graphs]
    print(f"{'graph':18s} {'layer':10s} {'before':>8s} {'search':>8s} {'distill':>8s} {'argmax':>8s}", flush=True)
    missed = 0
    for case in cases:
        rows = run_case(case, args.epochs)
        missed += "MISSES" in rows[-1]
        print("\n".join(rows), flush=True)
    print(f"{len(cases) - missed}/{len(cases)} graphs meet the acceptance (spiking layers >= 97%, argmax >= 95%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
