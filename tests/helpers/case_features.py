"""Named edge cases of the random-graph generator (`EDGE_CASES`) and which of them a `Case` exercises (`features`).

Kept apart from the generator (`random_graphs.py`) so each module has one job; the dynamic features recompute the
synaptic input with plain numpy (`synaptic_input`), independently of the reference simulator's code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from spikeport.ir import DeployGraph, LIFResetInt, TernaryLIFInt
from spikeport.simulators.record import RunRecord

if TYPE_CHECKING:
    from helpers.random_graphs import Case

VTH_MAX = 2**17 - 1
"""The largest threshold mantissa (unsigned 17-bit)."""
UV_HALF = 2**23
"""Half the 24-bit range of u and v."""


# ---------------------------------------------------------------------------------------------------------------
# Edge cases: named overrides, each with the feature a run of it must show


EDGE_CASES: dict[str, tuple[dict[str, Any], str]] = {
    "du=-1": ({"du": -1}, "du=-1"),
    "du=4095": ({"du": 4095}, "du=4095"),
    "dv=0": ({"dv": 0}, "dv=0"),
    "dv=4096": ({"dv": 4096}, "dv=4096"),
    "u_overflow": ({"drive": "strong_excitatory"}, "u_beyond_24bit"),
    "v_saturation_pos": ({"drive": "strong_excitatory", "dv": 0, "du": -1}, "v_sat_pos"),
    "v_saturation_neg": ({"drive": "strong_inhibitory", "dv": 0, "du": -1, "kind": "lif"}, "v_sat_neg"),
    "1-bit_weights": ({"num_weight_bits": 1}, "weight_bits=1"),
    "inhibitory_5bit": ({"sign": "inhibitory", "num_weight_bits": 5}, "inhibitory_5bit"),
    "clipped_weights": ({"sign": "clipped"}, "clipped_weights"),
    "mixed_sign": ({"sign": "mixed"}, "mixed"),
    "weight_exp=-8": ({"weight_exp": -8}, "weight_exp=-8"),
    "weight_exp=7": ({"weight_exp": 7}, "weight_exp=7"),
    "negative_bias_exp": ({"bias_exp": -5, "bias_mode": "full"}, "bias_exp<0"),
    "bias_extremes": ({"bias_mode": "extreme", "bias_exp": 7}, "bias_mant_extreme"),
    "graded": ({"input_bits": 8, "graded": True}, "graded_synapse"),
    "graded_24bit": ({"input_bits": 24, "graded": True}, "graded_input_24bit"),
    "graded_int32_overflow_delayed": (
        {"input_bits": 24, "graded": True, "delays": "random", "weight_exp": -8, "input_size": 30, "rate": 0.95},
        "synapse_sum_beyond_int32",
    ),
    "delay=0": ({"delays": "zero"}, "delay=0"),
    "delay=63": ({"delays": "max"}, "delay=63"),
    "lif_reset": ({"kind": "reset"}, "reset_cleared_state"),
    "ternary_lif": ({"kind": "ternary"}, "ternary_lif"),
    "vth=0": ({"vth": 0}, "vth=0"),
    "vth=max": ({"vth": VTH_MAX, "drive": "strong_excitatory"}, "vth=131071"),
    "fan_in": ({"topology": "fanin"}, "fan_in"),
    "recurrent_self": ({"topology": "recurrent_self"}, "recurrent_self"),
    "recurrent_back": ({"topology": "recurrent_back", "populations": 3}, "recurrent_back"),
}


# ---------------------------------------------------------------------------------------------------------------
# Features: which edge cases a case exercises


def lava_weights(weights: np.ndarray, num_weight_bits: int) -> np.ndarray:
    """Lava's first-step weight preprocessing, restated from lava.utils.weightutils (clip, then truncate by mode)."""
    w = np.asarray(weights, dtype=np.int64)
    if w.min() >= 0:
        return (np.clip(w, 0, 255) >> (8 - num_weight_bits)) << (8 - num_weight_bits)
    if w.max() <= 0:
        return -((np.clip(-w, 0, 255) >> (8 - num_weight_bits)) << (8 - num_weight_bits))
    drop = 9 - num_weight_bits
    return (np.clip(w, -256, 255) >> drop) << drop


def _wrap32(x: np.ndarray) -> np.ndarray:
    return ((x + 2**31) % 2**32) - 2**31


def _trunc_decay(x: np.ndarray, keep: int) -> np.ndarray:
    y = x * keep
    return np.sign(y) * (np.abs(y) >> 12)


