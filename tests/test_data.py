"""ag.data (datasets, DataLoader, splits) and ag.datasets (digits and generated toy problems)."""

import collections

import numpy as np
import pytest

import autograd_core as ag
from autograd_core.data import DataLoader, Dataset, Subset, TensorDataset, kfold, random_split
from autograd_core.datasets import load_digits, make_circles, make_moons, make_spirals

try:
    import torch
    import torch.utils.data
except ImportError:  # torch is an optional oracle
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")


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
@needs_torch
def test_random_split_sizes_match_torch(n, fractions):
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


# ---- default_collate and default_convert (PyTorch's rules) ---------------------------------------------

_Point = collections.namedtuple("_Point", ["x", "y"])


def _described(value):
    """A comparable description of a collated structure: tensors as (dtype name, nested values)."""
    if isinstance(value, ag.Tensor) or (torch is not None and isinstance(value, torch.Tensor)):
        array = value.numpy()
        return ("tensor", str(array.dtype), array.tolist())
    if isinstance(value, dict):
        return {key: _described(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [_described(item) for item in value])
    return (type(value).__name__, value)


_COLLATE_CASES = {
    "python floats": [1.5, 2.0, -3.25],
    "python ints": [1, 2, 3],
    "bools": [True, False, True],
    "numpy float32 scalars": [np.float32(1.5), np.float32(2.5)],
    "numpy int32 scalars": [np.int32(4), np.int32(-1)],
    "numpy arrays": [np.arange(3, dtype=np.int16), np.arange(3, 6, dtype=np.int16)],
    "0-d arrays": [np.array(1.5), np.array(2.5)],
    "strings": ["a", "bc"],
    "tuples": [(np.ones(2, dtype=np.float32), 1), (np.zeros(2, dtype=np.float32), 0)],
    "lists": [[1.0, 2], [3.0, 4]],
    "dicts": [{"x": np.float64(1.0), "name": "a", "ids": [1, 2]}, {"x": np.float64(2.0), "name": "b", "ids": [3, 4]}],
    "named tuples": [_Point(1.0, np.arange(2)), _Point(2.0, np.arange(2, 4))],
    "nested": [((1, 2.0), {"k": [np.int64(3)]}), ((4, 5.0), {"k": [np.int64(6)]})],
}


@pytest.mark.parametrize("name", list(_COLLATE_CASES))
def test_default_collate_types_and_dtypes(name):
    batch = _COLLATE_CASES[name]
    ours = ag.data.default_collate(batch)
    expected = {
        "python floats": ("tensor", "float64", [1.5, 2.0, -3.25]),
        "python ints": ("tensor", "int64", [1, 2, 3]),
        "bools": ("tensor", "bool", [True, False, True]),
        "numpy float32 scalars": ("tensor", "float32", [1.5, 2.5]),
        "strings": ("list", [("str", "a"), ("str", "bc")]),
        "tuples": ("list", [("tensor", "float32", [[1, 1], [0, 0]]), ("tensor", "int64", [1, 0])]),
    }
    if name in expected:
        assert _described(ours) == expected[name]
    if name == "named tuples":
        assert type(ours) is _Point and ours.y.shape == (2, 2) and ours.x.dtype == np.float64


@needs_torch
@pytest.mark.parametrize("name", list(_COLLATE_CASES))
def test_default_collate_matches_torch(name):
    batch = _COLLATE_CASES[name]
    ours, theirs = ag.data.default_collate(batch), torch.utils.data.default_collate(batch)
    if name == "named tuples":
        assert type(ours) is type(theirs)
    assert _described(ours) == _described(theirs)


def test_default_collate_stacks_tensors_keeping_the_graph():
    x = ag.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    batch = ag.data.default_collate([x[0], x[1] * 2.0])
    assert batch.shape == (2, 3)
    batch.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[1, 1, 1], [2, 2, 2]])


@pytest.mark.parametrize(
    "batch, error, message",
    [
        ([], ValueError, "default_collate: the batch is empty"),
        ([{1, 2}, {3}], TypeError, "cannot batch samples of type set"),
        ([(1, {2})], TypeError, r"type set \(field 1\)"),
        ([np.array(["a"]), np.array(["b"])], TypeError, "numpy array of dtype <U1"),
        ([(1, 2), (3,)], ValueError, r"its samples have different lengths: 2 x1, 1 x1"),
        ([{"img": np.ones(2)}, {"img": np.ones(3)}], ValueError, r"field 'img' of its samples have different shapes"),
    ],
)
def test_default_collate_errors(batch, error, message):
    with pytest.raises(error, match=message):
        ag.data.default_collate(batch)


