"""Node types of the integer deploy graph: a network as a Loihi-class chip holds it.

Every node is an immutable dataclass of chip register values. Array fields are stored read-only with an explicit
integer dtype. Nodes carry no behaviour beyond validating themselves; the reference simulator, the Lava builder,
the op counter and the report all read the same fields. A node checks its structure (dtypes, shapes, sizes) and,
with `check_formats`, its register ranges: on construction against the Loihi formats (`LOIHI_FORMATS`, which
both chip files describe), and again in `DeployGraph` against the graph's own `formats`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import ClassVar, NamedTuple

import numpy as np

from spikeport.errors import IRValidationError
from spikeport.ir.formats import LOIHI_FORMATS, NumberFormats, sign_mode
from spikeport.ir.kinds import Role

NODE_TYPES: dict[str, type[Node]] = {}

MAX_MESSAGE_BITS = 24
"""Largest graded-spike payload, bits: Lava's `Dense(num_message_bits=)` range, Loihi 2's 24-bit graded spikes
(Intel, "Taking Neuromorphic Computing to the Next Level with Loihi 2", technology brief, 2021)."""


def register_node(cls: type[Node]) -> type[Node]:
    """Class decorator: make a node type known under its stable `kind` string.

    The graph checks structure by the class's `role`, and every consumer's `KindTable` must then say how it
    handles the new kind (tests/ir/test_node_kind_tables.py fails until each one does).

    Raises:
        IRValidationError: the kind is empty or already registered, or the class declares no `Role`.
    """
    kind = getattr(cls, "kind", "")
    if not kind:
        raise IRValidationError(f"node class {cls.__name__} has no `kind`; give it `kind: ClassVar[str] = '...'`")
    if kind in NODE_TYPES:
        raise IRValidationError(
            f"node kind {kind!r} of {cls.__name__} is already registered by {NODE_TYPES[kind].__name__}; "
            "choose another kind string"
        )
    if not isinstance(getattr(cls, "role", None), Role):
        raise IRValidationError(
            f"node class {cls.__name__} (kind {kind!r}) declares no role; give it `role: ClassVar[Role]` "
            "(SOURCE, CONNECTION or POPULATION)"
        )
    NODE_TYPES[kind] = cls
    return cls


def _int_array(name: str, node: str, value: object, ndim: int) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype.kind == "f":
        if not np.all(np.isfinite(array)):
            raise IRValidationError(f"node {node!r}: {name} contains NaN or infinite values")
        if not np.array_equal(array, np.round(array)):
            raise IRValidationError(f"node {node!r}: {name} must hold integers, got fractional values")
    elif array.dtype.kind not in "iub":
        raise IRValidationError(f"node {node!r}: {name} must be an integer array, got dtype {array.dtype}")
    if array.ndim != ndim:
        raise IRValidationError(f"node {node!r}: {name} must have {ndim} dimensions, got shape {array.shape}")
    out = np.array(array, dtype=np.int64, copy=True)
    out.setflags(write=False)
    return out


def _coerce_ints(node: Node, *names: str) -> None:
    """Store integer scalar fields as Python ints (files and Lava need exact ints, not numpy or float)."""
    for name in names:
        value = getattr(node, name)
        if isinstance(value, float | np.floating) and (not np.isfinite(value) or value != int(value)):
            raise IRValidationError(f"node {node.name!r}: {name} must be an integer, got {value!r}")
        object.__setattr__(node, name, int(value))


def _check_range(node: str, name: str, value: int | np.ndarray, low: int, high: int, hint: str = "") -> None:
    lo, hi = int(np.min(value)), int(np.max(value))
    if lo < low or hi > high:
        raise IRValidationError(
            f"node {node!r}: {name} must lie in [{low}, {high}], got [{lo}, {hi}]" + (f"; {hint}" if hint else "")
        )


class DecayGroup(NamedTuple):
    """Neurons of a multi-timescale population that share one (du, dv) pair (`LIFInt.decay_groups`)."""

    du: int
    dv: int
    neurons: np.ndarray
    """int, ascending indices into the population."""


def _coerce_decays(node: LIFInt) -> None:
    """du and dv as Python ints, or as read-only int arrays of shape (size,) when they differ between neurons."""
    for name in ("du", "dv"):
        value = getattr(node, name)
        if np.ndim(value) == 0:
            _coerce_ints(node, name)
            continue
        array = _int_array(name, node.name, value, 1)
        if array.shape != (node.size,):
            raise IRValidationError(
                f"node {node.name!r}: {name} must be an int or have shape ({node.size},), got {array.shape}"
            )
        object.__setattr__(node, name, int(array[0]) if array.size and np.all(array == array[0]) else array)


@dataclass(frozen=True, kw_only=True)
class Node:
    """Base class: a named node with a stable `kind` used in files."""

    kind: ClassVar[str] = ""
    role: ClassVar[Role]
    name: str

    def check_formats(self, formats: NumberFormats) -> None:
        """Raise IRValidationError if a register value lies outside `formats` (a node without registers passes)."""

    def array_fields(self) -> dict[str, np.ndarray]:
        """The node's array-valued fields by name."""
        return {f.name: getattr(self, f.name) for f in fields(self) if isinstance(getattr(self, f.name), np.ndarray)}

    def scalar_fields(self) -> dict[str, object]:
        """The node's scalar fields by name (the name included)."""
        return {
            f.name: getattr(self, f.name) for f in fields(self) if not isinstance(getattr(self, f.name), np.ndarray)
        }


