"""ag.save / ag.load: round trips, PyTorch interop through safetensors, atomic
writes, and a clear ValueError for every kind of bad file."""

import errno
import io
import json
import os
import pickle
import re
import stat
import struct
import time

import numpy as np
import pytest
import safetensors
import safetensors.numpy

import autograd_core as ag
from autograd_core import serialization

ALL_DTYPES = [
    np.float16,
    np.float32,
    np.float64,
    np.int8,
    np.int16,
    np.int32,
    np.int64,
    np.uint8,
    np.uint16,
    np.uint32,
    np.uint64,
    np.bool_,
]


def sample_array(shape, dtype, seed=0):
    values = np.asarray(np.random.default_rng(seed).normal(scale=50.0, size=shape))
    if dtype == np.bool_:
        return np.asarray(values > 0)
    if np.issubdtype(dtype, np.unsignedinteger):
        return np.asarray(np.abs(values).astype(dtype))
    return values.astype(dtype)


def assert_same(loaded, original, where="obj"):
    """`loaded` is `original` with every Tensor/array turned into a non-grad Tensor of equal dtype and values."""
    if isinstance(original, (ag.Tensor, np.ndarray)):
        expected = np.asarray(original) if isinstance(original, ag.Tensor) else original
        assert isinstance(loaded, ag.Tensor), f"{where}: {type(loaded)}"
        assert not loaded.requires_grad, where
        assert loaded.dtype == expected.dtype, f"{where}: {loaded.dtype} != {expected.dtype}"
        assert loaded.shape == expected.shape, f"{where}: {loaded.shape} != {expected.shape}"
        np.testing.assert_array_equal(np.asarray(loaded), expected, err_msg=where)
    elif isinstance(original, dict):
        assert type(loaded) is dict, where
        assert list(loaded) == list(original), where
        for key in original:
            assert_same(loaded[key], original[key], f"{where}[{key!r}]")
    elif isinstance(original, (list, tuple)):
        assert type(loaded) is type(original), f"{where}: {type(loaded)} != {type(original)}"
        assert len(loaded) == len(original), where
        for index, (got, want) in enumerate(zip(loaded, original)):
            assert_same(got, want, f"{where}[{index}]")
    else:
        assert type(loaded) is type(original), f"{where}: {type(loaded)} != {type(original)}"
        assert loaded == original or (loaded != loaded and original != original), where  # NaN == NaN here


def round_trip(obj, tmp_path, name="obj.safetensors"):
    path = tmp_path / name
    ag.save(obj, path)
    return ag.load(path)


# --- round trips ----------------------------------------------------------------------


def test_nested_checkpoint_round_trips(tmp_path):
    ag.manual_seed(0)
    checkpoint = {
        "model": {"0.weight": ag.randn(4, 3), "0.bias": ag.randn(4), "2.weight": ag.randn(2, 4)},
        "optimizer": {
            "state": {0: {"step": 3, "exp_avg": ag.zeros(4, 3)}, 1: {"step": 3, "exp_avg": ag.ones(4)}},
            "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "amsgrad": False, "foreach": None, "params": [0, 1]}],
        },
        "epoch": 7,
        "best_loss": float("nan"),
        "big": 2**70,
        "run": "moons-α",
        "history": [0.5, 0.25, (1, "two", [np.arange(6).reshape(2, 3)])],
        "empty": {"dict": {}, "list": [], "tuple": ()},
    }
    assert_same(round_trip(checkpoint, tmp_path), checkpoint)


@pytest.mark.parametrize(
    "root",
    [
        ag.tensor([1.0, 2.0]),
        [ag.tensor(1.0), 2],
        ("a", None),
        3.5,
        "text",
        None,
        {},
    ],
    ids=["tensor", "list", "tuple", "float", "str", "none", "empty-dict"],
)
def test_any_supported_value_can_be_the_root(root, tmp_path):
    assert_same(round_trip(root, tmp_path), root)


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape", [(), (0,), (2, 0, 3), (5,), (3, 4, 2)], ids=str)
def test_every_dtype_and_shape_round_trips(dtype, shape, tmp_path):
    state = {"as_array": sample_array(shape, dtype), "as_tensor": ag.tensor(sample_array(shape, dtype, seed=1))}
    assert_same(round_trip(state, tmp_path), state)


