"""The Numba side of the conv_ops kernels, whose numpy references sit in conv_ops beside the ops using them.

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

`conv`, `conv_weight_grad` and `conv_transpose` at stride 1 and dilation 1 (the references: im2col and a
GEMM per layer) run as direct correlations over flattened planes instead. A padded input plane (Hp, Wp)
laid out row after row makes every kernel tap (a, b) a constant shift a Wp + b of the flat index, so an
output plane, computed as flat rows p (Wp - OW wasted columns per row, dropped when copied out), is the
sum over taps of w[a, b] x[p + a Wp + b]: one vectorized loop over p per input channel and kernel row,
the row's taps unrolled in it (the kernel size is compiled in), the window's values read once for a block
of two output channels. The input gradient is the same correlation of the output gradient, placed in the
padded planes, with the flipped kernel; the weight gradient one pass over every sample's plane per
input channel and kernel row, the row's taps' sums written out as scalars (an accumulator array was 3
times slower). The loops index flat arrays through views with non-negative offsets: an index that may
be negative makes Numba wrap it, which LLVM turns into gathers (10 times slower).

Measured on LeNet's convolutions (float32, median of 200 calls, each alone; us):

    layer                      computation    im2col   direct   torch (2 threads)
    (64, 1, 28, 28) (6, 1, 5, 5)   forward         465      266      203
                                   weight grad     456      357      222
                                   input grad      797      317     1791
    (64, 6, 12, 12) (16, 6, 5, 5)  forward         670      411      126
                                   weight grad     952      676      280
                                   input grad      684      544      258

and across other shapes (`DIRECT_MAX_DEPTH`): the correlations won up to 288 products per output
(32 -> 32 channels, 3 x 3, 16 x 16 planes: 2.8 against 3.0 ms) and on LeNet's second input gradient (400),
and lost from 576 (64 -> 64 channels, 3 x 3, 8 x 8: 3.2 against 2.7 ms); the weight gradient won with 5 x
5 kernels and lost on some 3 x 3 ones (3 -> 16 channels, 32 x 32: 0.90 against 0.76 ms).

The loops run on one thread. Numba's threads (0.32 ms on two for the second forward above, alone) took
4.5 ms after any BLAS call: OpenBLAS's idle workers spin for a while after each GEMM, and a threaded loop
then waits for a core they hold (OPENBLAS_THREAD_TIMEOUT=4 removes the spinning, and made the LSTM
benchmark 40% slower).

One-dimensional pooling and convolution run as height 1 (in every kernel). Which inputs the loops take
(float32 and float64, one or two spatial axes, for col2im windows inside the output) is the answer of
`backend.choose`, from the policy rows "add_windows", "max_pool_positions", "conv", "conv_weight_grad"
and "conv_transpose"; `backend.trace()` reports every call and why it ran where it did.
"""

import functools
import math
import threading

import numpy as np

from .. import backend

prange = range  # numba.prange in the compiled loop (backend.jit)


def prefer_wide_vectors():
    """A hint to LLVM in the compiled loops (`backend.jit(wide=True)`); nothing here."""


KERNEL_HEIGHT = KERNEL_WIDTH = OUT_BLOCK = 1  # compiled in as constants, per kernel size (see `_conv_loop`)
MAX_KERNEL_WIDTH = 7
# Where the direct loops beat im2col + GEMM (see above): the correlations up to this depth, the weight
# gradient's tap products also only from this many taps.
DIRECT_MAX_DEPTH, WEIGHT_GRAD_MIN_TAPS = 400, 25
VECTOR = 16  # output rows are computed in whole multiples of this many elements (a float32 AVX-512 vector)


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


