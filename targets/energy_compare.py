"""One inference side by side on every chip model and on the conventional twin: rows with sourced terms.

A row (JSON-ready dict, docs/report-schema.md `energy.models[]`) holds the dynamic energy as a sum of terms
(count x sourced per-op figure), the static energy at real time (static power x `real_time_s`), a labelled
"power-gated to used cores" estimate where a mapping exists, the latency, context figures of other workloads
(never used in a sum) and notes. Whatever a model's sources do not publish is null, with the reason.

Rows: the mapped chips (from `EnergyReport`s; Loihi 2 only with an explicit proxy, labelled PROXY), the
energy-only models (SpiNNaker 2, TrueNorth, Speck, Xylo: `targets/energy_models.py`) and the conventional rows:
the float twin (same topology, every connection evaluated densely at every step) at 45 nm FP32 and int8 with one
weight read per MAC from SRAM, the SNN counted by the rate x FLOPs and NeuroBench effective conventions at 45 nm
FP32, and a CPU and a GPU charged per synaptic operation or neuron update.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from spikeport.targets.energy_models import load_energy_model, shipped_energy_models
from spikeport.targets.energy_report import PJ, format_si
from spikeport.targets.figure import Figure

if TYPE_CHECKING:
    from spikeport.targets.conventions import RunCounts
    from spikeport.targets.energy import EnergyReport

SRAM_CLASSES = ((8 * 1024, "sram_read_8kb"), (32 * 1024, "sram_read_32kb"), (1024 * 1024, "sram_read_1mb"))
"""Weight memory size classes: the smallest SRAM of Horowitz's table that holds the weights, else DRAM."""


def _term(name: str, count: float, convention: str, fig: Figure) -> dict[str, object]:
    return {"name": name, "count": count, "convention": convention, "coefficient": fig.to_dict(),
            "energy_pj": count * fig.value}  # fmt: skip


def _row(key: str, name: str, kind: str, real_time_s: float, **kw) -> dict[str, object]:
    terms = kw.get("dynamic_terms", [])
    dynamic = sum(t["energy_pj"] for t in terms) if terms else None
    static = kw.get("static_power")
    static_pj = static["value"] * real_time_s / PJ if static else None
    row = {
        "model": key,
        "name": name,
        "kind": kind,
        "proxy": kw.get("proxy", False),
        "dynamic_pj": dynamic,
        "dynamic_terms": terms,
        "dynamic_unavailable": None if terms else kw.get("why_no_dynamic", "no per-operation figure published"),
        "static_power": static,
        "static_pj_real_time": static_pj,
        "static_unavailable": None if static else kw.get("why_no_static", "no static power figure published"),
        "power_gated": kw.get("power_gated"),
        "total_pj_real_time": dynamic + static_pj if dynamic is not None and static_pj is not None else None,
        "real_time_s": real_time_s,
        "fastest_s": kw.get("fastest_s"),
        "context": {k: f.to_dict() for k, f in kw.get("context", {}).items()},
        "notes": list(kw.get("notes", ())),
    }
    return row


def chip_row(key: str, name: str, report: EnergyReport | None, real_time_s: float, why: str = "") -> dict:
    """A mapped chip's row from its EnergyReport (None: no energy without a proxy; `why` says so)."""
    if report is None:
        return _row(key, name, "chip", real_time_s, why_no_dynamic=why, why_no_static=why)
    points = {p.name: p for p in report.operating_points}
    rt, gated = points["real_time"], points["real_time_power_gated"]
    terms = [_term(t.name, t.count, t.convention, t.coefficient) for t in report.dynamic_terms]
    power_gated = {
        "label": "estimate: static power scaled to the cores in use, assuming unused cores are power-gated",
        "static_power": gated.static_power.to_dict(),
        "static_pj_real_time": gated.static_pj,
    }
    static = rt.static_power.to_dict()
    row = _row(key, name, "chip", real_time_s, dynamic_terms=terms, static_power=static, power_gated=power_gated,
               proxy=report.per_op_proxy, fastest_s=report.latency.inference_s, notes=report.notes)  # fmt: skip
    return row


def energy_model_rows(counts: RunCounts, steps_per_sample: int, real_time_s: float) -> list[dict]:
    """Rows of the energy-only neuromorphic models: synops (spikes x fan-out) and neuron updates x their figures."""
    per = steps_per_sample / counts.steps
    synops, updates = counts.total("synops_fan_out") * per, counts.total("neuron_updates") * per
    rows = []
    for key in shipped_energy_models("energy_model"):
        m = load_energy_model(key)
        terms = []
        if "synop" in m.energy:
            terms.append(_term("synops (fan_out)", synops, "spikes x fan-out", m.energy["synop"]))
        if "neuron_update" in m.energy:
            terms.append(_term("neuron updates", updates, "every neuron every step", m.energy["neuron_update"]))
        static = m.power.get("static_per_chip")
        rows.append(_row(key, m.name, "energy_model", real_time_s, dynamic_terms=terms, context=m.context,
                         static_power=static.to_dict() if static else None, notes=m.notes))  # fmt: skip
    return rows


