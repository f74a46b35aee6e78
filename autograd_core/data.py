"""Datasets, batching and splits (PyTorch's `torch.utils.data`, trimmed to what a training loop needs).

A dataset is anything with `__len__` and `__getitem__` returning one sample
(a Tensor, a numpy array, a number, or a tuple of those). `DataLoader` turns a
dataset into batches: each field of the samples stacked along a new first axis.

Randomness: every shuffle draws from a `numpy.random.Generator`. With `seed=`
given it is `np.random.default_rng(seed)`, so the result is the same on every
run; with `seed=None` it comes from `ag.default_generator.rng`, so
`ag.manual_seed(n)` makes it reproducible too.

A sampler (`DataLoader(..., sampler=)`) is any object with `__len__` whose
iteration yields dataset indices; `DistributedSampler` gives each process of a
data-parallel job its own share of the dataset.
"""

from __future__ import annotations

import abc
import itertools
import math
import numbers
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

import numpy as np

import autograd_core as ag


def make_generator(seed: int | None, where: str) -> np.random.Generator:
    """The generator a random helper draws from: `default_rng(seed)`, or the project's when seed is None."""
    if seed is None:
        return ag.default_generator.rng
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"{where}: seed must be an int or None, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"{where}: seed must be non-negative, got {seed}")
    return np.random.default_rng(int(seed))


