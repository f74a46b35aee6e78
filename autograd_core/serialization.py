"""`ag.save(obj, path)` and `ag.load(path)`: state dicts as safetensors files.

What can be saved
-----------------
Nested dicts (str or int keys; int keys as in an optimizer's `state`), lists
and tuples whose leaves are Tensors, numpy arrays, numbers (int, float, bool,
None, numpy scalars) or strings. Anything else raises `TypeError` naming the
key path and the type. A tensor whose key path joins to "__metadata__" (the
name safetensors reserves for its header metadata) raises `ValueError`.

The file
--------
A plain safetensors file: an 8-byte little-endian header length, a JSON
header, then the raw tensor bytes. Nothing is ever pickled, and loading only
parses JSON and copies bytes, so it never runs code.

- Each tensor leaf is a safetensors tensor named by its key path joined with
  "." (PyTorch's state-dict convention: `0.weight`, `state.3.exp_avg`). So a
  flat `dict[str, Tensor]` such as `model.state_dict()` becomes exactly the
  file `safetensors.torch.save_file` writes for the equivalent torch model.
- The structure (dicts, lists, tuples, key order) and the non-tensor leaves go
  into the header's `__metadata__` as JSON under the key "autograd_core".
  Every node of that tree is a one-key object naming its kind::

      {"dict": [[key, node], ...]}   {"list": [node, ...]}   {"tuple": [...]}
      {"tensor": "<name in the file>"}   {"value": <JSON scalar>}

  Dicts are stored as key/value pairs so int keys stay int.

What comes back
---------------
`ag.load` returns the saved structure with a Tensor (not requiring grad) in
place of every Tensor *and* every numpy array: one leaf type is simpler to
use than remembering which was which, and `t.numpy()` gives the array back
without a copy. Dict subclasses (OrderedDict) come back as plain dicts, which
keep order too. A safetensors file without our metadata (written by torch or
any other tool) loads as a flat dict name -> Tensor, in header order.
"""

import contextlib
import errno
import hashlib
import json
import os
import stat
import struct
import time
import types
from typing import Any

import numpy as np
import safetensors
import safetensors.numpy

from .tensor import Tensor

__all__ = ["save", "load", "atomic_write"]

fcntl: types.ModuleType | None
try:
    import fcntl
except ImportError:  # Windows: an open file cannot be deleted there, which protects a live writer's temporary
    fcntl = None

_METADATA_KEY = "autograd_core"
_RESERVED_NAME = "__metadata__"  # the header entry safetensors keeps for metadata: no tensor may take it
_FORMAT_VERSION = 1
_HEADER_LENGTH_BYTES = 8
_MAX_HEADER_BYTES = 100_000_000  # safetensors' own limit

# dtype -> safetensors dtype code, for every dtype of ours that safetensors can hold
# (numpy has no bfloat16 or float8, so files holding those cannot be loaded).
_SAFETENSORS_DTYPES = {
    np.dtype(np.bool_): "BOOL",
    np.dtype(np.uint8): "U8",
    np.dtype(np.uint16): "U16",
    np.dtype(np.uint32): "U32",
    np.dtype(np.uint64): "U64",
    np.dtype(np.int8): "I8",
    np.dtype(np.int16): "I16",
    np.dtype(np.int32): "I32",
    np.dtype(np.int64): "I64",
    np.dtype(np.float16): "F16",
    np.dtype(np.float32): "F32",
    np.dtype(np.float64): "F64",
}
_LOADABLE_DTYPE_CODES = frozenset(_SAFETENSORS_DTYPES.values())

# Leading bytes of formats people mistake for a state-dict file, to say what was found instead.
_FOREIGN_SIGNATURES = (
    (b"\x80", "a pickle (pickle.dump, or torch.save with the legacy format)"),
    (b"PK\x03\x04", "a zip archive (numpy .npz, or torch.save output)"),
    (b"\x93NUMPY", "a numpy .npy file"),
    (b"\x1f\x8b", "a gzip file"),
    ((b"{", b"["), "a JSON or text file"),
)


