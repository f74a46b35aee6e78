"""PyTorch references of the convolution registry ops (autograd_core/conv_ops.py), for the TORCH table of
tests/test_ops_registry.py. The ops take one (before, after) padding pair per spatial axis, torch's functions
one symmetric amount: asymmetric padding is padded first, or cropped after.

Importable without torch (the table is built only when torch is installed); each reference takes torch
tensors and the op's attributes."""

from autograd_core import conv_ops


def _flat_padding(padding):
    return [w for pair in reversed(padding) for w in pair]


def _symmetric(padding):
    return all(lo == hi for lo, hi in padding)


def _crop_padding(y, padding):
    return y[(Ellipsis, *(slice(lo, y.shape[2 + i] - hi) for i, (lo, hi) in enumerate(padding)))]


def conv_references(torch):
    """{op name: reference} for conv, conv_transpose, conv_weight_grad, unfold, fold, take and put."""
    functional = torch.nn.functional

    def conv(x, w, b=None, *, stride, padding, dilation, groups):
        if not _symmetric(padding):
            x, padding = functional.pad(x, _flat_padding(padding)), ((0, 0),) * len(padding)
        fn = (functional.conv1d, functional.conv2d)[x.ndim - 3]
        return fn(x, w, b, stride, tuple(lo for lo, _ in padding), dilation, groups)

    def conv_transpose(x, w, b=None, *, stride, padding, dilation, groups, output_size):
        """No padding, output_padding to reach the padded size, then the padding cut off."""
        spatial = x.ndim - 2
        full = conv_ops.transposed_output_size(
            x.shape[2:], w.shape[2:], stride, (0,) * spatial, dilation, (0,) * spatial
        )
        wanted = [n + lo + hi for n, (lo, hi) in zip(output_size, padding)]
        fn = (functional.conv_transpose1d, functional.conv_transpose2d)[spatial - 1]
        y = fn(x, w, b, stride, 0, tuple(n - m for n, m in zip(wanted, full)), groups, dilation)
        return _crop_padding(y, padding)

    def conv_weight_grad(x, g, *, kernel_size, stride, padding, dilation, groups):
        shape = (g.shape[1], x.shape[1] // groups, *kernel_size)
        weight = torch.zeros(shape, dtype=x.dtype, requires_grad=True)
        y = conv(x, weight, stride=stride, padding=padding, dilation=dilation, groups=groups)
        (result,) = torch.autograd.grad(y, weight, g, create_graph=True)
        return result

    def unfold(x, *, kernel_size, stride, padding, dilation):
        return functional.unfold(functional.pad(x, _flat_padding(padding)), kernel_size, dilation, 0, stride)

    def fold(columns, *, output_size, kernel_size, stride, padding, dilation):
        padded = [n + lo + hi for n, (lo, hi) in zip(output_size, padding)]
        return _crop_padding(functional.fold(columns, padded, kernel_size, dilation, 0, stride), padding)

    def take(x, *, positions):
        return torch.take(x, torch.as_tensor(positions))

    def put(x, *, positions, shape):
        return torch.zeros(shape, dtype=x.dtype).put(torch.as_tensor(positions), x)

    return {
        "conv": conv,
        "conv_transpose": conv_transpose,
        "conv_weight_grad": conv_weight_grad,
        "unfold": unfold,
        "fold": fold,
        "take": take,
        "put": put,
    }
