"""Deploying a RAT-SNN model in code (what `spikeport export` + `quantize` do for a run directory) and running it.

`adapt` deploys the adapted model without writing a run directory's files: the model is written as NIR
(`export_nir.rat_snn_to_nir`), parsed, quantized with calibration windows (the same call and metadata as the
pipeline's quantize stage; no integer fine-tuning, the family's default `finetune_epochs` 0), and run on the integer
reference and on Lava `fixed_pt`. Predictions come from the graph's readout (`Readout.LAST_V`: the integer voltage
at the last step divided by the readout's quantization scale), in the training targets' units (velocity / y_scale).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from spikeport.train.models.readout import Readout, readout_scale

__all__ = ["BackendRun", "deploy", "run_backend"]


def deploy(model, calibration: np.ndarray, info: Mapping[str, Any], *, chip: str | None = None):
    """The deploy graph of `model`, calibrated on `calibration` windows; returns (graph, quantization report dict)."""
    from spikeport.export import parse_nir
    from spikeport.ir.formats import DEFAULT_CHIP
    from spikeport.targets.quantize import quantize
    from spikeport.train.models.rat_snn.export_nir import rat_snn_to_nir

    net = parse_nir(rat_snn_to_nir(model, info))
    graph, report = quantize(
        net,
        calibration_inputs=calibration,
        num_weight_bits=8,
        chip=chip or DEFAULT_CHIP,
        metadata={"output_names": list(info.get("output_names", ("vel_x", "vel_y"))), "model": "rat-snn",
                  "task": "regression", "readout": Readout.LAST_V.value},
        input_message_bits=int(info.get("input_message_bits", 0)),
    )
    return graph, report.to_dict()


@dataclass(frozen=True)
class BackendRun:
    """Predictions of a deploy graph on one backend, with its record (for op counts) and wall time."""

    backend: str
    predictions: np.ndarray
    record: object
    seconds: float


def run_backend(graph, x: np.ndarray, backend: str, *, progress: bool = False) -> BackendRun:
    """Run `graph` on windows x (n, steps, units) on "reference" or "lava" (`fixed_pt`, the project's runner)."""
    start = time.perf_counter()
    if backend == "lava":
        from spikeport.simulators.lava import run_lava

        record = run_lava(graph, x, progress=progress)
    else:
        from spikeport.simulators import run_reference

        record = run_reference(graph, x)
    seconds = time.perf_counter() - start
    predictions = Readout.LAST_V.apply(record, graph.output, readout_scale(graph))
    return BackendRun(backend=backend, predictions=predictions, record=record, seconds=seconds)
