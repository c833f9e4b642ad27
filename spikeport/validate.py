"""`spikeport validate`: the reference simulator and Lava on the same inputs, compared bit for bit."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from spikeport.errors import SpikeportError
from spikeport.ir import DeployGraph, load_deploy_graph
from spikeport.nir_import import random_spikes
from spikeport.simulators import Comparison, compare_runs, run_reference
from spikeport.simulators.lava import run_lava

DEFAULT_RANDOM_SAMPLES, DEFAULT_RANDOM_STEPS = 16, 50


def validate_graph(
    graph: DeployGraph, inputs: np.ndarray, *, progress: bool = False, training_forward: bool = False
) -> list[Comparison]:
    """Run `inputs` through the reference and Lava (and, if asked, the training-time integer forward pass) and
    compare every spike, u and v; the first comparison is always reference vs Lava."""
    reference = run_reference(graph, inputs)
    comparisons = [compare_runs(reference, run_lava(graph, inputs, progress=progress))]
    if training_forward:
        from spikeport.targets.qat import IntegerNetwork

        comparisons.append(compare_runs(reference, IntegerNetwork(graph).record(inputs)))
    return comparisons


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
) -> list[Comparison]:
    """Validate a run directory (its test inputs, and the training-time integer forward of its model), a
    deploy-graph file, or a `.nir` file (imported and quantized first; seeded random inputs for both)."""
    from spikeport.pipeline import DEPLOY_FILE, load_data

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
        return validate_graph(result.graph, result.inputs, progress=progress)
    if target.is_dir():
        graph = load_deploy_graph(target / DEPLOY_FILE)
        inputs = load_data(target)["x_test"]
        if steps is not None:
            raise SpikeportError("--steps applies to random inputs only; a run directory's inputs have fixed length")
        inputs = inputs[:samples] if samples is not None else inputs
        return validate_graph(graph, inputs, progress=progress, training_forward=True)
    if target.is_file():
        graph = load_deploy_graph(target)
        inputs = random_spikes(
            graph.input.size,
            samples=samples or DEFAULT_RANDOM_SAMPLES,
            steps=steps or DEFAULT_RANDOM_STEPS,
            seed=seed,
            rate=rate,
        )
        return validate_graph(graph, inputs, progress=progress)
    raise SpikeportError(f"{target} is neither a run directory nor a deploy graph file")
