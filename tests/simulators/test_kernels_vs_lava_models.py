"""Our integer kernels against Lava's own process-model code, called directly (no runtime, no processes).

`PyLifModelBitAcc`, `PyDenseModelBitAcc` and `PyDelayDenseModelBitAcc` are instantiated as plain objects; their
ports are replaced by stubs that hand over one vector, and their arithmetic (`subthr_dynamics`, `run_spk`) is run
on random extreme states: u over all of int32, v over the 24-bit range, synaptic inputs over int32, weights far
outside 8 bits, graded payloads up to 2**24. What an int32 channel does to the data it carries (numpy assignment
into an int32 buffer, i.e. a two's-complement wrap) is applied by `_channel`.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from spikeport.simulators import kernels

pytestmark = pytest.mark.lava

INT32 = (-(2**31), 2**31 - 1)
V_LIMIT = 2**23 - 1


@pytest.fixture(scope="module")
def lava_models():
    from spikeport.simulators.lava import import_lava

    import_lava()
    from lava.proc.dense import models as dense_models
    from lava.proc.lif import models as lif_models

    return lif_models, dense_models


class _Port:
    """Stands in for a PyInPort/PyOutPort: `recv` returns `data`, `send` keeps what was sent."""

    def __init__(self, data: np.ndarray | None = None) -> None:
        self.data, self.sent = data, None

    def recv(self) -> np.ndarray:
        return self.data

    def send(self, data: np.ndarray) -> None:
        self.sent = np.array(data)


def _channel(x: np.ndarray) -> np.ndarray:
    """What an int32 channel delivers: the value wrapped to int32."""
    out = np.empty(np.shape(x), dtype=np.int32)
    out[:] = x
    return out


def _t(x: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x, dtype=np.float64))


def _int_arrays(n: int, lo: int, hi: int):
    return st.lists(st.one_of(st.integers(lo, hi), st.sampled_from([lo, hi, 0, -1, 1])), min_size=n, max_size=n).map(
        lambda v: np.array(v, dtype=np.int64)
    )


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    data=st.data(),
    n=st.integers(1, 8),
    du=st.one_of(st.sampled_from([-1, 0, 4095]), st.integers(0, 4095)),
    dv=st.one_of(st.sampled_from([0, 4096]), st.integers(0, 4096)),
    bias_exp=st.integers(-8, 7),
)
def test_lif_update_matches_py_lif_model_bit_acc(lava_models, data, n, du, dv, bias_exp):
    """`kernels.lif_update` + `spikes_binary` + `reset_spiked` equal `PyLifModelBitAcc` for any state and input."""
    lif_models, _ = lava_models
    u = data.draw(_int_arrays(n, *INT32), label="u")
    v = data.draw(_int_arrays(n, -V_LIMIT, V_LIMIT), label="v")
    a = data.draw(_int_arrays(n, *INT32), label="a_in")
    bias_mant = data.draw(_int_arrays(n, -4096, 4095), label="bias_mant")
    vth = data.draw(st.integers(0, 2**17 - 1), label="vth")

    model = lif_models.PyLifModelBitAcc({})
    model.u, model.v = u.astype(np.int32), v.astype(np.int32)
    model.du, model.dv, model.vth = du, dv, vth
    model.bias_mant, model.bias_exp = bias_mant.astype(np.int16), np.full(n, bias_exp, dtype=np.int16)
    model.scale_bias()
    model.scale_threshold()
    model.subthr_dynamics(activation_in=a.astype(np.int32))
    lava_spikes = model.spiking_activation()
    model.reset_voltage(lava_spikes)

    bias = kernels.effective_bias(bias_mant, bias_exp)
    ku, kv = kernels.lif_update(_t(u), _t(v), _t(a), du=du, dv=dv, bias=bias)
    ks = kernels.spikes_binary(kv, vth)
    kv = kernels.reset_spiked(kv, ks)
    np.testing.assert_array_equal(ku.numpy().astype(np.int64), model.u)
    np.testing.assert_array_equal(ks.numpy().astype(bool), lava_spikes)
    np.testing.assert_array_equal(kv.numpy().astype(np.int64), model.v)


@settings(max_examples=100, deadline=None, derandomize=True)
@given(data=st.data(), n=st.integers(1, 8), vth_hi=st.integers(0, 2**17 - 1), vth_lo=st.integers(-(2**17) + 1, 0))
def test_ternary_spikes_match_py_tern_lif_model_fixed(lava_models, data, n, vth_hi, vth_lo):
    """`spikes_ternary` + `reset_spiked` equal `PyTernLifModelFixed`'s activation and reset."""
    lif_models, _ = lava_models
    v = data.draw(_int_arrays(n, -V_LIMIT, V_LIMIT), label="v")
    model = lif_models.PyTernLifModelFixed({})
    model.v = v.astype(np.int32)
    model.vth_hi, model.vth_lo = np.array([vth_hi], dtype=np.int32), np.array([vth_lo], dtype=np.int32)
    model.scale_threshold()
    lava_spikes = model.spiking_activation()
    model.reset_voltage(lava_spikes)
    ks = kernels.spikes_ternary(_t(v), vth_hi, vth_lo)
    np.testing.assert_array_equal(ks.numpy().astype(np.int64), lava_spikes)
    np.testing.assert_array_equal(kernels.reset_spiked(_t(v), ks).numpy().astype(np.int64), model.v)