@register_node
@dataclass(frozen=True, kw_only=True)
class SpikeInput(Node):
    """The network's input: one spike (or graded payload) vector per time step, fed by the host."""

    kind: ClassVar[str] = "spike_input"
    role: ClassVar[Role] = Role.SOURCE
    size: int
    num_message_bits: int = 0
    """0 for binary spikes; otherwise the payload width of graded spikes (Loihi 2)."""

    def __post_init__(self) -> None:
        _coerce_ints(self, "size", "num_message_bits")
        if self.size <= 0:
            raise IRValidationError(f"node {self.name!r}: size must be positive, got {self.size}")
        _check_range(self.name, "num_message_bits", self.num_message_bits, 0, MAX_MESSAGE_BITS)

    @property
    def out_size(self) -> int:
        return self.size


@register_node
@dataclass(frozen=True, kw_only=True)
class DenseInt(Node):
    """All-to-all integer synapses (Lava `Dense`, or `DelayDense` when `delays` is given).

    The effective weight in units of the target's `v` is ``weights * 2**(6 + weight_exp)``.
    """

    kind: ClassVar[str] = "dense_int"
    role: ClassVar[Role] = Role.CONNECTION
    weights: np.ndarray
    """int, shape (n_out, n_in): 8-bit mantissas; Lava clips and truncates them by sign mode on the first step."""
    weight_exp: int = 0
    """Shift applied to each step's accumulated input, in the formats' weight_exp range ([-8, 7])."""
    num_weight_bits: int = 8
    """Weight precision 1..8 (the formats' num_weight_bits range); lower precisions truncate the lowest bits."""
    num_message_bits: int = 0
    """0: binary spikes (any non-zero input counts as 1); >0: graded payloads multiply the weights."""
    delays: np.ndarray | None = None
    """int, shape (n_out, n_in), 0..63 steps added to the one-step synaptic delay; None for plain Dense."""

    def __post_init__(self) -> None:
        _coerce_ints(self, "weight_exp", "num_weight_bits", "num_message_bits")
        object.__setattr__(self, "weights", _int_array("weights", self.name, self.weights, 2))
        # Lava clips weights to 8 bits itself; beyond int32 they would wrap before it sees them.
        _check_range(self.name, "weights", self.weights, -(2**31), 2**31 - 1, "weights beyond int32 cannot reach Lava")
        if self.delays is not None:
            object.__setattr__(self, "delays", _int_array("delays", self.name, self.delays, 2))
            if self.delays.shape != self.weights.shape:
                raise IRValidationError(
                    f"node {self.name!r}: delays shape {self.delays.shape} differs from weights "
                    f"shape {self.weights.shape}"
                )
        _check_range(self.name, "num_message_bits", self.num_message_bits, 0, MAX_MESSAGE_BITS)
        self.check_formats(LOIHI_FORMATS)

    def check_formats(self, formats: NumberFormats) -> None:
        """Delays, weight_exp, num_weight_bits and the weights' sign mode against `formats`."""
        if self.delays is not None:
            _check_range(self.name, "delays", self.delays, 0, formats.delay_max)
        _check_range(self.name, "weight_exp", self.weight_exp, *formats.weight_exp_range)
        _check_range(self.name, "num_weight_bits", self.num_weight_bits, *formats.num_weight_bits_range)
        mode = sign_mode(self.weights)
        if mode not in formats.sign_modes:
            raise IRValidationError(
                f"node {self.name!r}: weights have sign mode {mode.value!r}, which the chip does not support "
                f"({[m.value for m in formats.sign_modes]}); split the synapse by sign"
            )

    @property
    def in_size(self) -> int:
        return int(self.weights.shape[1])

    @property
    def out_size(self) -> int:
        return int(self.weights.shape[0])

    @property
    def max_delay(self) -> int:
        return 0 if self.delays is None else int(self.delays.max(initial=0))


