"""Trainable spiking layers beyond the decoder: spike-driven attention and a per-subject Hebbian memory.

Both keep Loihi's timing and expose plain attributes, a frozen config and their exact discrete update, so that
`spikeport.export` can describe them in NIR.
"""

from spikeport.train.layers.associative_memory import (
    HebbianAssociativeMemory,
    MemoryConfig,
    Normalization,
    SubjectId,
)
from spikeport.train.layers.attention import (
    AttentionConfig,
    AttentionOutput,
    ReparamLinear,
    SpikeDrivenAttention,
    attention_accumulates,
)
from spikeport.train.layers.delay import delayed, threshold_unit

__all__ = [
    "AttentionConfig",
    "AttentionOutput",
    "HebbianAssociativeMemory",
    "MemoryConfig",
    "Normalization",
    "ReparamLinear",
    "SpikeDrivenAttention",
    "SubjectId",
    "attention_accumulates",
    "delayed",
    "threshold_unit",
]