def test_default_convert_as_pytorch():
    converted = ag.data.default_convert((np.arange(3), 2, 1.5, "s", {"a": np.float32(1)}, [np.ones(1)]))
    assert isinstance(converted, list)
    array, integer, number, text, mapping, listed = converted
    assert isinstance(array, ag.Tensor) and array.dtype == np.int64
    assert (integer, number, text) == (2, 1.5, "s")
    assert isinstance(mapping["a"], ag.Tensor) and mapping["a"].dtype == np.float32
    assert isinstance(listed, list) and isinstance(listed[0], ag.Tensor)
    strings = np.array(["x"])
    assert ag.data.default_convert(strings) is strings


@needs_torch
def test_default_convert_matches_torch():
    sample = (np.arange(3), 2, 1.5, "s", {"a": np.float32(1)}, [np.ones(1)], _Point(np.int8(1), 2))
    ours, theirs = ag.data.default_convert(sample), torch.utils.data.default_convert(sample)
    assert _described(ours) == _described(theirs)


# ---- DataLoader: PyTorch's arguments --------------------------------------------------------------------


def test_batch_size_none_yields_converted_samples():
    loader = DataLoader(_Squares(3), batch_size=None)
    assert len(loader) == 3
    samples = list(loader)
    assert [type(sample) for sample in samples] == [list] * 3  # the tuples become lists, as default_convert does
    features, label = samples[2]
    assert isinstance(features, ag.Tensor) and features.tolist() == [2.0, 4.0] and label == 2


@needs_torch
def test_batch_size_none_matches_torch():
    ours = list(DataLoader(_Squares(3), batch_size=None, shuffle=True, seed=0))
    theirs = list(torch.utils.data.DataLoader(_Squares(3), batch_size=None))
    assert sorted(sample[1] for sample in ours) == [sample[1] for sample in theirs]
    assert {_described(s)[0] for s in ours} == {_described(s)[0] for s in theirs} == {"list"}


def test_batch_sampler_decides_the_batches():
    X, y = _xy(10)
    batches = [[9, 0], [3, 4, 5], [1]]
    loader = DataLoader(TensorDataset(X, y), batch_sampler=batches)
    assert len(loader) == 3 and loader.batch_size is None and loader.drop_last is False
    assert [yb.tolist() for _, yb in loader] == batches
    per_sample = DataLoader(_Squares(10), batch_sampler=ag.data.BatchSampler(range(7), 3, drop_last=True))
    assert [yb.tolist() for _, yb in per_sample] == [[0, 1, 2], [3, 4, 5]]


def test_tuple_samples_give_list_batches_as_pytorch():
    X, y = _xy(4)
    for dataset in (TensorDataset(X, y), _Squares(4)):
        batch = next(iter(DataLoader(dataset, batch_size=2)))
        assert type(batch) is list and len(batch) == 2


def test_pin_memory_is_accepted_and_changes_nothing():
    X, y = _xy(6)
    plain = [yb.tolist() for _, yb in DataLoader(TensorDataset(X, y), batch_size=4)]
    assert [yb.tolist() for _, yb in DataLoader(TensorDataset(X, y), batch_size=4, pin_memory=True)] == plain


def test_default_samplers_are_pytorchs():
    X, y = _xy(10)
    loader = DataLoader(TensorDataset(X, y), batch_size=3, drop_last=True)
    assert type(loader.sampler) is ag.data.SequentialSampler
    assert type(loader.batch_sampler) is ag.data.BatchSampler and loader.batch_sampler.drop_last
    shuffled = DataLoader(TensorDataset(X, y), batch_size=3, shuffle=True)
    assert type(shuffled.sampler) is ag.data.RandomSampler and shuffled.collate_fn is ag.data.default_collate
    assert DataLoader(TensorDataset(X, y), batch_size=None).collate_fn is ag.data.default_convert


@pytest.mark.parametrize("name", ["batch_size", "sampler", "batch_sampler", "drop_last", "dataset"])
def test_loader_settings_cannot_change_after_it_is_built(name):
    loader = DataLoader(_Squares(4))
    with pytest.raises(ValueError, match=f"DataLoader: {name} cannot be changed after the loader is built"):
        setattr(loader, name, None)


