"""`spikeport validate`: the reference simulator and Lava on the same inputs, compared bit for bit."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from spikeport.errors import SpikeportError, UnsupportedNodeError
from spikeport.ir import DeployGraph, load_deploy_graph
from spikeport.nir_import import random_spikes
from spikeport.simulators import Comparison, RunRecord, compare_runs, run_reference
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
) -> list[Comparison]:
    """Run `inputs` through the reference and Lava (and, if asked, the training-time integer forward pass) and
    compare every spike, u and v; the first comparison is always reference vs Lava.

    If the graph records a readout (`metadata["readout"]`, written by `spikeport quantize`) and `echo` is given,
    one line says on how many samples the two backends' predictions through that readout agree. With `strict`,
    any saturation or wrap-around in the reference run raises `SaturationError` before Lava runs.
    """
    reference = run_reference(graph, inputs, strict=strict)
    lava = run_lava(graph, inputs, progress=progress)
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
    return comparisons


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
) -> list[Comparison]:
    """Validate a run directory (its test inputs, and the training-time integer forward of its model), a
    deploy-graph file, or a `.nir` file (imported and quantized first; seeded random inputs for both).

    A run directory's deploy graph and data are checked against its manifest (`spikeport.integrity`) first.
    """
    from spikeport.rundir import DEPLOY_FILE, load_data, open_run, require

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
        )
        echo("\n".join(result.fidelity_lines()))
        return validate_graph(result.graph, result.inputs, progress=progress, strict=strict)
    if target.is_dir():
        manifest = open_run(target)  # both artifacts checked: recorded, unchanged, made from each other's inputs
        graph = load_deploy_graph(require(target, DEPLOY_FILE, manifest))
        inputs = load_data(target, manifest)["x_test"]
        if steps is not None:
            raise SpikeportError("--steps applies to random inputs only; a run directory's inputs have fixed length")
        inputs = inputs[:samples] if samples is not None else inputs
        return validate_graph(graph, inputs, progress=progress, training_forward=True, echo=echo, strict=strict)
    if target.is_file():
        graph = load_deploy_graph(target)
        inputs = random_spikes(
            graph.input.size,
            samples=samples or DEFAULT_RANDOM_SAMPLES,
            steps=steps or DEFAULT_RANDOM_STEPS,
            seed=seed,
            rate=rate,
        )
        return validate_graph(graph, inputs, progress=progress, echo=echo, strict=strict)
    if not target.exists():
        raise SpikeportError(f"{target} does not exist; give a run directory, a .deploy.npz or a .nir file")
    raise SpikeportError(f"{target} is neither a run directory nor a deploy graph file")
