"""Which Lava run configuration a run uses: the CPU `fixed_pt` models (default) or Loihi 2 hardware.

`loihi2-hw` compiles the same processes with `Loihi2HwCfg` for a Loihi 2 system. It needs Intel's Loihi extension
(lava-loihi, distributed to INRC members, not on PyPI); lava-nc's `lava.utils.loihi.is_installed` tells whether it is
importable, and without it the run stops before anything is built with one line saying so.
"""

from __future__ import annotations

from spikeport.errors import MissingDependencyError

__all__ = ["DEFAULT_CONFIG", "LAVA_CONFIGS", "loihi_extension_installed", "make_run_config"]

LAVA_CONFIGS = ("cpu", "loihi2-hw")
DEFAULT_CONFIG = "cpu"


def loihi_extension_installed() -> bool:
    """Whether Intel's Loihi extension for Lava (lava-loihi) is importable here."""
    from lava.utils import loihi

    return bool(loihi.is_installed())


def make_run_config(name: str = DEFAULT_CONFIG):
    """The Lava run configuration `name` (one of `LAVA_CONFIGS`); Lava must be importable (`import_lava`).

    Raises:
        MissingDependencyError: `loihi2-hw` without lava-loihi.
        ValueError: an unknown name (the CLI offers only `LAVA_CONFIGS`).
    """
    from lava.magma.core.run_configs import Loihi2HwCfg, Loihi2SimCfg

    if name == "cpu":
        return Loihi2SimCfg(select_tag="fixed_pt")
    if name != "loihi2-hw":
        raise ValueError(f"unknown Lava config {name!r}; choose one of {', '.join(LAVA_CONFIGS)}")
    if not loihi_extension_installed():
        raise MissingDependencyError(
            "--lava-config loihi2-hw needs Intel's Loihi extension for Lava (lava-loihi), which is not installed "
            "here (Intel distributes it to INRC members); run on Lava's CPU backend with the default --lava-config cpu"
        )
    return Loihi2HwCfg()
