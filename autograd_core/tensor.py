"""The Tensor, and `apply`: the one door every op goes through, which records the graph.

Every op method is a thin call into `apply` with the op's registry entry;
argument normalisation (axis aliases, shapes given as varargs) happens here so
the op table stays free of it. `apply` runs the forward on arrays and, when grad
mode is on and an input requires grad, records a `graph.Node` that keeps only
the values the op's VJP formulas read for the wanted inputs (see `ops`).

The reverse pass lives in `engine`, which imports this module; it installs its
`backward` here (`install_reverse_pass`) so that `Tensor.backward` can call it
while imports go one way: ops <- graph <- tensor <- engine.
"""

from __future__ import annotations

import builtins
import math
import traceback
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple, TypeAlias

import numpy as np
from numpy.typing import DTypeLike

from .dtypes import CPU, check_device, device, is_dtype_like
from .graph import (
    MultiOutputNode,
    Node,
    RemovableHandle,
    SavedShape,
    is_grad_enabled,
    state,
)
from .ops import REGISTRY as OPS
from .ops import Op

Number: TypeAlias = int | float
"""A Python number (bool counts as int)."""
Scalar: TypeAlias = int | float | np.generic
"""A Python or numpy number."""
Axis: TypeAlias = int | Sequence[int] | None
"""One axis, several, or None for all of them; negative axes count from the end."""

_default_dtype: np.dtype = np.dtype(np.float32)


def set_default_dtype(dtype: DTypeLike) -> None:
    """The dtype that Python floats and float lists become (float32 unless changed)."""
    global _default_dtype
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"set_default_dtype: expected a floating dtype, got {dtype}")
    _default_dtype = dtype


def get_default_dtype() -> np.dtype:
    """The dtype Python floats become: `ag.float32` unless `set_default_dtype` changed it."""
    return _default_dtype


def is_floating(dtype: DTypeLike) -> bool:
    return np.dtype(dtype).kind == "f"


def to_array(data: TensorLike, dtype: DTypeLike | None = None, who: str = "tensor") -> np.ndarray:
    """An owned numpy array for `data`; Python floats become the default dtype, numpy keeps its own."""
    if isinstance(data, Tensor):
        array = np.array(data._data, dtype=dtype)
    elif isinstance(data, (np.ndarray, np.generic)):
        array = np.array(data, dtype=dtype)
    else:
        try:
            array = np.array(data)
        except ValueError as exc:
            raise ValueError(f"{who}: cannot build a tensor from ragged or invalid data: {exc}") from None
        if array.dtype == np.float64 and dtype is None:
            array = array.astype(_default_dtype)
        elif dtype is not None:
            array = array.astype(dtype)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{who}: expected numbers (bool, int or float), got data of dtype {array.dtype}")
    return array


def _normalize_axis(axis: Axis, ndim: int, who: str) -> Any:
    if axis is None:
        return None
    if isinstance(axis, (int, np.integer)):
        axes = (axis,)
    elif isinstance(axis, (tuple, list)):
        axes = tuple(axis)
    else:
        raise TypeError(f"{who}: axis must be an int or a tuple of ints, got {type(axis).__name__}")
    normalized = []
    for a in axes:
        if not isinstance(a, (int, np.integer)):
            raise TypeError(f"{who}: axis must be an int or a tuple of ints, got {type(a).__name__}")
        if not -max(ndim, 1) <= a < max(ndim, 1):
            raise ValueError(f"{who}: axis {a} is out of range for a tensor with {ndim} dimensions")
        normalized.append(int(a) % max(ndim, 1))
    if ndim == 0:
        return None
    return tuple(sorted(set(normalized)))


def _reduction(who, ndim, axis, keepdims, dim, keepdim):
    """Accept numpy's axis/keepdims and PyTorch's dim/keepdim."""
    if dim is not None:
        axis = dim
    if keepdim is not None:
        keepdims = keepdim
    return _normalize_axis(axis, ndim, who), bool(keepdims)


def _shape_args(shape: tuple[Any, ...], who: str) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    for n in shape:
        if not isinstance(n, (int, np.integer)):
            raise TypeError(f"{who}: shape entries must be ints, got {type(n).__name__}")
    return tuple(int(n) for n in shape)


def _index_part(part):
    """One entry of an index as numpy should read it to mean what PyTorch means: Tensors and lists become
    arrays, and a 0-d integer tensor an int (PyTorch selects with it, as with a Python int)."""
    if isinstance(part, Tensor):
        part = part._data
    elif isinstance(part, (list, tuple)):  # a sequence inside the index is an integer or bool array
        part = np.asarray(part) if part else np.zeros(0, np.int64)
    if isinstance(part, np.ndarray):
        if part.dtype.kind not in "biu":
            raise TypeError(f"getitem: index arrays must be integer or boolean, got dtype {part.dtype}")
        return part.item() if part.ndim == 0 else part
    if isinstance(part, (np.integer, np.bool_)):
        return part.item()
    if part is None or part is Ellipsis or isinstance(part, (int, slice)):
        return part
    raise TypeError(
        "getitem: an index is made of ints, slices, None, Ellipsis, bools and integer or boolean tensors, "
        f"got {type(part).__name__}"
    )


def _dims_used(part):
    """How many dimensions of the indexed tensor one index entry consumes (Ellipsis aside)."""
    if part is None or isinstance(part, bool):
        return 0
    return part.ndim if isinstance(part, np.ndarray) and part.dtype == np.bool_ else 1


def _advanced_shape(part):
    """The shape one advanced entry contributes to the broadcast of the advanced indices."""
    if isinstance(part, bool):
        return (int(part),)
    if part.dtype == np.bool_:
        return (int(np.count_nonzero(part)),)
    return part.shape


def _layout(kinds, advanced):
    """The result's leading dimensions as labels: each basic entry's position, and "B" for the block of
    advanced-index dimensions, which stays where the `advanced` entries are when they are adjacent and
    goes first otherwise (the rule numpy and PyTorch share; they differ in what counts as advanced)."""
    basic = [i for i, kind in enumerate(kinds) if kind == "basic"]
    positions = [i for i, kind in enumerate(kinds) if kind in advanced]
    between = [kinds[i] for i in range(positions[0], positions[-1] + 1)]
    if any(kind not in advanced and kind != "int" for kind in between):
        return ["B"] + basic
    first = sum(1 for i in basic if i < positions[0])
    return basic[:first] + ["B"] + basic[first:]


def _labels(layout, block):
    """A layout with its "B" expanded into one label per advanced-index dimension."""
    labels: list[Any] = []
    for label in layout:
        labels += [("B", k) for k in range(block)] if label == "B" else [label]
    return labels


def _index(index, shape):
    """A PyTorch index as (numpy index, order): numpy's result of the numpy index, its dimensions
    permuted by `order` (None when nothing moves), is PyTorch's result.

    The two differ in one way: numpy counts an int beside an integer array as an advanced index, so
    `x[0, :, idx]` has separated advanced indices and numpy moves idx's dimensions to the front, while
    PyTorch selects with the int first and keeps them in place. Lists are integer arrays (numpy's and
    PyTorch's announced meaning; PyTorch 2 still reads a list of lists as a tuple, with a warning)."""
    if type(index) is int or type(index) is slice:  # the common case, answered before any conversion
        return (index,), None
    parts = tuple(_index_part(p) for p in (index if isinstance(index, tuple) else (index,)))
    if not any(isinstance(part, (np.ndarray, bool)) for part in parts):  # basic indexing: numpy = PyTorch
        return parts, None
    kinds = []
    for part in parts:
        if part is Ellipsis:
            used = sum(_dims_used(p) for p in parts if p is not Ellipsis)
            kinds += ["basic"] * max(len(shape) - used, 0)
        elif isinstance(part, (np.ndarray, bool)):
            kinds.append("array")
        else:
            kinds.append("int" if isinstance(part, int) else "basic")
    ellipses = sum(1 for p in parts if p is Ellipsis)
    if ellipses > 1:  # numpy's error
        return parts, None
    numpy_layout, torch_layout = _layout(kinds, ("array", "int")), _layout(kinds, ("array",))
    if numpy_layout == torch_layout:
        return parts, None
    try:
        block = len(np.broadcast_shapes(*(_advanced_shape(p) for p in parts if isinstance(p, (np.ndarray, bool)))))
    except ValueError:
        return parts, None  # numpy raises the shape mismatch
    numpy_labels, torch_labels = _labels(numpy_layout, block), _labels(torch_layout, block)
    trailing = 0 if ellipses else len(shape) - sum(_dims_used(p) for p in parts)
    order = [numpy_labels.index(label) for label in torch_labels]
    order += range(len(order), len(order) + trailing)
    return parts, tuple(order)


