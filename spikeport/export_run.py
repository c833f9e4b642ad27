"""`spikeport export RUN --to onnx|netx`: the run's network in formats other tools load, recorded in its manifest.

* `onnx` (`spikeport.export.onnx_twin`): `model.twin.onnx` (the float non-spiking twin) and `model.step.onnx` (one
  SNN step), both from `model.nir`, each checked against torch on random inputs (at most `TOLERANCE` apart), and
  `onnx_twin.json`: the twin's MACs per layer read from its ONNX graph, the checks, and onnxruntime CPU latency.
* `netx` (`spikeport.export.netx`): `model.netx.h5`, the deploy graph in lava-dl's netx HDF5 layout.

Everything is computed and checked before anything is written. `onnx_twin.json` holds measured latencies, so it
differs between runs in its `latency` block only; the ONNX and netx files are the same bytes for the same run.
"""

from __future__ import annotations

from pathlib import Path

from spikeport.errors import SpikeportError
from spikeport.files import write_json
from spikeport.rundir import DATA_FILE, DEPLOY_FILE, NIR_FILE, load_data, open_run, require

__all__ = [
    "EXPORT_FORMATS",
    "NETX_FILE",
    "ONNX_INFO_FILE",
    "STEP_FILE",
    "TWIN_FILE",
    "export_netx",
    "export_onnx",
    "export_to",
    "read_onnx_info",
]

TWIN_FILE, STEP_FILE, ONNX_INFO_FILE, NETX_FILE = (
    "model.twin.onnx",
    "model.step.onnx",
    "onnx_twin.json",
    "model.netx.h5",
)
EXPORT_FORMATS = ("nir", "onnx", "netx")
ONNX_STAGE, NETX_STAGE = "export --to onnx", "export --to netx"
LATENCY_RUNS, LATENCY_WARMUP = 200, 20


def export_onnx(run_dir: Path) -> dict:
    """Write the ONNX twin and step graphs of a run and `onnx_twin.json`; returns that file's content."""
    import numpy as np

    from spikeport.export import parse_nir, read_nir
    from spikeport.export.onnx_twin import (
        OPSET,
        TOLERANCE,
        SnnStep,
        check_against_torch,
        export_step,
        export_twin,
        measure_latency,
        onnx_mac_counts,
        random_feeds,
    )

    manifest = open_run(run_dir)
    net = parse_nir(read_nir(require(run_dir, NIR_FILE, manifest)))
    steps = int(load_data(run_dir, manifest)["x_test"].shape[1])
    twin_path, step_path = export_twin(net, run_dir / TWIN_FILE), export_step(net, run_dir / STEP_FILE)
    checks = {
        "twin": check_against_torch(net, twin_path, step=False),
        "step": check_against_torch(net, step_path, step=True),
    }
    for name, check in checks.items():
        if not check.max_abs_diff <= TOLERANCE:
            raise SpikeportError(
                f"the ONNX {name} graph differs from torch by {check.max_abs_diff:.3g} (> {TOLERANCE}) on random "
                "inputs; the export is wrong, please report it"
            )
    macs = onnx_mac_counts(twin_path)
    one = {"x": np.zeros((1, net.input_size), dtype=np.float32)}
    twin_latency = measure_latency(twin_path, one, runs=LATENCY_RUNS, warmup=LATENCY_WARMUP)
    step_feeds = {k: v[:1] for k, v in random_feeds(SnnStep(net), net, 1, seed=0).items()}
    step_latency = measure_latency(step_path, step_feeds, runs=LATENCY_RUNS, warmup=LATENCY_WARMUP)
    info = {
        "opset": OPSET,
        "files": {"twin": TWIN_FILE, "step": STEP_FILE},
        "twin": {
            "description": "float non-spiking twin: same topology and weights, ReLU for spiking populations, one "
            "input frame per call",
            "macs_per_frame": macs,
            "macs_per_frame_total": int(sum(macs.values())),
            "frames_per_inference": steps,
            "macs_per_inference": int(sum(macs.values())) * steps,
            "macs_convention": "the twin applied to every time step of a sample (steps_per_sample frames)",
        },
        "checks": {name: check.to_dict() for name, check in checks.items()},
        "latency": {
            "backend": "onnxruntime CPUExecutionProvider, 1 thread, batch 1",
            "twin_frame": twin_latency,
            "twin_inference_s": twin_latency["median_s"] * steps,
            "snn_step": step_latency,
            "snn_inference_s": step_latency["median_s"] * steps,
            "steps_per_inference": steps,
        },
    }
    write_json(run_dir / ONNX_INFO_FILE, info)
    for name in (TWIN_FILE, STEP_FILE, ONNX_INFO_FILE):
        manifest.record(name, ONNX_STAGE, inputs=(NIR_FILE, DATA_FILE))
    return info


def export_netx(run_dir: Path) -> Path:
    """Write the run's deploy graph as `model.netx.h5` (lava-dl netx layout); returns its path."""
    from spikeport.export.netx import write_netx
    from spikeport.ir import load_deploy_graph

    manifest = open_run(run_dir)
    graph = load_deploy_graph(require(run_dir, DEPLOY_FILE, manifest))
    path = write_netx(graph, run_dir / NETX_FILE)
    manifest.record(NETX_FILE, NETX_STAGE, inputs=(DEPLOY_FILE,))
    return path


def export_to(run_dir: Path, to: str) -> tuple[Path, list[str]]:
    """Export a run `--to onnx` or `netx`; returns the main file written and summary lines for the CLI."""
    if to == "netx":
        path = export_netx(run_dir)
        return path, [f"wrote {path} (lava-dl netx HDF5: the deploy graph's integer weights and CUBA neurons)"]
    if to != "onnx":
        raise SpikeportError(f"--to {to}: unknown export format; choose one of {', '.join(EXPORT_FORMATS)}")
    info = export_onnx(run_dir)
    twin, latency, checks = info["twin"], info["latency"], info["checks"]
    macs = ", ".join(f"{k} {v}" for k, v in twin["macs_per_frame"].items())
    return run_dir / TWIN_FILE, [
        f"wrote {run_dir / TWIN_FILE} (float twin, ReLU for LIF) and {run_dir / STEP_FILE} (one SNN step), opset "
        f"{info['opset']}",
        f"onnxruntime vs torch on random inputs: max |diff| twin {checks['twin']['max_abs_diff']:.2g}, step "
        f"{checks['step']['max_abs_diff']:.2g} (tolerance {checks['twin']['tolerance']:g})",
        f"twin MACs per frame: {macs} (total {twin['macs_per_frame_total']}; x {twin['frames_per_inference']} "
        f"frames = {twin['macs_per_inference']} per inference)",
        f"onnxruntime CPU latency (median, 1 thread): twin {latency['twin_frame']['median_s'] * 1e6:.1f} us/frame, "
        f"SNN step {latency['snn_step']['median_s'] * 1e6:.1f} us/step; wrote {run_dir / ONNX_INFO_FILE}",
    ]


def read_onnx_info(run_dir: Path) -> dict | None:
    """`onnx_twin.json` of a run, checked against the manifest, or None if `export --to onnx` has not run."""
    from spikeport.rundir import read_json

    if not (run_dir / ONNX_INFO_FILE).is_file():
        return None
    manifest = open_run(run_dir)
    return read_json(manifest.require(ONNX_INFO_FILE, ONNX_STAGE), ONNX_STAGE)
