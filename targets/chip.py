"""Chip descriptions as data: `targets/chips/<chip>.toml` loaded into a frozen `ChipSpec`.

A chip file holds capacity limits, number formats (`[formats]`, parsed into `spikeport.ir.formats.NumberFormats`),
per-operation energy and timing, static power and measured end-to-end benchmarks. Every number is a `Figure` with
a unit and a source; the code checks each unit against the one it expects, so it never converts silently. Unknown
keys, missing required keys, a wrong unit or a source key that `[sources]` does not define are errors
(`ChipSpecError`). The table reader is `spikeport.targets.chip_reader`.

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

    [formats.u_bits]               # every NumberFormats field, each required; integers carry a unit,
    value = 24                     # `*_overflow` entries name an Overflow ("wrap", "wrap_once", "saturate")
    unit = "bits"                  # and `sign_modes` lists SignMode values; no unit for those
    source = "resources"
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from enum import Enum
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import ClassVar

from spikeport.errors import ChipSpecError
from spikeport.ir.formats import NumberFormats
from spikeport.targets.chip_reader import FORMAT_VERSION, read_header
from spikeport.targets.figure import BASES, Figure

__all__ = [
    "BASELINE_FILE",
    "BASES",
    "FORMAT_VERSION",
    "Baseline",
    "Benchmark",
    "ChipId",
    "ChipLimits",
    "ChipSpec",
    "ChipSpecError",
    "Figure",
    "OpEnergy",
    "StaticPower",
    "StepTiming",
    "load_baseline",
    "load_chip",
    "parse_chip",
    "shipped_chips",
]

_CHIP_PACKAGE = "spikeport.targets.chips"
BASELINE_FILE = "cmos45nm_fp32.toml"
"""The conventional figures `load_baseline` reads (45 nm CMOS, 32-bit float)."""


class ChipId(Enum):
    """The chips spikeport describes; each value is the stem of a file in `targets/chips/`."""

    LOIHI = "loihi"
    LOIHI2 = "loihi2"


@dataclass(frozen=True)
class ChipLimits:
    """Capacity limits (`[limits]`); optional fields are None where a file is silent."""

    units: ClassVar[dict[str, str]] = {
        "cores_per_chip": "cores",
        "neurons_per_chip": "neurons",
        "synapses_per_chip": "synapses",
        "compartments_per_core": "compartments",
        "cores_per_tile": "cores",
        "input_axons_per_core": "axons",
        "output_axons_per_core": "axons",
        "synaptic_memory_per_core": "bytes",
        "embedded_cpus": "cores",
    }
    cores_per_chip: Figure
    neurons_per_chip: Figure
    synapses_per_chip: Figure
    compartments_per_core: Figure | None = None
    input_axons_per_core: Figure | None = None
    output_axons_per_core: Figure | None = None
    synaptic_memory_per_core: Figure | None = None
    embedded_cpus: Figure | None = None
    cores_per_tile: Figure | None = None
    """Cores sharing one mesh tile (spike traffic between tiles costs hops); None where unpublished."""


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
    formats: NumberFormats
    """Register widths, shifts, ranges and overflow policies (`[formats]`): what the IR, kernels and quantizer use."""
    energy: OpEnergy | None = None
    """None where no per-operation energy figures are published (Loihi 2)."""
    timing: StepTiming | None = None
    power: StaticPower | None = None
    benchmarks: Mapping[str, Benchmark] = field(default_factory=dict)
    per_op_proxy: ChipId | None = None
    """Chip whose per-op figures may stand in (labelled as a proxy) when `energy` is None."""
    notes: tuple[str, ...] = ()
    origin: str = ""
    """Where the description was read from: the shipped file's name, or the path of a user's chip file."""

    @property
    def label(self) -> str:
        """The chip as reports name it: the shipped chip's id, or the path of a user's chip file."""
        return self.origin if self.origin and not _is_shipped(self.origin) else self.id.value

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


def parse_chip(text: str, *, origin: str = "<string>") -> ChipSpec:
    """Parse the TOML text of a chip file into a ChipSpec.

    Args:
        text: the file's content.
        origin: file name used in error messages.

    Raises:
        ChipSpecError: invalid TOML, unknown or missing keys (in `[formats]`: any NumberFormats field), a wrong
            unit, an unknown source or chip id, or inconsistent number formats.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ChipSpecError(f"chip file {origin}: not valid TOML ({exc})") from exc
    optional = {"per_op_proxy", "notes", "energy", "timing", "power", "benchmarks"}
    reader = read_header(data, origin)
    top_required = {"format_version", "chip", "name", "summary", "sources", "limits", "formats"}
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
        formats=reader.formats(data["formats"]),
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
        raise ChipSpecError(
            f"unknown chip {chip!r}; spikeport describes {known}, or give the path of a chip file (.toml)"
        ) from None


def _is_shipped(origin: str) -> bool:
    return "/" not in origin and origin.removesuffix(".toml") in shipped_chips()


def shipped_chips() -> tuple[str, ...]:
    """Names of the chip targets shipped in `targets/chips/` (files with number formats), sorted."""
    folder = resources.files(_CHIP_PACKAGE)
    names = []
    for entry in folder.iterdir():
        if entry.name.endswith(".toml") and "kind" not in tomllib.loads(entry.read_text(encoding="utf-8")):
            names.append(entry.name.removesuffix(".toml"))
    return tuple(sorted(names))


def _read_user_file(path: Path) -> ChipSpec:
    if not path.is_file():
        raise ChipSpecError(
            f"--chip {path}: no such chip file; give a shipped chip ({', '.join(shipped_chips())}) or the path of a "
            "chip file (copy one of targets/chips/*.toml and edit it)"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ChipSpecError(f"--chip {path}: cannot read the chip file ({exc})") from exc
    return replace(parse_chip(text, origin=str(path)), origin=str(path))


def load_chip(chip: str | ChipId | Path) -> ChipSpec:
    """Load a chip's description: a shipped chip by name (`targets/chips/<chip>.toml`) or a user's chip file.

    A string ending in `.toml` or holding a path separator, or a `Path`, is read as a user's chip file (same format
    as the shipped files; its `chip` names the shipped chip it describes a variant of). Its `origin` is the path.

    Raises:
        ChipSpecError: unknown chip name, a missing file, or a malformed file (the message names the key).
    """
    if isinstance(chip, Path) or (isinstance(chip, str) and (chip.endswith(".toml") or "/" in chip)):
        return _read_user_file(Path(chip))
    chip_id = _chip_id(chip)
    name = f"{chip_id.value}.toml"
    spec = parse_chip(resources.files(_CHIP_PACKAGE).joinpath(name).read_text(encoding="utf-8"), origin=name)
    if spec.id is not chip_id:
        raise ChipSpecError(f"chip file {name}: 'chip' is {spec.id.value!r}, expected the file stem")
    return replace(spec, origin=name)


def load_baseline() -> Baseline:
    """Load the conventional 45 nm CMOS, 32-bit float figures (Horowitz, ISSCC 2014) used as context."""
    from spikeport.targets.energy_models import load_energy_model

    model = load_energy_model(BASELINE_FILE.removesuffix(".toml"))
    return Baseline(name=model.name, mac=model.energy["mac"], ac=model.energy["ac"])
