"""The `spikeport` command line: the parser of every subcommand, its options with their types and ranges, and help.

`spikeport.cli` runs the parsed command; this module only describes the interface, so `--help` needs neither
torch nor Lava.
"""

from __future__ import annotations

import argparse
import textwrap

from spikeport import __version__
from spikeport.cli_args import (
    NON_NEGATIVE,
    POSITIVE,
    POSITIVE_SECONDS,
    PROBABILITY,
    SEED,
    OneLineParser,
    integer,
    path,
)
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
  adapt     a trained run -> adapted to a new subject or session from a few trials (on the simulated chip)
  evaluate  a trained run -> its family's protocol next to baselines on the same splits (evaluation.json)
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
    group.add_argument(
        "--data",
        type=str,
        default=None,
        metavar="SOURCE",
        help="data source of the model family: synthetic (default, built in) or a recording layout it reads "
        "(e.g. eegmmidb, mne for isam-mtl; trialdata, neurobench, nwb for rat-snn)",
    )
    group.add_argument("--data-path", type=path, default=None, help="folder (or file) of recorded data")
    group.add_argument(
        "--subjects",
        type=POSITIVE,
        nargs="+",
        default=None,
        metavar="N",
        help=f"with synthetic data: the number of subjects, >= 1 ({d.n_subjects}); with recorded data: the subject "
        "numbers to load (e.g. --subjects 1 2 3 6)",
    )
    group.add_argument("--files", type=path, nargs="+", default=None, help="recordings to read one by one (--data mne)")
    group.add_argument(
        "--events", type=str, default=None, help='event-to-class mapping of --files recordings, e.g. "T1=left,T2=right"'
    )
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


def shipped_chips() -> tuple[str, ...]:
    """Chip targets shipped in the package (`targets/chips/*.toml` with number formats), found without importing
    `spikeport.targets` (which loads torch); the same rule as `spikeport.targets.chip.shipped_chips`."""
    import importlib.util
    import tomllib
    from pathlib import Path

    folder = Path(next(iter(importlib.util.find_spec("spikeport.targets").submodule_search_locations))) / "chips"
    return tuple(sorted(p.stem for p in folder.glob("*.toml") if "kind" not in tomllib.loads(p.read_text())))


def _add_chip(p, help_text: str, default: str = DEFAULT_CHIP, files: bool = False) -> None:
    chips = shipped_chips()

    def chip(value: str) -> str:
        if value in chips or (files and (value.endswith(".toml") or "/" in value)):
            return value
        also = " or the path of a chip file (.toml)" if files else ""
        raise argparse.ArgumentTypeError(f"unknown chip {value!r}; choose {', '.join(chips)}{also}")

    what = f"{'|'.join(chips)}{'|FILE.toml' if files else ''}"
    p.add_argument("--chip", default=default, type=chip, metavar=what, help=f"{help_text} (default %(default)s)")


def _add_tau_convention(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--tau-convention",
        choices=("seconds", "norse"),
        default="seconds",
        help="how a .nir graph stores time constants: seconds (NIR), or as norse <= 1.1's to_nir writes them "
        "(dt * tau, LIFCell w_in unscaled)",
    )


