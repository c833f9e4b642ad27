"""RAT-SNN as a NIR graph: standard nodes, the attention as spikeport's extension block (a nested NIRGraph).

    input -> fc_in (Linear) -> fc_in_delay -> encoder (CubaLIF, per-neuron taus)
      -> fc_tok (Linear) -> fc_tok_delay -> tokens (CubaLIF) -> attention (block, `attention_to_nir`)
      -> fc_out (Linear) -> fc_out_delay -> readout (CubaLI, per-output taus) -> output
    encoder -> fc_skip (Linear) -> fc_skip_delay -> readout      (the residual path)
    input -> fc_direct (Linear) -> fc_direct_delay -> readout    (the counts' linear path)

Each Delay is one step (Loihi's Dense); neurons follow `spikeport.export.nir_io` (norse LIFCell as CubaLIF with
w_in = tau_syn / dt). The quantizer groups the encoder by decay (one LIF process per group) and lowers the block
to one `AttentionInt` node.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from typing import Any

import nir
import numpy as np

from spikeport.export.nir_io import EXPORT_FORMAT, METADATA_KEY, float64_array
from spikeport.train.layers.attention_nir import attention_to_nir

__all__ = ["rat_snn_to_nir"]


def rat_snn_to_nir(model, info: Mapping[str, Any]) -> nir.NIRGraph:
    """The trained `RatSNN` as a NIR graph (module docstring); `info` is the run's data info."""
    c = model.config
    size = c.n_tokens * c.n_features

    def delay(n: int) -> nir.Delay:
        return nir.Delay(delay=np.full(n, c.dt_s))

    nodes = {
        "input": nir.Input(input_type={"input": np.array([c.n_inputs])}),
        "fc_in": nir.Linear(weight=float64_array(model.fc_in.weight)),
        "fc_in_delay": delay(c.n_encoder),
        "encoder": model.encoder.to_nir(),
        "fc_tok": nir.Linear(weight=float64_array(model.fc_tok.weight)),
        "fc_tok_delay": delay(size),
        "tokens": model.tokens.to_nir(),
        "attention": attention_to_nir(model.attention, c.n_tokens),
        "fc_out": nir.Linear(weight=float64_array(model.fc_out.weight)),
        "fc_out_delay": delay(c.n_outputs),
        "readout": model.readout.to_nir(),
        "output": nir.Output(output_type={"output": np.array([c.n_outputs])}),
    }
    chain = list(nodes)
    skip = []
    for name, source in (("fc_skip", "encoder"), ("fc_direct", "input")):
        nodes[name] = nir.Linear(weight=float64_array(getattr(model, name).weight))
        nodes[f"{name}_delay"] = delay(c.n_outputs)
        skip += [(source, name), (name, f"{name}_delay"), (f"{name}_delay", "readout")]
    facts = {
        "format": EXPORT_FORMAT,
        "readout": "last_v",
        "model": "rat-snn",
        "output_names": list(info.get("output_names", ())),
    }
    return nir.NIRGraph(
        nodes=nodes,
        edges=[*itertools.pairwise(chain), *skip],
        metadata={"dt": float(c.dt_s), METADATA_KEY: json.dumps(facts, sort_keys=True)},
        type_check=False,
    )
