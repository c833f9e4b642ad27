"""Hand-built NIR graphs for export and quantization tests."""

from __future__ import annotations

import nir
import numpy as np


def cuba_node(
    n: int, *, spiking: bool = True, tau_syn: float = 5e-3, tau_mem: float = 1e-2, v_th: float = 1.0, dt: float = 1e-3
):
    """A CubaLIF (or non-spiking CubaLI) node of n neurons with shared time constants; w_in = tau_syn / dt, so a
    spike of weight w moves the current by w."""
    kw = dict(
        tau_syn=np.full(n, tau_syn),
        tau_mem=np.full(n, tau_mem),
        r=np.ones(n),
        v_leak=np.zeros(n),
        w_in=np.full(n, tau_syn / dt),
    )
    if spiking:
        return nir.CubaLIF(v_threshold=np.full(n, v_th), v_reset=np.zeros(n), **kw)
    return nir.CubaLI(**kw)


def two_layer_graph(rng: np.random.Generator, n_in: int = 40, hidden: int = 30, n_out: int = 3, dt: float = 1e-3):
    """Input -> Linear -> Delay(dt) -> CubaLIF -> Linear -> Delay(dt) -> CubaLI -> Output, random normal weights.

    The one-step Delay nodes give the float graph Loihi's Dense timing, so float and integer runs align.
    """
    return nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([n_in])}),
            "fc1": nir.Linear(weight=rng.normal(0, 1.5, (hidden, n_in))),
            "d1": nir.Delay(delay=np.full(hidden, dt)),
            "lif": cuba_node(hidden),
            "fc2": nir.Linear(weight=rng.normal(0, 1.0, (n_out, hidden))),
            "d2": nir.Delay(delay=np.full(n_out, dt)),
            "readout": cuba_node(n_out, spiking=False),
            "output": nir.Output(output_type={"output": np.array([n_out])}),
        },
        edges=[
            ("input", "fc1"),
            ("fc1", "d1"),
            ("d1", "lif"),
            ("lif", "fc2"),
            ("fc2", "d2"),
            ("d2", "readout"),
            ("readout", "output"),
        ],
        metadata={"dt": dt},
    )


def recurrent_graph(
    rng: np.random.Generator,
    *,
    n_in: int,
    hidden: int,
    n_out: int = 0,
    input_delay_steps: int = 1,
    affine_biases: bool = False,
    dt: float = 1e-3,
) -> nir.NIRGraph:
    """Input -> fc -> Delay -> CubaLIF "lif" with a recurrent rec -> Delay(dt) loop, then either Output directly
    (n_out = 0) or out -> Delay(dt) -> CubaLI "readout" -> Output. With `affine_biases`, synapses are Affine."""

    def synapse(weight: np.ndarray, bias_mean: float) -> nir.NIRNode:
        if not affine_biases:
            return nir.Linear(weight=weight)
        bias = rng.normal(bias_mean, 0.2, weight.shape[0]) if bias_mean else np.zeros(weight.shape[0])
        return nir.Affine(weight=weight, bias=bias)

    nodes = {
        "input": nir.Input(input_type={"input": np.array([n_in])}),
        "fc": synapse(rng.normal(0, 2.0, (hidden, n_in)), 0.3),
        "fc_delay": nir.Delay(delay=np.full(hidden, input_delay_steps * dt)),
        "lif": cuba_node(hidden),
        "rec": synapse(rng.normal(0, 0.8 if affine_biases else 0.5, (hidden, hidden)), 0.0),
        "rec_delay": nir.Delay(delay=np.full(hidden, dt)),
    }
    edges = [
        ("input", "fc"),
        ("fc", "fc_delay"),
        ("fc_delay", "lif"),
        ("lif", "rec"),
        ("rec", "rec_delay"),
        ("rec_delay", "lif"),
    ]
    if n_out:
        nodes["out"] = synapse(rng.normal(0, 1.0, (n_out, hidden)), 0.1)
        nodes["out_delay"] = nir.Delay(delay=np.full(n_out, dt))
        nodes["readout"] = cuba_node(n_out, spiking=False)
        edges += [("lif", "out"), ("out", "out_delay"), ("out_delay", "readout"), ("readout", "output")]
    else:
        edges.append(("lif", "output"))
    nodes["output"] = nir.Output(output_type={"output": np.array([n_out or hidden])})
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={"dt": dt})
