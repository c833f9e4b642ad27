"""`spikeport import`: a NIR graph from any framework to a validated Loihi deploy graph, with its float fidelity."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spikeport.agreement import LayerAgreement, float_int_agreement
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
    """The calibration inputs (samples, steps, n_in) the agreement was measured on."""
    norse_checks: list[NorseCheck]
    """spikeport's float spikes against norse's `from_nir` on the same inputs, per population."""

    def fidelity_lines(self) -> list[str]:
        """Float vs integer agreement per layer, and the float cross-check against norse, as printable lines."""
        samples, steps, _ = self.inputs.shape
        return [
            f"float vs integer (reference) per layer, {samples} samples x {steps} steps:",
            *(f"  {layer.describe()}" for layer in self.agreement),
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
) -> ImportResult:
    """Read, validate and quantize a `.nir` file; compare float and integer runs on the calibration inputs.

    Args:
        path: the NIR file.
        dt: simulation step in seconds if the graph records none.
        tau_convention: "seconds", or "norse" for graphs written by norse <= 1.1's `to_nir`.
        chip: chip id for the deploy graph.
        calibration: (samples, steps, n_in) inputs; default: seeded random spikes of `rate`.
        outputs: the files the caller will write from the result; refused up front if one is `path` or two are
            one file (`check_outputs`).
    """
    check_outputs(path, outputs)
    net = parse_nir(read_nir(path), dt=dt, tau_convention=tau_convention)
    inputs = (
        calibration
        if calibration is not None
        else random_spikes(net.input_size, samples=samples, steps=steps, rate=rate, seed=seed)
    )
    graph, report = quantize(net, calibration_inputs=inputs, chip=chip, metadata={"imported_from": Path(path).name})
    float_run = simulate_float(net, inputs)
    agreement = float_int_agreement(net, graph, inputs, run_reference(graph, inputs), float_run)
    norse_checks = norse_cross_check(net, inputs, {name: trace.spikes for name, trace in float_run.items()})
    return ImportResult(net, graph, report, agreement, inputs, norse_checks)