def _weights(data, shape, label="weights") -> np.ndarray:
    mode = data.draw(st.sampled_from(["excitatory", "inhibitory", "mixed", "wide"]), label=f"{label} mode")
    lo, hi = {"excitatory": (0, 255), "inhibitory": (-255, 0), "mixed": (-256, 255), "wide": (-3000, 3000)}[mode]
    return data.draw(_int_arrays(shape[0] * shape[1], lo, hi), label=label).reshape(shape)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    data=st.data(),
    n_out=st.integers(1, 6),
    n_in=st.integers(1, 6),
    num_weight_bits=st.integers(1, 8),
    weight_exp=st.integers(-8, 7),
    graded=st.booleans(),
)
def test_dense_matches_py_dense_model_bit_acc(lava_models, data, n_out, n_in, num_weight_bits, weight_exp, graded):
    """`effective_weights` + `dense_accumulate` equal one `PyDenseModelBitAcc.run_spk` (its buffered output)."""
    _, dense_models = lava_models
    weights = _weights(data, (n_out, n_in))
    if graded:
        spikes = data.draw(_int_arrays(n_in, -(2**24), 2**24), label="payloads")
    else:
        spikes = data.draw(_int_arrays(n_in, 0, 1), label="spikes")

    model = dense_models.PyDenseModelBitAcc({"weight_exp": weight_exp, "num_weight_bits": num_weight_bits})
    model.weights = weights.astype(np.int32)
    model.num_message_bits = np.array([8 if graded else 0])
    model.a_buff = np.zeros(n_out, dtype=np.int32)
    model.s_in, model.a_out = _Port(np.zeros(n_in, dtype=bool) + spikes.astype(np.int32)), _Port()
    model.run_spk()  # computes this step's accumulation into a_buff
    model.run_spk()  # sends it
    lava_a = _channel(model.a_out.sent)

    w_eff = kernels.effective_weights(weights, num_weight_bits)
    np.testing.assert_array_equal(w_eff, model.weights)
    acc = kernels.dense_accumulate(_t(spikes)[None], _t(w_eff.T), weight_exp=weight_exp, graded=graded)
    np.testing.assert_array_equal(kernels.wrap_int32(acc)[0].numpy().astype(np.int64), lava_a)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    data=st.data(),
    n_out=st.integers(1, 5),
    n_in=st.integers(1, 5),
    max_delay=st.sampled_from([0, 1, 3, 63]),
    num_weight_bits=st.integers(1, 8),
    weight_exp=st.integers(-8, 7),
    graded=st.booleans(),
)
def test_delay_dense_matches_py_delay_dense_model_bit_acc(
    lava_models, data, n_out, n_in, max_delay, num_weight_bits, weight_exp, graded
):
    """Per delay group, `dense_accumulate(delayed=True)` equals what `PyDelayDenseModelBitAcc` puts in a_buff."""
    _, dense_models = lava_models
    weights = _weights(data, (n_out, n_in))
    delays = data.draw(_int_arrays(n_out * n_in, 0, max_delay), label="delays").reshape(n_out, n_in)
    if graded:
        spikes = data.draw(_int_arrays(n_in, -(2**24), 2**24), label="payloads")
    else:
        spikes = data.draw(_int_arrays(n_in, 0, 1), label="spikes")

    model = dense_models.PyDelayDenseModelBitAcc({"weight_exp": weight_exp, "num_weight_bits": num_weight_bits})
    model.weights, model.delays = weights.astype(np.int32), delays.astype(np.int32)
    model.num_message_bits = np.array([8 if graded else 0])
    model.a_buff = np.zeros((n_out, max_delay + 1), dtype=np.int32)
    model.s_in, model.a_out = _Port(np.zeros(n_in, dtype=bool) + spikes.astype(np.int32)), _Port()
    model.run_spk()
    lava_buffer = model.a_buff  # column d is delivered d + 1 steps later

    w_eff = kernels.effective_weights(weights, num_weight_bits)
    ours = np.zeros((n_out, max_delay + 1), dtype=np.int64)
    for d in range(max_delay + 1):
        w_d = np.where(delays == d, w_eff, 0)
        acc = kernels.dense_accumulate(_t(spikes)[None], _t(w_d.T), weight_exp=weight_exp, graded=graded, delayed=True)
        ours[:, d] = kernels.wrap_int32(acc)[0].numpy().astype(np.int64)
    np.testing.assert_array_equal(ours, lava_buffer)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(data=st.data(), num_weight_bits=st.integers(1, 8))
