"""NIR neuron nodes discretized into `Population`s of the float intermediate form (`spikeport.export.network`).

Every supported neuron node becomes a population with the same per-step update (dt from the graph):

    cur[t] = (1 - beta) * cur[t-1] + gain * x[t]
    v[t]   = (1 - alpha) * v[t-1] + cur[t] + bias
    spike where v[t] > v_th, then v[t] <- 0

| NIR node | beta        | alpha     | gain                 | bias                      |
|----------|-------------|-----------|----------------------|---------------------------|
| CubaLIF  | dt/tau_syn  | dt/tau_mem| beta * alpha * r * w_in | dt/tau_mem * v_leak    |
| CubaLI   | dt/tau_syn  | dt/tau_mem| beta * alpha * r * w_in | dt/tau_mem * v_leak (no spikes) |
| LIF      | 1           | dt/tau    | dt/tau * r           | dt/tau * v_leak           |
| LI       | 1           | dt/tau    | dt/tau * r           | dt/tau * v_leak (no spikes) |
| IF       | 1           | 0         | r                    | 0                         |
| Threshold| 1           | 1         | 1                    | 0 (v_th = threshold: v = x, stateless) |

This is the forward-Euler discretization of NIR's equations with the input held over the step (for CubaLIF:
tau_syn dI/dt = -I + w_in x, tau_mem dv/dt = v_leak - v + r I; the current is updated first and the voltage
integrates the new current, as norse's `from_nir` does), written so that it is exactly Loihi's CUBA LIF with
u = cur and v = v, which is what makes quantization a pure change of units. A spike of weight w thus moves a
CubaLIF's current by beta * w_in * w: a model whose current jumps by w (norse's `LIFCell`, snnTorch's
`Synaptic`) is written with w_in = tau_syn / dt. Neuron parameters may be arrays of any shape (e.g. (C, H, W)
after a convolution); a population is their broadcast shape flattened in C order.
"""

from __future__ import annotations

import nir
import numpy as np

from spikeport.errors import IRValidationError, UnsupportedNodeError
from spikeport.export.network import Population

__all__ = [
    "NEURON_NODES",
    "PARAMETER_FIELDS",
    "TAU_CONVENTIONS",
    "neuron_shape",
    "parameter_mismatch",
    "read_population",
]

NEURON_NODES = (nir.CubaLIF, nir.CubaLI, nir.LIF, nir.LI, nir.IF, nir.Threshold)
"""The NIR node types read as populations."""

TAU_CONVENTIONS = ("seconds", "norse")
"""How a graph's time constants are written: in seconds (the NIR standard), or as norse <= 1.1's `to_nir` writes
them: `tau* = dt / tau_inv` = dt * tau, and a `LIFCell` (current jumps by the input) as a CubaLIF with w_in = 1
where the NIR equations need tau_syn / dt. Its own `from_nir` reads seconds and the equations, so norse does not
round-trip these."""


PARAMETER_FIELDS = {
    "CubaLIF": ("tau_syn", "tau_mem", "r", "v_leak", "v_threshold", "v_reset", "w_in"),
    "CubaLI": ("tau_syn", "tau_mem", "r", "v_leak", "w_in"),
    "LIF": ("tau", "r", "v_leak", "v_threshold", "v_reset"),
    "LI": ("tau", "r", "v_leak"),
    "IF": ("r", "v_threshold", "v_reset"),
    "Threshold": ("threshold",),
}
"""Per neuron node type, the per-neuron parameters; NIR requires them all to have one shape."""


def parameter_mismatch(name: str, kind: str, shapes: dict[str, tuple[int, ...]]) -> IRValidationError | None:
    """The error naming node `name` and its odd parameters if its per-neuron parameters differ in shape, else None.

    Args:
        name: the node's name (a subgraph's nodes as "SUBGRAPH.NODE").
        kind: the NIR node type ("CubaLIF", ...); other types give None.
        shapes: parameter name -> shape, as stored in the file.
    """
    shapes = {key: tuple(shapes[key]) for key in PARAMETER_FIELDS.get(kind, ()) if key in shapes}
    distinct = sorted(set(shapes.values()), key=lambda shape: -list(shapes.values()).count(shape))
    if len(distinct) < 2:
        return None
    common = distinct[0]
    odd = ", ".join(f"{key!r} has shape {shape}" for key, shape in shapes.items() if shape != common)
    return IRValidationError(
        f"NIR node {name!r} ({kind}): parameter {odd}, but the other parameters have shape {common}; every "
        "parameter of a neuron node needs one value per neuron"
    )


