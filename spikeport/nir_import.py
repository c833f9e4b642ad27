"""`spikeport import`: a NIR graph from any framework to a validated Loihi deploy graph, with its float fidelity."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spikeport.agreement import FLAG_AGREEMENT, LayerAgreement, float_int_agreement
from spikeport.checks import check_spike_inputs
from spikeport.errors import SpikeportError
from spikeport.export import ParsedNetwork, parse_nir, read_nir, simulate_float
from spikeport.export.nir_norse_check import NorseCheck, norse_cross_check
from spikeport.ir import DeployGraph
from spikeport.ir.formats import DEFAULT_CHIP
from spikeport.simulators import run_reference
from spikeport.targets import QuantizationReport, quantize


@dataclass(frozen=True)
class ImportResult:
    """An imported graph: its float network, its deploy graph, and what quantization did to it."""

    network: ParsedNetwork
    graph: DeployGraph
    quantization: QuantizationReport
    agreement: list[LayerAgreement]
    inputs: np.ndarray
    """The inputs (samples, steps, n_in) the agreement was measured on: `--inputs`, else the calibration inputs."""
    norse_checks: list[NorseCheck]
    """spikeport's float spikes against norse's `from_nir` on the same inputs, per population."""
    agreement_before: list[LayerAgreement] | None = None
    """With `--distill`: the agreement of the quantized graph before distillation (None otherwise)."""

    def fidelity_lines(self) -> list[str]:
        """Float vs integer agreement per layer, and the float cross-check against norse, as printable lines."""
        samples, steps, _ = self.inputs.shape
        return [
            f"float vs integer (reference) per layer, {samples} samples x {steps} steps:",
            *(f"  {layer.describe()}" for layer in self.agreement),
            *(
                f"  {a.name}: {a.score:.2%} before distillation -> {b.score:.2%} after"
                for a, b in zip(self.agreement_before or (), self.agreement, strict=False)
                if a.tested
            ),
            "float cross-check against norse's own NIR reader (norse.torch.from_nir):",
            *(f"  {check.describe()}" for check in self.norse_checks),
        ]


def random_spikes(size: int, *, samples: int, steps: int, rate: float, seed: int) -> np.ndarray:
    """Seeded Bernoulli spike inputs (samples, steps, size)."""
    rng = np.random.default_rng(seed)
    return (rng.random((samples, steps, size)) < rate).astype(np.int64)


def _same_file(a: Path, b: Path) -> bool:
    """True if two paths name one file: equal once resolved (symbolic links followed), or hard links of one file."""
    if a.resolve() == b.resolve():
        return True
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def check_outputs(source: str | Path, outputs: Sequence[str | Path | None]) -> None:
    """Refuse output paths that would overwrite the input graph, or each other, before anything is computed.

    Args:
        source: the graph being imported.
        outputs: the files the import will write (None: not written).

    Raises:
        SpikeportError: naming both paths.
    """
    source, written = Path(source), []
    for out in (Path(o) for o in outputs if o is not None):
        if _same_file(out, source):
            raise SpikeportError(
                f"output {str(out)!r} is the input graph {str(source)!r}: the import would overwrite its own input; "
                "give another output path"
            )
        for other in written:
            if _same_file(out, other):
                raise SpikeportError(
                    f"outputs {str(other)!r} and {str(out)!r} are one file: the second would overwrite the first; "
                    "give two different output paths"
                )
        written.append(out)


def import_nir(
    path: str | Path,
    *,
    dt: float | None = None,
    tau_convention: str = "seconds",
    chip: str = DEFAULT_CHIP,
    calibration: np.ndarray | None = None,
    samples: int = 16,
    steps: int = 50,
    rate: float = 0.2,
    seed: int = 0,
    outputs: Sequence[str | Path | None] = (),
    reset: str | None = None,
    inputs: np.ndarray | None = None,
    inputs_source: str = "inputs",
    threshold: float = FLAG_AGREEMENT,
    distill_epochs: int = 0,
    calibration_label: str | None = None,
    fine_weights: bool = False,
) -> ImportResult:
    """Read, validate and quantize a `.nir` file; compare float and integer runs on the check inputs.

    Args:
        path: the NIR file.
        dt: simulation step in seconds if the graph records none.
        tau_convention: "seconds", or "norse" for graphs written by norse <= 1.1's `to_nir`.
        chip: chip id for the deploy graph.
        calibration: (samples, steps, n_in) inputs that set the ranges and choose each layer's scale (`--calibration`,
            e.g. the graph's own test inputs); default: seeded random spikes of `rate`, labelled so in the report.
        outputs: the files the caller will write from the result; refused up front if one is `path` or two are
            one file (`check_outputs`).
        reset: what a spike does to v, which NIR cannot record: None (the file's v_reset), "zero" or "subtract"
            (refused: the chip resets to zero); see `spikeport.export.parse_nir`.
        inputs: (samples, steps, n_in) inputs the float-vs-integer check runs on (`--inputs`); default: the
            calibration inputs.
        inputs_source: where `inputs` came from, for error messages (a file name).
        calibration_label: where `calibration` came from, for the report and error messages (e.g. "--calibration
            FILE"); default: "given inputs", or the random spikes' rate and count.
        fine_weights: a second Dense per synapse for its weights' rounding residual (`quantize(fine_weights=)`).
        threshold: agreement (fraction) below which a layer is flagged with its cause (`--min-agreement`).
        distill_epochs: with >= 1, fine-tune the integer weights against the float graph on the calibration
            inputs (`spikeport.train.distill`, `--distill`); `agreement_before` then holds the quantizer's verdict.
    """
    check_outputs(path, outputs)
    net = parse_nir(read_nir(path), dt=dt, tau_convention=tau_convention, reset=reset)
    if inputs is not None:
        inputs = check_spike_inputs(inputs, source=inputs_source, n_in=net.input_size, n_in_of="the NIR graph's input")
    if calibration_label is None:
        given = calibration is not None
        calibration_label = "given inputs" if given else f"random spikes, rate {rate}, {samples} samples (default)"
    if calibration is not None:
        calibration = check_spike_inputs(
            calibration,
            source=calibration_label,
            field="calibration",
            n_in=net.input_size,
            n_in_of="the NIR graph's input",
        )
    else:
        calibration = random_spikes(net.input_size, samples=samples, steps=steps, rate=rate, seed=seed)
    inputs = calibration if inputs is None else inputs
    graph, report = quantize(
        net,
        calibration_inputs=calibration,
        chip=chip,
        metadata={"imported_from": Path(path).name},
        calibration_label=calibration_label,
        fine_weights=fine_weights,
    )
    float_run = simulate_float(net, inputs)
    approximations = {p.name: p.approximations for p in report.populations}

    def verdict(g: DeployGraph) -> list[LayerAgreement]:
        record = run_reference(g, inputs)
        return float_int_agreement(
            net, g, inputs, record, float_run, threshold=threshold, approximations=approximations
        )

    agreement, before = verdict(graph), None
    if distill_epochs:  # label-free fine-tuning against the float graph (spikeport.train.distill)
        from spikeport.train.distill import distill

        graph = distill(graph, net, calibration, epochs=distill_epochs, seed=seed).graph
        before, agreement = agreement, verdict(graph)
    norse_checks = norse_cross_check(net, inputs, {name: trace.spikes for name, trace in float_run.items()})
    return ImportResult(net, graph, report, agreement, inputs, norse_checks, before)
