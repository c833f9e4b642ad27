"""The linear map of each stateless NIR node on a flattened signal: what `nir_lowering` composes into synapses.

| chain node      | linear map on the flattened signal                                                     |
|-----------------|----------------------------------------------------------------------------------------|
| Linear / Affine | W x (Affine: + b); weight (n_out, n_in), n_in the size of the incoming signal          |
| Conv1d / Conv2d | cross-correlation as PyTorch's conv1d / conv2d on (C, N) / (C, H, W): stride, padding  |
|                 | (ints, 'valid', or 'same' with stride 1), dilation, groups, bias per output channel    |
| SumPool2d       | sum over each kernel window (kernel_size, stride, zero padding)                        |
| AvgPool2d       | the same divided by the kernel area (padding counts, as in PyTorch's default)          |
| Flatten         | identity; only the shape changes                                                       |
| Scale           | elementwise product with `scale` (broadcast to the signal's shape)                     |

(Delay nodes are identities on the values; `spikeport.export.nir_lowering` turns them into delays in steps.)
Every signal is flattened in C order. Convolutions and pools are unrolled into sparse matrices, which keeps them
exact on Loihi (Lava's `Conv` process ignores weight_exp in fixed_pt). They need the (C, H, W) or (C, N) shape of
their input: the shape of the node before (the Input node's shape, a population's parameter shape, a Conv or
Flatten output), else the node's `input_shape` / `input_type`.
"""

from __future__ import annotations

import nir
import numpy as np
from scipy import sparse

from spikeport.errors import IRValidationError, UnsupportedNodeError

__all__ = ["elementwise", "finite", "node_map", "shape_of"]


def shape_of(name: str, value) -> tuple[int, ...]:
    """A declared NIR shape (an input_type / output_type entry) as a tuple of positive ints.

    Raises:
        IRValidationError: If the shape is missing, empty or has a size below 1.
    """
    if value is None:
        raise IRValidationError(f"NIR node {name!r} has no shape (input_type)")
    shape = tuple(int(n) for n in np.atleast_1d(np.asarray(value)).reshape(-1))
    if not shape or any(n < 1 for n in shape):
        raise IRValidationError(f"NIR node {name!r}: shape {shape} must have positive sizes")
    return shape


def finite(name: str, key: str, value) -> np.ndarray:
    """Parameter `key` of node `name` as a float64 array.

    Raises:
        IRValidationError: If it contains NaN or infinite values.
    """
    array = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(array)):
        raise IRValidationError(f"NIR node {name!r}: {key} contains NaN or infinite values")
    return array


