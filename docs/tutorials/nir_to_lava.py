# %% [markdown]
# # A NIR model from snnTorch to Lava, bit-true
#
# A spiking network trained in another framework reaches a Loihi-class chip through NIR, the Neuromorphic
# Intermediate Representation: the framework writes a `.nir` file, spikeport reads it, quantizes it to the chip's
# fixed-point formats and runs it on its integer reference simulator and on Lava's `fixed_pt` models. The two
# runs must agree in every spike, current `u` and voltage `v` at every step; `spikeport.compare` checks it.
#
# This tutorial builds a small snnTorch network (any trained one goes the same way), exports it with snnTorch's
# own `export_to_nir`, and takes it to a bit-exact Lava run and an energy report with the public API. The same
# steps on the command line are `spikeport import model.nir --dt 1e-4` and
# `spikeport validate model.nir --dt 1e-4` ([NIR import and export](../nir.md)).

# %%
import os
import warnings
from pathlib import Path

import nir
import numpy as np
import snntorch as snn
import torch
from snntorch.export_nir import export_to_nir

import spikeport

# %% [markdown]
# ## 1. An snnTorch network
#
# Two fully connected layers of `Leaky` neurons. Three choices make the exported graph mean what the chip runs:
#
# - **Per-neuron parameters** (`beta`, `threshold` as tensors): with scalars, snnTorch 1.0's export fails NIR's
#   type check.
# - **`reset_mechanism="zero"`, `reset_delay=False`**: Loihi resets `v` to zero in the step of the spike.
#   snnTorch's default subtracts the threshold one step later, and NIR has no field that says so; spikeport
#   cannot detect it in the file, so `load_nir` takes `reset="zero"` to confirm the reset (without it, a file that
#   looks like snnTorch's export gets a warning; `reset="subtract"` is refused).
# - **The step**: snnTorch's exporter assumes dt = 1e-4 s and writes no dt into the file, so it is passed to
#   `load_nir`.

# %%
SNNTORCH_DT = 1e-4  # snnTorch's export_to_nir writes tau = dt / (1 - beta) with this dt


def leaky(n: int, beta: float) -> snn.Leaky:
    """An snnTorch Leaky layer with per-neuron parameters and the chip's reset (to zero, at the spike)."""
    return snn.Leaky(
        beta=torch.full((n,), beta),
        threshold=torch.ones(n),
        init_hidden=True,
        reset_mechanism="zero",
        reset_delay=False,
    )


torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(12, 10), leaky(10, 0.9), torch.nn.Linear(10, 3, bias=False), leaky(3, 0.8))
with torch.no_grad():  # stands in for training: larger weights, so that both layers spike
    model[0].weight.mul_(3.0)
    model[2].weight.mul_(3.0)

# %% [markdown]
# ## 2. Export to NIR with snnTorch
#
# `ignore_dims=[0]` drops the batch dimension from the recorded shapes.

# %%
# Artifacts go to runs/tutorials/ (or $SPIKEPORT_TUTORIAL_OUT), so they can be inspected afterwards.
workdir = Path(os.environ.get("SPIKEPORT_TUTORIAL_OUT", "runs/tutorials")) / "nir"
workdir.mkdir(parents=True, exist_ok=True)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # snnTorch's exporter warns about its own internals
    nir_graph = export_to_nir(model, torch.zeros(1, 12), ignore_dims=[0])
nir_path = workdir / "snntorch.nir"
nir.write(nir_path, nir_graph)
print({name: type(node).__name__ for name, node in nir_graph.nodes.items()})

# %% [markdown]
# ## 3. Read, quantize, run on both simulators, compare
#
# The inputs are seeded random spikes here; use your own recorded spike trains of shape (samples, steps, inputs).
# `quantize` sets each layer's range from a float run on the calibration inputs.

# %%
net = spikeport.load_nir(nir_path, dt=SNNTORCH_DT, reset="zero")
rng = np.random.default_rng(1)
x = (rng.random((6, 40, 12)) < 0.3).astype(np.int8)

graph = spikeport.quantize(net, calibration=x)
print("\n".join(graph.quantization.summary_lines()))

reference = spikeport.simulate(graph, x)  # spikeport's integer reference simulator
lava = spikeport.simulate(graph, x, backend="lava")  # Lava fixed_pt on the CPU
comparison = spikeport.compare(reference, lava)
print(comparison)
assert comparison.bit_exact, "reference and Lava differ"

# %% [markdown]
# `BIT-EXACT` means every spike, `u` and `v` of every population agrees at every step of every sample: what the
# reference simulator says about the chip holds for Lava's model of it.
#
# ## 4. How close is the chip to the float model?
#
# Bit-exactness is between the two integer simulations; quantization itself changes the network a little. Run
# the snnTorch model on the same inputs and count the output spikes on which it and the chip agree. On the chip
# every connection (a Loihi Dense) delivers one step later, so the output layer, two connections from the input,
# spikes two steps after snnTorch's (the quantization summary above says so: "zero-delay connections arrive one
# step late"); shift by that before comparing.

# %%


def snntorch_output_spikes(model: torch.nn.Sequential, x: np.ndarray) -> np.ndarray:
    """Output-layer spikes of the snnTorch model, (samples, steps, outputs)."""
    from snntorch.utils import reset

    reset(model)
    steps = []
    with torch.no_grad():
        for t in range(x.shape[1]):
            steps.append(model(torch.as_tensor(x[:, t], dtype=torch.float32)).numpy())
    return np.stack(steps, axis=1).astype(np.int8)


LAYER_DELAY = 2  # two Dense connections between the input and the output layer, one step each
theirs = snntorch_output_spikes(model, x)[:, :-LAYER_DELAY]
ours = reference.populations[net.output].spikes[:, LAYER_DELAY:]
matched = int((theirs & ours).sum())
print(f"output spikes: snnTorch {int(theirs.sum())}, chip {int(ours.sum())}, at the same step in both: {matched}")
assert theirs.sum() > 0 and matched >= 0.95 * max(theirs.sum(), ours.sum())

# %% [markdown]
# ## 5. Energy and latency on the chip
#
# `spikeport.report` counts operations in every convention and estimates one inference on every chip model,
# each figure with its published source ([Reading and citing the energy report](energy_report.md)). With
# `labels=` it also scores the task.

# %%
report = spikeport.report(graph, x)
print(report)
selected = report.energy["selected"]
print(f"dynamic energy per inference on {report.energy['chip']}: {report.energy['dynamic_pj']:.1f} pJ")
assert selected is not None and report.energy["dynamic_pj"] > 0

# %%
print("tutorial complete: snnTorch -> NIR -> Lava bit-exact")
