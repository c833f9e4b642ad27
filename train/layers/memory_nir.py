"""The NIR codec of the Hebbian associative memory: one subject's readout as standard nodes, the plastic state as
metadata, and back.

The block (`spikeport.export.nir_extension`, extension "hebbian_associative_memory", version 1) holds the selected
subject's *readout* with frozen weights as standard NIR nodes; NIR has no plasticity, so the learning rule and every
subject's raw memory live only in the metadata. Subject keys, which may be str or int in
`HebbianAssociativeMemory`, are stored as tagged strings "str:NAME" / "int:7" (`encode_subject`), which keep their
type through HDF5. The Hebbian teacher rule and linear readout are spikeport's design choice for ISAM-MTL
(arXiv:2501.18089), which does not specify them (papers.md; `spikeport.train.layers.associative_memory`).
`memory_to_nir` writes a block; `spikeport.train.layers.nir_codecs.memory_from_nir` rebuilds the memory through
`MEMORY_CODEC`.
"""

from __future__ import annotations

import math
from typing import Any

import nir
import numpy as np
import torch

from spikeport.errors import IRValidationError
from spikeport.export.nir_extension import (
    EXTENSION_KEY,
    VERSION_KEY,
    ExtensionCodec,
    add_delay,
    chain_edges,
    first_difference,
    meta_integer,
    meta_number,
    meta_text,
)
from spikeport.export.nir_io import float64_array, neuron_metadata
from spikeport.train.layers.associative_memory import (
    HebbianAssociativeMemory,
    MemoryConfig,
    Normalization,
    SubjectId,
)

__all__ = ["MEMORY_CODEC", "MEMORY_EXTENSION", "MEMORY_VERSION", "decode_subject", "encode_subject", "memory_to_nir"]

MEMORY_EXTENSION = "hebbian_associative_memory"
"""The extension name of a memory block."""
MEMORY_VERSION = 1
"""The layout version `memory_to_nir` writes."""
MEMORY_SEMANTICS = (
    "Per-subject Hebbian associative memory (ISAM-MTL head, arXiv:2501.18089; rule and readout are spikeport's "
    "choice): learning W_s += eta * onehot(y)^T c with c the latent spike counts of a sample; readout scores = "
    "c @ W~_s^T (W~ row-normalized if normalization == 'rows'), class = argmax. The standard nodes hold W~ of the "
    "selected subject, frozen. Exact rule: spikeport.train.layers.associative_memory."
)
MEMORY_READOUT = (
    "argmax of the accumulator's v at the last step, after the sample's T steps followed by synaptic_delay_steps "
    "steps without input (ties to the lowest index): v then equals the counts of all T steps @ W~^T"
)


def encode_subject(subject: SubjectId) -> str:
    """A subject key as a metadata string: "str:NAME" or "int:7" (keeps the key's type through HDF5)."""
    if isinstance(subject, bool) or not isinstance(subject, str | int):
        raise ValueError(f"a subject key must be a str or an int, got {subject!r}")
    return f"{'int' if isinstance(subject, int) else 'str'}:{subject}"


def decode_subject(text: Any) -> SubjectId:
    """The subject key written by `encode_subject`."""
    text = meta_text(text)
    kind, sep, value = text.partition(":")
    if sep and kind == "str" and value:
        return value
    if sep and kind == "int":
        try:
            return int(value)
        except ValueError:
            pass
    raise IRValidationError(f"subject key {text!r} is not 'str:NAME' or 'int:NUMBER'")


def _readout_weight(memory: HebbianAssociativeMemory, subject: SubjectId) -> torch.Tensor:
    """The weights `memory.scores` multiplies the counts with for `subject` (n_classes, n_latent)."""
    eye = torch.eye(memory.config.n_latent)
    return memory.scores(eye, subject).T  # scores(I) = I @ W~^T = W~^T, computed exactly as scores() does


