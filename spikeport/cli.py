"""The `spikeport` command: one entry point, one subcommand per pipeline stage, and `demo` for all of them."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from spikeport import __version__
from spikeport.errors import SpikeportError

DESCRIPTION = """\
spikeport takes spiking neural decoders from PyTorch training to Loihi-class chips.

Stages (each reads and writes files in a run directory, so each can be re-run alone):
  train     synthetic motor-imagery EEG -> spike encoding -> spiking decoder (norse LIF, surrogate gradients)
  export    trained decoder -> NIR graph (model.nir)
  quantize  NIR graph -> Loihi integer deploy graph (model.deploy.npz)
  simulate  deploy graph -> spikes, u, v on the integer reference or on Lava fixed_pt
  validate  reference vs Lava, bit for bit; exit code 0 only when bit-exact
  report    accuracy, bit-exactness, SynOps and energy -> report.json
  demo      all of the above on the built-in synthetic data
  import    a NIR graph from another framework -> deploy graph, with float-vs-integer agreement per layer

Example:  spikeport demo --out runs/demo
"""


def _add_data_options(parser: argparse.ArgumentParser) -> None:
    from spikeport.pipeline import DemoConfig

    d = DemoConfig()
    group = parser.add_argument_group("data and model (built-in SYNTHETIC motor-imagery EEG)")
    group.add_argument(
        "--seed", type=int, default=d.seed, help="seed of data, split and training (default %(default)s)"
    )
    group.add_argument("--subjects", type=int, default=d.n_subjects, help="synthetic subjects (default %(default)s)")
    group.add_argument(
        "--trials-per-class",
        type=int,
        default=d.trials_per_class,
        help="trials per class and subject (default %(default)s)",
    )
    group.add_argument("--steps", type=int, default=d.num_steps, help="time steps per trial (default %(default)s)")
    group.add_argument("--hidden", type=int, default=d.n_hidden, help="hidden LIF neurons (default %(default)s)")
    group.add_argument("--epochs", type=int, default=None, help="training epochs (default: the trainer's default)")
    group.add_argument(
        "--finetune-epochs",
        type=int,
        default=d.finetune_epochs,
        help="epochs of quantization-aware fine-tuning through the integer forward pass (default %(default)s)",
    )
    group.add_argument(
        "--chip",
        default=d.chip,
        choices=("loihi", "loihi2"),
        help="chip whose formats and energy figures to use (default %(default)s)",
    )


def _config(args: argparse.Namespace):
    from spikeport.pipeline import DemoConfig

    return DemoConfig(
        finetune_epochs=args.finetune_epochs,
        seed=args.seed,
        n_subjects=args.subjects,
        trials_per_class=args.trials_per_class,
        num_steps=args.steps,
        n_hidden=args.hidden,
        epochs=args.epochs,
        chip=args.chip,
    )


def cmd_demo(args: argparse.Namespace) -> int:
    from spikeport.pipeline import REPORT_FILE, run_demo

    out = Path(args.out)
    report = run_demo(out, _config(args), progress=not args.no_progress)
    print("\n".join(["", "spikeport demo summary", *report["summary"], f"report: {out / REPORT_FILE}"]))
    return 0 if report["bit_exact"] else 1


def cmd_train(args: argparse.Namespace) -> int:
    from spikeport.pipeline import stage_train

    facts = stage_train(Path(args.out), _config(args), progress=not args.no_progress)
    print(
        f"trained on SYNTHETIC data: test accuracy {facts['float_accuracy_test']:.3f} "
        f"({facts['n_train']} train / {facts['n_test']} test trials); model in {Path(args.out) / 'model.pt'}"
    )
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from spikeport.pipeline import stage_export

    print(f"wrote {stage_export(Path(args.run_dir))} (read back: equal graph)")
    return 0


def cmd_quantize(args: argparse.Namespace) -> int:
    from spikeport.pipeline import DEPLOY_FILE, stage_quantize

    _, report = stage_quantize(
        Path(args.run_dir),
        chip=args.chip,
        num_weight_bits=args.weight_bits,
        finetune_epochs=args.finetune_epochs,
        seed=args.seed,
        progress=not args.no_progress,
    )
    print("\n".join(report.summary_lines()))
    print(f"wrote {Path(args.run_dir) / DEPLOY_FILE}")
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from spikeport.pipeline import stage_simulate

    record = stage_simulate(Path(args.run_dir), args.backend, split=args.split, progress=not args.no_progress)
    print(
        f"{args.backend}: {record.num_samples} samples x {record.num_steps} steps in {record.wall_time_s:.2f} s; "
        f"wrote {Path(args.run_dir) / f'record_{args.backend}.npz'}"
    )
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from spikeport.validate import validate_target

    comparisons = validate_target(
        Path(args.target),
        dt=args.dt,
        tau_convention=args.tau_convention,
        samples=args.samples,
        steps=args.steps,
        seed=args.seed,
        rate=args.rate,
        progress=not args.no_progress,
    )
    print("\n".join(c.summary() for c in comparisons))
    return 0 if all(c.bit_exact for c in comparisons) else 1


def cmd_import(args: argparse.Namespace) -> int:
    from spikeport.ir import save_deploy_graph
    from spikeport.nir_import import import_nir

    source = Path(args.graph)
    result = import_nir(
        source,
        dt=args.dt,
        tau_convention=args.tau_convention,
        chip=args.chip,
        samples=args.samples,
        steps=args.steps,
        rate=args.rate,
        seed=args.seed,
    )
    out = Path(args.out) if args.out else source.with_suffix(".deploy.npz")
    save_deploy_graph(result.graph, out)
    populations = ", ".join(f"{p.name} ({p.kind}, {p.size})" for p in result.network.populations.values())
    print(f"imported {source}: dt {result.network.dt} s, input {result.network.input_size}, populations {populations}")
    print("\n".join(result.quantization.summary_lines()))
    print("\n".join(result.fidelity_lines()))
    print(f"wrote {out}; check it on Lava with `spikeport validate {out}`")
    if args.nir_out:
        from spikeport.export import network_to_nir, write_nir

        print(f"wrote {write_nir(network_to_nir(result.network), args.nir_out)} (standard NIR, as spikeport reads it)")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from spikeport.pipeline import REPORT_FILE, stage_report

    report = stage_report(Path(args.run_dir), chip=args.chip)
    print("\n".join([*report["summary"], f"report: {Path(args.run_dir) / REPORT_FILE}"]))
    return 0


def _add_tau_convention(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--tau-convention",
        choices=("seconds", "norse"),
        default="seconds",
        help="how a .nir graph stores time constants: seconds (NIR), or as norse <= 1.1's to_nir writes them "
        "(dt * tau, LIFCell w_in unscaled)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spikeport", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"spikeport {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, help_text: str, func) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(func=func)
        p.add_argument("--no-progress", action="store_true", help="hide progress bars")
        return p

    p = add("demo", "Run every stage on the built-in SYNTHETIC motor-imagery EEG and write DIR/report.json.", cmd_demo)
    p.add_argument("--out", required=True, help="run directory for all artifacts (created)")
    _add_data_options(p)
    p = add(
        "train", "Generate SYNTHETIC motor-imagery EEG, encode it as spikes and train the spiking decoder.", cmd_train
    )
    p.add_argument("--out", required=True, help="run directory (created): writes data.npz, model.pt, training.json")
    _add_data_options(p)
    p = add("export", "Export the trained decoder of a run directory as a NIR graph (model.nir).", cmd_export)
    p.add_argument("run_dir", help="run directory written by `spikeport train`")
    p = add(
        "quantize", "Quantize model.nir to Loihi integer formats (model.deploy.npz, quantization.json).", cmd_quantize
    )
    p.add_argument("run_dir", help="run directory with model.nir")
    p.add_argument("--chip", default="loihi", choices=("loihi", "loihi2"), help="target chip (default %(default)s)")
    p.add_argument("--weight-bits", type=int, default=8, help="weight precision 1..8 (default %(default)s)")
    p.add_argument(
        "--finetune-epochs",
        type=int,
        default=0,
        help="then fine-tune the integer weights through the integer forward pass (default %(default)s: off)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the fine-tuning batch order (default %(default)s)")
    p = add(
        "simulate",
        "Run the deploy graph on the integer reference or on Lava fixed_pt and record every step.",
        cmd_simulate,
    )
    p.add_argument("run_dir", help="run directory with model.deploy.npz and data.npz")
    p.add_argument(
        "--backend", choices=("reference", "lava"), default="reference", help="simulator (default %(default)s)"
    )
    p.add_argument("--split", choices=("test", "train"), default="test", help="which inputs (default %(default)s)")
    p = add(
        "validate",
        "Run the reference and Lava on the same inputs and compare spikes, u and v at every step. "
        "Exit code 0 only when bit-exact; otherwise the first mismatch is printed.",
        cmd_validate,
    )
    p.add_argument(
        "target",
        help="a run directory (uses its test inputs), a deploy graph file (*.deploy.npz) or a NIR graph (*.nir)",
    )
    p.add_argument("--dt", type=float, default=None, help="step in seconds for a .nir graph that records none")
    _add_tau_convention(p)
    p.add_argument("--samples", type=int, default=None, help="samples to run (default: all test inputs, or 16 random)")
    p.add_argument("--steps", type=int, default=None, help="steps per sample for random inputs (default 50)")
    p.add_argument("--seed", type=int, default=0, help="seed of random inputs (default %(default)s)")
    p.add_argument("--rate", type=float, default=0.2, help="spike probability of random inputs (default %(default)s)")
    p = add(
        "import",
        "Import a NIR graph written by any framework: validate it, quantize it to Loihi integers (calibrated on "
        "seeded random spikes), print float-vs-integer agreement per layer, and write a deploy graph.",
        cmd_import,
    )
    p.add_argument("graph", help="the .nir file")
    p.add_argument("--out", default=None, help="deploy graph to write (default: GRAPH with suffix .deploy.npz)")
    p.add_argument(
        "--nir-out",
        default=None,
        help="also write the graph as spikeport reads it: a flat NIR graph of standard nodes (subgraphs inlined, "
        "chains composed into Linear/Affine + Delay, time constants in seconds)",
    )
    p.add_argument("--dt", type=float, default=None, help="step in seconds if the graph records none")
    _add_tau_convention(p)
    p.add_argument("--chip", default="loihi2", choices=("loihi", "loihi2"), help="target chip (default %(default)s)")
    p.add_argument("--samples", type=int, default=16, help="calibration samples (default %(default)s)")
    p.add_argument("--steps", type=int, default=50, help="steps per calibration sample (default %(default)s)")
    p.add_argument("--rate", type=float, default=0.2, help="input spike probability (default %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the calibration inputs (default %(default)s)")
    p = add(
        "report",
        "Compute accuracy, bit-exactness, SynOps and energy of a simulated run; write report.json.",
        cmd_report,
    )
    p.add_argument("run_dir", help="run directory with both simulation records")
    p.add_argument("--chip", default="loihi", choices=("loihi", "loihi2"), help="energy figures (default %(default)s)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run a subcommand; errors print one line and return a non-zero exit code."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except SpikeportError as exc:
        print(f"spikeport {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"spikeport {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
