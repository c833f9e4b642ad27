"""Chip descriptions as data: `targets/chips/<chip>.toml` loaded into a frozen `ChipSpec`.

A chip file holds capacity limits, number formats, per-operation energy and timing, static power and measured
end-to-end benchmarks. Every number is a `Figure` with a unit and a source; the code checks each unit against
the one it expects, so it never converts silently. Unknown keys, missing required keys, a wrong unit or a
source key that `[sources]` does not define are errors (`ChipSpecError`).

File format (TOML 1.0)::

    format_version = 1
    chip = "loihi"                 # the file stem, a ChipId value
    name = "Intel Loihi"
    summary = "..."
    per_op_proxy = "loihi"         # optional: chip whose per-op figures may stand in for missing ones
    notes = ["..."]                # optional

    [sources]
    davies2018 = "Davies et al., ..."

    [energy.synop]                 # one table per figure
    value = 23.6
    unit = "pJ"
    source = "davies2018"          # a key of [sources]; resolved to the citation on loading
    basis = "published"            # optional: published | measured | derived | commonly quoted
    note = "..."                   # optional
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from enum import Enum
from importlib import resources
from types import MappingProxyType
from typing import ClassVar

from spikeport.errors import IRValidationError

FORMAT_VERSION = 1
BASES = ("published", "measured", "derived", "commonly quoted")
"""How a figure was obtained, as the energy-constants notes label it."""
_CHIP_PACKAGE = "spikeport.targets.chips"
BASELINE_FILE = "baseline_cmos45nm.toml"


class ChipSpecError(IRValidationError):
    """A chip description file is malformed (unknown or missing key, wrong unit, unknown source)."""


class ChipId(Enum):
    """The chips spikeport describes; each value is the stem of a file in `targets/chips/`."""

    LOIHI = "loihi"
    LOIHI2 = "loihi2"


@dataclass(frozen=True)
class Figure:
    """One number with its unit and where it comes from."""

    value: float
    """The number, in `unit` (an int where the file gives an int)."""
    unit: str
    """Unit of `value`, e.g. "pJ", "ns", "W", "cores"."""
    source: str
    """Full citation of the figure."""
    note: str = ""
    """Qualifier (operating conditions, how it was derived)."""
    basis: str = "published"
    """One of `BASES`, or "proxy" when the energy model borrowed the figure from another chip."""

    def as_int(self) -> int:
        """The value as an int (limits, bit widths); raises ChipSpecError if it is not integral."""
        if float(self.value) != int(self.value):
            raise ChipSpecError(f"figure {self.value} {self.unit} is not an integer ({self.source})")
        return int(self.value)

    def label(self) -> str:
        """`23.6 pJ [published] (source)`: the figure as a report line shows it."""
        note = f"; {self.note}" if self.note else ""
        return f"{self.value:g} {self.unit} [{self.basis}{note}] ({self.source})"

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form with a stable key order."""
        value = int(self.value) if isinstance(self.value, int) else float(self.value)
        return {"value": value, "unit": self.unit, "basis": self.basis, "source": self.source, "note": self.note}


@dataclass(frozen=True)
class ChipLimits:
    """Capacity limits and number formats (`[limits]`); optional fields are None where a file is silent."""

    units: ClassVar[dict[str, str]] = {
        "cores_per_chip": "cores",
        "neurons_per_chip": "neurons",
        "synapses_per_chip": "synapses",
        "compartments_per_core": "compartments",
        "input_axons_per_core": "axons",
        "output_axons_per_core": "axons",
        "synaptic_memory_per_core": "bytes",
        "weight_bits_min": "bits",
        "weight_bits_max": "bits",
        "u_bits": "bits",
        "v_bits": "bits",
        "vth_mant_bits": "bits",
        "bias_mant_bits": "bits",
        "bias_exp_max": "exponent",
        "delay_max": "steps",
        "embedded_cpus": "cores",
    }
    cores_per_chip: Figure
    neurons_per_chip: Figure
    synapses_per_chip: Figure
    compartments_per_core: Figure | None = None
    input_axons_per_core: Figure | None = None
    output_axons_per_core: Figure | None = None
    synaptic_memory_per_core: Figure | None = None
    weight_bits_min: Figure | None = None
    weight_bits_max: Figure | None = None
    u_bits: Figure | None = None
    v_bits: Figure | None = None
    vth_mant_bits: Figure | None = None
    bias_mant_bits: Figure | None = None
    bias_exp_max: Figure | None = None
    delay_max: Figure | None = None
    """Largest synaptic delay in steps."""
    embedded_cpus: Figure | None = None