def memory_to_nir(
    memory: HebbianAssociativeMemory, subject: SubjectId, *, dt: float, synaptic_delay_steps: int = 1
) -> nir.NIRGraph:
    """The associative memory as an extension block whose standard nodes are `subject`'s readout.

    Standard nodes: input (n_latent) -> readout (Linear, the subject's weights as `memory.scores` uses them:
    row-normalized with `Normalization.ROWS`) -> readout_delay (Delay of d * dt, none for d = 0) -> accumulator
    (IF, r = 1, v_threshold = +inf, v_reset = 0: it never spikes and v sums its input) -> output. Run for a
    sample's T steps followed by d steps without input, v at the last step equals counts @ W~^T = `memory.scores`,
    so its argmax is `memory.predict` (`MEMORY_READOUT`). The metadata holds the learning rule and *all*
    subjects' raw memories, so the plastic state round-trips (`memory_from_nir`).

    Args:
        memory: The memory.
        subject: The subject whose readout the standard nodes carry (str or int key).
        dt: Simulation step in seconds (NIR's delays are in seconds).
        synaptic_delay_steps: d, the delay of the readout connection in steps (Loihi's Dense: 1).

    Raises:
        ValueError: On an unknown subject, a non-positive dt or a negative delay.
    """
    if not (math.isfinite(dt) and dt > 0):
        raise ValueError(f"memory_to_nir: dt must be positive and finite, got {dt}")
    if isinstance(synaptic_delay_steps, bool) or not isinstance(synaptic_delay_steps, int) or synaptic_delay_steps < 0:
        raise ValueError(f"memory_to_nir: synaptic_delay_steps must be an int >= 0, got {synaptic_delay_steps!r}")
    cfg = memory.config
    weight = float64_array(_readout_weight(memory, subject))  # raises on an unknown subject
    k, d = cfg.n_classes, synaptic_delay_steps
    nodes: dict[str, nir.NIRNode] = {
        "input": nir.Input(input_type={"input": np.array([cfg.n_latent])}),
        "readout": nir.Linear(weight=weight),
    }
    add_delay(nodes, "readout_delay", d, k, dt)
    nodes["accumulator"] = nir.IF(
        r=np.ones(k), v_threshold=np.full(k, np.inf), v_reset=np.zeros(k), metadata=neuron_metadata(dt)
    )
    nodes["output"] = nir.Output(output_type={"output": np.array([k])})
    edges: list[tuple[str, str]] = []
    chain_edges(nodes, edges, ["input", "readout", "readout_delay", "accumulator", "output"])
    memories = {
        str(i): {"subject": encode_subject(s), "weight": float64_array(w)}
        for i, (s, w) in enumerate(memory.memories().items())
    }
    metadata = {
        EXTENSION_KEY: MEMORY_EXTENSION,
        VERSION_KEY: MEMORY_VERSION,
        "n_latent": int(cfg.n_latent),
        "n_classes": int(k),
        **memory.rule_params(),
        "update": "W_s += eta * onehot(y)^T @ c, once per sample",
        "pre": "latent spike counts over the sample",
        "post": "teacher: one-hot label spikes",
        "subject": encode_subject(subject),
        "memories": memories,
        "dt": float(dt),
        "synaptic_delay_steps": int(d),
        "readout_rule": MEMORY_READOUT,
        "semantics": MEMORY_SEMANTICS,
    }
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata, type_check=False)


def _decode(block: nir.NIRGraph, meta: dict, name: str) -> HebbianAssociativeMemory:
    """A `HebbianAssociativeMemory` (config and every subject's memory, in order) from a checked memory block.

    The standard nodes must equal what the restored memory exports for the recorded subject (the readout weights
    up to float32 rounding), so an edited standard view cannot disagree with the plastic state.

    Raises:
        IRValidationError: If the metadata is incomplete or invalid, or a node differs from what the metadata
            gives (naming the node).
    """
    rule = meta_text(meta.get("rule", ""))
    if rule != HebbianAssociativeMemory.RULE:
        raise IRValidationError(
            f"NIR extension block {name!r}: learning rule {rule!r} is not spikeport's {HebbianAssociativeMemory.RULE!r}"
        )
    normalization = meta_text(meta.get("normalization", ""))
    try:
        config = MemoryConfig(
            n_latent=meta_integer(name, meta, "n_latent"),
            n_classes=meta_integer(name, meta, "n_classes"),
            eta=meta_number(name, meta, "eta"),
            normalization=Normalization(normalization),
        )
    except ValueError as exc:
        if isinstance(exc, IRValidationError):
            raise
        raise IRValidationError(f"NIR extension block {name!r}: invalid parameters ({exc})") from exc
    stored = meta.get("memories")
    if not isinstance(stored, dict) or not stored:
        raise IRValidationError(f"NIR extension block {name!r}: metadata 'memories' holds no subject")
    memories: dict[SubjectId, torch.Tensor] = {}
    try:
        order = sorted(stored, key=int)
    except ValueError:
        raise IRValidationError(f"NIR extension block {name!r}: 'memories' keys must be '0', '1', ...") from None
    for key in order:
        entry = stored[key]
        if not isinstance(entry, dict) or "subject" not in entry or "weight" not in entry:
            raise IRValidationError(f"NIR extension block {name!r}: memories[{key!r}] needs 'subject' and 'weight'")
        memories[decode_subject(entry["subject"])] = torch.as_tensor(np.asarray(entry["weight"], dtype=np.float64))
    memory = HebbianAssociativeMemory(config)
    try:
        memory.load_memories(memories)
    except ValueError as exc:
        raise IRValidationError(f"NIR extension block {name!r}: {exc}") from exc
    subject = decode_subject(meta.get("subject", ""))
    if subject not in memories:
        raise IRValidationError(f"NIR extension block {name!r}: selected subject {subject!r} has no stored memory")
    dt, delay = meta_number(name, meta, "dt"), meta_integer(name, meta, "synaptic_delay_steps")
    rebuilt = memory_to_nir(memory, subject, dt=dt, synaptic_delay_steps=delay)
    differs = first_difference(block, rebuilt, rtol=1e-6)
    if differs is not None:
        raise IRValidationError(
            f"NIR extension block {name!r}: {differs!r} differs from what its recorded memories give (see "
            f"memory_to_nir); the standard nodes and the {MEMORY_EXTENSION!r} metadata disagree"
        )
    return memory


MEMORY_CODEC = ExtensionCodec(MEMORY_EXTENSION, versions=(MEMORY_VERSION,), decode=_decode)
"""Rebuilds a `HebbianAssociativeMemory` (every subject's memory) from its block."""
