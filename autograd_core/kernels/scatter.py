"""Scatter-add: the backward of integer-array indexing, where repeated indices must accumulate.

The numpy reference is the registry's `scatter_add` forward (`np.add.at`). The Numba path covers
the common case, an index made of integer arrays (or ints) for the leading axes, as in
`x[rows]` (embedding lookups) or `x[rows, cols]` (picking each sample's target logit): it turns
the index into row numbers of `out` seen as (leading positions, trailing elements), then adds each
row of g into its row of out in one loop, which wraps negative rows and rejects rows out of range
itself: a single index array (max pooling's backward, `take`'s VJP) goes to the loop as it is, 0.098 ms
against 0.28 ms with np.where and np.ravel_multi_index for LeNet's first pooling (55,296 rows of 1;
one thread, median of 300 calls). Every other index (slices, masks, None) runs the reference.
The loop is serial: repeated indices would make threads write the same row.
"""

import math
import numbers

import numpy as np

from .. import backend
from . import FORWARD_KERNELS, register_kernels


def _scatter_rows(rows, g, out):
    count = out.shape[0]
    for i in range(rows.size):
        row = rows[i]
        if row < 0:
            row += count
        if row < 0 or row >= count:
            raise ValueError("scatter_add: an index is out of range")  # as np.ravel_multi_index raises
        for j in range(g.shape[1]):
            out[row, j] += g[i, j]


def leading_integer_index(index, ndim):
    """The index as integer arrays for the leading axes, or None if it is not of that form."""
    parts = index if isinstance(index, tuple) else (index,)
    if not 0 < len(parts) <= ndim:
        return None
    arrays = []
    for part in parts:
        if isinstance(part, numbers.Integral) and not isinstance(part, bool):
            arrays.append(np.asarray(part))
        elif isinstance(part, np.ndarray) and part.dtype.kind in "iu":
            arrays.append(part)
        else:
            return None
    return arrays


def _numba_scatter_add():
    loop = backend.jit(_scatter_rows)
    reference = FORWARD_KERNELS["scatter_add"].numpy

    def scatter_add(g, index, shape):
        arrays = leading_integer_index(index, len(shape))
        unsupported = "an index other than integer arrays for the leading axes" if arrays is None else None
        if backend.choose("scatter_add_forward", (g,), g.size, unsupported) is backend.NUMPY:
            return reference(g, index, shape)
        leading = shape[: len(arrays)]
        if len(arrays) == 1:
            rows = arrays[0].reshape(-1)
        else:
            arrays = [np.where(a < 0, a + n, a) for a, n in zip(np.broadcast_arrays(*arrays), leading)]
            rows = np.ravel_multi_index(arrays, leading).reshape(-1)  # raises on an out-of-range index
        trailing = math.prod(shape[len(arrays) :])
        out = np.zeros((math.prod(leading), trailing), g.dtype)
        loop(rows, g.reshape(rows.size, trailing), out)
        return out.reshape(shape)

    return scatter_add


register_kernels("scatter_add", _numba_scatter_add)