@dataclass(frozen=True)
class OpEnergy:
    """Energy per operation (`[energy]`), in pJ."""

    units: ClassVar[dict[str, str]] = {
        "synop": "pJ",
        "neuron_update_active": "pJ",
        "neuron_update_inactive": "pJ",
        "spike_within_tile": "pJ",
        "tile_hop_east_west": "pJ",
        "tile_hop_north_south": "pJ",
        "stdp_update": "pJ",
    }
    synop: Figure
    """One synaptic spike operation (one synapse driven by one incoming spike)."""
    neuron_update_active: Figure
    neuron_update_inactive: Figure
    spike_within_tile: Figure
    """Routing one spike to a core within the same tile."""
    tile_hop_east_west: Figure | None = None
    tile_hop_north_south: Figure | None = None
    stdp_update: Figure | None = None


@dataclass(frozen=True)
class StepTiming:
    """Time per operation and the per-step barrier (`[timing]`)."""

    units: ClassVar[dict[str, str]] = {
        "synop_time": "ns",
        "barrier_min": "ns",
        "barrier_min_tiles": "tiles",
        "barrier_max": "ns",
        "barrier_max_tiles": "tiles",
        "stdp_update_time": "ns",
    }
    synop_time: Figure
    barrier_min: Figure
    """Barrier synchronisation of a step over `barrier_min_tiles` tiles: the floor of a step."""
    barrier_min_tiles: Figure
    barrier_max: Figure
    barrier_max_tiles: Figure
    stdp_update_time: Figure | None = None


@dataclass(frozen=True)
class StaticPower:
    """Static (leakage and idle) power (`[power]`)."""

    units: ClassVar[dict[str, str]] = {"static_per_chip": "W"}
    static_per_chip: Figure


@dataclass(frozen=True)
class Benchmark:
    """A measured end-to-end result on the chip (`[benchmarks.<name>]`)."""

    units: ClassVar[dict[str, str]] = {
        "inferences_per_s": "1/s",
        "total_power": "W",
        "static_power": "W",
        "energy_per_inference": "mJ",
        "dynamic_energy_per_inference": "mJ",
    }
    description: str
    source: str
    """Full citation (the file names a key of `[sources]`)."""
    inferences_per_s: Figure | None = None
    total_power: Figure | None = None
    static_power: Figure | None = None
    energy_per_inference: Figure | None = None
    dynamic_energy_per_inference: Figure | None = None


@dataclass(frozen=True)
class ChipSpec:
    """Everything spikeport knows about one chip, loaded from its TOML file by `load_chip`."""

    id: ChipId
    name: str
    summary: str
    sources: Mapping[str, str]
    """Citation by key, as listed in the file's `[sources]`."""
    limits: ChipLimits
    energy: OpEnergy | None = None
    """None where no per-operation energy figures are published (Loihi 2)."""
    timing: StepTiming | None = None
    power: StaticPower | None = None
    benchmarks: Mapping[str, Benchmark] = field(default_factory=dict)
    per_op_proxy: ChipId | None = None
    """Chip whose per-op figures may stand in (labelled as a proxy) when `energy` is None."""
    notes: tuple[str, ...] = ()

    def figures(self) -> dict[str, Figure]:
        """Every figure of the chip by dotted key (`energy.synop`, `benchmarks.pilotnet.total_power`)."""
        out: dict[str, Figure] = {}
        sections: list[tuple[str, object]] = [("limits", self.limits), ("energy", self.energy)]
        sections += [("timing", self.timing), ("power", self.power)]
        sections += [(f"benchmarks.{k}", b) for k, b in self.benchmarks.items()]
        for prefix, section in sections:
            if section is not None:
                for f in fields(section):  # type: ignore[arg-type]
                    value = getattr(section, f.name)
                    if isinstance(value, Figure):
                        out[f"{prefix}.{f.name}"] = value
        return out