def save(obj: Any, path: str | os.PathLike[str]) -> None:
    """Write `obj` (a state dict) to `path` as a safetensors file, atomically.

    See `atomic_write` for how: a crash at any point leaves either the old file
    or the new one, never a mix; a symlink is written through; an existing
    file keeps its permissions; a directory, pipe or device is refused. Every
    problem with `obj` (an unsupported value, a key the format reserves) is
    raised before anything is written.
    """
    path = os.fspath(path)
    arrays: dict[str, np.ndarray] = {}
    tree = _encode(obj, (), arrays, ancestors=set())
    metadata = {
        # The marker Hugging Face loaders check; the tensors use PyTorch's names and layout.
        "format": "pt",
        _METADATA_KEY: json.dumps({"version": _FORMAT_VERSION, "tree": tree}),
    }
    atomic_write(path, safetensors.numpy.save(arrays, metadata=metadata))


def load(path: str | os.PathLike[str]) -> Any:
    """Read a file written by `save` (or any safetensors file) back.

    Raises FileNotFoundError if `path` does not exist, and ValueError naming
    the path and the problem if it is not a regular file (a pipe, a device),
    or is empty, truncated, corrupt, or not a safetensors file at all. The
    header is read and checked against the file's size before the tensor
    bytes, so a huge file with a bogus header costs neither time nor memory.
    """
    path = os.fspath(path)
    with _open_regular_file(path) as handle:
        size = os.fstat(handle.fileno()).st_size
        header = _read_header(path, handle, size)
        handle.seek(0)
        payload = handle.read(size)  # checked above: exactly the header and the tensor bytes it declares
    try:
        arrays = safetensors.numpy.load(payload)
    except safetensors.SafetensorError as error:
        raise ValueError(f"ag.load: {path} is a corrupt safetensors file: {error}") from None
    # np.require copies only if safetensors ever hands back read-only buffers: loaded tensors must be editable.
    tensors = {name: Tensor(np.require(array, requirements="W")) for name, array in arrays.items()}

    metadata = header.get(_RESERVED_NAME) or {}
    if _METADATA_KEY not in metadata:
        return {name: tensors[name] for name in header if name != _RESERVED_NAME}
    try:
        document = json.loads(metadata[_METADATA_KEY])
        if not (isinstance(document, dict) and document.get("version") == _FORMAT_VERSION and "tree" in document):
            raise _CorruptTree(f"expected {{'version': {_FORMAT_VERSION}, 'tree': ...}}, got {document!r:.200}")
        used: set[str] = set()
        obj = _decode(document["tree"], tensors, used, ())
        unused = sorted(set(tensors) - used)
        if unused:
            raise _CorruptTree(f"tensors {unused} are in the file but not in the structure")
    except (_CorruptTree, json.JSONDecodeError, RecursionError) as error:
        raise ValueError(f"ag.load: {path} has corrupt {_METADATA_KEY!r} metadata: {error}") from None
    return obj


# --- encoding -------------------------------------------------------------------------


def _encode(node, path, arrays, ancestors):
    """The metadata tree for `node`; its tensors are added to `arrays` under unique names."""
    if isinstance(node, Tensor):
        node = node._data
    if isinstance(node, np.ndarray):
        name = _unique_name(path, arrays)
        arrays[name] = _storable_array(node, path)
        return {"tensor": name}
    if node is None or isinstance(node, (bool, int, float, str)):
        return {"value": node}
    if isinstance(node, (np.bool_, np.integer, np.floating)):
        return {"value": node.item()}
    if not isinstance(node, (dict, list, tuple)):
        raise TypeError(
            f"ag.save: {_format_path(path)} is a {type(node).__module__}.{type(node).__qualname__}; "
            "expected a Tensor, numpy array, int, float, bool, None, str, or a dict/list/tuple of those"
        )
    if id(node) in ancestors:
        raise ValueError(f"ag.save: {_format_path(path)} contains itself (a reference cycle)")
    ancestors.add(id(node))
    if isinstance(node, dict):
        for key in node:
            if isinstance(key, bool) or not isinstance(key, (str, int)):
                raise TypeError(
                    f"ag.save: key {key!r} in {_format_path(path)} is a {type(key).__name__}; "
                    "dict keys must be str or int"
                )
        encoded = {"dict": [[key, _encode(value, path + (key,), arrays, ancestors)] for key, value in node.items()]}
    else:
        kind = "tuple" if isinstance(node, tuple) else "list"
        encoded = {kind: [_encode(item, path + (index,), arrays, ancestors) for index, item in enumerate(node)]}
    ancestors.remove(id(node))
    return encoded