@register_node
@dataclass(frozen=True, kw_only=True)
class LIFInt(Node):
    """A population of Loihi current-based LIF neurons (Lava `LIF`, `fixed_pt`).

    Continuous form: tau_syn du/dt = -u + input, tau_mem dv/dt = -v + u + bias, spike and v <- 0 when v > vth.
    Integer update per step (exact; see docs/fixed-point.md):
        u <- trunc(u * (4096 - (du + 1)) / 2**12) + (a << 6), wrapped once into the 24-bit range
        v <- clip(trunc(v * (4096 - dv) / 2**12) + u + (bias_mant << bias_exp), +-(2**23 - 1))
        spike = v > vth << 6; v[spike] <- 0
    """

    kind: ClassVar[str] = "lif_int"
    role: ClassVar[Role] = Role.POPULATION
    size: int
    du: int | np.ndarray
    """Current decay, 12-bit; Lava adds 1 (du=-1: no leak, du=4095: memoryless). An int array of shape (size,)
    gives each neuron its own decay (multi-timescale populations): Loihi runs such a population as one LIF
    process per `decay_groups()` entry (uniform arrays are stored as the int)."""
    dv: int | np.ndarray
    """Voltage decay, 12-bit (0: no leak, 4096: memoryless); an int or a per-neuron int array, as `du`."""
    vth: int
    """Threshold mantissa, unsigned 17-bit; the threshold on v is vth << 6."""
    bias_mant: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """int, shape (size,): signed 13-bit bias mantissa per neuron (an empty array means all zero)."""
    bias_exp: int = 0
    """Bias exponent; the bias added to v each step is bias_mant << bias_exp (>> when negative)."""

    def __post_init__(self) -> None:
        _coerce_ints(self, "size", "vth", "bias_exp")
        _coerce_decays(self)
        bias = np.zeros(self.size, dtype=np.int64) if np.size(self.bias_mant) == 0 else self.bias_mant
        object.__setattr__(self, "bias_mant", _int_array("bias_mant", self.name, bias, 1))
        if self.size <= 0:
            raise IRValidationError(f"node {self.name!r}: size must be positive, got {self.size}")
        if self.bias_mant.shape != (self.size,):
            raise IRValidationError(
                f"node {self.name!r}: bias_mant shape {self.bias_mant.shape} differs from ({self.size},)"
            )
        self.check_formats(LOIHI_FORMATS)

    def check_formats(self, formats: NumberFormats) -> None:
        """Decays, threshold and bias against `formats`."""
        _check_range(self.name, "du", self.du, *formats.du_range)
        _check_range(self.name, "dv", self.dv, *formats.dv_range)
        self._check_thresholds(formats)
        _check_range(self.name, "bias_mant", self.bias_mant, *formats.bias_mant_range)
        _check_range(self.name, "bias_exp", self.bias_exp, *formats.bias_exp_range)

    def _check_thresholds(self, formats: NumberFormats) -> None:
        _check_range(self.name, "vth", self.vth, 0, formats.vth_max, "lower the threshold scale")

    def decay_groups(self) -> tuple[DecayGroup, ...]:
        """The neurons sharing one (du, dv) pair, ordered by their first neuron: one Loihi LIF process each.

        A population with scalar decays is one group of all neurons. The reference simulator and the Lava builder
        both split by these groups (docs/fixed-point.md, "Grouping by decay").
        """
        pairs = np.stack([np.broadcast_to(self.du, (self.size,)), np.broadcast_to(self.dv, (self.size,))], axis=1)
        _, first, inverse = np.unique(pairs, axis=0, return_index=True, return_inverse=True)
        inverse = inverse.reshape(-1)
        return tuple(
            DecayGroup(int(pairs[first[g], 0]), int(pairs[first[g], 1]), np.flatnonzero(inverse == g))
            for g in np.argsort(first, kind="stable")
        )

    @property
    def in_size(self) -> int:
        return self.size

    @property
    def out_size(self) -> int:
        return self.size


@register_node
@dataclass(frozen=True, kw_only=True)
class LIFResetInt(LIFInt):
    """LIF whose u and v are zeroed before the update of every step t with t % reset_interval == reset_offset.

    Lava counts steps from 1; a sample's first step is step 1.
    """

    kind: ClassVar[str] = "lif_reset_int"
    reset_interval: int
    reset_offset: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        _coerce_ints(self, "reset_interval", "reset_offset")
        if self.reset_interval < 1:
            raise IRValidationError(f"node {self.name!r}: reset_interval must be >= 1, got {self.reset_interval}")
        _check_range(self.name, "reset_offset", self.reset_offset, 0, 2**31 - 1, "Lava rejects negative offsets")


@register_node
@dataclass(frozen=True, kw_only=True)
class TernaryLIFInt(LIFInt):
    """LIF with two thresholds: spike +1 when v > vth << 6, -1 when v < vth_lo << 6; v <- 0 where it spiked."""

    kind: ClassVar[str] = "ternary_lif_int"
    vth_lo: int

    def __post_init__(self) -> None:
        _coerce_ints(self, "vth_lo")
        super().__post_init__()

    def _check_thresholds(self, formats: NumberFormats) -> None:
        _check_range(self.name, "vth", self.vth, 0, formats.vth_max, "lower the threshold scale")
        _check_range(self.name, "vth_lo", self.vth_lo, -formats.vth_max, 0, "vth_lo must not be positive")
