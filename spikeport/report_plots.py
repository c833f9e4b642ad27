"""The report's plots as PNG bytes (matplotlib, Agg backend), each drawn only from `report.json` and the run's record.

Every function returns the PNG, or None when the report lacks the block it draws (the page then says "not in this
report"). PNGs are written without the matplotlib version or a date (`metadata={"Software": None}`) at a fixed size
and dpi, so the same run gives the same bytes.
"""

from __future__ import annotations

import io
import math

import numpy as np

__all__ = ["PLOTS", "chip_comparison", "core_map", "energy_by_layer", "energy_by_term", "layer_energy", "spike_rates"]

DPI = 100
PLOTS = ("core_map", "spike_rates", "energy_by_term", "energy_by_layer", "chip_comparison")
"""Plot names in page order (also the PNG file names of the markdown report: `report_<name>.png`)."""


def _figure(width: float = 7.0, height: float = 3.6):
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.hashsalt": "spikeport", "font.size": 9})
    return plt.subplots(figsize=(width, height), dpi=DPI)


def _png(fig) -> bytes:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()


def spike_rates(rates: dict[str, np.ndarray], dt_s: float | None) -> bytes | None:
    """Spikes per neuron per step against time, one line per layer (mean over the test samples)."""
    if not rates:
        return None
    fig, ax = _figure()
    for name, series in rates.items():
        steps = np.arange(len(series))
        ax.plot(steps * dt_s * 1e3 if dt_s else steps, series, label=name, linewidth=1.4)
    ax.set_xlabel("time (ms)" if dt_s else "step")
    ax.set_ylabel("spikes per neuron per step")
    ax.set_title("Spike rate per layer over time (reference run, mean over test samples)")
    ax.legend(loc="upper right", fontsize=8)
    ax.grid(alpha=0.3)
    return _png(fig)


def _terms(report: dict) -> list[dict] | None:
    selected = (report.get("energy") or {}).get("selected")
    return (selected or {}).get("dynamic_terms") or None