@pytest.mark.parametrize(
    "make_view",
    [
        lambda a: a.T,
        lambda a: a[::2, 1::3],
        lambda a: a[::-1, ::-2],
        lambda a: np.broadcast_to(a[:1], a.shape),
        lambda a: a.astype(a.dtype.newbyteorder(">")),
    ],
    ids=["transposed", "strided", "negative-strides", "zero-stride", "big-endian"],
)
def test_non_contiguous_and_foreign_byte_order_arrays_save_their_values(make_view, tmp_path):
    view = make_view(np.arange(48, dtype=np.float64).reshape(6, 8) * 1.5)
    loaded = round_trip({"view": view, "tensor": ag.tensor(np.array(view))}, tmp_path)
    for key in ("view", "tensor"):
        np.testing.assert_array_equal(np.asarray(loaded[key]), view)
        assert loaded[key].shape == view.shape


def test_tensors_that_require_grad_save_their_values_and_load_detached(tmp_path):
    weight = ag.tensor([[1.0, -2.0], [3.0, 0.5]], requires_grad=True)
    (weight * weight).sum().backward()
    loaded = round_trip({"weight": weight}, tmp_path)["weight"]
    assert not loaded.requires_grad and loaded.grad is None and loaded.grad_fn is None
    np.testing.assert_array_equal(np.asarray(loaded), np.asarray(weight))


def test_loaded_tensors_are_writable_and_independent(tmp_path):
    loaded = round_trip({"a": ag.zeros(3), "b": ag.zeros(3)}, tmp_path)
    with ag.no_grad():
        loaded["a"].add_(ag.ones(3))
    np.testing.assert_array_equal(np.asarray(loaded["a"]), [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(np.asarray(loaded["b"]), [0.0, 0.0, 0.0])


def test_numpy_scalars_come_back_as_python_numbers(tmp_path):
    loaded = round_trip({"step": np.int64(5), "lr": np.float32(0.5), "flag": np.bool_(True)}, tmp_path)
    assert loaded == {"step": 5, "lr": 0.5, "flag": True}
    assert [type(value) for value in loaded.values()] == [int, float, bool]


def test_keys_that_join_to_the_same_name_stay_distinct(tmp_path):
    state = {"a.b": ag.tensor([1.0]), "a": {"b": ag.tensor([2.0])}, "a.b#1": ag.tensor([3.0])}
    path = tmp_path / "collide.safetensors"
    ag.save(state, path)
    assert_same(ag.load(path), state)
    assert sorted(safetensors.numpy.load_file(path)) == ["a.b", "a.b#1", "a.b#1#1"]


def test_path_may_be_str_or_pathlike(tmp_path):
    ag.save({"x": 1}, str(tmp_path / "s.safetensors"))
    assert ag.load(tmp_path / "s.safetensors") == {"x": 1}


def test_saving_over_a_file_replaces_it_and_leaves_no_temporary_files(tmp_path):
    path = tmp_path / "state.safetensors"
    ag.save({"version": 1}, path)
    ag.save({"version": 2, "w": ag.ones(2)}, path)
    assert ag.load(path)["version"] == 2
    assert os.listdir(tmp_path) == ["state.safetensors"]


def test_new_file_permissions_follow_the_umask_like_open(tmp_path):
    umask = os.umask(0o022)
    try:
        ag.save({"x": 1}, tmp_path / "perm.safetensors")
    finally:
        os.umask(umask)
    assert stat.S_IMODE(os.stat(tmp_path / "perm.safetensors").st_mode) == 0o644


# --- the file is plain safetensors ----------------------------------------------------


def test_flat_state_dict_is_a_plain_safetensors_file_under_its_own_keys(tmp_path):
    state = {"0.weight": ag.randn(4, 3), "0.bias": ag.randn(4), "running": np.arange(3, dtype=np.int64)}
    path = tmp_path / "model.safetensors"
    ag.save(state, path)
    raw = safetensors.numpy.load_file(path)
    assert sorted(raw) == sorted(state)
    with safetensors.safe_open(path, framework="np") as opened:
        assert opened.metadata()["format"] == "pt"  # what Hugging Face loaders require of a torch checkpoint
    for key, value in state.items():
        np.testing.assert_array_equal(raw[key], np.asarray(value))


def test_a_safetensors_file_without_our_metadata_loads_as_a_flat_dict(tmp_path):
    arrays = {"layer.weight": sample_array((2, 3), np.float32), "steps": np.array(4, dtype=np.int64)}
    path = tmp_path / "foreign.safetensors"
    safetensors.numpy.save_file(arrays, path)
    loaded = ag.load(path)
    assert sorted(loaded) == sorted(arrays)
    for key in arrays:
        assert_same(loaded[key], arrays[key], key)


def torch_reference_model(torch):
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))


