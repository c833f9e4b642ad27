"""spikeport's public Python API: a NIR file to a bit-exact Lava run and an energy report in five lines.

    import spikeport

    net = spikeport.load_nir("model.nir", dt=1e-3)
    graph = spikeport.quantize(net, calibration=x)
    lava = spikeport.simulate(graph, x, backend="lava")
    print(spikeport.compare(spikeport.simulate(graph, x), lava))
    print(spikeport.report(graph, x, labels=y))

Every name here is exported by `spikeport` (`spikeport.__all__`) and stays stable; the modules behind it are
internal. The command line runs the same functions (`spikeport import`, `simulate`, `validate`, `report`).
Training by model family (`train`), a run directory from the user's own arrays (`make_run`, layout in
docs/run-directory.md) and reading one back (`load_run`) complete it. Errors are `spikeport.errors.SpikeportError`
subclasses with one-line messages.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from spikeport.api_runs import Run, load_run, make_run, train
from spikeport.errors import SpikeportError
from spikeport.ir.formats import DEFAULT_CHIP
from spikeport.ir.graph import DeployGraph

if TYPE_CHECKING:
    from spikeport.export import ParsedNetwork
    from spikeport.simulators import Comparison, RunRecord
    from spikeport.targets import QuantizationReport

__all__ = [
    "BACKENDS",
    "DEFAULT_CHIP",
    "QuantizedGraph",
    "Report",
    "Run",
    "compare",
    "load_nir",
    "load_run",
    "make_run",
    "quantize",
    "report",
    "simulate",
    "train",
]

BACKENDS = ("reference", "lava")
"""`simulate` backends: the integer reference (numpy/torch, batched) and Lava's `fixed_pt` CPU models."""
CALIBRATION = {"samples": 16, "steps": 50, "rate": 0.2, "seed": 0}
"""The seeded random spikes `quantize` calibrates on without `calibration` (as `spikeport import` does)."""


@dataclass(frozen=True, kw_only=True)
class QuantizedGraph(DeployGraph):
    """A deploy graph as `quantize` returns it: a `DeployGraph`, with the quantizer's account attached."""

    quantization: QuantizationReport | None = field(default=None, compare=False, repr=False)
    """The `spikeport.targets.QuantizationReport`: per synapse and population, the exponent, scale, errors and
    clipped values (`.summary_lines()`, `.to_dict()`)."""


def load_nir(
    path: str | Path, *, dt: float | None = None, tau_convention: str = "seconds", reset: str | None = None
) -> ParsedNetwork:
    """Read and validate a NIR file from any framework into spikeport's float network.

    Args:
        path: the `.nir` file (snnTorch, Norse, Sinabs, Rockpool, spikeport, ...).
        dt: step in seconds; needed when the file records none (snnTorch writes for 1e-4 s, Sinabs for one
            step, 1, Norse for 1e-3 s), and overrides the one it records.
        tau_convention: "seconds" (NIR), or "norse" for files written by norse <= 1.1's `to_nir`.
        reset: what a spike does to v, which NIR cannot record: None, what the file says (reset to `v_reset`,
            with a warning if the file looks like snnTorch's or Sinabs's export, whose default subtracts the
            threshold); "zero", the same, confirmed; "subtract", refused (the chip resets v to zero).

    Returns:
        The float network (`spikeport.export.ParsedNetwork`): populations, synapses, dt; the input of `quantize`.

    Raises:
        CorruptFileError: the file is missing or not NIR.
        IRValidationError: no dt, bad parameters or shapes (the message names the node and, for dt, `--dt`).
        UnsupportedNodeError: a node or construct the chip cannot run, or `reset="subtract"`.
    """
    from spikeport.export import parse_nir, read_nir

    return parse_nir(read_nir(path), dt=dt, tau_convention=tau_convention, reset=reset)


def quantize(
    net: ParsedNetwork, *, chip: str = DEFAULT_CHIP, calibration: np.ndarray | None = None, weight_bits: int = 8
) -> QuantizedGraph:
    """Quantize a float network to a chip's integer formats.

    Args:
        net: the float network (`load_nir`).
        chip: a shipped chip ("loihi", the default of the API and the CLI, or "loihi2") or a chip file (.toml).
        calibration: (samples, steps, n_in) spike inputs whose float run sets each layer's range; None: 16
            seeded random samples of 50 steps at rate 0.2 (as `spikeport import`).
        weight_bits: weight precision, 1..8.

    Returns:
        The deploy graph; its `quantization` attribute holds the quantization report.

    Raises:
        InputDataError: calibration inputs of the wrong shape or values.
        QuantizationRangeError: weight_bits outside the chip's range.
        ChipSpecError: an unknown chip or a bad chip file.
    """
    from spikeport.nir_import import random_spikes
    from spikeport.targets.quantize import quantize as quantize_network

    if calibration is None:
        calibration = random_spikes(net.input_size, **CALIBRATION)
    graph, details = quantize_network(net, calibration_inputs=calibration, num_weight_bits=weight_bits, chip=chip)
    values = {f.name: getattr(graph, f.name) for f in dataclasses.fields(DeployGraph)}
    return QuantizedGraph(**values, quantization=details)


