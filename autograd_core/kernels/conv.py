"""The Numba side of two conv_ops kernels, whose numpy references sit in conv_ops beside the ops using them.

`add_windows` (col2im: the input gradient of a convolution, the transposed convolution, fold) adds each
column back at its window. The reference makes one strided slice-add per kernel tap; the loop reads the
columns in memory order instead: for LeNet's second convolution ((64, 6, 12, 12) float32 input, 5 x 5
kernel) 0.64 ms against 1.36 ms (one thread).

`max_positions` (max pooling's window search): for every window of a float input (planes, H, W) the
loop keeps PyTorch's running choice, starting from -inf and the window's first element inside the
input, and taking a value when `value > best or isnan(value)`: so the first maximum in scan order wins
among ties, the last NaN if there is one, and padding is never read. One pass, no padded copy and no
temporaries. The common case, 2 x 2 windows at stride 2 inside the input, has its own loop with the
same choice written as selects of the winning tap's number, which LLVM vectorizes (the general loop's
nested tap loops and branches it does not, nor a 2 x 2 loop keeping the best position instead of the
tap): on LeNet's poolings, (64, 6, 24, 24) and (64, 16, 8, 8) float32, 0.18 and 0.061 ms against the
general loop's 0.51 and 0.147 ms (one thread, median of 200 calls; the reference: 2.1 ms on the first,
torch's max_pool2d with indices 1.4 ms).

One-dimensional pooling runs as windows of height 1 (in both kernels). Which inputs the loops take
(float32 and float64, one or two spatial axes, for col2im windows inside the output) is the answer of
`backend.choose`, from the policy rows "add_windows" and "max_pool_positions"; `backend.trace()`
reports every call and why it ran where it did.
"""

import math

import numpy as np

from .. import backend

prange = range  # numba.prange in the compiled loop (backend.jit)


def _window_maxima(x, kernel, stride, padding, dilation, positions):
    planes, height, width = x.shape
    out_height, out_width = positions.shape[1], positions.shape[2]
    for plane in prange(planes):
        for i in range(out_height):
            top = i * stride[0] - padding[0]
            # the first tap inside the input (a division only in the padding: it costs more than the window)
            first_row = 0 if top >= 0 else (dilation[0] - 1 - top) // dilation[0]
            for j in range(out_width):
                left = j * stride[1] - padding[1]
                first_column = 0 if left >= 0 else (dilation[1] - 1 - left) // dilation[1]
                best = -math.inf
                best_position = (top + first_row * dilation[0]) * width + left + first_column * dilation[1]
                for a in range(first_row, kernel[0]):
                    row = top + a * dilation[0]
                    if row >= height:
                        break
                    for b in range(first_column, kernel[1]):
                        column = left + b * dilation[1]
                        if column >= width:
                            break
                        value = x[plane, row, column]
                        if value > best or math.isnan(value):
                            best = value
                            best_position = row * width + column
                positions[plane, i, j] = best_position


