"""Python 3.11 compatibility fix for lava-nc 0.10.0, applied without touching site-packages.

lava-nc 0.10.0 declares Python < 3.11. On 3.11, `dataclasses` rejects unhashable default values, and
`lava/magma/compiler/var_model.py` gives `CoreEncoder`, `ChipEncoder` and `AxonEncoder` fields the mutable
default `ByteEncoder()`, so importing any Lava runtime module fails with
``ValueError: mutable default <class '...ByteEncoder'> for field x is not allowed``.

`install()` puts an import hook in front of `sys.meta_path` that loads that one module from Lava's own source
with the defaults rewritten to `field(default_factory=ByteEncoder)`: the same values, a fresh object per
instance. Every other Lava module loads unchanged. The hook is idempotent and checks that it rewrote exactly
the expected fields, so a different Lava version fails loudly instead of being half-patched.

A second incompatibility is with the host program rather than Python: Lava's message infrastructure calls
`multiprocessing.set_start_method("fork")` at import, which raises "context has already been set" if anything
(torch training does) fixed the start method first. `import_runtime()` imports that module while a repeated request
for the method already in force is accepted; any other method is a clear error, since Lava needs "fork".
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import multiprocessing
import re
import sys
from collections.abc import Sequence
from types import ModuleType

from spikeport.errors import MissingDependencyError

PATCHED_MODULE = "lava.magma.compiler.var_model"
_FIELD_DEFAULT = re.compile(r"^(\s+\w+: ByteEncoder) = ByteEncoder\(\)\s*$", re.MULTILINE)
_DATACLASS_IMPORT = "from dataclasses import dataclass, InitVar\n"
EXPECTED_REWRITES = 8  # CoreEncoder x/y/p, ChipEncoder x/y/z, AxonEncoder hi/lo


def patch_var_model_source(source: str) -> str:
    """Return `var_model.py` source with its mutable dataclass defaults turned into default factories."""
    patched, count = _FIELD_DEFAULT.subn(r"\1 = field(default_factory=ByteEncoder)", source)
    if count == 0 and "default_factory=ByteEncoder" in source:
        return source  # a Lava version that is already fixed
    if count != EXPECTED_REWRITES or _DATACLASS_IMPORT not in patched:
        raise MissingDependencyError(
            f"spikeport's Python 3.11 fix for lava-nc expects lava-nc 0.10.0 ({EXPECTED_REWRITES} "
            f"ByteEncoder defaults in {PATCHED_MODULE}), found {count}; reinstall with `make install`"
        )
    return patched.replace(_DATACLASS_IMPORT, "from dataclasses import dataclass, InitVar, field\n", 1)


class _PatchedSourceLoader(importlib.machinery.SourceFileLoader):
    """Loads Lava's own `var_model.py`, rewritten by `patch_var_model_source` before compiling."""

    def get_data(self, path: str) -> bytes:
        if path.endswith(".py"):
            source = super().get_data(path).decode("utf-8")
            return patch_var_model_source(source).encode("utf-8")
        raise OSError("no bytecode cache for the patched module")  # always compile from the patched source

    def set_data(self, path: str, data: bytes, *, _mode: int = 0o666) -> None:
        return None  # never write a .pyc of the patched source next to Lava's files


class LavaVarModelFinder(importlib.abc.MetaPathFinder):
    """Finds `lava.magma.compiler.var_model` and hands it to the patching loader."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != PATCHED_MODULE:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.origin is None:
            return None
        loader = _PatchedSourceLoader(fullname, spec.origin)
        return importlib.util.spec_from_file_location(fullname, spec.origin, loader=loader)


def install() -> None:
    """Make the fix active for every later import of Lava in this interpreter (idempotent)."""
    if sys.version_info < (3, 11) or any(isinstance(f, LavaVarModelFinder) for f in sys.meta_path):
        return
    if PATCHED_MODULE in sys.modules:
        return  # already imported (by an earlier, successful import): nothing left to fix
    sys.meta_path.insert(0, LavaVarModelFinder())


LAVA_MESSAGING = "lava.magma.runtime.message_infrastructure.multiprocessing"


def import_runtime() -> None:
    """Import Lava's runtime messaging even if this process already fixed the multiprocessing start method."""
    install()
    current = multiprocessing.get_start_method(allow_none=True)
    if current is None or LAVA_MESSAGING in sys.modules:
        importlib.import_module(LAVA_MESSAGING)
        return
    if current != "fork":
        raise MissingDependencyError(
            f"Lava needs the 'fork' multiprocessing start method, but this program already set {current!r}; "
            "do not call multiprocessing.set_start_method before using spikeport's Lava backend"
        )
    original = multiprocessing.set_start_method

    def accept_same_method(method: str | None, force: bool = False) -> None:
        if method != multiprocessing.get_start_method(allow_none=True) or force:
            original(method, force=force)

    multiprocessing.set_start_method = accept_same_method
    try:
        importlib.import_module(LAVA_MESSAGING)
    finally:
        multiprocessing.set_start_method = original
