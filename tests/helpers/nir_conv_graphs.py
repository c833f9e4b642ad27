"""Hand-built NIR graphs with chains of linear nodes (convolutions, pools, Flatten, Scale) for the import tests.

Each `ChainCase` is one chain between the Input node and an IF population, together with an independent
PyTorch computation of what the chain does to a batch of (C, H, W) inputs.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import nir
import numpy as np
import torch
import torch.nn.functional as F

DT = 1e-3


def if_node(shape, *, v_th: float = 1.0, r: float = 1.0) -> nir.IF:
    """An IF node whose parameters have the given shape (e.g. (C, H, W) after a convolution)."""
    shape = tuple(np.atleast_1d(shape))
    return nir.IF(r=np.full(shape, r), v_threshold=np.full(shape, v_th), v_reset=np.zeros(shape))


def li_node(n: int, *, tau: float = 5e-3) -> nir.LI:
    """A non-spiking LI readout of n neurons."""
    return nir.LI(tau=np.full(n, tau), r=np.ones(n), v_leak=np.zeros(n))


def chain_graph(
    in_shape: tuple[int, ...],
    chain: dict[str, nir.NIRNode],
    target: nir.NIRNode,
    *,
    type_check: bool = True,
) -> nir.NIRGraph:
    """Input(in_shape) -> the chain's nodes in order -> target ("pop") -> Output."""
    out_shape = np.array(target.output_type["output"]) if target.output_type else None
    nodes = {
        "input": nir.Input(input_type={"input": np.array(in_shape)}),
        **chain,
        "pop": target,
        "output": nir.Output(output_type={"output": out_shape}),
    }
    names = list(nodes)
    return nir.NIRGraph(nodes=nodes, edges=list(itertools.pairwise(names)), metadata={"dt": DT}, type_check=type_check)


@dataclass(frozen=True)
class ChainCase:
    """A chain from the input to an IF population and PyTorch's version of the same map."""

    in_shape: tuple[int, ...]
    chain: dict[str, nir.NIRNode]
    out_shape: tuple[int, ...]
    reference: Callable[[torch.Tensor], torch.Tensor]
    """(batch, *in_shape) float64 -> (batch, *out_shape)."""
    type_check: bool = True
    """False where nir 1.0.8's own type inference gets the shape wrong (grouped or non-square convolutions)."""

    def graph(self, *, v_th: float = 1.0) -> nir.NIRGraph:
        return chain_graph(self.in_shape, self.chain, if_node(self.out_shape, v_th=v_th), type_check=self.type_check)


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(a, dtype=torch.float64)


