"""spikeport's NIR extension blocks: spike-driven attention and the Hebbian associative memory.

Every test goes through real `.nir` files (`write_nir` then `read_nir`). Two readings are checked: the extension
view (the torch module rebuilt from the block's metadata and nodes, exporting again to an equal block) and the
standard view (spikeport's parser, with no extension knowledge, simulating the block's standard NIR nodes).
"""

from __future__ import annotations

import copy
import warnings
from pathlib import Path

import nir
import numpy as np
import pytest
import torch

from spikeport.errors import IRValidationError
from spikeport.export import find_extensions, nir_graphs_equal, parse_nir, read_nir, simulate_float, write_nir
from spikeport.train.layers import (
    AttentionConfig,
    HebbianAssociativeMemory,
    MemoryConfig,
    Normalization,
    SpikeDrivenAttention,
    attention_from_nir,
    attention_to_nir,
    extension_from_nir,
    memory_from_nir,
    memory_subject,
    memory_to_nir,
)
from spikeport.train.layers.attention_nir import ATTENTION_EXTENSION
from spikeport.train.layers.memory_nir import MEMORY_EXTENSION

N_TOKENS, N_FEATURES, STEPS, BATCH = 4, 6, 30, 3
DT = 1e-3

# (synaptic_delay_steps, output_projection, reparameterize)
ATTENTION_CASES = {
    "d1": (1, False, False),
    "d0": (0, False, False),
    "d1_output_projection": (1, True, False),
    "d1_reparameterized_folded": (1, False, True),
    "d0_output_projection_reparameterized": (0, True, True),
}


def _attention(delay: int, output_projection: bool, reparameterize: bool) -> SpikeDrivenAttention:
    """A small, active layer in eval mode; re-parameterized ones get BatchNorm statistics first, then are folded."""
    config = AttentionConfig(
        n_features=N_FEATURES,
        synaptic_delay_steps=delay,
        output_projection=output_projection,
        reparameterize=reparameterize,
        init_gain=2.5,  # active enough that kv, g and attn all spike
    )
    module = SpikeDrivenAttention(config, seed=1)
    if reparameterize:
        module.train()
        gen = torch.Generator().manual_seed(7)
        with torch.no_grad():
            for _ in range(3):
                module(torch.bernoulli(torch.full((STEPS, BATCH, N_TOKENS, N_FEATURES), 0.3), generator=gen))
        module.fold()
        assert module.q_proj.linear.bias is not None  # the folded bias is exported as an Affine
    return module.eval()


def _spikes(seed: int = 0, rate: float = 0.3) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.bernoulli(torch.full((STEPS, BATCH, N_TOKENS, N_FEATURES), rate), generator=gen)


def _wrapped(block: nir.NIRGraph, name: str, size: int, out_size: int | None = None) -> nir.NIRGraph:
    """Input -> block -> Output at top level, as a model containing the block would be written."""
    return nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([size])}),
            name: block,
            "output": nir.Output(output_type={"output": np.array([out_size or size])}),
        },
        edges=[("input", name), (name, "output")],
        metadata={"dt": DT},
        type_check=False,
    )


def _through_file(graph: nir.NIRGraph, tmp_path: Path, name: str = "graph.nir") -> nir.NIRGraph:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the blocks must pass nir's own graph check on reading
        return read_nir(write_nir(graph, tmp_path / name))


def _token_major(x: torch.Tensor) -> np.ndarray:
    """(T, B, N, D) -> (B, T, N * D), the block's token-major layout."""
    t, b, n, d = x.shape
    return x.permute(1, 0, 2, 3).reshape(b, t, n * d).detach().numpy().astype(np.float64)


# ------------------------------------------------------------------------------------------------------ attention
@pytest.mark.parametrize("case", list(ATTENTION_CASES))
def test_attention_block_round_trips_through_a_file(tmp_path, case):
    module = _attention(*ATTENTION_CASES[case])
    block = attention_to_nir(module, N_TOKENS)
    first = copy.deepcopy(block)
    back = _through_file(_wrapped(block, "attention", N_TOKENS * N_FEATURES), tmp_path).nodes["attention"]

    rebuilt = attention_from_nir(back)
    assert rebuilt.folded and not rebuilt.training
    x = _spikes()
    with torch.no_grad():
        want, got = module(x), rebuilt(x)
    for field in want._fields:
        assert torch.equal(getattr(want, field), getattr(got, field)), field
    assert want.spikes.any()
    assert nir_graphs_equal(first, attention_to_nir(rebuilt, N_TOKENS))
    assert nir_graphs_equal(first, back)  # the file keeps every node and the metadata
    meta = back.metadata
    assert meta["spikeport_extension"] == ATTENTION_EXTENSION and int(meta["extension_version"]) == 1
    assert int(meta["output_projection"]) == int(module.o_proj is not None)  # a flag is written as 0 / 1
    assert isinstance(meta["layout"], str) and meta["layout"] == "token-major (n * D + d)"


