"""The options of the model-family commands: `train`'s and `demo`'s model and data options, `adapt` and `evaluate`.

Which of these options a family reads is declared by the family (`ModelFamily.data_fields`, `adapt_options`,
`evaluate_options`); the CLI refuses the others when given. Split from `spikeport.cli_parser`, which builds the
whole parser from these and the stage commands' options.
"""

from __future__ import annotations

import argparse

from spikeport.cli_args import (
    NON_NEGATIVE,
    POSITIVE,
    POSITIVE_SECONDS,
    SEED,
    add_chip,
    path,
)


def families_text() -> str:
    """The registered model families, one line each (for --help)."""
    from spikeport.train.models import DEFAULT_FAMILY, family_names, get_family

    lines = [f"Model families (train/demo --model NAME; default {DEFAULT_FAMILY}):"]
    for name in family_names():
        family = get_family(name)
        lines.append(f"  {name:<9} {family.task.value}: {family.summary}")
    return "\n".join(lines)


def add_data_options(parser: argparse.ArgumentParser, *, later_stages: bool = False) -> None:
    """Model and data options of `train`; with `later_stages` (`demo`) also those of quantize and report."""
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
    if not later_stages:  # train writes no quantized graph and no energy figures: it takes neither option
        return
    group.add_argument(
        "--finetune-epochs",
        type=NON_NEGATIVE,
        default=None,
        help=f"epochs of quantization-aware fine-tuning through the integer forward pass, >= 0 ({d.finetune_epochs})",
    )
    add_chip(group, "chip whose formats and energy figures to use", d.chip)


def add_adapt(add) -> None:
    p = add(
        "adapt",
        "Adapt a trained run to a new subject or session from a few of its trials (its family's adaptation step: "
        "few-shot Hebbian memory for isam-mtl, a readout refit on the first minutes for rat-snn), then score it on "
        "the rest.",
    )
    p.add_argument("run_dir", type=path, help="run directory written by `spikeport train`")
    p.add_argument("--data-path", type=path, default=None, help="folder (or file) of the new subject's recordings")
    p.add_argument("--subject", type=POSITIVE, default=None, help="subject number to adapt to, >= 1")
    p.add_argument("--shots", type=POSITIVE, default=None, help="trials per class to learn from, >= 1 (default 5)")
    p.add_argument(
        "--minutes", type=POSITIVE_SECONDS, default=None, help="minutes of the new session to adapt on, > 0"
    )
    p.add_argument(
        "--backend",
        choices=("reference", "lava"),
        default=None,
        help="simulator that runs the on-chip adaptation (default reference)",
    )
    p.add_argument("--seed", type=SEED, default=None, help="seed of the shot selection, 0..2**32-1 (default 0)")


def add_evaluate(add) -> None:
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
        default=None,
        help="models to score (default: all three)",
    )
    p.add_argument("--seed", type=SEED, default=None, help="seed of splits and baselines, 0..2**32-1 (default 0)")