def test_effective_weights_match_lava_weightutils(lava_models, data, num_weight_bits):
    """`kernels.effective_weights` equals lava.utils.weightutils' clip_weights + truncate_weights by sign mode."""
    from lava.utils.weightutils import clip_weights, determine_sign_mode, truncate_weights

    weights = _weights(data, (3, 4))
    mode = determine_sign_mode(weights)
    expected = truncate_weights(clip_weights(weights, mode, num_bits=8), mode, num_weight_bits)
    np.testing.assert_array_equal(kernels.effective_weights(weights, num_weight_bits), expected)


@pytest.mark.parametrize("delayed", [False, True], ids=["Dense", "DelayDense"])
@pytest.mark.parametrize("weight_exp", [-8, -7, -1, 0, 7])
@pytest.mark.parametrize("payload", [2**23 - 1, 2**24 - 1, -(2**24)])
def test_graded_sums_beyond_int32(lava_models, delayed, weight_exp, payload):
    """Graded sums that leave int32: Dense wraps the sum before the shift, DelayDense wraps each product only.

    Three inputs of weight 255 (excitatory, kept as is) carrying `payload`: each product is 255 * payload, which
    itself wraps for |payload| >= 2**23 + 2**15; the sum 765 * payload leaves int32 in every case. Whenever the
    shift is a right shift the two orders give different `a`; with 7 or 8 bits they differ in the low 26 bits,
    which the LIF keeps of `a << 6` (int32), so u differs too (this was a real reference bug, found by the sweep).
    """
    _, dense_models = lava_models
    weights = np.full((2, 3), 255, dtype=np.int64)
    spikes = np.full(3, payload, dtype=np.int64)
    params = {"weight_exp": weight_exp, "num_weight_bits": 8}
    if delayed:
        model = dense_models.PyDelayDenseModelBitAcc(params)
        model.delays = np.zeros((2, 3), dtype=np.int32)
        model.a_buff = np.zeros((2, 1), dtype=np.int32)
    else:
        model = dense_models.PyDenseModelBitAcc(params)
        model.a_buff = np.zeros(2, dtype=np.int32)
    model.weights = weights.astype(np.int32)
    model.num_message_bits = np.array([24])
    model.s_in, model.a_out = _Port(np.zeros(3, dtype=bool) + spikes.astype(np.int32)), _Port()
    model.run_spk()
    model.run_spk()
    lava_a = _channel(model.a_out.sent)
    acc = kernels.dense_accumulate(_t(spikes)[None], _t(weights.T), weight_exp=weight_exp, graded=True, delayed=delayed)
    np.testing.assert_array_equal(kernels.wrap_int32(acc)[0].numpy().astype(np.int64), lava_a)
