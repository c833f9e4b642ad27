"""The `SpikeAttention` process: one `AttentionInt` node on Lava, sized linearly in the number of tokens."""

from __future__ import annotations

import numpy as np
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.process.variable import Var


def state_layout(n_tokens: int, n_features: int, delay: int) -> dict[str, tuple[int, int, tuple[int, ...]]]:
    """name -> (offset, length, shape) of every state array inside the process's `a_buff` Var.

    The whole state lives in the one Var `a_buff` so that zeroing it between samples (as spikeport's runner zeroes
    every connection's `a_buff`) returns the block to rest: the Q, K, V neurons' u and v, and the ring buffers of
    the signals the block reads d, 3d steps later (x, Q, K, V, kv, g, attn). Every length is N * D times a constant
    (or D for the gate), so the process grows linearly with tokens.
    """
    m, d = n_tokens * n_features, delay
    shapes = {
        "u": (3, m), "v": (3, m), "x": (d, m), "q": (3 * d, m), "k": (d, m), "vv": (d, m), "kv": (d, m),
        "g": (d, n_features), "attn": (d, m),
    }  # fmt: skip
    layout, offset = {}, 0
    for name, shape in shapes.items():
        length = int(np.prod(shape))
        layout[name] = (offset, length, shape)
        offset += length
    return layout


class SpikeAttention(AbstractProcess):
    """Spike-driven self-attention over N tokens of D channels: binary spikes in on `s_in`, the target population's
    input current out on `a_out` (N * D each, token-major), like a synapse process.

    Args mirror `spikeport.ir.attention.AttentionInt`: `weights` (3, D, D), `weight_exp`, `du`, `dv`, `vth`,
    `bias_exp` (3,), `bias_mant` (3, D), `gate_threshold`, `delay` and, with an output projection, `out_weights`
    (D, D) and `out_weight_exp`.
    """

    def __init__(
        self,
        *,
        n_tokens: int,
        n_features: int,
        delay: int,
        weights: np.ndarray,
        weight_exp: np.ndarray,
        du: np.ndarray,
        dv: np.ndarray,
        vth: np.ndarray,
        bias_mant: np.ndarray,
        bias_exp: np.ndarray,
        gate_threshold: int,
        out_weights: np.ndarray | None = None,
        out_weight_exp: int = 0,
        name: str | None = None,
    ) -> None:
        layout = state_layout(n_tokens, n_features, delay)
        state_size = sum(length for _, length, _ in layout.values())
        has_out = out_weights is not None
        super().__init__(
            n_tokens=n_tokens, n_features=n_features, delay=delay, layout=layout, has_out=has_out, name=name
        )
        size = n_tokens * n_features
        self.s_in = InPort(shape=(size,))
        self.a_out = OutPort(shape=(size,))
        self.weights = Var(shape=(3, n_features, n_features), init=np.asarray(weights, dtype=np.int32))
        self.weight_exp = Var(shape=(3,), init=np.asarray(weight_exp, dtype=np.int32))
        self.du = Var(shape=(3,), init=np.asarray(du, dtype=np.int32))
        self.dv = Var(shape=(3,), init=np.asarray(dv, dtype=np.int32))
        self.vth = Var(shape=(3,), init=np.asarray(vth, dtype=np.int32))
        self.bias_mant = Var(shape=(3, n_features), init=np.asarray(bias_mant, dtype=np.int32))
        self.bias_exp = Var(shape=(3,), init=np.asarray(bias_exp, dtype=np.int32))
        self.gate_threshold = Var(shape=(1,), init=np.array([gate_threshold], dtype=np.int32))
        out_shape = (n_features, n_features) if has_out else (1, 1)
        out = np.asarray(out_weights, dtype=np.int32) if has_out else np.zeros(out_shape, dtype=np.int32)
        self.out_weights = Var(shape=out_shape, init=out)
        self.out_weight_exp = Var(shape=(1,), init=np.array([out_weight_exp], dtype=np.int32))
        self.a_buff = Var(shape=(state_size,), init=np.zeros(state_size, dtype=np.int32))
