"""Datasets, samplers, batching and splits: PyTorch's `torch.utils.data`.

A map-style dataset is anything with `__len__` and `__getitem__` returning one
sample (a Tensor, a numpy array, a number, a string, or a tuple, list or dict
of those): `Dataset` (the base class), `TensorDataset`, `Subset`,
`ConcatDataset` (also `ds1 + ds2`).

A sampler yields dataset indices, lazily (a huge or endless sampler costs no
memory up front): `SequentialSampler`, `RandomSampler(replacement,
num_samples)`, `SubsetRandomSampler`, `WeightedRandomSampler`, and
`DistributedSampler` (each process of a data-parallel job its own share).
`BatchSampler` groups the indices of a sampler into lists, one per batch.

`DataLoader` turns a dataset into batches as PyTorch's does: the indices of
its batch sampler fetched and put together by `collate_fn` (by default
`default_collate`, which stacks each field of the samples along a new first
axis; with `batch_size=None` each sample is passed through `default_convert`
instead). With `num_workers > 0` the batches are made in worker processes
(`get_worker_info()` inside one) and come back in the sampler's order,
the same batches as in the main process.

Randomness. A random sampler draws from its `generator=`: a
`ag.Generator`, a `numpy.random.Generator`, or None for
the project's global generator, so that `ag.manual_seed(n)` makes it
reproducible (as in PyTorch, an unseeded epoch takes a fresh seed from the
global generator when it starts). `DataLoader(seed=n)` is
`generator=np.random.default_rng(n)`. `DataLoader.state_dict()` holds the state
of the generators its epochs draw from; `nn.utils.fit` saves it in its
checkpoints, so a resumed run shuffles its next epochs as the uninterrupted
one would. `random_split` and `kfold` split a dataset for validation.
"""

from __future__ import annotations

import abc
import bisect
import collections.abc
import dataclasses
import itertools
import math
import multiprocessing
import multiprocessing.context
import numbers
import pickle
import queue
import time
import traceback
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Generic, Protocol, TypeVar

import numpy as np

import autograd_core as ag

# Random indices are drawn this many at a time, so that a sampler of 10**10 draws starts at once and
# holds one chunk in memory, never the whole sequence.
_CHUNK = 4096
# How often (seconds) a loader waiting for a worker's batch checks that the workers are still alive.
_WORKER_CHECK_INTERVAL = 0.2
# How long (seconds) a worker asked to stop gets to exit before it is terminated.
_WORKER_EXIT_GRACE = 2.0


# ---- argument checks and random generators ---------------------------------------------------------


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


def make_generator(seed: int | None, where: str) -> np.random.Generator:
    """The generator a random helper draws from: `default_rng(seed)`, or the project's when seed is None."""
    if seed is None:
        return _global_rng()
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"{where}: seed must be an int or None, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"{where}: seed must be non-negative, got {seed}")
    return np.random.default_rng(int(seed))


def _numpy_rng(generator: Any, where: str) -> np.random.Generator | None:
    """The numpy Generator that `generator` draws with: itself, an `ag.Generator`'s (read at each draw:
    `manual_seed` replaces it), or None."""
    if generator is None or isinstance(generator, np.random.Generator):
        return generator
    if isinstance(generator, ag.Generator):
        return generator.rng
    raise TypeError(
        f"{where}: generator must be an ag.Generator, a numpy Generator or None, got {type(generator).__name__}"
    )


def _global_rng() -> np.random.Generator:
    return ag.default_generator.rng


def _check_generator(generator: Any, where: str) -> Any:
    """`generator` as a sampler or loader keeps it; an int (a seed, as `make_generator` takes) becomes one."""
    if isinstance(generator, numbers.Integral) and not isinstance(generator, bool):
        return make_generator(int(generator), where)
    _numpy_rng(generator, where)
    return generator


def _epoch_rng(generator: Any) -> np.random.Generator:
    """The numpy Generator one pass of a random sampler draws from.

    Without a generator, a new one seeded from the global generator (PyTorch's rule): the pass is then
    fixed when it starts, whatever else draws from the global generator while it runs.
    """
    rng = _numpy_rng(generator, "sampler")
    return rng if rng is not None else np.random.default_rng(int(_global_rng().integers(2**63)))


def _chunks(values: np.ndarray) -> Iterator[int]:
    """The elements of a 1-D array as Python ints, converted a chunk at a time."""
    for start in range(0, len(values), _CHUNK):
        yield from values[start : start + _CHUNK].tolist()


# ---- datasets --------------------------------------------------------------------------------------


