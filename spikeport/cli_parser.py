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
    add_chip,
    integer,
    path,
    real,
    shipped_chips,
)
from spikeport.cli_arrays import add_reset, add_user_arrays
from spikeport.cli_family_options import add_adapt, add_data_options, add_evaluate, families_text

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


def _add_tau_convention(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--tau-convention",
        choices=("seconds", "norse"),
        default=None,
        help="how a .nir graph stores time constants: seconds (NIR, default), or as norse <= 1.1's to_nir writes "
        "them (dt * tau, LIFCell w_in unscaled)",
    )


def _add_strict(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--strict",
        action="store_true",
        help="fail (exit 2) if any membrane voltage saturates, any state or channel wraps around, or any weight is "
        "clipped to the chip's range (counted by the integer reference; without it they are counted and reported)",
    )


def _add_distill(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--distill",
        type=POSITIVE,
        default=None,
        metavar="EPOCHS",
        help="then fine-tune the integer weights without labels for EPOCHS >= 1 passes, so every layer's spikes "
        "follow the float graph's on the calibration inputs (bit-exact on Lava by construction; docs/fidelity.md)",
    )


def _add_min_agreement(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--min-agreement",
        type=real(0.0, 100.0, low_open=True),
        default=None,
        metavar="PERCENT",
        help="fidelity verdict: exit 1 when a tested layer agrees with the float graph on fewer than PERCENT %% of "
        "spikes (readouts: of argmax samples, or R² x 100 for regression), in (0, 100]; also the flag threshold "
        "(default: flag below 95, exit code unaffected; docs/fidelity.md)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="spikeport",
        description=DESCRIPTION,
        epilog=f"{families_text()}\n\n{EXAMPLE}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"spikeport {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, help_text: str, *, families: bool = False, progress: bool = True) -> argparse.ArgumentParser:
        p = sub.add_parser(
            name,
            help=help_text,
            description=textwrap.fill(help_text, 100),
            epilog=families_text() if families else None,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        if progress:  # only commands that show progress bars (on a terminal) take --no-progress
            p.add_argument("--no-progress", action="store_true", help="hide progress bars (shown only on a terminal)")
        p.add_argument(
            "--json", action="store_true", help="print the result as one JSON object on stdout (and nothing else)"
        )
        return p

    p = add(
        "demo",
        "Run every stage on a model family's default data (the decoder's: SYNTHETIC motor-imagery EEG) and write "
        "DIR/report.json.",
        families=True,
    )
    p.add_argument("--out", type=path, required=True, help="run directory for all artifacts (created)")
    add_data_options(p, later_stages=True)
    p = add(
        "train",
        "Generate a model family's default data (the decoder's: SYNTHETIC motor-imagery EEG), encode it as spikes "
        "and train the model.",
        families=True,
    )
    p.add_argument(
        "--out", type=path, required=True, help="run directory (created): writes data.npz, model.pt, training.json"
    )
    add_data_options(p)
    p = add(
        "export",
        "Export the trained model of a run directory as a NIR graph (model.nir), ONNX or netx.",
        progress=False,
    )
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
    add_chip(p, "target chip (a shipped chip, or a chip file with other formats)", files=True)
    p.add_argument("--weight-bits", type=integer(1, 8), default=8, help="weight precision 1..8 (default %(default)s)")
    p.add_argument(
        "--calibration",
        type=path,
        default="train",
        metavar="FILE.npy|train",
        help="inputs (samples, steps, n_in) that set the ranges and choose each layer's scale by behaviour: a .npy "
        "of spikes, or 'train' for the run's training inputs (default %(default)s)",
    )
    p.add_argument(
        "--finetune-epochs",
        type=NON_NEGATIVE,
        default=0,
        help="then fine-tune the integer weights through the integer forward pass, >= 0 (default %(default)s: off)",
    )
    p.add_argument(
        "--seed", type=SEED, default=None, help="seed of the fine-tuning batch order, 0..2**32-1 (default 0)"
    )
    _add_distill(p)
    p = add(
        "simulate",
        "Run the deploy graph on the integer reference or on Lava fixed_pt and record every step.",
    )
    p.add_argument(
        "run_dir",
        type=path,
        help="run directory with model.deploy.npz and data.npz, or a deploy graph file (*.deploy.npz) with --inputs",
    )
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
    p.add_argument(
        "--workers",
        type=POSITIVE,
        default=1,
        help="Lava worker processes, >= 1: the samples are split among them, one Lava runtime each, and merged in "
        "order into the same record (default %(default)s; docs/scaling.md)",
    )
    _add_strict(p)
    add_user_arrays(p, "run on them instead of the run directory's split (the record goes to --out)")
    p.add_argument(
        "--out",
        type=path,
        default=None,
        help="with --inputs: the record to write (default: INPUTS with suffix .record_BACKEND.npz)",
    )
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
    p.add_argument("--seed", type=SEED, default=None, help="seed of random inputs, 0..2**32-1 (default 0)")
    p.add_argument(
        "--rate", type=PROBABILITY, default=None, help="spike probability of random inputs, 0..1 (default 0.2)"
    )
    p.add_argument(
        "--workers",
        type=POSITIVE,
        default=1,
        help="Lava worker processes, >= 1: the samples are split among them (default %(default)s; docs/scaling.md)",
    )
    _add_strict(p)
    _add_min_agreement(p)
    add_user_arrays(p, "compare on them instead of the test split or random spikes (--samples takes the first N)")
    add_reset(p)
    p = add(
        "import",
        "Import a NIR graph written by any framework: validate it, quantize it to Loihi integers (calibrated on "
        "seeded random spikes), print float-vs-integer agreement per layer, and write a deploy graph.",
        progress=False,
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
    add_chip(p, "target chip")
    p.add_argument(
        "--calibration",
        type=path,
        default=None,
        metavar="FILE.npy",
        help="spike inputs (samples, steps, n_in) to calibrate on, e.g. the graph's own test inputs (default: "
        "random spikes from --samples/--steps/--rate/--seed)",
    )
    p.add_argument(
        "--fine-weights",
        action="store_true",
        help="a second Dense per synapse carries the weights' rounding residual: up to 7 more bits of weight "
        "precision for twice the synapses (deep IF stacks)",
    )
    p.add_argument("--samples", type=POSITIVE, default=None, help="random calibration samples, >= 1 (default 16)")
    p.add_argument(
        "--steps", type=POSITIVE, default=None, help="steps per random calibration sample, >= 1 (default 50)"
    )
    p.add_argument("--rate", type=PROBABILITY, default=None, help="random input spike probability, 0..1 (default 0.2)")
    p.add_argument("--seed", type=SEED, default=None, help="seed of the random calibration inputs (default 0)")
    add_user_arrays(p, "check float vs integer agreement on them (default: the calibration inputs)", labels=False)
    _add_min_agreement(p)
    _add_distill(p)
    add_reset(p)
    p = add(
        "report",
        "Compute task metrics (accuracy, or R² and correlation), bit-exactness, SynOps and energy of a simulated "
        "run; write report.json.",
        progress=False,
    )
    p.add_argument(
        "run_dir",
        type=path,
        help="run directory with both simulation records, or a deploy graph file (*.deploy.npz, e.g. from "
        "`spikeport import`) with --inputs",
    )
    add_chip(p, "chip to map onto and estimate (a shipped chip, or a chip file to explore limits)", files=True)
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
    add_user_arrays(p, "report a deploy graph file on them (integer reference: ops, energy, latency)")
    p.add_argument(
        "--out",
        type=path,
        default=None,
        help="with a deploy graph file: the report to write (default: GRAPH with suffix .report.json)",
    )
    add_adapt(add)
    add_evaluate(add)
    return parser


def subcommand_parsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """Each subcommand's parser, by name (for tests that walk every option, and for error messages)."""
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def unrecognized(parser: argparse.ArgumentParser, command: str, extra: list[str]) -> str:
    """The one-line error for arguments `command` does not take, naming the commands that take such an option."""
    parsers = subcommand_parsers(parser)
    flag = next((a.split("=")[0] for a in extra if a.startswith("--")), None)
    takers = sorted(n for n, p in parsers.items() if flag and flag in p._option_string_actions)
    where = f" ({flag} is an option of {', '.join(takers)})" if takers else ""
    given = " ".join(extra)
    return f"spikeport {command}: error: unrecognized arguments: {given}{where}; see `spikeport {command} --help`\n"