def synaptic_input(
    graph: DeployGraph, inputs: np.ndarray, record: RunRecord
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Every population's summed synaptic input `a` (samples, steps, n), exact int64 before the int32 wrap.

    Recomputed from the input and the recorded spikes with plain numpy (not the reference's code), for the
    dynamic features only. Also returns, per sample, whether some synapse's sum (before its weight_exp shift)
    left the int32 range, where Lava's Dense and DelayDense wrap differently.
    """
    beyond = np.zeros(inputs.shape[0], dtype=bool)
    spikes = {graph.input.name: np.asarray(inputs, dtype=np.int64)}
    spikes.update({p: record.populations[p].spikes.astype(np.int64) for p in record.populations})
    total = {p.name: np.zeros((*inputs.shape[:2], p.size), dtype=np.int64) for p in graph.populations}
    steps = inputs.shape[1]
    for dense in graph.synapses:
        src = spikes[graph.source_of(dense).name]
        s = src if dense.num_message_bits > 0 else (src != 0).astype(np.int64)
        w = lava_weights(dense.weights, dense.num_weight_bits)
        delays = np.zeros_like(w) if dense.delays is None else dense.delays
        for delay in np.unique(delays):
            acc = np.einsum("stj,ij->sti", s, np.where(delays == delay, w, 0))
            beyond |= (np.abs(acc) >= 2**31).reshape(acc.shape[0], -1).any(axis=1)
            e = dense.weight_exp
            acc = acc << e if e > 0 else acc >> -e
            lag = 1 + int(delay)
            if lag < steps:
                total[graph.target_of(dense).name][:, lag:] += acc[:, : steps - lag]
    return total, beyond


def features(case: Case, record: RunRecord) -> list[set[str]]:
    """The edge cases each sample of `case` exercises: graph features plus those seen in `record` (per sample)."""
    graph = case.graph
    static: set[str] = set()
    for pop in graph.populations:
        static.add({-1: "du=-1", 0: "du=0", 4095: "du=4095"}.get(pop.du, "du=other"))
        static.add({0: "dv=0", 4096: "dv=4096"}.get(pop.dv, "dv=other"))
        static |= {f"vth={pop.vth}"} if pop.vth in (0, VTH_MAX) else set()
        if pop.bias_exp < 0 and np.any(pop.bias_mant):
            static.add("bias_exp<0")
        if np.any(np.isin(pop.bias_mant, (-4096, 4095))):
            static.add("bias_mant_extreme")
        if pop.kind == LIFResetInt.kind:
            static.add("lif_reset")
        if pop.kind == TernaryLIFInt.kind:
            static.add("ternary_lif")
        sources = [graph.source_of(dd).name for dd in graph.synapses if graph.target_of(dd).name == pop.name]
        if len(sources) > 1:
            static.add("fan_in")
    order = [p.name for p in graph.populations]
    for dense in graph.synapses:
        w = dense.weights
        mode = "excitatory" if w.min() >= 0 else ("inhibitory" if w.max() <= 0 else "mixed")
        static.add(mode)
        if w.max() > 255 or w.min() < (-256 if mode == "mixed" else -255):
            static.add("clipped_weights")
        static.add(f"weight_bits={dense.num_weight_bits}" if dense.num_weight_bits in (1, 8) else "weight_bits=2..7")
        if mode == "inhibitory" and dense.num_weight_bits == 5 and w.min() < 0:
            static.add("inhibitory_5bit")
        static.add(
            "weight_exp<0" if dense.weight_exp < 0 else ("weight_exp>0" if dense.weight_exp > 0 else "weight_exp=0")
        )
        if dense.weight_exp in (-8, 7):
            static.add(f"weight_exp={dense.weight_exp}")
        if dense.num_message_bits > 0:
            static.add("graded_synapse")
        if dense.delays is not None:
            static.add("delay_dense")
            static |= {f"delay={q}" for q in (0, 63) if np.any(dense.delays == q)}
        src, dst = graph.source_of(dense).name, graph.target_of(dense).name
        if src == dst:
            static.add("recurrent_self")
        elif src in order and order.index(src) > order.index(dst):
            static.add("recurrent_back")
    if graph.input.num_message_bits > 0:
        static.add("graded_input")
        if graph.input.num_message_bits >= 24:
            static.add("graded_input_24bit")
    if len(graph.populations) == 3:
        static.add("three_populations")

    per_sample = [set(static) for _ in range(case.inputs.shape[0])]
    a_exact, sum_beyond_int32 = synaptic_input(graph, case.inputs, record)
    for sample in np.flatnonzero(sum_beyond_int32):
        per_sample[sample].add("synapse_sum_beyond_int32")
    for pop in graph.populations:
        trace = record.populations[pop.name]
        u, v = trace.u, trace.v
        a = _wrap32(a_exact[pop.name])
        zeros = np.zeros_like(u[:, :1])
        u_prev, v_prev = np.concatenate([zeros, u[:, :-1]], 1), np.concatenate([zeros, v[:, :-1]], 1)
        if pop.kind == LIFResetInt.kind:
            t = np.arange(1, u.shape[1] + 1)
            resets = t % pop.reset_interval == pop.reset_offset % pop.reset_interval
            cleared = resets[None, :, None] & ((u_prev != 0) | (v_prev != 0))
            u_prev, v_prev = np.where(resets[None, :, None], 0, u_prev), np.where(resets[None, :, None], 0, v_prev)
        else:
            cleared = np.zeros(u.shape, dtype=bool)
        a6 = _wrap32(a << 6)
        u_pre = _wrap32(_wrap32(_trunc_decay(u_prev, 4096 - (pop.du + 1))) + a6)
        bias = np.where(
            pop.bias_exp >= 0, pop.bias_mant << max(pop.bias_exp, 0), pop.bias_mant >> max(-pop.bias_exp, 0)
        )
        v_pre = _wrap32(_trunc_decay(v_prev, 4096 - pop.dv) + u + bias)
        checks = {
            "int32_wrap_of_input": a_exact[pop.name] != a,
            "u_wrap": (u_pre > UV_HALF) | (u_pre <= -UV_HALF),
            "u_beyond_24bit": np.abs(a6) > 2**24,
            "v_sat_pos": v_pre > UV_HALF - 1,
            "v_sat_neg": v_pre < -(UV_HALF - 1),
            "spikes": trace.spikes != 0,
            "ternary_neg_spike": trace.spikes < 0,
            "reset_cleared_state": cleared,
        }
        for name, hit in checks.items():
            for sample in np.flatnonzero(hit.reshape(hit.shape[0], -1).any(axis=1)):
                per_sample[sample].add(name)
    return per_sample
