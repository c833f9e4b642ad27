"""Random plastic graphs: a `PlasticDenseInt` with a random rule, traces, epoch and seed, and its inputs.

`random_plastic_case(seed)` draws (from `np.random.default_rng(seed)`, so each seed is one fixed case):
- ``topology``: "direct" (input -> plastic -> post) or "hidden" (input -> Dense -> pre LIF -> plastic -> post LIF);
- sizes: 1..10 pre-synaptic neurons, 1..6 post-synaptic ones; teacher channels appended to the input (85 %);
- the rule: 1..3 terms, each a trigger (x0, y0 or uK, one K per rule) times 0..2 traces and maybe the other 1-bit
  factor, rate m * 2**e with m in [-8, 7] \\ {0} and e mostly small;
- trace impulses 0..127, taus 0 / 1..30 / 65535; t_epoch 1, 2, up to 63 or the steps per sample; rng_seed; initial
  weights small or full 8-bit; weight_exp; steps 3..24; samples 1..3.
The random-graph generator's `KIND_TABLE` maps the plastic kind to `plastic_connection`, the node generator.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from spikeport.ir import DenseInt, DeployGraph, LIFInt, SpikeInput
from spikeport.ir.plastic import TRACES, PlasticDenseInt


def _rule(rng: np.random.Generator) -> str:
    k = int(rng.integers(0, 3))
    terms = []
    for _ in range(int(rng.integers(1, 4))):
        trigger = str(rng.choice(["x0", "y0", f"u{k}"], p=[0.4, 0.45, 0.15]))
        factors = [str(f) for f in rng.choice(TRACES, size=int(rng.integers(0, 3)))]
        if trigger != "y0" and rng.random() < 0.5:
            factors.append("y0")
        elif trigger == "y0" and rng.random() < 0.5:
            factors.append("x0")
        m = int(rng.choice([m for m in range(-8, 8) if m]))
        e = int(rng.integers(-7, 9)) if rng.random() < 0.2 else int(rng.integers(-7, 2))
        terms.append(("- " if m < 0 else "+ ") + "*".join([f"{abs(m)}*2^{e}", trigger, *factors]))
    return " ".join(terms).removeprefix("+ ")


def plastic_connection(rng: np.random.Generator, name: str, settings: dict[str, Any], shape: tuple[int, int]):
    """A random `PlasticDenseInt` of `shape`; `settings` may pin ``dw``, ``t_epoch``, ``teacher_offset`` ...."""
    full = rng.random() < 0.3
    weights = rng.integers(-255, 256, shape) if full else rng.integers(-24, 25, shape)
    traces = {}
    for trace in TRACES:
        traces[f"{trace}_impulse"] = int(rng.choice([0, int(rng.integers(1, 128)), 127], p=[0.15, 0.7, 0.15]))
        traces[f"{trace}_tau"] = int(rng.choice([0, int(rng.integers(1, 31)), 65535], p=[0.15, 0.7, 0.15]))
    steps = settings.get("steps", 10)
    fields = dict(
        dw=_rule(rng),
        weight_exp=int(rng.integers(-8, 8)) if rng.random() < 0.3 else 0,
        t_epoch=int(rng.choice([1, 2, int(rng.integers(1, 64)), min(steps, 63)])),
        rng_seed=int(rng.integers(0, 2**20)),
        teacher_offset=-1,
        **traces,
    )
    fields.update({key: value for key, value in settings.items() if key in fields or key in traces})
    return PlasticDenseInt(name=name, weights=weights, **fields)


def _lif(rng: np.random.Generator, name: str, size: int) -> LIFInt:
    du = int(rng.choice([4095, int(rng.integers(0, 4096))]))
    dv = int(rng.choice([4096, 0, int(rng.integers(0, 4097))]))
    return LIFInt(name=name, size=size, du=du, dv=dv, vth=int(rng.choice([0, 1, int(rng.integers(2, 200))])))


def random_plastic_case(seed: int, **settings: Any):
    """A random plastic graph and inputs (a `helpers.random_graphs.Case`); `settings` pin ``dw``, ``t_epoch`` ..."""
    from helpers.random_graphs import KIND_TABLE, Case, _Pending

    rng = np.random.default_rng(seed)
    hidden = rng.random() < 0.4
    n_data, n_pre, n_post = int(rng.integers(1, 11)), int(rng.integers(1, 11)), int(rng.integers(1, 7))
    teacher = settings.pop("teacher", rng.random() < 0.85)
    steps = settings.setdefault("steps", int(rng.integers(3, 25)))
    samples = int(settings.pop("samples", rng.integers(1, 4)))
    n_in = n_data + (n_post if teacher else 0)
    settings.setdefault("teacher_offset", n_data if teacher else -1)
    nodes: dict[str, Any] = {"in": SpikeInput(name="in", size=n_in)}
    edges = []
    pre = "in"
    if hidden:
        weights = rng.integers(-40, 120, (n_pre, n_in))
        weights[:, n_data:] = 0  # the teacher channels drive only the plastic node's s_in_bap
        nodes["d0"] = DenseInt(name="d0", weights=weights, weight_exp=int(rng.integers(-2, 3)))
        nodes["pre"] = _lif(rng, "pre", n_pre)
        edges += [("in", "d0"), ("d0", "pre")]
        pre = "pre"
    shape = (n_post, n_pre if hidden else n_in)
    nodes["syn"] = KIND_TABLE.handler(_Pending(PlasticDenseInt.kind, "syn"))(rng, "syn", settings, shape)
    nodes["post"] = _lif(rng, "post", n_post)
    edges += [(pre, "syn"), ("syn", "post")]
    graph = DeployGraph(nodes=nodes, edges=edges, output="post")
    rate = float(rng.choice([0.1, 0.3, 0.6]))
    inputs = (rng.random((samples, steps, n_in)) < rate).astype(np.int64)
    syn = nodes["syn"]
    label = f"plastic seed={seed}, dw={syn.dw!r}, t_epoch={syn.t_epoch}, traces={syn.trace_params()}"
    return Case(label=label, graph=graph, inputs=inputs, overrides=dict(settings))


def compare_plastic_case(case) -> tuple[Any, Any]:
    """Run a case on the reference and on Lava; returns (comparison, reference record)."""
    from spikeport.simulators import compare_runs, run_reference
    from spikeport.simulators.lava import run_lava

    reference = run_reference(case.graph, case.inputs)
    return compare_runs(reference, run_lava(case.graph, case.inputs)), reference


def run_plastic_sweep(cases: int, *, seed: int = 200_000, log=None) -> dict[str, Any]:
    """Reference vs Lava over `cases` random plastic cases (seeds `seed`, `seed` + 1, ...): counts and mismatches."""
    out: dict[str, Any] = {"cases": 0, "mismatches": [], "epochs": 0, "weights_compared": 0, "learned": 0}
    for i in range(cases):
        case = random_plastic_case(seed + i)
        comparison, reference = compare_plastic_case(case)
        learned = reference.weights["syn"]
        out["cases"] += 1
        out["epochs"] += len(learned)
        out["weights_compared"] += comparison.weights_compared
        initial = (case.graph.nodes["syn"].weights >> 1) << 1
        out["learned"] += bool(len(learned)) and not np.array_equal(learned[-1], initial)
        if not comparison.bit_exact:
            out["mismatches"].append(f"{case!r}\n{comparison.summary()}")
        if log is not None:
            log(f"case {i + 1}/{cases} ({case.label}): {'ok' if comparison.bit_exact else 'MISMATCH'}")
    return out


__all__ = ["compare_plastic_case", "plastic_connection", "random_plastic_case", "run_plastic_sweep"]
