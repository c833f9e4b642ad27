"""`spikeport report RUN --format md|html`: `report.json` as a page people read and cite, with plots.

The page is built once as a list of blocks (headings, paragraphs, tables, plots, preformatted lines) from the report,
the run's reference record (spike rates over time) and, when `spikeport export RUN --to onnx` has run,
`onnx_twin.json` (the float twin's MACs and onnxruntime latency); `to_markdown` and `to_html` only format the
blocks. A block the report lacks (an older schema, a chip without a mapping) is shown as "not in this report".

* HTML (`report.html`): one self-contained file: plots embedded as base64 PNG, inline CSS, no script and no
  external URL.
* Markdown (`report.md`): the same tables, plots written next to it as `report_<plot>.png`.

Every `source` string found anywhere in the report is listed, numbered, under "Sources"; table cells cite them as
[n]. The same run gives the same files (plots: see `spikeport.report_plots`).
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from spikeport.files import atomic_write
from spikeport.report_plots import (
    chip_comparison,
    core_map,
    energy_by_layer,
    energy_by_term,
    layer_energy,
    spike_rates,
)

__all__ = ["FORMATS", "Page", "build_page", "render_report", "to_html", "to_markdown"]

FORMATS = ("json", "md", "html")
MISSING = "not in this report"


@dataclass
class Page:
    """The report as blocks: ("h", level, text), ("p", text), ("table", header, rows), ("plot", name, png|None,
    caption), ("pre", lines)."""

    title: str
    blocks: list[tuple] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    def cite(self, source: str | None) -> str:
        """ "[n]" for a source string (numbered in order of first use), "" for none."""
        if not source:
            return ""
        if source not in self.sources:
            self.sources.append(source)
        return f"[{self.sources.index(source) + 1}]"


def _num(value, unit: str = "") -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}{unit}"
    if isinstance(value, float):
        if unit == " s":
            for scale, name in ((1.0, "s"), (1e-3, "ms"), (1e-6, "us"), (1e-9, "ns")):
                if abs(value) >= scale or scale == 1e-9:
                    return f"{value / scale:.4g} {name}"
        text = f"{value:,.0f}" if 1e4 <= abs(value) < 1e9 else f"{value:.4g}"
        return text + unit
    return str(value)


def _all_sources(node, found: list[str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            figure = any(k in node for k in ("basis", "value", "unit"))  # a sourced figure, not a graph edge
            if key == "source" and figure and isinstance(value, str) and value and value not in found:
                found.append(value)
            else:
                _all_sources(value, found)
    elif isinstance(node, list):
        for item in node:
            _all_sources(item, found)


def _overview(page: Page, report: dict) -> None:
    data = report.get("data") or {}
    label = "SYNTHETIC data" if data.get("synthetic") else "recorded data"
    page.blocks.append(("p", f"Model {report.get('model')} on {label}: {str(data.get('description', '')).strip()}"))
    perf = (report.get("performance") or {}).get("stages") or {}
    if perf:
        keys = sorted({k for block in perf.values() for k in block if not isinstance(block[k], list)})
        rows = [[stage, *(_num(block.get(k)) for k in keys)] for stage, block in perf.items()]
        page.blocks.append(("table", ["stage", *keys], rows))
    validation = report.get("validation") or {}
    page.blocks.append((
        "p",
        f"Bit-exact reference vs Lava: {_num(report.get('bit_exact'))} ({_num(validation.get('values_compared'))} "
        f"values compared, {_num(validation.get('values_differing'))} differ).",
    ))  # fmt: skip
    page.blocks.append(("pre", list(report.get("summary") or [MISSING])))


def _mapping(page: Page, report: dict) -> None:
    page.blocks.append(("h", 2, "Mapping onto cores"))
    mapping = report.get("mapping")
    if not mapping:
        page.blocks.append(("p", f"Mapping: {MISSING}."))
        page.blocks.append(("plot", "core_map", None, "Core map"))
        return
    page.blocks.append((
        "p",
        f"{mapping.get('chip_name', mapping.get('chip'))}: {_num(mapping.get('cores_used'))} core(s) on "
        f"{_num(mapping.get('chips_used'))} chip(s) of {_num(mapping.get('cores_per_chip'))} cores. Memory model: "
        f"{mapping.get('memory_model', MISSING)}",
    ))  # fmt: skip
    limits = mapping.get("limits") or {}
    page.blocks.append((
        "table",
        ["resource", "limit per core", "unit", "basis", "source"],
        [[k, _num(v.get("value")), v.get("unit", ""), v.get("basis", ""), page.cite(v.get("source"))]
         for k, v in limits.items()],
    ))  # fmt: skip
    resources = list(limits)
    rows = []
    for name, layer in (mapping.get("layers") or {}).items():
        use = layer.get("utilization") or {}
        rows.append([name, layer.get("kind", ""), _num(layer.get("neurons")), _num(layer.get("synapses")),
                     _num(layer.get("cores")), _num(layer.get("first_core")), layer.get("bound", ""),
                     *(f"{100 * use[r]:.1f} %" if r in use else "n/a" for r in resources)])  # fmt: skip
    page.blocks.append(("table", ["layer", "kind", "neurons", "synapses", "cores", "first core", "bound",
                                  *(f"use: {r}" for r in resources)], rows))  # fmt: skip
    page.blocks.append(("plot", "core_map", core_map(report), "Core map: the cores each layer occupies"))


def _counts(page: Page, report: dict, rates: dict[str, np.ndarray], dt_s: float | None) -> None:
    page.blocks.append(("h", 2, "Activity and operation counts"))
    page.blocks.append(("plot", "spike_rates", spike_rates(rates, dt_s), "Spike rate per layer over time"))
    counts = report.get("counts")
    if not counts:
        page.blocks.append(("p", f"Counts per layer and convention: {MISSING}."))
        return
    page.blocks.append((
        "p",
        f"Per inference (mean over {_num(counts.get('samples'))} samples of {_num(counts.get('steps'))} steps). "
        f"Activation sparsity {_num(counts.get('activation_sparsity'))}; footprint "
        f"{_num((counts.get('footprint') or {}).get('total_bytes'))} bytes.",
    ))  # fmt: skip
    conventions = counts.get("conventions") or {}
    totals = counts.get("totals_per_inference") or {}
    page.blocks.append(("table", ["metric", "per inference", "convention"],
                        [[k, _num(v), conventions.get(k, "")] for k, v in totals.items()]))  # fmt: skip
    layers = counts.get("layers") or {}
    metrics = sorted({m for layer in layers.values() for m in (layer.get("per_inference") or {})})
    rows = [[m, *(_num((layer.get("per_inference") or {}).get(m)) if m in (layer.get("per_inference") or {}) else ""
                  for layer in layers.values())] for m in metrics]  # fmt: skip
    page.blocks.append(("table", ["per inference", *(f"{n} ({layer.get('role', '')})" for n, layer in layers.items())],
                        rows))  # fmt: skip


def _energy(page: Page, report: dict) -> None:
    page.blocks.append(("h", 2, "Energy per inference"))
    energy = report.get("energy") or {}
    selected = energy.get("selected")
    if selected and selected.get("dynamic_terms"):
        rows = [[t["name"], _num(t.get("count")), t.get("convention", ""),
                 f"{_num(t['coefficient'].get('value'))} {t['coefficient'].get('unit', '')}",
                 t["coefficient"].get("basis", ""), page.cite(t["coefficient"].get("source")),
                 _num(t.get("energy_pj"))] for t in selected["dynamic_terms"]]  # fmt: skip
        page.blocks.append(("table", ["term", "count", "convention", "per op", "basis", "source", "energy (pJ)"], rows))
    else:
        page.blocks.append(("p", f"Dynamic energy of the chosen chip ({report.get('chip')}): {MISSING} "
                                 "(no per-operation figure; see `--energy-proxy`)."))  # fmt: skip
    page.blocks.append(("plot", "energy_by_term", energy_by_term(report), "Dynamic energy by term"))
    found = layer_energy(report)
    caption = "Dynamic energy by layer and term"
    if found and found[1]:
        caption += f" (not split by layer: {', '.join(found[1])})"
    page.blocks.append(("plot", "energy_by_layer", energy_by_layer(report), caption))
    rows = []
    for row in energy.get("models") or []:
        cites = []
        for term in row.get("dynamic_terms") or []:
            cites.append(page.cite((term.get("coefficient") or {}).get("source")))
        cites.append(page.cite((row.get("static_power") or {}).get("source")))
        gated = (row.get("power_gated") or {}).get("static_pj_real_time")
        why = row.get("dynamic_unavailable") or row.get("static_unavailable") or ""
        rows.append([row["model"] + (" PROXY" if row.get("proxy") else ""), row.get("kind", ""),
                     _num(row.get("dynamic_pj")), _num(row.get("static_pj_real_time")), _num(gated),
                     _num(row.get("total_pj_real_time")), _num(row.get("fastest_s"), " s"),
                     " ".join(sorted(set(c for c in cites if c))), why])  # fmt: skip
    if rows:
        page.blocks.append(("table", ["model", "kind", "dynamic pJ", "static pJ (real time)",
                                      "static pJ, power-gated estimate", "total pJ", "fastest", "sources", "note"],
                            rows))  # fmt: skip
    else:
        page.blocks.append(("p", f"Chip comparison: {MISSING}."))
    page.blocks.append(("plot", "chip_comparison", chip_comparison(report), "Chip comparison"))


def _latency(page: Page, report: dict, onnx: dict | None) -> None:
    page.blocks.append(("h", 2, "Latency per inference"))
    rows = []
    for chip, lat in (report.get("latency") or {}).items():
        rows.append(
            [
                chip + (" PROXY" if lat.get("proxy") else ""),
                "chip model",
                _num(lat.get("real_time_s"), " s"),
                _num(lat.get("fastest_s"), " s"),
                lat.get("bound") or lat.get("unavailable") or "",
                " ".join(
                    dict.fromkeys(page.cite((lat.get(k) or {}).get("source")) for k in ("barrier", "synop_time"))
                ).strip(),
            ]
        )
    if onnx:
        lat = onnx.get("latency") or {}
        for key, label in (("twin", "float twin (ReLU), measured"), ("snn", "SNN step graph, measured")):
            frame = lat.get("twin_frame" if key == "twin" else "snn_step") or {}
            rows.append([f"onnxruntime CPU: {label}", lat.get("backend", ""), "n/a",
                         _num(lat.get(f"{key}_inference_s"), " s"),
                         f"median of {frame.get('runs')} runs after {frame.get('warmup')} warm-up, x "
                         f"{lat.get('steps_per_inference')} steps", ""])  # fmt: skip
    if not rows:
        page.blocks.append(("p", f"Latency: {MISSING}."))
        return
    page.blocks.append(("table", ["model", "kind", "real time", "fastest", "bound / note", "sources"], rows))
    if onnx:
        twin = onnx.get("twin") or {}
        macs = twin.get("macs_per_frame") or {}
        page.blocks.append(("p", f"ONNX float twin (opset {onnx.get('opset')}, {twin.get('description', '')}): MACs "
                                 f"per frame read from its graph; x {twin.get('frames_per_inference')} frames = "
                                 f"{_num(twin.get('macs_per_inference'))} per inference."))  # fmt: skip
        page.blocks.append(("table", ["layer", "MACs per frame"], [[k, _num(v)] for k, v in macs.items()]))
    else:
        page.blocks.append(("p", f"ONNX twin: {MISSING} (run `spikeport export RUN --to onnx`)."))


def build_page(report: dict, rates: dict[str, np.ndarray], dt_s: float | None, onnx: dict | None) -> Page:
    """The report as blocks (see `Page`): overview, mapping, counts, energy, latency, then every source."""
    page = Page(title=f"spikeport report: {report.get('model')} on {report.get('chip')}")
    page.blocks.append(("h", 1, page.title))
    page.blocks.append(("p", f"report.json schema version {report.get('schema_version')}."))
    _overview(page, report)
    _mapping(page, report)
    _counts(page, report, rates, dt_s)
    _energy(page, report)
    _latency(page, report, onnx)
    found: list[str] = []
    _all_sources(report, found)
    for source in found:
        page.cite(source)
    page.blocks.append(("h", 2, "Sources"))
    page.blocks.append(("ol", list(page.sources)))
    return page


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(page: Page, image_names: dict[str, str]) -> str:
    """Markdown of a page; plots link to `image_names[plot]` (files written next to the page)."""
    out: list[str] = []
    for block in page.blocks:
        kind = block[0]
        if kind == "h":
            out.append(f"{'#' * block[1]} {block[2]}")
        elif kind == "p":
            out.append(block[1])
        elif kind == "pre":
            out.append("```\n" + "\n".join(block[1]) + "\n```")
        elif kind == "table":
            header, rows = block[1], block[2]
            lines = ["| " + " | ".join(map(_md_cell, header)) + " |", "|" + "---|" * len(header)]
            lines += ["| " + " | ".join(map(_md_cell, row)) + " |" for row in rows]
            out.append("\n".join(lines))
        elif kind == "plot":
            name, png, caption = block[1], block[2], block[3]
            out.append(f"![{caption}]({image_names[name]})" if png else f"*{caption}: {MISSING}.*")
        elif kind == "ol":
            out.append("\n".join(f"{i}. {s}" for i, s in enumerate(block[1], 1)))
    return "\n\n".join(out) + "\n"


CSS = (
    "body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
    "table{border-collapse:collapse;margin:.6em 0;font-size:.85em}td,th{border:1px solid #bbb;padding:3px 6px}"
    "th{background:#eee}pre{background:#f6f6f6;padding:.6em;font-size:.8em;white-space:pre-wrap}"
    "figure{margin:1em 0}img{max-width:100%}.missing{color:#777;font-style:italic}"
)


def to_html(page: Page) -> str:
    """One self-contained HTML page: inline CSS, plots as data: URIs, no script, no external URL."""
    esc = html.escape
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">', f"<title>{esc(page.title)}</title>",
           f"<style>{CSS}</style></head><body>"]  # fmt: skip
    for block in page.blocks:
        kind = block[0]
        if kind == "h":
            out.append(f"<h{block[1]}>{esc(block[2])}</h{block[1]}>")
        elif kind == "p":
            out.append(f"<p>{esc(block[1])}</p>")
        elif kind == "pre":
            out.append(f"<pre>{esc(chr(10).join(block[1]))}</pre>")
        elif kind == "table":
            head = "".join(f"<th>{esc(str(h))}</th>" for h in block[1])
            rows = "".join("<tr>" + "".join(f"<td>{esc(str(c))}</td>" for c in row) + "</tr>" for row in block[2])
            out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        elif kind == "plot":
            name, png, caption = block[1], block[2], block[3]
            if png:
                data = base64.b64encode(png).decode("ascii")
                out.append(
                    f'<figure><img class="plot" id="plot-{name}" alt="{esc(caption)}" '
                    f'src="data:image/png;base64,{data}"><figcaption>{esc(caption)}</figcaption></figure>'
                )
            else:
                out.append(f'<p class="missing">{esc(caption)}: {MISSING}.</p>')
        elif kind == "ol":
            out.append('<ol id="sources">' + "".join(f"<li>{esc(s)}</li>" for s in block[1]) + "</ol>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def render_report(run_dir: Path, report: dict, fmt: str) -> list[Path]:
    """Write `report.md` (+ PNGs) or `report.html` for a run whose `report.json` is `report`; returns the paths."""
    from spikeport.export_run import read_onnx_info
    from spikeport.rundir import REPORT_FILE, open_run, record_name, require
    from spikeport.simulators import load_record

    manifest = open_run(run_dir)
    record = load_record(require(run_dir, record_name("reference"), manifest))
    rates = {name: np.abs(trace.spikes).astype(np.float64).mean(axis=(0, 2))
             for name, trace in record.populations.items() if np.any(trace.spikes)}  # fmt: skip
    selected = (report.get("energy") or {}).get("selected") or {}
    steps = [lat.get("step_s_real_time") for lat in (report.get("latency") or {}).values()]
    page = build_page(report, rates, selected.get("dt_s") or next(iter(steps), None), read_onnx_info(run_dir))
    if fmt == "html":
        path = atomic_write(run_dir / "report.html", lambda tmp: tmp.write_text(to_html(page), encoding="utf-8"))
        manifest.record(path.name, "report --format html", inputs=(REPORT_FILE,))
        return [path]
    names = {b[1]: f"report_{b[1]}.png" for b in page.blocks if b[0] == "plot" and b[2]}
    paths = []
    for block in page.blocks:
        if block[0] == "plot" and block[2]:
            png = block[2]
            paths.append(atomic_write(run_dir / names[block[1]], lambda tmp, png=png: tmp.write_bytes(png)))
    text = to_markdown(page, names)
    path = atomic_write(run_dir / "report.md", lambda tmp: tmp.write_text(text, encoding="utf-8"))
    for written in (path, *paths):
        manifest.record(written.name, "report --format md", inputs=(REPORT_FILE,))
    return [path, *paths]