@dataclass(frozen=True)
class Baseline:
    """Conventional-hardware energy per operation (context only): 45 nm CMOS, 32-bit float."""

    name: str
    mac: Figure
    ac: Figure


class _Reader:
    """Parses one file's tables, naming the file and the dotted key in every error."""

    def __init__(self, origin: str, sources: Mapping[str, str]) -> None:
        self.origin = origin
        self.sources = sources

    def fail(self, message: str) -> ChipSpecError:
        return ChipSpecError(f"chip file {self.origin}: {message}")

    def check_keys(self, table: Mapping[str, object], where: str, required: set[str], optional: set[str]) -> None:
        unknown = sorted(set(table) - required - optional)
        if unknown:
            keys = ", ".join(repr(f"{where}{k}") for k in unknown)
            allowed = sorted(required | optional)
            raise self.fail(f"unknown key {keys}; allowed here: {allowed}. Fix the spelling or remove it")
        missing = sorted(required - set(table))
        if missing:
            raise self.fail(f"missing required key {', '.join(repr(f'{where}{k}') for k in missing)}")

    def text(self, value: object, where: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{where!r} must be a non-empty string, got {value!r}")
        return value

    def source(self, key: object, where: str) -> str:
        if key not in self.sources:
            known = sorted(self.sources)
            raise self.fail(f"{where!r} names source {key!r}, which [sources] does not define {known}")
        return self.sources[str(key)]

    def figure(self, table: object, where: str, unit: str) -> Figure:
        if not isinstance(table, dict):
            raise self.fail(f"{where!r} must be a table with value, unit and source, got {table!r}")
        self.check_keys(table, f"{where}.", {"value", "unit", "source"}, {"note", "basis"})
        value = table["value"]
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise self.fail(f"'{where}.value' must be a finite number, got {value!r}")
        if table["unit"] != unit:
            raise self.fail(f"'{where}.unit' is {table['unit']!r}, expected {unit!r}; convert the value")
        basis = table.get("basis", "published")
        if basis not in BASES:
            raise self.fail(f"'{where}.basis' is {basis!r}, expected one of {BASES}")
        note = self.text(table["note"], f"{where}.note") if "note" in table else ""
        return Figure(value, unit, self.source(table["source"], f"{where}.source"), note, basis)

    def section(self, cls: type, table: object, where: str):
        if not isinstance(table, dict):
            raise self.fail(f"{where!r} must be a table, got {table!r}")
        spec = {f.name: f for f in fields(cls)}
        required = {n for n, f in spec.items() if f.default is MISSING}
        self.check_keys(table, f"{where}.", required, set(spec) - required)
        values = {}
        for name, value in table.items():
            key = f"{where}.{name}"
            if name in cls.units:
                values[name] = self.figure(value, key, cls.units[name])
            elif name == "source":
                values[name] = self.source(value, key)
            else:
                values[name] = self.text(value, key)
        return cls(**values)


def _read_header(data: Mapping[str, object], origin: str) -> _Reader:
    reader = _Reader(origin, {})
    if data.get("format_version") != FORMAT_VERSION:
        version = data.get("format_version")
        raise reader.fail(f"format_version is {version!r}, this spikeport reads {FORMAT_VERSION}")
    sources = data.get("sources")
    if not isinstance(sources, dict) or not sources:
        raise reader.fail("missing required key 'sources' (a table of citation strings)")
    for key, text in sources.items():
        reader.text(text, f"sources.{key}")
    reader.sources = MappingProxyType(dict(sources))
    return reader


def parse_chip(text: str, *, origin: str = "<string>") -> ChipSpec:
    """Parse the TOML text of a chip file into a ChipSpec.

    Args:
        text: the file's content.
        origin: file name used in error messages.

    Raises:
        ChipSpecError: invalid TOML, unknown or missing keys, a wrong unit, an unknown source or chip id.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ChipSpecError(f"chip file {origin}: not valid TOML ({exc})") from exc
    optional = {"per_op_proxy", "notes", "energy", "timing", "power", "benchmarks"}
    reader = _read_header(data, origin)
    top_required = {"format_version", "chip", "name", "summary", "sources", "limits"}
    reader.check_keys(data, "", top_required, optional)
    known = [c.value for c in ChipId]
    for key in ("chip", "per_op_proxy"):
        if key in data and data[key] not in known:
            raise reader.fail(f"{key!r} is {data[key]!r}, expected one of {known}")
    notes = data.get("notes", [])
    if not isinstance(notes, list):
        raise reader.fail(f"'notes' must be a list of strings, got {notes!r}")
    benchmarks = data.get("benchmarks", {})
    if not isinstance(benchmarks, dict):
        raise reader.fail(f"'benchmarks' must be a table of tables, got {benchmarks!r}")
    optional_sections = {"energy": OpEnergy, "timing": StepTiming, "power": StaticPower}
    return ChipSpec(
        id=ChipId(data["chip"]),
        name=reader.text(data["name"], "name"),
        summary=reader.text(data["summary"], "summary"),
        sources=reader.sources,
        limits=reader.section(ChipLimits, data["limits"], "limits"),
        **{k: reader.section(cls, data[k], k) for k, cls in optional_sections.items() if k in data},
        benchmarks=MappingProxyType(
            {k: reader.section(Benchmark, v, f"benchmarks.{k}") for k, v in benchmarks.items()}
        ),
        per_op_proxy=ChipId(data["per_op_proxy"]) if "per_op_proxy" in data else None,
        notes=tuple(reader.text(n, "notes[]") for n in notes),
    )


def _chip_id(chip: str | ChipId) -> ChipId:
    if isinstance(chip, ChipId):
        return chip
    try:
        return ChipId(chip)
    except ValueError:
        known = [c.value for c in ChipId]
        raise ChipSpecError(f"unknown chip {chip!r}; spikeport describes {known}") from None


def load_chip(chip: str | ChipId) -> ChipSpec:
    """Load a chip's description from the package data file `targets/chips/<chip>.toml`.

    Raises:
        ChipSpecError: unknown chip name, or a malformed file.
    """
    chip_id = _chip_id(chip)
    name = f"{chip_id.value}.toml"
    spec = parse_chip(resources.files(_CHIP_PACKAGE).joinpath(name).read_text(encoding="utf-8"), origin=name)
    if spec.id is not chip_id:
        raise ChipSpecError(f"chip file {name}: 'chip' is {spec.id.value!r}, expected the file stem")
    return spec


def load_baseline() -> Baseline:
    """Load the conventional 45 nm CMOS figures (Horowitz, ISSCC 2014) used as context in energy reports."""
    data = tomllib.loads(resources.files(_CHIP_PACKAGE).joinpath(BASELINE_FILE).read_text(encoding="utf-8"))
    reader = _read_header(data, BASELINE_FILE)
    reader.check_keys(data, "", {"format_version", "name", "sources", "mac", "ac"}, set())
    return Baseline(
        name=reader.text(data["name"], "name"),
        mac=reader.figure(data["mac"], "mac", "pJ"),
        ac=reader.figure(data["ac"], "ac", "pJ"),
    )
