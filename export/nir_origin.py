"""Which framework wrote a NIR graph that records no `dt`, and what NIR cannot say about it (the step, the reset).

NIR's neuron equations are in continuous time and its nodes carry no reset rule beyond `v_reset`, so two facts a
model depends on can be missing from a file: the step (`dt`) the exporter assumed when it wrote time constants,
and whether a spike *subtracts* the threshold from v (snnTorch's and sinabs's default) or sets v to `v_reset`
(NIR's definition, and what the chip does). Neither snnTorch 1.0's `export_to_nir` nor sinabs 3.1's `to_nir`
writes any metadata, but each writes its neuron parameters in a recognisable form (below), which is enough to
name the `--dt` to use and to warn that the reset was not recorded.

- snnTorch 1.0 `export_to_nir`: Leaky -> LIF(tau = dt / (1 - beta), r = tau / dt, v_leak = 0), Synaptic ->
  CubaLIF(..., w_in = tau_syn / dt), with dt = 1e-4 s hard-coded.
- sinabs 3.1 `to_nir`: IAF -> IF(r = 1), LIF -> LIF(tau = tau_mem in steps, r = 1, v_leak = 0), ExpLeak ->
  LI(r = 1): one step is the unit of time (dt = 1).
- norse 1.1 `to_nir`: time constants as dt * tau (`--tau-convention norse`), dt = 1e-3 s (its default argument);
  it writes LIF and IF with r = 1 too, so it is not told apart from sinabs (norse resets to v_reset, no warning
  is needed for it, and `--tau-convention norse` skips the guess).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import nir
import numpy as np

__all__ = ["DT_HINTS", "RESETS", "Exporter", "guess_exporter", "neuron_nodes"]

RESETS = ("zero", "subtract")
"""What a spike does to v: "zero" sets it to v_reset (NIR, Loihi, Lava; only v_reset = 0 maps to the chip),
"subtract" subtracts the threshold (snnTorch's and sinabs's default, which NIR cannot record)."""

SNNTORCH_DT = 1e-4
"""snntorch 1.0.0 `snntorch/export_nir.py`: every neuron branch of `_extract_snntorch_module` sets `dt = 1e-4`."""
NORSE_DT = 1e-3
"""norse 1.1.0 `norse/torch/utils/export_nir.py`: `to_nir(..., dt: float = 0.001)`."""

DT_HINTS = (
    f"snnTorch's export_to_nir assumes {SNNTORCH_DT:g} s (--dt {SNNTORCH_DT:g}), sinabs's to_nir one step (--dt 1), "
    f"norse's to_nir {NORSE_DT:g} s (--dt {NORSE_DT:g} --tau-convention norse)"
)
"""The step each exporter that records no dt assumed, as the `--dt` to pass."""


@dataclass(frozen=True)
class Exporter:
    """A framework recognised from the form of a graph's neuron parameters."""

    name: str
    """The framework and its export function, e.g. "snnTorch's export_to_nir"."""
    dt: float
    """The step in seconds the exporter wrote the time constants for."""
    evidence: str
    """What in the graph identifies it, for messages."""
    default_reset: str
    """The framework's default reset, named as its users set it."""
    zero_reset: str
    """How to train with reset to zero in that framework."""

    def dt_hint(self) -> str:
        """`it looks like NAME (EVIDENCE), which writes time constants for ...: pass --dt DT`."""
        unit = "one step (time constants in steps)" if self.dt == 1 else f"a step of {self.dt:g} s"
        return f"it looks like {self.name} ({self.evidence}), which writes time constants for {unit}: --dt {self.dt:g}"


SNNTORCH = Exporter(
    name="snnTorch's export_to_nir",
    dt=SNNTORCH_DT,
    evidence=f"every LIF/CubaLIF has r = tau / {SNNTORCH_DT:g} and v_leak = 0",
    default_reset="reset_mechanism='subtract'",
    zero_reset="reset_mechanism='zero'",
)
SINABS = Exporter(
    name="sinabs's to_nir",
    dt=1.0,
    evidence="every neuron node has r = 1, time constants of one step or more",
    default_reset="reset_fn=MembraneSubtract()",
    zero_reset="reset_fn=MembraneReset()",
)


def neuron_nodes(graph: nir.NIRGraph) -> Iterator[nir.NIRNode]:
    """Every neuron node of a graph, nested subgraphs included."""
    for node in graph.nodes.values():
        if isinstance(node, nir.NIRGraph):
            yield from neuron_nodes(node)
        elif isinstance(node, nir.CubaLIF | nir.CubaLI | nir.LIF | nir.LI | nir.IF):
            yield node


def _array(node: nir.NIRNode, key: str) -> np.ndarray:
    value = getattr(node, key, None)
    value = value.detach().cpu().numpy() if hasattr(value, "detach") else value
    return np.atleast_1d(np.asarray(0.0 if value is None else value, dtype=np.float64))


def _zero(node: nir.NIRNode, *keys: str) -> bool:
    return all(not np.any(_array(node, key)) for key in keys)


def _ratio(node: nir.NIRNode, tau: str, factor: str, dt: float) -> bool:
    """tau == factor * dt, to float32 rounding (the exporters compute in float32)."""
    a, b = _array(node, tau), _array(node, factor) * dt
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-5, atol=0.0))


def _snntorch_like(node: nir.NIRNode) -> bool:
    if isinstance(node, nir.LIF):
        return _ratio(node, "tau", "r", SNNTORCH_DT) and _zero(node, "v_leak", "v_reset")
    if isinstance(node, nir.CubaLIF):
        return (
            _ratio(node, "tau_mem", "r", SNNTORCH_DT)
            and _ratio(node, "tau_syn", "w_in", SNNTORCH_DT)
            and _zero(node, "v_leak", "v_reset")
        )
    return False


def _sinabs_like(node: nir.NIRNode) -> bool:
    if not np.all(_array(node, "r") == 1.0):
        return False
    if isinstance(node, nir.IF):
        return True
    if isinstance(node, nir.LIF | nir.LI):
        return _zero(node, "v_leak") and bool(np.all(_array(node, "tau") >= 1.0))
    return False


def guess_exporter(graph: nir.NIRGraph) -> Exporter | None:
    """The framework whose export every neuron node of `graph` looks like (snnTorch or sinabs), or None.

    A guess from the parameters' form only: call it for graphs that record no dt (neither framework writes one;
    spikeport's own graphs and most others do).
    """
    nodes = list(neuron_nodes(graph))
    spiking = [n for n in nodes if isinstance(n, nir.LIF | nir.CubaLIF | nir.IF)]
    if not spiking:
        return None
    if all(_snntorch_like(n) for n in nodes):
        return SNNTORCH
    if all(_sinabs_like(n) for n in nodes):
        return SINABS
    return None