class Tensor:
    """An n-dimensional array that records the ops applied to it when it requires grad."""

    __slots__ = (
        "_data",
        "grad",
        "requires_grad",
        "grad_fn",
        "output_nr",
        "_version_counter",
        "_base",
        "_view_rebase",
        "_hooks",
        "__weakref__",
    )
    __array_ufunc__ = None  # numpy defers to our reflected operators: array * tensor -> Tensor.__rmul__
    __hash__ = object.__hash__  # == is elementwise; identity hashing keeps tensors usable as dict keys

    _data: np.ndarray
    """The values: the numpy array every op reads and writes (`np.asarray(t)` and `.numpy()` return it)."""
    grad: Tensor | None
    """The accumulated gradient, after a backward pass reached this tensor (leaves, or `retain_grad`)."""
    requires_grad: builtins.bool
    grad_fn: Node | None
    """The node of the op that produced this tensor; None for a leaf."""
    output_nr: builtins.int
    _hooks: list[Callable[[Tensor], Tensor | None]] | None

    def __init__(self, data: TensorLike, requires_grad: builtins.bool = False, grad_fn: Node | None = None) -> None:
        self._data = data if type(data) is np.ndarray else to_array(data)
        self.grad = None
        self.requires_grad = requires_grad
        self.grad_fn = grad_fn
        self.output_nr = 0  # which output of grad_fn this is (a node may have several, as in PyTorch)
        # [in-place edits, in-place edits recorded in the graph]; shared with views of the same memory
        self._version_counter = [0, 0]
        self._base = None
        self._view_rebase = 0
        self._hooks = None

    def _share_version_with(self, base):
        self._version_counter = base._version_counter
        self._base = base._base if base._base is not None else base
        self._view_rebase = base._version_counter[1]

    # ---- attributes ----
    @property
    def data(self) -> Tensor:
        """PyTorch's `.data`: a tensor sharing this one's memory, detached from the graph and with its own
        version counter, so edits through it (`p.data += -lr * p.grad`, `p.data.normal_()`) are invisible
        to autograd, as in PyTorch. Assigning a Tensor (`p.data = t`) replaces the values, shape and dtype
        included, keeping this tensor's identity, graph role and gradient."""
        return Tensor(self._data)

    @data.setter
    def data(self, value: Tensor) -> None:
        if not isinstance(value, Tensor):
            raise TypeError(
                f"Tensor.data: expected a Tensor, got {type(value).__name__}; wrap an array with ag.tensor(...)"
            )
        self._data = value._data

    @property
    def shape(self) -> tuple[builtins.int, ...]:
        return self._data.shape

    @property
    def ndim(self) -> builtins.int:
        return self._data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def is_leaf(self) -> builtins.bool:
        """True for a tensor no recorded op produced (its gradient accumulates in `.grad`)."""
        return self.grad_fn is None

    @property
    def T(self) -> Tensor:
        """The tensor with its axes reversed."""
        return self.transpose()

    @property
    def mT(self) -> Tensor:
        """The tensor with its last two axes swapped (a batch of matrices transposed)."""
        if self.ndim < 2:
            raise ValueError(f"mT: expected a tensor with at least 2 dimensions, got shape {self.shape}")
        return self.transpose(-2, -1)

    @property
    def device(self) -> device:
        """Always the CPU: `device(type='cpu')`."""
        return CPU

    def numel(self) -> builtins.int:
        return self._data.size

    nelement = numel

    def dim(self) -> builtins.int:
        return self._data.ndim

    def size(self, dim: builtins.int | None = None) -> Any:
        """The shape (a tuple), or with `dim` the length of that dimension, as PyTorch's `size()`."""
        if dim is None:
            return self._data.shape
        return self._data.shape[_single_axis(self, dim, "size")] if self.ndim else _normalize_axis(dim, 0, "size")

    def element_size(self) -> builtins.int:
        return self._data.itemsize

    def is_floating_point(self) -> builtins.bool:
        return self._data.dtype.kind == "f"

    def __len__(self) -> builtins.int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        return (self[i] for i in range(len(self)))

    def __repr__(self) -> str:
        if state.tracer is not None:
            state.tracer.values_read(self, "printing a tensor")
        body = np.array2string(self._data, separator=", ", prefix="tensor(")
        extra = ""
        if self._data.dtype not in (_default_dtype, np.int64, np.bool_):
            extra += f", dtype={self._data.dtype}"
        if self.grad_fn is not None:
            extra += f", grad_fn=<{self.grad_fn.name}>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    # ---- conversion ----
    def numpy(self) -> np.ndarray:
        if state.tracer is not None:
            state.tracer.values_read(self, ".numpy()")
        if self.requires_grad:
            raise RuntimeError("numpy(): can't convert a tensor that requires grad; use tensor.detach().numpy()")
        return self._data

    def __array__(self, dtype: DTypeLike | None = None, copy: builtins.bool | None = None) -> np.ndarray:
        if state.tracer is not None:
            state.tracer.array_taken(self)
        if copy:
            return np.array(self._data, dtype=dtype)
        return self._data if dtype is None else self._data.astype(dtype, copy=False)

    def item(self) -> Number:
        if state.tracer is not None:
            state.tracer.values_read(self, ".item()")
        if self._data.size != 1:
            raise ValueError(
                f"item: only one-element tensors can be converted to a Python number, got shape {self.shape}"
            )
        return self._data.item()

    def tolist(self) -> Any:
        if state.tracer is not None:
            state.tracer.values_read(self, ".tolist()")
        return self._data.tolist()

    def __bool__(self) -> builtins.bool:
        if state.tracer is not None:
            state.tracer.values_read(self, "bool(tensor) (an `if` or `while` on a tensor)")
        return bool(self._data)

    def __float__(self) -> builtins.float:
        return float(self.item())

    def __int__(self) -> builtins.int:
        return int(self.item())

    def astype(self, dtype: DTypeLike) -> Tensor:
        if np.dtype(dtype) == self._data.dtype:
            return self
        return apply(OPS["astype"], self, dtype=np.dtype(dtype))

    def float(self) -> Tensor:
        return self.astype(np.float32)

    def double(self) -> Tensor:
        return self.astype(np.float64)

    def half(self) -> Tensor:
        return self.astype(np.float16)

    def long(self) -> Tensor:
        return self.astype(np.int64)

    def int(self) -> Tensor:
        return self.astype(np.int32)

    def bool(self) -> Tensor:
        return self.astype(np.bool_)

    def type_as(self, other: Tensor) -> Tensor:
        return self.astype(other.dtype)

    def to(
        self, *args: Any, dtype: DTypeLike | None = None, device: Any = None, copy: builtins.bool = False, **_: Any
    ) -> Tensor:
        """PyTorch's `.to`: `to(dtype)`, `to("cpu")`, `to(device, dtype)`, `to(other_tensor)` (its dtype), or
        by keyword. Returns this tensor when nothing changes (unless `copy=True`); the conversion is
        differentiable. A device other than the CPU raises. (`non_blocking=` and `memory_format=` are
        accepted and ignored: there is one device and one layout.)"""
        for arg in args:
            if isinstance(arg, Tensor):
                dtype = arg.dtype
            elif is_dtype_like(arg):
                dtype = arg
            else:
                device = arg
        check_device(device, "to")
        if dtype is None or np.dtype(dtype) == self._data.dtype:
            return self.clone() if copy else self
        return self.astype(dtype)

    def cpu(self) -> Tensor:
        return self

    def cuda(self, *args: Any, **kwargs: Any) -> Tensor:
        check_device("cuda", "cuda")  # raises: CPU only
        return self

    def __getattr__(self, name: str) -> Any:
        # Only reached for a name the class does not have: say so in PyTorch terms. numpy probes
        # `__array_struct__` and `__array_interface__` on every np.asarray(t): those fail fast.
        if name[:2] == "__":
            raise AttributeError(name)
        raise AttributeError(
            f"'Tensor' object has no attribute {name!r}; if it is a method of PyTorch's Tensor, autograd-core "
            "does not provide it (yet): API.md lists what it does provide"
        )

    def new_tensor(
        self, data: TensorLike, dtype: DTypeLike | None = None, requires_grad: builtins.bool = False
    ) -> Tensor:
        """A new leaf holding a copy of `data`, with this tensor's dtype unless `dtype` is given."""
        out = Tensor(to_array(data, self.dtype if dtype is None else dtype, "new_tensor"))
        return out.requires_grad_(requires_grad) if requires_grad else out

    def new_full(self, size: Sequence[builtins.int], fill_value: Number, dtype: DTypeLike | None = None) -> Tensor:
        return Tensor(np.full(_shape_args((size,), "new_full"), fill_value, self.dtype if dtype is None else dtype))

    def new_zeros(self, *size: builtins.int | Sequence[builtins.int], dtype: DTypeLike | None = None) -> Tensor:
        return self.new_full(_shape_args(size, "new_zeros"), 0, dtype)

    def new_ones(self, *size: builtins.int | Sequence[builtins.int], dtype: DTypeLike | None = None) -> Tensor:
        return self.new_full(_shape_args(size, "new_ones"), 1, dtype)

    def new_empty(self, *size: builtins.int | Sequence[builtins.int], dtype: DTypeLike | None = None) -> Tensor:
        return self.new_full(
            _shape_args(size, "new_empty"), 0, dtype
        )  # zero-filled: an uninitialised array buys nothing

    # ---- autograd ----
    def detach(self) -> Tensor:
        """The same data, cut from the graph (in-place edits still count against saved versions)."""
        out = Tensor(self._data)
        out._version_counter = self._version_counter
        return out

    def clone(self) -> Tensor:
        return apply(OPS["clone"], self)

    def requires_grad_(self, requires_grad: builtins.bool = True) -> Tensor:
        if requires_grad and not is_floating(self._data.dtype):
            raise TypeError(f"requires_grad_: only floating tensors can require grad, got dtype {self.dtype}")
        if not requires_grad and self.grad_fn is not None:
            raise RuntimeError("requires_grad_(False): this tensor is the output of an op; use .detach() instead")
        self.requires_grad = bool(requires_grad)
        return self

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> RemovableHandle:
        """`hook(grad)` runs when this tensor's gradient is computed; it may return a replacement."""
        if not self.requires_grad:
            raise RuntimeError("register_hook: cannot register a hook on a tensor that does not require grad")
        if self.grad_fn is not None:
            return self._gradient_target().register_prehook(hook)
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(hook)
        return RemovableHandle(self._hooks, hook)

    def _gradient_target(self):
        """Where the engine delivers this tensor's gradient: its node, the node's edge for this output
        when the node has several, or the tensor itself for a leaf (also `ag.grad`'s key)."""
        node = self.grad_fn
        if node is None:
            return self
        return node.edges[self.output_nr] if type(node) is MultiOutputNode else node

    def retain_grad(self) -> None:
        """Keep `.grad` for this non-leaf tensor after backward (leaves always keep it)."""
        if self.grad_fn is None:
            return
        target = weakref.ref(self)

        def store(grad):
            tensor = target()
            if tensor is not None:
                tensor.grad = grad if tensor.grad is None else tensor.grad + grad

        self._gradient_target().register_prehook(store)

    def backward(
        self,
        gradient: TensorLike | None = None,
        retain_graph: builtins.bool | None = None,
        create_graph: builtins.bool = False,
    ) -> None:
        """Accumulate into the leaves' `.grad` the gradient of this tensor (weighted by `gradient`)."""
        _reverse_pass(self, gradient, retain_graph=retain_graph, create_graph=create_graph)

    # ---- arithmetic ----
    def __add__(self, other: Operand) -> Tensor:
        return apply(OPS["add"], self, other)

    def __radd__(self, other: Operand) -> Tensor:
        return apply(OPS["add"], other, self)

    def __sub__(self, other: Operand) -> Tensor:
        return apply(OPS["sub"], self, other)

    def __rsub__(self, other: Operand) -> Tensor:
        return apply(OPS["sub"], other, self)

    def __mul__(self, other: Operand) -> Tensor:
        return apply(OPS["mul"], self, other)

    def __rmul__(self, other: Operand) -> Tensor:
        return apply(OPS["mul"], other, self)

    def __truediv__(self, other: Operand) -> Tensor:
        return apply(OPS["div"], self, other)

    def __rtruediv__(self, other: Operand) -> Tensor:
        return apply(OPS["div"], other, self)

    def __pow__(self, other: Operand) -> Tensor:
        return apply(OPS["pow"], self, other)

    def __rpow__(self, other: Operand) -> Tensor:
        return apply(OPS["pow"], other, self)

    def __matmul__(self, other: Operand) -> Tensor:
        return _matmul(self, other)

    def __rmatmul__(self, other: Operand) -> Tensor:
        return _matmul(other, self)

    def add(self, other: Operand, *, alpha: Number = 1) -> Tensor:
        """`self + alpha * other`."""
        return apply(OPS["add"], self, _times_alpha(other, alpha))

    def sub(self, other: Operand, *, alpha: Number = 1) -> Tensor:
        """`self - alpha * other`."""
        return apply(OPS["sub"], self, _times_alpha(other, alpha))

    def mul(self, other: Operand) -> Tensor:
        return apply(OPS["mul"], self, other)

    def neg(self) -> Tensor:
        return apply(OPS["neg"], self)

    def matmul(self, other: Operand) -> Tensor:
        return _matmul(self, other)

    def __neg__(self) -> Tensor:
        return apply(OPS["neg"], self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return apply(OPS["abs"], self)

    # Comparisons and logic: not differentiable, they return bool tensors.
    def _compare(self, other, ufunc):
        other = other._data if isinstance(other, Tensor) else other
        try:
            return _computed(ufunc, self._data, other)
        except ValueError as exc:
            raise ValueError(
                f"{ufunc.__name__}: shapes {self.shape} and {np.shape(other)} cannot be compared: {exc}"
            ) from None

    def __lt__(self, other: Operand) -> Tensor:
        return self._compare(other, np.less)

    def __le__(self, other: Operand) -> Tensor:
        return self._compare(other, np.less_equal)

    def __gt__(self, other: Operand) -> Tensor:
        return self._compare(other, np.greater)

    def __ge__(self, other: Operand) -> Tensor:
        return self._compare(other, np.greater_equal)

    def __eq__(self, other: object) -> Tensor:  # type: ignore[override]  # elementwise, as numpy
        return self._compare(other, np.equal)

    def __ne__(self, other: object) -> Tensor:  # type: ignore[override]
        return self._compare(other, np.not_equal)

    # ---- math ops of `math_ops` (elementwise math, rounding, cumulative, integer and bitwise) ----
    # The differentiable ones are rows of `math_ops`. The bool and integer ones (isnan, isclose, any,
    # bitwise, logical, shifts) are not differentiable and are computed here on the arrays.

    @staticmethod
    def _check_integers(who, *operands):
        """Bitwise and shift ops take integer or bool tensors and numbers only, as PyTorch."""
        for o in operands:
            dtype = o.dtype if isinstance(o, Tensor) else np.asarray(o).dtype
            if dtype.kind not in "biu":
                twin = who.replace("bitwise", "logical") if "shift" not in who else None
                raise TypeError(
                    f"{who}: expected integer or bool tensors, got dtype {dtype}"
                    + (f"; {twin} takes any dtype" if twin else "")
                )

    @staticmethod
    def _nondifferentiable(who, ufunc, *operands, integers_only=False, **options):
        """`ufunc` on the operands' arrays, as a new tensor outside the graph; `integers_only` for the
        bitwise and shift ops."""
        if integers_only:
            Tensor._check_integers(who, *operands)
        arrays = [o._data if isinstance(o, Tensor) else o for o in operands]
        try:
            return _computed(ufunc, *arrays, **options)
        except ValueError:
            shapes = " and ".join(str(np.shape(a)) for a in arrays)
            raise ValueError(f"{who}: shapes {shapes} cannot be broadcast together") from None

    def _integer_inplace(self, who, ufunc, other):
        """`self = ufunc(self, other)` in place for the integer-only ops (`&=`, `<<=`, ...)."""
        self._check_integers(who, self, other)
        return self._inplace(who, (other,), {}, lambda a, b: ufunc(a, b, out=a))

    def _row_inplace(self, name, other):
        """`self = op(self, other)` in place through the registry row `name` (`//=`, `%=`): recorded when
        grad is, and a result that does not fit the dtype (`int_tensor //= 2.5`) raises, as PyTorch."""
        forward = OPS[name].forward
        return self._inplace(name, (other,), {}, lambda a, b: np.copyto(a, forward(a, b), casting="same_kind"))

    # elementwise, differentiable
    def log2(self) -> Tensor:
        return apply(OPS["log2"], self)

    def log10(self) -> Tensor:
        return apply(OPS["log10"], self)

    def exp2(self) -> Tensor:
        return apply(OPS["exp2"], self)

    def rsqrt(self) -> Tensor:
        """1 / sqrt(x)."""
        return apply(OPS["rsqrt"], self)

    def reciprocal(self) -> Tensor:
        return apply(OPS["reciprocal"], self)

    def square(self) -> Tensor:
        return apply(OPS["square"], self)

    def tan(self) -> Tensor:
        return apply(OPS["tan"], self)

    def asin(self) -> Tensor:
        return apply(OPS["asin"], self)

    def acos(self) -> Tensor:
        return apply(OPS["acos"], self)

    def atan(self) -> Tensor:
        return apply(OPS["atan"], self)

    def sinh(self) -> Tensor:
        return apply(OPS["sinh"], self)

    def cosh(self) -> Tensor:
        return apply(OPS["cosh"], self)

    def asinh(self) -> Tensor:
        return apply(OPS["asinh"], self)

    def acosh(self) -> Tensor:
        return apply(OPS["acosh"], self)

    def atanh(self) -> Tensor:
        return apply(OPS["atanh"], self)

    arcsin, arccos, arctan, arcsinh, arccosh, arctanh = asin, acos, atan, asinh, acosh, atanh

    def erf(self) -> Tensor:
        return apply(OPS["erf"], self)

    def erfc(self) -> Tensor:
        """1 - erf(x), accurate where erf(x) is close to 1."""
        return apply(OPS["erfc"], self)

    def frac(self) -> Tensor:
        """x - trunc(x): the fractional part, with the sign of x."""
        return apply(OPS["frac"], self)

    def nan_to_num(
        self, nan: builtins.float = 0.0, posinf: builtins.float | None = None, neginf: builtins.float | None = None
    ) -> Tensor:
        """nan, +inf and -inf replaced by `nan`, `posinf` and `neginf` (by default 0 and the dtype's largest
        and lowest finite values); no gradient reaches the replaced elements."""
        return apply(OPS["nan_to_num"], self, nan=nan, posinf=posinf, neginf=neginf)

    def clamp_min(self, min: Number) -> Tensor:
        return self.clip(min=min)

    def clamp_max(self, max: Number) -> Tensor:
        return self.clip(max=max)

    def atan2(self, other: Operand) -> Tensor:
        """The angle of the point (other, self): arctan(self / other) in the right quadrant."""
        return apply(OPS["atan2"], self, other)

    arctan2 = atan2

    def hypot(self, other: Operand) -> Tensor:
        return apply(OPS["hypot"], self, other)

    def xlogy(self, other: Operand) -> Tensor:
        """self * log(other), and 0 where self == 0 (unless other is nan)."""
        return apply(OPS["xlogy"], self, other)

    def copysign(self, other: Operand) -> Tensor:
        """|self| with the sign of `other` (-0.0 counts as negative)."""
        return apply(OPS["copysign"], self, other)

    def logaddexp(self, other: Operand) -> Tensor:
        """log(e^self + e^other), without overflow."""
        return apply(OPS["logaddexp"], self, other)

    def logaddexp2(self, other: Operand) -> Tensor:
        """log2(2^self + 2^other), without overflow."""
        return apply(OPS["logaddexp2"], self, other)

    def lerp(self, end: Operand, weight: Operand) -> Tensor:
        """self + weight * (end - self); `weight` a number or a tensor (differentiable too)."""
        return apply(OPS["lerp"], self, end, weight)

    # rounding: zero gradient, as PyTorch
    def round(self, *, decimals: builtins.int = 0) -> Tensor:
        """Round half to even, to `decimals` decimal places (negative: to tens, hundreds, ...)."""
        if not isinstance(decimals, (int, np.integer)):
            raise TypeError(f"round: decimals must be an int, got {type(decimals).__name__}")
        return apply(OPS["round"], self, decimals=int(decimals))

    def floor(self) -> Tensor:
        return apply(OPS["floor"], self)

    def ceil(self) -> Tensor:
        return apply(OPS["ceil"], self)

    def trunc(self) -> Tensor:
        """Round toward zero."""
        return apply(OPS["trunc"], self)

    fix = trunc

    # division
    def div(self, other: Operand, *, rounding_mode: str | None = None) -> Tensor:
        """self / other; `rounding_mode="trunc"` rounds the quotient toward zero, `"floor"` down (both
        keep integer dtypes and have a zero gradient)."""
        if rounding_mode is None:
            return apply(OPS["div"], self, other)
        if rounding_mode not in ("trunc", "floor"):
            raise ValueError(f"div: rounding_mode must be None, 'trunc' or 'floor', got {rounding_mode!r}")
        return apply(OPS[rounding_mode + "_divide"], self, other)

    divide = div

    def true_divide(self, other: Operand) -> Tensor:
        return apply(OPS["div"], self, other)

    def floor_divide(self, other: Operand) -> Tensor:
        """self / other rounded down (`//`)."""
        return apply(OPS["floor_divide"], self, other)

    def remainder(self, other: Operand) -> Tensor:
        """self - floor(self / other) * other: the sign of `other`, as Python's `%`."""
        return apply(OPS["remainder"], self, other)

    def fmod(self, other: Operand) -> Tensor:
        """self - trunc(self / other) * other: the sign of `self`, as C's fmod."""
        return apply(OPS["fmod"], self, other)

    def __floordiv__(self, other: Operand) -> Tensor:
        return apply(OPS["floor_divide"], self, other)

    def __rfloordiv__(self, other: Operand) -> Tensor:
        return apply(OPS["floor_divide"], other, self)

    def __mod__(self, other: Operand) -> Tensor:
        return apply(OPS["remainder"], self, other)

    def __rmod__(self, other: Operand) -> Tensor:
        return apply(OPS["remainder"], other, self)

    def floor_divide_(self, other: Operand) -> Tensor:
        return self._row_inplace("floor_divide", other)

    def remainder_(self, other: Operand) -> Tensor:
        return self._row_inplace("remainder", other)

    def __ifloordiv__(self, other: Operand) -> Tensor:
        return self.floor_divide_(other)

    def __imod__(self, other: Operand) -> Tensor:
        return self.remainder_(other)

    # cumulative along one dim
    def _cumulative(self, name: str, dim: builtins.int) -> Any:
        axis = _single_axis(self, dim, name)
        if self.ndim == 0:  # as PyTorch: a 0-d tensor is its own running total
            result = apply(OPS[name], self.reshape(1), axis=0)
            if isinstance(result, tuple):
                return ValuesIndices(*(r.reshape(()) for r in result))
            return result.reshape(())
        result = apply(OPS[name], self, axis=axis)
        return ValuesIndices(*result) if isinstance(result, tuple) else result

    def cumsum(self, dim: builtins.int, *, dtype: DTypeLike | None = None) -> Tensor:
        """Running sums along `dim` (integer and bool inputs sum in int64, as PyTorch); `dtype` casts first."""
        return (self if dtype is None else self.astype(dtype))._cumulative("cumsum", dim)

    def cumprod(self, dim: builtins.int, *, dtype: DTypeLike | None = None) -> Tensor:
        """Running products along `dim`; the gradient is exact where the input has zeros."""
        return (self if dtype is None else self.astype(dtype))._cumulative("cumprod", dim)

    def logcumsumexp(self, dim: builtins.int) -> Tensor:
        """log(cumsum(exp(self))) along `dim`, computed without overflow."""
        return self._cumulative("logcumsumexp", dim)

    def cummax(self, dim: builtins.int) -> ValuesIndices:
        """`(values, indices)` of the running maximum along `dim`: each index is the last position that
        reached the maximum so far; a nan stays the maximum from where it appears."""
        return self._cumulative("cummax", dim)

    def cummin(self, dim: builtins.int) -> ValuesIndices:
        """As `cummax`, for the running minimum."""
        return self._cumulative("cummin", dim)

    # bool results, not differentiable
    def isnan(self) -> Tensor:
        return _computed(np.isnan, self._data)

    def isinf(self) -> Tensor:
        return _computed(np.isinf, self._data)

    def isposinf(self) -> Tensor:
        return _computed(np.isposinf, self._data)

    def isneginf(self) -> Tensor:
        return _computed(np.isneginf, self._data)

    def isfinite(self) -> Tensor:
        return _computed(np.isfinite, self._data)

    def isclose(
        self,
        other: Operand,
        rtol: builtins.float = 1e-05,
        atol: builtins.float = 1e-08,
        equal_nan: builtins.bool = False,
    ) -> Tensor:
        """|self - other| <= atol + rtol * |other|, elementwise (equal infinities are close; nans only
        with `equal_nan`)."""
        return self._nondifferentiable("isclose", np.isclose, self, other, rtol=rtol, atol=atol, equal_nan=equal_nan)

    def allclose(
        self,
        other: Operand,
        rtol: builtins.float = 1e-05,
        atol: builtins.float = 1e-08,
        equal_nan: builtins.bool = False,
    ) -> builtins.bool:
        """Whether `isclose` holds everywhere, as a Python bool."""
        close = self._nondifferentiable("allclose", np.isclose, self, other, rtol=rtol, atol=atol, equal_nan=equal_nan)
        if state.tracer is not None:
            state.tracer.values_read(self, "allclose()")
        return bool(close._data.all())

    def equal(self, other: Tensor) -> builtins.bool:
        """Whether `other` has this shape and these values, as a Python bool (nan is not equal to itself)."""
        other_array = other._data if isinstance(other, Tensor) else np.asarray(other)
        return self.shape == other_array.shape and bool(np.array_equal(self._data, other_array))

    def any(
        self,
        axis: Axis = None,
        keepdims: builtins.bool = False,
        *,
        dim: Axis = None,
        keepdim: builtins.bool | None = None,
    ) -> Tensor:
        """Whether any element is nonzero, over all elements or along `dim`: a bool tensor."""
        axes, keep = _reduction("any", self.ndim, axis, keepdims, dim, keepdim)
        return _computed(np.any, self._data, axis=axes, keepdims=keep)

    def all(
        self,
        axis: Axis = None,
        keepdims: builtins.bool = False,
        *,
        dim: Axis = None,
        keepdim: builtins.bool | None = None,
    ) -> Tensor:
        """Whether every element is nonzero, over all elements or along `dim`: a bool tensor."""
        axes, keep = _reduction("all", self.ndim, axis, keepdims, dim, keepdim)
        return _computed(np.all, self._data, axis=axes, keepdims=keep)

    # logical: any dtype, builtins.bool results
    def logical_and(self, other: Operand) -> Tensor:
        return self._nondifferentiable("logical_and", np.logical_and, self, other)

    def logical_or(self, other: Operand) -> Tensor:
        return self._nondifferentiable("logical_or", np.logical_or, self, other)

    def logical_xor(self, other: Operand) -> Tensor:
        return self._nondifferentiable("logical_xor", np.logical_xor, self, other)

    def logical_not(self) -> Tensor:
        return _computed(np.logical_not, self._data)

    # bitwise on integers, logical on bools (as PyTorch); floats raise TypeError
    def bitwise_and(self, other: Operand) -> Tensor:
        return self._nondifferentiable("bitwise_and", np.bitwise_and, self, other, integers_only=True)

    def bitwise_or(self, other: Operand) -> Tensor:
        return self._nondifferentiable("bitwise_or", np.bitwise_or, self, other, integers_only=True)

    def bitwise_xor(self, other: Operand) -> Tensor:
        return self._nondifferentiable("bitwise_xor", np.bitwise_xor, self, other, integers_only=True)

    def bitwise_not(self) -> Tensor:
        return self._nondifferentiable("bitwise_not", np.invert, self, integers_only=True)

    def bitwise_left_shift(self, other: Operand) -> Tensor:
        """self * 2**other on integers; a shift past the width gives 0, as PyTorch."""
        return self._nondifferentiable("bitwise_left_shift", np.left_shift, self, other, integers_only=True)

    def bitwise_right_shift(self, other: Operand) -> Tensor:
        """self // 2**other on integers (arithmetic: negative numbers stay negative)."""
        return self._nondifferentiable("bitwise_right_shift", np.right_shift, self, other, integers_only=True)

    def __and__(self, other: Operand) -> Tensor:
        return self.bitwise_and(other)

    def __rand__(self, other: Operand) -> Tensor:
        return self._nondifferentiable("bitwise_and", np.bitwise_and, other, self, integers_only=True)

    def __or__(self, other: Operand) -> Tensor:
        return self.bitwise_or(other)

    def __ror__(self, other: Operand) -> Tensor:
        return self._nondifferentiable("bitwise_or", np.bitwise_or, other, self, integers_only=True)

    def __xor__(self, other: Operand) -> Tensor:
        return self.bitwise_xor(other)

    def __rxor__(self, other: Operand) -> Tensor:
        return self._nondifferentiable("bitwise_xor", np.bitwise_xor, other, self, integers_only=True)

    def __invert__(self) -> Tensor:
        return self.bitwise_not()

    def __lshift__(self, other: Operand) -> Tensor:
        return self.bitwise_left_shift(other)

    def __rlshift__(self, other: Operand) -> Tensor:
        return self._nondifferentiable("bitwise_left_shift", np.left_shift, other, self, integers_only=True)

    def __rshift__(self, other: Operand) -> Tensor:
        return self.bitwise_right_shift(other)

    def __rrshift__(self, other: Operand) -> Tensor:
        return self._nondifferentiable("bitwise_right_shift", np.right_shift, other, self, integers_only=True)

    def bitwise_and_(self, other: Operand) -> Tensor:
        return self._integer_inplace("bitwise_and", np.bitwise_and, other)

    def bitwise_or_(self, other: Operand) -> Tensor:
        return self._integer_inplace("bitwise_or", np.bitwise_or, other)

    def bitwise_xor_(self, other: Operand) -> Tensor:
        return self._integer_inplace("bitwise_xor", np.bitwise_xor, other)

    def bitwise_left_shift_(self, other: Operand) -> Tensor:
        return self._integer_inplace("bitwise_left_shift", np.left_shift, other)

    def bitwise_right_shift_(self, other: Operand) -> Tensor:
        return self._integer_inplace("bitwise_right_shift", np.right_shift, other)

    def __iand__(self, other: Operand) -> Tensor:
        return self.bitwise_and_(other)

    def __ior__(self, other: Operand) -> Tensor:
        return self.bitwise_or_(other)

    def __ixor__(self, other: Operand) -> Tensor:
        return self.bitwise_xor_(other)

    def __ilshift__(self, other: Operand) -> Tensor:
        return self.bitwise_left_shift_(other)

    def __irshift__(self, other: Operand) -> Tensor:
        return self.bitwise_right_shift_(other)

    # ---- elementwise ----
    def exp(self) -> Tensor:
        return apply(OPS["exp"], self)

    def log(self) -> Tensor:
        return apply(OPS["log"], self)

    def log1p(self) -> Tensor:
        return apply(OPS["log1p"], self)

    def expm1(self) -> Tensor:
        return apply(OPS["expm1"], self)

    def sqrt(self) -> Tensor:
        return apply(OPS["sqrt"], self)

    def abs(self) -> Tensor:
        return apply(OPS["abs"], self)

    def sign(self) -> Tensor:
        return apply(OPS["sign"], self)

    def sin(self) -> Tensor:
        return apply(OPS["sin"], self)

    def cos(self) -> Tensor:
        return apply(OPS["cos"], self)

    def tanh(self) -> Tensor:
        return apply(OPS["tanh"], self)

    def sigmoid(self) -> Tensor:
        return apply(OPS["sigmoid"], self)

    def relu(self) -> Tensor:
        return apply(OPS["relu"], self)

    def pow(self, exponent: Operand) -> Tensor:
        return apply(OPS["pow"], self, exponent)

    def clip(self, min: Operand | None = None, max: Operand | None = None) -> Tensor:
        if min is None and max is None:
            raise ValueError("clip: at least one of min and max must be given")
        return apply(OPS["clip"], self, min=min, max=max)

    clamp = clip

    def maximum(self, other: Operand) -> Tensor:
        return apply(OPS["maximum"], self, other)

    def minimum(self, other: Operand) -> Tensor:
        return apply(OPS["minimum"], self, other)

    # ---- reductions ----
    def _reduce(self, name, axis, keepdims, dim, keepdim, **attrs):
        axis, keepdims = _reduction(name, self.ndim, axis, keepdims, dim, keepdim)
        return apply(OPS[name], self, axis=axis, keepdims=keepdims, **attrs)

    def sum(
        self,
        axis: Axis = None,
        keepdims: builtins.bool = False,
        *,
        dim: Axis = None,
        keepdim: builtins.bool | None = None,
    ) -> Tensor:
        return self._reduce("sum", axis, keepdims, dim, keepdim)

    def mean(
        self,
        axis: Axis = None,
        keepdims: builtins.bool = False,
        *,
        dim: Axis = None,
        keepdim: builtins.bool | None = None,
    ) -> Tensor:
        return self._reduce("mean", axis, keepdims, dim, keepdim)

    def _spread(self, name, axis, unbiased, keepdims, dim, keepdim, correction, ddof):
        given = [k for k, v in (("unbiased", unbiased), ("correction", correction), ("ddof", ddof)) if v is not None]
        if len(given) > 1:
            raise TypeError(f"{name}: give at most one of unbiased, correction and ddof, got {' and '.join(given)}")
        if unbiased is not None and not isinstance(unbiased, (bool, np.bool_)):
            raise TypeError(
                f"{name}: unbiased must be a bool (PyTorch's second argument); for an integer use correction=, "
                f"got {unbiased!r}"
            )
        if unbiased is not None:
            correction = int(unbiased)
        elif correction is None:
            correction = 1 if ddof is None else ddof
        if isinstance(correction, builtins.bool) or not isinstance(correction, (int, np.integer)) or correction < 0:
            raise ValueError(f"{name}: correction must be a non-negative int, got {correction!r}")
        return self._reduce(name, axis, keepdims, dim, keepdim, correction=int(correction))

    def var(
        self,
        axis: Axis = None,
        unbiased: builtins.bool | None = None,
        keepdims: builtins.bool = False,
        *,
        dim: Axis = None,
        keepdim: builtins.bool | None = None,
        correction: builtins.int | None = None,
        ddof: builtins.int | None = None,
    ) -> Tensor:
        """The variance, PyTorch's: divided by N - correction, `correction=1` (Bessel's) unless told
        (`unbiased=False` or `correction=0` for the population variance; numpy's `ddof=` is an alias)."""
        return self._spread("var", axis, unbiased, keepdims, dim, keepdim, correction, ddof)

    def std(
        self,
        axis: Axis = None,
        unbiased: builtins.bool | None = None,
        keepdims: builtins.bool = False,
        *,
        dim: Axis = None,
        keepdim: builtins.bool | None = None,
        correction: builtins.int | None = None,
        ddof: builtins.int | None = None,
    ) -> Tensor:
        """The standard deviation: the square root of `var` with the same arguments."""
        return self._spread("std", axis, unbiased, keepdims, dim, keepdim, correction, ddof)

    def _extreme(self, name, axis, keepdims, dim, keepdim):
        if self._data.size == 0:
            raise ValueError(f"{name}: cannot reduce an empty tensor of shape {self.shape}")
        along_one = dim if dim is not None else axis
        if not isinstance(along_one, (int, np.integer)):
            return self._reduce(name, axis, keepdims, dim, keepdim)
        keepdims = keepdims if keepdim is None else keepdim
        values, indices = apply(
            OPS[name + "_dim"], self, axis=_single_axis(self, along_one, name), keepdims=bool(keepdims)
        )
        return ValuesIndices(values, indices)

    def max(
        self,
        axis: Axis = None,
        keepdims: builtins.bool = False,
        *,
        dim: Axis = None,
        keepdim: builtins.bool | None = None,
    ) -> Any:
        """The maximum over all elements or a tuple of axes (gradient split among ties); along one int
        `dim`/`axis`, PyTorch's `(values, indices)` pair (gradient to the index picked)."""
        return self._extreme("max", axis, keepdims, dim, keepdim)

    def min(
        self,
        axis: Axis = None,
        keepdims: builtins.bool = False,
        *,
        dim: Axis = None,
        keepdim: builtins.bool | None = None,
    ) -> Any:
        """As `max`, for the minimum."""
        return self._extreme("min", axis, keepdims, dim, keepdim)

    def sort(
        self,
        dim: builtins.int = -1,
        descending: builtins.bool = False,
        stable: builtins.bool = False,
        *,
        axis: builtins.int | None = None,
    ) -> ValuesIndices:
        """`(values, indices)` sorted along `dim` (a stable sort, whatever `stable` says)."""
        axis = _single_axis(self, dim if axis is None else axis, "sort")
        values, indices = apply(OPS["sort"], self, axis=axis, descending=bool(descending))
        return ValuesIndices(values, indices)

    def argsort(
        self, dim: builtins.int = -1, descending: builtins.bool = False, *, axis: builtins.int | None = None
    ) -> Tensor:
        """The indices that sort along `dim` (not differentiable)."""
        axis = _single_axis(self, dim if axis is None else axis, "argsort")
        return _computed(_argsort, self._data, axis=axis, descending=bool(descending))

    def topk(
        self,
        k: builtins.int,
        dim: builtins.int = -1,
        largest: builtins.bool = True,
        sorted: builtins.bool = True,
        *,
        axis: builtins.int | None = None,
    ) -> ValuesIndices:
        """`(values, indices)` of the k largest (or smallest) entries along `dim`, in sorted order."""
        axis = _single_axis(self, dim if axis is None else axis, "topk")
        length = self.shape[axis] if self.ndim else 1
        if not isinstance(k, (int, np.integer)) or not 0 <= k <= length:
            raise ValueError(f"topk: k must be an int in [0, {length}] for dim {axis} of shape {self.shape}, got {k!r}")
        values, indices = apply(OPS["topk"], self, k=int(k), axis=axis, largest=bool(largest))
        return ValuesIndices(values, indices)

    def prod(
        self,
        axis: Axis = None,
        keepdims: builtins.bool = False,
        *,
        dim: Axis = None,
        keepdim: builtins.bool | None = None,
    ) -> Tensor:
        return self._reduce("prod", axis, keepdims, dim, keepdim)

    def logsumexp(
        self,
        axis: Axis = None,
        keepdims: builtins.bool = False,
        *,
        dim: Axis = None,
        keepdim: builtins.bool | None = None,
    ) -> Tensor:
        return self._reduce("logsumexp", axis, keepdims, dim, keepdim)

    def norm(
        self,
        p: Number | str = 2,
        axis: Axis = None,
        keepdims: builtins.bool = False,
        *,
        dim: Axis = None,
        keepdim: builtins.bool | None = None,
    ) -> Tensor:
        if p == "fro":
            p = 2
        if p in (np.inf, float("inf")):
            return self.abs()._reduce("max", axis, keepdims, dim, keepdim)
        if not isinstance(p, (int, builtins.float)) or p < 1:
            raise ValueError(f"norm: p must be a number >= 1, 'fro' or inf, got {p!r}")
        return self._reduce("norm", axis, keepdims, dim, keepdim, p=p)

    def _arg(self, ufunc, name, axis, keepdims, dim, keepdim):
        axis = dim if dim is not None else axis
        keepdims = keepdim if keepdim is not None else keepdims
        if axis is not None and not isinstance(axis, (int, np.integer)):
            raise TypeError(f"{name}: axis must be an int or None, got {type(axis).__name__}")
        if self._data.size == 0:
            raise ValueError(f"{name}: cannot reduce an empty tensor of shape {self.shape}")
        return _computed(ufunc, self._data, axis=axis, keepdims=keepdims)

    def argmax(
        self,
        axis: builtins.int | None = None,
        keepdims: builtins.bool = False,
        *,
        dim: builtins.int | None = None,
        keepdim: builtins.bool | None = None,
    ) -> Tensor:
        return self._arg(np.argmax, "argmax", axis, keepdims, dim, keepdim)

    def argmin(
        self,
        axis: builtins.int | None = None,
        keepdims: builtins.bool = False,
        *,
        dim: builtins.int | None = None,
        keepdim: builtins.bool | None = None,
    ) -> Tensor:
        return self._arg(np.argmin, "argmin", axis, keepdims, dim, keepdim)

    def _normalized_exponential(self, name, axis):
        if self.ndim == 0:  # PyTorch treats a 0-d tensor as one element along dim 0 or -1
            _normalize_axis(axis, 0, name)
            return apply(OPS[name], self.reshape(1), axis=0).reshape(())
        return apply(OPS[name], self, axis=_single_axis(self, axis, name))

    def softmax(self, axis: builtins.int = -1, *, dim: builtins.int | None = None) -> Tensor:
        return self._normalized_exponential("softmax", axis if dim is None else dim)

    def log_softmax(self, axis: builtins.int = -1, *, dim: builtins.int | None = None) -> Tensor:
        return self._normalized_exponential("log_softmax", axis if dim is None else dim)

    # ---- shape ----
    def reshape(self, *shape: builtins.int | Sequence[builtins.int]) -> Tensor:
        shape = _shape_args(shape, "reshape")
        if shape == self.shape:
            return self
        return apply(OPS["reshape"], self, shape=shape)

    view = reshape

    def flatten(self, start_dim: builtins.int = 0, end_dim: builtins.int = -1) -> Tensor:
        if self.ndim == 0:
            return self.reshape(1)
        start, end = start_dim % self.ndim, end_dim % self.ndim
        if start > end:
            raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for shape {self.shape}")
        return self.reshape(self.shape[:start] + (math.prod(self.shape[start : end + 1]),) + self.shape[end + 1 :])

    def transpose(self, *axes: builtins.int | Sequence[builtins.int]) -> Tensor:
        """No axes: reverse them. Two axes: swap them (as PyTorch). More: a permutation (as numpy)."""
        order: tuple[Any, ...] = tuple(axes[0]) if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes
        if not order:
            order = tuple(range(self.ndim))[::-1]
        elif len(order) == 2:
            return self.swapaxes(*order)
        return self.permute(*order)

    def permute(self, *dims: builtins.int | Sequence[builtins.int]) -> Tensor:
        given = _shape_args(dims, "permute")
        if sorted(d % max(self.ndim, 1) for d in given) != list(range(self.ndim)):
            raise ValueError(f"permute: {given} is not a permutation of the {self.ndim} axes of shape {self.shape}")
        order = tuple(d % self.ndim for d in given)
        if order == tuple(range(self.ndim)):
            return self
        return apply(OPS["transpose"], self, axes=order)

    def swapaxes(self, axis1: builtins.int, axis2: builtins.int) -> Tensor:
        a, b = (_normalize_axis(axis, self.ndim, "swapaxes")[0] for axis in (axis1, axis2))
        if a == b:
            return self
        return apply(OPS["swapaxes"], self, axis1=a, axis2=b)

    def squeeze(self, axis: Axis = None, *, dim: Axis = None) -> Tensor:
        axes = _normalize_axis(axis if dim is None else dim, self.ndim, "squeeze")
        drop = [i for i, n in enumerate(self.shape) if n == 1 and (axes is None or i in axes)]
        return self.reshape(tuple(n for i, n in enumerate(self.shape) if i not in drop))

    def unsqueeze(self, axis: builtins.int | None = None, *, dim: builtins.int | None = None) -> Tensor:
        axis = dim if dim is not None else axis
        if not isinstance(axis, (int, np.integer)):
            raise TypeError(f"unsqueeze: axis must be an int, got {type(axis).__name__}")
        if not -self.ndim - 1 <= axis <= self.ndim:
            raise ValueError(f"unsqueeze: axis {axis} is out of range for shape {self.shape}")
        axis = axis % (self.ndim + 1)
        return self.reshape(self.shape[:axis] + (1,) + self.shape[axis:])

    expand_dims = unsqueeze

    def t(self) -> Tensor:
        """The transpose of a matrix (a tensor of at most 2 dimensions), as PyTorch's `t()`."""
        if self.ndim > 2:
            raise ValueError(f"t: expects a tensor with at most 2 dimensions, got shape {self.shape}; use transpose")
        return self.transpose()

    def contiguous(self) -> Tensor:
        """This tensor: every op here accepts any memory layout, so there is nothing to copy."""
        return self

    def broadcast_to(self, *shape: builtins.int | Sequence[builtins.int]) -> Tensor:
        shape = _shape_args(shape, "broadcast_to")
        if shape == self.shape:
            return self
        return apply(OPS["broadcast_to"], self, shape=shape)

    def repeat(self, *sizes: builtins.int | Sequence[builtins.int]) -> Tensor:
        """PyTorch's repeat: the tensor tiled `sizes[d]` times along dimension d (`x.repeat(2, 1)`); extra
        leading sizes add dimensions. Repeating each element in place is `repeat_interleave`."""
        given = _shape_args(sizes, "repeat")
        if len(given) < self.ndim:
            raise ValueError(
                f"repeat: got {len(given)} repeat sizes {given} for a tensor of shape {self.shape}; give at least "
                f"one per dimension ({self.ndim})"
            )
        if any(n < 0 for n in given):
            raise ValueError(f"repeat: repeat sizes must be non-negative, got {given}")
        return self.tile(*given)

    def tile(self, *reps: builtins.int | Sequence[builtins.int]) -> Tensor:
        """numpy.tile, as a broadcast and a reshape (so its gradient sums the copies)."""
        given = _shape_args(reps, "tile")
        ndim = max(len(given), self.ndim)
        counts = (1,) * (ndim - len(given)) + given
        shape = (1,) * (ndim - self.ndim) + self.shape
        spread = self.reshape(tuple(n for s in shape for n in (1, s)))
        tiled = spread.broadcast_to(tuple(n for r, s in zip(counts, shape) for n in (r, s)))
        return tiled.reshape(tuple(r * s for r, s in zip(counts, shape)))

    def pad(
        self, pad_width: builtins.int | Sequence[builtins.int] | Sequence[Sequence[builtins.int]], value: Number = 0.0
    ) -> Tensor:
        """numpy.pad in constant mode: `pad_width` is an int, a (before, after) pair, or one pair per axis."""
        widths = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (self.ndim, 2)) if self.ndim else ()
        if np.any(np.asarray(widths) < 0):
            raise ValueError(f"pad: widths must be non-negative, got {pad_width!r}")
        return apply(OPS["pad"], self, pad_width=tuple((int(a), int(b)) for a, b in widths), value=value)

    def split(
        self,
        split_size_or_sections: builtins.int | Sequence[builtins.int],
        dim: builtins.int = 0,
        *,
        axis: builtins.int | None = None,
    ) -> tuple[Tensor, ...]:
        """As PyTorch: an int gives pieces of that size (the last may be smaller); a list gives the sizes.
        One graph node with one output per piece (each a view)."""
        axis = _single_axis(self, dim if axis is None else axis, "split")
        length = self.shape[axis]
        if isinstance(split_size_or_sections, (int, np.integer)):
            if split_size_or_sections <= 0:
                raise ValueError(f"split: split size must be positive, got {split_size_or_sections}")
            sizes = [min(split_size_or_sections, length - s) for s in range(0, length, split_size_or_sections)]
        else:
            sizes = list(split_size_or_sections)
            if sum(sizes) != length or any(s < 0 for s in sizes):
                raise ValueError(
                    f"split: sizes {sizes} do not add up to {length}, the length of axis {axis} of {self.shape}"
                )
        return apply(OPS["split"], self, axis=axis, bounds=tuple(int(b) for b in np.cumsum([0] + sizes)))

    def chunk(
        self, chunks: builtins.int, dim: builtins.int = 0, *, axis: builtins.int | None = None
    ) -> tuple[Tensor, ...]:
        """At most `chunks` pieces of equal size (the last may be smaller), as PyTorch."""
        if not isinstance(chunks, (int, np.integer)) or chunks <= 0:
            raise ValueError(f"chunk: chunks must be a positive int, got {chunks!r}")
        axis = _single_axis(self, dim if axis is None else axis, "chunk")
        return self.split(max(1, -(-self.shape[axis] // chunks)), axis)

    def unbind(self, dim: builtins.int = 0, *, axis: builtins.int | None = None) -> tuple[Tensor, ...]:
        """The slices along `dim`, with that dimension removed: one node, one output per slice."""
        if self.ndim == 0:
            raise ValueError("unbind: a 0-d tensor has no dimension to unbind")
        return apply(OPS["unbind"], self, axis=_single_axis(self, dim if axis is None else axis, "unbind"))

    # ---- indexing and shape ops of `index_ops` (gather/scatter family, flip, roll, diag, einsum, ...) ----
    # Each method is the function of the same name in `index_ops` (imported at call time: index_ops
    # imports this module), which checks the arguments in PyTorch's terms and says what the op does.

    def gather(self, dim: builtins.int, index: TensorLike, *, sparse_grad: builtins.bool = False) -> Tensor:
        from . import index_ops

        return index_ops.gather(self, dim, index, sparse_grad=sparse_grad)

    def scatter(
        self,
        dim: builtins.int,
        index: TensorLike,
        src: Any = None,
        value: Number | None = None,
        *,
        reduce: str | None = None,
    ) -> Tensor:
        from . import index_ops

        return index_ops.scatter(self, dim, index, src, value, reduce=reduce)

    def scatter_(
        self,
        dim: builtins.int,
        index: TensorLike,
        src: Any = None,
        value: Number | None = None,
        *,
        reduce: str | None = None,
    ) -> Tensor:
        from . import index_ops

        return index_ops.scatter_(self, dim, index, src, value, reduce=reduce)

    def scatter_add(self, dim: builtins.int, index: TensorLike, src: TensorLike) -> Tensor:
        from . import index_ops

        return index_ops.scatter_add(self, dim, index, src)

    def scatter_add_(self, dim: builtins.int, index: TensorLike, src: TensorLike) -> Tensor:
        from . import index_ops

        return index_ops.scatter_add_(self, dim, index, src)

    def scatter_reduce(
        self, dim: builtins.int, index: TensorLike, src: TensorLike, reduce: str, *, include_self: builtins.bool = True
    ) -> Tensor:
        from . import index_ops

        return index_ops.scatter_reduce(self, dim, index, src, reduce, include_self=include_self)

    def scatter_reduce_(
        self, dim: builtins.int, index: TensorLike, src: TensorLike, reduce: str, *, include_self: builtins.bool = True
    ) -> Tensor:
        from . import index_ops

        return index_ops.scatter_reduce_(self, dim, index, src, reduce, include_self=include_self)

    def index_select(self, dim: builtins.int, index: TensorLike) -> Tensor:
        from . import index_ops

        return index_ops.index_select(self, dim, index)

    def index_add(self, dim: builtins.int, index: TensorLike, source: TensorLike, *, alpha: Number = 1) -> Tensor:
        from . import index_ops

        return index_ops.index_add(self, dim, index, source, alpha=alpha)

    def index_add_(self, dim: builtins.int, index: TensorLike, source: TensorLike, *, alpha: Number = 1) -> Tensor:
        from . import index_ops

        return index_ops.index_add_(self, dim, index, source, alpha=alpha)

    def index_copy(self, dim: builtins.int, index: TensorLike, source: TensorLike) -> Tensor:
        from . import index_ops

        return index_ops.index_copy(self, dim, index, source)

    def index_copy_(self, dim: builtins.int, index: TensorLike, source: TensorLike) -> Tensor:
        from . import index_ops

        return index_ops.index_copy_(self, dim, index, source)

    def masked_fill(self, mask: TensorLike, value: Number | Tensor) -> Tensor:
        from . import index_ops

        return index_ops.masked_fill(self, mask, value)

    def masked_fill_(self, mask: TensorLike, value: Number | Tensor) -> Tensor:
        from . import index_ops

        return index_ops.masked_fill_(self, mask, value)

    def masked_select(self, mask: TensorLike) -> Tensor:
        from . import index_ops

        return index_ops.masked_select(self, mask)

    def nonzero(self, *, as_tuple: builtins.bool = False) -> Any:
        from . import index_ops

        return index_ops.nonzero(self, as_tuple=as_tuple)

    def argwhere(self) -> Tensor:
        from . import index_ops

        return index_ops.argwhere(self)

    def take_along_dim(self, indices: TensorLike, dim: builtins.int | None = None) -> Tensor:
        from . import index_ops

        return index_ops.take_along_dim(self, indices, dim)

    def flip(self, *dims: Any) -> Tensor:
        """`x.flip(0, 1)` or `x.flip((0, 1))`: see `index_ops.flip`."""
        from . import index_ops

        return index_ops.flip(self, dims[0] if len(dims) == 1 else dims)

    def fliplr(self) -> Tensor:
        from . import index_ops

        return index_ops.fliplr(self)

    def flipud(self) -> Tensor:
        from . import index_ops

        return index_ops.flipud(self)

    def roll(
        self, shifts: builtins.int | Sequence[builtins.int], dims: builtins.int | Sequence[builtins.int] | None = None
    ) -> Tensor:
        from . import index_ops

        return index_ops.roll(self, shifts, dims)

    def diag(self, diagonal: builtins.int = 0) -> Tensor:
        from . import index_ops

        return index_ops.diag(self, diagonal)

    def diagonal(self, offset: builtins.int = 0, dim1: builtins.int = 0, dim2: builtins.int = 1) -> Tensor:
        from . import index_ops

        return index_ops.diagonal(self, offset, dim1, dim2)

    def diag_embed(self, offset: builtins.int = 0, dim1: builtins.int = -2, dim2: builtins.int = -1) -> Tensor:
        from . import index_ops

        return index_ops.diag_embed(self, offset, dim1, dim2)

    def tril(self, diagonal: builtins.int = 0) -> Tensor:
        from . import index_ops

        return index_ops.tril(self, diagonal)

    def triu(self, diagonal: builtins.int = 0) -> Tensor:
        from . import index_ops

        return index_ops.triu(self, diagonal)

    def unflatten(self, dim: builtins.int, sizes: Sequence[builtins.int]) -> Tensor:
        from . import index_ops

        return index_ops.unflatten(self, dim, sizes)

    def expand(self, *sizes: builtins.int | Sequence[builtins.int]) -> Tensor:
        """This tensor broadcast to `sizes` (-1 keeps a dimension's size), a view, as PyTorch."""
        from . import index_ops

        return index_ops.expand(self, sizes)

    def expand_as(self, other: Tensor) -> Tensor:
        return self.expand(other.shape)

    def view_as(self, other: Tensor) -> Tensor:
        return self.reshape(other.shape)

    reshape_as = view_as

    def movedim(
        self, source: builtins.int | Sequence[builtins.int], destination: builtins.int | Sequence[builtins.int]
    ) -> Tensor:
        from . import index_ops

        return index_ops.movedim(self, source, destination)

    moveaxis = movedim

    def narrow(self, dim: builtins.int, start: builtins.int | Tensor, length: builtins.int) -> Tensor:
        from . import index_ops

        return index_ops.narrow(self, dim, start, length)

    def select(self, dim: builtins.int, index: builtins.int) -> Tensor:
        from . import index_ops

        return index_ops.select(self, dim, index)

    def repeat_interleave(
        self,
        repeats: builtins.int | TensorLike,
        dim: builtins.int | None = None,
        *,
        output_size: builtins.int | None = None,
    ) -> Tensor:
        from . import index_ops

        return index_ops.repeat_interleave(self, repeats, dim, output_size=output_size)

    def mm(self, mat2: TensorLike) -> Tensor:
        from . import index_ops

        return index_ops.mm(self, mat2)

    def bmm(self, mat2: TensorLike) -> Tensor:
        from . import index_ops

        return index_ops.bmm(self, mat2)

    def dot(self, tensor: TensorLike) -> Tensor:
        from . import index_ops

        return index_ops.dot(self, tensor)

    def outer(self, vec2: TensorLike) -> Tensor:
        from . import index_ops

        return index_ops.outer(self, vec2)

    def inner(self, other: TensorLike) -> Tensor:
        from . import index_ops

        return index_ops.inner(self, other)

    # ---- indexing ----
    def __getitem__(self, index: Any) -> Tensor:
        """PyTorch's indexing: ints, slices (negative steps too, as numpy), None, Ellipsis, bools, and
        integer or boolean tensors, arrays and lists, with PyTorch's placement of the advanced-index
        dimensions. Basic indexing gives a view; the gradient of advanced indexing accumulates repeats."""
        index, order = _index(index, self.shape)
        out = apply(OPS["getitem"], self, index=index)
        return out if order is None else apply(OPS["transpose"], out, axes=order)

    # ---- in-place ----
    def _inplace(self, name, operands, attrs, direct):
        """Apply op `name` in place. Without grad recording, `direct(array, *operand_arrays)` edits the
        array. With it, the op is recorded like PyTorch does: the tensor takes the new node as its
        grad_fn, and nodes that saved its old value refuse to backward."""
        recording = is_grad_enabled() and (
            self.requires_grad or any(isinstance(o, Tensor) and o.requires_grad for o in operands)
        )
        if recording and self.grad_fn is None and self.requires_grad:
            raise RuntimeError(
                f"{name}_: a leaf tensor that requires grad cannot be modified in place while grad "
                "is recorded; do it under `with ag.no_grad():`, or modify a .clone()"
            )
        if recording and self._base is not None:
            raise RuntimeError(
                f"{name}_: in-place modification of a view (shape {self.shape}) of a tensor that is "
                "part of a recorded graph is not supported; modify a .clone() instead"
            )
        tracer = state.tracer
        try:
            if not recording and tracer is None:
                direct(self._data, *(o._data if isinstance(o, Tensor) else o for o in operands))
            elif not recording:  # traced: the op out of place, then the write, both recorded
                result = apply(OPS[name], Tensor(self._data), *operands, **attrs)
                casting = "unsafe" if name == "copy" else "same_kind"
                np.copyto(self._data, result._data, casting=casting)
                tracer.assigned(self, result._data, casting)
            else:
                old = Tensor(self._data, self.requires_grad, self.grad_fn)
                old.output_nr = self.output_nr
                result = apply(OPS[name], old, *operands, **attrs)
                node = result.grad_fn
                if node.saved[0] is self._data:  # the VJP reads the old value: keep a copy of it
                    node.saved[0] = self._data.copy()
                    if tracer is not None:
                        tracer.copied(self._data, node.saved[0])
                np.copyto(self._data, result._data, casting="same_kind")
                if tracer is not None:
                    tracer.assigned(self, result._data, "same_kind")
                self.grad_fn, self.output_nr, self.requires_grad = node, 0, True
                self._version_counter[1] += 1
        except (ValueError, TypeError) as exc:
            kind = TypeError if isinstance(exc, TypeError) else ValueError
            shapes = " and ".join(str(np.shape(o)) for o in operands)
            raise kind(
                f"{name}_: cannot update a tensor of shape {self.shape} and dtype {self.dtype} in place "
                f"(operand shapes {shapes or 'none'}): {exc}"
            ) from None
        self._version_counter[0] += 1
        return self

    def add_(self, other: Operand, *, alpha: Number = 1) -> Tensor:
        """`self += alpha * other`, in place (`p.data.add_(p.grad, alpha=-lr)`)."""
        return self._inplace("add", (_times_alpha(other, alpha),), {}, lambda a, b: np.add(a, b, out=a))

    def sub_(self, other: Operand, *, alpha: Number = 1) -> Tensor:
        return self._inplace("sub", (_times_alpha(other, alpha),), {}, lambda a, b: np.subtract(a, b, out=a))

    def mul_(self, other: Operand) -> Tensor:
        return self._inplace("mul", (other,), {}, lambda a, b: np.multiply(a, b, out=a))

    def div_(self, other: Operand) -> Tensor:
        return self._inplace("div", (other,), {}, lambda a, b: np.true_divide(a, b, out=a))

    def fill_(self, value: Operand) -> Tensor:
        return self._inplace("fill", (), {"value": value}, lambda a: a.fill(value))

    def zero_(self) -> Tensor:
        return self.fill_(0)

    def copy_(self, src: Operand) -> Tensor:
        return self._inplace("copy", (src,), {}, lambda a, b: np.copyto(a, b, casting="unsafe"))

    def clamp_(self, min: Operand | None = None, max: Operand | None = None) -> Tensor:
        if min is None and max is None:
            raise ValueError("clamp_: at least one of min and max must be given")
        return self._inplace("clip", (), {"min": min, "max": max}, lambda a: np.clip(a, min, max, out=a))

    clip_ = clamp_

    # Python's augmented assignment (`w -= lr * g`) edits the tensor in place, as PyTorch: the same
    # object, its version counter bumped, never a silent rebinding to a new tensor.
    def __iadd__(self, other: Operand) -> Tensor:
        return self.add_(other)

    def __isub__(self, other: Operand) -> Tensor:
        return self.sub_(other)

    def __imul__(self, other: Operand) -> Tensor:
        return self.mul_(other)

    def __itruediv__(self, other: Operand) -> Tensor:
        return self.div_(other)

    def __imatmul__(self, other: Operand) -> Tensor:
        return self._inplace("matmul", (other,), {}, lambda a, b: np.matmul(a, b, out=a))

    def __setitem__(self, index: Any, value: Operand) -> None:
        """`t[index] = value` in place, `index` read as `__getitem__` reads it; value broadcasts to the
        indexed shape. With repeated positions, the last value written stays."""
        index, order = _index(index, self.shape)
        if order is not None and np.ndim(value) > 0:  # value comes in PyTorch's layout: put it in numpy's
            indexed = np.broadcast_to(np.zeros((), np.int8), self.shape)[index].shape
            torch_shape = tuple(indexed[i] for i in order)
            inverse = tuple(int(i) for i in np.argsort(order))
            if isinstance(value, Tensor):
                value = value.broadcast_to(torch_shape).permute(inverse)
            else:
                value = np.transpose(np.broadcast_to(value, torch_shape), inverse)
        self._inplace("setitem", (value,), {"index": index}, lambda a, v: a.__setitem__(index, v))


def _times_alpha(other: Operand, alpha: Number) -> Operand:
    """`alpha * other` for the `alpha=` of add/sub (PyTorch's), skipping the product when alpha is 1."""
    return other if alpha == 1 else apply(OPS["mul"], other, alpha)


def _single_axis(t, axis, who):
    if not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{who}: axis must be an int, got {type(axis).__name__}")
    return _normalize_axis(axis, t.ndim, who)[0] if t.ndim else 0


def _matmul(a, b):
    shape_a, shape_b = (
        np.shape(a._data if isinstance(a, Tensor) else a),
        np.shape(b._data if isinstance(b, Tensor) else b),
    )
    if not shape_a or not shape_b:
        raise ValueError(f"matmul: both operands need at least one dimension, got shapes {shape_a} and {shape_b}")
    inner_a = shape_a[-1]
    inner_b = shape_b[-2] if len(shape_b) > 1 else shape_b[0]
    if inner_a != inner_b:
        raise ValueError(f"matmul: shapes {shape_a} and {shape_b} are not aligned ({inner_a} != {inner_b})")
    batch_a, batch_b = shape_a[:-2], shape_b[:-2]
    try:
        np.broadcast_shapes(batch_a, batch_b)
    except ValueError:
        raise ValueError(
            f"matmul: shapes {shape_a} and {shape_b}: batch dimensions {batch_a} and {batch_b} "
            "cannot be broadcast together"
        ) from None
    return apply(OPS["matmul"], a, b)


# The functional form, with Tensor itself rather than the name "Tensor" (this module's annotations are strings):
# the generated constructor's annotations then resolve for readers such as pdoc.
ValuesIndices = NamedTuple("ValuesIndices", [("values", Tensor), ("indices", Tensor)])  # noqa: UP014
ValuesIndices.__doc__ = (
    """What `max`/`min` along one dim, `sort` and `topk` return, as PyTorch: `values, indices = ...`."""
)


def _argsort(a: np.ndarray, axis: builtins.int, descending: builtins.bool) -> np.ndarray:
    return np.argsort(-a if descending else a, axis=axis, kind="stable")


def computed_array(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> np.ndarray:
    """`np.asarray(fn(*args, **kwargs))` for a numpy computation on tensors' arrays outside the graph (a
    comparison, the positions of max pooling's maxima): the one place such values are made, so that an
    `ag.compile` trace records the call and a compiled step computes them again from each call's values."""
    out = np.asarray(fn(*args, **kwargs))
    if state.tracer is not None:
        state.tracer.computed(fn, args, kwargs, out)
    return out


def _computed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Tensor:
    """`computed_array` as a new tensor outside the graph (the comparisons, `any`, `argmax`...)."""
    return Tensor(computed_array(fn, *args, **kwargs))


def increment_version(tensor: Tensor) -> None:
    """Record an in-place edit made directly on `tensor`'s array (optimizer kernels, `Module.to`), as
    PyTorch's `torch.autograd.graph.increment_version`: a pending backward that kept the old value
    then raises instead of silently using the new one."""
    tensor._version_counter[0] += 1


TensorLike: TypeAlias = Tensor | np.ndarray | Scalar | Sequence[Any]
"""What a tensor can be built from: a Tensor, a numpy array, a number, or nested lists of numbers."""
Operand: TypeAlias = Tensor | np.ndarray | Scalar
"""What an op accepts as an input: a Tensor, or a constant (numpy array or number)."""


# ---- apply: the one door every op goes through --------------------------------------------------

_CONSTANT_TYPES = (np.ndarray, np.generic, float, int)


def _forward_error(op, arrays, exc):
    """The forward's numpy error in the library's words: the op, the shapes, what went wrong."""
    shapes = [np.shape(a) for a in arrays]
    listed = " and ".join(str(s) for s in shapes)
    if isinstance(exc, ValueError) and "broadcast" in str(exc):
        return ValueError(f"{op.name}: shapes {listed} cannot be broadcast together")
    kind = IndexError if isinstance(exc, IndexError) else TypeError if isinstance(exc, TypeError) else ValueError
    return kind(f"{op.name}: invalid input ({'shapes' if len(arrays) > 1 else 'shape'} {listed}): {exc}")


def _pytorch_float_dtype(arrays: list[Any]) -> np.dtype:
    """The floating dtype PyTorch gives an op over `arrays`, which numpy computed as another one.

    PyTorch ranks operands: tensors with dimensions, then 0-d tensors, then Python numbers. The floating
    operands of the highest rank decide (promoted among themselves); when none is floating (integers
    passed to `exp` or `/`, an integer tensor times a Python float) the result is the default dtype. So
    a float32 model stays float32 whatever numbers and integer tensors it meets, unlike numpy, which
    widens to float64."""
    best_rank, dtype = 0, _default_dtype
    for a in arrays:
        if isinstance(a, np.ndarray) and a.dtype.kind == "f":
            rank = 2 if a.ndim else 1
            if rank > best_rank:
                best_rank, dtype = rank, a.dtype
            elif rank == best_rank:
                dtype = np.promote_types(dtype, a.dtype)
    return dtype


def apply(op: Op, *inputs: Operand, **attrs: Any) -> Any:
    """Run `op` on Tensors/constants; record a node when grad mode is on and an input requires grad.
    Returns a Tensor, or a tuple of Tensors for an op with several outputs."""
    arrays: list[Any] = []
    recording = False
    for x in inputs:
        if isinstance(x, Tensor):
            arrays.append(x._data)
            if x.requires_grad:
                recording = True
        elif isinstance(x, _CONSTANT_TYPES):
            arrays.append(x)
        else:
            raise TypeError(f"{op.name}: expected a Tensor, numpy array or number, got {type(x).__name__}")
    try:
        out = raw = op.forward(*arrays, **attrs)
    except (ValueError, TypeError, IndexError) as exc:
        raise _forward_error(op, arrays, exc) from None
    if type(out) is np.ndarray and out.dtype.kind == "f" and out.dtype != _default_dtype and "dtype" not in attrs:
        dtype = _pytorch_float_dtype(arrays)
        if dtype != out.dtype:
            out = out.astype(dtype)
    if type(out) is not np.ndarray:
        if op.multi_output:
            outs = tuple(np.asarray(o) for o in out)
            if recording and state.grad_enabled:
                results = record(op, inputs, arrays, outs, attrs)
            else:
                results = tuple(_output(op, Tensor(o), inputs) for o in outs)
            if state.tracer is not None:
                state.tracer.op(op, inputs, attrs, raw, results)
            return results
        out = np.asarray(out)
    if recording and state.grad_enabled:
        result = record(op, inputs, arrays, out, attrs)
    else:
        result = Tensor(out)  # `_output` inlined: this line runs for every op outside recording
        if op.is_view and out.base is not None:
            result._share_version_with(inputs[0])
    if state.tracer is not None:  # an ag.compile trace records the op (see compiler.tracer)
        state.tracer.op(op, inputs, attrs, raw, result)
    return result


def _output(op, result, inputs):
    """`result`, sharing the version counter of the input it is a view of."""
    if op.is_view and result._data.base is not None:
        result._share_version_with(inputs[0])
    return result


def record(op, inputs, arrays, out, attrs):
    """The output Tensor of `op` (a tuple of them when `out` is a tuple of arrays), with the node that
    lets backward reach `inputs`. The node keeps the values the KeepPlan of the wanted inputs names;
    each value it drops becomes, in `arrays`, a stand-in that answers shape, dtype, ndim and size but
    not values: the input's parent (node, output edge or leaf tensor), or a SavedShape for an input
    without one. One function for the input side (inlined: it runs for every op)."""
    parents = []
    wanted = 1  # the key of op.plan: a leading 1, then one bit per input, 1 where its gradient is wanted
    for x in inputs:
        if isinstance(x, Tensor):
            if x._base is not None and x._version_counter[1] != x._view_rebase:
                raise RuntimeError(
                    f"{op.name}: an input of shape {x.shape} is a view of a tensor that was later modified in "
                    "place by a recorded op, so its recorded history is stale; take the view again after the "
                    "in-place op, or use .clone()"
                )
            if x.requires_grad:
                node = x.grad_fn
                parents.append(x if node is None else node if type(node) is Node else node.edges[x.output_nr])
                wanted += wanted + 1
                continue
        parents.append(None)
        wanted += wanted
    plan = op.plans.get(wanted) or op.plan(wanted)
    version_checks = []
    for i in plan.kept:
        x = inputs[i]
        if isinstance(x, Tensor):
            version_checks += (x._version_counter, x._version_counter[0])
    for i in plan.dropped:
        a = arrays[i]
        if type(a) is np.ndarray:  # the parent knows the shape and dtype already: no allocation
            arrays[i] = SavedShape(a.shape, a.dtype) if parents[i] is None else parents[i]
    if type(out) is tuple:
        return _record_outputs(
            op,
            inputs,
            out,
            MultiOutputNode(
                op,
                parents,
                arrays,
                out if plan.keeps_out else None,
                attrs,
                tuple(o.shape for o in out),
                tuple(o.dtype for o in out),
                version_checks,
                state.scope,
            ),
        )
    result = Tensor(out, True)  # `_output` inlined, as in `apply`
    if op.is_view and out.base is not None:
        result._share_version_with(inputs[0])
    if plan.keeps_out:
        version_checks += (result._version_counter, result._version_counter[0])
    result.grad_fn = Node(
        op, parents, arrays, out if plan.keeps_out else None, attrs, out.shape, out.dtype, version_checks, state.scope
    )
    if state.anomaly:
        result.grad_fn.trace = traceback.format_stack()[:-3]
    return result


def _record_outputs(op, inputs, outs, node):
    """The output Tensors of a multi-output `node` (integer outputs, such as indices, do not require
    grad); the version checks of the outputs it keeps join the node's."""
    results = tuple(_output(op, Tensor(o, o.dtype.kind == "f"), inputs) for o in outs)
    if node.out is not None:
        for result in results:
            node.version_checks += (result._version_counter, result._version_counter[0])
    if state.anomaly:
        node.trace = traceback.format_stack()[:-3]
    for k, result in enumerate(results):
        if result.requires_grad:
            result.grad_fn, result.output_nr = node, k
    return results


_reverse_pass: Any = None  # engine.backward, once `engine` is imported


def install_reverse_pass(backward: Callable[..., None]) -> None:
    """Called once by `engine` (which imports this module): the function `Tensor.backward` runs."""
    global _reverse_pass
    _reverse_pass = backward