_sampler = ag.data.SequentialSampler(_Squares(4))

_EXCLUSIVE = [
    (dict(shuffle=True, sampler=_sampler), "sampler and shuffle=True are mutually exclusive"),
    (dict(batch_sampler=[[0, 1]], batch_size=2), "batch_sampler is mutually exclusive .* got batch_size=2"),
    (dict(batch_sampler=[[0, 1]], shuffle=True), "batch_sampler is mutually exclusive .* shuffle=True"),
    (dict(batch_sampler=[[0, 1]], sampler=_sampler), "batch_sampler is mutually exclusive .* sampler=Sequential"),
    (dict(batch_sampler=[[0, 1]], drop_last=True), "batch_sampler is mutually exclusive .* drop_last=True"),
    (dict(batch_size=None, drop_last=True), "batch_size=None turns batching off"),
    (dict(persistent_workers=True), "persistent_workers=True needs num_workers > 0"),
    (dict(prefetch_factor=2), "prefetch_factor needs num_workers > 0"),
    (dict(multiprocessing_context="fork"), "multiprocessing_context needs num_workers > 0"),
]


@pytest.mark.parametrize("kwargs, message", _EXCLUSIVE)
def test_mutually_exclusive_arguments(kwargs, message):
    with pytest.raises(ValueError, match=f"DataLoader: {message}"):
        DataLoader(_Squares(4), **kwargs)


@needs_torch
@pytest.mark.parametrize("kwargs, message", _EXCLUSIVE)
def test_torch_refuses_the_same_combinations(kwargs, message):
    torch_kwargs = {
        key: torch.utils.data.SequentialSampler(range(4)) if value is _sampler else value
        for key, value in kwargs.items()
    }
    with pytest.raises(ValueError):
        torch.utils.data.DataLoader(_Squares(4), **torch_kwargs)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(num_workers=-1), ValueError, "num_workers must be >= 0, got -1"),
        (dict(num_workers=1.5), TypeError, "num_workers must be an int, got float"),
        (dict(timeout=-1), ValueError, "timeout must be a number >= 0"),
        (dict(timeout="1"), ValueError, "timeout must be a number >= 0"),
        (dict(pin_memory="yes"), TypeError, "pin_memory must be a bool, got str"),
        (dict(worker_init_fn=3), TypeError, "worker_init_fn must be a callable taking the worker id, got int"),
        (dict(num_workers=1, prefetch_factor=0), ValueError, "prefetch_factor must be >= 1, got 0"),
        (dict(num_workers=1, multiprocessing_context="teleport"), ValueError, "multiprocessing_context must be one of"),
        (dict(num_workers=1, multiprocessing_context=3), TypeError, "multiprocessing_context must be a start method"),
        (dict(generator="rng"), TypeError, "generator must be an ag.Generator, a numpy Generator or None"),
        (dict(generator=np.random.default_rng(0), seed=0), ValueError, "give generator= or seed=, not both"),
        (dict(batch_sampler=5), TypeError, "batch_sampler must be an iterable of index lists with a length, got int"),
        (dict(batch_size=None, shuffle=1), TypeError, "shuffle must be a bool, got int"),
    ],
)
def test_dataloader_rejects_bad_pytorch_arguments(kwargs, error, message):
    with pytest.raises(error, match=f"DataLoader: {message}"):
        DataLoader(_Squares(4), **kwargs)


def test_len_and_batches_match_torch_for_every_batching():
    cases = [(10, 3, False), (10, 3, True), (9, 3, True), (2, 5, False), (2, 5, True), (7, 1, False)]
    for n, batch_size, drop_last in cases:
        loader = DataLoader(_Squares(n), batch_size=batch_size, drop_last=drop_last)
        labels = [yb.tolist() for _, yb in loader]
        assert len(loader) == len(labels)
        if torch is not None:
            reference = torch.utils.data.DataLoader(_Squares(n), batch_size=batch_size, drop_last=drop_last)
            assert len(loader) == len(reference)
            assert labels == [yb.tolist() for _, yb in reference]


# ---- shuffling: generator=, seed=, the global seed, state_dict ---------------------------------------