class DatasetLike(Protocol):
    """What the loaders and splits accept: `len(ds)` and `ds[i]` (a `Dataset`, a list, ...)."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int, /) -> Any: ...


def _check_dataset(dataset, where):
    if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
        raise TypeError(
            f"{where}: expected a dataset (an object with __len__ and __getitem__), got {type(dataset).__name__}"
        )


class Dataset(abc.ABC):
    """Base class for map-style datasets: `len(ds)` samples, `ds[i]` the i-th one; `ds1 + ds2` concatenates."""

    @abc.abstractmethod
    def __len__(self) -> int: ...

    @abc.abstractmethod
    def __getitem__(self, index: int) -> Any: ...

    def __add__(self, other: DatasetLike) -> ConcatDataset:
        return ConcatDataset([self, other])


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


class ConcatDataset(Dataset):
    """The samples of several datasets one after the other.

    `cumulative_sizes[k]` is the number of samples in the first k + 1
    datasets; index i is looked up in the dataset where it falls. Negative
    indices count from the end; an index outside `[-len, len)` raises
    IndexError.
    """

    def __init__(self, datasets: Iterable[DatasetLike]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets is empty; give at least one dataset")
        for dataset in self.datasets:
            _check_dataset(dataset, "ConcatDataset")
        self.cumulative_sizes = list(itertools.accumulate(len(dataset) for dataset in self.datasets))

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index: int) -> Any:
        if isinstance(index, bool) or not isinstance(index, numbers.Integral):
            raise TypeError(f"ConcatDataset: index must be an int, got {type(index).__name__}")
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"ConcatDataset: index {index} is out of range for a dataset of length {n}")
        index = int(index) + n if index < 0 else int(index)
        which = bisect.bisect_right(self.cumulative_sizes, index)
        start = self.cumulative_sizes[which - 1] if which else 0
        return self.datasets[which][index - start]


# ---- samplers ---------------------------------------------------------------------------------------

_T_co = TypeVar("_T_co", covariant=True)


class Sampler(Generic[_T_co]):
    """Base class of samplers: iterating one yields dataset indices (a batch sampler: lists of them).

    A subclass defines `__iter__`, and `__len__` when it knows its length
    (a DataLoader needs it). `data_source` is accepted, as PyTorch does, and
    not used.
    """

    def __init__(self, data_source: Any = None) -> None:
        pass

    def __iter__(self) -> Iterator[_T_co]:
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")


class SequentialSampler(Sampler[int]):
    """The indices 0, 1, ..., len(data_source) - 1, in order."""

    def __init__(self, data_source: DatasetLike) -> None:
        _check_dataset(data_source, "SequentialSampler")
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler[int]):
    """Random indices of `data_source`: a permutation, or draws with replacement.

    Without replacement each pass yields a permutation of the dataset; with
    `num_samples` larger than the dataset, permutations follow one another
    (the last one cut short), as in PyTorch. With `replacement=True` it yields
    `num_samples` independent uniform draws, made a chunk at a time: any
    number of them costs no memory up front. Every pass (epoch) draws anew
    from `generator` (see the module docstring).
    """

    def __init__(
        self,
        data_source: DatasetLike,
        replacement: bool = False,
        num_samples: int | None = None,
        generator: Any = None,
    ) -> None:
        where = "RandomSampler"
        _check_dataset(data_source, where)
        self.data_source = data_source
        self.replacement = _check_bool(replacement, "replacement", where)
        if len(data_source) == 0:
            raise ValueError(f"{where}: the dataset is empty, so there is nothing to sample from")
        self._num_samples = None if num_samples is None else _check_int(num_samples, "num_samples", where, 1)
        self.generator = _check_generator(generator, where)

    @property
    def num_samples(self) -> int:
        """How many indices one pass yields: `num_samples`, or the dataset's length when not given."""
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __len__(self) -> int:
        return self.num_samples

    def __iter__(self) -> Iterator[int]:
        rng = _epoch_rng(self.generator)
        n = len(self.data_source)
        if self.replacement:
            for start in range(0, self.num_samples, _CHUNK):
                yield from rng.integers(n, size=min(_CHUNK, self.num_samples - start)).tolist()
            return
        full, rest = divmod(self.num_samples, n)
        for _ in range(full):
            yield from _chunks(rng.permutation(n))
        if rest:
            yield from _chunks(rng.permutation(n)[:rest])