def simulate(
    graph: DeployGraph,
    inputs: np.ndarray,
    *,
    backend: str = "reference",
    workers: int = 1,
    progress: bool = False,
    strict: bool = False,
    lava_config: str = "cpu",
) -> RunRecord:
    """Run a deploy graph on the integer reference or on Lava and record spikes, u and v of every step.

    Args:
        graph: the deploy graph (`quantize`, or `spikeport.ir.load_deploy_graph` of a `.deploy.npz`).
        inputs: (samples, steps, n_in) spike inputs.
        backend: "reference" or "lava" (Lava `fixed_pt` on the CPU).
        workers: Lava processes running samples in parallel (backend "lava" only).
        progress: show a progress bar (Lava).
        strict: raise `SaturationError` if any value saturates or wraps (counted by the reference, which runs
            first for a Lava run) instead of counting it in the record.
        lava_config: Lava run configuration, "cpu" (`fixed_pt` models) or "loihi2-hw" (needs lava-loihi).

    Returns:
        The `spikeport.simulators.RunRecord`: per population, spikes, u and v of shape (samples, steps, n).

    Raises:
        SpikeportError: an unknown backend, or workers or lava_config with the reference.
        SaturationError: with `strict`, a value saturated or wrapped.
        InputDataError: inputs of the wrong shape or values.
        SimulationError: Lava failed (nothing is left running).
    """
    if backend not in BACKENDS:
        raise SpikeportError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if not isinstance(workers, int) or workers < 1:
        raise SpikeportError(f"workers must be a whole number >= 1, got {workers!r}")
    from spikeport.simulators import run_reference

    if backend == "reference":
        if workers != 1 or lava_config != "cpu":
            raise SpikeportError("workers and lava_config apply to backend 'lava' only; the reference runs batched")
        return run_reference(graph, inputs, strict=strict)
    if strict:  # Lava's stock processes count nothing: the reference, bit-exact with them, finds what saturates
        run_reference(graph, inputs, strict=True)
    from spikeport.simulators.lava import run_lava

    return run_lava(graph, inputs, progress=progress, config=lava_config, workers=workers)


def compare(a: RunRecord, b: RunRecord) -> Comparison:
    """Compare two runs of one graph on the same inputs, value by value (spikes, u, v, learned weights).

    Args:
        a, b: `RunRecord`s (`simulate`), e.g. the reference's and Lava's.

    Returns:
        The `spikeport.simulators.Comparison`: `.bit_exact`, counts per population, the first mismatch; `str()`
        gives "BIT-EXACT: reference vs lava, N values compared (spikes, u, v), 0 differ" and the details.

    Raises:
        RecordMismatchError: the runs record different populations or shapes (other graphs or inputs).
    """
    from spikeport.simulators import compare_runs

    return compare_runs(a, b)


@dataclass(frozen=True)
class Report:
    """A deploy graph's report on given inputs: task metrics (with labels), saturation, ops, mapping, energy and
    latency; `str()` is its summary. The content's layout is described in docs/api.md."""

    content: dict
    """The JSON-serializable report (`spikeport.report.build_graph_report`)."""

    def __str__(self) -> str:
        return "\n".join(self.content["summary"])

    @property
    def summary(self) -> list[str]:
        """The summary, one line per entry."""
        return list(self.content["summary"])

    @property
    def metrics(self) -> dict | None:
        """Task metrics of the integer reference ({"accuracy": ...}, or R² and Pearson r), None without labels."""
        performance = self.content["performance"]
        return None if performance is None else performance["metrics"]

    @property
    def energy(self) -> dict:
        """The energy block: the selected chip's estimate and every comparison row, each with its source."""
        return self.content["energy"]

    def to_json(self) -> str:
        """The report as JSON text."""
        return json.dumps(self.content, indent=2)

    def save(self, path: str | Path) -> Path:
        """Write the report as JSON (atomically); returns the path."""
        from spikeport.files import write_json

        return write_json(path, self.content)


def report(
    graph: DeployGraph,
    inputs: np.ndarray,
    *,
    labels: np.ndarray | None = None,
    chip: str | None = None,
    energy_proxy: str | None = None,
    record: RunRecord | None = None,
    source: str = "inputs",
    labels_source: str = "labels",
) -> Report:
    """Score a deploy graph on inputs (and labels): accuracy or R², ops, mapping, latency and energy per chip.

    Runs the integer reference once (bit-exact with Lava, which `compare` shows), then counts operations in every
    convention and estimates one inference on every chip model, each figure with its published source.

    Args:
        graph: the deploy graph.
        inputs: (samples, steps, n_in) spike inputs.
        labels: class indices (samples,) or targets (samples, outputs); None: no task metrics.
        chip: chip to map onto and estimate; None: the graph's chip.
        energy_proxy: chip whose per-operation figures stand in for one without them (Loihi 2), labelled PROXY.
        record: the reference run of `inputs`, to reuse one already made.
        source, labels_source: what to call the inputs and labels in messages and in the report (file names).

    Returns:
        The `Report` (print it, `.metrics`, `.energy`, `.save(path)`).

    Raises:
        InputDataError: inputs or labels of the wrong shape or values.
        ChipCapacityError: the graph does not fit the chip.
        EnergyModelError: the chip has no energy figures and no proxy is given, or the graph records no dt.
    """
    from spikeport.report import build_graph_report

    content = build_graph_report(
        graph,
        inputs,
        labels=labels,
        chip=chip,
        energy_proxy=energy_proxy,
        record=record,
        source=source,
        labels_source=labels_source,
    )
    return Report(content)
