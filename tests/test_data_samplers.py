"""ag.data samplers and ConcatDataset: PyTorch's outputs and lengths, laziness, randomness, argument errors."""

import time
import tracemalloc

import numpy as np
import pytest

import autograd_core as ag
from autograd_core.data import (
    BatchSampler,
    ConcatDataset,
    DataLoader,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
)

try:
    import torch
    import torch.utils.data
except ImportError:  # torch is an optional oracle
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")


def _range_dataset(n):
    return TensorDataset(np.arange(n))


# ---- ConcatDataset -------------------------------------------------------------------------------------


def test_concat_dataset_indexing_and_sizes():
    parts = [list("abc"), [], list("de"), list("f")]
    concat = ConcatDataset(parts)
    assert len(concat) == 6 and concat.cumulative_sizes == [3, 3, 5, 6]
    assert [concat[i] for i in range(6)] == list("abcdef")
    assert [concat[i] for i in range(-6, 0)] == list("abcdef")
    assert concat[np.int64(4)] == "e"


@pytest.mark.parametrize("index", [6, 100, -7])
def test_concat_dataset_out_of_range_is_an_index_error(index):
    with pytest.raises(IndexError, match=f"ConcatDataset: index {index} is out of range for a dataset of length 6"):
        ConcatDataset([list("abc"), list("def")])[index]


def test_concat_dataset_errors_and_addition():
    with pytest.raises(ValueError, match="ConcatDataset: datasets is empty"):
        ConcatDataset([])
    with pytest.raises(TypeError, match=r"ConcatDataset: expected a dataset .* got int"):
        ConcatDataset([[1], 5])
    with pytest.raises(TypeError, match="ConcatDataset: index must be an int, got float"):
        ConcatDataset([[1]])[0.0]
    joined = _range_dataset(2) + _range_dataset(3)
    assert isinstance(joined, ConcatDataset) and [joined[i][0].item() for i in range(5)] == [0, 1, 0, 1, 2]


@needs_torch
def test_concat_dataset_matches_torch():
    parts = [list(range(3)), list(range(10, 12)), [], list(range(20, 24))]
    ours, theirs = ConcatDataset(parts), torch.utils.data.ConcatDataset(parts)
    assert ours.cumulative_sizes == theirs.cumulative_sizes and len(ours) == len(theirs)
    assert [ours[i] for i in range(-len(ours), len(ours))] == [theirs[i] for i in range(-len(theirs), len(theirs))]
    with pytest.raises(IndexError):
        theirs[len(theirs)]


def test_a_loader_over_a_concat_dataset():
    X = np.arange(10.0)
    loader = DataLoader(ConcatDataset([TensorDataset(X[:4]), TensorDataset(X[4:])]), batch_size=3, shuffle=True)
    assert sorted(np.concatenate([b[0].numpy() for b in loader]).tolist()) == X.tolist()


# ---- Sequential, Batch, Subset samplers ----------------------------------------------------------------


def test_sequential_sampler():
    sampler = SequentialSampler(_range_dataset(5))
    assert list(sampler) == [0, 1, 2, 3, 4] and len(sampler) == 5
    if torch is not None:
        assert list(sampler) == list(torch.utils.data.SequentialSampler(range(5)))


