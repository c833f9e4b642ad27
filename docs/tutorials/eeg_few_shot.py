# %% [markdown]
# # An EEG decoder on real recordings, calibrated to a new subject on the chip
#
# The `isam-mtl` model family ([ISAM-MTL](../isam-mtl.md), arXiv 2501.18089) pairs a spiking encoder shared by
# all subjects with one associative memory per subject, learned by a Hebbian rule. A new subject is calibrated
# from a few trials per class, and the learning itself runs on the chip: the readout is a plastic synapse (Lava's
# `LearningDense`) that counts the latent spikes of each class's shots. This tutorial trains the encoder on real
# motor-imagery EEG of two subjects, deploys it, and calibrates a third subject from 3 trials per class on Lava,
# checking that Lava learns exactly the weights spikeport's integer reference learns, after every learning epoch.
#
# **Data**: the PhysioNet EEG Motor Movement/Imagery Dataset (EEGMMIDB,
# https://physionet.org/content/eegmmidb/1.0.0/, ODC-By 1.0), left/right fist runs, read through MNE
# ([EEG data](../data-eeg.md)). Set `EEGMMIDB_DIR` to the folder that holds `MNE-eegbci-data` (MNE's cache
# layout; default: MNE's own `~/mne_data`). With internet access MNE fetches the files:
# `mne.datasets.eegbci.load_data(subject, [3, 4, 7, 8, 11, 12], path=DIR, update_path=False)`. Without the
# recordings the tutorial says so and stops.
#
# The settings are small (two training subjects, 5 epochs) so that it runs in minutes on two CPU cores. Expect
# accuracy near chance: on this offline subset of EEGMMIDB even the full leave-one-subject-out run of
# [ISAM-MTL](../isam-mtl.md) (30 epochs, four subjects, with CSP+LDA and EEGNet baselines) does not beat chance
# for ISAM-MTL. What the tutorial shows is the workflow and that the calibration on the chip is exact.

# %%
import json
import os
import subprocess
import sys
from pathlib import Path

import spikeport

TRAIN_SUBJECTS = [1, 3]  # imagined + executed left/right fist runs pooled
NEW_SUBJECT = 6  # never seen in training
SHOTS = 3  # trials per class for the calibration; 3 x 80 steps keeps every learned weight below 255 (see step 3)

data_dir = Path(os.environ.get("EEGMMIDB_DIR", Path.home() / "mne_data")).expanduser()
if not (data_dir / "MNE-eegbci-data").is_dir():
    print(
        f"SKIPPED: no EEGMMIDB recordings in {data_dir} (expected {data_dir / 'MNE-eegbci-data'}); set EEGMMIDB_DIR "
        "to the folder holding MNE-eegbci-data, or download the runs with mne.datasets.eegbci.load_data"
    )
    raise SystemExit(0)


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
# ## 1. Train the shared encoder on two subjects
#
# `spikeport.train` reads the runs on disk (17 motor channels, causal 8-30 Hz band-pass, 0.5-2.5 s after the cue
# in 25 ms steps), encodes them as up/down spikes and trains encoder and memories. The command line equivalent is
# `spikeport train --model isam-mtl --data eegmmidb --data-path DIR --subjects 1 3 --epochs 5 --out RUN` and
# `spikeport export RUN`.

# %%
# The run directory goes to runs/tutorials/ (or $SPIKEPORT_TUTORIAL_OUT), to be inspected afterwards.
run_dir = Path(os.environ.get("SPIKEPORT_TUTORIAL_OUT", "runs/tutorials")) / "eeg"
run = spikeport.train(
    "isam-mtl", out=run_dir, data="eegmmidb", data_path=str(data_dir), subject_ids=TRAIN_SUBJECTS, epochs=5, seed=0
)
print(run)
x_test = run.inputs("test")
print(f"test trials of the training subjects: {x_test.shape} (trials, steps, spike channels)")

# %% [markdown]
# ## 2. Deploy
#
# `spikeport quantize` turns the exported network into Loihi fixed point; `spikeport validate` runs the first
# test trials on the integer reference and on Lava and compares every spike, `u` and `v`.

# %%
spikeport_cli("quantize", str(run_dir))
out = spikeport_cli("validate", str(run_dir), "--samples", "2")
assert "BIT-EXACT: reference vs lava" in out

# %% [markdown]
# ## 3. Few-shot calibration of a new subject, on the chip
#
# `spikeport adapt` reads subject 6 from the data folder, standardizes it with its shots alone, and learns its
# memory on the simulated chip: a plastic readout with the rule dw = x0 * y0 and the shot's class as teacher
# spikes. With `--backend lava` it learns on the integer reference and on Lava, compares the weights after every
# epoch element for element, then classifies the subject's other trials on both.
#
# The number of shots has a hardware limit. A learned weight counts a latent neuron's spikes during the shots of
# one class, and the chip's plastic weights are 8-bit: they stop at 255. A recorded trial here has 80 steps, so a
# neuron that fires at every step of 3 shots reaches 240, below the limit; with 5 shots the busiest neurons pass
# 255, the chip's memory is clipped, and `spikeport adapt` records `memory_is_hebbian_counts: false` (reference
# and Lava still agree: both clip the same way).

# %%
calibration = ["--subject", str(NEW_SUBJECT), "--shots", str(SHOTS), "--backend", "lava", "--data-path", str(data_dir)]
spikeport_cli("adapt", str(run_dir), *calibration)
adapt = json.loads((run_dir / f"adapt_{NEW_SUBJECT}.json").read_text())
agreement = adapt["reference_vs_lava"]
results = adapt["results"]
print(f"subject {adapt['subject']}: {adapt['shots_per_class']} shots per class, {adapt['n_test']} test trials")
print(f"largest learned weight: {max(max(row) for row in results['lava']['memory'])} (8-bit limit 255)")
for backend in ("float", "reference", "lava"):
    print(f"  {backend:<9} accuracy {results[backend]['accuracy']:.3f}  (chance 0.5)")
assert agreement["memory_equal"] and agreement["predictions_equal"], agreement
assert results["reference"]["memory_is_hebbian_counts"] and results["lava"]["memory_is_hebbian_counts"]
assert results["lava"]["accuracy"] == results["reference"]["accuracy"]

# %% [markdown]
# The memory Lava learned equals the reference's after every one of the learning epochs, and it equals the
# Hebbian counts of the subject's latent spikes that the host computes independently: the calibration on the chip
# is the algorithm of the paper, not an approximation of it. The float row is the same calibration on the float
# model.
#
# ## 4. The same on your own EEG
#
# Recordings in any format MNE opens (EDF, BDF, GDF, FIF, BrainVision, EEGLAB) come in with
# `spikeport train --model isam-mtl --data mne --files a.edf b.fif --events "T1=left,T2=right" --out RUN`; BCI
# Competition IV 2a with `--data bciiv2a`. `spikeport evaluate RUN --protocol loso --shots 1 2 5` then gives
# the leave-one-subject-out table with confidence intervals and the CSP+LDA and EEGNet baselines.

# %%
print("tutorial complete: EEG few-shot calibration learned bit-exact on Lava")
