"""The `spikeport` command: one entry point, one subcommand per pipeline stage, and `demo` for all of them."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import warnings
from pathlib import Path

from spikeport.cli_args import fail, json_text, naming, one_line_warnings, os_error_text
from spikeport.cli_args import keep_result as _result
from spikeport.cli_args import progress as _progress
from spikeport.cli_args import refuse as _refuse
from spikeport.cli_parser import build_parser, unrecognized
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
        finetune_epochs=getattr(args, "finetune_epochs", None),  # demo only: train writes no quantized graph
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
        chip=getattr(args, "chip", None),
    )


def cmd_demo(args: argparse.Namespace) -> int:
    from spikeport.pipeline import REPORT_FILE, run_demo

    out = Path(args.out)
    report = run_demo(out, _config(args), progress=_progress(args))
    print("\n".join(["", "spikeport demo summary", *report["summary"], f"report: {out / REPORT_FILE}"]))
    _result(args, {**report, "report_file": str(out / REPORT_FILE)})
    return 0 if report["bit_exact"] else 1


def cmd_train(args: argparse.Namespace) -> int:
    from spikeport.pipeline import MODEL_FILE, stage_train
    from spikeport.rundir import data_info, load_data
    from spikeport.train.tasks import format_metrics

    out = Path(args.out)
    facts = stage_train(out, _config(args), progress=_progress(args))
    from spikeport.train.distributed import is_main

    if not is_main():
        return 0  # under torchrun, rank 0 writes and prints
    label = "SYNTHETIC data" if data_info(load_data(out))["synthetic"] else "recorded data"
    print(
        f"trained {facts['model']} on {label}: test {format_metrics(facts['float_test'])} "
        f"({facts['n_train']} train / {facts['n_test']} test samples); model in {out / MODEL_FILE}"
    )
    _result(args, {**facts, "synthetic": label.startswith("SYNTHETIC"), "model_file": str(out / MODEL_FILE)})
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from spikeport.pipeline import stage_export

    if args.to != "nir":
        from spikeport.export_run import export_to

        written, lines = export_to(Path(args.run_dir), args.to)
        print("\n".join(lines))
        _result(args, {"to": args.to, "file": str(written), "summary": list(lines)})
        return 0
    written = stage_export(Path(args.run_dir))
    print(f"wrote {written} (read back: equal graph)")
    _result(args, {"to": "nir", "file": str(written)})
    return 0


def cmd_quantize(args: argparse.Namespace) -> int:
    from spikeport.files import read_array
    from spikeport.pipeline import DEPLOY_FILE, QUANT_FILE, stage_quantize

    if not args.finetune_epochs and not args.distill:
        _refuse(
            args,
            ("seed",),
            "sets the batch order of integer fine-tuning: it applies with --finetune-epochs or --distill",
        )
    _, report = stage_quantize(
        Path(args.run_dir),
        chip=args.chip,
        num_weight_bits=args.weight_bits,
        finetune_epochs=args.finetune_epochs,
        seed=args.seed or 0,
        progress=_progress(args),
        distill_epochs=args.distill or 0,
        calibration=None if args.calibration == "train" else read_array(args.calibration, "--calibration"),
        calibration_label=None if args.calibration == "train" else f"--calibration {args.calibration}",
    )
    print("\n".join(report.summary_lines()))
    if args.distill:
        facts = json.loads((Path(args.run_dir) / QUANT_FILE).read_text())["distill"]
        for name, before in facts["spike_agreement_before"].items():
            after = facts["spike_agreement_after"][name]
            print(
                f"distillation ({args.distill} epochs, kept epoch {facts['kept_epoch']}): {name} spikes agree "
                f"{before:.2%} before -> {after:.2%} after (training inputs)"
            )
    print(f"wrote {Path(args.run_dir) / DEPLOY_FILE}")
    written = json.loads((Path(args.run_dir) / QUANT_FILE).read_text())  # the report as quantization.json holds it
    _result(args, {**written, "deploy_graph": str(Path(args.run_dir) / DEPLOY_FILE)})
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from spikeport.pipeline import stage_simulate

    if args.lava_config != "cpu" and args.backend != "lava":
        raise SpikeportError(f"--lava-config {args.lava_config} applies to --backend lava only")
    if args.inputs is not None:  # the user's own inputs, on a run directory's or a file's deploy graph
        from spikeport.cli_arrays import simulate_inputs

        return simulate_inputs(args)
    _refuse(args, ("labels", "out"), "applies with --inputs FILE.npy (a run directory's record goes into it)")
    record = stage_simulate(
        Path(args.run_dir),
        args.backend,
        split=args.split,
        progress=_progress(args),
        strict=args.strict,
        lava_config=args.lava_config,
        workers=args.workers,
    )
    print(
        f"{args.backend}: {record.num_samples} samples x {record.num_steps} steps in {record.wall_time_s:.2f} s; "
        f"wrote {Path(args.run_dir) / f'record_{args.backend}.npz'}"
    )
    _result(
        args,
        {
            "backend": args.backend,
            "split": args.split,
            "samples": record.num_samples,
            "steps": record.num_steps,
            "wall_time_s": record.wall_time_s,
            "record": str(Path(args.run_dir) / f"record_{args.backend}.npz"),
        },
    )
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    target = Path(args.target)
    if target.suffix != ".nir":  # options that only reading a NIR graph, or making random inputs, uses
        _refuse(args, ("dt", "tau_convention", "reset"), f"applies to a .nir graph only ({target} is not one)")
    if target.is_dir():
        _refuse(args, ("seed", "rate"), "sets random inputs; a run directory is validated on its own test inputs")
    if args.inputs is None:
        _refuse(args, ("labels",), "applies with --inputs FILE.npy (the labels of those inputs)")
    elif target.suffix != ".nir":
        _refuse(args, ("seed", "rate"), "sets random inputs; --inputs replaces them")
    from spikeport.validate import BelowMinimumAgreement

    try:
        comparisons = _validate(args)
    except BelowMinimumAgreement as exc:  # both backends ran: show the comparison, then the verdict (exit 1)
        print("\n".join(c.summary() for c in exc.comparisons))
        print(f"spikeport validate: {exc}", file=sys.stderr)
        return 1
    if comparisons:  # none on ranks other than 0 under torchrun
        print("\n".join(c.summary() for c in comparisons))
        _result(args, {"bit_exact": all(c.bit_exact for c in comparisons), "comparisons": comparisons})
    return 0 if all(c.bit_exact for c in comparisons) else 1


def _validate(args: argparse.Namespace) -> list:
    """`validate_target` with the command's options (the user's arrays read, defaults filled in)."""
    from spikeport.cli_arrays import read_inputs, read_labels
    from spikeport.validate import validate_target

    return validate_target(
        Path(args.target),
        inputs=read_inputs(args),
        labels=read_labels(args),
        reset=args.reset,
        inputs_source=f"--inputs {args.inputs}",
        labels_source=f"--labels {args.labels}",
        dt=args.dt,
        tau_convention=args.tau_convention or "seconds",
        samples=args.samples,
        steps=args.steps,
        seed=args.seed or 0,
        rate=0.2 if args.rate is None else args.rate,
        progress=_progress(args),
        strict=args.strict,
        workers=args.workers,
        min_agreement=None if args.min_agreement is None else args.min_agreement / 100,
    )


def cmd_import(args: argparse.Namespace) -> int:
    from spikeport.agreement import FLAG_AGREEMENT, below_minimum
    from spikeport.cli_arrays import read_inputs
    from spikeport.files import read_array
    from spikeport.ir import save_deploy_graph
    from spikeport.nir_import import import_nir

    source = Path(args.graph)
    out = Path(args.out) if args.out else source.with_suffix(".deploy.npz")
    if args.calibration is not None:
        _refuse(
            args,
            ("samples", "steps", "rate", "seed"),
            "sets the random calibration inputs; --calibration replaces them",
        )
    randoms = {k: getattr(args, k) for k in ("samples", "steps", "rate", "seed") if getattr(args, k) is not None}
    result = import_nir(
        source,
        reset=args.reset,
        inputs=read_inputs(args),
        inputs_source=f"--inputs {args.inputs}",
        calibration=None if args.calibration is None else read_array(args.calibration, "--calibration"),
        calibration_label=None if args.calibration is None else f"--calibration {args.calibration}",
        fine_weights=args.fine_weights,
        dt=args.dt,
        tau_convention=args.tau_convention or "seconds",
        chip=args.chip,
        **randoms,  # unset: import_nir's defaults
        outputs=(out, args.nir_out),
        threshold=FLAG_AGREEMENT if args.min_agreement is None else args.min_agreement / 100,
        distill_epochs=args.distill or 0,
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
    _result(
        args,
        {
            "graph": str(source),
            "dt": result.network.dt,
            "input_size": result.network.input_size,
            "populations": list(result.network.populations.values()),
            "quantization": result.quantization.to_dict(),
            "agreement": result.agreement,
            "norse_checks": result.norse_checks,
            "deploy_graph": str(out),
            "nir_out": args.nir_out,
        },
    )
    worst = None if args.min_agreement is None else below_minimum(result.agreement, args.min_agreement / 100)
    if worst is not None:  # the deploy graph is written; the verdict fails (exit 1, as `validate --min-agreement`)
        print(
            f"spikeport import: layer {worst.name!r} agrees {worst.score:.2%} with the float graph, below "
            f"--min-agreement {args.min_agreement:g}%" + (f"; cause: {worst.cause}" if worst.cause else ""),
            file=sys.stderr,
        )
        return 1
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from spikeport.pipeline import REPORT_FILE, stage_report

    if args.inputs is not None or Path(args.run_dir).is_file():  # a deploy graph (imported) on the user's inputs
        from spikeport.cli_arrays import report_graph

        return report_graph(args)
    _refuse(args, ("labels", "out"), "applies with a deploy graph file and --inputs FILE.npy")

    report = stage_report(Path(args.run_dir), chip=args.chip, strict=args.strict, energy_proxy=args.energy_proxy)
    print("\n".join([*report["summary"], f"report: {Path(args.run_dir) / REPORT_FILE}"]))
    if args.format != "json":
        from spikeport.report_render import render_report

        rendered = render_report(Path(args.run_dir), report, args.format)
        print(f"{args.format}: " + ", ".join(str(p) for p in rendered))
        report = {**report, "rendered": [str(p) for p in rendered]}
    _result(args, {**report, "report_file": str(Path(args.run_dir) / REPORT_FILE)})
    return 0 if report["bit_exact"] else 1


def _family_step(args: argparse.Namespace, hook: str) -> int:
    """Run a family hook (`adapt`, `evaluate`) on a run directory and print its summary."""
    from spikeport.rundir import model_family_name
    from spikeport.train.models import family_names, get_family

    run_dir = Path(args.run_dir)
    family = get_family(model_family_name(run_dir))
    step = getattr(family, hook)
    if step is None:
        having = ", ".join(n for n in family_names() if getattr(get_family(n), hook) is not None)
        raise ModelFamilyError(
            f"model family {family.name!r} of {run_dir} has no `{hook}` step; families with one: {having} "
            "(`spikeport train --model NAME`)"
        )
    from spikeport.train.distributed import check_family_step

    check_family_step(hook, family.name)  # under torchrun, only steps that share their work run
    options = {k: v for k, v in vars(args).items() if k not in ("command", "run_dir", "no_progress", "json")}
    family.refuse_unused(hook, options)  # an option this family's step would not read is an error, not ignored
    result = step(run_dir, options, _progress(args))
    if result["summary"]:  # empty on ranks other than 0 under torchrun
        print("\n".join(result["summary"]))
        _result(args, dict(result))
    return 0


def cmd_adapt(args: argparse.Namespace) -> int:
    return _family_step(args, "adapt")


def cmd_evaluate(args: argparse.Namespace) -> int:
    return _family_step(args, "evaluate")


def _run(args: argparse.Namespace) -> int:
    """Run the subcommand; under torchrun inside the process group, or refused (docs/scaling.md)."""
    from spikeport.train.distributed import run_command  # imports torch only under torchrun

    return run_command(args.command, lambda: COMMANDS[args.command](args))


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
    with warnings.catch_warnings():
        warnings.showwarning = one_line_warnings(None)
        parser = build_parser()
        args, extra = parser.parse_known_args(argv)
    if extra:  # one line that says which commands take such an option (e.g. --chip: quantize, report)
        parser.exit(2, unrecognized(parser, args.command, extra))
    try:
        with warnings.catch_warnings():
            warnings.showwarning = one_line_warnings(args.command)
            if not args.json:
                return _run(args)
            with contextlib.redirect_stdout(io.StringIO()):  # --json: the object is the only output on stdout
                code = _run(args)
            if hasattr(args, "result"):  # none on ranks other than 0 under torchrun
                print(json_text(args.result))
            return code
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