@pytest.mark.parametrize("n, batch_size, drop_last", [(10, 3, False), (10, 3, True), (9, 3, False), (2, 5, True)])
def test_batch_sampler(n, batch_size, drop_last):
    sampler = BatchSampler(SequentialSampler(_range_dataset(n)), batch_size, drop_last)
    batches = list(sampler)
    assert len(sampler) == len(batches)
    assert all(type(batch) is list for batch in batches)
    assert [i for batch in batches for i in batch] == list(range(n // batch_size * batch_size if drop_last else n))
    if torch is not None:
        theirs = torch.utils.data.BatchSampler(torch.utils.data.SequentialSampler(range(n)), batch_size, drop_last)
        assert batches == list(theirs) and len(sampler) == len(theirs)


def test_batch_sampler_is_lazy_over_an_endless_sampler():
    def endless():
        yield from iter(int, 1)  # 0, 0, 0, ... forever

    class Endless(Sampler[int]):
        def __iter__(self):
            return endless()

    batches = iter(BatchSampler(Endless(), 4, drop_last=False))
    assert [next(batches) for _ in range(3)] == [[0] * 4] * 3


def test_subset_random_sampler():
    indices = [7, 3, 11, 5]
    sampler = SubsetRandomSampler(indices, generator=np.random.default_rng(0))
    epochs = [list(sampler) for _ in range(4)]
    assert all(sorted(epoch) == sorted(indices) for epoch in epochs) and len(sampler) == 4
    assert len({tuple(epoch) for epoch in epochs}) > 1


def test_sampler_base_class():
    class Evens(Sampler[int]):
        def __init__(self, n):
            super().__init__(None)
            self.n = n

        def __iter__(self):
            return iter(range(0, self.n, 2))

        def __len__(self):
            return (self.n + 1) // 2

    X = np.arange(6.0)
    assert [b[0].tolist() for b in DataLoader(TensorDataset(X), batch_size=2, sampler=Evens(6))] == [[0, 2], [4]]
    with pytest.raises(NotImplementedError, match="Sampler must define __iter__"):
        iter(Sampler())


# ---- RandomSampler -------------------------------------------------------------------------------------


def test_random_sampler_without_replacement_is_a_new_permutation_each_pass():
    sampler = RandomSampler(_range_dataset(20), generator=np.random.default_rng(0))
    first, second = list(sampler), list(sampler)
    assert sorted(first) == sorted(second) == list(range(20)) and first != second and len(sampler) == 20


def test_random_sampler_more_samples_than_the_dataset_concatenates_permutations():
    sampler = RandomSampler(_range_dataset(5), num_samples=13, generator=np.random.default_rng(1))
    drawn = list(sampler)
    assert len(sampler) == len(drawn) == 13
    assert sorted(drawn[:5]) == sorted(drawn[5:10]) == list(range(5))
    assert len(set(drawn[10:])) == 3  # the start of a third permutation


def test_random_sampler_with_replacement():
    sampler = RandomSampler(_range_dataset(4), replacement=True, num_samples=10_000, generator=np.random.default_rng(2))
    counts = np.bincount(list(sampler), minlength=4)
    assert counts.sum() == len(sampler) == 10_000
    assert np.all(np.abs(counts - 2500) < 200)  # uniform: each within ~5 standard deviations


@pytest.mark.parametrize("replacement, num_samples", [(False, None), (False, 3), (False, 11), (True, None), (True, 7)])
def test_random_sampler_lengths(replacement, num_samples):
    sampler = RandomSampler(_range_dataset(5), replacement=replacement, num_samples=num_samples)
    drawn = list(sampler)
    assert len(sampler) == len(drawn) and all(0 <= i < 5 for i in drawn)
    if torch is not None:
        assert len(sampler) == len(torch.utils.data.RandomSampler(range(5), replacement, num_samples))


def test_a_huge_sampler_with_replacement_costs_nothing_up_front():
    dataset = TensorDataset(np.arange(100.0))
    sampler = RandomSampler(dataset, replacement=True, num_samples=10**10)
    loader = DataLoader(dataset, batch_size=8, sampler=sampler)
    assert len(sampler) == 10**10 and len(loader) == 10**10 // 8
    tracemalloc.start()
    started = time.perf_counter()
    batches = iter(loader)
    first = [next(batches) for _ in range(3)]
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert [b[0].shape for b in first] == [(8,)] * 3
    assert peak < 1_000_000, f"peak {peak} bytes"
    assert elapsed < 0.5


def test_random_sampler_reproducible_from_the_global_seed():
    sampler = RandomSampler(_range_dataset(30))
    ag.manual_seed(4)
    first = list(sampler)
    ag.manual_seed(4)
    assert list(sampler) == first


# ---- WeightedRandomSampler -----------------------------------------------------------------------------


def test_weighted_sampler_with_replacement_follows_the_weights():
    weights = [0.0, 1.0, 3.0, 0.0, 6.0, 0.0]
    sampler = WeightedRandomSampler(weights, 20_000, generator=np.random.default_rng(0))
    counts = np.bincount(list(sampler), minlength=6)
    assert len(sampler) == 20_000 and counts.sum() == 20_000
    assert counts[[0, 3, 5]].tolist() == [0, 0, 0]  # a zero weight is never drawn
    np.testing.assert_allclose(counts[[1, 2, 4]] / 20_000, [0.1, 0.3, 0.6], atol=0.015)


def test_weighted_sampler_without_replacement_draws_each_index_once():
    weights = ag.tensor(np.array([1.0, 0.0, 2.0, 5.0, 1.0]))
    sampler = WeightedRandomSampler(weights, 4, replacement=False, generator=np.random.default_rng(1))
    for _ in range(5):
        drawn = list(sampler)
        assert sorted(drawn) == [0, 2, 3, 4]
    assert sampler.weights.dtype == np.float64


def test_weighted_sampler_with_a_trailing_zero_weight_never_draws_it():
    sampler = WeightedRandomSampler([1e-300, 1.0, 0.0], 5000, generator=np.random.default_rng(3))
    assert set(sampler) <= {0, 1}


@needs_torch
def test_weighted_sampler_lengths_and_support_match_torch():
    weights = [0.5, 0.0, 2.0, 1.0]
    for replacement, n in [(True, 7), (False, 3)]:
        ours = WeightedRandomSampler(weights, n, replacement=replacement)
        theirs = torch.utils.data.WeightedRandomSampler(weights, n, replacement=replacement)
        assert len(ours) == len(theirs)
        assert set(ours) <= {0, 2, 3} and set(theirs) <= {0, 2, 3}


# ---- argument errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, error, message",
    [
        (
            lambda: RandomSampler(_range_dataset(3), num_samples=0),
            ValueError,
            "RandomSampler: num_samples must be >= 1, got 0",
        ),
        (lambda: RandomSampler(_range_dataset(3), num_samples=-5), ValueError, "num_samples must be >= 1, got -5"),
        (lambda: RandomSampler(_range_dataset(3), num_samples=2.0), TypeError, "num_samples must be an int, got float"),
        (lambda: RandomSampler(_range_dataset(3), replacement=1), TypeError, "replacement must be a bool, got int"),
        (lambda: RandomSampler([]), ValueError, "RandomSampler: the dataset is empty"),
        (lambda: RandomSampler(5), TypeError, "RandomSampler: expected a dataset"),
        (
            lambda: RandomSampler([1], generator="g"),
            TypeError,
            "RandomSampler: generator must be an ag",
        ),
        (lambda: BatchSampler(range(3), 0, False), ValueError, "BatchSampler: batch_size must be >= 1, got 0"),
        (lambda: BatchSampler(range(3), True, False), TypeError, "BatchSampler: batch_size must be an int, got bool"),
        (lambda: BatchSampler(range(3), 2, None), TypeError, "BatchSampler: drop_last must be a bool, got NoneType"),
        (lambda: BatchSampler(3, 2, False), TypeError, "BatchSampler: sampler must be an iterable of indices, got int"),
        (lambda: SequentialSampler(3), TypeError, "SequentialSampler: expected a dataset"),
        (lambda: SubsetRandomSampler(3), TypeError, "SubsetRandomSampler: indices must be a sequence of ints, got int"),
        (
            lambda: WeightedRandomSampler([[1.0, 2.0]], 2),
            ValueError,
            r"weights must be a non-empty 1-D sequence, got shape \(1, 2\)",
        ),
        (
            lambda: WeightedRandomSampler([], 2),
            ValueError,
            r"weights must be a non-empty 1-D sequence, got shape \(0,\)",
        ),
        (lambda: WeightedRandomSampler([1.0, -0.5], 2), ValueError, r"weights must be non-negative, got \[-0.5\]"),
        (lambda: WeightedRandomSampler([1.0, np.nan], 2), ValueError, r"weights must be finite, got \[nan\]"),
        (lambda: WeightedRandomSampler([1.0, np.inf], 2), ValueError, r"weights must be finite, got \[inf\]"),
        (lambda: WeightedRandomSampler([0.0, 0.0], 2), ValueError, "weights are all zero"),
        (lambda: WeightedRandomSampler(["a"], 2), TypeError, "weights must be a 1-D sequence of numbers, got list"),
        (lambda: WeightedRandomSampler([1.0, 2.0], 0), ValueError, "num_samples must be >= 1, got 0"),
        (lambda: WeightedRandomSampler([1.0, 2.0], 2.5), TypeError, "num_samples must be an int, got float"),
        (lambda: WeightedRandomSampler([1.0, 2.0], 2, replacement="no"), TypeError, "replacement must be a bool"),
        (
            lambda: WeightedRandomSampler([1.0, 0.0, 2.0], 3, replacement=False),
            ValueError,
            r"without replacement num_samples must be at most the number of non-zero weights \(2\), got 3",
        ),
    ],
)
def test_sampler_argument_errors(make, error, message):
    with pytest.raises(error, match=message):
        make()


@needs_torch
@pytest.mark.parametrize(
    "make",
    [
        lambda data: data.RandomSampler(range(3), num_samples=0),
        lambda data: data.RandomSampler(range(3), num_samples=-5),
        lambda data: data.RandomSampler([]),
        lambda data: data.BatchSampler(range(3), 0, False),
        lambda data: data.BatchSampler(range(3), True, False),
        lambda data: data.WeightedRandomSampler([1.0, 2.0], 0),
        lambda data: data.WeightedRandomSampler([[1.0, 2.0]], 2),
    ],
)
def test_torch_refuses_the_same_sampler_arguments(make):
    with pytest.raises(ValueError):
        make(torch.utils.data)