def conventional_rows(
    counts: RunCounts, steps_per_sample: int, real_time_s: float, weight_bytes: dict[int, int], twin_macs: float,
    twin_source: str,
) -> list[dict]:  # fmt: skip
    """Rows of the conventional twin and of the SNN on conventional hardware.

    Args:
        weight_bytes: the twin's weight bytes by bit width (32, 8), to pick the SRAM size class.
        twin_macs: MACs of one inference of the float twin (counted steps scaled to `steps_per_sample`).
        twin_source: where `twin_macs` comes from (the float topology, or the ONNX graph).
    """
    per = steps_per_sample / counts.steps
    rows = []
    for key, bits in (("cmos45nm_fp32", 32), ("cmos45nm_int8", 8)):
        m = load_energy_model(key)
        size = weight_bytes[bits]
        sram = next((k for limit, k in SRAM_CLASSES if size <= limit), "dram_read")
        reads = twin_macs * bits / 64
        terms = [
            _term("twin MACs", twin_macs, f"dense MACs of the float twin ({twin_source})", m.energy["mac"]),
            _term(f"weight reads ({sram})", reads, f"one {bits}-bit weight per MAC, 64-bit reads, "
                  f"{size} weight bytes", m.energy[sram]),
        ]  # fmt: skip
        rows.append(_row(f"ann_twin_{key}", f"float twin (ANN, ReLU) on {m.name}", "conventional", real_time_s,
                         dynamic_terms=terms, why_no_static="static power of a 45 nm design is not in our sources",
                         notes=["Activation reads and writes are not counted."]))  # fmt: skip
    fp32 = load_energy_model("cmos45nm_fp32")
    rate = [
        _term("first-layer MACs", counts.total("rate_flops_macs") * per, "rate x FLOPs: FLOPs x T of the encoding "
              "layer", fp32.energy["mac"]),
        _term("SOPs as ACs", counts.total("rate_flops_sops") * per, "rate x FLOPs: rate x T x FLOPs",
              fp32.energy["ac"]),
    ]  # fmt: skip
    rows.append(_row("snn_rate_flops_cmos45nm_fp32", f"SNN, rate x FLOPs convention (Spikformer), {fp32.name}",
                     "conventional", real_time_s, dynamic_terms=rate, why_no_static="not part of the convention",
                     notes=["No memory access is counted, as in the convention."]))  # fmt: skip
    eff = [
        _term("effective ACs", counts.total("effective_acs") * per, "NeuroBench effective ACs", fp32.energy["ac"]),
        _term("effective MACs", counts.total("effective_macs") * per, "NeuroBench effective MACs", fp32.energy["mac"]),
    ]
    rows.append(_row("snn_effective_cmos45nm_fp32", f"SNN, NeuroBench effective ops, {fp32.name}", "conventional",
                     real_time_s, dynamic_terms=eff, why_no_static="not part of the convention"))  # fmt: skip
    synops, updates = counts.total("synops_fan_out") * per, counts.total("neuron_updates") * per
    for key in ("cpu", "gpu"):
        m = load_energy_model(key)
        terms = [_term("synops (fan_out)", synops, "spikes x fan-out", m.energy["op"]),
                 _term("neuron updates", updates, "every neuron every step", m.energy["op"])]  # fmt: skip
        rows.append(
            _row(
                f"snn_{key}",
                f"SNN simulated on a {m.name}",
                "conventional",
                real_time_s,
                dynamic_terms=terms,
                why_no_static="idle power of the device is not in our sources",
            )
        )
    return rows


def comparison_lines(rows: list[dict]) -> list[str]:
    """One console line per row (dynamic, static, total at real time), sources numbered after the table."""
    cites: list[str] = []

    def refs(figs: list[dict]) -> str:
        out = []
        for f in figs:
            if f["source"] not in cites:
                cites.append(f["source"])
            tag = str(cites.index(f["source"]) + 1)
            out.append(tag if f["basis"] == "published" else f"{tag} {f['basis']}")
        return "[" + "; ".join(dict.fromkeys(out)) + "]" if out else ""

    def j(pj: float | None) -> str:
        return "n/a" if pj is None else format_si(pj * PJ, "J")

    lines = ["Energy per inference, side by side (dynamic | static at real time | total; PROXY = borrowed figures):"]
    for r in rows:
        figs = [t["coefficient"] for t in r["dynamic_terms"]] + ([r["static_power"]] if r["static_power"] else [])
        flag = " PROXY" if r["proxy"] else ""
        gated = r["power_gated"]
        extra = f" | power-gated estimate {j(gated['static_pj_real_time'])} static" if gated else ""
        why = f" ({r['dynamic_unavailable']})" if r["dynamic_pj"] is None else ""
        lines.append(f"  {r['model']:<30}{flag} {j(r['dynamic_pj'])} | {j(r['static_pj_real_time'])} | "
                     f"{j(r['total_pj_real_time'])}{extra} {refs(figs)}{why}")  # fmt: skip
    lines += [f"  [{i}] {c}" for i, c in enumerate(cites, start=1)]
    return lines
