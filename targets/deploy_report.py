"""The deployment blocks of `report.json`: `mapping`, `counts`, `energy` and `latency` of one simulated run.

`deployment_blocks` maps the deploy graph onto the chosen chip (a shipped chip or a user's chip file), counts the
run per layer and per step in every convention, and estimates one inference on every chip model and on the
conventional twin, each number with its source (docs/report-schema.md, docs/energy.md). A chip without published
per-operation figures (Loihi 2) gets resources, ops and latency only, and energy only with an explicit
`energy_proxy` chip, labelled PROXY in every row, note and summary line that uses it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from spikeport.errors import ChipCapacityError, EnergyModelError
from spikeport.targets.chip import ChipSpec, load_chip, shipped_chips
from spikeport.targets.conventions import count_layers, footprint
from spikeport.targets.energy import estimate_energy
from spikeport.targets.energy_compare import chip_row, comparison_lines, conventional_rows, energy_model_rows
from spikeport.targets.energy_report import format_si
from spikeport.targets.mapping import map_graph
from spikeport.targets.opcount import OpCounts

if TYPE_CHECKING:
    from spikeport.ir import DeployGraph
    from spikeport.simulators.record import RunRecord

TWIN_FILE = "model.twin.onnx"
"""The ONNX float twin `spikeport export RUN --to onnx` writes; its MACs feed the conventional rows when present."""


def step_seconds(graph: DeployGraph) -> tuple[float, str]:
    """Real-time duration of one step: the graph's `step_seconds` (recorded data), else its `dt`."""
    meta = graph.metadata
    if meta.get("step_seconds"):
        return float(meta["step_seconds"]), "deploy graph metadata step_seconds"
    if not meta.get("dt"):
        raise EnergyModelError(
            "the deploy graph's metadata has neither step_seconds nor dt, so real-time latency is unknown; "
            "re-run `spikeport quantize` (or `spikeport import --dt SECONDS`)"
        )
    return float(meta["dt"]), "deploy graph metadata dt"


def _twin_macs(graph: DeployGraph, run_dir: Path | None) -> tuple[float, str]:
    """MACs of one evaluation of the float twin: from its ONNX graph when written, else from the topology."""
    path = run_dir / TWIN_FILE if run_dir is not None else None
    if path is not None and path.is_file():
        try:
            from spikeport.export.onnx_twin import onnx_mac_counts

            return float(sum(onnx_mac_counts(path).values())), f"ONNX graph {TWIN_FILE}"
        except ImportError:  # onnx is not installed: count from the topology, which the twin shares
            pass
    macs = sum(c.in_size * c.out_size for c in graph.connections)
    return float(macs), "deploy-graph topology, one dense evaluation (time dropped)"


def _chip_estimate(spec: ChipSpec, proxy: ChipSpec | None, ops: OpCounts, graph, inputs, record, steps: int, dt: float):
    """(mapping, layer counts, EnergyReport or None, why none) of one mapped chip."""
    mapping = map_graph(graph, spec)
    counts = count_layers(graph, inputs, record, mapping)
    if spec.energy is None and proxy is None:
        hint = spec.per_op_proxy.value if spec.per_op_proxy is not None else "loihi"
        why = (
            f"no published per-operation figures; `--energy-proxy {hint}` estimates with that chip's figures, "
            "labelled as a proxy"
        )
        return mapping, counts, None, why
    use_proxy = proxy if spec.energy is None else None
    report = estimate_energy(ops, spec, steps_per_sample=steps, dt_s=dt, proxy=use_proxy, mapping=mapping,
                             layer_counts=counts)  # fmt: skip
    return mapping, counts, report, ""


def _latency(spec: ChipSpec, report, steps: int, dt: float, dt_from: str) -> dict[str, object]:
    out: dict[str, object] = {"steps": steps, "step_s_real_time": dt, "step_s_from": dt_from,
                              "real_time_s": steps * dt}  # fmt: skip
    if report is None:
        out |= {
            "fastest_s": None,
            "modelled_step_s": None,
            "bound": None,
            "proxy": False,
            "unavailable": "no published timing figures; `--energy-proxy` borrows another chip's, labelled as a proxy",
        }
        return out  # fmt: skip
    lat = report.latency
    out |= {"fastest_s": lat.inference_s, "modelled_step_s": lat.step_s, "bound": lat.bound, "proxy":
            report.per_op_proxy, "tiles_used": lat.tiles_used, "synops_per_step": lat.synops_per_step,
            "barrier": lat.barrier.to_dict(), "synop_time": lat.synop_time.to_dict(),
            "real_time_feasible": lat.step_s <= dt}  # fmt: skip
    return out


