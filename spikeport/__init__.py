"""spikeport: spiking neural decoders from PyTorch training to Loihi-class neuromorphic chips, bit-true.

The public API (`spikeport.api`, docs/api.md) is exported here: `load_nir`, `quantize`, `simulate`, `compare`,
`report`, `train`, `make_run`, `load_run`. The pipeline's stages are subpackages: `spikeport.train` (models, data,
training), `spikeport.export` (NIR), `spikeport.targets` (quantization, chips, energy) and `spikeport.simulators`
(integer reference and Lava); `spikeport.ir` is the integer deploy graph they hand to each other.

`import spikeport` stays cheap: the API loads on first use of one of its names (PEP 562). Two names are also
modules: `spikeport.train` (the training stage) and `spikeport.report` (the report builder). Whichever of the two
Python finds, calling it runs the API function: a submodule bound under one of these names is made callable
(`_CallableModule`), so `spikeport.train(...)`/`spikeport.report(...)` and `spikeport.train.models` all work.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_CHIP",
    "QuantizedGraph",
    "Report",
    "Run",
    "__version__",
    "compare",
    "load_nir",
    "load_run",
    "make_run",
    "quantize",
    "report",
    "simulate",
    "train",
]

if TYPE_CHECKING:
    from spikeport.api import (
        DEFAULT_CHIP,
        QuantizedGraph,
        Report,
        Run,
        compare,
        load_nir,
        load_run,
        make_run,
        quantize,
        report,
        simulate,
        train,
    )

_MODULE_NAMES = ("report", "train")
"""API functions whose names are also submodules of this package."""


class _CallableModule(types.ModuleType):
    """A submodule that, called, runs the API function of its name (`spikeport.api.<name>`)."""

    def __call__(self, *args, **kwargs):
        from spikeport import api

        return getattr(api, self.__name__.rpartition(".")[2])(*args, **kwargs)


class _Package(types.ModuleType):
    """This package's module type: makes the submodules in `_MODULE_NAMES` callable when Python binds them."""

    def __setattr__(self, name: str, value: object) -> None:
        if name in _MODULE_NAMES and type(value) is types.ModuleType:
            value.__class__ = _CallableModule
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
for _name in _MODULE_NAMES:  # submodules imported before this package finished loading (none, normally)
    if f"{__name__}.{_name}" in sys.modules:
        setattr(sys.modules[__name__], _name, sys.modules[f"{__name__}.{_name}"])
del _name


def __getattr__(name: str):
    if name in _MODULE_NAMES:
        return importlib.import_module(f"{__name__}.{name}")  # bound (and made callable) by `_Package`
    if name in __all__:
        from spikeport import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
