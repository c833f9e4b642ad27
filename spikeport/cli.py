"""The `spikeport` command: one entry point, one subcommand per pipeline stage, and `demo` for all of them."""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from spikeport.cli_args import fail, naming, one_line_warnings, os_error_text
from spikeport.cli_parser import build_parser
from spikeport.errors import Interrupted, ModelFamilyError, SpikeportError


def _config(args: argparse.Namespace):
    """The run's settings: RunConfig defaults, then the family's, then the options given."""
    from spikeport.train.models import get_family

    family = get_family(args.model)
    data = args.data or family.data_sources[0]
    counts, ids = None, None
    if args.subjects is not None and data == "synthetic":
        if len(args.subjects) > 1:
            raise ModelFamilyError("--subjects with synthetic data takes one number (how many subjects to generate)")
        counts = args.subjects[0]
    elif args.subjects is not None:
        ids = tuple(args.subjects)
    return family.run_config(
        finetune_epochs=args.finetune_epochs,
        seed=args.seed,
        data=data,
        data_path=args.data_path,
        subject_ids=ids,
        data_files=tuple(args.files) if args.files else None,
        events=args.events,
        n_subjects=counts,
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

    if args.to != "nir":
        from spikeport.export_run import export_to

        print("\n".join(export_to(Path(args.run_dir), args.to)[1]))
        return 0
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

    if args.lava_config != "cpu" and args.backend != "lava":
        raise SpikeportError(f"--lava-config {args.lava_config} applies to --backend lava only")
    record = stage_simulate(
        Path(args.run_dir),
        args.backend,
        split=args.split,
        progress=not args.no_progress,
        strict=args.strict,
        lava_config=args.lava_config,
    )
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
        strict=args.strict,
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

    report = stage_report(Path(args.run_dir), chip=args.chip, strict=args.strict, energy_proxy=args.energy_proxy)
    print("\n".join([*report["summary"], f"report: {Path(args.run_dir) / REPORT_FILE}"]))
    if args.format != "json":
        from spikeport.report_render import render_report

        print(f"{args.format}: " + ", ".join(str(p) for p in render_report(Path(args.run_dir), report, args.format)))
    return 0 if report["bit_exact"] else 1


def _family_step(args: argparse.Namespace, hook: str) -> int:
    """Run a family hook (`adapt`, `evaluate`) on a run directory and print its summary."""
    from spikeport.rundir import model_family_name
    from spikeport.train.models import get_family

    run_dir = Path(args.run_dir)
    family = get_family(model_family_name(run_dir))
    step = getattr(family, hook)
    if step is None:
        raise ModelFamilyError(f"model family {family.name!r} of {run_dir} has no `{hook}` step")
    options = {k: v for k, v in vars(args).items() if k not in ("command", "run_dir", "no_progress")}
    result = step(run_dir, options, not args.no_progress)
    print("\n".join(result["summary"]))
    return 0


def cmd_adapt(args: argparse.Namespace) -> int:
    return _family_step(args, "adapt")


def cmd_evaluate(args: argparse.Namespace) -> int:
    return _family_step(args, "evaluate")


COMMANDS = {
    "demo": cmd_demo,
    "train": cmd_train,
    "export": cmd_export,
    "quantize": cmd_quantize,
    "simulate": cmd_simulate,
    "validate": cmd_validate,
    "import": cmd_import,
    "report": cmd_report,
    "adapt": cmd_adapt,
    "evaluate": cmd_evaluate,
}
"""Subcommand name -> the function that runs it (the parser in `spikeport.cli_parser` declares the same names)."""


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
            return COMMANDS[args.command](args)
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
