"""Plastic connections on Lava: `LearningDense` with a `Loihi2FLearningRule`, teacher spikes into `s_in_bap`.

Used by the Lava builder (`simulators/lava/builder.py`, `KIND_TABLE`) and runner: the rule string Lava parses is
written from spikeport's parsed products (`PlasticDenseInt.lava_dw`), so both backends read the same terms; the
teacher channels of the input are played by a second `RingBuffer` with the same time base as the input's; the
learned weights are read back after every epoch. Lava is imported inside the functions only.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from spikeport.ir import DeployGraph
from spikeport.ir.plastic import PlasticDenseInt


def learning_dense(node: PlasticDenseInt):
    """The `LearningDense` process of `node` (model `PyLearningDenseModelBitApproximate` under `fixed_pt`)."""
    from lava.magma.core.learning.learning_rule import Loihi2FLearningRule
    from lava.proc.dense.process import LearningDense

    rule = Loihi2FLearningRule(dw=node.lava_dw(), t_epoch=node.t_epoch, rng_seed=node.rng_seed, **node.trace_params())
    return LearningDense(
        weights=node.weights.astype(np.int32), weight_exp=node.weight_exp, learning_rule=rule, name=node.name
    )


def connect_teachers(graph: DeployGraph, synapses: Mapping[str, object], played: np.ndarray) -> dict[str, object]:
    """A `RingBuffer` per plastic node with a teacher, playing its channels of `played` into `s_in_bap`.

    `played` is the input as the builder plays it, (n_in, samples * steps). Returns the buffers by node name.
    """
    from lava.proc.io.source import RingBuffer

    teachers = {}
    for node in graph.connections:
        if isinstance(node, PlasticDenseInt) and node.teacher_offset >= 0:
            channels = played[node.teacher_offset : node.teacher_offset + node.out_size]
            teachers[node.name] = RingBuffer(data=(channels != 0).astype(np.int32))
            teachers[node.name].s_out.connect(synapses[node.name].s_in_bap)
    return teachers


def read_weights(graph: DeployGraph, synapses: Mapping[str, object], step: int) -> dict[str, np.ndarray]:
    """The current weights of every plastic node whose epoch ends at global step `step`."""
    return {
        node.name: np.asarray(synapses[node.name].weights.get()).astype(np.int64)
        for node in graph.connections
        if isinstance(node, PlasticDenseInt) and step % node.t_epoch == 0
    }


__all__ = ["connect_teachers", "learning_dense", "read_weights"]
