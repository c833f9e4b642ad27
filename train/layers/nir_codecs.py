"""spikeport's NIR extension codecs, in one read-only registry, and the functions that rebuild modules with them.

`EXTENSIONS` maps each extension name spikeport can rebuild to its codec (`spikeport.export.nir_extension` holds
the envelope the codecs share). A block whose extension or version is not in it still imports as standard nodes
through `parse_nir`; rebuilding it raises `IRValidationError` naming the block and the supported extensions.
"""

from __future__ import annotations

import nir
import torch

from spikeport.export.nir_extension import ExtensionRegistry
from spikeport.train.layers.associative_memory import HebbianAssociativeMemory, SubjectId
from spikeport.train.layers.attention import SpikeDrivenAttention
from spikeport.train.layers.attention_nir import ATTENTION_CODEC, ATTENTION_EXTENSION
from spikeport.train.layers.memory_nir import MEMORY_CODEC, MEMORY_EXTENSION, decode_subject

__all__ = ["EXTENSIONS", "attention_from_nir", "extension_from_nir", "memory_from_nir", "memory_subject"]

EXTENSIONS = ExtensionRegistry((ATTENTION_CODEC, MEMORY_CODEC))
"""Extension name -> codec, for every extension spikeport can rebuild."""


def attention_from_nir(
    block: nir.NIRGraph, *, name: str = "attention", dtype: torch.dtype | None = None
) -> SpikeDrivenAttention:
    """Rebuild a (folded, eval-mode) `SpikeDrivenAttention` from a block written by `attention_to_nir`.

    The configuration comes from the metadata, the projections from the diagonal blocks of the kron(I_N, W)
    matrices. The block must then be exactly what the rebuilt module exports (up to float32 rounding when
    `dtype` is float32), so a standard view edited by hand cannot silently disagree with the extension view.

    Args:
        block: The extension block (a nested `nir.NIRGraph` node, e.g. from `read_nir`).
        name: The block's name, used in error messages.
        dtype: dtype of the rebuilt module's parameters (default torch.float32).

    Raises:
        IRValidationError: If the block is not a supported attention block, a projection is not kron(I_N, W)
            (naming the node), or any node differs from what the recorded parameters give (naming the node).
    """
    return EXTENSIONS.rebuild(block, name=name, expected=ATTENTION_EXTENSION, dtype=dtype)


def memory_from_nir(block: nir.NIRGraph, *, name: str = "memory") -> HebbianAssociativeMemory:
    """Rebuild a `HebbianAssociativeMemory` (config and every subject's memory, in order) from its block.

    The standard nodes must equal what the restored memory exports for the recorded subject (the readout weights
    up to float32 rounding), so an edited standard view cannot disagree with the plastic state.

    Args:
        block: The extension block written by `memory_to_nir`.
        name: The block's name, used in error messages.

    Raises:
        IRValidationError: If the block is not a supported memory block, its metadata is incomplete or invalid,
            or a node differs from what the metadata gives (naming the node).
    """
    return EXTENSIONS.rebuild(block, name=name, expected=MEMORY_EXTENSION)


def memory_subject(block: nir.NIRGraph, *, name: str = "memory") -> SubjectId:
    """The subject whose readout a memory block's standard nodes carry.

    Raises:
        IRValidationError: If the block is not a supported memory block or its subject key is malformed.
    """
    meta = EXTENSIONS.check_block(block, MEMORY_EXTENSION, name)
    return decode_subject(meta.get("subject", ""))


def extension_from_nir(block: nir.NIRGraph, *, name: str = "block") -> SpikeDrivenAttention | HebbianAssociativeMemory:
    """Rebuild the torch module of any supported extension block (dispatch on its metadata).

    Raises:
        IRValidationError: If the block is no extension block, or its extension or version is unknown (the
            message names the block and the supported extensions).
    """
    return EXTENSIONS.rebuild(block, name=name)
