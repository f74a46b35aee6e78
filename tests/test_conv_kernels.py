"""The scatter-add loop's own index checks, on the path max pooling's backward takes (one index array)."""

import numpy as np
import pytest

from autograd_core import backend
from autograd_core.kernels import FORWARD_KERNELS


@pytest.mark.parametrize("rows", [np.array([0, -4]), np.array([3]), np.array([[0, 1], [2, 3]])])
def test_scatter_add_loop_rejects_rows_out_of_range(rows):
    g = np.ones(rows.shape, np.float32)
    with pytest.raises(ValueError, match="out of range"):
        FORWARD_KERNELS["scatter_add"].numba()(g, (rows,), (3,))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scatter_add_loop_takes_negative_and_strided_rows(dtype):
    rows = np.array([[-1, 0, 2, -3], [1, 1, 0, 2]])[:, ::2]  # not C-contiguous
    g = np.arange(4, dtype=dtype).reshape(2, 2)
    with backend.trace() as t:
        out = FORWARD_KERNELS["scatter_add"].numba()(g, (rows,), (3,))
    assert t.calls == [("scatter_add_forward", backend.NUMBA, np.dtype(dtype).name)]
    np.testing.assert_array_equal(out, FORWARD_KERNELS["scatter_add"].numpy(g, (rows,), (3,)))