@pytest.mark.parametrize("case", ["d1", "d0", "d1_output_projection", "d1_reparameterized_folded"])
def test_standard_view_simulates_the_module_exactly(tmp_path, case):
    """spikeport's parser knows nothing of the extension: it inlines the standard nodes and reproduces the layer."""
    delay, output_projection, reparameterize = ATTENTION_CASES[case]
    module = _attention(delay, output_projection, reparameterize)
    graph = _through_file(_wrapped(attention_to_nir(module, N_TOKENS), "attention", N_TOKENS * N_FEATURES), tmp_path)
    net = parse_nir(graph)
    assert net.output == ("attention.o_lif" if output_projection else "attention.attn")
    assert net.populations["attention.g"].size == N_FEATURES
    if delay == 0:  # no Delay nodes at all: zero-delay chains, updated in dependency order within a step
        assert not any(syn.delay_steps.any() for syn in net.synapses)

    x = _spikes(seed=3)
    with torch.no_grad():
        want = copy.deepcopy(module).double()(x.double())
    trace = simulate_float(net, _token_major(x))
    for name, spikes in [("q_lif", want.q), ("k_lif", want.k), ("v_lif", want.v), ("kv", want.kv), ("attn", want.attn)]:
        np.testing.assert_array_equal(trace[f"attention.{name}"].spikes, _token_major(spikes), err_msg=name)
    np.testing.assert_array_equal(trace["attention.g"].spikes, want.g.permute(1, 0, 2).numpy())
    np.testing.assert_array_equal(trace[net.output].spikes, _token_major(want.spikes))
    assert want.kv.sum() > 0 and want.g.sum() > 0 and want.attn.sum() > 0, "the test layer should be active"


@pytest.mark.lava
@pytest.mark.parametrize("case", ["d1_output_projection", "d0"])
def test_standard_view_quantizes_and_runs_bit_true_on_lava(tmp_path, case):
    from spikeport.simulators import compare_runs, run_reference
    from spikeport.simulators.lava import run_lava
    from spikeport.targets import quantize

    module = _attention(*ATTENTION_CASES[case])
    graph = _through_file(_wrapped(attention_to_nir(module, N_TOKENS), "attention", N_TOKENS * N_FEATURES), tmp_path)
    net = parse_nir(graph)
    x = _token_major(_spikes(seed=2))
    quantized, report = quantize(net, calibration_inputs=x, attention="unrolled")
    assert report.total_clipped == 0
    reference = run_reference(quantized, x)
    for name in ("kv", "g", "attn"):
        assert reference.populations[f"attention.{name}"].spikes.sum() > 0, name
    comparison = compare_runs(reference, run_lava(quantized, x))
    assert comparison.bit_exact, comparison.summary()


# --------------------------------------------------------------------------------------------------------- memory
N_LATENT, N_CLASSES, MEMORY_STEPS = 20, 3, 15


