"""The command line on the user's own data and models: `--inputs FILE.npy`, `--labels FILE.npy`, `--reset`.

`spikeport simulate` and `spikeport report` run a deploy graph (a `.deploy.npz` file, e.g. from `spikeport import`,
or a run directory's) on the user's inputs through the public API (`spikeport.api.simulate`, `spikeport.api.report`);
`import` and `validate` read the same options with `read_inputs` and `read_labels`. Options that only mean
something with `--inputs` are refused without it, so none is silently ignored. The options are declared here
(`add_user_arrays`, `add_reset`) and added to their commands by `spikeport.cli_parser`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from spikeport.cli_args import path as path_arg
from spikeport.cli_args import stderr_is_terminal
from spikeport.errors import SpikeportError

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "add_reset",
    "add_user_arrays",
    "graph_of",
    "read_inputs",
    "read_labels",
    "report_graph",
    "simulate_inputs",
]


def add_user_arrays(p: argparse.ArgumentParser, what: str, *, labels: bool = True) -> None:
    """`--inputs FILE.npy` (the user's own spike inputs) and, where accuracy is meaningful, `--labels FILE.npy`."""
    p.add_argument(
        "--inputs",
        type=path_arg,
        default=None,
        metavar="FILE.npy",
        help=f"your own spike inputs, shape (samples, steps, channels), 0/1 or integer payloads: {what}",
    )
    if labels:
        p.add_argument(
            "--labels",
            type=path_arg,
            default=None,
            metavar="FILE.npy",
            help="labels of the --inputs samples (class indices, or targets for regression): adds task metrics",
        )


def add_reset(p: argparse.ArgumentParser) -> None:
    """`--reset zero|subtract`: the reset rule a NIR file cannot record (`spikeport.export.nir_origin`)."""
    p.add_argument(
        "--reset",
        choices=("zero", "subtract"),
        default=None,
        help="what a spike does to v in the model, which NIR cannot record: zero (set v to v_reset, what the chip "
        "does) or subtract (the threshold; snnTorch's and sinabs's default, refused: the chip resets to zero); "
        "default: what the file says, with a warning if it looks like snnTorch's or sinabs's export",
    )


def read_inputs(args: argparse.Namespace) -> np.ndarray | None:
    """The array of `--inputs` (shape and values are checked where the graph's input size is known), or None."""
    from spikeport.files import read_array

    return None if getattr(args, "inputs", None) is None else read_array(args.inputs, "--inputs")


def read_labels(args: argparse.Namespace) -> np.ndarray | None:
    """The array of `--labels` (checked against the graph's readout where it is scored), or None."""
    from spikeport.files import read_array

    return None if getattr(args, "labels", None) is None else read_array(args.labels, "--labels")


def graph_of(target: Path):
    """The deploy graph of a `.deploy.npz` file, or of a run directory (checked against its manifest)."""
    from spikeport.ir import load_deploy_graph

    if target.is_dir():
        from spikeport.rundir import DEPLOY_FILE, require

        return load_deploy_graph(require(target, DEPLOY_FILE))
    if not target.exists():
        raise SpikeportError(f"{target} does not exist; give a run directory or a deploy graph file (.deploy.npz)")
    return load_deploy_graph(target)


def _checked_inputs(args: argparse.Namespace, graph) -> np.ndarray:
    from spikeport.checks import check_spike_inputs

    return check_spike_inputs(
        read_inputs(args), source=f"--inputs {args.inputs}", n_in=int(graph.input.size), n_in_of="the deploy graph"
    )


def _beside(path: Path, suffix: str) -> Path:
    """`path` with its (double) suffix replaced: G.deploy.npz -> G<suffix>, x.npy -> x<suffix>."""
    stem = path.name.removesuffix(".deploy.npz") if path.name.endswith(".deploy.npz") else path.stem
    return path.with_name(stem + suffix)


def simulate_inputs(args: argparse.Namespace) -> int:
    """`spikeport simulate TARGET --inputs X.npy [--labels Y.npy] [--out R.npz]`: record the run, score it."""
    from spikeport.api import simulate
    from spikeport.report import score, score_line
    from spikeport.simulators import save_record

    if args.split != "test":
        raise SpikeportError(f"--split {args.split} picks a run directory's data; --inputs replaces it (drop one)")
    graph = graph_of(Path(args.run_dir))
    x = _checked_inputs(args, graph)
    labels = read_labels(args)
    record = simulate(
        graph,
        x,
        backend=args.backend,
        workers=args.workers,
        progress=not args.no_progress and stderr_is_terminal(),
        strict=args.strict,
        lava_config=args.lava_config,
    )
    performance = None if labels is None else score(graph, record, labels, labels_source=f"--labels {args.labels}")
    out = Path(args.out) if args.out else _beside(Path(args.inputs), f".record_{args.backend}.npz")
    save_record(record, out)
    args.result = {"backend": args.backend, "inputs": str(args.inputs), "samples": record.num_samples,
                   "steps": record.num_steps, "wall_time_s": record.wall_time_s, "record": str(out),
                   "performance": performance}  # fmt: skip  # printed by `spikeport.cli.main` with --json
    print(
        f"{args.backend}: {record.num_samples} samples x {record.num_steps} steps of {args.inputs} in "
        f"{record.wall_time_s:.2f} s; wrote {out}"
    )
    if performance is not None:
        print(score_line(performance, args.backend))
    return 0


def report_graph(args: argparse.Namespace) -> int:
    """`spikeport report G.deploy.npz --inputs X.npy [--labels Y.npy]`: ops, mapping, latency and energy of a deploy
    graph on the user's inputs, task metrics with labels; writes the report (JSON) to --out."""
    from spikeport.api import report
    from spikeport.simulators.saturation import check_strict

    target = Path(args.run_dir)
    if target.is_dir():
        raise SpikeportError(
            f"--inputs applies to a deploy graph file; the report of run directory {target} scores its test split "
            f"(for other inputs: spikeport report {target / 'model.deploy.npz'} --inputs FILE.npy)"
        )
    if args.inputs is None:
        raise SpikeportError(
            f"{target} is a deploy graph file: give the inputs to report it on with --inputs FILE.npy (and --labels "
            "FILE.npy for accuracy); a run directory's report uses its test split"
        )
    if args.format != "json":
        raise SpikeportError(f"--format {args.format} applies to run directories; a graph's report is JSON (--out)")
    graph = graph_of(target)
    labels = read_labels(args)
    result = report(
        graph,
        _checked_inputs(args, graph),
        labels=labels,
        chip=args.chip,
        energy_proxy=args.energy_proxy,
        source=str(args.inputs),
        labels_source=f"--labels {args.labels}",
    )
    if args.strict:
        check_strict(result.content["saturation"]["counts"], f"the reference run of {target} on {args.inputs}")
    out = result.save(Path(args.out) if args.out else _beside(target, ".report.json"))
    args.result = {**result.content, "report": str(out)}  # printed by `spikeport.cli.main` with --json
    print("\n".join([*result.summary, f"report: {out}"]))
    return 0