def elementwise(name: str, key: str, value: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """An elementwise parameter over a signal of `shape`, flattened (broadcast, or reshaped if the size matches).

    Raises:
        IRValidationError: If the parameter neither broadcasts to `shape` nor has its size.
    """
    value = np.atleast_1d(value)
    try:
        return np.broadcast_to(value, shape).reshape(-1)
    except ValueError:
        if value.size == int(np.prod(shape)):
            return value.reshape(-1)
        raise IRValidationError(
            f"NIR node {name!r}: {key} of shape {value.shape} does not fit its input of shape {shape}"
        ) from None


def _ints(name: str, key: str, value, n: int, minimum: int) -> tuple[int, ...]:
    try:
        array = np.atleast_1d(np.asarray(value if value is not None else np.nan, dtype=np.float64)).reshape(-1)
    except (TypeError, ValueError):
        array = np.array([np.nan])
    if array.size == 1:
        array = np.repeat(array, n)
    if array.size != n or not np.all(np.isfinite(array)) or np.any(array != np.round(array)) or np.any(array < minimum):
        raise IRValidationError(f"NIR node {name!r}: {key} must be one or {n} integers >= {minimum}, got {value!r}")
    return tuple(int(v) for v in array)


def _padding(name: str, value, kernel: tuple[int, ...], stride: tuple[int, ...], dilation: tuple[int, ...]):
    """((before, after), ...) per spatial dimension; 'same' pads as PyTorch does (the odd pixel after)."""
    if isinstance(value, np.ndarray) and value.dtype.kind in "SUO" and value.size == 1:
        value = value.reshape(-1)[0]
    if isinstance(value, bytes | np.bytes_):
        value = value.decode()
    if isinstance(value, str):
        if value == "valid":
            return tuple((0, 0) for _ in kernel)
        if value == "same":
            if any(s != 1 for s in stride):
                raise IRValidationError(f"NIR node {name!r}: padding 'same' needs stride 1, got stride {stride}")
            totals = [d * (k - 1) for k, d in zip(kernel, dilation, strict=True)]
            return tuple((t // 2, t - t // 2) for t in totals)
        raise IRValidationError(f"NIR node {name!r}: padding must be integers, 'same' or 'valid', got {value!r}")
    return tuple((p, p) for p in _ints(name, "padding", value, len(kernel), 0))


def _window_matrix(name, weight, in_shape, stride, padding, dilation, groups) -> tuple[sparse.csr_matrix, tuple]:
    """The sparse matrix of a 2-d cross-correlation (PyTorch's conv2d) on a (C, H, W) input, and the output shape.

    weight: (C_out, C_in / groups, KH, KW); padding: ((top, bottom), (left, right)).
    """
    c_out, c_group, kh, kw = weight.shape
    c, h, w = in_shape
    out_hw = []
    for size, (before, after), k, s, d in zip((h, w), padding, (kh, kw), stride, dilation, strict=True):
        out_hw.append((size + before + after - d * (k - 1) - 1) // s + 1)
    oh, ow = out_hw
    if oh < 1 or ow < 1:
        raise IRValidationError(
            f"NIR node {name!r}: kernel {(kh, kw)} with dilation {dilation} does not fit its input {(h, w)} "
            f"padded by {padding}"
        )
    oc = np.arange(c_out)[:, None, None, None]
    ic = (oc // (c_out // groups)) * c_group + np.arange(c_group)[None, :, None, None]
    oy, ox = np.arange(oh)[None, None, :, None], np.arange(ow)[None, None, None, :]
    full = (c_out, c_group, oh, ow)
    rows, cols, vals = [], [], []
    for ky in range(kh):
        for kx in range(kw):
            iy = oy * stride[0] - padding[0][0] + ky * dilation[0]
            ix = ox * stride[1] - padding[1][0] + kx * dilation[1]
            value = weight[:, :, ky, kx][:, :, None, None]
            keep = np.broadcast_to((iy >= 0) & (iy < h) & (ix >= 0) & (ix < w) & (value != 0), full)
            rows.append(np.broadcast_to((oc * oh + oy) * ow + ox, full)[keep])
            cols.append(np.broadcast_to((ic * h + iy) * w + ix, full)[keep])
            vals.append(np.broadcast_to(value, full)[keep])
    matrix = sparse.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(c_out * oh * ow, c * h * w)
    )
    return matrix, (c_out, oh, ow)


def _spatial_input(name: str, shape: tuple[int, ...], declared, channels: int | None, ndim: int) -> tuple[int, ...]:
    """The (C, *spatial) input shape of a convolution or pool: the incoming signal's own shape if it has ndim + 1
    dimensions, else the node's declared spatial shape with `channels` channels."""
    size = int(np.prod(shape))
    declared = None if declared is None else _ints(name, "input shape", declared, ndim, 1)
    if len(shape) == ndim + 1:
        if declared is not None and tuple(shape[1:]) != declared:
            raise IRValidationError(
                f"NIR node {name!r}: its input_shape {declared} does not match the shape {shape} of its input"
            )
        full = tuple(shape)
    elif declared is None or channels is None:
        raise IRValidationError(
            f"NIR node {name!r}: needs the {('(C, N)', '(C, H, W)')[ndim - 1]} shape of its input, which has shape "
            f"{shape}; give the node an input_shape / input_type or the node before it that shape"
        )
    else:
        full = (channels, *declared)
    if int(np.prod(full)) != size:
        raise IRValidationError(f"NIR node {name!r}: input shape {full} does not match its input of {size} values")
    if channels is not None and full[0] != channels:
        raise IRValidationError(f"NIR node {name!r}: expects {channels} input channels, but its input has shape {full}")
    return full


def _conv(name: str, node: nir.NIRNode, shape: tuple[int, ...]):
    weight = finite(name, "weight", node.weight)
    ndim = 1 if isinstance(node, nir.Conv1d) else 2
    if weight.ndim != ndim + 2:
        raise IRValidationError(f"NIR node {name!r}: weight shape {weight.shape} must have {ndim + 2} dimensions")
    groups = _ints(name, "groups", node.groups, 1, 1)[0]
    if weight.shape[0] % groups:
        raise IRValidationError(
            f"NIR node {name!r}: {weight.shape[0]} output channels do not split into {groups} groups"
        )
    in_shape = _spatial_input(name, shape, node.input_shape, weight.shape[1] * groups, ndim)
    kernel = tuple(weight.shape[2:])
    stride = _ints(name, "stride", node.stride, ndim, 1)
    dilation = _ints(name, "dilation", node.dilation, ndim, 1)
    padding = _padding(name, node.padding, kernel, stride, dilation)
    bias = elementwise(name, "bias", finite(name, "bias", node.bias), (weight.shape[0],))
    if ndim == 1:  # as a 2-d convolution over a (C, 1, N) input
        weight, in_shape = weight[:, :, None, :], (in_shape[0], 1, in_shape[1])
        stride, dilation, padding = (1, *stride), (1, *dilation), ((0, 0), *padding)
    matrix, out_shape = _window_matrix(name, weight, in_shape, stride, padding, dilation, groups)
    if ndim == 1:
        out_shape = (out_shape[0], out_shape[2])
    return matrix, np.repeat(bias, int(np.prod(out_shape[1:]))), out_shape


def _pool(name: str, node: nir.NIRNode, shape: tuple[int, ...]):
    declared = (node.input_type or {}).get("input")
    declared = None if declared is None else shape_of(name, declared)
    if len(shape) == 3:
        channels = shape[0]
    elif declared is not None and len(declared) == 3:
        channels = declared[0]
    else:
        channels = None
    in_shape = _spatial_input(name, shape, None if declared is None else declared[1:], channels, 2)
    kernel = _ints(name, "kernel_size", node.kernel_size, 2, 1)
    stride = _ints(name, "stride", node.stride if node.stride is not None else kernel, 2, 1)
    padding = _padding(name, node.padding, kernel, stride, (1, 1))
    value = 1.0 if isinstance(node, nir.SumPool2d) else 1.0 / (kernel[0] * kernel[1])
    weight = np.full((in_shape[0], 1, *kernel), value)
    matrix, out_shape = _window_matrix(name, weight, in_shape, stride, padding, (1, 1), in_shape[0])
    return matrix, None, out_shape


def _flatten_shape(name: str, node: nir.Flatten, shape: tuple[int, ...]) -> tuple[int, ...]:
    declared = (node.input_type or {}).get("input")
    if declared is not None:
        declared = shape_of(name, declared)
        if int(np.prod(declared)) != int(np.prod(shape)):
            raise IRValidationError(
                f"NIR node {name!r}: its input_type {declared} does not match its input of shape {shape}"
            )
        shape = declared
    start, end = int(node.start_dim), int(node.end_dim)
    start, end = start + len(shape) if start < 0 else start, end + len(shape) if end < 0 else end
    if not 0 <= start <= end < len(shape):
        return (int(np.prod(shape)),)
    return (*shape[:start], int(np.prod(shape[start : end + 1])), *shape[end + 1 :])


def node_map(
    name: str, node: nir.NIRNode, shape: tuple[int, ...]
) -> tuple[np.ndarray | sparse.csr_matrix | None, np.ndarray | None, tuple[int, ...]]:
    """The linear map of one chain node (not Delay) on a signal of `shape`, as the module docstring's table says.

    Args:
        name: The node's name (for error messages).
        node: A Linear, Affine, Conv1d, Conv2d, SumPool2d, AvgPool2d, Scale or Flatten node.
        shape: The shape of the incoming signal.

    Returns:
        (matrix (n_out, n_in), dense or sparse, or None for the identity; bias (n_out,) or None; output shape).

    Raises:
        IRValidationError: Shapes that do not fit, NaN/inf parameters, invalid stride / padding / groups.
        UnsupportedNodeError: If `node` is not one of the node types above.
    """
    size = int(np.prod(shape))
    if isinstance(node, nir.Linear | nir.Affine):
        weight = finite(name, "weight", node.weight)
        if weight.ndim != 2 or weight.shape[1] != size:
            raise IRValidationError(
                f"NIR node {name!r} ({type(node).__name__}): weight shape {weight.shape} does not match its input "
                f"of {size} values (shape {shape}); expected (n_out, {size})"
            )
        bias = None
        if isinstance(node, nir.Affine):
            bias = elementwise(name, "bias", finite(name, "bias", node.bias), (weight.shape[0],)).copy()
        return weight, bias, (weight.shape[0],)
    if isinstance(node, nir.Conv1d | nir.Conv2d):
        return _conv(name, node, shape)
    if isinstance(node, nir.SumPool2d | nir.AvgPool2d):
        return _pool(name, node, shape)
    if isinstance(node, nir.Scale):
        scale = elementwise(name, "scale", finite(name, "scale", node.scale), shape)
        return sparse.diags(scale, format="csr"), None, shape
    if isinstance(node, nir.Flatten):
        return None, None, _flatten_shape(name, node, shape)
    raise UnsupportedNodeError(
        f"NIR node {name!r} ({type(node).__name__}) is not a linear node with a map; expected one of Linear, "
        "Affine, Conv1d, Conv2d, SumPool2d, AvgPool2d, Scale, Flatten (Delay nodes are handled by the chain)"
    )
