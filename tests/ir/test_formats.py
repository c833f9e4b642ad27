"""Number formats: parsed from each chip file, the weight grid against Lava's Dense, and where graphs carry them."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from helpers.graphs import one_layer
from spikeport.errors import ChipSpecError, EnergyModelError, IRValidationError
from spikeport.ir import DeployGraph, assert_graph_equal, load_deploy_graph, save_deploy_graph
from spikeport.ir.formats import DEFAULT_CHIP, LOIHI_FORMATS, NumberFormats, Overflow, SignMode, sign_mode
from spikeport.targets import ChipId, load_chip
from spikeport.targets.chip import parse_chip

DOC = Path(__file__).resolve().parents[2] / "docs" / "fixed-point.md"
HEADER = "__deploy_graph__"
BITS = range(LOIHI_FORMATS.num_weight_bits_min, LOIHI_FORMATS.num_weight_bits_max + 1)


def _text(name: str) -> str:
    return resources.files("spikeport.targets.chips").joinpath(name).read_text(encoding="utf-8")


# ---------------------------------------------------------------------------------------------------------------
# The chip files


@pytest.mark.parametrize("chip", list(ChipId), ids=lambda c: c.value)
def test_each_chip_file_parses_to_the_loihi_formats(chip: ChipId) -> None:
    formats = load_chip(chip).formats
    assert formats == LOIHI_FORMATS
    assert (formats.decay_unity, formats.act_shift, formats.vth_max) == (4096, 6, 2**17 - 1)
    assert (formats.u_bits, formats.u_overflow) == (24, Overflow.WRAP_ONCE)
    assert (formats.v_bits, formats.v_overflow) == (24, Overflow.SATURATE)
    assert (formats.channel_bits, formats.channel_overflow) == (32, Overflow.WRAP)
    assert formats.bias_mant_range == (-4096, 4095) and formats.bias_exp_range == (-8, 7)
    assert formats.weight_exp_range == (-8, 7) and formats.num_weight_bits_range == (1, 8)
    assert formats.delay_max == 63 and set(formats.sign_modes) == set(SignMode)


def test_the_default_chip_is_loihi_everywhere() -> None:
    graph = one_layer([[1]])
    assert ChipId.LOIHI.value == DEFAULT_CHIP
    assert DeployGraph(nodes=graph.nodes, edges=graph.edges, output=graph.output).chip == DEFAULT_CHIP
    assert graph.formats == load_chip(DEFAULT_CHIP).formats


def _drop_entry(text: str, key: str) -> str:
    out, count = re.subn(rf"\[formats\.{key}\]\n(?:[^\[\n][^\n]*\n)*", "", text)
    assert count == 1, key
    return out


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace("[formats.u_bits]", "[formats.u_bitz]"), r"unknown key 'formats\.u_bitz'"),
        (lambda t: t + "\n[formats.w_bits]\nvalue = 8\nunit = 'bits'\nsource = 'fixedpoint'\n", "'formats.w_bits'"),
        (lambda t: _drop_entry(t, "delay_max"), r"missing required key 'formats\.delay_max'"),
        (lambda t: _drop_entry(t, "sign_modes"), r"missing required key 'formats\.sign_modes'"),
        (
            lambda t: t.replace('value = "wrap_once"', 'value = "wrap_twice"'),
            r"u_overflow\.value' is 'wrap_twice'",
        ),
        (lambda t: t.replace('"inhibitory", "mixed"]', '"inhibitory", "both"]'), r"formats\.sign_modes\.value.*'both'"),
        (lambda t: t.replace("value = 12\n", "value = 12.5\n"), r"'formats\.decay_bits\.value' must be an integer"),
        (lambda t: t.replace('value = 17\nunit = "bits"', 'value = 17\nunit = "bytes"'), r"vth_mant_bits\.unit"),
        (lambda t: t.replace("value = -8\nunit", "value = 9\nunit", 1), r"\[formats\] is inconsistent.*bias_exp_min"),
    ],
    ids=["unknown", "extra", "missing", "missing-modes", "bad-policy", "bad-mode", "not-int", "unit", "range"],
)
def test_a_malformed_formats_section_is_refused_naming_the_entry(edit, message: str) -> None:
    with pytest.raises(ChipSpecError, match=message):
        parse_chip(edit(_text("loihi.toml")), origin="loihi.toml")


def test_a_chip_file_without_formats_is_refused() -> None:
    text = re.sub(r"\[formats\.\w+\]\n(?:[^\[\n][^\n]*\n)*", "", _text("loihi2.toml"))
    with pytest.raises(ChipSpecError, match=r"loihi2\.toml: missing required key 'formats'"):
        parse_chip(text, origin="loihi2.toml")


def test_error_classes_live_in_spikeport_errors_and_stay_importable_from_targets() -> None:
    from spikeport import targets
    from spikeport.targets import chip, energy

    assert targets.ChipSpecError is chip.ChipSpecError is ChipSpecError
    assert targets.EnergyModelError is energy.EnergyModelError is EnergyModelError
    assert ChipSpecError.__module__ == EnergyModelError.__module__ == "spikeport.errors"


def test_docs_table_matches_the_loihi_formats() -> None:
    rows = dict(re.findall(r"^\| `(\w+)` \| ([^|]+?) \|", DOC.read_text(encoding="utf-8"), re.M))
    assert rows, "no number-formats table in docs/fixed-point.md"
    expected = {k: ", ".join(v) if isinstance(v, list) else str(v) for k, v in LOIHI_FORMATS.to_dict().items()}
    assert rows == expected


# ---------------------------------------------------------------------------------------------------------------
# The weight grid against Lava's own Dense


@pytest.fixture(scope="module")
def lava_dense():
    from spikeport.simulators.lava import import_lava

    import_lava()
    from lava.proc.dense.models import PyDenseModelBitAcc

    class _Port:
        def __init__(self, data=None) -> None:
            self.data = data

        def recv(self):
            return self.data

        def send(self, data) -> None:
            self.sent = data

    def weights_lava_uses(weights: np.ndarray, num_weight_bits: int) -> np.ndarray:
        """The weights after `PyDenseModelBitAcc`'s first step (sign mode, clip, truncate)."""
        model = PyDenseModelBitAcc({"weight_exp": 0, "num_weight_bits": num_weight_bits})
        model.weights = weights.astype(np.int32)
        model.num_message_bits = np.array([0])
        model.a_buff = np.zeros(weights.shape[0], dtype=np.int32)
        model.s_in, model.a_out = _Port(np.zeros(weights.shape[1], dtype=bool)), _Port()
        model.run_spk()
        return np.asarray(model.weights, dtype=np.int64)

    return weights_lava_uses


