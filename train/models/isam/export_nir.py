"""ISAM-MTL's deployed path as a NIR graph: standard nodes for the encoder, the memory as spikeport's extension block.

    input (n_features, n_electrodes) -> conv (Conv1d) -> conv_delay -> conv_lif (CubaLIF, (conv_channels, L))
      -> flatten -> fc_mu (Linear) -> fc_mu_delay -> latent (CubaLIF)
      -> memory_readout (Linear) -> memory_readout_delay -> memory_accumulator (IF) -> output

The reconstruction decoder, the prior and the prototypes are training-only and not exported. The memory nodes are
the standard nodes of spikeport's memory block (`spikeport.train.layers.memory_nir.memory_to_nir`): the pooled
memory's readout, an IF accumulator read at the last step (`Readout.ARGMAX_LAST_V`). They are inlined with
"_" names rather than nested as a block, because deploy-graph consumers that key torch modules by node name
(`spikeport.train.qat.IntegerNetwork`, used by `spikeport validate`) refuse the "." of inlined block names; the
block's metadata (the Hebbian rule and every subject's raw memory) is kept under the graph metadata key
`hebbian_associative_memory`. The readout weights are centred over the classes (`centered`): every class score
drops by the same amount per sample, so the argmax is the memory's, and the weights have both signs, which keeps
the synapse on the mixed-sign mantissa grid that integer fine-tuning and validation assume. Weights are written
as the model uses them: fake-quantized (`IsamModel.forward`). Neuron
parameters follow `spikeport.export.nir_io` (norse LIFCell as CubaLIF with w_in = tau_syn / dt).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from typing import Any

import nir
import numpy as np

from spikeport.export.nir_io import EXPORT_FORMAT, METADATA_KEY, float64_array, neuron_metadata
from spikeport.train.layers.memory_nir import MEMORY_EXTENSION, memory_to_nir
from spikeport.train.models.isam.fit import POOLED
from spikeport.train.models.isam.model import IsamModel, fake_quant

__all__ = ["centered", "isam_to_nir"]


def _lif(shape: tuple[int, ...], model: IsamModel) -> nir.CubaLIF:
    c = model.config

    def full(value: float) -> np.ndarray:
        return np.full(shape, float(value))

    return nir.CubaLIF(
        tau_syn=full(c.tau_syn_s),
        tau_mem=full(c.tau_mem_s),
        r=full(1.0),
        v_leak=full(0.0),
        v_threshold=full(c.v_th),
        v_reset=full(0.0),
        w_in=full(c.tau_syn_s / c.dt_s),
        metadata=neuron_metadata(c.dt_s),
    )


def centered(weight: np.ndarray) -> np.ndarray:
    """Readout weights (n_classes, n_latent) minus their mean over the classes (argmax-preserving)."""
    weight = np.asarray(weight, dtype=np.float64)
    return weight - weight.mean(axis=0, keepdims=True)


def isam_to_nir(model: IsamModel, info: Mapping[str, Any], *, subject: int | str = POOLED) -> nir.NIRGraph:
    """The trained model's inference path with `subject`'s memory as the readout (default: the pooled memory)."""
    c = model.config
    d, dt = c.synaptic_delay_steps, c.dt_s
    conv_shape = (c.conv_channels, c.n_electrodes)
    nodes: dict[str, nir.NIRNode] = {
        "input": nir.Input(input_type={"input": np.array([c.n_features, c.n_electrodes])}),
        "conv": nir.Conv1d(
            input_shape=c.n_electrodes,
            weight=float64_array(fake_quant(model.conv.weight.detach(), c.weight_bits)),
            stride=1,
            padding=c.kernel_size // 2,
            dilation=1,
            groups=1,
            bias=np.zeros(c.conv_channels),
        ),
        "conv_delay": nir.Delay(delay=np.full(conv_shape, d * dt)),
        "conv_lif": _lif(conv_shape, model),
        "flatten": nir.Flatten(input_type={"input": np.array(conv_shape)}, start_dim=0, end_dim=-1),
        "fc_mu": nir.Linear(weight=float64_array(fake_quant(model.fc_mu.weight.detach(), c.weight_bits))),
        "fc_mu_delay": nir.Delay(delay=np.full(c.n_latent, d * dt)),
        "latent": _lif((c.n_latent,), model),
    }
    block = memory_to_nir(model.memory, subject, dt=dt, synaptic_delay_steps=d)
    memory_chain = [f"memory_{name}" for name in ("readout", "readout_delay", "accumulator") if name in block.nodes]
    nodes.update({f"memory_{name}": node for name, node in block.nodes.items() if f"memory_{name}" in memory_chain})
    readout = nodes["memory_readout"]
    nodes["memory_readout"] = nir.Linear(weight=centered(readout.weight))
    nodes["output"] = nir.Output(output_type={"output": np.array([c.n_classes])})
    encoder = ["input", "conv", "conv_delay", "conv_lif", "flatten", "fc_mu", "fc_mu_delay", "latent"]
    chain = [*encoder, *memory_chain, "output"]
    facts = {
        "format": EXPORT_FORMAT,
        "class_names": list(info.get("class_names", ())),
        "readout": "argmax_last_v",
        "model": "isam-mtl",
        "synthetic": bool(info.get("synthetic", False)),
    }
    return nir.NIRGraph(
        nodes=nodes,
        edges=list(itertools.pairwise(chain)),
        metadata={
            "dt": float(dt),
            METADATA_KEY: json.dumps(facts, sort_keys=True),
            MEMORY_EXTENSION: block.metadata,
        },
        type_check=False,
    )
