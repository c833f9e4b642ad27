"""A small hand-written `report.json` (schema 3 blocks, LABELLED FAKE NUMBERS) for rendering tests without a run."""

from __future__ import annotations

import copy

import numpy as np

FIGURE = {"value": 23.6, "unit": "pJ", "basis": "published", "source": "Paper A, Table 2", "note": ""}
STATIC = {"value": 0.1, "unit": "W", "basis": "derived", "source": "Paper B, Table 1", "note": ""}
LIMIT = {"value": 1024, "unit": "neurons", "key": "limits.neurons", "basis": "published", "source": "Doc C, limits"}


def _term(name: str, count: float, figure: dict) -> dict:
    return {
        "name": name,
        "count": count,
        "convention": "c",
        "coefficient": figure,
        "energy_pj": count * figure["value"],
    }


def sample_report() -> dict:
    """Every block the renderer draws: 2 layers on 3 cores, 2 energy terms, 2 chip rows, latency."""
    terms = [_term("synops (fan_out)", 30.0, FIGURE), _term("neuron updates", 12.0, {**FIGURE, "value": 50.0})]
    layer = {"kind": "lif_int", "bound": "neurons", "incoming": {}, "need_per_core": {"neurons": 4}}
    return {
        "schema_version": 3,
        "model": "decoder",
        "chip": "loihi",
        "data": {"synthetic": True, "description": "SYNTHETIC test data", "source": "synthetic"},
        "performance": {"stages": {"float": {"accuracy": 0.9}, "lava": {"accuracy": 0.85}}},
        "bit_exact": True,
        "validation": {"values_compared": 10, "values_differing": 0},
        "summary": ["line one", "line two"],
        "mapping": {
            "chip": "loihi", "chip_name": "Intel Loihi", "cores_used": 3, "chips_used": 1, "cores_per_chip": 128,
            "memory_model": "dense", "limits": {"neurons": LIMIT},
            "layers": {
                "hid": {**layer, "neurons": 8, "synapses": 32, "cores": 2, "first_core": 0,
                        "utilization": {"neurons": 0.004}},
                "out": {**layer, "neurons": 2, "synapses": 16, "cores": 1, "first_core": 2,
                        "utilization": {"neurons": 0.002}},
            },
        },
        "counts": {
            "samples": 4, "steps": 5, "activation_sparsity": 0.8, "footprint": {"total_bytes": 100},
            "conventions": {"synops_fan_out": "spikes x fan-out"},
            "totals_per_inference": {"synops_fan_out": 30.0, "neuron_updates": 12.0},
            "layers": {
                "fc": {"role": "connection", "per_inference": {"synops_fan_out": 20.0}},
                "fc2": {"role": "connection", "per_inference": {"synops_fan_out": 10.0}},
                "hid": {"role": "population", "per_inference": {"neuron_updates": 8.0}},
                "out": {"role": "population", "per_inference": {"neuron_updates": 4.0}},
            },
        },
        "energy": {
            "chip": "loihi",
            "selected": {"dynamic_terms": terms, "dynamic_pj": sum(t["energy_pj"] for t in terms), "dt_s": 0.001},
            "models": [
                {"model": "loihi", "name": "Intel Loihi", "kind": "chip", "proxy": False, "dynamic_terms": terms,
                 "dynamic_pj": sum(t["energy_pj"] for t in terms), "static_power": STATIC,
                 "static_pj_real_time": 5e5, "total_pj_real_time": 5e5 + 1308, "fastest_s": 1e-5},
                {"model": "xylo", "name": "Xylo", "kind": "energy_model", "proxy": False, "dynamic_terms": [],
                 "dynamic_pj": None, "static_power": None, "static_pj_real_time": None,
                 "dynamic_unavailable": "no per-operation figure published"},
            ],
        },
        "latency": {"loihi": {"real_time_s": 0.005, "fastest_s": 1e-5, "bound": "barrier", "proxy": False,
                              "step_s_real_time": 0.001,
                              "barrier": {"value": 113, "unit": "ns", "basis": "published", "source": "Paper A"}}},
    }  # fmt: skip


def without(report: dict, *keys: str) -> dict:
    out = copy.deepcopy(report)
    for key in keys:
        out.pop(key, None)
    return out


RATES = {"hid": np.linspace(0.0, 0.2, 5)}
"""Spike rates per step of one layer (fake, for drawing)."""