def chain_cases(rng: np.random.Generator) -> dict[str, ChainCase]:
    """One small case per supported primitive, plus a composed chain; random weights and biases."""
    cases = {}

    cases["identity"] = ChainCase((12,), {}, (12,), lambda x: x)

    w, b = rng.normal(0, 1, (6, 12)), rng.normal(0, 0.1, 6)
    cases["affine"] = ChainCase((12,), {"fc": nir.Affine(weight=w, bias=b)}, (6,), lambda x: x @ _t(w).T + _t(b))

    # Conv1d: 2 groups, stride 2, padding 1, dilation 2 on (2, 11) -> (4, 5)
    w1, b1 = rng.normal(0, 1, (4, 1, 3)), rng.normal(0, 0.1, 4)
    conv1d = nir.Conv1d(input_shape=11, weight=w1, stride=2, padding=1, dilation=2, groups=2, bias=b1)
    cases["conv1d"] = ChainCase(
        (2, 11),
        {"conv": conv1d},
        (4, 5),
        lambda x: F.conv1d(x, _t(w1), _t(b1), stride=2, padding=1, dilation=2, groups=2),
        type_check=False,
    )

    # Conv2d: stride 2, padding 1 on (2, 9, 9) -> (3, 5, 5)
    w2, b2 = rng.normal(0, 1, (3, 2, 3, 3)), rng.normal(0, 0.1, 3)
    conv2d = nir.Conv2d(input_shape=(9, 9), weight=w2, stride=2, padding=1, dilation=1, groups=1, bias=b2)
    cases["conv2d"] = ChainCase(
        (2, 9, 9), {"conv": conv2d}, (3, 5, 5), lambda x: F.conv2d(x, _t(w2), _t(b2), stride=2, padding=1)
    )

    # Conv2d 'same' with an even kernel width (PyTorch pads the odd pixel after), dilation (2, 1), 2 groups
    w3, b3 = rng.normal(0, 1, (4, 2, 3, 2)), rng.normal(0, 0.1, 4)
    same = nir.Conv2d(input_shape=(7, 7), weight=w3, stride=1, padding="same", dilation=(2, 1), groups=2, bias=b3)
    cases["conv2d_same"] = ChainCase(
        (4, 7, 7),
        {"conv": same},
        (4, 7, 7),
        lambda x: F.conv2d(x, _t(w3), _t(b3), padding="same", dilation=(2, 1), groups=2),
        type_check=False,
    )

    # Conv2d 'valid' with stride (2, 1) on (1, 6, 8) -> (2, 3, 6)
    w4, b4 = rng.normal(0, 1, (2, 1, 2, 3)), rng.normal(0, 0.1, 2)
    valid = nir.Conv2d(input_shape=(6, 8), weight=w4, stride=(2, 1), padding="valid", dilation=1, groups=1, bias=b4)
    cases["conv2d_valid"] = ChainCase(
        (1, 6, 8),
        {"conv": valid},
        (2, 3, 6),
        lambda x: F.conv2d(x, _t(w4), _t(b4), stride=(2, 1)),
        type_check=False,  # nir 1.0.8 infers the output of non-square kernels from the kernel height alone
    )

    sum_pool = nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0]))
    cases["sumpool2d"] = ChainCase(
        (2, 6, 6), {"pool": sum_pool}, (2, 3, 3), lambda x: F.avg_pool2d(x, 2, 2, divisor_override=1)
    )

    avg_pool = nir.AvgPool2d(kernel_size=np.array([3, 3]), stride=np.array([2, 2]), padding=np.array([1, 1]))
    cases["avgpool2d"] = ChainCase((2, 7, 7), {"pool": avg_pool}, (2, 4, 4), lambda x: F.avg_pool2d(x, 3, 2, 1))

    cases["flatten"] = ChainCase(
        (2, 3, 4),
        {"flat": nir.Flatten(input_type={"input": np.array([2, 3, 4])}, start_dim=0, end_dim=-1)},
        (24,),
        lambda x: x.flatten(1),
    )

    s = rng.uniform(0.5, 2.0, (2, 3, 3))
    cases["scale"] = ChainCase((2, 3, 3), {"scale": nir.Scale(scale=s)}, (2, 3, 3), lambda x: x * _t(s))

    # Per-source delays (0..3 steps per input pixel) before a Conv2d: a DelayDense with varied delays
    w7, b7 = rng.normal(0, 1, (2, 1, 3, 3)), rng.normal(0, 0.1, 2)
    cases["conv2d_delays"] = ChainCase(
        (1, 5, 5),
        {
            "delay": nir.Delay(delay=rng.integers(0, 4, (1, 5, 5)) * DT),
            "conv": nir.Conv2d(input_shape=(5, 5), weight=w7, stride=1, padding=0, dilation=1, groups=1, bias=b7),
        },
        (2, 3, 3),
        lambda x: F.conv2d(x, _t(w7), _t(b7)),
    )

    # A whole chain: Conv2d -> Delay -> SumPool2d -> Flatten -> Scale -> Affine
    w5, b5 = rng.normal(0, 1, (2, 2, 3, 3)), rng.normal(0, 0.1, 2)
    s5 = rng.uniform(0.5, 2.0, 8)
    w6, b6 = rng.normal(0, 1, (5, 8)), rng.normal(0, 0.1, 5)

    def composed(x: torch.Tensor) -> torch.Tensor:
        y = F.avg_pool2d(F.conv2d(x, _t(w5), _t(b5), padding=1), 2, 2, divisor_override=1)
        return (y.flatten(1) * _t(s5)) @ _t(w6).T + _t(b6)

    cases["chain"] = ChainCase(
        (2, 4, 4),
        {
            "conv": nir.Conv2d(input_shape=(4, 4), weight=w5, stride=1, padding=1, dilation=1, groups=1, bias=b5),
            "delay": nir.Delay(delay=np.full((2, 4, 4), 3 * DT)),
            "pool": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0])),
            "flat": nir.Flatten(input_type={"input": np.array([2, 2, 2])}, start_dim=0),
            "scale": nir.Scale(scale=s5),
            "fc": nir.Affine(weight=w6, bias=b6),
        },
        (5,),
        composed,
    )
    return cases


def conv_net_graph(
    rng: np.random.Generator, *, channels: tuple[int, ...] = (2, 4, 4, 4), size: int = 34, n_out: int = 10
) -> nir.NIRGraph:
    """A DVS-style convolutional SNN: (C, size, size) spikes -> three Conv2d + IF layers -> SumPool2d -> Flatten ->
    Affine -> LI readout. Conv 1 and 2 have stride 2; conv 3 stride 1; every conv pads by 1 (3x3 kernels).

    For 2x34x34: 4x17x17 -> 4x9x9 -> 4x9x9 -> pool 4x4x4 = 64 -> 10.
    """
    nodes: dict[str, nir.NIRNode] = {"input": nir.Input(input_type={"input": np.array([channels[0], size, size])})}
    edges, previous, hw = [], "input", size
    for i, (c_in, c_out) in enumerate(itertools.pairwise(channels), start=1):
        stride = 2 if i < 3 else 1
        weight = rng.normal(0.1, 0.5, (c_out, c_in, 3, 3)) / np.sqrt(c_in)
        conv = nir.Conv2d(
            input_shape=(hw, hw),
            weight=weight,
            stride=stride,
            padding=1,
            dilation=1,
            groups=1,
            bias=rng.normal(0, 0.01, c_out),
        )
        hw = (hw + 2 - 3) // stride + 1
        nodes[f"conv{i}"], nodes[f"if{i}"] = conv, if_node((c_out, hw, hw), v_th=1.0)
        edges += [(previous, f"conv{i}"), (f"conv{i}", f"if{i}")]
        previous = f"if{i}"
    pooled = (channels[-1], hw // 2, hw // 2)
    nodes["pool"] = nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0]))
    nodes["flat"] = nir.Flatten(input_type={"input": np.array(pooled)}, start_dim=0)
    nodes["fc"] = nir.Affine(weight=rng.normal(0, 1, (n_out, int(np.prod(pooled)))), bias=rng.normal(0, 0.01, n_out))
    nodes["readout"] = li_node(n_out)
    nodes["output"] = nir.Output(output_type={"output": np.array([n_out])})
    edges += [(previous, "pool"), ("pool", "flat"), ("flat", "fc"), ("fc", "readout"), ("readout", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={"dt": DT})
