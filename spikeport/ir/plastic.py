"""A plastic connection: dense synapses whose weights a Loihi-2 learning rule changes on chip (Lava `LearningDense`).

The node holds what the chip is configured with: the initial weight mantissas, the rule string `dw` (a parsed
subset of Lava's `Loihi2FLearningRule` syntax, below), the trace impulses and time constants, the epoch length
and the seed of the trace random generators. Teacher (back-propagating) spikes, which Lava takes on `s_in_bap`,
come from channels of the graph's input: post-synaptic neuron i sees input channel `teacher_offset + i` of the
same step (`teacher_offset = -1`: no teacher, `s_in_bap` stays silent). Those channels also reach every other
connection from the input, so such connections should hold zero weights there.

Rule subset (every string is checked here, so the reference and Lava read the same products):
    dw      := term (('+' | '-') term)*
    term    := ['-'] item ('*' item)*
    item    := integer | '2^' [+-] integer | 'x0' | 'y0' | 'u' digit | 'x1' | 'x2' | 'y1' | 'y2' | 'y3'
Each term's literals multiply into one rate `m * 2**e`, normalized as Lava does (halve an even |m| > 7 while
e < 8) and then required in m in [-8, 7], e in [-7, 8]. The first of x0 / y0 / uK in a term is its trigger
(x0: the pre-synaptic neuron spiked in the epoch, y0: the post-synaptic one did, uK: every 2**K-th epoch); a
later x0 or y0 is a 1-bit factor. At most three trace factors per term keep Lava's int32 products exact.
Sources: lava-nc 0.10.0 `magma/core/learning/product_series.py` (`_generate_product`), `symbolic_equation.py`
(`Literal`, `Uk`), `constants.py` (widths).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from spikeport.errors import IRValidationError
from spikeport.ir.formats import LOIHI_FORMATS, NumberFormats
from spikeport.ir.kinds import Role
from spikeport.ir.nodes import Node, _check_range, _coerce_ints, _int_array, register_node

TRACES = ("x1", "x2", "y1", "y2", "y3")
DEPENDENCIES = ("x0", "y0", "u")
FACTOR_WIDTH = {"x0": 1, "y0": 1, "x1": 7, "x2": 7, "y1": 7, "y2": 7, "y3": 7}
"""Bits of each factor (lava `constants.FACTOR_TO_WIDTH_DICT`: W_TRACE = 7, dependencies 1)."""
RATE_MANTISSA_BITS = 4  # lava constants.W_S_MANT
ACCUMULATOR_BITS = 15  # lava constants.W_ACCUMULATOR_U: products are shifted back to 15 bits
TRACE_MAX = 2**7 - 1  # lava constants.W_TRACE = 7
EPOCH_MAX = 2**6 - 1  # lava constants.W_EPOCH_TIME = 6: within-epoch spike times are 6-bit on Loihi 2
TAU_MAX = 2**16 - 1
WEIGHT_RANGE = (-255, 255)
"""Initial weights: 8-bit mixed-sign mantissas (Lava's learning model always uses sign mode MIXED and clips
learned weights to [-256, 255]; -256 is left out so that spikeport's sign-mode rules never call it clipped)."""
MAX_TRACE_FACTORS = 3
SEED_MAX = 2**31 - 5  # Lava seeds its four trace generators with rng_seed .. rng_seed + 3

_TOKEN = re.compile(r"\s*(?:(?P<op>[+\-*])|(?P<pow>2\^[+\-]?\d+)|(?P<int>\d+)|(?P<sym>[xyu]\d))")


@dataclass(frozen=True)
class RuleProduct:
    """One term of a rule: `mantissa * 2**exponent * dependency * factors...`, as Lava's `Product` holds it."""

    mantissa: int
    exponent: int
    """Lava stores `exponent + 7` as `s_exp`; this is the rate's own exponent, in [-7, 8]."""
    dependency: str
    """'x0', 'y0' or 'u' (the trigger)."""
    factors: tuple[str, ...]
    decimate: int | None = None
    """K of a uK trigger (the product applies in epochs whose index is a multiple of 2**K), else None."""

    @property
    def shift(self) -> int:
        """Right shift Lava applies to the product before scaling: bits beyond the 15-bit accumulator."""
        width = sum(FACTOR_WIDTH[f] for f in self.factors) + RATE_MANTISSA_BITS
        return max(0, width - ACCUMULATOR_BITS)

    @property
    def rate(self) -> float:
        return self.mantissa * 2.0**self.exponent

    def lava_term(self) -> str:
        """This term in Lava's syntax, magnitude only (the sign goes into the joining operator)."""
        trigger = self.dependency if self.decimate is None else f"u{self.decimate}"
        return "*".join([f"{abs(self.mantissa)}*2^{self.exponent}", trigger, *self.factors])


def _bad(field: str, dw: str, what: str) -> IRValidationError:
    return IRValidationError(f"{field} {dw!r}: {what}; see the rule subset in spikeport/ir/plastic.py")


def _tokens(dw: str, field: str) -> list[tuple[str, str]]:
    out, pos, text = [], 0, dw.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise _bad(field, dw, f"cannot read {text[pos:]!r}")
        kind = match.lastgroup
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


def _normalize(mantissa: int, exponent: int) -> tuple[int, int]:
    """Lava's normalization (`ProductSeries._generate_product`)."""
    while abs(mantissa) > 7 and mantissa % 2 == 0 and exponent < 8:
        mantissa, exponent = mantissa // 2, exponent + 1
    return mantissa, exponent


def _product(items: list[tuple[str, str]], sign: int, dw: str, field: str) -> RuleProduct:
    mantissa, exponent, dependency, decimate, factors = sign, 0, None, None, []
    for kind, text in items:
        if kind == "int":
            mantissa *= int(text)
        elif kind == "pow":
            exponent += int(text[2:])
        elif text[0] == "u":
            if dependency is not None:
                raise _bad(field, dw, f"{text} must be a term's first trigger (Lava ignores it after {dependency})")
            dependency, decimate = "u", int(text[1:])
        elif text in ("x0", "y0") and dependency is None:
            dependency = text
        elif text in FACTOR_WIDTH:
            factors.append(text)
        else:
            raise _bad(field, dw, f"unknown factor {text!r} (use x0, y0, uK, x1, x2, y1, y2, y3)")
    if dependency is None:
        raise _bad(field, dw, "every term needs a trigger x0, y0 or uK")
    if mantissa == 0:
        raise _bad(field, dw, "a term has rate 0")
    mantissa, exponent = _normalize(mantissa, exponent)
    if not -8 <= mantissa <= 7 or not -7 <= exponent <= 8:
        raise _bad(field, dw, f"rate {mantissa}*2^{exponent} is not m*2^e with m in [-8, 7], e in [-7, 8]")
    if sum(f in TRACES for f in factors) > MAX_TRACE_FACTORS:
        raise _bad(field, dw, f"at most {MAX_TRACE_FACTORS} trace factors per term")
    return RuleProduct(mantissa, exponent, dependency, tuple(factors), decimate)


def parse_rule(dw: str, field: str = "dw") -> tuple[RuleProduct, ...]:
    """Parse a rule string of the documented subset into its products (raises `IRValidationError` naming `field`)."""
    if not isinstance(dw, str) or not dw.strip():
        raise IRValidationError(f"{field} must be a non-empty learning-rule string such as 'x0 * y0', got {dw!r}")
    tokens = _tokens(dw, field)
    products, sign, items, expect_item = [], 1, [], True
    for index, (kind, text) in enumerate(tokens):
        if kind == "op" and text in "+-":
            if expect_item and index:
                raise _bad(field, dw, f"unexpected {text!r}")
            if not expect_item:
                products.append(_product(items, sign, dw, field))
                items, expect_item = [], True
            sign = -1 if text == "-" else 1
        elif kind == "op":  # '*'
            if expect_item:
                raise _bad(field, dw, "'*' needs a factor on both sides")
            expect_item = True
        else:
            if not expect_item:
                raise _bad(field, dw, f"missing operator before {text!r}")
            items.append((kind, text))
            expect_item = False
    if expect_item:
        raise _bad(field, dw, "the rule ends with an operator")
    products.append(_product(items, sign, dw, field))
    decimates = {p.decimate for p in products if p.decimate is not None}
    if len(decimates) > 1:
        raise _bad(field, dw, f"all uK triggers must share one K (Lava allows one), got {sorted(decimates)}")
    return tuple(products)


def lava_rule(products: tuple[RuleProduct, ...]) -> str:
    """The rule in Lava's syntax, written from the parsed products so both backends read the same terms."""
    text = ""
    for i, product in enumerate(products):
        if i == 0:
            text = ("-" if product.mantissa < 0 else "") + product.lava_term()
        else:
            text += (" - " if product.mantissa < 0 else " + ") + product.lava_term()
    return text


_TRACE_FIELDS = tuple(f"{trace}_{what}" for trace in TRACES for what in ("impulse", "tau"))


@register_node
@dataclass(frozen=True, kw_only=True)
class PlasticDenseInt(Node):
    """All-to-all synapses learned on chip by a Loihi-2 two-factor rule (Lava `LearningDense`, `fixed_pt`).

    Spikes cross it like a binary `DenseInt` (sign mode MIXED: the initial weights lose their lowest bit on the
    first step); at the end of every epoch (global steps that are multiples of `t_epoch`) the weights change by
    the rule. `docs/fixed-point.md` ("On-chip learning") gives the arithmetic.
    """

    kind: ClassVar[str] = "plastic_dense_int"
    role: ClassVar[Role] = Role.CONNECTION
    weights: np.ndarray
    """int, shape (n_out, n_in): initial 8-bit mantissas in [-255, 255]."""
    dw: str
    """The weight rule, e.g. 'x0 * y0' or '2^-2 * y0 * x1 - 2^-3 * x0 * y1' (subset: module docstring)."""
    weight_exp: int = 0
    x1_impulse: int = 0
    x1_tau: int = 0
    x2_impulse: int = 0
    x2_tau: int = 0
    y1_impulse: int = 0
    y1_tau: int = 0
    y2_impulse: int = 0
    y2_tau: int = 0
    y3_impulse: int = 0
    y3_tau: int = 0
    """Trace impulses (added per spike, 7-bit traces saturate at 127) and decay constants (trace *= exp(-1/tau)
    per step with stochastic rounding; tau = 0: the trace keeps no memory between steps)."""
    t_epoch: int = 1
    """Steps per learning epoch, 1..63; the update happens at the end of every global step t with t % t_epoch == 0."""
    rng_seed: int = 0
    """Seed of the trace rounding generators (Lava uses rng_seed .. rng_seed + 3); weight rounding uses seed 2."""
    teacher_offset: int = -1
    """Input channel of post-synaptic neuron 0's teacher spikes (neuron i: channel teacher_offset + i); -1: none."""

    def __post_init__(self) -> None:
        _coerce_ints(self, "weight_exp", *_TRACE_FIELDS, "t_epoch", "rng_seed", "teacher_offset")
        object.__setattr__(self, "weights", _int_array("weights", self.name, self.weights, 2))
        if not isinstance(self.dw, str):
            raise IRValidationError(f"node {self.name!r}: dw must be a rule string, got {type(self.dw).__name__}")
        self.products  # noqa: B018 - parse now, so a bad rule fails at construction
        self.check_formats(LOIHI_FORMATS)

    @property
    def products(self) -> tuple[RuleProduct, ...]:
        """The parsed rule."""
        return parse_rule(self.dw, f"node {self.name!r}: dw")

    def lava_dw(self) -> str:
        return lava_rule(self.products)

    def check_formats(self, formats: NumberFormats) -> None:
        """Weights, weight_exp, trace registers, epoch length, seed and teacher offset."""
        _check_range(self.name, "weights", self.weights, *WEIGHT_RANGE, "plastic weights are 8-bit mixed-sign")
        _check_range(self.name, "weight_exp", self.weight_exp, *formats.weight_exp_range)
        for name in _TRACE_FIELDS:
            high = TRACE_MAX if name.endswith("impulse") else TAU_MAX
            _check_range(self.name, name, getattr(self, name), 0, high)
        _check_range(self.name, "t_epoch", self.t_epoch, 1, EPOCH_MAX, "Loihi 2 counts epoch time in 6 bits")
        _check_range(self.name, "rng_seed", self.rng_seed, 0, SEED_MAX)
        _check_range(self.name, "teacher_offset", self.teacher_offset, -1, 2**31 - 1, "-1 means no teacher")

    def trace_params(self) -> dict[str, int]:
        """The ten impulse/tau registers by name."""
        return {name: getattr(self, name) for name in _TRACE_FIELDS}

    @property
    def in_size(self) -> int:
        return int(self.weights.shape[1])

    @property
    def out_size(self) -> int:
        return int(self.weights.shape[0])

    @property
    def num_message_bits(self) -> int:
        """Plastic synapses take binary spikes only."""
        return 0

    @property
    def num_weight_bits(self) -> int:
        return 8

    @property
    def delays(self) -> None:
        return None


__all__ = ["PlasticDenseInt", "RuleProduct", "lava_rule", "parse_rule"]