def _correlate(src, weights, groups, row_step, sample_stride, corner, bias, out):
    """out[n, i, r, c] = bias[i] + sum over the group's inputs j and the taps (a, b) of weights[i, j, a *
    KERNEL_WIDTH + b] src[first + j, n * sample_stride + corner + (r + a) * row_step + c + b], with first the
    group's first input row: each (sample, OUT_BLOCK output channels) computed as flat rows of the
    planes, every loaded input serving the block, then its (r, c) positions copied out."""
    samples, count, height, width = out.shape
    inputs_per_group = weights.shape[1]
    outputs_per_group = count // groups
    length = -(-((height - 1) * row_step + width) // VECTOR) * VECTOR
    rows = np.empty((OUT_BLOCK, length), out.dtype)
    for n in range(samples):
        for i in range(0, count, OUT_BLOCK):
            first = (i // outputs_per_group) * inputs_per_group
            taps = weights[i : i + OUT_BLOCK]
            for k in range(OUT_BLOCK):
                for p in range(length):
                    rows[k, p] = bias[i + k]
            for j in range(inputs_per_group):
                for a in range(KERNEL_HEIGHT):
                    shifted = src[first + j, n * sample_stride + corner + a * row_step :]
                    for p in range(length):
                        prefer_wide_vectors()
                        # the window's values read once into registers, before any store (stores to rows
                        # would make LLVM read them again for every output channel)
                        x0 = shifted[p]
                        x1 = shifted[p + 1] if KERNEL_WIDTH > 1 else x0
                        x2 = shifted[p + 2] if KERNEL_WIDTH > 2 else x0
                        x3 = shifted[p + 3] if KERNEL_WIDTH > 3 else x0
                        x4 = shifted[p + 4] if KERNEL_WIDTH > 4 else x0
                        x5 = shifted[p + 5] if KERNEL_WIDTH > 5 else x0
                        x6 = shifted[p + 6] if KERNEL_WIDTH > 6 else x0
                        window = (x0, x1, x2, x3, x4, x5, x6)
                        for k in range(OUT_BLOCK):
                            total = rows[k, p]
                            for b in range(KERNEL_WIDTH):
                                total += taps[k, j, a * KERNEL_WIDTH + b] * window[b]
                            rows[k, p] = total
            for k in range(OUT_BLOCK):
                for r in range(height):
                    for c in range(width):
                        out[n, i + k, r, c] = rows[k, r * row_step + c]


def _tap_products(g, src, groups, row_step, sample_stride, zero, g_planes, dw):
    """dw[o, c, a * KERNEL_WIDTH + b] = sum over n, r, col of g[n, o, r, col] src[first + c, n * sample_stride +
    (r + a) * row_step + col + b], with first the group's first input row: g[:, o] laid out in the planes
    (zeros elsewhere), then one pass over it per input channel and kernel row, the row's taps' sums
    written out as scalars. `g_planes` (N Hp Wp,) holds zeros, or what an earlier call of the same
    geometry left there: zeros but at the positions written."""
    samples, outputs, height, width = g.shape
    inputs_per_group = dw.shape[1]
    outputs_per_group = outputs // groups
    for o in range(outputs):
        for n in range(samples):
            for r in range(height):
                start = n * sample_stride + r * row_step
                for col in range(width):
                    g_planes[start + col] = g[n, o, r, col]
        for c in range(inputs_per_group):
            for a in range(KERNEL_HEIGHT):
                shifted = src[(o // outputs_per_group) * inputs_per_group + c, a * row_step :]
                s0 = s1 = s2 = s3 = s4 = s5 = s6 = zero
                for f in range(g_planes.size):
                    prefer_wide_vectors()
                    value = g_planes[f]
                    s0 += value * shifted[f]
                    if KERNEL_WIDTH > 1:
                        s1 += value * shifted[f + 1]
                    if KERNEL_WIDTH > 2:
                        s2 += value * shifted[f + 2]
                    if KERNEL_WIDTH > 3:
                        s3 += value * shifted[f + 3]
                    if KERNEL_WIDTH > 4:
                        s4 += value * shifted[f + 4]
                    if KERNEL_WIDTH > 5:
                        s5 += value * shifted[f + 5]
                    if KERNEL_WIDTH > 6:
                        s6 += value * shifted[f + 6]
                sums = (s0, s1, s2, s3, s4, s5, s6)
                for b in range(KERNEL_WIDTH):
                    dw[o, c, a * KERNEL_WIDTH + b] = sums[b]


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


def _round_up(n):
    return -(-n // VECTOR) * VECTOR


def direct_refusal(spatial, kernel_size, stride, dilation, depth, min_taps=1):
    """Why the direct loops do not take a convolution of this geometry, or None. `depth` is the number of
    (input row, tap) products per output value: input channels per group times taps (for the
    transposed convolution: its input channels per group times taps); `min_taps` the smallest kernel
    the loop wins on (see DIRECT_MAX_DEPTH)."""
    taps = math.prod(kernel_size)
    if spatial > 2:
        return MORE_AXES
    if any(s != 1 for s in stride):
        return f"stride {tuple(stride)} (the direct loops take stride 1)"
    if any(d != 1 for d in dilation):
        return f"dilation {tuple(dilation)} (the direct loops take dilation 1)"
    if kernel_size[-1] > MAX_KERNEL_WIDTH:
        return f"kernel width {kernel_size[-1]} (the loops take up to {MAX_KERNEL_WIDTH})"
    if depth > DIRECT_MAX_DEPTH:
        return f"depth {depth} (channels per group x taps): im2col and a GEMM win past {DIRECT_MAX_DEPTH}"
    if taps < min_taps:
        return f"{taps} taps: im2col and a GEMM win below {min_taps}"
    return None


def _lifted(array, spatial):
    """A one-dimensional (N, C, L) array as (N, C, 1, L); two-dimensional ones as they are."""
    return array.reshape(array.shape[:2] + (1,) * (2 - spatial) + array.shape[2:])


_scratch = threading.local()
"""Per thread: the zero-filled arrays the loops read (inputs laid out in padded planes), kept between
calls. A fresh one costs page faults on every call inside a training step: measured on LeNet's second
convolution's input gradient, 0.77 ms per call in a training step against 0.60 ms alone, and 0.62 ms in
the step with kept arrays."""
KEPT_MAX_BYTES = 1 << 24  # larger arrays are made afresh: page faults matter less next to their work


def _zeros(key, shape, dtype):
    """Zeros of `shape` and `dtype`, kept for this thread under (key, shape, dtype) when small enough:
    callers write the same positions for the same key, so the others stay zero."""
    if math.prod(shape) * np.dtype(dtype).itemsize > KEPT_MAX_BYTES:
        return np.zeros(shape, dtype)
    kept = _scratch.__dict__.setdefault("arrays", {})
    array = kept.get((key, shape, dtype))
    if array is None:
        if len(kept) >= 16:
            kept.clear()
        array = kept[(key, shape, dtype)] = np.zeros(shape, dtype)
    return array


def _flat_planes(x, padding, lead, tail):
    """(C, lead + N Hp Wp + tail) zeros holding each (N, C, H, W) plane of x, padded to (Hp, Wp) by
    `padding` ((top, bottom), (left, right)), as the rows of consecutive samples (a kept array: see
    `_zeros`)."""
    n, channels, height, width = x.shape
    (top, bottom), (left, right) = padding
    padded = (height + top + bottom, width + left + right)
    size = n * padded[0] * padded[1]
    flat = _zeros(("planes", x.shape, padding, lead, tail), (channels, lead + size + tail), x.dtype)
    planes = flat[:, lead : lead + size].reshape((channels, n) + padded)
    planes[:, :, top : top + height, left : left + width] = x.transpose(1, 0, 2, 3)
    return flat


@functools.cache
def _conv_loop(name, kernel_height, kernel_width, out_block):
    """`_correlate` or `_tap_products` compiled for one kernel size (and block of output channels)."""
    loop = _correlate if name == "correlate" else _tap_products
    fastmath = {"contract"} if loop is _correlate else {"reassoc", "contract"}  # the sums vectorize
    constants = {"KERNEL_HEIGHT": kernel_height, "KERNEL_WIDTH": kernel_width}
    if loop is _correlate:
        constants["OUT_BLOCK"] = out_block
    return backend.jit(loop, fastmath=fastmath, constants=constants, wide=True)


def _loop(name, kernel_size, outputs_per_group=1):
    block = math.gcd(outputs_per_group, 2)  # output channels per pass, all in one group
    return _conv_loop(name, kernel_size[0], kernel_size[1], block)


def _padded_plane(x, padding):
    return x.shape[2] + sum(padding[0]), x.shape[3] + sum(padding[1])


def numba_conv(reference):
    """A `backend.kernel` factory: the direct correlation for conv's forward, or `reference` (im2col)."""

    def factory():
        def conv(x, weight, *bias, stride, padding, dilation, groups):
            spatial, kernel_size = x.ndim - 2, weight.shape[2:]
            refusal = direct_refusal(spatial, kernel_size, stride, dilation, weight.shape[1] * math.prod(kernel_size))
            if backend.choose("conv", (x, weight, *bias), 0, refusal) is backend.NUMPY:
                return reference(x, weight, *bias, stride=stride, padding=padding, dilation=dilation, groups=groups)
            x, weight = _lifted(x, spatial), _lifted(weight, spatial)
            padding = ((0, 0),) * (2 - spatial) + tuple(padding)
            n, outputs, kernel = x.shape[0], weight.shape[0], weight.shape[2:]
            plane = _padded_plane(x, padding)
            out = np.empty((n, outputs, plane[0] - kernel[0] + 1, plane[1] - kernel[1] + 1), x.dtype)
            reach = (kernel[0] - 1) * plane[1] + kernel[1] - 1
            src = _flat_planes(x, padding, 0, reach + _round_up(out.shape[2] * plane[1]))
            taps = np.ascontiguousarray(weight).reshape(outputs, weight.shape[1], -1)
            start = bias[0] if bias else np.zeros(outputs, x.dtype)
            loop = _loop("correlate", kernel, outputs // groups)
            loop(src, taps, groups, plane[1], plane[0] * plane[1], 0, start, out)
            return out.reshape(out.shape[:2] + out.shape[4 - spatial :])

        return conv

    return factory


def numba_conv_weight_grad(reference):
    """A `backend.kernel` factory: the tap products for conv's weight gradient, or `reference`."""

    def factory():
        def conv_weight_grad(x, g, kernel_size, stride, padding, dilation, groups):
            spatial = x.ndim - 2
            depth = x.shape[1] // groups * math.prod(kernel_size)
            refusal = direct_refusal(spatial, kernel_size, stride, dilation, depth, WEIGHT_GRAD_MIN_TAPS)
            if backend.choose("conv_weight_grad", (x, g), 0, refusal) is backend.NUMPY:
                return reference(x, g, kernel_size, stride, padding, dilation, groups)
            x, g = _lifted(x, spatial), _lifted(g, spatial)
            padding = ((0, 0),) * (2 - spatial) + tuple(padding)
            kernel = (1,) * (2 - spatial) + tuple(kernel_size)
            plane = _padded_plane(x, padding)
            # the forward's tail: both read one kept array per layer
            reach = (kernel[0] - 1) * plane[1] + kernel[1] - 1
            src = _flat_planes(x, padding, 0, reach + _round_up(g.shape[2] * plane[1]))
            dw = np.empty((g.shape[1], x.shape[1] // groups, kernel[0] * kernel[1]), x.dtype)
            loop = _loop("tap_products", kernel)
            g_planes = _zeros(("g planes", g.shape, plane), (g.shape[0] * plane[0] * plane[1],), x.dtype)
            zero = x.dtype.type(0)
            loop(np.ascontiguousarray(g), src, groups, plane[1], plane[0] * plane[1], zero, g_planes, dw)
            return dw.reshape((g.shape[1], x.shape[1] // groups) + tuple(kernel_size))

        return conv_weight_grad

    return factory


def numba_conv_transpose(reference):
    """A `backend.kernel` factory: the transposed convolution (conv's input gradient) at stride 1 as the
    correlation of its input, placed in the output's padded planes, with the flipped kernel; else
    `reference`."""

    def factory():
        def conv_transpose(x, weight, *bias, stride, padding, dilation, groups, output_size):
            spatial, kernel_size = x.ndim - 2, weight.shape[2:]
            depth = weight.shape[0] // groups * math.prod(kernel_size)
            refusal = direct_refusal(spatial, kernel_size, stride, dilation, depth)
            windows = tuple(n + lo + hi - k + 1 for n, (lo, hi), k in zip(output_size, padding, kernel_size))
            if refusal is None and windows != x.shape[2:]:
                refusal = f"an output_size {tuple(output_size)} with extra positions"
            if backend.choose("conv_transpose", (x, weight, *bias), 0, refusal) is backend.NUMPY:
                geometry = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
                return reference(x, weight, *bias, output_size=output_size, **geometry)
            x, weight = _lifted(x, spatial), _lifted(weight, spatial)
            padding = ((0, 0),) * (2 - spatial) + tuple(padding)
            n, inputs, kernel = x.shape[0], x.shape[1], weight.shape[2:]
            outputs = weight.shape[1] * groups
            out = np.empty((n, outputs) + (1,) * (2 - spatial) + tuple(output_size), x.dtype)
            plane = (out.shape[2] + sum(padding[0]), out.shape[3] + sum(padding[1]))
            front = (kernel[0] - 1) * plane[1] + kernel[1] - 1
            corner = padding[0][0] * plane[1] + padding[1][0]
            tail = corner + _round_up(out.shape[2] * plane[1])
            src = _flat_planes(x, ((0, plane[0] - x.shape[2]), (0, plane[1] - x.shape[3])), front, tail)
            # taps[c, j] = weight[j, c] flipped, within each group
            flipped = weight.reshape((groups, inputs // groups, weight.shape[1]) + kernel)[..., ::-1, ::-1]
            taps = np.ascontiguousarray(flipped.transpose(0, 2, 1, 3, 4)).reshape(outputs, inputs // groups, -1)
            start = bias[0] if bias else np.zeros(outputs, x.dtype)
            loop = _loop("correlate", kernel, outputs // groups)
            loop(src, taps, groups, plane[1], plane[0] * plane[1], corner, start, out)
            return out.reshape(out.shape[:2] + tuple(output_size))

        return conv_transpose

    return factory


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