def _check_int(value, name, where, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{where}: {name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{where}: {name} must be >= {minimum}, got {value}")
    return int(value)


def _check_bool(value, name, where):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{where}: {name} must be a bool, got {type(value).__name__}")
    return bool(value)


class DatasetLike(Protocol):
    """What the loaders and splits accept: `len(ds)` and `ds[i]` (a `Dataset`, a list, ...)."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int, /) -> Any: ...


class Dataset(abc.ABC):
    """Base class for map-style datasets: `len(ds)` samples, `ds[i]` the i-th one."""

    @abc.abstractmethod
    def __len__(self) -> int: ...

    @abc.abstractmethod
    def __getitem__(self, index: int) -> Any: ...


class TensorDataset(Dataset):
    """Samples are slices along the first axis of tensors that share that axis.

    `TensorDataset(X, y)[i] == (X[i], y[i])`. Numpy arrays are wrapped as
    Tensors (keeping their dtype).
    """

    def __init__(self, *tensors: ag.Tensor | np.ndarray) -> None:
        if not tensors:
            raise ValueError("TensorDataset: needs at least one tensor")
        self.tensors = tuple(t if isinstance(t, ag.Tensor) else ag.tensor(np.asarray(t)) for t in tensors)
        shapes = [t.shape for t in self.tensors]
        if any(len(shape) == 0 for shape in shapes):
            raise ValueError(f"TensorDataset: every tensor needs a first (sample) axis, got shapes {shapes}")
        if len({shape[0] for shape in shapes}) != 1:
            raise ValueError(f"TensorDataset: tensors must have the same size in the first axis, got shapes {shapes}")

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    def __getitem__(self, index: int) -> tuple[ag.Tensor, ...]:
        return tuple(t[index] for t in self.tensors)


class Subset(Dataset):
    """The samples of `dataset` at `indices`, in that order."""

    def __init__(self, dataset: DatasetLike, indices: Sequence[int] | np.ndarray) -> None:
        _check_dataset(dataset, "Subset")
        indices = np.asarray(indices)
        if indices.ndim != 1 or not (indices.size == 0 or np.issubdtype(indices.dtype, np.integer)):
            raise TypeError(
                f"Subset: indices must be a 1-D sequence of ints, got an array of shape "
                f"{indices.shape} and dtype {indices.dtype}"
            )
        n = len(dataset)
        out_of_range = indices[(indices < 0) | (indices >= n)]
        if out_of_range.size:
            raise ValueError(f"Subset: indices {out_of_range[:5].tolist()} out of range for a dataset of length {n}")
        self.dataset = dataset
        self.indices = indices.astype(np.int64)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> Any:
        return self.dataset[int(self.indices[index])]


def _check_dataset(dataset, where):
    if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
        raise TypeError(
            f"{where}: expected a dataset (an object with __len__ and __getitem__), got {type(dataset).__name__}"
        )


def _tensor_columns(dataset):
    """`(tensors, rows)` when `dataset` is a TensorDataset or a chain of Subsets of one, else None.

    `rows[i]` is the row of the tensors holding sample i, so a whole batch is
    one fancy-index per tensor instead of a Python loop over samples.
    """
    rows = None
    while isinstance(dataset, Subset):
        rows = dataset.indices if rows is None else dataset.indices[rows]
        dataset = dataset.dataset
    if type(dataset) is not TensorDataset:  # a subclass may override __getitem__
        return None
    if rows is None:
        rows = np.arange(len(dataset))
    return dataset.tensors, rows


class _RaggedField(ValueError):
    """Samples whose values in one field have different shapes; DataLoader turns it into an error naming itself."""

    def __init__(self, shapes, field=None):
        super().__init__(shapes, field)
        self.shapes, self.field = shapes, field  # field: its index in tuple samples, None for single values


def _collate_field(values):
    """Stack one field of a list of samples along a new first axis."""
    first = values[0]
    if isinstance(first, (ag.Tensor, np.ndarray)):
        shapes = [np.shape(value.data if isinstance(value, ag.Tensor) else value) for value in values]
        if any(shape != shapes[0] for shape in shapes):
            raise _RaggedField(shapes)
    if isinstance(first, ag.Tensor):
        return ag.stack(values)
    if isinstance(first, (np.ndarray, np.generic)):
        return ag.tensor(np.stack(values))
    if isinstance(first, numbers.Number):
        return ag.tensor(list(values))  # python floats take the default dtype, as in ag.tensor
    raise TypeError(
        f"DataLoader: cannot batch samples of type {type(first).__name__}; a dataset item must be "
        f"a Tensor, a numpy array, a number, or a tuple of those"
    )


def _collate(samples):
    """One batch from a list of samples: each field stacked along a new first axis (the default `collate_fn`)."""
    if isinstance(samples[0], (tuple, list)):
        fields = list(zip(*samples))
        collated = []
        for index, field in enumerate(fields):
            try:
                collated.append(_collate_field(field))
            except _RaggedField as ragged:
                raise _RaggedField(ragged.shapes, field=index) from None
        return tuple(collated)
    return _collate_field(samples)


def _ragged_batch_error(loader, batch_number, indices, ragged):
    counts = {}
    for shape in ragged.shapes:
        counts[shape] = counts.get(shape, 0) + 1
    listed = ", ".join(f"{shape} x{count}" for shape, count in list(counts.items())[:6])
    more = f" and {len(counts) - 6} more" if len(counts) > 6 else ""
    where = "its samples" if ragged.field is None else f"field {ragged.field} of its samples"
    shown_indices = ", ".join(str(int(i)) for i in indices[:8]) + (", ..." if len(indices) > 8 else "")
    return ValueError(
        f"DataLoader over {type(loader.dataset).__name__}: batch {batch_number} (dataset indices {shown_indices}) "
        f"cannot be stacked: {where} have different shapes: {listed}{more}. Pad the samples to one shape in "
        "the dataset, pass a collate_fn that batches them (pads them, or returns them as a list), or use "
        "batch_size=1"
    )


class DataLoader:
    """Iterate over a dataset in batches.

    Each batch stacks the samples along a new first axis: a dataset of
    `(x, y)` tuples gives `(X_batch, y_batch)` tuples of Tensors; a dataset of
    single Tensors gives single Tensors (as PyTorch). With `shuffle=True`
    every `iter(loader)` (every epoch) draws a new permutation from the
    loader's own generator, so two loaders built with the same `seed` give the
    same sequence of epochs. `len(loader)` is the number of batches.

    With `sampler=` the batches take the samples in the order the sampler
    yields them (one pass over the sampler per epoch); it replaces `shuffle`.
    `collate_fn(list of samples)`, if given, makes each batch instead of the
    default stacking (e.g. to pad samples of different lengths). Samples the
    default cannot stack (arrays of different shapes) raise a ValueError
    naming the batch, its indices and the shapes.
    """

    def __init__(
        self,
        dataset: DatasetLike,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        seed: int | None = None,
        sampler: Any = None,
        collate_fn: Callable[[list[Any]], Any] | None = None,
    ) -> None:
        _check_dataset(dataset, "DataLoader")
        self.dataset = dataset
        self.batch_size = _check_int(batch_size, "batch_size", "DataLoader", minimum=1)
        self.shuffle = _check_bool(shuffle, "shuffle", "DataLoader")
        self.drop_last = _check_bool(drop_last, "drop_last", "DataLoader")
        if sampler is not None:
            if not (hasattr(sampler, "__iter__") and hasattr(sampler, "__len__")):
                raise TypeError(
                    f"DataLoader: sampler must be an iterable of indices with a length, got {type(sampler).__name__}"
                )
            if self.shuffle:
                raise ValueError(
                    "DataLoader: sampler and shuffle=True are mutually exclusive (the sampler decides "
                    "the order; e.g. DistributedSampler(shuffle=True))"
                )
        self.sampler = sampler
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(
                f"DataLoader: collate_fn must be a callable taking a list of samples, got {type(collate_fn).__name__}"
            )
        self.collate_fn = collate_fn
        generator = make_generator(seed, "DataLoader")
        if seed is None and self.shuffle:
            # A generator of its own, seeded once from the project's: other draws
            # between epochs then do not change the order of the next epoch.
            generator = np.random.default_rng(generator.integers(2**63))
        self.generator = generator

    def __len__(self) -> int:
        return self._batch_count(len(self.dataset) if self.sampler is None else len(self.sampler))

    def _batch_count(self, samples):
        full, partial = divmod(samples, self.batch_size)
        return full if self.drop_last or partial == 0 else full + 1

    def _order(self):
        if self.sampler is not None:
            return np.fromiter(self.sampler, dtype=np.int64)
        n = len(self.dataset)
        return self.generator.permutation(n) if self.shuffle else np.arange(n)

    def _batch_orders(self):
        order = self._order()
        for start in range(0, self._batch_count(len(order)) * self.batch_size, self.batch_size):
            yield order[start : start + self.batch_size]

    def __iter__(self) -> Iterator[Any]:
        columns = _tensor_columns(self.dataset) if self.collate_fn is None else None
        if columns is None:
            for number, batch in enumerate(self._batch_orders()):
                samples = [self.dataset[int(i)] for i in batch]
                if self.collate_fn is not None:
                    yield self.collate_fn(samples)
                    continue
                try:
                    collated = _collate(samples)
                except _RaggedField as ragged:
                    raise _ragged_batch_error(self, number, batch, ragged) from None
                yield collated
            return
        tensors, rows = columns
        for batch in self._batch_orders():
            yield tuple(t[rows[batch]] for t in tensors)


class DistributedSampler:
    """The indices that one rank of a data-parallel job takes from `dataset` each epoch (PyTorch's rule).

    Every epoch orders the indices `0..n-1` (permuted by `default_rng(seed + epoch)` when `shuffle`, so
    that all ranks draw the same permutation) and deals them out to the `num_replicas` ranks like cards:
    rank r takes positions r, r + R, r + 2R, ... The shards are disjoint and each holds
    `len(sampler)` indices. When R does not divide n, `drop_last=False` first pads the order with its own
    first indices up to a multiple of R (a few samples count twice in the epoch), and `drop_last=True`
    cuts its tail down to one (a few are left out). Call `set_epoch(e)` before each epoch for a new
    permutation. `num_replicas` and `rank` default to `ag.distributed.world_size()` and `rank()`.
    """

    def __init__(
        self,
        dataset: DatasetLike,
        num_replicas: int | None = None,
        rank: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        where = "DistributedSampler"
        _check_dataset(dataset, where)
        if num_replicas is None or rank is None:
            from . import distributed

            num_replicas = distributed.world_size() if num_replicas is None else num_replicas
            rank = distributed.rank() if rank is None else rank
        self.num_replicas = _check_int(num_replicas, "num_replicas", where, minimum=1)
        self.rank = _check_int(rank, "rank", where, minimum=0)
        if self.rank >= self.num_replicas:
            raise ValueError(
                f"{where}: rank must lie in [0, {self.num_replicas - 1}] for num_replicas="
                f"{self.num_replicas}, got {self.rank}"
            )
        self.shuffle = _check_bool(shuffle, "shuffle", where)
        self.seed = _check_int(seed, "seed", where, minimum=0)
        self.drop_last = _check_bool(drop_last, "drop_last", where)
        self.dataset = dataset
        self.epoch = 0
        n = len(dataset)
        self.num_samples = n // self.num_replicas if self.drop_last else -(-n // self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch: int) -> None:
        """Use the permutation of epoch `epoch` (the same on every rank that is given the same epoch)."""
        self.epoch = _check_int(epoch, "epoch", "DistributedSampler.set_epoch", minimum=0)

    def __len__(self) -> int:
        return self.num_samples

    def __iter__(self) -> Iterator[int]:
        n = len(self.dataset)
        order = np.random.default_rng(self.seed + self.epoch).permutation(n) if self.shuffle else np.arange(n)
        # np.resize cuts the tail (drop_last) or repeats the order from its start (PyTorch's padding).
        order = np.resize(order, self.total_size)
        return iter(order[self.rank :: self.num_replicas].tolist())


def random_split(dataset: DatasetLike, lengths: Sequence[float], seed: int | None = None) -> list[Subset]:
    """Split `dataset` into non-overlapping random `Subset`s of the given lengths.

    `lengths` are either ints summing to `len(dataset)`, or fractions summing
    to 1; fractions become `floor(n * f)` samples each, and the remaining
    samples are handed out one at a time round-robin from the first split
    (PyTorch's rule).
    """
    _check_dataset(dataset, "random_split")
    n = len(dataset)
    lengths = list(lengths)
    if not lengths:
        raise ValueError("random_split: lengths is empty")
    if all(isinstance(x, numbers.Integral) and not isinstance(x, bool) for x in lengths):
        if any(x < 0 for x in lengths) or sum(lengths) != n:
            raise ValueError(f"random_split: lengths {lengths} must be non-negative and sum to the dataset length {n}")
        sizes = [int(x) for x in lengths]
    elif all(isinstance(x, numbers.Real) and not isinstance(x, bool) for x in lengths):
        if any(not 0 <= x <= 1 for x in lengths) or not math.isclose(sum(lengths), 1):
            raise ValueError(f"random_split: fractions {lengths} must each lie in [0, 1] and sum to 1")
        sizes = [math.floor(n * x) for x in lengths]
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
    else:
        raise TypeError(f"random_split: lengths must be ints or fractions, got {lengths}")
    order = make_generator(seed, "random_split").permutation(n)
    bounds = np.cumsum([0] + sizes)
    return [Subset(dataset, order[lo:hi]) for lo, hi in itertools.pairwise(bounds)]


def kfold(n: int, k: int = 5, shuffle: bool = True, seed: int | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """K-fold cross-validation indices: yields `(train_idx, val_idx)` k times.

    The k validation folds are disjoint, cover `0..n-1`, and their sizes differ
    by at most one (the first `n % k` folds hold one extra sample); each
    `train_idx` is the complement of its `val_idx`. Both are sorted int64
    arrays. Arguments are checked when `kfold` is called, not on first use.
    """
    n = _check_int(n, "n", "kfold", minimum=2)
    k = _check_int(k, "k", "kfold", minimum=2)
    if k > n:
        raise ValueError(f"kfold: k must lie in [2, n], got k={k} for n={n}")
    shuffle = _check_bool(shuffle, "shuffle", "kfold")
    order = make_generator(seed, "kfold").permutation(n) if shuffle else np.arange(n)
    sizes = np.full(k, n // k)
    sizes[: n % k] += 1
    bounds = np.cumsum(np.concatenate([[0], sizes]))
    return (_train_val(order[lo:hi], n) for lo, hi in itertools.pairwise(bounds))


def _train_val(val_rows, n):
    in_val = np.zeros(n, dtype=bool)
    in_val[val_rows] = True
    return np.flatnonzero(~in_val).astype(np.int64), np.flatnonzero(in_val).astype(np.int64)
