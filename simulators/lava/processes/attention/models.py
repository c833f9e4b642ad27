"""The `fixed_pt` model of `SpikeAttention`: one step of spike-driven self-attention in Loihi's integer arithmetic.

Written step by step with ring buffers, independently of the reference (`spikeport.simulators.attention`, which
works on whole spike trains); tests/simulators/lava/test_attention_lava.py compares the two bit for bit. The
Q, K, V neurons follow Lava 0.10.0's `PyLifModelBitAcc` (`lava/proc/lif/models.py`, `subthr_dynamics`) line by
line; the projections are Dense's accumulate-and-shift (`lava/proc/dense/models.py`) on stored weights.
"""

from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from spikeport.simulators.lava.processes.attention.process import SpikeAttention

DECAY_SHIFT, ACT_SHIFT, UV_HALF = 12, 6, 2**23  # Lava's LIF: 12-bit decays, 6-bit MSB alignment, 24-bit u and v


def _shift(x: np.ndarray, exponent: int) -> np.ndarray:
    """Dense's weight_exp: `x << e` for e > 0, `x >> -e` (arithmetic, floor) otherwise, in int32."""
    return np.left_shift(x, exponent) if exponent > 0 else np.right_shift(x, -exponent)


def _decayed(x: np.ndarray, keep: int) -> np.ndarray:
    """sign(x * keep) * (|x * keep| >> 12), computed in int64 and returned as int32 (as Lava does)."""
    product = x.astype(np.int64) * keep
    return (np.sign(product) * np.right_shift(np.abs(product), DECAY_SHIFT)).astype(np.int32)


@implements(proc=SpikeAttention, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PySpikeAttentionModelFixed(PyLoihiProcessModel):
    """Sends the target's input for this step, then receives this step's spikes (as a Dense: one step per hop)."""

    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    a_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    weights: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=9)
    weight_exp: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=4)
    du: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=13)
    dv: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=13)
    vth: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=17)
    bias_mant: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=13)
    bias_exp: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=4)
    gate_threshold: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=17)
    out_weights: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=9)
    out_weight_exp: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=4)
    a_buff: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)

    def __init__(self, proc_params) -> None:
        super().__init__(proc_params)
        self.n, self.dim, self.d = proc_params["n_tokens"], proc_params["n_features"], proc_params["delay"]
        self.layout, self.has_out = proc_params["layout"], proc_params["has_out"]

    def _state(self, name: str) -> np.ndarray:
        """A writable view of one state array inside `a_buff`."""
        offset, length, shape = self.layout[name]
        return self.a_buff[offset : offset + length].reshape(shape)

    def _project(self, spikes: np.ndarray, weights: np.ndarray, exponent: int) -> np.ndarray:
        """Per token (rows of `spikes`, N x D of 0/1): sum of weight columns over active inputs, then the shift."""
        acc = spikes.reshape(self.n, self.dim).astype(np.int64) @ weights.astype(np.int64).T
        return _shift(acc.astype(np.int32), int(exponent)).reshape(-1)

    def _lif(self, p: int, a_in: np.ndarray) -> np.ndarray:
        """One step of projection p's LIF neurons (Lava's `PyLifModelBitAcc`); returns the 0/1 spikes."""
        u, v = self._state("u")[p], self._state("v")[p]
        bias_mant = np.tile(self.bias_mant[p].astype(np.int32), self.n)
        bias = _shift(bias_mant, int(self.bias_exp[p]))
        current = _decayed(u, 2**DECAY_SHIFT - (int(self.du[p]) + 1))
        current = current + np.left_shift(a_in.astype(np.int32), ACT_SHIFT)
        wrapped = np.where(current > UV_HALF, current - 2 * UV_HALF, current)
        wrapped = np.where(wrapped <= -UV_HALF, current + 2 * UV_HALF, wrapped)
        u[:] = wrapped
        voltage = _decayed(v, 2**DECAY_SHIFT - int(self.dv[p])) + u + bias
        v[:] = np.clip(voltage, -UV_HALF + 1, UV_HALF - 1)
        spikes = v > np.left_shift(np.int32(self.vth[p]), ACT_SHIFT)
        v[spikes] = 0
        return spikes.astype(np.int32)

    def run_spk(self) -> None:
        k, d = self.time_step - 1, self.d
        slot, q_slot = k % d, k % (3 * d)  # ring buffers: the slot holds the signal of d (3d) steps ago
        x_hist, q_hist, k_hist, v_hist = self._state("x"), self._state("q"), self._state("k"), self._state("vv")
        kv_hist, g_hist, attn_hist = self._state("kv"), self._state("g"), self._state("attn")
        x_old = x_hist[slot].copy()
        spikes = [self._lif(p, self._project(x_old, self.weights[p], self.weight_exp[p])) for p in range(3)]
        kv = k_hist[slot] & v_hist[slot]  # K AND V of d steps ago
        k_hist[slot], v_hist[slot] = spikes[1], spikes[2]
        count = kv_hist[slot].reshape(self.n, self.dim).sum(axis=0)  # tokens with K AND V, d steps ago
        kv_hist[slot] = kv
        gate = (count > int(self.gate_threshold[0])).astype(np.int32)
        attn = q_hist[q_slot] & np.tile(g_hist[slot], self.n)  # Q of 3d steps ago AND gate of d steps ago
        q_hist[q_slot], g_hist[slot] = spikes[0], gate
        out = attn  # without output projection the target relays attn
        if self.has_out:
            out = self._project(attn_hist[slot], self.out_weights, int(self.out_weight_exp[0]))
        attn_hist[slot] = attn
        self.a_out.send(out.astype(np.int32))
        x_hist[slot] = self.s_in.recv() != 0
