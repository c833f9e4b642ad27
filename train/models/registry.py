"""The model-family registry: families by name, for the CLI (`--model NAME`) and for `model.pt` files.

The built-in families register when this module is imported; a project or a test adds its own with
`register_family`. Registering is the only change to the registry, names are never rebound to another family,
and lookups never fail silently: an unknown name raises `ModelFamilyError` listing the known ones.
"""

from __future__ import annotations

from spikeport.errors import ModelFamilyError
from spikeport.train.models.decoder.family import DECODER
from spikeport.train.models.family import ModelFamily
from spikeport.train.models.isam.family import ISAM_MTL
from spikeport.train.models.rat_snn.family import RAT_SNN

__all__ = ["DEFAULT_FAMILY", "family_names", "get_family", "register_family"]

DEFAULT_FAMILY = DECODER.name
"""The family `spikeport train` and `spikeport demo` use without `--model`."""

_FAMILIES: dict[str, ModelFamily] = {}


def register_family(family: ModelFamily) -> ModelFamily:
    """Make `family` available by `family.name`; returns it (so it can be used as an expression).

    Registering the same family object again is a no-op.

    Raises:
        ModelFamilyError: If the value is not a `ModelFamily`, or its name is taken by a different family.
    """
    if not isinstance(family, ModelFamily):
        raise ModelFamilyError(f"register_family: expected a ModelFamily, got {type(family).__name__}")
    existing = _FAMILIES.get(family.name)
    if existing is not None and existing is not family:
        raise ModelFamilyError(
            f"model family {family.name!r} is already registered; choose another name for the new family"
        )
    _FAMILIES[family.name] = family
    return family


def get_family(name: str) -> ModelFamily:
    """The family registered as `name`.

    Raises:
        ModelFamilyError: If no family has that name (the message lists the registered ones).
    """
    try:
        return _FAMILIES[name]
    except KeyError:
        raise ModelFamilyError(
            f"unknown model family {name!r}; registered families: {', '.join(family_names())} "
            "(a new family is added with spikeport.train.models.register_family)"
        ) from None


def family_names() -> tuple[str, ...]:
    """Names of the registered families, in registration order (built-in families first)."""
    return tuple(_FAMILIES)


register_family(DECODER)
register_family(ISAM_MTL)
register_family(RAT_SNN)
