"""`spikeport validate`: the reference simulator and Lava on the same inputs, compared bit for bit."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from spikeport.agreement import FLAG_AGREEMENT, LayerAgreement, below_minimum, float_int_agreement
from spikeport.errors import SpikeportError, UnsupportedNodeError
from spikeport.ir import DeployGraph, load_deploy_graph
from spikeport.nir_import import random_spikes
from spikeport.simulators import Comparison, PopulationTrace, RunRecord, compare_runs, run_reference
from spikeport.simulators.lava import run_lava

DEFAULT_RANDOM_SAMPLES, DEFAULT_RANDOM_STEPS = 16, 50


def validate_graph(
    graph: DeployGraph,
    inputs: np.ndarray,
    *,
    progress: bool = False,
    training_forward: bool = False,
    echo: Callable[[str], object] | None = None,
    strict: bool = False,
    workers: int = 1,
    labels: np.ndarray | None = None,
    labels_source: str = "labels",
) -> list[Comparison]:
    """Run `inputs` through the reference and Lava (and, if asked, the training-time integer forward pass) and
    compare every spike, u and v; the first comparison is always reference vs Lava.

    If the graph records a readout (`metadata["readout"]`, written by `spikeport quantize`) and `echo` is given,
    one line says on how many samples the two backends' predictions through that readout agree. With `strict`,
    any saturation or wrap-around in the reference run raises `SaturationError` before Lava runs. `workers` > 1
    splits Lava's samples over that many worker processes; under torchrun they are also split over the ranks
    (`lava_over_ranks`), and only rank 0 compares (the other ranks return no comparison). With `labels` (and
    `echo`), each backend's task metrics through the graph's readout are printed (`spikeport.report.score`).
    """
    reference = run_reference(graph, inputs, strict=strict)
    lava = lava_over_ranks(graph, inputs, progress=progress, workers=workers)
    if lava is None:
        return []
    comparisons = [compare_runs(reference, lava)]
    if training_forward:
        from spikeport.train.qat import IntegerNetwork

        try:
            network = IntegerNetwork(graph)
        except UnsupportedNodeError as exc:  # a graph fine-tuning cannot run is still validated on both backends
            if echo is not None:
                echo(f"training-time integer forward not compared: {exc}")
        else:
            comparisons.append(compare_runs(reference, network.record(inputs)))
    if echo is not None and "readout" in graph.metadata:
        echo(readout_agreement(graph, reference, lava))
    if echo is not None and labels is not None:
        from spikeport.report import score, score_line

        for record in (reference, lava):
            echo(score_line(score(graph, record, labels, labels_source=labels_source), record.backend))
    return comparisons


def lava_over_ranks(graph: DeployGraph, inputs: np.ndarray, *, progress: bool, workers: int) -> RunRecord | None:
    """Lava's record of `inputs`; under torchrun each rank runs its contiguous share of the samples and rank 0
    gets the merged record (`gather_object`), the other ranks None. A plastic graph runs whole on rank 0, since
    its samples depend on each other."""
    from spikeport.simulators import learning
    from spikeport.simulators.lava.shard import concat_records, split_samples
    from spikeport.train import distributed

    if not distributed.active():
        return run_lava(graph, inputs, progress=progress, workers=workers)
    shares = [(0, len(inputs))] if learning.is_plastic(graph) else split_samples(len(inputs), distributed.world_size())
    mine = shares[distributed.rank()] if distributed.rank() < len(shares) else None
    shown = progress and distributed.is_main()
    record = None if mine is None else run_lava(graph, inputs[mine[0] : mine[1]], progress=shown, workers=workers)
    traces = None if record is None else {name: vars(trace) for name, trace in record.populations.items()}
    gathered = distributed.gather_to_main((traces, 0.0 if record is None else record.wall_time_s))  # plain: picklable
    if gathered is None:
        return None
    parts = [
        RunRecord(backend="lava", populations={name: PopulationTrace(**arrays) for name, arrays in part.items()})
        for part, _ in gathered
        if part is not None
    ]
    return concat_records(parts, wall_time_s=max(seconds for _, seconds in gathered))


def readout_agreement(graph: DeployGraph, a: RunRecord, b: RunRecord) -> str:
    """One line: the graph's readout applied to two records, and on how many samples the predictions agree."""
    from spikeport.train.models import readout_of, readout_scale

    readout, scale = readout_of(graph.metadata), readout_scale(graph)
    pred_a, pred_b = readout.apply(a, graph.output, scale), readout.apply(b, graph.output, scale)
    same = pred_a == pred_b
    agree = int(np.count_nonzero(same if same.ndim == 1 else same.all(axis=1)))
    return (
        f"readout {readout.value} ({readout.task.value}): {a.backend} and {b.backend} predictions agree on "
        f"{agree}/{len(pred_a)} samples"
    )


