"""What `estimate_energy` returns: one inference's energy terms, latency and operating points, with sources."""

from __future__ import annotations

from dataclasses import dataclass, fields, is_dataclass
from numbers import Integral, Real

from spikeport.targets.figure import Figure

PJ = 1e-12


def _plain(value: object) -> object:
    """A JSON-ready copy: dataclasses as dicts in field order, tuples as lists, numbers as int or float."""
    if isinstance(value, Figure):
        return value.to_dict()
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, bool | str) or value is None:
        return value
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Real):
        return float(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


@dataclass(frozen=True)
class EnergyTerm:
    """One line of an energy sum: operations per inference times energy per operation."""

    name: str
    count: float
    """Operations per inference."""
    convention: str
    """How `count` was counted."""
    coefficient: Figure
    """Energy per operation, pJ, with its source."""
    energy_pj: float


@dataclass(frozen=True)
class Latency:
    """Time of one inference: steps x max(barrier, serialised synop time)."""

    steps: int
    tiles_used: int
    synops_per_step: float
    barrier: Figure
    """Barrier synchronisation per step for `tiles_used` tiles, ns."""
    synop_time: Figure
    """Time per synaptic operation, ns."""
    step_s: float
    inference_s: float
    bound: str
    """"barrier" or "synaptic operations": the term that sets the step time."""


@dataclass(frozen=True)
class OperatingPoint:
    """One inference at one operating point: how long it holds the chip and how much of it is powered."""

    name: str
    description: str
    inference_s: float
    feasible: bool
    """False where the chip cannot keep up (real time with a modelled step longer than dt_s)."""
    estimate: bool
    """True for the power-gated variants: static power scaled to the cores in use, not a published figure."""
    static_power: Figure
    """Static power charged, W."""
    static_pj: float
    dynamic_pj: float
    total_pj: float
    average_power_w: float


@dataclass(frozen=True)
class EnergyReport:
    """Energy, latency and operation counts of one inference, each figure with its source."""

    chip: str
    chip_name: str
    per_op_chip: str
    """Chip whose per-operation figures were used (differs from `chip` for a proxy estimate)."""
    per_op_proxy: bool
    synop_convention: str
    counted_samples: int
    counted_steps: int
    steps_per_sample: int
    dt_s: float
    synops: float
    """Synaptic operations per inference under `synop_convention`."""
    synops_effective: float
    synops_dense: float
    neuron_updates: float
    dynamic_terms: tuple[EnergyTerm, ...]
    dynamic_pj: float
    """Dynamic energy per inference, pJ: the sum of `dynamic_terms`."""
    latency: Latency
    cores_used: int
    cores_used_basis: str
    chips_used: int
    operating_points: tuple[OperatingPoint, ...]
    baseline_terms: tuple[EnergyTerm, ...]
    """Conventional-hardware context, not part of the chip estimate; empty unless a baseline was given."""
    notes: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        """JSON-serializable form (plain int/float/str/bool, lists, dicts) with keys in field order."""
        return _plain(self)  # type: ignore[return-value]

    def summary_lines(self) -> list[str]:
        """A human-readable summary; sources are numbered and listed at the end."""
        cites: list[str] = []

        def ref(fig: Figure) -> str:
            if fig.source not in cites:
                cites.append(fig.source)
            basis = "" if fig.basis == "published" else f", {fig.basis}"
            return f"[{cites.index(fig.source) + 1}{basis}]"

        proxy = f" with PROXY {self.per_op_chip} per-op figures" if self.per_op_proxy else ""
        lines = [
            f"Energy per inference on {self.chip_name} ({self.chip}){proxy}: {self.steps_per_sample} steps, "
            f"dt {format_si(self.dt_s, 's')}; counted over {self.counted_samples} x {self.counted_steps} steps",
            f"Dynamic: {format_si(self.dynamic_pj * PJ, 'J')}",
        ]
        for t in self.dynamic_terms:
            c = t.coefficient
            lines.append(
                f"  {t.name:<24} {t.count:>12.6g} x {c.value:g} {c.unit} = "
                f"{format_si(t.energy_pj * PJ, 'J'):>9} ({t.convention}) {ref(c)}"
            )
        lat = self.latency
        lines.append(
            f"Latency: {format_si(lat.inference_s, 's')} ({format_si(lat.step_s, 's')} per step, "
            f"{lat.bound}-bound; barrier {lat.barrier.value:.4g} ns for {lat.tiles_used} tile(s) "
            f"{ref(lat.barrier)}; {lat.synops_per_step:.4g} synops per step x "
            f"{lat.synop_time.value:g} ns {ref(lat.synop_time)})"
        )
        lines.append(f"Cores used: {self.cores_used} ({self.cores_used_basis}); chips: {self.chips_used}")
        for p in self.operating_points:
            flag = "" if p.feasible else " NOT FEASIBLE"
            lines.append(
                f"  {p.name:<22} {format_si(p.inference_s, 's'):>9} per inference: static "
                f"{format_si(p.static_pj * PJ, 'J')} ({format_si(p.static_power.value, 'W')} "
                f"{ref(p.static_power)}), total {format_si(p.total_pj * PJ, 'J')}, "
                f"average {format_si(p.average_power_w, 'W')}{flag}"
            )
        for t in self.baseline_terms:
            lines.append(
                f"Context: {t.name}: {t.count:.6g} x {t.coefficient.value:g} pJ = "
                f"{format_si(t.energy_pj * PJ, 'J')} ({t.convention}) {ref(t.coefficient)}"
            )
        lines += [f"Note: {n}" for n in self.notes]
        lines += [f"[{i}] {c}" for i, c in enumerate(cites, start=1)]
        return lines


def format_si(value: float, unit: str) -> str:
    """`value` with an SI prefix and 3 significant digits (1.23e-6 J -> "1.23 uJ")."""
    for scale, prefix in ((1.0, ""), (1e-3, "m"), (1e-6, "u"), (1e-9, "n"), (1e-12, "p")):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {prefix}{unit}"
    return f"{value / 1e-12:.3g} p{unit}" if value else f"0 {unit}"