def _add_strict(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--strict",
        action="store_true",
        help="fail (exit 2) if any membrane voltage saturates, any state or channel wraps around, or any weight is "
        "clipped to the chip's range (counted by the integer reference; without it they are counted and reported)",
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

    def add(name: str, help_text: str, *, families: bool = False) -> argparse.ArgumentParser:
        p = sub.add_parser(
            name,
            help=help_text,
            description=textwrap.fill(help_text, 100),
            epilog=_families_text() if families else None,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        p.add_argument("--no-progress", action="store_true", help="hide progress bars")
        return p

    p = add(
        "demo",
        "Run every stage on a model family's default data (the decoder's: SYNTHETIC motor-imagery EEG) and write "
        "DIR/report.json.",
        families=True,
    )
    p.add_argument("--out", type=path, required=True, help="run directory for all artifacts (created)")
    _add_data_options(p)
    p = add(
        "train",
        "Generate a model family's default data (the decoder's: SYNTHETIC motor-imagery EEG), encode it as spikes "
        "and train the model.",
        families=True,
    )
    p.add_argument(
        "--out", type=path, required=True, help="run directory (created): writes data.npz, model.pt, training.json"
    )
    _add_data_options(p)
    p = add("export", "Export the trained model of a run directory as a NIR graph (model.nir), ONNX or netx.")
    p.add_argument("run_dir", type=path, help="run directory written by `spikeport train`")
    p.add_argument(
        "--to",
        choices=("nir", "onnx", "netx"),
        default="nir",
        help="nir: model.nir (default); onnx: float twin + one SNN step as ONNX, MACs and CPU latency "
        "(onnx_twin.json); netx: the deploy graph in lava-dl's netx HDF5 layout (model.netx.h5)",
    )
    p = add("quantize", "Quantize model.nir to Loihi integer formats (model.deploy.npz, quantization.json).")
    p.add_argument("run_dir", type=path, help="run directory with model.nir")
    _add_chip(p, "target chip (a shipped chip, or a chip file with other formats)", files=True)
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
    )
    p.add_argument("run_dir", type=path, help="run directory with model.deploy.npz and data.npz")
    p.add_argument(
        "--backend", choices=("reference", "lava"), default="reference", help="simulator (default %(default)s)"
    )
    p.add_argument("--split", choices=("test", "train"), default="test", help="which inputs (default %(default)s)")
    p.add_argument(
        "--lava-config",
        choices=("cpu", "loihi2-hw"),
        default="cpu",
        help="Lava run configuration: cpu (Loihi2SimCfg fixed_pt, default) or loihi2-hw (Loihi 2 hardware; needs "
        "Intel's lava-loihi extension)",
    )
    _add_strict(p)
    p = add(
        "validate",
        "Run the reference and Lava on the same inputs and compare spikes, u and v at every step. "
        "Exit code 0 only when bit-exact; otherwise the first mismatch is printed.",
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
    _add_strict(p)
    p = add(
        "import",
        "Import a NIR graph written by any framework: validate it, quantize it to Loihi integers (calibrated on "
        "seeded random spikes), print float-vs-integer agreement per layer, and write a deploy graph.",
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
    )
    p.add_argument("run_dir", type=path, help="run directory with both simulation records")
    _add_chip(p, "chip to map onto and estimate (a shipped chip, or a chip file to explore limits)", files=True)
    p.add_argument(
        "--energy-proxy",
        choices=shipped_chips(),
        default=None,
        help="chip whose per-operation figures stand in for a chip without them (Loihi 2), labelled PROXY",
    )
    p.add_argument(
        "--format",
        choices=("json", "md", "html"),
        default="json",
        help="json: report.json only (default); md: also report.md with report_*.png plots; html: also report.html, "
        "one self-contained page with the plots embedded",
    )
    _add_strict(p)
    _add_adapt(add)
    _add_evaluate(add)
    return parser


def _add_adapt(add) -> None:
    p = add(
        "adapt",
        "Adapt a trained run to a new subject or session from a few of its trials (its family's adaptation step: "
        "few-shot Hebbian memory for isam-mtl, fine-tuning on the first minutes for rat-snn), then score it on "
        "the rest.",
    )
    p.add_argument("run_dir", type=path, help="run directory written by `spikeport train`")
    p.add_argument("--data-path", type=path, default=None, help="folder (or file) of the new subject's recordings")
    p.add_argument("--subject", type=POSITIVE, default=None, help="subject number to adapt to, >= 1")
    p.add_argument(
        "--shots", type=POSITIVE, default=5, help="trials per class to learn from, >= 1 (default %(default)s)"
    )
    p.add_argument(
        "--minutes", type=POSITIVE_SECONDS, default=None, help="minutes of the new session to fine-tune on, > 0"
    )
    p.add_argument(
        "--backend",
        choices=("reference", "lava"),
        default="reference",
        help="simulator that runs the on-chip adaptation (default %(default)s)",
    )
    p.add_argument("--seed", type=SEED, default=0, help="seed of the shot selection, 0..2**32-1 (default %(default)s)")


def _add_evaluate(add) -> None:
    p = add(
        "evaluate",
        "Evaluate a trained run with its family's protocol, next to baselines trained on the same splits: tables "
        "per subject or session with 95%% confidence intervals (evaluation.json, plots).",
    )
    p.add_argument("run_dir", type=path, help="run directory written by `spikeport train`")
    p.add_argument(
        "--protocol",
        choices=("loso", "within", "few-shot", "sessions"),
        default=None,
        help="leave-one-subject-out, within-subject, few-shot, or per session (default: the family's)",
    )
    p.add_argument(
        "--shots", type=POSITIVE, nargs="+", default=None, help="trials per class for few-shot rows (default 1 2 5)"
    )
    p.add_argument("--data-path", type=path, default=None, help="folder (or file) of recordings (default: the run's)")
    p.add_argument(
        "--streaming", action="store_true", help="run the deployed model over continuous recordings step by step"
    )
    p.add_argument(
        "--backends",
        nargs="+",
        choices=("float", "reference", "lava"),
        default=("float", "reference", "lava"),
        help="models to score (default: all three)",
    )
    p.add_argument(
        "--seed", type=SEED, default=0, help="seed of splits and baselines, 0..2**32-1 (default %(default)s)"
    )
