"""Checks of data where it enters spikeport: spike inputs and the targets stored with them.

Every check raises `InputDataError` with one line naming where the data came from (a file, or "calibration
inputs"), the field, what was found and what was expected, so that bad data is refused before any stage uses it
(a NaN in the inputs would otherwise silently drop calibration; a label outside the class range would train on
garbage). The checks only read the arrays; they never change them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import numpy as np

from spikeport.errors import InputDataError

__all__ = ["check_payloads", "check_spike_inputs", "check_targets", "check_task_data", "max_payload", "task_info"]

TASK_KEYS = ("x_train", "y_train", "x_test", "y_test", "info")
"""The arrays every `data.npz` holds."""


def _fail(source: str, field: str, problem: str, fix: str) -> InputDataError:
    return InputDataError(f"{source}: {field} {problem}; {fix}")


def check_spike_inputs(
    inputs, *, source: str, field: str = "inputs", n_in: int | None = None, n_in_of: str = "the graph"
) -> np.ndarray:
    """`inputs` as an array of shape (samples, steps, n_in) with whole, finite values, or an `InputDataError`.

    Args:
        inputs: spike inputs (0/1 spikes, or integer payloads), one row of steps per sample.
        source: where they came from, for the message (a file name, or e.g. "calibration inputs").
        field: the name of the array within `source` (e.g. "x_train").
        n_in: the number of input channels the graph or model expects, if known.
        n_in_of: what sets `n_in`, for the message.
    """
    fix = "give spike inputs as (samples, steps, channels) arrays of 0/1 (or integer payloads)"
    array = np.asarray(inputs)
    if array.dtype.kind not in "biuf":
        raise _fail(source, field, f"has dtype {array.dtype}, not numbers", fix)
    if array.ndim != 3:
        raise _fail(source, field, f"has shape {array.shape}, expected (samples, steps, channels)", fix)
    if 0 in array.shape:
        raise _fail(source, field, f"is empty (shape {array.shape})", "give at least one sample, step and channel")
    if n_in is not None and array.shape[2] != n_in:
        raise _fail(source, field, f"has {array.shape[2]} channels (shape {array.shape})", f"{n_in_of} has {n_in}")
    if array.dtype.kind == "f":
        bad = ~np.isfinite(array)
        if bad.any():
            sample, step, channel = (int(i) for i in np.argwhere(bad)[0])
            raise _fail(
                source,
                field,
                f"contains {int(bad.sum())} NaN or infinite values (first at sample {sample}, step {step}, "
                f"channel {channel})",
                fix,
            )
        if np.any(array != np.round(array)):
            raise _fail(source, field, "contains fractional values", fix)
    return array


def max_payload(message_bits: int) -> int:
    """The largest unsigned payload of a spike with `message_bits` bits (1 for a binary spike, bits 0)."""
    return 2**message_bits - 1 if message_bits > 0 else 1


def check_payloads(inputs: np.ndarray, message_bits: int, source: str, field: str = "inputs") -> None:
    """Graded inputs (`message_bits` > 0) must be whole payloads in 0..2**message_bits - 1; binary ones are not checked
    here (the simulators refuse values other than 0/1 for a binary input).

    Raises:
        InputDataError: naming `source`, the field, the offending value and the payload range.
    """
    if message_bits <= 0 or not np.size(inputs):
        return
    low, high, top = float(np.min(inputs)), float(np.max(inputs)), max_payload(message_bits)
    if low < 0 or high > top:
        bad = low if low < 0 else high
        raise _fail(source, field, f"holds {bad:g}, outside the graded payload range 0..{top} "
                    f"({message_bits} message bits)", "clip the counts or give more message bits")


def check_targets(targets, *, source: str, field: str, samples: int, info: Mapping) -> np.ndarray:
    """Targets of `samples` samples: class indices within `info["class_names"]`, or finite regression values.

    Args:
        targets: the targets array.
        source: where they came from, for the message.
        field: the name of the array (e.g. "y_train").
        samples: how many samples the matching inputs hold.
        info: the data's provenance record; its `class_names` (classification) or `output_names` (regression)
            set what the targets must be.
    """
    array = np.asarray(targets)
    if array.dtype.kind not in "biuf":
        raise _fail(source, field, f"has dtype {array.dtype}, not numbers", "store targets as a numeric array")
    if array.ndim == 0 or len(array) != samples:
        found = "is a scalar" if array.ndim == 0 else f"has {len(array)} entries"
        raise _fail(source, field, found, f"expected one per input sample ({samples})")
    if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
        raise _fail(source, field, f"contains {int(np.sum(~np.isfinite(array)))} NaN or infinite values", "remove them")
    if "class_names" in info:
        n_classes = len(info["class_names"])
        if array.ndim != 1 or array.dtype.kind not in "biu":
            raise _fail(
                source,
                field,
                f"has dtype {array.dtype} and shape {array.shape}",
                f"classification targets are integer class indices, shape ({samples},)",
            )
        outside = array[(array < 0) | (array >= n_classes)]
        if outside.size:
            raise _fail(
                source,
                field,
                f"holds labels {sorted({int(v) for v in outside})[:5]} outside the class range [0, {n_classes})",
                f"the data declares {n_classes} classes ({', '.join(map(str, info['class_names']))})",
            )
    elif "output_names" in info and array.ndim == 2 and array.shape[1] != len(info["output_names"]):
        raise _fail(
            source,
            field,
            f"has {array.shape[1]} outputs per sample",
            f"the data declares {len(info['output_names'])} outputs ({', '.join(map(str, info['output_names']))})",
        )
    return array


def task_info(arrays: Mapping[str, np.ndarray], *, source: str) -> dict:
    """The provenance record stored as the JSON string `info` in a data file, or an `InputDataError`."""
    if "info" not in arrays:
        raise _fail(source, "info", "is missing", "re-create the data with `spikeport train`")
    try:
        info = json.loads(str(arrays["info"]))
    except ValueError as exc:
        raise _fail(source, "info", f"is not JSON ({exc})", "re-create the data with `spikeport train`") from exc
    if not isinstance(info, dict):
        raise _fail(source, "info", f"is a JSON {type(info).__name__}, not an object", "store a JSON object")
    return info


def check_task_data(arrays: Mapping[str, np.ndarray], *, source: str) -> dict:
    """Check the arrays of a data file (`data.npz`): inputs, targets and their provenance; returns the provenance.

    Both splits' inputs must be (samples, steps, channels) arrays of whole, finite values with the same number of
    channels; each split's targets must have one entry per sample and fit the task (`check_targets`).

    Raises:
        InputDataError: an array is missing, misshapen, holds NaN/inf, or a label is outside the class range.
    """
    missing = [key for key in TASK_KEYS if key not in arrays]
    if missing:
        raise _fail(source, ", ".join(missing), "missing", "re-create the data with `spikeport train`")
    info = task_info(arrays, source=source)
    x_train = check_spike_inputs(arrays["x_train"], source=source, field="x_train")
    check_spike_inputs(arrays["x_test"], source=source, field="x_test", n_in=x_train.shape[2], n_in_of="x_train")
    for split in ("train", "test"):
        samples = len(arrays[f"x_{split}"])
        check_targets(arrays[f"y_{split}"], source=source, field=f"y_{split}", samples=samples, info=info)
    return info
