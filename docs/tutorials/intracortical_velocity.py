# %% [markdown]
# # An intracortical velocity decoder on the chip
#
# The `rat-snn` model family ([RAT-SNN](../rat-snn.md)) decodes 2-D hand velocity from intracortical spike
# trains: multi-timescale LIF neurons, accumulate-only spike-driven attention and non-spiking integrator readouts
# whose voltage at the window's last step is the prediction. This tutorial trains a small one on the built-in
# SYNTHETIC center-out reaching data, deploys it to Loihi fixed point, checks that Lava predicts exactly what
# spikeport's integer reference predicts, and scores it next to a ridge regression (Wiener filter) and a GRU
# trained on the same split.
#
# With recordings (NeuroBench primate reaching, Miller-lab TrialData, NWB), pass `data="neurobench"` (or
# `"trialdata"`, `"nwb"`) and `data_path=...` to `spikeport.train`, or `--data`/`--data-path` to
# `spikeport train` ([intracortical data](../data-intracortical.md)). Everything below then runs unchanged.
#
# The settings are deliberately tiny (3 epochs, 6 trials per direction) so the tutorial runs in a few minutes on
# two CPU cores; the model family's defaults train for 12 epochs on 80 trials per direction.

# %%
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

import spikeport


def spikeport_cli(*args: str) -> str:
    """Run a `spikeport` command as a user would in a shell, print its output, fail on a non-zero exit code.

    Progress bars appear only on a terminal, so the captured output holds the results alone."""
    print("$ spikeport", " ".join(args))
    done = subprocess.run([sys.executable, "-m", "spikeport", *args], capture_output=True, text=True, check=False)
    print(done.stdout + done.stderr)
    if done.returncode != 0:
        raise SystemExit(f"spikeport {args[0]} exited with {done.returncode}")
    return done.stdout


# %% [markdown]
# ## 1. Train on SYNTHETIC reaching
#
# `spikeport.train` writes a run directory (`data.npz`, `model.pt`, `training.json`, and with `export=True`, the
# default, `model.nir`); the command line equivalent is `spikeport train --model rat-snn --out RUN` followed by
# `spikeport export RUN`. Windows of 10 bins of 20 ms; the target is the velocity at the window's last bin. Each
# unit's spike count in a bin enters the network as a graded spike (0..15, Loihi 2's graded payloads).

# %%
# The run directory goes to runs/tutorials/ (or $SPIKEPORT_TUTORIAL_OUT), to be inspected afterwards.
run_dir = Path(os.environ.get("SPIKEPORT_TUTORIAL_OUT", "runs/tutorials")) / "reach"
run = spikeport.train("rat-snn", out=run_dir, seed=0, epochs=3, trials_per_class=6, num_steps=10)
print(run)
x_test, y_test = run.inputs("test"), run.labels("test")
print(f"test windows: {x_test.shape} (windows, steps, units), targets {y_test.shape} (vel_x, vel_y)")

# %% [markdown]
# ## 2. Deploy: quantize, then check Lava against the integer reference
#
# `spikeport quantize` is the family-aware step: it groups the encoder's neurons by their quantized time constants
# (one Lava process per group) and lowers the attention block to one accumulate-only process. `spikeport validate`
# then runs the first windows on the integer reference and on Lava and compares every spike, `u` and `v`, and the
# decoded velocities.

# %%
spikeport_cli("quantize", str(run_dir))
out = spikeport_cli("validate", str(run_dir), "--samples", "4")
assert "BIT-EXACT: reference vs lava" in out
assert "reference and lava predictions agree on 4/4 samples" in out

# %% [markdown]
# ## 3. Score the deployed decoder on every test window
#
# Lava is bit-exact with the reference, so the reference (fast, batched) scores the deployed model on all test
# windows. `spikeport.report` decodes the readout's last-step voltage and gives R² and Pearson r per output.

# %%
graph = run.graph()
report = spikeport.report(graph, x_test, labels=y_test)
deployed = report.metrics
print({key: np.round(value, 3).tolist() for key, value in deployed.items()})
assert len(deployed["r2"]) == 2

# %% [markdown]
# ## 4. Next to the baselines
#
# `spikeport evaluate` scores the float SNN and the deployed SNN (integer reference) on the run's full test split,
# next to ridge regression and a 32-unit GRU trained on the same split in the same call, with operation counts per
# decoded window in NeuroBench's terms (effective ACs and MACs). It writes `evaluation.json` and plots. With
# these tiny settings the SNN stays below ridge; [RAT-SNN](../rat-snn.md) gives the numbers at the defaults.

# %%
spikeport_cli("evaluate", str(run_dir), "--backends", "float", "reference")
evaluation = json.loads((run_dir / "evaluation.json").read_text())
rows = {row["model"]: row for row in evaluation["rows"]}
for name, row in rows.items():
    print(f"{name:<14} mean R² {row['r2_mean']:6.3f}, effective MACs per window {row['effective_macs_per_step']:.0f}")
# Quantization costs the deployed SNN little accuracy, and after the encoding layer it only accumulates.
assert abs(rows["snn deployed"]["r2_mean"] - rows["snn float"]["r2_mean"]) < 0.05
assert rows["snn deployed"]["macs_after_encoding_layer"] == 0

# %%
print("tutorial complete: rat-snn velocity decoder deployed bit-exact")