def _unique_name(path, taken):
    """The key path joined with "." as PyTorch names state-dict entries.

    Two paths can join to the same name ({"a.b": x, "a": {"b": y}}); the later
    one gets a "#n" suffix, and the metadata tree records which is which.
    """
    base = ".".join(str(part) for part in path)
    if base == _RESERVED_NAME:
        raise ValueError(
            f"ag.save: {_format_path(path)} would be stored under the name {base!r}, which the "
            "safetensors format reserves for its metadata (no reader could load the file); "
            "rename that key"
        )
    name, suffix = base, 1
    while name in taken:
        name, suffix = f"{base}#{suffix}", suffix + 1
    return name


def _storable_array(array, path):
    """`array` as safetensors needs it: a supported dtype, C-contiguous (it copies raw memory)."""
    native = array.dtype.newbyteorder("=")
    if native not in _SAFETENSORS_DTYPES:
        supported = ", ".join(sorted(dtype.name for dtype in _SAFETENSORS_DTYPES))
        raise TypeError(
            f"ag.save: {_format_path(path)} has dtype {array.dtype}, which safetensors cannot "
            f"store; supported dtypes: {supported}"
        )
    return np.require(array, dtype=native, requirements="C")  # unlike ascontiguousarray, keeps 0-d as 0-d


def _format_path(path):
    return "obj" + "".join(f"[{part!r}]" for part in path)


# --- writing ------------------------------------------------------------------------

# A temporary file older than this that no live writer holds is a leftover of a crashed save.
_STALE_TEMPORARY_SECONDS = 5.0
# Directory fsync errors meaning "this filesystem cannot do that" (network, FUSE, some container
# volumes), not "the data is lost": the file itself was written and fsynced.
_UNSUPPORTED_DIRECTORY_FSYNC = frozenset(
    getattr(errno, name)
    for name in ("EINVAL", "ENOTSUP", "EOPNOTSUPP", "EBADF", "EACCES", "EPERM", "EROFS")
    if hasattr(errno, name)
)


def atomic_write(path: str | os.PathLike[str], payload: bytes) -> None:
    """Replace the file at `path` by `payload` (bytes) atomically: a crash leaves the old file or the new one.

    The rules every file this project writes follows (ag.save, training checkpoints, the CLI's outputs):

    - The bytes go to a temporary file in the target's directory, named `.<hash of the target's
      name>.<random>.tmp` (short, so a target name near the 255-byte limit still works), which is
      flushed, fsynced, given the existing target's permissions (a new file gets 0o666 less the umask,
      as `open` would), then renamed over the target and the directory fsynced. A directory fsync
      that the filesystem does not support (EINVAL, ENOTSUP, ...) is skipped, not an error.
    - A symlink is written through: its target gets the new content and the link stays.
    - A target that exists but is not a regular file (a directory, a pipe, a device) raises
      ValueError before anything is written, instead of being replaced by a regular file.
    - Leftover temporaries of the same target (from a save killed mid-write) are removed first: one
      is stale when no process holds its lock (each writer holds an flock on its temporary while it
      writes) and it has not been modified for `_STALE_TEMPORARY_SECONDS`.
    """
    target = os.path.realpath(os.fspath(path))
    existing = _existing_regular_file(target, os.fspath(path))
    directory, name = os.path.split(target)
    prefix = _temporary_prefix(name)
    _remove_stale_temporaries(directory, prefix)
    temp_path = os.path.join(directory, f"{prefix}{os.urandom(4).hex()}.tmp")
    # os.open with mode 0o666 lets the umask set a new file's permissions exactly as open(path, "wb")
    # would (tempfile.mkstemp would leave it private, 0o600); O_EXCL refuses a name another writer holds.
    descriptor = os.open(temp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with open(descriptor, "wb") as handle:
            _lock(descriptor, blocking=True)
            if existing is not None:
                _copy_permissions(descriptor, existing)
            handle.write(payload)
            handle.flush()
            os.fsync(descriptor)
            if fcntl is not None:
                os.replace(temp_path, target)  # still locked: no cleaner can take it for a leftover
        if fcntl is None:
            os.replace(temp_path, target)  # Windows cannot rename an open file
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_path)
        raise
    _fsync_directory(directory)


