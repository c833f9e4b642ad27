"""Energy-only chip models and conventional baselines: the `targets/chips/*.toml` files that declare a `kind`.

They are not mapping targets (no number formats): they hold per-operation energies, static power and measured
figures of other workloads (`[context]`, shown but never used in an estimate). File format (TOML 1.0)::

    format_version = 1
    kind = "energy_model"          # or "conventional"
    model = "spinnaker2"           # the file stem
    name = "SpiNNaker 2"
    summary = "..."
    notes = ["..."]                # optional

    [sources]
    key = "citation"

    [energy.synop]                 # keys and units: ENERGY_UNITS
    value = 450
    unit = "pJ"
    source = "key"
    basis = "published"            # optional (published | measured | derived | commonly quoted)
    note = "..."                   # optional

    [power.static_per_chip]        # optional, W
    [context.<name>]               # optional, unit one of CONTEXT_UNITS
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from types import MappingProxyType

from spikeport.errors import ChipSpecError
from spikeport.targets.chip_reader import read_header
from spikeport.targets.figure import Figure

KINDS = ("energy_model", "conventional")
ENERGY_UNITS = {
    "synop": "pJ",
    "neuron_update": "pJ",
    "mac": "pJ",
    "ac": "pJ",
    "op": "pJ",
    "sram_read_8kb": "pJ",
    "sram_read_32kb": "pJ",
    "sram_read_1mb": "pJ",
    "dram_read": "pJ",
}
"""Per-operation figures an energy-model file may hold: synaptic op, neuron update, MAC, AC, one op of a CPU/GPU
(synop or neuron update), and a 64-bit read from an SRAM of a given size or from DRAM."""
POWER_UNITS = {"static_per_chip": "W"}
CONTEXT_UNITS = ("W", "uJ", "mJ")
_PACKAGE = "spikeport.targets.chips"


@dataclass(frozen=True)
class EnergyModel:
    """One energy-only chip model or conventional baseline, every figure sourced."""

    model: str
    kind: str
    name: str
    summary: str
    sources: Mapping[str, str]
    energy: Mapping[str, Figure] = field(default_factory=dict)
    power: Mapping[str, Figure] = field(default_factory=dict)
    context: Mapping[str, Figure] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def figures(self) -> dict[str, Figure]:
        """Every figure by dotted key (`energy.synop`, `context.kws_energy_per_inference`)."""
        return {f"{sec}.{k}": f for sec in ("energy", "power", "context") for k, f in getattr(self, sec).items()}


def parse_energy_model(text: str, *, origin: str = "<string>") -> EnergyModel:
    """Parse an energy-model file; errors name the file and the key (ChipSpecError)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ChipSpecError(f"chip file {origin}: not valid TOML ({exc})") from exc
    reader = read_header(data, origin)
    required = {"format_version", "kind", "model", "name", "summary", "sources"}
    reader.check_keys(data, "", required, {"notes", "energy", "power", "context"})
    if data["kind"] not in KINDS:
        raise reader.fail(f"'kind' is {data['kind']!r}, expected one of {list(KINDS)}")

    def table(section: str, units: Mapping[str, str] | None) -> Mapping[str, Figure]:
        raw = data.get(section, {})
        if not isinstance(raw, dict):
            raise reader.fail(f"{section!r} must be a table of figures, got {raw!r}")
        if units is not None:
            reader.check_keys(raw, f"{section}.", set(), set(units))
        out = {}
        for key, entry in raw.items():
            where = f"{section}.{key}"
            if units is None:
                unit = entry.get("unit") if isinstance(entry, dict) else None
                if unit not in CONTEXT_UNITS:
                    raise reader.fail(f"'{where}.unit' is {unit!r}, expected one of {list(CONTEXT_UNITS)}")
            out[key] = reader.figure(entry, where, units[key] if units is not None else unit)
        return MappingProxyType(out)

    notes = data.get("notes", [])
    if not isinstance(notes, list):
        raise reader.fail(f"'notes' must be a list of strings, got {notes!r}")
    return EnergyModel(
        model=reader.text(data["model"], "model"),
        kind=data["kind"],
        name=reader.text(data["name"], "name"),
        summary=reader.text(data["summary"], "summary"),
        sources=reader.sources,
        energy=table("energy", ENERGY_UNITS),
        power=table("power", POWER_UNITS),
        context=table("context", None),
        notes=tuple(reader.text(n, "notes[]") for n in notes),
    )


def shipped_energy_models(kind: str | None = None) -> tuple[str, ...]:
    """Stems of the shipped energy-model files (all, or of one `kind`), sorted."""
    names = []
    for entry in resources.files(_PACKAGE).iterdir():
        if entry.name.endswith(".toml"):
            k = tomllib.loads(entry.read_text(encoding="utf-8")).get("kind")
            if k in KINDS and (kind is None or k == kind):
                names.append(entry.name.removesuffix(".toml"))
    return tuple(sorted(names))


def load_energy_model(model: str) -> EnergyModel:
    """Load a shipped energy model or baseline by its stem (e.g. "spinnaker2", "cmos45nm_int8").

    Raises:
        ChipSpecError: unknown name or a malformed file.
    """
    known = shipped_energy_models()
    if model not in known:
        raise ChipSpecError(f"unknown energy model {model!r}; spikeport ships {list(known)}")
    name = f"{model}.toml"
    spec = parse_energy_model(resources.files(_PACKAGE).joinpath(name).read_text(encoding="utf-8"), origin=name)
    if spec.model != model:
        raise ChipSpecError(f"chip file {name}: 'model' is {spec.model!r}, expected the file stem")
    return spec
