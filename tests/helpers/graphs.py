"""Small hand-built deploy graphs for kernel goldens and IR tests."""

from __future__ import annotations

from typing import Any

import numpy as np

from spikeport.ir import DenseInt, DeployGraph, LIFInt, LIFResetInt, SpikeInput, TernaryLIFInt

QUIET = {"du": 4095, "dv": 4096, "vth": 2**17 - 1}
"""Neuron settings that make a population a probe: memoryless u and v, v = u + bias, and no spikes below 2**23."""


def one_layer(
    weights: Any,
    *,
    weight_exp: int = 0,
    num_weight_bits: int = 8,
    num_message_bits: int = 0,
    delays: Any = None,
    kind: str = "lif",
    **neuron: Any,
) -> DeployGraph:
    """input -> Dense -> one population, with `weights` of shape (n_out, n_in) and LIF parameters `neuron`."""
    weights = np.atleast_2d(np.asarray(weights, dtype=np.int64))
    n_out, n_in = weights.shape
    params = {**QUIET, **neuron}
    cls = {"lif": LIFInt, "reset": LIFResetInt, "ternary": TernaryLIFInt}[kind]
    return DeployGraph(
        nodes={
            "in": SpikeInput(name="in", size=n_in, num_message_bits=num_message_bits),
            "syn": DenseInt(
                name="syn", weights=weights, weight_exp=weight_exp, num_weight_bits=num_weight_bits,
                num_message_bits=num_message_bits, delays=None if delays is None else np.asarray(delays),
            ),
            "pop": cls(name="pop", size=n_out, **params),
        },
        edges=[("in", "syn"), ("syn", "pop")],
        output="pop",
    )  # fmt: skip


def two_layer(n_in: int = 4, n_hidden: int = 5, n_out: int = 3, seed: int = 0) -> DeployGraph:
    """A random 2-layer network with a delayed second synapse and a graded-free input."""
    rng = np.random.default_rng(seed)
    return DeployGraph(
        nodes={
            "in": SpikeInput(name="in", size=n_in),
            "d1": DenseInt(name="d1", weights=rng.integers(-256, 256, (n_hidden, n_in)), weight_exp=-1),
            "h": LIFInt(name="h", size=n_hidden, du=400, dv=300, vth=100, bias_mant=rng.integers(-50, 50, n_hidden)),
            "d2": DenseInt(
                name="d2", weights=rng.integers(0, 256, (n_out, n_hidden)), num_weight_bits=5,
                delays=rng.integers(0, 4, (n_out, n_hidden)),
            ),
            "o": TernaryLIFInt(name="o", size=n_out, du=4095, dv=0, vth=50, vth_lo=-50),
        },
        edges=[("in", "d1"), ("d1", "h"), ("h", "d2"), ("d2", "o")],
        output="o",
        metadata={"dt": 0.001, "origin": "tests.helpers.graphs.two_layer"},
    )  # fmt: skip


def pulses(steps: int, n_in: int, at: dict[int, Any], samples: int = 1) -> np.ndarray:
    """Inputs (samples, steps, n_in), zero except row `k` = `at[k]` (a vector or a scalar for every input)."""
    x = np.zeros((samples, steps, n_in), dtype=np.int64)
    for k, value in at.items():
        x[:, k] = value
    return x
