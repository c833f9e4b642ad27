"""Reading the tables of a chip description file, naming the file and the dotted key in every error.

Used by `spikeport.targets.chip`: figures (value, unit, source), sections of figures, and the `[formats]`
section, which becomes a `spikeport.ir.formats.NumberFormats`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import MISSING, fields
from enum import Enum
from types import MappingProxyType

from spikeport.errors import ChipSpecError, IRValidationError
from spikeport.ir.formats import NumberFormats, Overflow, SignMode
from spikeport.targets.figure import BASES, Figure

FORMAT_VERSION = 1

FORMAT_UNITS = {
    "decay_bits": "bits",
    "act_shift": "bits",
    "u_bits": "bits",
    "v_bits": "bits",
    "channel_bits": "bits",
    "vth_mant_bits": "bits",
    "bias_mant_bits": "bits",
    "bias_exp_min": "exponent",
    "bias_exp_max": "exponent",
    "weight_mant_bits": "bits",
    "num_weight_bits_min": "bits",
    "num_weight_bits_max": "bits",
    "weight_exp_min": "exponent",
    "weight_exp_max": "exponent",
    "delay_max": "steps",
}
"""Unit of each integer `[formats]` entry; the `*_overflow` entries name an `Overflow`, `sign_modes` lists modes."""


class ChipReader:
    """Parses one file's tables; every error is a ChipSpecError naming the file and the key."""

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

    def _entry(self, table: object, where: str, required: set[str]) -> dict:
        """A sourced entry: `required` keys plus `source`, optional `note` and `basis`; checks source and basis."""
        if not isinstance(table, dict):
            raise self.fail(f"{where!r} must be a table with {', '.join(sorted(required))} and source, got {table!r}")
        self.check_keys(table, f"{where}.", required | {"source"}, {"note", "basis"})
        if table.get("basis", "published") not in BASES:
            raise self.fail(f"'{where}.basis' is {table['basis']!r}, expected one of {BASES}")
        if "note" in table:
            self.text(table["note"], f"{where}.note")
        self.source(table["source"], f"{where}.source")
        return table

    def figure(self, table: object, where: str, unit: str) -> Figure:
        table = self._entry(table, where, {"value", "unit"})
        value = table["value"]
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise self.fail(f"'{where}.value' must be a finite number, got {value!r}")
        if table["unit"] != unit:
            raise self.fail(f"'{where}.unit' is {table['unit']!r}, expected {unit!r}; convert the value")
        note = table.get("note", "")
        return Figure(
            value, unit, self.source(table["source"], f"{where}.source"), note, table.get("basis", "published")
        )

    def integer(self, table: object, where: str, unit: str) -> int:
        value = self.figure(table, where, unit).value
        if not isinstance(value, int):
            raise self.fail(f"'{where}.value' must be an integer, got {value!r}")
        return value

    def choice(self, value: object, where: str, enum: type[Enum]) -> Enum:
        allowed = [e.value for e in enum]
        if value not in allowed:
            raise self.fail(f"{where!r} is {value!r}, expected one of {allowed}")
        return enum(value)

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

    def formats(self, table: object, where: str = "formats") -> NumberFormats:
        """The `[formats]` section: one sourced entry per `NumberFormats` field, each required."""
        if not isinstance(table, dict):
            raise self.fail(f"{where!r} must be a table of number-format entries, got {table!r}")
        names = [f.name for f in fields(NumberFormats)]
        self.check_keys(table, f"{where}.", set(names), set())
        values: dict[str, object] = {}
        for name in names:
            key = f"{where}.{name}"
            if name in FORMAT_UNITS:
                values[name] = self.integer(table[name], key, FORMAT_UNITS[name])
                continue
            value = self._entry(table[name], key, {"value"})["value"]
            if name == "sign_modes":
                if not isinstance(value, list) or not value:
                    raise self.fail(f"'{key}.value' must be a non-empty list of sign modes, got {value!r}")
                values[name] = tuple(self.choice(m, f"{key}.value", SignMode) for m in value)
            else:  # the *_overflow policies
                values[name] = self.choice(value, f"{key}.value", Overflow)
        try:
            return NumberFormats(**values)  # type: ignore[arg-type]
        except IRValidationError as exc:
            raise self.fail(f"[{where}] is inconsistent: {exc}") from exc


def read_header(data: Mapping[str, object], origin: str) -> ChipReader:
    """Check `format_version` and `[sources]`; returns a reader that resolves source keys."""
    reader = ChipReader(origin, {})
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