def validate_target(
    target: Path,
    *,
    samples: int | None,
    steps: int | None,
    seed: int,
    rate: float,
    progress: bool,
    dt: float | None = None,
    tau_convention: str = "seconds",
    echo=print,
    strict: bool = False,
    workers: int = 1,
    inputs: np.ndarray | None = None,
    labels: np.ndarray | None = None,
    reset: str | None = None,
    inputs_source: str = "inputs",
    labels_source: str = "labels",
    min_agreement: float | None = None,
) -> list[Comparison]:
    """Validate a run directory (its test inputs, and the training-time integer forward of its model), a
    deploy-graph file, or a `.nir` file (imported and quantized first; seeded random inputs for both).

    A run directory's deploy graph and data are checked against its manifest (`spikeport.integrity`) first.
    `inputs` (the user's, `--inputs`) replace the test or random inputs (the first `samples` of them if given);
    `labels` add each backend's task metrics; `reset` is `parse_nir`'s, for a `.nir` file.

    A `.nir` file or a run directory (both hold the float graph) also gets the fidelity verdict: float vs integer
    per layer (`spikeport.agreement`). With `min_agreement` (a fraction), layers below it are flagged with their
    cause and, after both backends ran, `BelowMinimumAgreement` is raised if a tested layer is below it.
    """
    threshold = FLAG_AGREEMENT if min_agreement is None else min_agreement
    if inputs is not None and steps is not None:
        raise SpikeportError("--steps applies to random inputs only; --inputs have their own length")
    if inputs is not None and samples is not None:  # the first `samples` of the user's inputs, and of their labels
        inputs = np.asarray(inputs)[:samples]
        labels = None if labels is None else np.asarray(labels)[:samples]
    scored = {"labels": labels, "labels_source": labels_source}
    from spikeport.rundir import DEPLOY_FILE, load_data, open_run, require
    from spikeport.train import distributed

    if not distributed.is_main():
        echo = _quiet  # under torchrun only rank 0 prints
    if target.suffix == ".nir":
        from spikeport.nir_import import import_nir  # quantization and NIR parsing only when needed

        result = import_nir(
            target,
            dt=dt,
            tau_convention=tau_convention,
            seed=seed,
            samples=samples or DEFAULT_RANDOM_SAMPLES,
            steps=steps or DEFAULT_RANDOM_STEPS,
            rate=rate,
            reset=reset,
            inputs=inputs,
            inputs_source=inputs_source,
            threshold=threshold,
        )
        echo("\n".join(result.fidelity_lines()))
        comparisons = validate_graph(
            result.graph, result.inputs, progress=progress, strict=strict, workers=workers, echo=echo, **scored
        )
        return _verdict(result.agreement, min_agreement, comparisons)
    if target.is_dir():
        manifest = open_run(target)  # both artifacts checked: recorded, unchanged, made from each other's inputs
        graph = load_deploy_graph(require(target, DEPLOY_FILE, manifest))
        if steps is not None:
            raise SpikeportError("--steps applies to random inputs only; a run directory's inputs have fixed length")
        if inputs is None:
            inputs = load_data(target, manifest)["x_test"]
            inputs = inputs[:samples] if samples is not None else inputs
        else:
            inputs = _checked(inputs, graph, inputs_source)
        try:
            layers = run_fidelity(target, manifest, graph, inputs, threshold)
        except SpikeportError as exc:  # a model whose float graph cannot be compared is still validated bit for bit
            if min_agreement is not None:
                raise
            layers = []
            echo(f"float vs integer: not measured ({exc})")
        else:
            head = f"float vs integer (reference) per layer, {len(inputs)} samples:"
            echo("\n".join([head, *(f"  {layer.describe()}" for layer in layers)]))
        comparisons = validate_graph(
            graph, inputs, progress=progress, training_forward=True, echo=echo, strict=strict, workers=workers, **scored
        )
        return _verdict(layers, min_agreement, comparisons)
    if target.is_file():
        if min_agreement is not None:
            raise SpikeportError(
                f"--min-agreement needs the float graph, which {target.name} does not hold; validate the .nir file "
                "or the run directory instead"
            )
        graph = load_deploy_graph(target)
        if inputs is None:
            inputs = random_spikes(
                graph.input.size,
                samples=samples or DEFAULT_RANDOM_SAMPLES,
                steps=steps or DEFAULT_RANDOM_STEPS,
                seed=seed,
                rate=rate,
            )
        else:
            inputs = _checked(inputs, graph, inputs_source)
        return validate_graph(graph, inputs, progress=progress, echo=echo, strict=strict, workers=workers, **scored)
    if not target.exists():
        raise SpikeportError(f"{target} does not exist; give a run directory, a .deploy.npz or a .nir file")
    raise SpikeportError(f"{target} is neither a run directory nor a deploy graph file")