def test_state_dict_saved_by_torch_loads_with_the_same_names_dtypes_and_values(tmp_path):
    torch = pytest.importorskip("torch")
    import safetensors.torch

    model = torch_reference_model(torch)
    state = model.state_dict()
    path = tmp_path / "torch.safetensors"
    safetensors.torch.save_file(state, path)
    loaded = ag.load(path)
    assert sorted(loaded) == sorted(state) == ["0.bias", "0.weight", "2.bias", "2.weight"]
    for key, value in state.items():
        assert_same(loaded[key], value.numpy(), key)


def test_every_dtype_saved_by_torch_loads_with_the_same_dtype(tmp_path):
    torch = pytest.importorskip("torch")
    import safetensors.torch

    tensors = {np.dtype(dtype).name: torch.from_numpy(sample_array((2, 3), dtype)) for dtype in ALL_DTYPES}
    path = tmp_path / "dtypes.safetensors"
    safetensors.torch.save_file(tensors, path)
    loaded = ag.load(path)
    for name, value in tensors.items():
        assert_same(loaded[name], value.numpy(), name)


def test_state_dict_saved_by_ag_loads_into_the_torch_model(tmp_path):
    torch = pytest.importorskip("torch")
    import safetensors.torch

    ag.manual_seed(1)
    state = {"0.weight": ag.randn(4, 3), "0.bias": ag.randn(4), "2.weight": ag.randn(2, 4), "2.bias": ag.randn(2)}
    path = tmp_path / "ag.safetensors"
    ag.save(state, path)

    model = torch_reference_model(torch)
    model.load_state_dict(safetensors.torch.load_file(path), strict=True)
    inputs = np.random.default_rng(2).normal(size=(5, 3)).astype(np.float32)
    with torch.no_grad():
        torch_out = model(torch.from_numpy(inputs)).numpy()
    hidden = np.maximum(inputs @ np.asarray(state["0.weight"]).T + np.asarray(state["0.bias"]), 0.0)
    numpy_out = hidden @ np.asarray(state["2.weight"]).T + np.asarray(state["2.bias"])
    np.testing.assert_allclose(torch_out, numpy_out, rtol=1e-6, atol=1e-6)


# --- atomic writes --------------------------------------------------------------------


class InjectedCrash(BaseException):
    """Stands for a crash (or KeyboardInterrupt) in the middle of a save."""


