"""Random spike-driven attention graphs: input -> `AttentionInt` -> output units, and their inputs.

`random_attention_case(seed)` draws (from `np.random.default_rng(seed)`, so each seed is one fixed case) 1..8
tokens of 1..8 channels, the internal delay d (1..3), the gate threshold (0..N/2, or N: the gate never opens, 10 %), the
Q, K, V registers (weights small or full 8-bit, mostly excitatory so that the neurons fire, weight and bias
exponents, decays from memoryless to leak-free, thresholds), an output projection (50 %) or the relay output, the
input rate, latency + 4 .. latency + 30 steps and 1..3 samples. The random-graph generator's `KIND_TABLE` maps
the attention kind to `attention_connection`, the node generator.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from spikeport.ir import AttentionInt, DeployGraph, LIFInt, SpikeInput


def _weights(rng: np.random.Generator, shape: tuple[int, ...], full: bool) -> np.ndarray:
    high = 255 if full else 60
    w = rng.integers(-high // 3, high + 1, shape)
    w[rng.random(shape) < 0.1] = 0  # some zero weights (effective counts differ from fan-out)
    return w


def attention_connection(rng: np.random.Generator, name: str, settings: dict[str, Any], shape: tuple[int, int]):
    """A random `AttentionInt`; `settings` gives ``n_tokens`` (N * D = shape[0]) and may pin any field."""
    n = int(settings.get("n_tokens", 1))
    dim = shape[0] // n
    full = bool(rng.random() < 0.3)
    fields: dict[str, Any] = dict(
        n_tokens=n, n_features=dim, delay=int(rng.integers(1, 4)),
        weights=_weights(rng, (3, dim, dim), full), weight_exp=rng.integers(-1, 3, 3),
        du=rng.choice([-1, 0, 400, 2048, 4095], 3), dv=rng.choice([0, 100, 1024, 4096], 3),
        vth=rng.integers(1, 200, 3), bias_mant=rng.integers(-300, 300, (3, dim)), bias_exp=rng.integers(0, 4, 3),
        gate_threshold=int(n if rng.random() < 0.1 else rng.integers(0, n // 2 + 1)),
    )  # fmt: skip
    if rng.random() < 0.5:
        fields.update(out_weights=_weights(rng, (dim, dim), full), out_weight_exp=int(rng.integers(-2, 3)))
    fields.update({k: v for k, v in settings.items() if k != "n_tokens"})
    return AttentionInt(name=name, **fields)


def random_attention_case(seed: int, **settings: Any):
    """A random attention graph and inputs (a `helpers.random_graphs.Case`); `settings` pin node fields,
    ``steps``, ``samples`` or ``rate``."""
    from helpers.random_graphs import KIND_TABLE, Case, _Pending

    rng = np.random.default_rng(seed)
    n, dim = int(settings.pop("n_tokens", rng.integers(1, 9))), int(settings.pop("n_features", rng.integers(1, 9)))
    steps = settings.pop("steps", None)
    samples = int(settings.pop("samples", rng.integers(1, 4)))
    rate = float(settings.pop("rate", rng.choice([0.1, 0.3, 0.6])))
    size = n * dim
    node = KIND_TABLE.handler(_Pending(AttentionInt.kind, "att"))(rng, "att", {"n_tokens": n, **settings}, (size, size))
    steps = int(steps if steps is not None else rng.integers(node.latency + 4, node.latency + 31))
    if node.output_projection:
        out = LIFInt(name="out", size=size, du=int(rng.choice([0, 1000, 4095])), dv=int(rng.choice([0, 500, 4096])),
                     vth=int(rng.integers(1, 100)), bias_mant=rng.integers(-50, 50, size), bias_exp=0)  # fmt: skip
    else:
        out = LIFInt(name="out", size=size, du=4095, dv=4096, vth=0)  # the relay the quantizer emits
    graph = DeployGraph(
        nodes={"in": SpikeInput(name="in", size=size), "att": node, "out": out},
        edges=[("in", "att"), ("att", "out")],
        output="out",
    )
    inputs = (rng.random((samples, steps, size)) < rate).astype(np.int64)
    label = (
        f"attention seed={seed}: N={n}, D={dim}, d={node.delay}, gate>{node.gate_threshold}, "
        f"output_projection={node.output_projection}, steps={steps}, samples={samples}, rate={rate}"
    )
    return Case(label=label, graph=graph, inputs=inputs, overrides=dict(settings))


def compare_attention_case(case) -> tuple[Any, Any]:
    """Run a case on the reference and on Lava; returns (comparison, reference record)."""
    from spikeport.simulators import compare_runs, run_reference
    from spikeport.simulators.lava import run_lava

    reference = run_reference(case.graph, case.inputs)
    return compare_runs(reference, run_lava(case.graph, case.inputs)), reference


def attention_sweep(cases: int, first_seed: int = 0, log=None) -> list[str]:
    """Compare reference and Lava on `cases` random attention graphs (seeds first_seed, first_seed + 1, ...);
    returns one line per mismatching case (empty: every case bit-exact). `log(line)` gets one line per case."""
    mismatches = []
    for seed in range(first_seed, first_seed + cases):
        case = random_attention_case(seed)
        comparison, reference = compare_attention_case(case)
        spikes = int(reference.populations["out"].spikes.astype(bool).sum())
        line = f"{case.label}: {'bit-exact' if comparison.bit_exact else 'MISMATCH'}, {spikes} output spikes"
        if log is not None:
            log(line)
        if not comparison.bit_exact:
            mismatches.append(f"{line}: {comparison.summary()}")
    return mismatches