class BelowMinimumAgreement(Exception):
    """A tested layer agrees with the float graph less than `--min-agreement` (exit code 1, not a usage error)."""

    def __init__(self, layer: LayerAgreement, minimum: float, comparisons: list[Comparison]) -> None:
        what = "of spikes" if layer.spiking else f"({layer.output_metric})"
        super().__init__(
            f"layer {layer.name!r} agrees {layer.score:.2%} {what} with the float graph, below --min-agreement "
            f"{minimum * 100:g}%" + (f"; cause: {layer.cause}" if layer.cause else "")
        )
        self.layer, self.comparisons = layer, comparisons


def _verdict(layers: list[LayerAgreement], minimum: float | None, comparisons: list[Comparison]) -> list[Comparison]:
    """`comparisons`, or `BelowMinimumAgreement` naming the worst tested layer when it is below `minimum`."""
    worst = below_minimum(layers, minimum) if minimum is not None and comparisons else None
    if worst is not None:
        raise BelowMinimumAgreement(worst, minimum, comparisons)
    return comparisons


def run_fidelity(
    run_dir: Path, manifest, graph: DeployGraph, inputs: np.ndarray, threshold: float
) -> list[LayerAgreement]:
    """Float (the run's `model.nir`) vs integer (the reference on the deploy graph) per layer, with the causes
    the quantization report (`quantization.json`) lists; readouts are scored by the run's task."""
    import json

    from spikeport.export import parse_nir, read_nir
    from spikeport.rundir import NIR_FILE, QUANT_FILE, require
    from spikeport.simulators import run_reference
    from spikeport.targets.approximations import Approximation

    net = parse_nir(read_nir(require(run_dir, NIR_FILE, manifest)))
    try:
        report = json.loads(require(run_dir, QUANT_FILE, manifest).read_text())
    except (SpikeportError, OSError, ValueError):  # no report: the verdict names no approximation
        report = {}
    approximations = {
        p["name"]: tuple(Approximation(**a) for a in p.get("approximations", ())) for p in report.get("populations", ())
    }
    record = run_reference(graph, inputs)
    task = graph.metadata.get("task")
    return float_int_agreement(
        net, graph, inputs, record, threshold=threshold, task=task, approximations=approximations
    )


def _checked(inputs: np.ndarray, graph: DeployGraph, source: str) -> np.ndarray:
    """The user's inputs, checked against the deploy graph's input size (`check_spike_inputs`)."""
    from spikeport.checks import check_spike_inputs

    return check_spike_inputs(inputs, source=source, n_in=int(graph.input.size), n_in_of="the deploy graph")


def _quiet(*_: object) -> None:
    """An `echo` that prints nothing (ranks other than 0)."""
