"""A chip's number formats: register widths, shifts, ranges and overflow policies, in one frozen dataclass.

`NumberFormats` is what the IR range checks, the integer kernels, the quantizer and the integer training forward
read; the values come from the `[formats]` section of the chip description (`targets/chips/<chip>.toml`, parsed by
`spikeport.targets.chip`). It lives at the bottom of the dependency rule so that the deploy graph and the
simulators know a graph's formats without importing `targets`.

It also owns the one definition of the Dense weight-mantissa grid (Lava 0.10.0 `PyDenseModelBitAcc`, measured against
Lava; docs/fixed-point.md): the sign mode of a weight matrix, the clip and truncation Lava applies on the
first step (`effective_weights`), and the mantissas it keeps unchanged (`weight_grid`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import Enum

import numpy as np

from spikeport.errors import IRValidationError

DEFAULT_CHIP = "loihi"
"""The chip used when none is named (CLI `--chip`, `quantize`, `DeployGraph`): its energy figures are Loihi 1's."""


class SignMode(Enum):
    """Lava's Dense sign mode, inferred from the weights (`lava.utils.weightutils.determine_sign_mode`)."""

    EXCITATORY = "excitatory"
    """min(W) >= 0: mantissas in [0, 2**bits - 1]."""
    INHIBITORY = "inhibitory"
    """max(W) <= 0 and some weight negative: mantissas in [-(2**bits - 1), 0], truncated toward zero."""
    MIXED = "mixed"
    """Both signs: mantissas in [-2**bits, 2**bits - 1], one more low bit dropped."""


class Overflow(Enum):
    """What happens to a signed `bits`-wide value that leaves its range (half = 2**(bits - 1))."""

    WRAP = "wrap"
    """Two's-complement wrap, modulo 2**bits, into [-half, half - 1] (numpy int32 arithmetic, Lava's channels)."""
    WRAP_ONCE = "wrap_once"
    """Lava's single correction: x - 2**bits if x > half, x + 2**bits if x <= -half; not a modulo."""
    SATURATE = "saturate"
    """Clip to the symmetric range [-(half - 1), half - 1]."""


@dataclass(frozen=True, slots=True)
class WeightGrid:
    """The mantissas Lava's Dense keeps unchanged in one sign mode: multiples of `step` in [low, high]."""

    mode: SignMode
    low: int
    high: int
    step: int

    @property
    def limit(self) -> int:
        """Largest |mantissa| on the grid for each sign the mode allows (mixed: the symmetric part, +-254 at 8 bits)."""
        if self.mode is SignMode.MIXED:
            return min(-self.low, self.high)
        return self.high if self.mode is SignMode.EXCITATORY else -self.low


def sign_mode(weights: np.ndarray) -> SignMode:
    """Lava's sign mode of a weight matrix: excitatory if min >= 0, inhibitory if max <= 0, else mixed."""
    w = np.asarray(weights)
    if w.size == 0 or w.min() >= 0:
        return SignMode.EXCITATORY
    return SignMode.INHIBITORY if w.max() <= 0 else SignMode.MIXED