@pytest.mark.parametrize(
    "make",
    [lambda: np.random.default_rng(11), lambda: ag.Generator().manual_seed(11), lambda: 11],
    ids=["numpy", "ag", "int"],
)
def test_a_generator_gives_the_same_epochs_as_the_same_seed(make):
    X, y = _xy(30)
    by_seed = DataLoader(TensorDataset(X, y), batch_size=4, shuffle=True, seed=11)
    by_generator = DataLoader(TensorDataset(X, y), batch_size=4, shuffle=True, generator=make())
    for _ in range(3):
        np.testing.assert_array_equal(_epoch_labels(by_seed), _epoch_labels(by_generator))


def test_a_shared_generator_advances_between_loaders():
    X, y = _xy(30)
    generator = np.random.default_rng(3)
    first = _epoch_labels(DataLoader(TensorDataset(X, y), batch_size=4, shuffle=True, generator=generator))
    second = _epoch_labels(DataLoader(TensorDataset(X, y), batch_size=4, shuffle=True, generator=generator))
    assert not np.array_equal(first, second)


def test_the_global_seed_set_after_building_the_loader_decides_its_order():
    X, y = _xy(30)
    loader = DataLoader(TensorDataset(X, y), batch_size=4, shuffle=True)
    ag.manual_seed(5)
    first = _epoch_labels(loader)
    ag.manual_seed(5)
    np.testing.assert_array_equal(_epoch_labels(loader), first)
    ag.manual_seed(6)
    assert not np.array_equal(_epoch_labels(loader), first)


def test_an_unseeded_epoch_is_fixed_when_it_starts():
    X, y = _xy(30)
    loader = DataLoader(TensorDataset(X, y), batch_size=4, shuffle=True)
    ag.manual_seed(2)
    undisturbed = _epoch_labels(loader)
    ag.manual_seed(2)
    labels = []
    for _, yb in loader:
        ag.rand(3)  # dropout masks and the like draw from the global generator during the epoch
        labels.extend(yb.tolist())
    assert labels == undisturbed.tolist()


@pytest.mark.parametrize("sampler_generator", [False, True])
def test_state_dict_restores_the_next_epochs(sampler_generator):
    X, y = _xy(30)

    def make():
        if sampler_generator:
            sampler = ag.data.RandomSampler(TensorDataset(X, y), generator=np.random.default_rng(8))
            return DataLoader(TensorDataset(X, y), batch_size=4, sampler=sampler, seed=1)
        return DataLoader(TensorDataset(X, y), batch_size=4, shuffle=True, seed=8)

    loader = make()
    _epoch_labels(loader)
    state = loader.state_dict()
    assert len(state["generators"]) == (2 if sampler_generator else 1)
    next_epochs = [_epoch_labels(loader) for _ in range(2)]
    restored = make()
    restored.load_state_dict(state)
    for expected in next_epochs:
        np.testing.assert_array_equal(_epoch_labels(restored), expected)
    assert DataLoader(TensorDataset(X, y)).state_dict() == {"generators": []}  # the global generator's, not its own


@pytest.mark.parametrize(
    "state, message",
    [
        ({"generators": []}, "the state holds 0 generators, this loader draws from 1"),
        ([1], r"expected \{'generators': \[...\]\}"),
        ({"generators": [{"bit_generator": "MT19937", "state": {}}]}, "a generator state does not load"),
    ],
)
def test_load_state_dict_refuses_a_bad_state_and_changes_nothing(state, message):
    loader = DataLoader(_Squares(10), batch_size=3, shuffle=True, seed=4)
    before = loader.state_dict()
    with pytest.raises(ValueError, match=f"DataLoader.load_state_dict: {message}"):
        loader.load_state_dict(state)
    assert loader.state_dict() == before


def test_random_split_takes_a_generator_or_a_seed():
    by_seed = random_split(_Squares(20), [0.5, 0.5], seed=4)
    by_generator = random_split(_Squares(20), [0.5, 0.5], generator=np.random.default_rng(4))
    np.testing.assert_array_equal(by_seed[0].indices, by_generator[0].indices)
    ag.manual_seed(9)
    first = random_split(_Squares(20), [10, 10])
    ag.manual_seed(9)
    np.testing.assert_array_equal(random_split(_Squares(20), [10, 10])[0].indices, first[0].indices)
    with pytest.raises(ValueError, match="random_split: give generator= or seed=, not both"):
        random_split(_Squares(20), [10, 10], generator=np.random.default_rng(1), seed=1)
    with pytest.raises(TypeError, match="random_split: generator must be an ag"):
        random_split(_Squares(20), [10, 10], generator="one")
