"""The `spikeport` command: one entry point, one subcommand per pipeline stage, and `demo` for all of them."""

from __future__ import annotations

import argparse
import sys
import textwrap
import warnings
from pathlib import Path

from spikeport import __version__
from spikeport.cli_args import (
    NON_NEGATIVE,
    POSITIVE,
    POSITIVE_SECONDS,
    PROBABILITY,
    SEED,
    OneLineParser,
    fail,
    integer,
    naming,
    one_line_warnings,
    os_error_text,
    path,
)
from spikeport.errors import Interrupted, SpikeportError
from spikeport.ir.formats import DEFAULT_CHIP

DESCRIPTION = """\
spikeport takes spiking neural networks from PyTorch training to Loihi-class chips, bit-true.

Stages (each reads and writes files in a run directory, so each can be re-run alone):
  train     a model family's default data -> spike encoding -> trained model (norse, surrogate gradients)
  export    trained model -> NIR graph (model.nir)
  quantize  NIR graph -> Loihi integer deploy graph (model.deploy.npz)
  simulate  deploy graph -> spikes, u, v on the integer reference or on Lava fixed_pt
  validate  reference vs Lava, bit for bit; exit code 0 only when bit-exact
  report    task metrics, bit-exactness, SynOps and energy -> report.json
  demo      all of the above on a model family's default data
  import    a NIR graph from another framework -> deploy graph, with float-vs-integer agreement per layer
"""

EXAMPLE = "Example:  spikeport demo --out runs/demo"


def _families_text() -> str:
    """The registered model families, one line each (for --help)."""
    from spikeport.train.models import DEFAULT_FAMILY, family_names, get_family

    lines = [f"Model families (train/demo --model NAME; default {DEFAULT_FAMILY}):"]
    for name in family_names():
        family = get_family(name)
        lines.append(f"  {name:<9} {family.task.value}: {family.summary}")
    return "\n".join(lines)


def _add_data_options(parser: argparse.ArgumentParser) -> None:
    from spikeport.train.models import DEFAULT_FAMILY, RunConfig, family_names

    d = RunConfig()
    group = parser.add_argument_group(
        "model and data (defaults: the model family's; the decoder's are shown, on SYNTHETIC motor-imagery EEG)"
    )
    group.add_argument(
        "--model",
        default=DEFAULT_FAMILY,
        metavar="NAME",
        help=f"model family: {', '.join(family_names())} (default %(default)s)",
    )
    group.add_argument(
        "--seed", type=SEED, default=None, help=f"seed of data, split and training, 0..2**32-1 ({d.seed})"
    )
    group.add_argument("--subjects", type=POSITIVE, default=None, help=f"synthetic subjects, >= 1 ({d.n_subjects})")
    group.add_argument(
        "--trials-per-class",
        type=POSITIVE,
        default=None,
        help=f"trials per class and subject, >= 1 ({d.trials_per_class})",
    )
    group.add_argument("--steps", type=POSITIVE, default=None, help=f"time steps per trial, >= 1 ({d.num_steps})")
    group.add_argument("--hidden", type=POSITIVE, default=None, help=f"hidden neurons, >= 1 ({d.n_hidden})")
    group.add_argument(
        "--epochs", type=POSITIVE, default=None, help="training epochs, >= 1 (the family trainer's default)"
    )
    group.add_argument(
        "--finetune-epochs",
        type=NON_NEGATIVE,
        default=None,
        help=f"epochs of quantization-aware fine-tuning through the integer forward pass, >= 0 ({d.finetune_epochs})",
    )
    _add_chip(group, "chip whose formats and energy figures to use", d.chip)