_EVERY_VALUE = {
    SignMode.EXCITATORY: np.arange(0, 301),
    SignMode.INHIBITORY: np.arange(-300, 1),
    SignMode.MIXED: np.arange(-300, 301),
}


@pytest.mark.lava
@pytest.mark.parametrize("num_weight_bits", BITS)
@pytest.mark.parametrize("mode", list(SignMode), ids=lambda m: m.value)
def test_weight_grid_is_exactly_what_lava_dense_keeps(lava_dense, mode: SignMode, num_weight_bits: int) -> None:
    """Every integer in [-300, 300] of one sign mode: Lava keeps it iff it is on `weight_grid`; and
    `effective_weights` is what Lava makes of all of them."""
    values = _EVERY_VALUE[mode][None, :]
    assert sign_mode(values) is mode
    lava = lava_dense(values, num_weight_bits)
    np.testing.assert_array_equal(LOIHI_FORMATS.effective_weights(values, num_weight_bits), lava)
    grid = LOIHI_FORMATS.weight_grid(mode, num_weight_bits)
    on_grid = (values >= grid.low) & (values <= grid.high) & (values % grid.step == 0)
    np.testing.assert_array_equal(lava == values, on_grid)
    assert grid.mode is mode and grid.step == LOIHI_FORMATS.weight_step(mode, num_weight_bits)