def energy_by_term(report: dict) -> bytes | None:
    """The chosen chip's dynamic energy per inference, one bar per term (pJ)."""
    terms = _terms(report)
    if not terms:
        return None
    fig, ax = _figure(7.0, 0.5 + 0.45 * len(terms) + 1.0)
    names = [t["name"] for t in terms]
    values = [float(t["energy_pj"]) for t in terms]
    ax.barh(names, values, color="#4c72b0")
    for i, value in enumerate(values):
        ax.text(value, i, f" {value:,.0f} pJ", va="center", fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("dynamic energy per inference (pJ)")
    ax.set_xlim(0, max(values) * 1.35 or 1)
    ax.set_title(f"Dynamic energy by term on {report.get('chip')}")
    return _png(fig)


def layer_energy(report: dict) -> tuple[dict[str, dict[str, float]], list[str]] | None:
    """The chosen chip's dynamic energy split by layer: {term: {layer: pJ}} and the terms left unsplit.

    A term is split where some per-layer count in `counts.layers.*.per_inference` sums to the term's count (within
    1e-9 relative): each layer gets its count x the term's coefficient. Inactive neuron updates are the layer's
    `neuron_updates - active_updates`. Nothing else is estimated.
    """
    terms, layers = _terms(report), (report.get("counts") or {}).get("layers")
    if not terms or not layers:
        return None
    per_layer = {name: dict(layer.get("per_inference") or {}) for name, layer in layers.items()}
    for counts in per_layer.values():
        if "neuron_updates" in counts and "active_updates" in counts:
            counts["inactive_updates"] = counts["neuron_updates"] - counts["active_updates"]
    metrics = sorted({m for counts in per_layer.values() for m in counts})
    split, unsplit = {}, []
    for term in terms:
        count, value = float(term["count"]), float(term["coefficient"]["value"])
        for metric in metrics:
            total = sum(float(c.get(metric, 0.0)) for c in per_layer.values())
            if math.isclose(total, count, rel_tol=1e-9, abs_tol=1e-12) and total > 0:
                split[term["name"]] = {
                    name: float(c[metric]) * value for name, c in per_layer.items() if c.get(metric, 0.0)
                }
                break
        else:
            unsplit.append(term["name"])
    return split, unsplit


def energy_by_layer(report: dict) -> bytes | None:
    """Stacked bars: the chosen chip's dynamic energy per layer, coloured by term (see `layer_energy`)."""
    found = layer_energy(report)
    if not found or not found[0]:
        return None
    split = found[0]
    layers = sorted({layer for per in split.values() for layer in per})
    fig, ax = _figure(7.0, 0.6 + 0.45 * len(layers) + 1.2)
    left = np.zeros(len(layers))
    for term, per in split.items():
        values = np.array([per.get(layer, 0.0) for layer in layers])
        ax.barh(layers, values, left=left, label=term)
        left += values
    ax.invert_yaxis()
    ax.set_xlabel("dynamic energy per inference (pJ)")
    ax.set_title(f"Dynamic energy by layer and term on {report.get('chip')}")
    ax.legend(fontsize=8, loc="lower right")
    return _png(fig)


def chip_comparison(report: dict) -> bytes | None:
    """Energy per inference of every chip model and baseline row: dynamic and static (at real time), log scale."""
    rows = (report.get("energy") or {}).get("models")
    if not rows:
        return None
    fig, ax = _figure(7.5, 0.8 + 0.38 * len(rows) + 1.0)
    labels = [r["model"] + (" (PROXY)" if r.get("proxy") else "") for r in rows]
    dynamic = [r.get("dynamic_pj") for r in rows]
    static = [r.get("static_pj_real_time") for r in rows]
    y = np.arange(len(rows))
    ax.barh(y - 0.2, [d or 0 for d in dynamic], height=0.4, label="dynamic", color="#4c72b0")
    ax.barh(y + 0.2, [s or 0 for s in static], height=0.4, label="static at real time", color="#dd8452")
    present = [v for v in [*dynamic, *static] if v]
    low = min(present) if present else 1.0
    for i, (d, s) in enumerate(zip(dynamic, static, strict=True)):
        if not d and not s:
            ax.text(low, i, " n/a (no published figure)", va="center", fontsize=7, color="#555555")
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("energy per inference (pJ, log scale)")
    ax.set_title("Energy per inference: chip models and conventional baselines")
    ax.legend(fontsize=8, loc="lower right")
    return _png(fig)


def core_map(report: dict) -> bytes | None:
    """The cores each layer occupies (mapping block): one cell per used core, coloured by layer."""
    mapping = report.get("mapping")
    layers = (mapping or {}).get("layers")
    if not layers or not mapping.get("cores_used"):
        return None
    import matplotlib.patches as patches

    used = int(mapping["cores_used"])
    columns = min(16, max(4, math.ceil(math.sqrt(used))))
    rows = math.ceil(used / columns)
    fig, ax = _figure(7.0, 1.2 + 0.45 * rows + 0.4 * math.ceil(len(layers) / 3))
    colors = [f"C{i % 10}" for i in range(len(layers))]
    handles = []
    ordered = sorted(layers.items(), key=lambda kv: kv[1].get("first_core", 0))
    for color, (name, layer) in zip(colors, ordered, strict=True):
        first, count = int(layer.get("first_core", 0)), int(layer.get("cores", 0))
        for core in range(first, first + count):
            r, c = divmod(core, columns)
            ax.add_patch(patches.Rectangle((c, -r - 1), 0.92, 0.92, color=color))
            ax.text(c + 0.46, -r - 0.54, str(core), ha="center", va="center", fontsize=6, color="white")
        handles.append(patches.Patch(color=color, label=f"{name}: {count} core(s), {layer.get('neurons')} neurons"))
    ax.set_xlim(-0.1, columns)
    ax.set_ylim(-rows - 0.1, 0.1)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(f"Core map on {mapping.get('chip_name', mapping.get('chip'))}: {used} core(s), "
                 f"{mapping.get('chips_used')} chip(s)")  # fmt: skip
    ax.legend(handles=handles, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=3, frameon=False)
    return _png(fig)
