"""Float-vs-integer agreement (`spikeport.agreement`) of a graph holding a spike-driven attention extension block.

By default the quantizer folds the block's inner units (Q, K, V neurons, the AND units, the gate) into one
`AttentionInt` node, so they have no integer trace; the agreement compares the block's output population (and
every other layer) and skips the inner units. The block is a small seeded layer (`SpikeDrivenAttention`), the
inputs seeded random spikes (synthetic).
"""

from __future__ import annotations

import nir
import numpy as np
import pytest

from helpers.nir_graphs import cuba_node
from spikeport.agreement import float_int_agreement
from spikeport.cli import main
from spikeport.errors import RecordMismatchError
from spikeport.export import parse_nir, read_nir, write_nir
from spikeport.ir import load_deploy_graph
from spikeport.nir_import import import_nir, random_spikes
from spikeport.simulators import RunRecord, run_reference
from spikeport.targets import quantize

N_TOKENS, N_FEATURES, N_CLASSES, DT = 4, 6, 3, 1e-3
INNER = ("attention.q_lif", "attention.k_lif", "attention.v_lif", "attention.kv", "attention.g")


@pytest.fixture(scope="module")
def attention_nir(tmp_path_factory):
    """input -> attention block (4 tokens x 6 features) -> Linear -> Delay -> CubaLI readout, as a .nir file."""
    from spikeport.train.layers import AttentionConfig, SpikeDrivenAttention, attention_to_nir

    config = AttentionConfig(n_features=N_FEATURES, synaptic_delay_steps=1, init_gain=2.5)  # active enough to spike
    block = attention_to_nir(SpikeDrivenAttention(config, seed=1).eval(), N_TOKENS)
    size = N_TOKENS * N_FEATURES
    graph = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([size])}),
            "attention": block,
            "fc": nir.Linear(weight=np.random.default_rng(0).normal(0, 1.0, (N_CLASSES, size))),
            "fc_delay": nir.Delay(delay=np.full(N_CLASSES, DT)),
            "readout": cuba_node(N_CLASSES, spiking=False),
            "output": nir.Output(output_type={"output": np.array([N_CLASSES])}),
        },
        edges=[
            ("input", "attention"),
            ("attention", "fc"),
            ("fc", "fc_delay"),
            ("fc_delay", "readout"),
            ("readout", "output"),
        ],
        metadata={"dt": DT},
        type_check=False,
    )
    return write_nir(graph, tmp_path_factory.mktemp("attention") / "attention.nir")


def test_import_prints_agreement_for_the_block_output_and_skips_its_inner_units(attention_nir, capsys):
    assert main(["import", str(attention_nir), "--samples", "8", "--steps", "40", "--rate", "0.3"]) == 0
    out = capsys.readouterr().out
    agreement = out.split("float vs integer (reference) per layer")[1].split("float cross-check")[0]
    lines = [line.strip() for line in agreement.strip().splitlines()[1:]]
    assert [line.split(" (")[0] for line in lines] == ["attention.attn", "readout"], agreement
    assert lines[0].startswith("attention.attn (spiking, +0 steps): spikes agree")
    assert lines[1].startswith("readout (readout, +0 steps): spikes agree")
    graph = load_deploy_graph(attention_nir.with_suffix(".deploy.npz"))
    assert graph.nodes["attention"].kind == "spike_attention_int"
    assert not set(INNER) & set(graph.nodes)


def test_block_output_population_is_compared_and_agrees(attention_nir):
    result = import_nir(attention_nir, samples=8, steps=40, rate=0.3)
    by_name = {layer.name: layer for layer in result.agreement}
    assert list(by_name) == ["attention.attn", "readout"]
    attn = by_name["attention.attn"]
    assert attn.spiking and attn.step_shift == 0
    assert attn.int_rate > 0 and attn.float_rate > 0, "the block's output should spike"
    assert attn.spike_agreement > 0.95 and not attn.flagged


def test_unrolled_block_compares_every_population(attention_nir):
    net = parse_nir(read_nir(attention_nir))
    x = random_spikes(net.input_size, samples=6, steps=30, rate=0.3, seed=2)
    graph, _ = quantize(net, calibration_inputs=x, attention="unrolled")
    layers = float_int_agreement(net, graph, x, run_reference(graph, x))
    assert sorted(layer.name for layer in layers) == sorted(net.populations)
    assert {layer.name for layer in layers} >= set(INNER)


def test_record_lacking_a_deployed_population_is_refused_naming_it(attention_nir):
    net = parse_nir(read_nir(attention_nir))
    x = random_spikes(net.input_size, samples=2, steps=20, rate=0.3, seed=3)
    graph, _ = quantize(net, calibration_inputs=x)
    full = run_reference(graph, x)
    partial = RunRecord(backend="partial", populations={"attention.attn": full.populations["attention.attn"]})
    with pytest.raises(RecordMismatchError, match=r"'partial' run has no population 'readout'"):
        float_int_agreement(net, graph, x, partial)