def _latent(labels: torch.Tensor, rates: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Latent spikes (T, B, L): Poisson-like with a class-dependent rate per latent unit."""
    return torch.bernoulli(rates[labels].expand(MEMORY_STEPS, -1, -1), generator=gen)


@pytest.mark.parametrize("normalization", [Normalization.ROWS, Normalization.NONE])
@pytest.mark.parametrize("delay", [1, 0])
def test_memory_block_round_trips_and_its_standard_view_predicts(tmp_path, normalization, delay):
    gen = torch.Generator().manual_seed(0)
    rates = torch.rand(N_CLASSES, N_LATENT, generator=gen) * 0.4
    memory = HebbianAssociativeMemory(MemoryConfig(N_LATENT, N_CLASSES, eta=0.5, normalization=normalization))
    labels = torch.arange(N_CLASSES).repeat(4)
    for subject in ("A", 7):  # a str and an int key: both keep their type through the file
        memory.add_subject(subject)
        memory.hebbian_update(_latent(labels, rates, gen), labels, subject)
    assert not torch.equal(memory.memory("A"), memory.memory(7))

    block = memory_to_nir(memory, "A", dt=DT, synaptic_delay_steps=delay)
    first = copy.deepcopy(block)
    graph = _through_file(_wrapped(block, "memory", N_LATENT, N_CLASSES), tmp_path)
    back = graph.nodes["memory"]
    assert find_extensions(graph) == {"memory": MEMORY_EXTENSION}
    assert memory_subject(back) == "A"

    restored = memory_from_nir(back)
    assert restored.subjects == ("A", 7)
    assert restored.rule_params() == memory.rule_params() and restored.config == memory.config
    for subject in memory.subjects:
        assert torch.equal(restored.memory(subject), memory.memory(subject))
    assert nir_graphs_equal(first, memory_to_nir(restored, "A", dt=DT, synaptic_delay_steps=delay))

    # the standard view: the subject's frozen readout, read by spikeport's parser as Linear -> Delay -> IF
    net = parse_nir(graph)
    accumulator = net.populations["memory.accumulator"]
    assert accumulator.kind == "IF" and not accumulator.spiking
    test_labels = torch.randint(0, N_CLASSES, (40,), generator=gen)
    latent = _latent(test_labels, rates, gen)
    drained = torch.cat([latent, torch.zeros(delay, *latent.shape[1:])])  # d steps without input: the readout
    v_last = simulate_float(net, drained.permute(1, 0, 2).numpy())["memory.accumulator"].v[:, -1]
    np.testing.assert_array_equal(np.argmax(v_last, axis=1), memory.predict(latent, "A").numpy())
    np.testing.assert_allclose(v_last, memory.scores(latent, "A").numpy(), rtol=1e-5, atol=1e-5)


def test_memory_block_of_an_int_subject_selects_it(tmp_path):
    memory = HebbianAssociativeMemory(MemoryConfig(4, 2))
    memory.adapt(3, torch.tensor([[1.0, 0, 2, 0], [0, 3, 0, 1]]), torch.tensor([0, 1]))
    back = _through_file(memory_to_nir(memory, 3, dt=DT), tmp_path)
    assert memory_subject(back) == 3 and back.metadata["subject"] == "int:3"
    assert isinstance(extension_from_nir(back), HebbianAssociativeMemory)
    with pytest.raises(ValueError, match="unknown subject"):
        memory_to_nir(memory, "3", dt=DT)


# --------------------------------------------------------------------------------------------------------- errors
def _two_block_graph() -> nir.NIRGraph:
    """attention (4 x 6) -> memory over the 24 attention outputs, as one top-level graph."""
    size = N_TOKENS * N_FEATURES
    memory = HebbianAssociativeMemory(MemoryConfig(size, 2))
    memory.adapt("s1", torch.rand(6, size, generator=torch.Generator().manual_seed(1)), torch.tensor([0, 1] * 3))
    return nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([size])}),
            "attention": attention_to_nir(_attention(1, False, False), N_TOKENS),
            "memory": memory_to_nir(memory, "s1", dt=DT),
            "output": nir.Output(output_type={"output": np.array([2])}),
        },
        edges=[("input", "attention"), ("attention", "memory"), ("memory", "output")],
        metadata={"dt": DT},
        type_check=False,
    )


def test_find_extensions_lists_the_blocks_nested_ones_too(tmp_path):
    graph = _through_file(_two_block_graph(), tmp_path)
    assert find_extensions(graph) == {"attention": ATTENTION_EXTENSION, "memory": MEMORY_EXTENSION}
    outer = _wrapped(graph, "model", N_TOKENS * N_FEATURES, 2)
    assert find_extensions(outer) == {"model.attention": ATTENTION_EXTENSION, "model.memory": MEMORY_EXTENSION}
    net = parse_nir(graph)  # both blocks chained, read as standard nodes
    assert net.output == "memory.accumulator"
    assert isinstance(extension_from_nir(graph.nodes["attention"], name="attention"), SpikeDrivenAttention)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("spikeport_extension", "spiking_convolution_v9", r"'attention'.*unknown extension 'spiking_convolution_v9'"),
        ("extension_version", 2, r"'attention'.*version 2 is not supported"),
    ],
)
def test_unknown_extension_or_version_is_refused_but_still_parses(tmp_path, key, value, message):
    graph = _two_block_graph()
    graph.nodes["attention"].metadata[key] = value
    graph = _through_file(graph, tmp_path)
    block = graph.nodes["attention"]
    for rebuild in (attention_from_nir, extension_from_nir):
        with pytest.raises(IRValidationError, match=message) as caught:
            rebuild(block, name="attention")
        assert ATTENTION_EXTENSION in str(caught.value) and MEMORY_EXTENSION in str(caught.value)  # supported ones
    assert "attention.attn" in parse_nir(graph).populations  # the standard view needs no extension knowledge


def test_block_of_the_other_extension_or_no_extension_is_refused():
    graph = _two_block_graph()
    with pytest.raises(IRValidationError, match=r"'memory' is a 'hebbian_associative_memory' block"):
        attention_from_nir(graph.nodes["memory"], name="memory")
    with pytest.raises(IRValidationError, match=r"no spikeport extension block"):
        extension_from_nir(graph, name="top")


def test_projection_that_is_not_per_token_names_the_node(tmp_path):
    graph = _two_block_graph()
    weight = graph.nodes["attention"].nodes["k_proj"].weight
    weight[N_FEATURES + 1, 2] = 0.25  # token 1's output reads token 0's input: not kron(I_N, W)
    block = _through_file(graph, tmp_path).nodes["attention"]
    with pytest.raises(IRValidationError, match=r"'k_proj' is not a per-token projection kron\(I_4, W\).*token 1"):
        attention_from_nir(block, name="attention")


def test_standard_nodes_that_disagree_with_the_metadata_name_the_node(tmp_path):
    graph = _two_block_graph()
    graph.nodes["attention"].nodes["g"].threshold = np.full(N_FEATURES, 2.5)
    graph.nodes["memory"].nodes["readout"].weight[0, 0] += 1.0
    graph = _through_file(graph, tmp_path)
    with pytest.raises(IRValidationError, match=r"'attention': 'g' differs"):
        attention_from_nir(graph.nodes["attention"], name="attention")
    with pytest.raises(IRValidationError, match=r"'memory': 'readout' differs"):
        memory_from_nir(graph.nodes["memory"], name="memory")


def test_invalid_export_arguments_are_refused():
    with pytest.raises(ValueError, match="n_tokens"):
        attention_to_nir(_attention(1, False, False), 0)
    memory = HebbianAssociativeMemory(MemoryConfig(4, 2))
    memory.add_subject("a")
    with pytest.raises(ValueError, match="dt"):
        memory_to_nir(memory, "a", dt=0.0)
    with pytest.raises(ValueError, match="synaptic_delay_steps"):
        memory_to_nir(memory, "a", dt=DT, synaptic_delay_steps=-1)


def test_reworded_documentation_text_does_not_change_what_a_block_means(tmp_path):
    graph = _two_block_graph()
    graph.nodes["attention"].metadata["semantics"] = "reworded"
    graph.nodes["memory"].nodes["accumulator"].metadata["discretization"] = "reworded"
    graph = _through_file(graph, tmp_path)
    assert isinstance(attention_from_nir(graph.nodes["attention"]), SpikeDrivenAttention)
    assert memory_from_nir(graph.nodes["memory"]).subjects == ("s1",)


@pytest.mark.lava
def test_memory_standard_view_quantizes_and_runs_bit_true_on_lava(tmp_path):
    from spikeport.simulators import compare_runs, run_reference
    from spikeport.simulators.lava import run_lava
    from spikeport.targets import quantize

    gen = torch.Generator().manual_seed(0)
    rates = torch.rand(N_CLASSES, N_LATENT, generator=gen) * 0.4
    memory = HebbianAssociativeMemory(MemoryConfig(N_LATENT, N_CLASSES))
    labels = torch.arange(N_CLASSES).repeat(4)
    memory.adapt("A", _latent(labels, rates, gen), labels)
    net = parse_nir(_through_file(memory_to_nir(memory, "A", dt=DT), tmp_path))
    latent = _latent(torch.randint(0, N_CLASSES, (20,), generator=gen), rates, gen)
    x = torch.cat([latent, torch.zeros(1, *latent.shape[1:])]).permute(1, 0, 2).numpy()
    quantized, report = quantize(net, calibration_inputs=x)
    assert report.total_clipped == 0
    reference = run_reference(quantized, x)
    v_last = reference.populations["accumulator"].v[:, -1]
    np.testing.assert_array_equal(np.argmax(v_last, axis=1), memory.predict(latent, "A").numpy())
    comparison = compare_runs(reference, run_lava(quantized, x))
    assert comparison.bit_exact, comparison.summary()


def test_registry_lists_each_codec_once():
    from spikeport.export.nir_extension import ExtensionRegistry
    from spikeport.train.layers.attention_nir import ATTENTION_CODEC
    from spikeport.train.layers.nir_codecs import EXTENSIONS

    assert list(EXTENSIONS) == [ATTENTION_EXTENSION, MEMORY_EXTENSION]
    assert EXTENSIONS.supported_text() == f"{ATTENTION_EXTENSION} v1, {MEMORY_EXTENSION} v1"
    with pytest.raises(ValueError, match=rf"{ATTENTION_EXTENSION!r} is listed twice"):
        ExtensionRegistry((ATTENTION_CODEC, ATTENTION_CODEC))
