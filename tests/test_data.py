"""ag.data (datasets, DataLoader, splits) and ag.datasets (digits and generated toy problems)."""

import numpy as np
import pytest

import autograd_core as ag
from autograd_core.data import DataLoader, Dataset, Subset, TensorDataset, kfold, random_split
from autograd_core.datasets import load_digits, make_circles, make_moons, make_spirals


def _xy(n=10):
    X = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    y = np.arange(n, dtype=np.int64)
    return X, y


class _Squares(Dataset):
    """A dataset that is not a TensorDataset, to exercise the per-sample path."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return np.array([i, i * i], dtype=np.float64), i


# ---- TensorDataset ---------------------------------------------------------------------------


def test_tensor_dataset_items_and_length():
    X, y = _xy()
    ds = TensorDataset(ag.tensor(X), y)
    assert len(ds) == 10
    xi, yi = ds[3]
    assert isinstance(xi, ag.Tensor) and isinstance(yi, ag.Tensor)
    np.testing.assert_array_equal(xi.numpy(), X[3])
    assert yi.item() == 3 and yi.dtype == np.int64


def test_tensor_dataset_mismatch_names_shapes():
    with pytest.raises(ValueError, match=r"\(4, 2\).*\(5,\)"):
        TensorDataset(ag.zeros(4, 2), ag.zeros(5))
    with pytest.raises(ValueError, match="at least one"):
        TensorDataset()


def test_dataset_base_requires_len_and_getitem():
    class Incomplete(Dataset):
        def __len__(self):
            return 0

    with pytest.raises(TypeError):
        Incomplete()


# ---- DataLoader ------------------------------------------------------------------------------


def test_batches_in_order_with_last_partial_batch():
    X, y = _xy(10)
    loader = DataLoader(TensorDataset(X, y), batch_size=4)
    batches = list(loader)
    assert len(loader) == len(batches) == 3
    assert [b[0].shape for b in batches] == [(4, 3), (4, 3), (2, 3)]
    assert [b[1].shape for b in batches] == [(4,), (4,), (2,)]
    np.testing.assert_array_equal(np.concatenate([b[0].numpy() for b in batches]), X)
    np.testing.assert_array_equal(np.concatenate([b[1].numpy() for b in batches]), y)
    assert batches[0][0].dtype == np.float32 and batches[0][1].dtype == np.int64


def test_drop_last():
    X, y = _xy(10)
    loader = DataLoader(TensorDataset(X, y), batch_size=4, drop_last=True)
    batches = list(loader)
    assert len(loader) == len(batches) == 2
    assert all(b[0].shape == (4, 3) for b in batches)
    exact = DataLoader(TensorDataset(X, y), batch_size=5, drop_last=True)
    assert len(exact) == len(list(exact)) == 2


def test_batch_larger_than_dataset():
    X, y = _xy(3)
    assert len(DataLoader(TensorDataset(X, y), batch_size=8)) == 1
    assert len(DataLoader(TensorDataset(X, y), batch_size=8, drop_last=True)) == 0
    assert list(DataLoader(TensorDataset(X, y), batch_size=8, drop_last=True)) == []


def _epoch_labels(loader):
    return np.concatenate([yb.numpy() for _, yb in loader])


def test_shuffle_is_a_permutation_that_keeps_pairs_together():
    X, y = _xy(20)
    loader = DataLoader(TensorDataset(X, y), batch_size=6, shuffle=True, seed=0)
    for xb, yb in loader:
        np.testing.assert_array_equal(xb.numpy(), X[yb.numpy()])
    labels = _epoch_labels(loader)
    assert sorted(labels.tolist()) == list(range(20))
    assert labels.tolist() != list(range(20))


def test_shuffle_reproducible_for_a_seed_and_new_each_epoch():
    X, y = _xy(50)
    first = DataLoader(TensorDataset(X, y), batch_size=7, shuffle=True, seed=123)
    second = DataLoader(TensorDataset(X, y), batch_size=7, shuffle=True, seed=123)
    epochs_first = [_epoch_labels(first) for _ in range(3)]
    epochs_second = [_epoch_labels(second) for _ in range(3)]
    for a, b in zip(epochs_first, epochs_second):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(epochs_first[0], epochs_first[1])
    assert not np.array_equal(epochs_first[1], epochs_first[2])
    other_seed = DataLoader(TensorDataset(X, y), batch_size=7, shuffle=True, seed=124)
    assert not np.array_equal(_epoch_labels(other_seed), epochs_first[0])


def test_shuffle_without_seed_follows_manual_seed():
    X, y = _xy(30)
    ag.manual_seed(7)
    a = _epoch_labels(DataLoader(TensorDataset(X, y), batch_size=4, shuffle=True))
    ag.manual_seed(7)
    b = _epoch_labels(DataLoader(TensorDataset(X, y), batch_size=4, shuffle=True))
    np.testing.assert_array_equal(a, b)


def test_generic_dataset_is_collated_per_field():
    loader = DataLoader(_Squares(5), batch_size=2)
    batches = list(loader)
    assert len(batches) == 3
    xb, yb = batches[1]
    np.testing.assert_array_equal(xb.numpy(), [[2, 4], [3, 9]])
    assert xb.dtype == np.float64
    np.testing.assert_array_equal(yb.numpy(), [2, 3])


def test_dataset_of_single_tensors_gives_single_tensor_batches():
    class Rows(Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return ag.full((2,), float(i))

    batches = list(DataLoader(Rows(), batch_size=3))
    assert isinstance(batches[0], ag.Tensor)
    np.testing.assert_array_equal(batches[0].numpy(), [[0, 0], [1, 1], [2, 2]])


def test_subset_of_tensor_dataset_batches_by_index():
    X, y = _xy(10)
    subset = Subset(Subset(TensorDataset(X, y), [9, 7, 5, 3, 1]), [4, 0, 2])
    ((xb, yb),) = list(DataLoader(subset, batch_size=3))
    np.testing.assert_array_equal(yb.numpy(), [1, 9, 5])
    np.testing.assert_array_equal(xb.numpy(), X[[1, 9, 5]])


def test_tensor_dataset_batches_without_per_sample_indexing(monkeypatch):
    X, y = _xy(10)
    monkeypatch.setattr(TensorDataset, "__getitem__", lambda self, i: pytest.fail("indexed one sample at a time"))
    batches = list(DataLoader(TensorDataset(X, y), batch_size=4, shuffle=True, seed=0))
    assert sorted(np.concatenate([yb.numpy() for _, yb in batches]).tolist()) == list(range(10))


def test_tensor_dataset_subclass_keeps_its_own_getitem():
    class Doubled(TensorDataset):
        def __getitem__(self, i):
            x, y = super().__getitem__(i)
            return x * 2.0, y

    X, y = _xy(4)
    xb, yb = next(iter(DataLoader(Doubled(X, y), batch_size=4)))
    np.testing.assert_array_equal(xb.numpy(), 2 * X)
    np.testing.assert_array_equal(yb.numpy(), y)


@pytest.mark.parametrize(
    "kwargs, error",
    [
        (dict(batch_size=0), ValueError),
        (dict(batch_size=-2), ValueError),
        (dict(batch_size=2.0), TypeError),
        (dict(batch_size=True), TypeError),
        (dict(shuffle="yes"), TypeError),
        (dict(drop_last=1), TypeError),
        (dict(seed=-1), ValueError),
        (dict(seed=1.5), TypeError),
    ],
)
def test_dataloader_rejects_bad_arguments(kwargs, error):
    X, y = _xy(4)
    with pytest.raises(error, match="DataLoader"):
        DataLoader(TensorDataset(X, y), **kwargs)


def test_dataloader_rejects_non_dataset():
    with pytest.raises(TypeError, match=r"DataLoader.*int"):
        DataLoader(5)


# ---- random_split ----------------------------------------------------------------------------


def test_random_split_with_lengths_is_a_disjoint_cover():
    X, y = _xy(10)
    parts = random_split(TensorDataset(X, y), [6, 3, 1], seed=0)
    assert [len(p) for p in parts] == [6, 3, 1]
    labels = [[p[i][1].item() for i in range(len(p))] for p in parts]
    assert sorted(label for batch in labels for label in batch) == list(range(10))
    assert labels[0] != list(range(6))  # shuffled, not a prefix


def test_random_split_fractions_follow_pytorch_rounding():
    parts = random_split(_Squares(11), [0.5, 0.3, 0.2], seed=1)
    # floor gives 5, 3, 2; the one left over goes to the first split.
    assert [len(p) for p in parts] == [6, 3, 2]
    indices = np.concatenate([p.indices for p in parts])
    assert sorted(indices.tolist()) == list(range(11))


def test_random_split_reproducible_for_a_seed():
    a = random_split(_Squares(20), [10, 10], seed=5)
    b = random_split(_Squares(20), [10, 10], seed=5)
    np.testing.assert_array_equal(a[0].indices, b[0].indices)


@pytest.mark.parametrize(
    "lengths, error",
    [
        ([5, 4], ValueError),
        ([6, -1, 5], ValueError),
        ([0.5, 0.4], ValueError),
        ([1.2, -0.2], ValueError),
        ([5, 0.5], ValueError),
        (["half", "half"], TypeError),
        ([], ValueError),
    ],
)
def test_random_split_rejects_bad_lengths(lengths, error):
    with pytest.raises(error, match="random_split"):
        random_split(_Squares(10), lengths)


def test_subset_rejects_out_of_range_indices():
    with pytest.raises(ValueError, match=r"Subset.*\[10\].*length 10"):
        Subset(_Squares(10), [0, 10])


# ---- kfold -----------------------------------------------------------------------------------


@pytest.mark.parametrize("n, k", [(10, 5), (11, 3), (7, 7), (100, 2)])
@pytest.mark.parametrize("shuffle", [True, False])
def test_kfold_partitions(n, k, shuffle):
    folds = list(kfold(n, k=k, shuffle=shuffle, seed=3))
    assert len(folds) == k
    vals = [val for _, val in folds]
    all_val = np.concatenate(vals)
    assert sorted(all_val.tolist()) == list(range(n))  # disjoint and covering
    sizes = [len(v) for v in vals]
    assert max(sizes) - min(sizes) <= 1
    for train, val in folds:
        assert train.dtype == np.int64 and val.dtype == np.int64
        assert len(np.intersect1d(train, val)) == 0
        assert len(train) + len(val) == n
    if not shuffle:
        np.testing.assert_array_equal(vals[0], np.arange(sizes[0]))


def test_kfold_shuffle_reproducible():
    a = [val for _, val in kfold(20, 4, seed=9)]
    b = [val for _, val in kfold(20, 4, seed=9)]
    c = [val for _, val in kfold(20, 4, seed=10)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))


@pytest.mark.parametrize(
    "args, error",
    [
        ((10, 1), ValueError),
        ((10, 11), ValueError),
        ((1, 2), ValueError),
        ((10.0, 2), TypeError),
        ((10, 2.5), TypeError),
    ],
)
def test_kfold_rejects_bad_arguments_eagerly(args, error):
    with pytest.raises(error, match="kfold"):
        kfold(*args)


# ---- datasets --------------------------------------------------------------------------------


def test_load_digits():
    X, y = load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float32
    assert y.shape == (1797,) and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    assert sorted(np.unique(y).tolist()) == list(range(10))
    assert np.all(np.bincount(y) >= 170)  # the real set holds ~180 of each digit


@pytest.mark.parametrize("make", [make_moons, make_circles, make_spirals])
@pytest.mark.parametrize("n", [100, 101])
def test_generated_shapes_dtypes_balance(make, n):
    X, y = make(n_samples=n, seed=0)
    assert X.shape == (n, 2) and X.dtype == np.float32
    assert y.shape == (n,) and y.dtype == np.int64
    counts = np.bincount(y)
    assert len(counts) == 2 and counts.max() - counts.min() == n % 2


@pytest.mark.parametrize("make", [make_moons, make_circles, make_spirals])
def test_generated_deterministic_for_a_seed(make):
    a, b, c = make(50, noise=0.1, seed=4), make(50, noise=0.1, seed=4), make(50, noise=0.1, seed=5)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_circles_radii():
    X, y = make_circles(200, factor=0.3, seed=0)
    radius = np.linalg.norm(X, axis=1)
    np.testing.assert_allclose(radius[y == 0], 1.0, atol=1e-6)
    np.testing.assert_allclose(radius[y == 1], 0.3, atol=1e-6)
    noisy, labels = make_circles(2000, noise=0.05, factor=0.3, seed=0)
    noisy_radius = np.linalg.norm(noisy, axis=1)
    assert abs(noisy_radius[labels == 0].mean() - 1.0) < 0.01
    assert abs(noisy_radius[labels == 1].mean() - 0.3) < 0.01


def test_moons_geometry():
    X, y = make_moons(200, seed=0)
    upper, lower = X[y == 0], X[y == 1]
    np.testing.assert_allclose(np.linalg.norm(upper, axis=1), 1.0, atol=1e-6)  # unit half circle about 0
    np.testing.assert_allclose(np.linalg.norm(lower - [1.0, 0.5], axis=1), 1.0, atol=1e-6)  # about (1, 1/2)
    assert upper[:, 1].min() >= -1e-6 and lower[:, 1].max() <= 0.5 + 1e-6


def test_moons_noise_has_the_requested_spread():
    clean, _ = make_moons(4000, seed=2)
    noisy, _ = make_moons(4000, noise=0.2, seed=2)
    # Same seed, so the same shuffle: the difference is the added noise alone.
    assert abs(np.std(noisy - clean) - 0.2) < 0.01


@pytest.mark.parametrize("n_classes", [2, 3, 5])
def test_spirals_geometry(n_classes):
    X, y = make_spirals(300, n_classes=n_classes, seed=1)
    counts = np.bincount(y, minlength=n_classes)
    assert len(counts) == n_classes and counts.max() - counts.min() <= 1
    radius = np.linalg.norm(X, axis=1)
    assert radius.min() > 0 and radius.max() <= 1 + 1e-6
    # Each point lies on its class's arm: angle = 2 pi (c / K + 1.5 r) modulo 2 pi.
    expected = 2 * np.pi * (y / n_classes + 1.5 * radius)
    actual = np.arctan2(X[:, 1], X[:, 0])
    wrapped = np.angle(np.exp(1j * (actual - expected)))
    np.testing.assert_allclose(wrapped, 0.0, atol=1e-4)


@pytest.mark.parametrize(
    "call, error",
    [
        (lambda: make_moons(0), ValueError),
        (lambda: make_moons(10.5), TypeError),
        (lambda: make_moons(10, noise=-0.1), ValueError),
        (lambda: make_circles(10, factor=1.0), ValueError),
        (lambda: make_circles(10, factor="half"), TypeError),
        (lambda: make_spirals(10, n_classes=1), ValueError),
        (lambda: make_spirals(3, n_classes=4), ValueError),
        (lambda: make_spirals(10, noise=float("nan")), ValueError),
    ],
)
def test_generators_reject_bad_arguments(call, error):
    with pytest.raises(error, match="make_"):
        call()


# ---- oracles: PyTorch's split rule, scikit-learn's folds and generators -----------------------


@pytest.mark.parametrize(
    "n, fractions",
    [(11, [0.5, 0.3, 0.2]), (10, [0.33, 0.33, 0.34]), (7, [0.25] * 4), (100, [0.7, 0.2, 0.1]), (5, [1.0, 0.0])],
)
@pytest.mark.filterwarnings("ignore:Length of split")  # torch warns about the empty split of [1.0, 0.0]
def test_random_split_sizes_match_torch(n, fractions):
    torch = pytest.importorskip("torch")
    expected = [len(part) for part in torch.utils.data.random_split(range(n), fractions)]
    assert [len(part) for part in random_split(_Squares(n), fractions, seed=0)] == expected


@pytest.mark.parametrize("n, k", [(10, 3), (17, 5), (6, 6)])
def test_unshuffled_kfold_matches_sklearn(n, k):
    sklearn_model_selection = pytest.importorskip("sklearn.model_selection")
    expected = sklearn_model_selection.KFold(n_splits=k).split(np.zeros(n))
    for (train, val), (sk_train, sk_val) in zip(kfold(n, k, shuffle=False), expected, strict=True):
        np.testing.assert_array_equal(train, sk_train)
        np.testing.assert_array_equal(val, sk_val)


def _sorted_rows(X, y):
    rounded = np.round(X.astype(np.float64), 5)  # float32 and float64 copies of a point must sort alike
    order = np.lexsort((rounded[:, 1], rounded[:, 0], y))
    return X[order], y[order]


@pytest.mark.parametrize(
    "ours, theirs, kwargs",
    [
        (make_moons, "make_moons", {}),
        (make_circles, "make_circles", {"factor": 0.3}),
    ],
)
@pytest.mark.parametrize("n", [40, 41])
def test_noise_free_points_match_sklearn(ours, theirs, kwargs, n):
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    X, y = _sorted_rows(*ours(n, seed=0, **kwargs))
    sk_X, sk_y = _sorted_rows(*getattr(sklearn_datasets, theirs)(n, shuffle=False, **kwargs))
    np.testing.assert_array_equal(y, sk_y)
    np.testing.assert_allclose(X, sk_X, atol=1e-6)


class _Sentences(Dataset):
    """Token sequences of lengths 3, 3, 5, 3, 4 with a label each: ragged, as real text is."""

    lengths = (3, 3, 5, 3, 4)

    def __len__(self):
        return len(self.lengths)

    def __getitem__(self, i):
        return np.arange(self.lengths[i], dtype=np.int64), i % 2


def test_ragged_samples_raise_an_error_naming_loader_batch_and_shapes():
    loader = DataLoader(_Sentences(), batch_size=2)
    batches = iter(loader)
    tokens, _ = next(batches)  # batch 0: lengths 3 and 3 stack fine
    assert tokens.shape == (2, 3)
    with pytest.raises(ValueError) as raised:
        next(batches)
    message = str(raised.value)
    assert message.startswith(
        "DataLoader over _Sentences: batch 1 (dataset indices 2, 3) cannot be stacked: "
        "field 0 of its samples have different shapes: (5,) x1, (3,) x1."
    )
    assert "collate_fn" in message and "Pad the samples" in message


def test_ragged_single_tensor_samples_name_the_shapes():
    class Rows(Dataset):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return ag.ones(2 + i)

    with pytest.raises(
        ValueError,
        match=r"batch 0 \(dataset indices 0, 1, 2\) cannot be stacked: its samples have "
        r"different shapes: \(2,\) x1, \(3,\) x1, \(4,\) x1",
    ):
        list(DataLoader(Rows(), batch_size=3))


def test_a_collate_fn_batches_ragged_samples():
    def pad(samples):
        width = max(len(tokens) for tokens, _ in samples)
        padded = np.zeros((len(samples), width), dtype=np.int64)
        for row, (tokens, _) in enumerate(samples):
            padded[row, : len(tokens)] = tokens
        return ag.tensor(padded), ag.tensor(np.array([label for _, label in samples]))

    batches = list(DataLoader(_Sentences(), batch_size=2, collate_fn=pad))
    assert [tokens.shape for tokens, _ in batches] == [(2, 3), (2, 5), (1, 4)]
    np.testing.assert_array_equal(batches[1][0].numpy(), [[0, 1, 2, 3, 4], [0, 1, 2, 0, 0]])


def test_a_collate_fn_also_replaces_the_tensor_dataset_fast_path():
    loader = DataLoader(TensorDataset(np.arange(5.0)), batch_size=2, collate_fn=lambda samples: len(samples))
    assert list(loader) == [2, 2, 1]
    with pytest.raises(TypeError, match="collate_fn must be a callable taking a list of samples, got int"):
        DataLoader(TensorDataset(np.arange(5.0)), collate_fn=3)