def deployment_blocks(
    graph: DeployGraph,
    inputs: np.ndarray,
    record: RunRecord,
    ops: OpCounts,
    *,
    chip: str,
    energy_proxy: str | None = None,
    run_dir: Path | None = None,
) -> tuple[dict[str, object], list[str]]:
    """The `mapping`, `counts`, `energy` and `latency` blocks and their summary lines.

    Args:
        graph, inputs, record, ops: the simulated deploy graph, its test inputs, the reference record and its
            `count_ops` counts.
        chip: a shipped chip name or the path of a chip file (`load_chip`).
        energy_proxy: chip whose per-op figures stand in for a chip that has none (labelled PROXY).
        run_dir: the run directory (for the ONNX twin's MAC counts, when written).

    Raises:
        ChipCapacityError: the network does not fit the chosen chip.
        ChipSpecError, EnergyModelError: a bad chip file or an unusable proxy.
    """
    spec = load_chip(chip)
    proxy = load_chip(energy_proxy) if energy_proxy else None
    if proxy is not None and proxy.energy is None:
        raise EnergyModelError(f"--energy-proxy {energy_proxy}: that chip has no per-operation figures either")
    steps = int(record.num_steps)
    dt, dt_from = step_seconds(graph)
    real_time_s = steps * dt
    specs = [spec] + [load_chip(c) for c in shipped_chips() if c != spec.label]
    rows, latency, selected = [], {}, None
    for s in specs:
        try:
            mapping, counts, report, why = _chip_estimate(s, proxy, ops, graph, inputs, record, steps, dt)
        except ChipCapacityError as exc:
            if s is spec:
                raise
            rows.append(chip_row(s.label, s.name, None, real_time_s, f"does not fit: {exc}"))
            continue
        if s is spec:
            selected = (mapping, counts, report)
        rows.append(chip_row(s.label, s.name, report, real_time_s, why))
        latency[s.label] = _latency(s, report, steps, dt, dt_from)
    mapping, counts, report = selected  # type: ignore[misc]
    rows += energy_model_rows(counts, steps, real_time_s)
    macs, macs_from = _twin_macs(graph, run_dir)
    weight_bytes = {b: int(footprint(graph, weight_bits=b)["weights_bytes"]) for b in (32, 8)}
    rows += conventional_rows(counts, steps, real_time_s, weight_bytes, macs, macs_from)
    energy = {
        "chip": spec.label,
        "energy_proxy": energy_proxy,
        "per_op_proxy": bool(report is not None and report.per_op_proxy),
        "dynamic_pj": report.dynamic_pj if report is not None else None,
        "selected": report.to_dict() if report is not None else None,
        "steps_per_inference": steps,
        "real_time_s": real_time_s,
        "models": rows,
    }
    blocks = {"mapping": mapping.to_dict(), "counts": counts.to_dict(), "energy": energy, "latency": latency}
    return blocks, _summary(spec, mapping, counts, report, rows, latency[spec.label])


def _limits_by_source(limits: dict) -> list[str]:
    """The per-core limits, grouped so that each source is cited once: "a 1 u, b 2 u [published: source]"."""
    groups: dict[tuple[str, str], list[str]] = {}
    for key, figure in limits.items():
        groups.setdefault((figure.basis, figure.source), []).append(f"{key} {figure.value} {figure.unit}")
    return [f"{', '.join(items)} [{basis}: {source}]" for (basis, source), items in groups.items()]


def _summary(spec: ChipSpec, mapping, counts, report, rows: list[dict], latency: dict) -> list[str]:
    lim = mapping.limits
    lines = [
        f"Mapping on {spec.name} ({spec.label}): {mapping.cores_used} cores, {mapping.chips_used} chip(s); "
        + ", ".join(f"{la.name} {la.cores} core(s) ({la.bound})" for la in mapping.layers)
        + "; limits per core: "
        + "; ".join(_limits_by_source(lim)),
        f"Counts per inference ({counts.steps} steps): spikes x fan-out {counts.total('synops_fan_out'):.6g}, "
        f"NeuroBench effective ACs {counts.total('effective_acs'):.6g} / MACs {counts.total('effective_macs'):.6g} "
        f"/ dense {counts.total('dense'):.6g}, rate x FLOPs SOPs {counts.total('rate_flops_sops'):.6g} "
        f"+ first-layer MACs {counts.total('rate_flops_macs'):.6g}, neuron updates "
        f"{counts.total('neuron_updates'):.6g}, activation sparsity {counts.activation_sparsity():.4f}, "
        f"footprint {counts.footprint['total_bytes']} bytes",
    ]
    fastest = latency["fastest_s"]
    proxy = " PROXY" if latency.get("proxy") else ""
    lines.append(
        f"Latency: real time {format_si(latency['real_time_s'], 's')} ({latency['step_s_from']}); fastest "
        + (f"{format_si(fastest, 's')}{proxy} ({latency['bound']}-bound)" if fastest is not None else "n/a")
    )
    if report is not None:
        lines += report.summary_lines()
    else:
        lines.append(f"Energy on {spec.name}: not estimated ({rows[0]['dynamic_unavailable']})")
    return lines + comparison_lines(rows)
