"""`ag.save(obj, path)` and `ag.load(path)`: state dicts as safetensors files.

What can be saved
-----------------
Nested dicts (str or int keys; int keys as in an optimizer's `state`), lists
and tuples whose leaves are Tensors, numpy arrays, numbers (int, float, bool,
None, numpy scalars) or strings. Anything else raises `TypeError` naming the
key path and the type.

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
import json
import os
import struct

import numpy as np
import safetensors
import safetensors.numpy

from .tensor import Tensor

_METADATA_KEY = "autograd_core"
_FORMAT_VERSION = 1
_HEADER_LENGTH_BYTES = 8

# dtype -> safetensors dtype code, for every dtype of ours that safetensors can hold
# (numpy has no bfloat16 or float8, so files holding those cannot be loaded).
_SAFETENSORS_DTYPES = {
    np.dtype(np.bool_): "BOOL",
    np.dtype(np.uint8): "U8", np.dtype(np.uint16): "U16",
    np.dtype(np.uint32): "U32", np.dtype(np.uint64): "U64",
    np.dtype(np.int8): "I8", np.dtype(np.int16): "I16",
    np.dtype(np.int32): "I32", np.dtype(np.int64): "I64",
    np.dtype(np.float16): "F16", np.dtype(np.float32): "F32", np.dtype(np.float64): "F64",
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


def save(obj, path):
    """Write `obj` (a state dict) to `path` as a safetensors file, atomically.

    The bytes go to a temporary file in the same directory, which is flushed,
    fsynced and then renamed over `path` (`os.replace`), so a crash at any
    point leaves either the old file or the new one, never a mix.
    """
    path = os.fspath(path)
    arrays = {}
    tree = _encode(obj, (), arrays, ancestors=set())
    metadata = {
        # The marker Hugging Face loaders check; the tensors use PyTorch's names and layout.
        "format": "pt",
        _METADATA_KEY: json.dumps({"version": _FORMAT_VERSION, "tree": tree}),
    }
    atomic_write(path, safetensors.numpy.save(arrays, metadata=metadata))


def load(path):
    """Read a file written by `save` (or any safetensors file) back.

    Raises FileNotFoundError if `path` does not exist, and ValueError naming
    the path and the problem if it is empty, truncated, corrupt, or not a
    safetensors file at all.
    """
    path = os.fspath(path)
    with open(path, "rb") as handle:
        payload = handle.read()
    header = _parse_header(path, payload)
    try:
        arrays = safetensors.numpy.load(payload)
    except safetensors.SafetensorError as error:
        raise ValueError(f"ag.load: {path} is a corrupt safetensors file: {error}") from None
    # np.require copies only if safetensors ever hands back read-only buffers: loaded tensors must be editable.
    tensors = {name: Tensor(np.require(array, requirements="W")) for name, array in arrays.items()}

    metadata = header.get("__metadata__") or {}
    if _METADATA_KEY not in metadata:
        return {name: tensors[name] for name in header if name != "__metadata__"}
    try:
        document = json.loads(metadata[_METADATA_KEY])
        if not (isinstance(document, dict) and document.get("version") == _FORMAT_VERSION and "tree" in document):
            raise _CorruptTree(f"expected {{'version': {_FORMAT_VERSION}, 'tree': ...}}, got {document!r:.200}")
        used = set()
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
        node = node.data
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
        encoded = {"dict": [[key, _encode(value, path + (key,), arrays, ancestors)]
                            for key, value in node.items()]}
    else:
        kind = "tuple" if isinstance(node, tuple) else "list"
        encoded = {kind: [_encode(item, path + (index,), arrays, ancestors)
                          for index, item in enumerate(node)]}
    ancestors.remove(id(node))
    return encoded


def _unique_name(path, taken):
    """The key path joined with "." as PyTorch names state-dict entries.

    Two paths can join to the same name ({"a.b": x, "a": {"b": y}}); the later
    one gets a "#n" suffix, and the metadata tree records which is which.
    """
    base = ".".join(str(part) for part in path)
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

def atomic_write(path, payload):
    directory = os.path.dirname(os.path.abspath(path))
    temp_path = os.path.join(directory, f".{os.path.basename(path)}.{os.urandom(6).hex()}.tmp")
    # os.open with mode 0o666 lets the umask set the final permissions exactly as
    # open(path, "wb") would (tempfile.mkstemp would leave the file private, 0o600);
    # O_EXCL refuses to reuse a name another writer holds.
    descriptor = os.open(temp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with open(descriptor, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_path, path)
    except BaseException:
        os.unlink(temp_path)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory):
    """Make the rename itself durable; POSIX only (Windows cannot open a directory)."""
    if os.name != "posix":
        return
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


# --- reading ------------------------------------------------------------------------

def _parse_header(path, payload):
    """The JSON header of a safetensors file, with a clear error for anything else.

    safetensors checks the tensor offsets itself; this catches what its
    messages leave unclear: an empty file, a foreign format (named by its
    leading bytes), a dtype numpy has no type for (bfloat16, float8).
    """
    if not payload:
        raise ValueError(f"ag.load: {path} is empty (0 bytes), not a safetensors file")
    if len(payload) < _HEADER_LENGTH_BYTES:
        raise ValueError(
            f"ag.load: {path} is truncated or not a safetensors file: {len(payload)} bytes, "
            f"fewer than the {_HEADER_LENGTH_BYTES}-byte header length{_foreign_hint(payload)}"
        )
    (header_length,) = struct.unpack("<Q", payload[:_HEADER_LENGTH_BYTES])
    available = len(payload) - _HEADER_LENGTH_BYTES
    if header_length > available:
        raise ValueError(
            f"ag.load: {path} is truncated or not a safetensors file: the header length field "
            f"says {header_length} bytes but only {available} follow{_foreign_hint(payload)}"
        )
    try:
        header = json.loads(payload[_HEADER_LENGTH_BYTES:_HEADER_LENGTH_BYTES + header_length])
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise ValueError(
            f"ag.load: {path} is corrupt or not a safetensors file: its header is not JSON "
            f"({error}){_foreign_hint(payload)}"
        ) from None
    if not isinstance(header, dict):
        raise ValueError(f"ag.load: {path} is corrupt: its header is a JSON {type(header).__name__}, not an object")
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        dtype_code = entry.get("dtype") if isinstance(entry, dict) else None
        if dtype_code not in _LOADABLE_DTYPE_CODES:
            raise ValueError(
                f"ag.load: {path}: tensor {name!r} has dtype {dtype_code!r}, which autograd_core "
                f"cannot load (loadable: {', '.join(sorted(_LOADABLE_DTYPE_CODES))}); convert it, "
                "e.g. to float32, before saving"
            )
    return header


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
