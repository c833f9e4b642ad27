"""Float-vs-integer agreement of an imported NIR graph: where quantization changes what the network does.

The float side is spikeport's interpreter of the NIR semantics (`spikeport.export.simulate_float`), the integer
side the reference simulator on the quantized deploy graph (bit-exact to Lava). Loihi's Dense adds one step per
synapse, so a connection that has no delay in the float graph arrives one step later on the chip; populations are
compared after shifting the integer run back by that many steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spikeport.errors import RecordMismatchError
from spikeport.export import FloatTrace, ParsedNetwork, simulate_float
from spikeport.ir import DeployGraph
from spikeport.simulators import RunRecord

FLAG_AGREEMENT = 0.95  # flag a layer whose spikes agree on fewer step-neuron pairs than this
FLAG_RATE_CHANGE = 0.10  # or whose firing rate moves by more than this fraction


@dataclass(frozen=True)
class LayerAgreement:
    """How closely one population's integer run follows its float run."""

    name: str
    spiking: bool
    step_shift: int
    """Steps the integer run lags the float run (one per zero-delay synapse on the way from the input)."""
    spike_agreement: float
    """Fraction of (sample, step, neuron) with equal spikes (1.0 for non-spiking layers)."""
    float_rate: float
    int_rate: float
    output_agreement: float
    """Fraction of samples whose argmax of summed v (readouts) or of spike counts agrees."""

    @property
    def flagged(self) -> bool:
        rate_change = abs(self.int_rate - self.float_rate) / self.float_rate if self.float_rate else self.int_rate > 0
        return self.spike_agreement < FLAG_AGREEMENT or rate_change > FLAG_RATE_CHANGE

    def describe(self) -> str:
        kind = "spiking" if self.spiking else "readout"
        flag = "  <-- quantization changes behaviour" if self.flagged else ""
        return (
            f"{self.name} ({kind}, +{self.step_shift} steps): spikes agree {self.spike_agreement:.2%}, rate float "
            f"{self.float_rate:.4f} / int {self.int_rate:.4f}, argmax agrees {self.output_agreement:.2%}{flag}"
        )


def step_shifts(net: ParsedNetwork) -> dict[str, int]:
    """Integer-vs-float lag of each population; populations reached by paths of different lag get the largest."""
    shift = {net.input_name: 0}
    for _ in range(len(net.populations) + 1):  # longest-path relaxation; recurrent edges add no extra lag
        for syn in net.synapses:
            if syn.source in shift and syn.source != syn.target:
                lag = shift[syn.source] + int(np.all(syn.delay_steps == 0))
                shift[syn.target] = max(shift.get(syn.target, 0), lag)
    return {name: shift.get(name, 0) for name in net.populations}


def float_int_agreement(
    net: ParsedNetwork,
    graph: DeployGraph,
    inputs: np.ndarray,
    record: RunRecord,
    float_run: dict[str, FloatTrace] | None = None,
) -> list[LayerAgreement]:
    """Per-population agreement between the float NIR semantics and the integer run `record` of `graph`
    (`float_run`: `simulate_float(net, inputs)` if already computed). Populations that the quantizer folded into a
    block node (the inner units of a spike-driven attention block) have no integer trace of their own and are
    compared at the block's output population.

    Raises:
        RecordMismatchError: `record` lacks a population that `graph` deploys (a record of another graph).
    """
    float_run = float_run if float_run is not None else simulate_float(net, inputs)
    deployed = {p.name for p in graph.populations}
    result = []
    for name, shift in step_shifts(net).items():
        if name not in deployed:  # folded into a block node: no integer trace of its own
            continue
        if name not in record.populations:
            raise RecordMismatchError(
                f"the {record.backend!r} run has no population {name!r}, which the deploy graph holds; "
                "compare a run of this deploy graph"
            )
        steps = inputs.shape[1] - shift
        fl, it = float_run[name], record.populations[name]
        f_spikes, i_spikes = fl.spikes[:, :steps], np.abs(it.spikes[:, shift:].astype(np.float64))
        spiking = net.populations[name].spiking
        if spiking:
            f_out, i_out = f_spikes.sum(axis=1), i_spikes.sum(axis=1)
        else:
            f_out, i_out = fl.v[:, :steps].sum(axis=1), it.v[:, shift:].astype(np.float64).sum(axis=1)
        result.append(
            LayerAgreement(
                name=name,
                spiking=spiking,
                step_shift=shift,
                spike_agreement=float(np.mean(f_spikes == i_spikes)) if f_spikes.size else 1.0,
                float_rate=float(f_spikes.mean()) if f_spikes.size else 0.0,
                int_rate=float(i_spikes.mean()) if i_spikes.size else 0.0,
                output_agreement=float(np.mean(np.argmax(f_out, axis=1) == np.argmax(i_out, axis=1))),
            )
        )
    return result