def _params(name: str, node: nir.NIRNode, *fields: str) -> dict[str, np.ndarray]:
    """The named parameters, checked for NaN/inf, broadcast to one shape and flattened in C order."""
    raw = {}
    for key in fields:
        value = np.atleast_1d(np.asarray(getattr(node, key), dtype=np.float64))
        if not np.all(np.isfinite(value)) and not (key == "v_threshold" and np.all(np.isposinf(value))):
            raise IRValidationError(f"NIR node {name!r}: parameter {key!r} contains NaN or infinite values")
        raw[key] = value
    shape = _param_shape(name, raw)
    return {key: np.broadcast_to(value, shape).reshape(-1).copy() for key, value in raw.items()}


def _param_shape(name: str, params: dict[str, np.ndarray]) -> tuple[int, ...]:
    try:
        return tuple(int(n) for n in np.broadcast_shapes(*(v.shape for v in params.values())))
    except ValueError:
        shapes = {k: v.shape for k, v in params.items()}
        raise IRValidationError(f"NIR node {name!r}: parameter shapes {shapes} do not broadcast together") from None


def _neuron_fields(node: nir.NIRNode) -> tuple[str, ...]:
    if isinstance(node, nir.CubaLIF | nir.CubaLI):
        base = ("tau_syn", "tau_mem", "r", "v_leak", "w_in")
    elif isinstance(node, nir.LIF | nir.LI):
        base = ("tau", "r", "v_leak")
    elif isinstance(node, nir.Threshold):
        return ("threshold",)
    else:  # IF
        base = ("r",)
    return base + (() if isinstance(node, nir.CubaLI | nir.LI) else ("v_threshold",))


def neuron_shape(name: str, node: nir.NIRNode) -> tuple[int, ...]:
    """The shape of a neuron node: its parameters' broadcast shape (at least 1-D).

    Raises:
        IRValidationError: If the parameter shapes do not broadcast together.
    """
    fields = _neuron_fields(node)
    return _param_shape(name, {k: np.atleast_1d(np.asarray(getattr(node, k), dtype=np.float64)) for k in fields})


def read_population(name: str, node: nir.NIRNode, dt: float, tau_convention: str = "seconds") -> Population:
    """Discretize one neuron node (one of `NEURON_NODES`) with step `dt` as the module docstring's table says.

    Args:
        name: The node's name (the population's name and the one error messages give).
        node: The NIR neuron node.
        dt: Simulation step in seconds.
        tau_convention: "seconds" (NIR) or "norse" (`TAU_CONVENTIONS`).

    Raises:
        IRValidationError: NaN/inf parameters, shapes that do not broadcast, time constants below dt.
        UnsupportedNodeError: A nonzero v_reset (Loihi resets v to 0).
    """
    kind = type(node).__name__
    p = _params(name, node, *_neuron_fields(node))
    if tau_convention == "norse":
        p = {key: value / dt if key.startswith("tau") else value for key, value in p.items()}
        if "w_in" in p:
            p["w_in"] = p["w_in"] * p["tau_syn"] / dt
    if isinstance(node, nir.CubaLIF | nir.CubaLI):
        alpha, beta = dt / p["tau_mem"], dt / p["tau_syn"]
        gain = beta * alpha * p["r"] * p["w_in"]
    elif isinstance(node, nir.LIF | nir.LI):
        alpha = dt / p["tau"]
        beta, gain = np.ones_like(alpha), alpha * p["r"]
    elif isinstance(node, nir.Threshold):  # stateless: v = x, no memory of the previous step
        p["v_threshold"] = p["threshold"]
        alpha, beta, gain = (np.ones_like(p["threshold"]) for _ in range(3))
        p["v_leak"] = np.zeros_like(alpha)
    else:  # IF
        alpha, beta, gain = np.zeros_like(p["r"]), np.ones_like(p["r"]), p["r"]
        p["v_leak"] = np.zeros_like(alpha)
    if np.any(alpha < 0) or np.any(alpha > 1) or np.any(beta <= 0) or np.any(beta > 1):
        raise IRValidationError(
            f"NIR node {name!r}: time constants must be >= dt ({dt} s); got decays alpha in "
            f"[{alpha.min():.3g}, {alpha.max():.3g}], beta in [{beta.min():.3g}, {beta.max():.3g}]"
            + (
                "; graphs written by norse.torch.to_nir store dt * tau: pass tau_convention='norse' "
                "(CLI: --tau-convention norse)"
                if tau_convention == "seconds"
                else ""
            )
        )
    if isinstance(node, nir.CubaLI | nir.LI):
        v_th = np.full_like(alpha, np.inf)
    else:
        v_th = p["v_threshold"]
        v_reset = np.asarray(getattr(node, "v_reset", 0.0), dtype=np.float64)
        if np.any(v_reset != 0):
            raise UnsupportedNodeError(f"NIR node {name!r}: v_reset must be 0 (Loihi resets v to 0), got {v_reset}")
    return Population(name=name, kind=kind, beta=beta, alpha=alpha, gain=gain, bias=alpha * p["v_leak"], v_th=v_th)