def _existing_regular_file(target, given):
    """os.stat of `target` if it exists (None otherwise); ValueError if it is not a regular file."""
    try:
        status = os.stat(target)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(status.st_mode):
        shown = f"{given} (a link to {target})" if os.path.islink(given) else given
        raise ValueError(
            f"cannot write {shown}: it is {_file_kind(status.st_mode)}, not a regular file; "
            "files are written by renaming a new file over the target, which would replace it. "
            "Give the path of a regular file (or of one that does not exist yet)"
        )
    return status


def _file_kind(mode):
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((kind for test, kind in kinds if test(mode)), "a special file")


def _temporary_prefix(name):
    """`.<16 hex digits>.`: the same for every temporary of one target name, and short whatever its length."""
    return f".{hashlib.sha256(os.fsencode(name)).hexdigest()[:16]}."


def _copy_permissions(descriptor, existing):
    """Give the new file the replaced one's mode and, where allowed (as root), its owner and group."""
    if hasattr(os, "fchmod"):
        os.fchmod(descriptor, stat.S_IMODE(existing.st_mode))
    if hasattr(os, "fchown"):
        with contextlib.suppress(PermissionError):
            os.fchown(descriptor, existing.st_uid, existing.st_gid)


def _lock(descriptor, blocking):
    """An exclusive flock on `descriptor`; whether it was taken (always True where flock does not exist)."""
    if fcntl is None:
        return True
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
    except OSError:
        # Held by a live writer, or locks unsupported here (then a writer goes on unlocked and a cleaner
        # leaves every temporary alone: a leftover file is better than a deleted one being written).
        return False
    return True


