"""ISAM-MTL cost: training time and peak memory of both stages, and adaptation time per subject on the integer
reference and on Lava, printed next to the CSP+LDA baseline's time from the same run.

Stage 1 (encoder) and stage 2 (Hebbian memories) run on the family's default SYNTHETIC data (`--data synthetic`)
or on recorded EEG (`--data eegmmidb --data-path ../shared/data --subjects 1 2 3 6`). Peak memory is the process's
resident-set high-water mark (`resource.getrusage(RUSAGE_SELF).ru_maxrss`, kilobytes on Linux) after each stage,
and torch's own allocations are CPU tensors, counted in it. Adaptation: for each held-out subject (synthetic) or
each training subject (recorded; the shared encoder saw its training trials), K shots per class are learned on
chip (`spikeport.train.models.isam.deploy.chip_adapt`: plastic readout, then recall of the other trials), timed
per backend; CSP+LDA is trained on the same K shots and timed.

Example: `python benchmarks/isam_train.py --shots 5`   (the issue's target: both stages under 20 min on 2 cores)
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="synthetic", choices=("synthetic", "eegmmidb"))
    parser.add_argument("--data-path", default=None)
    parser.add_argument("--subjects", type=int, nargs="+", default=None)
    parser.add_argument("--epochs", type=int, default=None, help="stage-1 epochs (default: the family's)")
    parser.add_argument("--shots", type=int, default=5)
    parser.add_argument("--backends", nargs="+", default=("reference", "lava"), choices=("reference", "lava"))
    parser.add_argument("--max-subjects", type=int, default=4, help="subjects to adapt (time per subject)")
    args = parser.parse_args(argv)

    import numpy as np

    from spikeport.export import parse_nir
    from spikeport.targets.quantize import quantize
    from spikeport.train.models import get_family
    from spikeport.train.models.isam.baselines import csp_lda, filtered
    from spikeport.train.models.isam.data import synthetic_dataset
    from spikeport.train.models.isam.deploy import chip_adapt, few_shot_split, float_adapt
    from spikeport.train.models.isam.family import STAGE1_EPOCHS
    from spikeport.train.models.isam.fit import fit_encoder, learn_memories

    family = get_family("isam-mtl")
    options = {"data": args.data, "data_path": args.data_path}
    if args.subjects and args.data == "synthetic":
        options["n_subjects"] = args.subjects[0]
    elif args.subjects:
        options["subject_ids"] = tuple(args.subjects)
    cfg = family.run_config(**options)
    start = time.perf_counter()
    data = family.make_data(cfg)
    print(f"data ({'SYNTHETIC' if data.info['synthetic'] else 'recorded'} {cfg.data}): {len(data.y_train)} train "
          f"trials x {data.x_train.shape[1]} steps x {data.x_train.shape[2]} inputs, "
          f"{time.perf_counter() - start:.1f} s to read/encode; peak RSS {_peak_mib():.0f} MiB")  # fmt: skip
    model = family.build_model(family.make_config(cfg, data), cfg.seed)
    history = fit_encoder(model, data.x_train, data.y_train, epochs=args.epochs or STAGE1_EPOCHS, progress=False)
    print(f"stage 1 (encoder, {len(history.loss)} epochs): {history.wall_time_s:.1f} s; peak RSS {_peak_mib():.0f} MiB")
    stage2 = learn_memories(model, data.x_train, data.y_train, data.extra["subjects_train"])
    print(f"stage 2 (Hebbian memories, {len(model.memory.subjects)}): {stage2:.2f} s; peak RSS {_peak_mib():.0f} MiB")
    start = time.perf_counter()
    graph, _ = quantize(
        parse_nir(family.to_nir(model, data.info)),
        calibration_inputs=data.x_train,
        metadata={"readout": family.readout.value, "task": family.task.value, "model": family.name},
    )
    print(f"export + quantize: {time.perf_counter() - start:.1f} s")

    if data.info["synthetic"]:
        subjects = list(data.info["heldout_subjects"])[: args.max_subjects]
        raw = synthetic_dataset(len(data.info["heldout_subjects"]), cfg.trials_per_class, cfg.seed,
                                first_subject=cfg.n_subjects)  # fmt: skip
        x_raw = filtered(raw)

        def trials(s):
            rows = data.extra["subjects_heldout"] == s
            return data.extra["x_heldout"][rows], data.extra["y_heldout"][rows], x_raw[raw.subjects == s]
    else:
        subjects = sorted(int(s) for s in np.unique(data.extra["subjects_train"]))[: args.max_subjects]
        raw, x_raw = None, None

        def trials(s):
            rows = data.extra["subjects_train"] == s
            return data.x_train[rows], data.y_train[rows], None

    print(f"adaptation, {args.shots} shots per class ({'held-out' if raw is not None else 'training'} subjects):")
    for s in subjects:
        x, y, xr = trials(s)
        shot_idx, test_idx = few_shot_split(y, args.shots, 0, n_classes=len(data.info["class_names"]))
        start = time.perf_counter()
        _, pred = float_adapt(model, x[shot_idx], y[shot_idx], x[test_idx])
        parts = [f"float {time.perf_counter() - start:.2f} s (acc {np.mean(pred == y[test_idx]):.3f})"]
        for backend in args.backends:
            a = chip_adapt(
                graph, backend, x[shot_idx], y[shot_idx], x[test_idx], n_classes=len(data.info["class_names"])
            )
            acc = np.mean(a.predictions == y[test_idx])
            parts.append(f"{backend} learn {a.learn_s:.2f} s + recall {a.recall_s:.2f} s (acc {acc:.3f})")
        if xr is not None:
            pred, seconds = csp_lda(xr, y, shot_idx, test_idx, len(data.info["class_names"]))
            if pred is not None:
                parts.append(f"CSP+LDA {seconds:.2f} s (acc {np.mean(pred == y[test_idx]):.3f})")
        print(f"  subject {s}: " + "; ".join(parts))
    print(f"peak RSS {_peak_mib():.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