@pytest.mark.lava
@pytest.mark.parametrize("num_weight_bits", BITS)
def test_symmetric_mixed_grid_is_kept_in_every_sign_mode(lava_dense, num_weight_bits: int) -> None:
    """The quantizer's mixed grid, +-limit in steps of the mixed step, survives whichever mode a matrix has."""
    grid = LOIHI_FORMATS.weight_grid(SignMode.MIXED, num_weight_bits)
    values = np.arange(-grid.limit, grid.limit + 1, grid.step)[None, :]
    for part in (values, values[values >= 0][None, :], values[values <= 0][None, :]):
        np.testing.assert_array_equal(lava_dense(part, num_weight_bits), part)


def test_weight_grid_on_loihi_by_hand() -> None:
    """8 bits: mixed even [-256, 254] (used symmetrically to +-254), excitatory [0, 255], inhibitory [-255, 0]."""
    grid = LOIHI_FORMATS.weight_grid
    assert (grid(SignMode.MIXED, 8).low, grid(SignMode.MIXED, 8).high, grid(SignMode.MIXED, 8).step) == (-256, 254, 2)
    assert grid(SignMode.MIXED, 8).limit == 254
    assert (grid(SignMode.EXCITATORY, 8).high, grid(SignMode.INHIBITORY, 8).low) == (255, -255)
    assert (grid(SignMode.EXCITATORY, 4).high, grid(SignMode.EXCITATORY, 4).step) == (240, 16)
    assert grid(SignMode.MIXED, 1).limit == 0  # {-256, 0}: no positive mantissa is left
    with pytest.raises(IRValidationError, match=r"num_weight_bits must lie in \[1, 8\], got 9"):
        grid(SignMode.MIXED, 9)


# ---------------------------------------------------------------------------------------------------------------
# Formats in graphs and files


def test_a_graph_checks_its_nodes_against_its_own_formats() -> None:
    graph = one_layer([[1, -2]], delays=[[0, 5]])
    with pytest.raises(IRValidationError, match=r"'syn': delays must lie in \[0, 3\]"):
        replace(graph, formats=replace(LOIHI_FORMATS, delay_max=3))
    one_sign = replace(LOIHI_FORMATS, sign_modes=(SignMode.EXCITATORY, SignMode.INHIBITORY))
    with pytest.raises(IRValidationError, match=r"'syn': weights have sign mode 'mixed'"):
        replace(graph, formats=one_sign)
    with pytest.raises(IRValidationError, match=r"'pop': vth must lie in \[0, 1023\]"):
        replace(one_layer([[1]], vth=2000), formats=replace(LOIHI_FORMATS, vth_mant_bits=10))


def test_formats_round_trip_through_the_deploy_file(tmp_path) -> None:
    other = replace(LOIHI_FORMATS, delay_max=127, u_overflow=Overflow.WRAP)
    graph = replace(one_layer([[1, -2]], delays=[[0, 60]]), formats=other)
    loaded = load_deploy_graph(save_deploy_graph(graph, tmp_path / "g.deploy.npz"))
    assert loaded.formats == other
    assert_graph_equal(loaded, graph)
    with pytest.raises(AssertionError, match="formats differs"):
        assert_graph_equal(loaded, replace(graph, formats=LOIHI_FORMATS))


def _rewrite_header(path: Path, change) -> Path:
    with np.load(path) as data:
        arrays = {key: data[key] for key in data.files}
    header = json.loads(arrays[HEADER].tobytes().decode())
    change(header)
    arrays[HEADER] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)
    return path