def _config(args: argparse.Namespace):
    """The run's settings: RunConfig defaults, then the family's, then the options given."""
    from spikeport.train.models import get_family

    return get_family(args.model).run_config(
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
    from spikeport.pipeline import MODEL_FILE, stage_train
    from spikeport.rundir import data_info, load_data
    from spikeport.train.tasks import format_metrics

    out = Path(args.out)
    facts = stage_train(out, _config(args), progress=not args.no_progress)
    label = "SYNTHETIC data" if data_info(load_data(out))["synthetic"] else "recorded data"
    print(
        f"trained {facts['model']} on {label}: test {format_metrics(facts['float_test'])} "
        f"({facts['n_train']} train / {facts['n_test']} test samples); model in {out / MODEL_FILE}"
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
    out = Path(args.out) if args.out else source.with_suffix(".deploy.npz")
    result = import_nir(
        source,
        dt=args.dt,
        tau_convention=args.tau_convention,
        chip=args.chip,
        samples=args.samples,
        steps=args.steps,
        rate=args.rate,
        seed=args.seed,
        outputs=(out, args.nir_out),
    )
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
    return 0 if report["bit_exact"] else 1


def _add_chip(p, help_text: str, default: str = DEFAULT_CHIP) -> None:
    p.add_argument("--chip", default=default, choices=("loihi", "loihi2"), help=f"{help_text} (default %(default)s)")


def _add_tau_convention(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--tau-convention",
        choices=("seconds", "norse"),
        default="seconds",
        help="how a .nir graph stores time constants: seconds (NIR), or as norse <= 1.1's to_nir writes them "
        "(dt * tau, LIFCell w_in unscaled)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="spikeport",
        description=DESCRIPTION,
        epilog=f"{_families_text()}\n\n{EXAMPLE}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"spikeport {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, help_text: str, func, *, families: bool = False) -> argparse.ArgumentParser:
        p = sub.add_parser(
            name,
            help=help_text,
            description=textwrap.fill(help_text, 100),
            epilog=_families_text() if families else None,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        p.set_defaults(func=func)
        p.add_argument("--no-progress", action="store_true", help="hide progress bars")
        return p

    p = add(
        "demo",
        "Run every stage on a model family's default data (the decoder's: SYNTHETIC motor-imagery EEG) and write "
        "DIR/report.json.",
        cmd_demo,
        families=True,
    )
    p.add_argument("--out", type=path, required=True, help="run directory for all artifacts (created)")
    _add_data_options(p)
    p = add(
        "train",
        "Generate a model family's default data (the decoder's: SYNTHETIC motor-imagery EEG), encode it as spikes "
        "and train the model.",
        cmd_train,
        families=True,
    )
    p.add_argument(
        "--out", type=path, required=True, help="run directory (created): writes data.npz, model.pt, training.json"
    )
    _add_data_options(p)
    p = add("export", "Export the trained model of a run directory as a NIR graph (model.nir).", cmd_export)
    p.add_argument("run_dir", type=path, help="run directory written by `spikeport train`")
    p = add(
        "quantize", "Quantize model.nir to Loihi integer formats (model.deploy.npz, quantization.json).", cmd_quantize
    )
    p.add_argument("run_dir", type=path, help="run directory with model.nir")
    _add_chip(p, "target chip")
    p.add_argument("--weight-bits", type=integer(1, 8), default=8, help="weight precision 1..8 (default %(default)s)")
    p.add_argument(
        "--finetune-epochs",
        type=NON_NEGATIVE,
        default=0,
        help="then fine-tune the integer weights through the integer forward pass, >= 0 (default %(default)s: off)",
    )
    p.add_argument(
        "--seed", type=SEED, default=0, help="seed of the fine-tuning batch order, 0..2**32-1 (default %(default)s)"
    )
    p = add(
        "simulate",
        "Run the deploy graph on the integer reference or on Lava fixed_pt and record every step.",
        cmd_simulate,
    )
    p.add_argument("run_dir", type=path, help="run directory with model.deploy.npz and data.npz")
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
        type=path,
        help="a run directory (uses its test inputs), a deploy graph file (*.deploy.npz) or a NIR graph (*.nir)",
    )
    p.add_argument(
        "--dt",
        type=POSITIVE_SECONDS,
        default=None,
        help="step in seconds (> 0) for a .nir graph; overrides the one it records",
    )
    _add_tau_convention(p)
    p.add_argument(
        "--samples", type=POSITIVE, default=None, help="samples to run, >= 1 (default: all test inputs, or 16 random)"
    )
    p.add_argument("--steps", type=POSITIVE, default=None, help="steps per sample for random inputs, >= 1 (default 50)")
    p.add_argument("--seed", type=SEED, default=0, help="seed of random inputs, 0..2**32-1 (default %(default)s)")
    p.add_argument(
        "--rate", type=PROBABILITY, default=0.2, help="spike probability of random inputs, 0..1 (default %(default)s)"
    )
    p = add(
        "import",
        "Import a NIR graph written by any framework: validate it, quantize it to Loihi integers (calibrated on "
        "seeded random spikes), print float-vs-integer agreement per layer, and write a deploy graph.",
        cmd_import,
    )
    p.add_argument("graph", type=path, help="the .nir file")
    p.add_argument(
        "--out", type=path, default=None, help="deploy graph to write (default: GRAPH with suffix .deploy.npz)"
    )
    p.add_argument(
        "--nir-out",
        type=path,
        default=None,
        help="also write the graph as spikeport reads it: a flat NIR graph of standard nodes (subgraphs inlined, "
        "chains composed into Linear/Affine + Delay, time constants in seconds)",
    )
    p.add_argument(
        "--dt", type=POSITIVE_SECONDS, default=None, help="step in seconds (> 0); overrides the one the graph records"
    )
    _add_tau_convention(p)
    _add_chip(p, "target chip")
    p.add_argument("--samples", type=POSITIVE, default=16, help="calibration samples, >= 1 (default %(default)s)")
    p.add_argument(
        "--steps", type=POSITIVE, default=50, help="steps per calibration sample, >= 1 (default %(default)s)"
    )
    p.add_argument("--rate", type=PROBABILITY, default=0.2, help="input spike probability, 0..1 (default %(default)s)")
    p.add_argument(
        "--seed", type=SEED, default=0, help="seed of the calibration inputs, 0..2**32-1 (default %(default)s)"
    )
    p = add(
        "report",
        "Compute task metrics (accuracy, or R² and correlation), bit-exactness, SynOps and energy of a simulated "
        "run; write report.json.",
        cmd_report,
    )
    p.add_argument("run_dir", type=path, help="run directory with both simulation records")
    _add_chip(p, "energy figures")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run a subcommand; errors print one line on stderr and return exit code 2.

    Bad options end in argparse's one-line usage error (exit 2, through SystemExit); errors spikeport raises on
    purpose (`SpikeportError`) and operating-system errors (missing file, permission denied, read-only file
    system, disk full) end in one line naming the input or path; warnings are printed one line each.
    """
    args = build_parser().parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = one_line_warnings(args.command)
            return args.func(args)
    except SpikeportError as exc:
        return fail(args.command, naming(args, exc))
    except (OSError, MemoryError) as exc:
        return fail(args.command, os_error_text(exc, args))
    except Interrupted as exc:  # SIGTERM, SIGINT or SIGHUP during a Lava run, after its clean-up
        print(f"spikeport {args.command}: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"spikeport {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