def _remove_stale_temporaries(directory, prefix):
    """Remove the leftover temporaries of one target; see `atomic_write` for when one is stale."""
    try:
        names = [name for name in os.listdir(directory) if name.startswith(prefix) and name.endswith(".tmp")]
    except OSError:
        return
    for name in names:
        candidate = os.path.join(directory, name)
        try:
            descriptor = os.open(candidate, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        except OSError:
            continue  # gone already, or not ours to read
        try:
            old = time.time() - os.fstat(descriptor).st_mtime > _STALE_TEMPORARY_SECONDS
            if old and _lock(descriptor, blocking=False):
                os.unlink(candidate)  # Windows refuses while a writer has it open, which is what we want
        except OSError:
            pass
        finally:
            os.close(descriptor)


def _fsync_directory(directory):
    """Make the rename itself durable, where the platform and filesystem can (not Windows, not every FUSE)."""
    if os.name != "posix":
        return
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError as error:
        if error.errno in _UNSUPPORTED_DIRECTORY_FSYNC:
            return
        raise
    try:
        os.fsync(descriptor)
    except OSError as error:
        if error.errno not in _UNSUPPORTED_DIRECTORY_FSYNC:
            raise
    finally:
        os.close(descriptor)


# --- reading ------------------------------------------------------------------------


def _open_regular_file(path):
    """`path` opened for binary reading; ValueError if it is not a regular file (checked before any read,
    and without blocking on a pipe that has no writer)."""
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    mode = os.fstat(descriptor).st_mode
    if not stat.S_ISREG(mode):
        os.close(descriptor)
        raise ValueError(
            f"ag.load: {path} is {_file_kind(mode)}, not a regular file; ag.load reads safetensors files only"
        )
    return open(descriptor, "rb")


def _read_header(path, handle, size):
    """The JSON header of the safetensors file `handle` (`size` bytes long), read without the tensor bytes.

    safetensors checks the tensors itself; this catches first what would cost
    memory (a header length larger than the file) and what its messages leave
    unclear: an empty file, a foreign format (named by its leading bytes), a
    dtype numpy has no type for (bfloat16, float8).
    """
    lead = handle.read(_HEADER_LENGTH_BYTES)
    if not lead:
        raise ValueError(f"ag.load: {path} is empty (0 bytes), not a safetensors file")
    if len(lead) < _HEADER_LENGTH_BYTES:
        raise ValueError(
            f"ag.load: {path} is truncated or not a safetensors file: {len(lead)} bytes, "
            f"fewer than the {_HEADER_LENGTH_BYTES}-byte header length{_foreign_hint(lead)}"
        )
    (header_length,) = struct.unpack("<Q", lead)
    available = size - _HEADER_LENGTH_BYTES
    if header_length > min(available, _MAX_HEADER_BYTES):
        limit = (
            f"only {available} follow"
            if header_length > available
            else f"safetensors allows at most {_MAX_HEADER_BYTES}"
        )
        raise ValueError(
            f"ag.load: {path} is truncated or not a safetensors file: the header length field "
            f"says {header_length} bytes but {limit}{_foreign_hint(lead)}"
        )
    try:
        header = json.loads(handle.read(header_length))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise ValueError(
            f"ag.load: {path} is corrupt or not a safetensors file: its header is not JSON "
            f"({error}){_foreign_hint(lead)}"
        ) from None
    if not isinstance(header, dict):
        raise ValueError(f"ag.load: {path} is corrupt: its header is a JSON {type(header).__name__}, not an object")
    _check_entries(path, header, data_bytes=available - header_length)
    return header


def _check_entries(path, header, data_bytes):
    """Every tensor entry has a loadable dtype, and together they declare exactly the `data_bytes` that follow."""
    declared_end = 0
    for name, entry in header.items():
        if name == _RESERVED_NAME:
            continue
        dtype_code = entry.get("dtype") if isinstance(entry, dict) else None
        if dtype_code not in _LOADABLE_DTYPE_CODES:
            raise ValueError(
                f"ag.load: {path}: tensor {name!r} has dtype {dtype_code!r}, which autograd_core "
                f"cannot load (loadable: {', '.join(sorted(_LOADABLE_DTYPE_CODES))}); convert it, "
                "e.g. to float32, before saving"
            )
        offsets = entry.get("data_offsets")
        if not (
            isinstance(offsets, list)
            and len(offsets) == 2
            and all(type(offset) is int and offset >= 0 for offset in offsets)
            and offsets[0] <= offsets[1]
        ):
            raise ValueError(
                f"ag.load: {path} is a corrupt safetensors file: tensor {name!r} has data_offsets "
                f"{offsets!r:.100}, not a pair [begin, end] of byte offsets"
            )
        declared_end = max(declared_end, offsets[1])
    if declared_end != data_bytes:
        raise ValueError(
            f"ag.load: {path} is a corrupt safetensors file: its header declares {declared_end} "
            f"bytes of tensor data but {data_bytes} follow"
        )


def _foreign_hint(payload):
    for signature, description in _FOREIGN_SIGNATURES:
        if payload.startswith(signature):
            return f"; it looks like {description}: ag.load reads only safetensors files and never unpickles"
    return ""


class _CorruptTree(Exception):
    """The metadata tree does not describe a valid structure; becomes a ValueError naming the file."""


_JSON_SCALARS = (type(None), bool, int, float, str)


def _decode(node, tensors, used, path):
    if not isinstance(node, dict) or len(node) != 1:
        raise _CorruptTree(f"node at {_format_path(path)} is {node!r}, not a one-key object")
    ((kind, content),) = node.items()
    if kind == "tensor":
        if not isinstance(content, str) or content not in tensors:
            raise _CorruptTree(f"{_format_path(path)} refers to tensor {content!r}, which the file lacks")
        used.add(content)
        return tensors[content]
    if kind == "value":
        if not isinstance(content, _JSON_SCALARS):
            raise _CorruptTree(f"value at {_format_path(path)} is a {type(content).__name__}, not a scalar")
        return content
    if not isinstance(content, list):
        raise _CorruptTree(f"{kind!r} node at {_format_path(path)} holds a {type(content).__name__}, not a list")
    if kind == "dict":
        result = {}
        for pair in content:
            if not (isinstance(pair, list) and len(pair) == 2 and type(pair[0]) in (str, int)):
                raise _CorruptTree(f"dict entry at {_format_path(path)} is {pair!r}, not a [key, node] pair")
            key, child = pair
            result[key] = _decode(child, tensors, used, path + (key,))
        return result
    if kind in ("list", "tuple"):
        items = [_decode(child, tensors, used, path + (index,)) for index, child in enumerate(content)]
        return tuple(items) if kind == "tuple" else items
    raise _CorruptTree(f"unknown node kind {kind!r} at {_format_path(path)}")