class SubsetRandomSampler(Sampler[int]):
    """The given indices in a random order (a new one every pass)."""

    def __init__(self, indices: Sequence[int], generator: Any = None) -> None:
        if not (hasattr(indices, "__len__") and hasattr(indices, "__getitem__")):
            raise TypeError(f"SubsetRandomSampler: indices must be a sequence of ints, got {type(indices).__name__}")
        self.indices = indices
        self.generator = _check_generator(generator, "SubsetRandomSampler")

    def __iter__(self) -> Iterator[int]:
        for position in _chunks(_epoch_rng(self.generator).permutation(len(self.indices))):
            yield self.indices[position]

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler[int]):
    """`num_samples` indices in `[0, len(weights))`, index i drawn with probability `weights[i] / sum(weights)`.

    The weights need not sum to one; they must be a 1-D sequence of finite,
    non-negative numbers, not all zero. With `replacement=False` no index is
    drawn twice, so `num_samples` can be at most the number of non-zero
    weights. Draws with replacement are made a chunk at a time.
    """

    def __init__(
        self,
        weights: Sequence[float] | np.ndarray | ag.Tensor,
        num_samples: int,
        replacement: bool = True,
        generator: Any = None,
    ) -> None:
        where = "WeightedRandomSampler"
        try:
            values = np.asarray(weights, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(
                f"{where}: weights must be a 1-D sequence of numbers, got {type(weights).__name__}"
            ) from None
        if values.ndim != 1 or values.size == 0:
            raise ValueError(f"{where}: weights must be a non-empty 1-D sequence, got shape {values.shape}")
        if not np.all(np.isfinite(values)):
            raise ValueError(f"{where}: weights must be finite, got {values[~np.isfinite(values)][:5].tolist()}")
        if np.any(values < 0):
            raise ValueError(f"{where}: weights must be non-negative, got {values[values < 0][:5].tolist()}")
        nonzero = int(np.count_nonzero(values))
        if nonzero == 0:
            raise ValueError(f"{where}: weights are all zero, so no index can be drawn")
        self.num_samples = _check_int(num_samples, "num_samples", where, 1)
        self.replacement = _check_bool(replacement, "replacement", where)
        if not self.replacement and self.num_samples > nonzero:
            raise ValueError(
                f"{where}: without replacement num_samples must be at most the number of non-zero weights "
                f"({nonzero}), got {self.num_samples}"
            )
        self.weights = ag.tensor(values)
        self.generator = _check_generator(generator, where)
        self._cumulative = np.cumsum(values)
        self._last_drawable = int(np.flatnonzero(values)[-1])

    def __len__(self) -> int:
        return self.num_samples

    def __iter__(self) -> Iterator[int]:
        rng = _epoch_rng(self.generator)
        if not self.replacement:
            probabilities = np.diff(self._cumulative, prepend=0.0) / self._cumulative[-1]
            yield from _chunks(rng.choice(len(probabilities), self.num_samples, replace=False, p=probabilities))
            return
        for start in range(0, self.num_samples, _CHUNK):
            targets = rng.random(min(_CHUNK, self.num_samples - start)) * self._cumulative[-1]
            # Index i covers [cumulative[i-1], cumulative[i]): empty for a zero weight, so never drawn; the
            # cap keeps a target rounded up to the total on the last drawable index.
            drawn = np.minimum(np.searchsorted(self._cumulative, targets, side="right"), self._last_drawable)
            yield from drawn.tolist()


class BatchSampler(Sampler[list[int]]):
    """The indices of `sampler` in lists of `batch_size` (the last one shorter unless `drop_last`)."""

    def __init__(self, sampler: Iterable[int], batch_size: int, drop_last: bool) -> None:
        where = "BatchSampler"
        if not hasattr(sampler, "__iter__"):
            raise TypeError(f"{where}: sampler must be an iterable of indices, got {type(sampler).__name__}")
        self.sampler = sampler
        self.batch_size = _check_int(batch_size, "batch_size", where, 1)
        self.drop_last = _check_bool(drop_last, "drop_last", where)

    def __iter__(self) -> Iterator[list[int]]:
        indices = iter(self.sampler)
        while batch := list(itertools.islice(indices, self.batch_size)):
            if len(batch) < self.batch_size and self.drop_last:
                return
            yield batch

    def __len__(self) -> int:
        full, partial = divmod(len(self.sampler), self.batch_size)  # type: ignore[arg-type]
        return full if self.drop_last or partial == 0 else full + 1


class DistributedSampler(Sampler[int]):
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
        return _chunks(order[self.rank :: self.num_replicas])


# ---- collation ------------------------------------------------------------------------------------------


def default_convert(data: Any) -> Any:
    """One sample as a `DataLoader(batch_size=None)` yields it (PyTorch's `default_convert`).

    Numpy arrays and numpy scalars become Tensors (string and object arrays
    stay as they are), tuples become lists, and lists, dicts and named
    tuples are converted element by element; everything else (Tensors,
    Python numbers, strings) is returned unchanged.
    """
    if isinstance(data, ag.Tensor):
        return data
    if isinstance(data, np.ndarray):
        return data if _is_text_or_object(data.dtype) else ag.as_tensor(data)
    if isinstance(data, (np.bool_, np.number)):
        return ag.as_tensor(data)
    if isinstance(data, collections.abc.Mapping):
        return _rebuilt_mapping(data, {key: default_convert(value) for key, value in data.items()})
    if isinstance(data, tuple) and hasattr(data, "_fields"):  # a named tuple keeps its type
        return type(data)(*(default_convert(value) for value in data))
    if isinstance(data, tuple):
        return [default_convert(value) for value in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        return _rebuilt_sequence(data, [default_convert(value) for value in data])
    return data


def _is_text_or_object(dtype):
    return dtype.kind in "SUOV"


def _rebuilt_mapping(like, items):
    """`items` as a mapping of the type of `like` when that type can be built from a dict, else a dict."""
    try:
        return type(like)(items)
    except TypeError:
        return items


def _rebuilt_sequence(like, items):
    try:
        return type(like)(items)
    except TypeError:
        return items


class _RaggedField(ValueError):
    """Samples whose values in one field differ in shape (or length); DataLoader names its batch in the error."""

    def __init__(self, sizes, path, what):
        super().__init__(sizes, path, what)
        self.sizes, self.path, self.what = sizes, path, what  # path: the keys leading to the field in a sample

    def description(self):
        counts = collections.Counter(self.sizes)
        listed = ", ".join(f"{size} x{count}" for size, count in list(counts.items())[:6])
        more = f" and {len(counts) - 6} more" if len(counts) > 6 else ""
        field = ".".join(str(key) if isinstance(key, int) else repr(key) for key in self.path)
        where = f"field {field} of its samples" if self.path else "its samples"
        return f"{where} have different {self.what}: {listed}{more}"

    def __str__(self):
        return f"default_collate: {self.description()}"


def default_collate(batch: Sequence[Any]) -> Any:
    """One batch from a list of samples (PyTorch's `default_collate`, the default `collate_fn`).

    Tensors and numpy arrays are stacked along a new first axis into a Tensor
    (keeping their dtype); numpy scalars become a Tensor of their dtype,
    Python floats a float64 Tensor and Python ints an int64 one (bools a bool
    one); strings stay a list. Tuples, lists, named tuples and dicts are
    collated field by field: a batch of `(x, y)` tuples gives the list
    `[X, Y]`, a batch of dicts a dict of batches. Samples whose arrays differ
    in shape raise a ValueError naming the field and the shapes.
    """
    batch = list(batch)
    if not batch:
        raise ValueError("default_collate: the batch is empty")
    return _collate(batch, ())


def _collate(batch, path):
    first = batch[0]
    if isinstance(first, (ag.Tensor, np.ndarray)):
        shapes = [tuple(np.shape(value)) for value in batch]
        if any(shape != shapes[0] for shape in shapes):
            raise _RaggedField(shapes, path, "shapes")
        if isinstance(first, ag.Tensor):
            return ag.stack(batch)
        if _is_text_or_object(first.dtype):
            raise _uncollatable(f"numpy array of dtype {first.dtype}", path)
        return ag.tensor(np.stack(batch))
    if isinstance(first, (np.bool_, np.number)):
        return ag.tensor(np.asarray(batch))
    if isinstance(first, float):
        return ag.tensor(np.asarray(batch, dtype=np.float64))
    if isinstance(first, int):  # bools included: they stay bool, as in PyTorch
        return ag.tensor(np.asarray(batch))
    if isinstance(first, (str, bytes)):
        return batch
    if isinstance(first, collections.abc.Mapping):
        return _rebuilt_mapping(
            first, {key: _collate([sample[key] for sample in batch], (*path, key)) for key in first}
        )
    if isinstance(first, collections.abc.Sequence):
        lengths = [len(sample) for sample in batch]
        if any(length != lengths[0] for length in lengths):
            raise _RaggedField(lengths, path, "lengths")
        fields = [_collate(list(values), (*path, i)) for i, values in enumerate(zip(*batch))]
        if isinstance(first, tuple) and hasattr(first, "_fields"):  # a named tuple keeps its type
            return type(first)(*fields)
        return fields if isinstance(first, tuple) else _rebuilt_sequence(first, fields)
    raise _uncollatable(type(first).__name__, path)


def _uncollatable(kind, path):
    where = f" (field {'.'.join(map(str, path))})" if path else ""
    return TypeError(
        f"default_collate: cannot batch samples of type {kind}{where}; a sample must be a Tensor, a numpy "
        "array, a number, a string, or a tuple, list or dict of those. Pass a collate_fn that batches them"
    )


def _shown_indices(indices):
    if not isinstance(indices, list):
        return str(indices)
    return ", ".join(str(i) for i in indices[:8]) + (", ..." if len(indices) > 8 else "")


def _ragged_batch_error(dataset, batch_number, indices, ragged):
    return ValueError(
        f"DataLoader over {type(dataset).__name__}: batch {batch_number} (dataset indices "
        f"{_shown_indices(indices)}) cannot be stacked: {ragged.description()}. Pad the samples to one shape "
        "in the dataset, pass a collate_fn that batches them (pads them, or returns them as a list), or use "
        "batch_size=1"
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


class _Fetcher:
    """Makes a batch from its dataset indices, in the main process or in a worker (picklable for spawn)."""

    def __init__(self, dataset, collate_fn, auto_collation):
        self.dataset, self.collate_fn, self.auto_collation = dataset, collate_fn, auto_collation
        self.columns = _tensor_columns(dataset) if auto_collation and collate_fn is default_collate else None

    def __call__(self, batch_number, indices):
        try:
            if not self.auto_collation:
                return self.collate_fn(self.dataset[indices])
            if self.columns is not None:
                tensors, rows = self.columns
                return [t[rows[np.asarray(indices, dtype=np.int64)]] for t in tensors]
            return self.collate_fn([self.dataset[i] for i in indices])
        except _RaggedField as ragged:
            raise _ragged_batch_error(self.dataset, batch_number, indices, ragged) from None


# ---- worker processes ------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class WorkerInfo:
    """What `get_worker_info()` tells the code running in a DataLoader worker process."""

    id: int
    num_workers: int
    seed: int
    dataset: Any


_worker_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """In a DataLoader worker: its `id`, `num_workers`, `seed` and its copy of the `dataset`; else None."""
    return _worker_info


class _ErrorMessage(str):
    """An error message that `repr` leaves as it is (KeyError shows its argument's repr)."""

    def __repr__(self):
        return str(self)


@dataclasses.dataclass
class _WorkerFailure:
    """An exception raised in a worker, sent to the main process to be raised there."""

    worker_id: int
    where: str
    error_type: type[BaseException]
    description: str
    traceback: str

    @classmethod
    def capture(cls, worker_id, where, error):
        error_type = type(error)
        try:
            pickle.dumps(error_type)
        except Exception:  # a class the main process cannot look up (defined in a function, say)
            error_type = RuntimeError
        return cls(worker_id, where, error_type, f"{type(error).__name__}: {error}", traceback.format_exc())

    def error(self):
        message = _ErrorMessage(
            f"DataLoader worker {self.worker_id} failed {self.where}: {self.description}\n\n"
            f"The worker's traceback:\n{self.traceback}"
        )
        try:
            return self.error_type(message)
        except Exception:  # an exception class whose constructor takes other arguments
            return RuntimeError(message)


def _worker_loop(fetch, tasks, results, info, worker_init_fn):
    """A worker's life: seed, run `worker_init_fn`, then make the batches asked for until told to stop."""
    global _worker_info
    _worker_info = info
    ag.manual_seed(info.seed)
    init_failure = None
    try:
        if worker_init_fn is not None:
            worker_init_fn(info.id)
    except Exception as error:
        init_failure = _WorkerFailure.capture(info.id, "in worker_init_fn", error)
    try:
        while (task := tasks.get()) is not None:
            epoch, number, indices = task
            try:
                batch = init_failure if init_failure is not None else fetch(number, indices)
                payload = pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL)
            except Exception as error:
                where = f"on batch {number} (dataset indices {_shown_indices(indices)})"
                payload = pickle.dumps(_WorkerFailure.capture(info.id, where, error))
            results.put((epoch, number, payload))
    except KeyboardInterrupt:  # Ctrl-C reaches the whole process group: the main process handles it
        pass
    results.cancel_join_thread()  # exit even if the main process no longer reads the results


def _stop_workers(processes, tasks, results):
    for task_queue in tasks:
        task_queue.put(None)
    deadline = time.monotonic() + _WORKER_EXIT_GRACE
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.terminate()
            process.join()
    for task_queue in (*tasks, results):
        task_queue.cancel_join_thread()
        task_queue.close()


class _WorkerPool:
    """`num_workers` processes, each with its own queue of tasks, sending batches back on one queue."""

    def __init__(self, loader, base_seed):
        context = loader._context
        fetch = _Fetcher(loader.dataset, loader.collate_fn, loader._auto_collation)
        self.results = context.Queue()
        self.tasks = [context.Queue() for _ in range(loader.num_workers)]
        self.processes = []
        self.epoch = 0
        for worker_id, task_queue in enumerate(self.tasks):
            info = WorkerInfo(worker_id, loader.num_workers, base_seed + worker_id, loader.dataset)
            process = context.Process(
                target=_worker_loop,
                args=(fetch, task_queue, self.results, info, loader.worker_init_fn),
                daemon=True,
            )
            process.start()
            self.processes.append(process)
        self.stop = weakref.finalize(self, _stop_workers, self.processes, self.tasks, self.results)

    def batches(self, index_batches, prefetch_factor, timeout):
        """The batches for `index_batches`, in their order, with `prefetch_factor` tasks per worker in flight."""
        self.epoch += 1
        epoch, numbered, sent = self.epoch, enumerate(index_batches), 0

        def send_next():
            nonlocal sent
            for number, indices in itertools.islice(numbered, 1):
                self.tasks[sent % len(self.tasks)].put((epoch, number, indices))
                sent += 1

        for _ in range(prefetch_factor * len(self.tasks)):
            send_next()
        arrived = {}
        expected = 0
        while expected < sent:
            while expected not in arrived:
                result_epoch, number, payload = self._receive(expected, timeout)
                if result_epoch == epoch:  # a batch of an epoch abandoned midway is dropped
                    arrived[number] = payload
            batch = pickle.loads(arrived.pop(expected))
            expected += 1
            send_next()
            if isinstance(batch, _WorkerFailure):
                raise batch.error()
            yield batch

    def _receive(self, number, timeout):
        deadline = time.monotonic() + timeout if timeout > 0 else math.inf
        while True:
            wait = min(_WORKER_CHECK_INTERVAL, deadline - time.monotonic())
            try:
                return self.results.get(timeout=max(wait, 0.0))
            except queue.Empty:
                pass
            for worker_id, process in enumerate(self.processes):
                if not process.is_alive():
                    raise RuntimeError(
                        f"DataLoader worker {worker_id} (pid {process.pid}) exited unexpectedly with exit code "
                        f"{process.exitcode} while batch {number} was awaited"
                    )
            if time.monotonic() >= deadline:
                raise RuntimeError(f"DataLoader timed out after {timeout} seconds waiting for batch {number}")


# ---- DataLoader ------------------------------------------------------------------------------------------


def _start_method_context(value, num_workers):
    where = "DataLoader"
    if value is None:
        if num_workers == 0:
            return None
        methods = multiprocessing.get_all_start_methods()
        return multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    if num_workers == 0:
        raise ValueError(f"{where}: multiprocessing_context needs num_workers > 0, got num_workers=0")
    if isinstance(value, str):
        methods = multiprocessing.get_all_start_methods()
        if value not in methods:
            raise ValueError(f"{where}: multiprocessing_context must be one of {methods}, got {value!r}")
        return multiprocessing.get_context(value)
    if isinstance(value, multiprocessing.context.BaseContext):
        return value
    raise TypeError(
        f"{where}: multiprocessing_context must be a start method name or a multiprocessing context, "
        f"got {type(value).__name__}"
    )


def _check_callable(value, name, taking):
    if value is not None and not callable(value):
        raise TypeError(f"DataLoader: {name} must be a callable taking {taking}, got {type(value).__name__}")
    return value


class DataLoader:
    """Iterate over a dataset in batches (PyTorch's DataLoader; see the module docstring).

    The order of the samples is the sampler's: `sampler=` if given, else a
    `RandomSampler(dataset, generator=generator)` with `shuffle=True` and a
    `SequentialSampler` otherwise; `BatchSampler(sampler, batch_size,
    drop_last)` groups it into batches (or give `batch_sampler=` directly).
    Each batch is `collate_fn(list of samples)`, by default `default_collate`:
    a dataset of `(x, y)` tuples gives `[X_batch, y_batch]` lists of Tensors.
    Samples it cannot stack (arrays of different shapes) raise a ValueError
    naming the batch, its indices and the shapes. `batch_size=None` turns
    batching off: each sample comes through `collate_fn` (by default
    `default_convert`) on its own. `len(loader)` is the number of batches.

    With `num_workers > 0` each batch is made in one of that many worker
    processes (started with `multiprocessing_context`, by default 'fork'
    where available and 'spawn' elsewhere; with spawn the dataset and
    collate_fn must be picklable), `prefetch_factor` batches per worker ahead
    (default 2), and delivered in the sampler's order: the same batches as
    with `num_workers=0`. Worker `i` is seeded with `base_seed + i` (base_seed
    drawn from the loader's generator every epoch) and then runs
    `worker_init_fn(i)`. An exception in a worker is raised again here, with
    its type, the worker, the batch and the worker's traceback. `timeout > 0`
    bounds the wait for one batch. The workers are stopped when the epoch's
    iterator is exhausted, dropped or fails, unless `persistent_workers=True`
    keeps them for the next epochs. `pin_memory` is accepted and does nothing
    (there is only the CPU).

    Shuffling draws from `generator` (or `seed=n`, meaning
    `generator=np.random.default_rng(n)`), else from the global generator;
    `state_dict()` / `load_state_dict()` save and restore the loader's
    generators between epochs.
    """

    _FROZEN = frozenset(("batch_size", "batch_sampler", "sampler", "drop_last", "dataset", "persistent_workers"))

    def __init__(
        self,
        dataset: DatasetLike,
        batch_size: int | None = 1,
        shuffle: bool | None = False,
        sampler: Sampler[int] | Iterable[int] | None = None,
        batch_sampler: Sampler[list[int]] | Iterable[list[int]] | None = None,
        num_workers: int = 0,
        collate_fn: Callable[[Any], Any] | None = None,
        pin_memory: bool = False,
        drop_last: bool = False,
        timeout: float = 0,
        worker_init_fn: Callable[[int], None] | None = None,
        multiprocessing_context: str | multiprocessing.context.BaseContext | None = None,
        generator: Any = None,
        *,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
        in_order: bool = True,
        seed: int | None = None,
    ) -> None:
        where = "DataLoader"
        _check_dataset(dataset, where)
        shuffle = _check_bool(bool(shuffle) if shuffle is None else shuffle, "shuffle", where)
        if batch_size is not None:
            batch_size = _check_int(batch_size, "batch_size", where, 1)
        drop_last = _check_bool(drop_last, "drop_last", where)
        self.num_workers = _check_int(num_workers, "num_workers", where, 0)
        self.pin_memory = _check_bool(pin_memory, "pin_memory", where)
        self.in_order = _check_bool(in_order, "in_order", where)  # batches always come in order, which it allows
        if isinstance(timeout, bool) or not isinstance(timeout, numbers.Real) or not timeout >= 0:
            raise ValueError(f"{where}: timeout must be a number >= 0 (seconds; 0 waits forever), got {timeout!r}")
        self.timeout = timeout
        self.worker_init_fn = _check_callable(worker_init_fn, "worker_init_fn", "the worker id")
        if prefetch_factor is not None:
            prefetch_factor = _check_int(prefetch_factor, "prefetch_factor", where, 1)
            if self.num_workers == 0:
                raise ValueError(f"{where}: prefetch_factor needs num_workers > 0; leave it None with num_workers=0")
        self.prefetch_factor = 2 if prefetch_factor is None and self.num_workers > 0 else prefetch_factor
        persistent_workers = _check_bool(persistent_workers, "persistent_workers", where)
        if persistent_workers and self.num_workers == 0:
            raise ValueError(f"{where}: persistent_workers=True needs num_workers > 0")
        self.multiprocessing_context = multiprocessing_context
        self._context = _start_method_context(multiprocessing_context, self.num_workers)
        if seed is not None and generator is not None:
            raise ValueError(f"{where}: give generator= or seed=, not both")
        self.generator: Any = make_generator(seed, where) if seed is not None else _check_generator(generator, where)

        for name, value, items in (("sampler", sampler, "indices"), ("batch_sampler", batch_sampler, "index lists")):
            if value is not None and not (hasattr(value, "__iter__") and hasattr(value, "__len__")):
                raise TypeError(
                    f"{where}: {name} must be an iterable of {items} with a length, got {type(value).__name__}"
                )
        if sampler is not None and shuffle:
            raise ValueError(
                f"{where}: sampler and shuffle=True are mutually exclusive (the sampler decides the order; "
                "e.g. RandomSampler, or DistributedSampler(shuffle=True))"
            )
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(
                    f"{where}: batch_sampler is mutually exclusive with batch_size, shuffle, sampler and "
                    f"drop_last (it decides them all), got batch_size={batch_size}, shuffle={shuffle}, "
                    f"sampler={type(sampler).__name__ if sampler is not None else None}, drop_last={drop_last}"
                )
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError(f"{where}: batch_size=None turns batching off, so drop_last=True has no meaning")
        # Whether this loader made its own sampler and batches: nn.parallel replaces those with a shard per rank.
        self._default_batching = sampler is None and batch_sampler is None and batch_size is not None
        if sampler is None:
            sampler = RandomSampler(dataset, generator=self.generator) if shuffle else SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.dataset = dataset
        self.shuffle = shuffle
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.persistent_workers = persistent_workers
        self._auto_collation = batch_sampler is not None
        collate_fn = _check_callable(collate_fn, "collate_fn", "a list of samples")
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self._pool: _WorkerPool | None = None
        self._initialized = True

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self._FROZEN and getattr(self, "_initialized", False):
            raise ValueError(f"DataLoader: {name} cannot be changed after the loader is built; build a new one")
        super().__setattr__(name, value)

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def __len__(self) -> int:
        return len(self._index_sampler)

    def __iter__(self) -> Iterator[Any]:
        if self.num_workers == 0:
            return self._batches_here()
        return self._batches_from_workers()

    def _draw_seed(self, bound: int = 2**62) -> int:
        """An int in [0, bound) from the loader's generator (the global one when it has none)."""
        rng = _numpy_rng(self.generator, "DataLoader")
        return int((rng if rng is not None else _global_rng()).integers(bound))

    def _batches_here(self):
        # PyTorch draws the workers' base seed every epoch, with workers or not; drawing it here too keeps
        # the generator's sequence, hence the order of the samples, the same with and without workers.
        self._draw_seed()
        fetch = _Fetcher(self.dataset, self.collate_fn, self._auto_collation)
        for number, indices in enumerate(self._index_sampler):
            yield fetch(number, indices)

    def _batches_from_workers(self):
        base_seed = self._draw_seed()
        if self.persistent_workers:
            if self._pool is None:
                self._pool = _WorkerPool(self, base_seed)
            pool = self._pool
        else:
            pool = _WorkerPool(self, base_seed)
        try:
            yield from pool.batches(self._index_sampler, self.prefetch_factor, self.timeout)
        finally:  # exhausted, failed, or dropped midway (closed by the garbage collector)
            if not self.persistent_workers:
                pool.stop()

    def _random_sources(self):
        """The numpy generators this loader's epochs draw from (its own, its samplers'), each once."""
        sources = []
        for owner in (self, self.sampler, self.batch_sampler, getattr(self.batch_sampler, "sampler", None)):
            try:
                rng = _numpy_rng(getattr(owner, "generator", None), "DataLoader")
            except TypeError:  # a sampler of the user's whose generator is not one we can read
                continue
            if rng is not None and all(rng is not source for source in sources):
                sources.append(rng)
        return sources

    def state_dict(self) -> dict[str, Any]:
        """The state of the generators the loader's epochs draw from, to restore with `load_state_dict`.

        Taken between epochs, it makes a restored loader draw the next epochs
        as this one would. A loader that draws from the global generator (no
        generator= or seed=) has no state of its own here: `ag.manual_seed`
        and the global state govern it (`nn.utils.fit` checkpoints both).
        """
        return {"generators": [rng.bit_generator.state for rng in self._random_sources()]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what `state_dict()` returned; on any error (ValueError) nothing is changed."""
        where = "DataLoader.load_state_dict"
        sources = self._random_sources()
        states = state_dict.get("generators") if isinstance(state_dict, dict) else None
        if not isinstance(states, list):
            raise ValueError(f"{where}: expected {{'generators': [...]}} as state_dict() returns, got {state_dict!r}")
        if len(states) != len(sources):
            raise ValueError(
                f"{where}: the state holds {len(states)} generators, this loader draws from {len(sources)}"
            )
        previous = [rng.bit_generator.state for rng in sources]
        try:
            for rng, state in zip(sources, states):
                rng.bit_generator.state = state
        except (TypeError, ValueError, KeyError) as error:
            for rng, state in zip(sources, previous):
                rng.bit_generator.state = state
            raise ValueError(f"{where}: a generator state does not load ({type(error).__name__}: {error})") from None


# ---- splits ----------------------------------------------------------------------------------------------


def random_split(
    dataset: DatasetLike, lengths: Sequence[float], generator: Any = None, seed: int | None = None
) -> list[Subset]:
    """Split `dataset` into non-overlapping random `Subset`s of the given lengths.

    `lengths` are either ints summing to `len(dataset)`, or fractions summing
    to 1; fractions become `floor(n * f)` samples each, and the remaining
    samples are handed out one at a time round-robin from the first split
    (PyTorch's rule). The permutation is drawn from `generator`, or
    `default_rng(seed)`, or the global generator.
    """
    where = "random_split"
    _check_dataset(dataset, where)
    n = len(dataset)
    lengths = list(lengths)
    if not lengths:
        raise ValueError(f"{where}: lengths is empty")
    if all(isinstance(x, numbers.Integral) and not isinstance(x, bool) for x in lengths):
        if any(x < 0 for x in lengths) or sum(lengths) != n:
            raise ValueError(f"{where}: lengths {lengths} must be non-negative and sum to the dataset length {n}")
        sizes = [int(x) for x in lengths]
    elif all(isinstance(x, numbers.Real) and not isinstance(x, bool) for x in lengths):
        if any(not 0 <= x <= 1 for x in lengths) or not math.isclose(sum(lengths), 1) or sum(lengths) > 1 + 1e-9:
            raise ValueError(f"{where}: fractions {lengths} must each lie in [0, 1] and sum to 1")
        sizes = [math.floor(n * x) for x in lengths]
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
    else:
        raise TypeError(f"{where}: lengths must be ints or fractions, got {lengths}")
    if seed is not None and generator is not None:
        raise ValueError(f"{where}: give generator= or seed=, not both")
    rng = make_generator(seed, where) if seed is not None else _numpy_rng(_check_generator(generator, where), where)
    order = (rng if rng is not None else _global_rng()).permutation(n)
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