def crash_after_half_the_bytes(monkeypatch):
    real_open = open

    class HalfWritingFile:
        def __init__(self, handle):
            self.handle = handle

        def __enter__(self):
            return self

        def __exit__(self, *exc_info):
            self.handle.close()

        def write(self, payload):
            self.handle.write(payload[: len(payload) // 2])
            self.handle.flush()
            raise InjectedCrash("crash mid-write")

    monkeypatch.setattr(serialization, "open", lambda *args: HalfWritingFile(real_open(*args)), raising=False)


def crash_in_fsync(monkeypatch):
    def failing_fsync(descriptor):
        raise InjectedCrash("crash before the rename")

    monkeypatch.setattr(serialization.os, "fsync", failing_fsync)


@pytest.mark.parametrize("inject", [crash_after_half_the_bytes, crash_in_fsync], ids=["mid-write", "in-fsync"])
def test_a_crash_while_saving_leaves_the_old_file_intact_and_no_temporary_file(inject, tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.safetensors"
    ag.save({"weights": ag.ones(1000), "epoch": 1}, path)
    old_bytes = path.read_bytes()

    inject(monkeypatch)
    with pytest.raises(InjectedCrash):
        ag.save({"weights": ag.zeros(1000), "epoch": 2}, path)
    monkeypatch.undo()

    assert path.read_bytes() == old_bytes
    assert os.listdir(tmp_path) == ["checkpoint.safetensors"]
    assert ag.load(path)["epoch"] == 1


def test_a_failed_first_save_creates_nothing(tmp_path, monkeypatch):
    crash_in_fsync(monkeypatch)
    with pytest.raises(InjectedCrash):
        ag.save({"x": ag.ones(3)}, tmp_path / "new.safetensors")
    assert os.listdir(tmp_path) == []


# --- bad files ------------------------------------------------------------------------


def safetensors_bytes(header, data=b""):
    """A file with `header` written as-is, so a test can make it lie."""
    encoded = json.dumps(header).encode()
    return struct.pack("<Q", len(encoded)) + encoded + data


def valid_file_bytes():
    return safetensors.numpy.save({"w": np.arange(4, dtype=np.float32)})


def our_file_with_tree(tree):
    metadata = {"autograd_core": json.dumps({"version": 1, "tree": tree})}
    return safetensors.numpy.save({"w": np.arange(4, dtype=np.float32)}, metadata=metadata)


def npz_bytes():
    buffer = io.BytesIO()
    np.savez(buffer, w=np.ones(3))
    return buffer.getvalue()


def npy_bytes():
    buffer = io.BytesIO()
    np.save(buffer, np.ones(3))
    return buffer.getvalue()


W_ENTRY = {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}

BAD_FILES = {
    "empty": (lambda: b"", "is empty"),
    "shorter-than-length-field": (lambda: b"\x05\x00\x00", "fewer than the 8-byte header length"),
    "truncated-in-header": (lambda: valid_file_bytes()[:20], "truncated or not a safetensors file"),
    "truncated-in-data": (lambda: valid_file_bytes()[:-3], "corrupt safetensors file"),
    "trailing-garbage": (lambda: valid_file_bytes() + b"junk", "corrupt safetensors file"),
    "random-bytes": (lambda: np.random.default_rng(0).bytes(512), "not a safetensors file"),
    "json-file": (lambda: json.dumps({"w": [1, 2, 3]}).encode(), "looks like a JSON or text file"),
    "npz": (npz_bytes, "looks like a zip archive"),
    "npy": (npy_bytes, "looks like a numpy .npy file"),
    "header-not-json": (lambda: struct.pack("<Q", 4) + b"\xff{[x", "header is not JSON"),
    "header-a-list": (lambda: safetensors_bytes([1, 2]), "header is a JSON list"),
    "offsets-past-the-end": (
        lambda: safetensors_bytes({"w": {**W_ENTRY, "data_offsets": [0, 400]}}, bytes(16)),
        "corrupt safetensors file",
    ),
    "offsets-overlap": (lambda: safetensors_bytes({"a": W_ENTRY, "b": W_ENTRY}, bytes(16)), "corrupt safetensors file"),
    "shape-disagrees-with-bytes": (
        lambda: safetensors_bytes({"w": {**W_ENTRY, "shape": [5]}}, bytes(16)),
        "corrupt safetensors file",
    ),
    "dtype-numpy-lacks": (
        lambda: safetensors_bytes({"w": {**W_ENTRY, "dtype": "BF16", "shape": [8]}}, bytes(16)),
        "dtype 'BF16'",
    ),
    "tree-names-missing-tensor": (
        lambda: our_file_with_tree({"dict": [["w", {"tensor": "w"}], ["v", {"tensor": "v"}]]}),
        "refers to tensor 'v'",
    ),
    "tree-omits-a-tensor": (lambda: our_file_with_tree({"dict": []}), "not in the structure"),
    "tree-unknown-kind": (lambda: our_file_with_tree({"set": [{"tensor": "w"}]}), "unknown node kind 'set'"),
    "tree-bad-pair": (lambda: our_file_with_tree({"dict": [["w"]]}), "not a [key, node] pair"),
    "tree-not-json": (
        lambda: safetensors.numpy.save({"w": np.zeros(1)}, metadata={"autograd_core": "{tree"}),
        "corrupt 'autograd_core' metadata",
    ),
    "tree-wrong-version": (
        lambda: safetensors.numpy.save(
            {"w": np.zeros(1)}, metadata={"autograd_core": json.dumps({"version": 99, "tree": {}})}
        ),
        "'version': 1",
    ),
}


@pytest.mark.parametrize("case", BAD_FILES, ids=str)
def test_bad_files_raise_a_value_error_naming_the_path_and_the_problem(case, tmp_path):
    make_bytes, message = BAD_FILES[case]
    path = tmp_path / f"{case}.bin"
    path.write_bytes(make_bytes())
    with pytest.raises(ValueError) as raised:
        ag.load(path)
    assert str(path) in str(raised.value)
    assert message in str(raised.value)


class CreatesMarkerWhenUnpickled:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def test_a_pickle_is_reported_and_never_unpickled(tmp_path):
    control, marker = tmp_path / "control", tmp_path / "marker"
    pickle.loads(pickle.dumps(CreatesMarkerWhenUnpickled(control))).close()
    assert control.exists(), "the payload must really run code when unpickled"

    path = tmp_path / "evil.pt"
    path.write_bytes(pickle.dumps({"w": CreatesMarkerWhenUnpickled(marker)}))
    with pytest.raises(ValueError, match="looks like a pickle"):
        ag.load(path)
    assert not marker.exists()


def test_a_torch_save_file_is_reported_as_foreign(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "model.pt"
    torch.save(torch_reference_model(torch).state_dict(), path)
    with pytest.raises(ValueError, match="zip archive"):
        ag.load(path)


def test_a_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        ag.load(tmp_path / "absent.safetensors")


# --- unsupported values ---------------------------------------------------------------


@pytest.mark.parametrize(
    "value, type_name",
    [
        (object(), "builtins.object"),
        ({1, 2}, "builtins.set"),
        (b"bytes", "builtins.bytes"),
        (1j, "builtins.complex"),
        (lambda: 0, "function"),
        (np.datetime64("2024-01-01"), "numpy.datetime64"),
    ],
)
def test_unsupported_leaf_types_raise_type_error_naming_the_key_path(value, type_name, tmp_path):
    with pytest.raises(TypeError) as raised:
        ag.save({"model": {"layers": [ag.ones(1), value]}}, tmp_path / "x.safetensors")
    assert "obj['model']['layers'][1]" in str(raised.value)
    assert type_name in str(raised.value)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("dtype", [object, np.complex128, "U3", "datetime64[s]"], ids=str)
def test_arrays_safetensors_cannot_hold_raise_type_error_naming_path_and_dtype(dtype, tmp_path):
    array = np.zeros(2, dtype=dtype)
    with pytest.raises(TypeError, match=r"obj\['opt'\]\[0\] has dtype " + re.escape(str(np.dtype(dtype)))):
        ag.save({"opt": [array]}, tmp_path / "x.safetensors")


@pytest.mark.parametrize("key", [1.5, (1, 2), True, None], ids=repr)
def test_dict_keys_must_be_str_or_int(key, tmp_path):
    with pytest.raises(TypeError, match=r"key .* in obj\['state'\] is a .*; dict keys must be str or int"):
        ag.save({"state": {key: 1}}, tmp_path / "x.safetensors")


def test_a_reference_cycle_raises_value_error(tmp_path):
    looped = {"a": []}
    looped["a"].append(looped)
    with pytest.raises(ValueError, match=r"obj\['a'\]\[0\] contains itself"):
        ag.save(looped, tmp_path / "x.safetensors")


def test_the_same_object_twice_is_not_a_cycle(tmp_path):
    shared = [ag.ones(2)]
    state = {"first": shared, "second": shared}
    assert_same(round_trip(state, tmp_path), state)


# --- misuse and faults: reserved names, special targets, huge or endless files ----------


def test_a_key_the_format_reserves_is_refused_before_anything_is_written(tmp_path):
    path = tmp_path / "good.safetensors"
    ag.save({"w": ag.ones(2)}, path)
    good_bytes = path.read_bytes()
    with pytest.raises(ValueError, match=r"obj\['__metadata__'\] would be stored under the name '__metadata__'"):
        ag.save({"__metadata__": ag.ones(3)}, path)
    assert path.read_bytes() == good_bytes
    assert os.listdir(tmp_path) == ["good.safetensors"]
    # The name is reserved only as a tensor name: a nested key or a plain value under it is stored fine.
    state = {"__metadata__": {"w": ag.ones(2)}, "x": {"__metadata__": 3}}
    assert_same(round_trip(state, tmp_path), state)


def test_a_symlink_is_written_through_to_its_target(tmp_path):
    run = tmp_path / "run-7.ckpt"
    ag.save({"step": 1}, run)
    latest = tmp_path / "latest.ckpt"
    latest.symlink_to(run.name)
    ag.save({"step": 2}, latest)
    assert latest.is_symlink() and os.readlink(latest) == run.name
    assert ag.load(run) == {"step": 2}
    assert sorted(os.listdir(tmp_path)) == ["latest.ckpt", "run-7.ckpt"]


def test_a_dangling_symlink_creates_its_target(tmp_path):
    (tmp_path / "latest.ckpt").symlink_to("run-8.ckpt")
    ag.save({"step": 3}, tmp_path / "latest.ckpt")
    assert (tmp_path / "latest.ckpt").is_symlink()
    assert ag.load(tmp_path / "run-8.ckpt") == {"step": 3}


def test_an_existing_file_keeps_its_permissions(tmp_path):
    path = tmp_path / "secret.safetensors"
    ag.save({"x": 1}, path)
    os.chmod(path, 0o600)
    ag.save({"x": 2}, path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert ag.load(path) == {"x": 2}


def special_targets(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    link_to_fifo = tmp_path / "link"
    link_to_fifo.symlink_to(fifo)
    return {
        "fifo": (fifo, "a named pipe (FIFO)"),
        "link-to-fifo": (link_to_fifo, "a named pipe (FIFO)"),
        "directory": (tmp_path, "a directory"),
    }


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo (POSIX)")
@pytest.mark.parametrize("kind", ["fifo", "link-to-fifo", "directory"])
def test_a_target_that_is_not_a_regular_file_is_refused_before_writing(kind, tmp_path):
    target, description = special_targets(tmp_path)[kind]
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(
        ValueError, match=f"cannot write {re.escape(str(target))}.*it is {re.escape(description)}, not a regular file"
    ):
        ag.save({"x": 1}, target)
    assert sorted(os.listdir(tmp_path)) == before
    assert stat.S_ISFIFO(os.stat(tmp_path / "pipe").st_mode)


def test_a_device_is_refused_and_stays_a_device(tmp_path):
    if not os.path.exists("/dev/null"):
        pytest.skip("no /dev/null")
    # Through a link, so that a regression replaces the link, never the machine's /dev/null (as root it could).
    link = tmp_path / "out.safetensors"
    link.symlink_to("/dev/null")
    with pytest.raises(ValueError, match=r"\(a link to /dev/null\): it is a character device, not a regular file"):
        ag.save({"x": 1}, link)
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode) and link.is_symlink()


def test_a_target_name_at_the_length_limit_saves(tmp_path):
    name = "c" * 250 + ".ckpt"  # 255 bytes: the longest name most filesystems allow
    ag.save({"x": ag.ones(2)}, tmp_path / name)
    assert os.listdir(tmp_path) == [name]
    assert_same(ag.load(tmp_path / name), {"x": ag.ones(2)})


def test_an_unsupported_directory_fsync_counts_as_done(tmp_path, monkeypatch):
    real_fsync = os.fsync

    def fsync_like_a_fuse_volume(descriptor):
        if stat.S_ISDIR(os.fstat(descriptor).st_mode):
            raise OSError(errno.EINVAL, "Invalid argument")
        real_fsync(descriptor)

    monkeypatch.setattr(serialization.os, "fsync", fsync_like_a_fuse_volume)
    ag.save({"x": 1}, tmp_path / "a.safetensors")
    assert ag.load(tmp_path / "a.safetensors") == {"x": 1}


def test_a_real_directory_fsync_failure_still_raises(tmp_path, monkeypatch):
    real_fsync = os.fsync

    def failing_disk(descriptor):
        if stat.S_ISDIR(os.fstat(descriptor).st_mode):
            raise OSError(errno.EIO, "Input/output error")
        real_fsync(descriptor)

    monkeypatch.setattr(serialization.os, "fsync", failing_disk)
    with pytest.raises(OSError, match="Input/output error"):
        ag.save({"x": 1}, tmp_path / "a.safetensors")


def leave_a_killed_save_behind(tmp_path, name, age_seconds):
    """The temporary a save killed mid-write (SIGKILL: no cleanup ran) leaves, last written `age_seconds` ago."""
    prefix = serialization._temporary_prefix(name)
    leftover = tmp_path / f"{prefix}deadbeef.tmp"
    leftover.write_bytes(bytes(1000))
    stamp = os.stat(leftover).st_mtime - age_seconds
    os.utime(leftover, (stamp, stamp))
    return leftover


def test_the_next_save_removes_a_stale_temporary_of_the_same_target(tmp_path):
    stale = leave_a_killed_save_behind(tmp_path, "model.ckpt", age_seconds=60)
    other_target = leave_a_killed_save_behind(tmp_path, "other.ckpt", age_seconds=60)
    unrelated = tmp_path / ".notes.tmp"
    unrelated.write_bytes(b"mine")
    ag.save({"x": 1}, tmp_path / "model.ckpt")
    assert not stale.exists()
    assert other_target.exists() and unrelated.exists()
    assert sorted(os.listdir(tmp_path)) == sorted(["model.ckpt", other_target.name, ".notes.tmp"])


def test_a_recent_temporary_is_left_alone(tmp_path):
    recent = leave_a_killed_save_behind(tmp_path, "model.ckpt", age_seconds=0)
    ag.save({"x": 1}, tmp_path / "model.ckpt")
    assert recent.exists()


@pytest.mark.skipif(os.name != "posix", reason="flock is POSIX")
def test_a_temporary_locked_by_a_live_writer_is_left_alone(tmp_path):
    import fcntl

    busy = leave_a_killed_save_behind(tmp_path, "model.ckpt", age_seconds=60)
    with open(busy, "rb") as writer:
        fcntl.flock(writer.fileno(), fcntl.LOCK_EX)
        ag.save({"x": 1}, tmp_path / "model.ckpt")
        assert busy.exists()
    ag.save({"x": 2}, tmp_path / "model.ckpt")
    assert not busy.exists()


def test_temporary_names_are_short_and_in_the_target_directory(tmp_path, monkeypatch):
    created = []
    real_open = os.open

    def recording_open(path, flags, *args):
        if flags & os.O_CREAT:
            created.append(path)
        return real_open(path, flags, *args)

    monkeypatch.setattr(serialization.os, "open", recording_open)
    ag.save({"x": 1}, tmp_path / ("m" * 200))
    (temporary,) = created
    assert os.path.dirname(temporary) == str(tmp_path)
    assert len(os.path.basename(temporary)) <= 32


def write_sparse_file(path, size, head):
    with open(path, "wb") as handle:
        handle.write(head)
        handle.truncate(size)


GIGABYTE = 1 << 30


@pytest.mark.parametrize(
    "head, message",
    [
        (struct.pack("<Q", 1 << 40), "says 1099511627776 bytes but only"),
        (struct.pack("<Q", GIGABYTE // 2), "safetensors allows at most 100000000"),
        (struct.pack("<Q", 2) + b"{}", "declares 0 bytes of tensor data but 1073741814 follow"),
        (b"\x00" * 8, "header is not JSON"),
    ],
    ids=["length-past-the-end", "length-over-the-limit", "valid-header-huge-tail", "zeros"],
)
def test_a_huge_file_with_a_bogus_header_is_refused_fast_without_reading_it(head, message, tmp_path):
    import tracemalloc

    path = tmp_path / "huge.safetensors"
    write_sparse_file(path, GIGABYTE, head)
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(ValueError, match=message):
            ag.load(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize("special", ["/dev/zero", "/dev/null"])
def test_a_device_is_refused_by_load(special):
    if not os.path.exists(special):
        pytest.skip(f"no {special}")
    with pytest.raises(ValueError, match=f"ag.load: {special} is a character device, not a regular file"):
        ag.load(special)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo (POSIX)")
def test_a_fifo_without_a_writer_is_refused_by_load_instead_of_blocking(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(ValueError, match="is a named pipe"):
        ag.load(tmp_path / "pipe")
