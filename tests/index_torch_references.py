"""PyTorch references of the indexing and shape registry ops (autograd_core/index_ops.py), for the TORCH
table of tests/test_ops_registry.py. The rows take numpy index arrays and normalised attributes (`axis`,
`axes`, `k`); each reference takes torch tensors and those attributes.

Importable without torch (the table is built only when torch is installed)."""


def index_references(torch):
    """{op name: reference} for every row of autograd_core/index_ops.py."""

    def scatter(x, src, *, index, axis):
        index = torch.as_tensor(index)
        return x.scatter(axis, index, src.item()) if src.ndim == 0 else x.scatter(axis, index, src)

    def scatter_reduce(x, src, *, index, axis, reduce, include_self):
        return x.scatter_reduce(axis, torch.as_tensor(index), src, reduce, include_self=include_self)

    def roll(x, *, shifts, axes):
        return torch.roll(x, shifts) if axes is None else torch.roll(x, shifts, axes)

    return {
        "gather": lambda x, *, index, axis: torch.gather(x, axis, torch.as_tensor(index)),
        "scatter": scatter,
        "scatter_reduce": scatter_reduce,
        "scatter_prod": scatter_reduce,
        "scatter_extreme": scatter_reduce,
        "index_add": lambda x, src, *, index, axis, alpha: x.index_add(axis, torch.as_tensor(index), src, alpha=alpha),
        "index_copy": lambda x, src, *, index, axis: x.index_copy(axis, torch.as_tensor(index), src),
        "masked_fill": lambda x, value, *, mask: x.masked_fill(torch.as_tensor(mask), value),
        "flip": lambda x, *, axes: torch.flip(x, axes),
        "roll": roll,
        "diagonal": lambda x, *, offset, axis1, axis2: torch.diagonal(x, offset, axis1, axis2),
        "diag_embed": lambda x, *, offset, axis1, axis2, shape: torch.diagonal_scatter(
            torch.zeros(shape, dtype=x.dtype), x, offset, axis1, axis2
        ),
        "tril": lambda x, *, k: torch.tril(x, k),
        "triu": lambda x, *, k: torch.triu(x, k),
        "einsum": lambda *xs, equation: torch.einsum(equation, *xs),
    }