def test_version_1_files_are_read_with_the_loihi_formats(tmp_path) -> None:
    path = save_deploy_graph(one_layer([[1, -2]]), tmp_path / "v1.deploy.npz")

    def to_v1(header: dict) -> None:
        header["format_version"] = 1
        del header["formats"]

    loaded = load_deploy_graph(_rewrite_header(path, to_v1))
    assert loaded.formats == LOIHI_FORMATS
    assert_graph_equal(loaded, one_layer([[1, -2]]))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda h: h.pop("formats"), r"lacks \['formats'\]"),
        (lambda h: h["formats"].pop("delay_max"), r"lack \['delay_max'\]"),
        (lambda h: h["formats"].update(colour=1), r"unknown fields \['colour'\]"),
        (lambda h: h["formats"].update(v_overflow="clamp"), r"invalid number formats.*'clamp'"),
    ],
    ids=["no-formats", "missing-field", "unknown-field", "bad-policy"],
)
def test_a_version_2_file_with_bad_formats_is_refused(tmp_path, change, message: str) -> None:
    path = _rewrite_header(save_deploy_graph(one_layer([[1]]), tmp_path / "g.deploy.npz"), change)
    with pytest.raises(IRValidationError, match=message):
        load_deploy_graph(path)


def test_number_formats_refuse_inconsistent_values() -> None:
    with pytest.raises(IRValidationError, match="weight_exp_min 8 exceeds weight_exp_max"):
        replace(LOIHI_FORMATS, weight_exp_min=8)
    with pytest.raises(IRValidationError, match="num_weight_bits_max"):
        replace(LOIHI_FORMATS, num_weight_bits_max=9)
    with pytest.raises(IRValidationError, match="'delay_max' must be an int"):
        replace(LOIHI_FORMATS, delay_max=63.0)
    assert NumberFormats.from_dict(LOIHI_FORMATS.to_dict(), where="test") == LOIHI_FORMATS


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (Overflow.WRAP, [-128, 127, -128, 0, -1, -127, -2]),
        (Overflow.WRAP_ONCE, [128, 127, 128, 0, -1, -127, -258]),
        (Overflow.SATURATE, [-127, 127, 127, 127, 127, -127, -127]),
    ],
    ids=lambda p: p.value if isinstance(p, Overflow) else "",
)
def test_kernel_overflow_policies_on_8_bits(policy: Overflow, expected: list[int]) -> None:
    """8 bits, half = 128: WRAP is modulo 256 into [-128, 127] (-383 + 256 = -127, -514 + 512 = -2); WRAP_ONCE
    subtracts 256 only above 128 and adds it only at or below -128, once (-128 -> 128, 128 stays, -514 -> -258);
    SATURATE clips to +-127."""
    import torch

    from spikeport.simulators.kernels import bound

    x = torch.tensor([-128.0, 127.0, 128.0, 256.0, 255.0, -383.0, -514.0])
    assert bound(x, 8, policy).tolist() == expected


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("act_shift", -2, "'act_shift' must be >= 0"),
        ("v_bits", -3, "'v_bits' must be >= 1"),
        ("channel_bits", 0, "'channel_bits' must be >= 1"),
        ("decay_bits", 60, "exceeds 52"),
        ("u_bits", 40, "must fit the 32-bit channels"),
        ("u_overflow", "bogus", "'u_overflow'"),
    ],
)
def test_formats_the_kernels_cannot_compute_exactly_are_refused(field: str, value: object, message: str) -> None:
    with pytest.raises(IRValidationError, match=re.escape(message)):
        replace(LOIHI_FORMATS, **{field: value})


@pytest.mark.lava
def test_lava_refuses_a_graph_with_other_than_the_loihi_formats() -> None:
    from spikeport.errors import SpikeportError
    from spikeport.simulators.lava import run_lava

    graph = one_layer([[3]])
    other = DeployGraph(
        nodes=graph.nodes,
        edges=graph.edges,
        output=graph.output,
        formats=replace(LOIHI_FORMATS, weight_exp_max=5),
    )
    expected = r"UnsupportedNodeError: .*Loihi number formats only.*weight_exp_max 5 \(Loihi 7\)"
    with pytest.raises(SpikeportError, match=expected):
        run_lava(other, np.ones((1, 3, 1), dtype=np.int64))