def _window_maxima_2x2(x, positions):
    """`_window_maxima` for 2 x 2 windows at stride 2 inside the input, written out tap by tap with selects
    and the winning tap's number, a form LLVM vectorizes over the output columns."""
    planes, width = x.shape[0], x.shape[2]
    out_height, out_width = positions.shape[1], positions.shape[2]
    for plane in prange(planes):
        for i in range(out_height):
            top = 2 * i
            for j in range(out_width):
                best = x[plane, top, 2 * j]
                tap = 0
                value = x[plane, top, 2 * j + 1]
                better = (value > best) | (value != value)
                best = value if better else best
                tap = 1 if better else tap
                value = x[plane, top + 1, 2 * j]
                better = (value > best) | (value != value)
                best = value if better else best
                tap = 2 if better else tap
                value = x[plane, top + 1, 2 * j + 1]
                tap = 3 if (value > best) | (value != value) else tap
                positions[plane, i, j] = (top + tap // 2) * width + 2 * j + tap % 2


def _add_windows(columns, stride, dilation, padded):
    planes, kernel_height, kernel_width, out_height, out_width = columns.shape
    for plane in prange(planes):
        for a in range(kernel_height):
            for b in range(kernel_width):
                for i in range(out_height):
                    row = i * stride[0] + a * dilation[0]
                    for j in range(out_width):
                        padded[plane, row, j * stride[1] + b * dilation[1]] += columns[plane, a, b, i, j]


def _inside_2x2(size, kernel_size, stride, padding, dilation, out_size):
    """Whether a pooling is 2 x 2 windows at stride 2 (dilation 1), all of them inside the input."""
    return (
        tuple(kernel_size) == (2, 2)
        and tuple(stride) == (2, 2)
        and tuple(dilation) == (1, 1)
        and all(before == 0 for before, _ in padding)
        and all(2 * o <= n for o, n in zip(out_size, size))
    )


MORE_AXES = "more than 2 spatial axes (the loops take 1 or 2)"


def numba_add_windows(reference):
    """A `backend.kernel` factory: the compiled col2im, or `reference` where the policy says numpy."""

    def factory():
        loop = backend.jit(_add_windows)

        def add_windows(columns, padded_shape, stride, dilation):
            spatial = len(padded_shape) - 2
            kernel_size, out_size = columns.shape[2 : 2 + spatial], columns.shape[2 + spatial :]
            reach = [(o - 1) * s + (k - 1) * d + 1 for o, s, k, d in zip(out_size, stride, kernel_size, dilation)]
            unsupported = None
            if spatial > 2:
                unsupported = MORE_AXES
            elif any(r > n for r, n in zip(reach, padded_shape[2:])):
                # the loop does not check its writes: the reference raises for windows that do not fit
                unsupported = f"windows reaching {tuple(reach)}, past the output {tuple(padded_shape[2:])}"
            if backend.choose("add_windows", (columns,), columns.size, unsupported) is backend.NUMPY:
                return reference(columns, padded_shape, stride, dilation)
            ones = (1,) * (2 - spatial)  # a 1-D window is a 2-D one of height 1
            planes = padded_shape[0] * padded_shape[1]
            columns = np.ascontiguousarray(columns).reshape((planes, *ones, *kernel_size, *ones, *out_size))
            padded = np.zeros((planes, *ones, *padded_shape[2:]), columns.dtype)
            loop(columns, ones + tuple(stride), ones + tuple(dilation), padded)
            return padded.reshape(padded_shape)

        return add_windows

    return factory


def numba_max_positions(reference):
    """A `backend.kernel` factory: the compiled search, or `reference` where the policy says numpy."""

    def factory():
        loop = backend.jit(_window_maxima)
        loop_2x2 = backend.jit(_window_maxima_2x2)

        def max_positions(x, kernel_size, stride, padding, dilation, out_size):
            spatial = len(kernel_size)
            unsupported = MORE_AXES if spatial > 2 else None
            if backend.choose("max_pool_positions", (x,), x.size, unsupported) is backend.NUMPY:
                return reference(x, kernel_size, stride, padding, dilation, out_size)
            ones, zeros = (1,) * (2 - spatial), (0,) * (2 - spatial)  # a 1-D pooling is a 2-D one of height 1
            planes = np.ascontiguousarray(x).reshape((-1, *ones, *x.shape[2:]))
            positions = np.empty((planes.shape[0], *ones, *out_size), np.int64)
            if _inside_2x2(x.shape[2:], kernel_size, stride, padding, dilation, out_size):
                loop_2x2(planes, positions)
                return positions.reshape(x.shape[:2] + tuple(out_size))
            loop(
                planes,
                ones + tuple(kernel_size),
                ones + tuple(stride),
                zeros + tuple(p for p, _ in padding),
                ones + tuple(dilation),
                positions,
            )
            return positions.reshape(x.shape[:2] + tuple(out_size))

        return max_positions

    return factory