@dataclass(frozen=True, slots=True, kw_only=True)
class NumberFormats:
    """Integer formats of a Loihi-class chip as Lava's `fixed_pt` models implement them.

    Widths are in bits; a signed b-bit value lies in [-2**(b-1), 2**(b-1) - 1], an unsigned one in [0, 2**b - 1].
    """

    decay_bits: int
    """du and dv are fractions of 2**decay_bits (12: 4096)."""
    act_shift: int
    """Synaptic input and threshold are shifted left by this many bits relative to v (6)."""
    u_bits: int
    """Width of the signed synaptic current u (24)."""
    u_overflow: Overflow
    """Policy of u (Lava: WRAP_ONCE)."""
    v_bits: int
    """Width of the signed membrane voltage v (24)."""
    v_overflow: Overflow
    """Policy of v (Lava: SATURATE)."""
    channel_bits: int
    """Width of Lava's integer arithmetic and channels (int32: 32)."""
    channel_overflow: Overflow
    """Policy of the channels and intermediate results (WRAP)."""
    vth_mant_bits: int
    """Width of the unsigned threshold mantissa (17); the threshold on v is vth << act_shift."""
    bias_mant_bits: int
    """Width of the signed bias mantissa (13)."""
    bias_exp_min: int
    bias_exp_max: int
    """Range of the bias exponent; the bias added to v is bias_mant << bias_exp (>> when negative)."""
    weight_mant_bits: int
    """Width of the Dense weight mantissa magnitude (8); its sign is the sign mode."""
    num_weight_bits_min: int
    num_weight_bits_max: int
    """Range of a Dense's weight precision `num_weight_bits`; lower precisions drop low mantissa bits."""
    weight_exp_min: int
    weight_exp_max: int
    """Range of the Dense weight exponent, a shift of each step's accumulated input."""
    delay_max: int
    """Largest DelayDense delay in steps (added to the one-step Dense delay)."""
    sign_modes: tuple[SignMode, ...]
    """The Dense sign modes the chip supports."""

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "sign_modes", tuple(SignMode(m) for m in self.sign_modes))
        except (TypeError, ValueError) as exc:
            raise IRValidationError(f"number format 'sign_modes': {exc}") from exc
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name.endswith("_overflow"):
                try:
                    object.__setattr__(self, f.name, Overflow(value))
                except ValueError as exc:
                    raise IRValidationError(f"number format {f.name!r}: {exc}") from exc
            elif f.name != "sign_modes" and (isinstance(value, bool) or not isinstance(value, int)):
                raise IRValidationError(f"number format {f.name!r} must be an int, got {value!r}")
        self._check_widths()
        for low, high in (("bias_exp_min", "bias_exp_max"), ("weight_exp_min", "weight_exp_max")):
            if getattr(self, low) > getattr(self, high):
                raise IRValidationError(f"number formats: {low} {getattr(self, low)} exceeds {high}")
        if not 1 <= self.num_weight_bits_min <= self.num_weight_bits_max <= self.weight_mant_bits:
            raise IRValidationError(
                "number formats: need 1 <= num_weight_bits_min <= num_weight_bits_max <= weight_mant_bits, got "
                f"{self.num_weight_bits_min}, {self.num_weight_bits_max}, {self.weight_mant_bits}"
            )

    def _check_widths(self) -> None:
        """Widths the integer kernels can represent exactly: they hold integers in float64 (53-bit mantissa), and
        the largest product is a channel-wide state times a decay factor."""
        for name in ("decay_bits", "u_bits", "v_bits", "channel_bits", "vth_mant_bits", "bias_mant_bits"):
            if getattr(self, name) < 1:
                raise IRValidationError(f"number format {name!r} must be >= 1, got {getattr(self, name)}")
        for name in ("act_shift", "delay_max"):
            if getattr(self, name) < 0:
                raise IRValidationError(f"number format {name!r} must be >= 0, got {getattr(self, name)}")
        if max(self.u_bits, self.v_bits, self.vth_mant_bits + self.act_shift) > self.channel_bits:
            raise IRValidationError(
                f"number formats: u_bits {self.u_bits}, v_bits {self.v_bits} and vth_mant_bits + act_shift "
                f"{self.vth_mant_bits + self.act_shift} must fit the {self.channel_bits}-bit channels"
            )
        if self.channel_bits + self.decay_bits > 52:
            raise IRValidationError(
                f"number formats: channel_bits {self.channel_bits} + decay_bits {self.decay_bits} exceeds 52, beyond "
                "what the integer reference computes exactly"
            )

    # ------------------------------------------------------------------------------------------ derived ranges
    @property
    def decay_unity(self) -> int:
        """2**decay_bits: dv = decay_unity makes v memoryless."""
        return 1 << self.decay_bits

    @property
    def du_range(self) -> tuple[int, int]:
        """Lava decays u by (du + 1) / 2**decay_bits: du = -1 keeps u, du = 2**decay_bits - 1 forgets it."""
        return -1, self.decay_unity - 1

    @property
    def dv_range(self) -> tuple[int, int]:
        """Lava decays v by dv / 2**decay_bits: dv = 0 keeps v, dv = 2**decay_bits forgets it."""
        return 0, self.decay_unity

    @property
    def vth_max(self) -> int:
        """Largest threshold mantissa, 2**vth_mant_bits - 1."""
        return (1 << self.vth_mant_bits) - 1

    @property
    def bias_mant_range(self) -> tuple[int, int]:
        """(low, high) of the signed bias mantissa: (-4096, 4095) for 13 bits."""
        half = 1 << (self.bias_mant_bits - 1)
        return -half, half - 1

    @property
    def bias_exp_range(self) -> tuple[int, int]:
        """(bias_exp_min, bias_exp_max)."""
        return self.bias_exp_min, self.bias_exp_max

    @property
    def weight_exp_range(self) -> tuple[int, int]:
        """(weight_exp_min, weight_exp_max)."""
        return self.weight_exp_min, self.weight_exp_max

    @property
    def num_weight_bits_range(self) -> tuple[int, int]:
        """(num_weight_bits_min, num_weight_bits_max)."""
        return self.num_weight_bits_min, self.num_weight_bits_max

    # ------------------------------------------------------------------------------------ the weight grid
    def _check_weights(self, mode: SignMode, num_weight_bits: int) -> None:
        if mode not in self.sign_modes:
            supported = [m.value for m in self.sign_modes]
            raise IRValidationError(
                f"weights of sign mode {mode.value!r} are not supported by this chip (sign modes {supported}); "
                "split the synapse into excitatory and inhibitory parts"
            )
        low, high = self.num_weight_bits_range
        if not low <= num_weight_bits <= high:
            raise IRValidationError(f"num_weight_bits must lie in [{low}, {high}], got {num_weight_bits}")

    def weight_clip_range(self, mode: SignMode) -> tuple[int, int]:
        """The range Lava clips mantissas of sign mode `mode` to: mixed [-256, 255], excitatory [0, 255], ..."""
        full = 1 << self.weight_mant_bits
        if mode is SignMode.MIXED:
            return -full, full - 1
        return (0, full - 1) if mode is SignMode.EXCITATORY else (-(full - 1), 0)

    def weight_step(self, mode: SignMode, num_weight_bits: int) -> int:
        """2**nt with nt = weight_mant_bits - num_weight_bits (+1 if mixed): the low bits Lava drops."""
        self._check_weights(mode, num_weight_bits)
        return 1 << (self.weight_mant_bits - num_weight_bits + int(mode is SignMode.MIXED))

    def weight_grid(self, mode: SignMode, num_weight_bits: int) -> WeightGrid:
        """The mantissas Lava keeps unchanged in sign mode `mode`: multiples of the step within the clip range.

        Mixed at 8 bits: even values in [-256, 254]; excitatory: [0, 255]; inhibitory: [-255, 0]. A grid that
        is kept whatever sign mode a matrix ends up in is the mixed grid within +-`WeightGrid.limit`.
        """
        step = self.weight_step(mode, num_weight_bits)
        low, high = self.weight_clip_range(mode)
        return WeightGrid(mode, -(-low // step * step), high // step * step, step)

    def effective_weights(self, weights: np.ndarray, num_weight_bits: int) -> np.ndarray:
        """The weights Lava's Dense actually uses: clipped by sign mode, then `weight_step - 1` low bits dropped.

        Truncation is `(W >> nt) << nt` (floor), done on -W for inhibitory weights (toward zero). int64 result.
        """
        w = np.asarray(weights, dtype=np.int64)
        mode = sign_mode(w)
        step = self.weight_step(mode, num_weight_bits)
        if mode is SignMode.INHIBITORY:
            return -((np.clip(-w, 0, -self.weight_clip_range(mode)[0]) // step) * step)
        return (np.clip(w, *self.weight_clip_range(mode)) // step) * step

    def weights_beyond_clip(self, weights: np.ndarray) -> int:
        """How many of `weights` lie outside the clip range of their sign mode, so that Lava's Dense clips them."""
        w = np.asarray(weights, dtype=np.int64)
        low, high = self.weight_clip_range(sign_mode(w))
        return int(np.count_nonzero((w < low) | (w > high)))

    # ---------------------------------------------------------------------------------------- files
    def to_dict(self) -> dict[str, object]:
        """JSON-ready form: ints, enum values as strings, sign modes as a list."""
        out: dict[str, object] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Enum):
                value = value.value
            elif isinstance(value, tuple):
                value = [m.value for m in value]
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: object, *, where: str) -> NumberFormats:
        """Inverse of `to_dict`; unknown, missing or invalid entries raise IRValidationError naming `where`."""
        if not isinstance(data, dict):
            raise IRValidationError(f"{where}: number formats must be a mapping, got {data!r}")
        names = {f.name for f in fields(cls)}
        unknown, missing = sorted(set(data) - names), sorted(names - set(data))
        if unknown or missing:
            raise IRValidationError(f"{where}: number formats have unknown fields {unknown} and lack {missing}")
        try:
            return cls(**data)
        except (TypeError, ValueError) as exc:
            raise IRValidationError(f"{where}: invalid number formats: {exc}") from exc


LOIHI_FORMATS = NumberFormats(
    decay_bits=12,
    act_shift=6,
    u_bits=24,
    u_overflow=Overflow.WRAP_ONCE,
    v_bits=24,
    v_overflow=Overflow.SATURATE,
    channel_bits=32,
    channel_overflow=Overflow.WRAP,
    vth_mant_bits=17,
    bias_mant_bits=13,
    bias_exp_min=-8,
    bias_exp_max=7,
    weight_mant_bits=8,
    num_weight_bits_min=1,
    num_weight_bits_max=8,
    weight_exp_min=-8,
    weight_exp_max=7,
    delay_max=63,
    sign_modes=(SignMode.EXCITATORY, SignMode.INHIBITORY, SignMode.MIXED),
)
"""The formats of Loihi and Loihi 2 under Lava 0.10.0 `fixed_pt` (both chip files parse to this; a test checks)."""
