"""The op registry: every differentiable op, its forward and the vector-Jacobian
product (VJP) for each input, side by side, each VJP with the values it reads.

Forwards take and return numpy arrays (a tuple of arrays for an op with several
outputs). A VJP formula is written once and serves both backward paths: it
receives `F`, a namespace holding every registered op under its name, and the
gradient `g`, the inputs and the output. On the fast path `F` holds the raw
numpy forwards and the values are arrays, so no graph is built; under
`create_graph=True` `F` holds the recorded Tensor ops and the values are
Tensors, so the backward pass is itself differentiable. Operators (`g * y`,
`-g`, `x > 0`) work the same on both.

Formula signature: `grad(F, g, *inputs, out, **attrs)` returns the gradient of
one input (or None for "no gradient"). The engine reduces broadcast dimensions
and casts to the input's dtype centrally, so a formula may return a gradient in
the broadcast shape. For an op with several outputs, `g` and `out` are tuples
with one entry per output; `g[k]` is None where output k received no gradient
(always for integer outputs such as indices), and the formula supplies zeros
where it needs them.

What a formula reads is declared beside it: `reads("y", formula)` says that the
formula reads the values of input `y` (named as in the formula's parameters;
a `*name` parameter stands for all the inputs it collects) and nothing else;
"out" names the output(s). A graph node keeps only the values read by the
formulas of the inputs whose gradient is wanted; the other inputs become
`SavedShape` stand-ins (shape, dtype, ndim, size), and the output is None when
not read. Reading a value not declared fails when the node runs backward
without it, and `tests/test_ops_registry.py` runs every formula with every
undeclared value replaced by such a stand-in, so a wrong declaration fails a test.

`samples` lists input shapes (or constant arrays) that the test suite uses to
gradcheck, gradgradcheck and compare with PyTorch every op in this table;
`errors` lists bad inputs with the exception they must raise.
"""

import inspect
import itertools
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

OUT = "out"


class reads:
    """`reads("x y", formula)`: the VJP `formula` reads the values of the inputs named and of "out",
    nothing else (shapes and dtypes are always readable). For a variadic op, `names` may be a tuple:
    the declaration for input 0, 1, ...; the last one also covers every later input."""

    __slots__ = ("names", "formula")

    def __init__(self, names, formula):
        self.names = (names,) if isinstance(names, str) else tuple(names)
        self.formula = formula

    def for_input(self, index):
        return self.names[min(index, len(self.names) - 1)].split()


def _input_parameters(formula):
    """The formula's parameters after F and g: its positional names, and its `*name` (or None)."""
    positional, rest = [], None
    for p in list(inspect.signature(formula).parameters.values())[2:]:
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            positional.append(p.name)
        elif p.kind == p.VAR_POSITIONAL:
            rest = p.name
    return positional, rest


def _input_names(formula, n_inputs):
    """The name of each of `n_inputs` inputs in `formula`: positional parameters in order, then the
    `*name` parameter for all the rest."""
    positional, rest = _input_parameters(formula)
    names = positional[:n_inputs]
    return names + [rest] * (n_inputs - len(names))


class KeepPlan:
    """Which values a node keeps, for one combination of wanted input gradients."""

    __slots__ = ("kept", "dropped", "keeps_out")

    def __init__(self, kept, n_inputs, keeps_out):
        self.kept = tuple(sorted(kept))
        self.dropped = tuple(i for i in range(n_inputs) if i not in kept)
        self.keeps_out = keeps_out


class Op:
    """One differentiable operation: a row of the table (PyTorch's OpInfo plays the same part).

    Fields:
      name: the op's name, shown in errors and as the graph node's name (`grad_fn=<mul>`).
      forward: `forward(*arrays, **attrs)` -> array (a tuple of arrays when `multi_output`); the
        backend switch may replace it by a Numba kernel (`set_forward`).
      grads: the VJP formulas, one per input (None for an input that never gets a gradient, such as
        `where`'s condition), or for a variadic op one formula called with `index=i`.
      declared_reads: the `reads` declaration of each formula (one for a variadic op).
      fast_backward: None, or a fused kernel `fast_backward(g, inputs, out, attrs, needs)` -> grads
        that replaces the formulas on the fast path (the formulas stay the reference and serve
        create_graph); it receives the same `inputs` sequence, with SavedShape stand-ins for the
        values the node did not keep.
      is_view: the output shares the first input's memory (so they share one version counter).
      variadic: the op takes any number of inputs (`concatenate`, `stack`, `linear`).
      multi_output: the forward returns a tuple of arrays; one node records them all.
      samples: `Sample`s for the registry-driven tests (gradcheck, gradgradcheck, PyTorch parity).
      errors: `ErrorCase`s: bad inputs, the exception type they raise and a fragment of its message.
      domain: the interval sample inputs are drawn from (log and sqrt want positive values).
      twice_differentiable: False to skip gradgradcheck (a formula that is not differentiable itself).
      plans: cache of `KeepPlan`s, keyed by the wanted-inputs bit pattern `plan` takes.
    """

    __slots__ = (
        "name",
        "forward",
        "grads",
        "declared_reads",
        "fast_backward",
        "is_view",
        "variadic",
        "multi_output",
        "samples",
        "errors",
        "domain",
        "twice_differentiable",
        "plans",
    )

    def __init__(
        self,
        name,
        forward,
        vjps,
        is_view=False,
        variadic=False,
        multi_output=False,
        samples=(),
        errors=(),
        domain=(-2.0, 2.0),
        twice_differentiable=True,
    ):
        self.name = name
        self.forward = forward
        self.declared_reads = vjps
        self.grads = vjps[0].formula if variadic else tuple(v.formula if v else None for v in vjps)
        self.fast_backward = None
        self.is_view = is_view
        self.variadic = variadic
        self.multi_output = multi_output
        self.samples = samples
        self.errors = errors
        self.domain = domain
        self.twice_differentiable = twice_differentiable
        self.plans = {}
        if not variadic:
            for i, vjp in enumerate(vjps):
                if vjp is not None:
                    self.reads_of(i, len(vjps))  # a misspelt name fails at registration

    def reads_of(self, index, n_inputs=None):
        """(indices of the inputs, whether the output) that the formula of input `index` reads."""
        vjp = self.declared_reads[0] if self.variadic else self.declared_reads[index]
        n_inputs = len(self.declared_reads) if n_inputs is None else n_inputs
        if vjp is None:
            return frozenset(), False
        names = _input_names(vjp.formula, n_inputs)
        declared = vjp.for_input(index)
        positional, rest = _input_parameters(vjp.formula)
        parameters = (positional if self.variadic else names) + [rest, OUT]
        unknown = set(declared) - set(parameters)
        if unknown:
            raise ValueError(
                f"{self.name}: the VJP of input {index} declares that it reads {sorted(unknown)}, "
                f"which are not among its inputs {names} or 'out'"
            )
        return frozenset(i for i, name in enumerate(names) if name in declared), OUT in declared

    def plan(self, wanted):
        """The KeepPlan for `wanted`: a leading 1 bit, then one bit per input, 1 where its gradient
        is wanted (input 0 the most significant). Cached: `record` calls it for every node."""
        plan = self.plans.get(wanted)
        if plan is None:
            n_inputs = wanted.bit_length() - 1
            kept, keeps_out = set(), False
            for i in range(n_inputs):
                if wanted >> (n_inputs - 1 - i) & 1:
                    inputs, out = self.reads_of(i, n_inputs)
                    kept |= inputs
                    keeps_out |= out
            plan = self.plans[wanted] = KeepPlan(kept, n_inputs, keeps_out)
        return plan

    def backward(self, F, g, inputs, out, attrs, needs):
        """Gradients of every input; None where `needs[i]` is None (no gradient wanted)."""
        if self.fast_backward is not None:
            if F is ARRAY_F:
                return self.fast_backward(g, inputs, out, attrs, needs)
            if F.fast_backward_recorder is not None:  # an ag.compile trace keeps the fused VJP as one step
                recorded = F.fast_backward_recorder(self, g, inputs, out, attrs, needs)
                if recorded is not None:
                    return recorded
        grads = []
        if self.variadic:
            for i, need in enumerate(needs):
                grads.append(None if need is None else self.grads(F, g, *inputs, out=out, index=i, **attrs))
        else:  # a plain loop: a comprehension would cost an extra frame per node on the hot path
            for formula, need in zip(self.grads, needs):
                grads.append(None if need is None else formula(F, g, *inputs, out=out, **attrs))
        return grads

    def set_forward(self, fn):
        """Replace the forward (used by the backend switch); the fast-path namespace follows."""
        self.forward = fn
        setattr(ARRAY_F, self.name, fn)

    def __repr__(self):
        return f"Op({self.name})"


class Namespace:
    """Attribute bag: `F.exp(x)` etc. Filled from the registry. `fast_backward_recorder`, when set (by an
    `ag.compile` trace), receives the VJPs of ops that have a fused `fast_backward`."""

    fast_backward_recorder: Callable[..., Any] | None = None

    if TYPE_CHECKING:  # for type checkers: the attributes are the registry's ops, set at run time

        def __getattr__(self, name: str) -> Callable[..., Any]: ...


REGISTRY: dict[str, Op] = {}
ARRAY_F = Namespace()


def register(name, forward, *vjps, **options):
    """Add an op to the table: `register(name, forward, reads(...), ..., samples=...)`, one `reads`
    per input (None for an input without a gradient), or one for a variadic op."""
    op = Op(name, forward, vjps, **options)
    REGISTRY[name] = op
    setattr(ARRAY_F, name, forward)
    return op


class Sample:
    """Inputs for the registry-driven tests: shapes become random float inputs, arrays stay constants."""

    __slots__ = ("args", "attrs")

    def __init__(self, *args, **attrs):
        self.args = args
        self.attrs = attrs


class ErrorCase:
    """A bad input for the registry-driven error tests: `sample` must raise `exception` with a message
    containing `match`."""

    __slots__ = ("sample", "exception", "match")

    def __init__(self, sample, exception, match):
        self.sample, self.exception, self.match = sample, exception, match


S = Sample
BROADCAST_PAIRS = (S((3, 4), (3, 4)), S((3, 1), (4,)), S((), (2, 3)), S((2, 1, 3), (4, 1)), S((1,), ()))
UNARY = (S((3, 4)), S(()), S((2, 1, 3)))


# ---- helpers shared by several formulas -------------------------------------------------


def keepdims_shape(shape, axis):
    """`shape` with the reduced axes kept as size 1."""
    if axis is None:
        return (1,) * len(shape)
    return tuple(1 if i in axis else n for i, n in enumerate(shape))


def expand_reduced(F, g, shape, axis, keepdims):
    """Broadcast a reduction's gradient back to the input shape."""
    if not keepdims:
        g = F.reshape(g, shape=keepdims_shape(shape, axis))
    return F.broadcast_to(g, shape=shape)


def reduced_count(shape, axis):
    if axis is None:
        return math.prod(shape)
    return math.prod(shape[i] for i in axis)


def has_integer_array(index):
    """True if indexing with `index` can select an element twice (so scatter must accumulate)."""
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(p, np.ndarray) and p.dtype != np.bool_ for p in parts)


def along(axis, ndim, selector):
    """An index tuple that applies `selector` on `axis` and keeps every other axis whole."""
    return (slice(None),) * (axis % ndim) + (selector,)


# ---- forwards that are more than one numpy call --------------------------------------------


def sigmoid(x):
    # tanh form: exact identity, overflow-free for any x, one transcendental call; evaluated in one
    # buffer, so a large input costs one allocation instead of four.
    out = np.empty(np.shape(x), np.result_type(x, np.float32))
    np.multiply(x, 0.5, out=out)
    np.tanh(out, out=out)
    out += 1.0
    out *= 0.5
    return out


def softplus(x, beta, threshold):
    # log(1 + e^z) computed as logaddexp(0, z) never overflows; above threshold it is z to float precision.
    z = beta * x
    return np.where(z > threshold, x, np.logaddexp(0.0, z) / beta)


_erf_object = np.frompyfunc(math.erf, 1, 1)


def erf(x):
    # numpy has no erf; math.erf is exact, and the Numba backend provides the fast kernel.
    return np.asarray(_erf_object(x), dtype=np.result_type(x, np.float32))


SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
INV_SQRT_2 = 1.0 / math.sqrt(2.0)
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
GELU_TANH_C = 0.044715


def gelu(x):
    return 0.5 * x * (1.0 + erf(x * INV_SQRT_2))


def gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(SQRT_2_OVER_PI * (x + GELU_TANH_C * x * x * x)))


def logsumexp(x, axis, keepdims):
    peak = np.max(x, axis=axis, keepdims=True) if x.size else np.zeros(keepdims_shape(x.shape, axis), x.dtype)
    peak = np.where(np.isfinite(peak), peak, 0.0)  # all -inf rows stay -inf instead of nan
    out = np.log(np.sum(np.exp(x - peak), axis=axis, keepdims=True)) + peak
    return out if keepdims else np.reshape(out, np.sum(x, axis=axis).shape)


def softmax(x, axis):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax(x, axis):
    return x - logsumexp(x, (axis,), True)


def norm(x, p, axis, keepdims):
    if p == 2:
        return np.sqrt(np.sum(x * x, axis=axis, keepdims=keepdims))
    if p == 1:
        return np.sum(np.abs(x), axis=axis, keepdims=keepdims)
    return np.sum(np.abs(x) ** p, axis=axis, keepdims=keepdims) ** (1.0 / p)


def prod_of_others(x, axis):
    """For each element, the product of the other elements of its reduced slice (exact at zeros)."""
    if x.size == 0:
        return np.ones_like(x)
    axes = tuple(range(x.ndim)) if axis is None else axis
    kept = [i for i in range(x.ndim) if i not in axes]
    moved = np.transpose(x, kept + list(axes))
    flat = moved.reshape(moved.shape[: len(kept)] + (-1,))
    ones = np.ones(flat.shape[:-1] + (1,), x.dtype)
    before = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
    after = np.cumprod(np.concatenate([ones, flat[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    others = (before * after).reshape(moved.shape)
    return np.transpose(others, np.argsort(kept + list(axes)))


def scatter_add(g, index, shape):
    """Zeros of `shape` with `g` added at `index`; repeated integer indices accumulate."""
    out = np.zeros(shape, dtype=g.dtype)
    if has_integer_array(index):
        np.add.at(out, index, g)
    else:
        out[index] = g
    return out


def setitem(x, v, index):
    out = x.copy()
    out[index] = v
    return out


def unassigned_mask(shape, index):
    mask = np.ones(shape, dtype=bool)
    mask[index] = False
    return mask


def matmul_grad_x(F, g, x, y, **_):
    if y.ndim == 1:  # (..., m, k) @ (k,) -> (..., m)
        return F.reshape(g, shape=g.shape + (1,)) * y if x.ndim > 1 else g * y
    if x.ndim == 1:  # (k,) @ (..., k, n) -> (..., n)
        return F.reshape(F.matmul(y, F.reshape(g, shape=g.shape + (1,))), shape=g.shape[:-1] + y.shape[-2:-1])
    return F.matmul(g, F.swapaxes(y, axis1=-1, axis2=-2))


def matmul_grad_y(F, g, x, y, **_):
    if x.ndim == 1:  # (k,) @ (..., k, n): outer product per batch
        return (
            F.reshape(x, shape=x.shape + (1,)) * F.reshape(g, shape=g.shape[:-1] + (1,) + g.shape[-1:])
            if y.ndim > 1
            else g * x
        )
    if y.ndim == 1:  # (..., m, k) @ (k,)
        return F.reshape(
            F.matmul(F.swapaxes(x, axis1=-1, axis2=-2), F.reshape(g, shape=g.shape + (1,))),
            shape=g.shape[:-1] + x.shape[-1:],
        )
    return F.matmul(F.swapaxes(x, axis1=-1, axis2=-2), g)


def along_axis_index(indices, axis):
    """The index tuple that picks, along `axis`, the entries `indices` names (np.take_along_axis's,
    as a plain index so getitem and scatter_add can use it)."""
    index = []
    for d, n in enumerate(indices.shape):
        index.append(indices if d == axis else np.arange(n).reshape((n,) + (1,) * (indices.ndim - d - 1)))
    return tuple(index)


def extreme_along(arg_pick, x, axis, keepdims):
    """(values, indices) of the max or min along one axis (`arg_pick` is np.argmax or np.argmin)."""
    indices = np.expand_dims(arg_pick(x, axis=axis), axis)
    values = np.take_along_axis(x, indices, axis)
    if not keepdims:
        return np.squeeze(values, axis), np.squeeze(indices, axis)
    return values, indices


def sort(x, axis, descending):
    indices = np.argsort(-x if descending else x, axis=axis, kind="stable")
    return np.take_along_axis(x, indices, axis), indices


def topk(x, k, axis, largest):
    indices = np.take(np.argsort(-x if largest else x, axis=axis, kind="stable"), np.arange(k), axis=axis)
    return np.take_along_axis(x, indices, axis), indices


def picked_grad(F, g, x, out, axis, keepdims):
    """The VJP of (values, indices) outputs whose values were picked from x at `indices` along `axis`:
    the values' gradient goes back to the picked positions (max(dim), sort, topk)."""
    values_grad, indices = g[0], np.asarray(out[1])
    if not keepdims:
        values_grad = F.reshape(values_grad, shape=values_grad.shape[:axis] + (1,) + values_grad.shape[axis:])
        indices = np.expand_dims(indices, axis)
    return F.scatter_add(values_grad, index=along_axis_index(indices, axis), shape=x.shape)


def extreme_grad(F, g, x, out, axis, keepdims):
    """Max/min: the gradient goes to the elements equal to the extreme, split evenly among ties."""
    winners = x == expand_reduced(F, out, x.shape, axis, keepdims)
    ties = F.sum(winners, axis=axis, keepdims=True)
    return expand_reduced(F, g, x.shape, axis, keepdims) * winners / ties


def norm_grad(F, g, x, out, p, axis, keepdims):
    g_full = expand_reduced(F, g, x.shape, axis, keepdims)
    n_full = expand_reduced(F, out, x.shape, axis, keepdims)
    if p == 1:
        return g_full * F.sign(x)
    safe = F.where(n_full == 0, 1.0, n_full)  # the zero vector gets the zero subgradient, as in PyTorch
    if p == 2:
        return F.where(n_full == 0, 0.0, g_full * x / safe)
    return F.where(n_full == 0, 0.0, g_full * F.sign(x) * F.abs(x) ** (p - 1) / safe ** (p - 1))


def pow_grad_base(F, g, x, y, **_):
    # d(x^y)/dx = y x^(y-1); PyTorch's convention: 0 wherever y == 0 (even at x == 0, where 0 * inf would be
    # nan). The exponent is made safe there too, so no nan reaches the second derivative either.
    if isinstance(y, (int, float)):  # a Python exponent (`x ** 2`): no masks needed
        return g * 0.0 if y == 0 else g * y * x ** (y - 1)
    zero_exponent = y == 0
    return F.where(zero_exponent, 0.0, g * y * x ** F.where(zero_exponent, 1.0, y - 1))


def pow_grad_exponent(F, g, x, y, out):
    # d(x^y)/dy = x^y log x. At x == 0, as PyTorch: 0 for y >= 0, and (x^y = inf) * (log 0 = -inf) = -inf
    # for y < 0. log x is taken of a safe base and the log of 0 put in as a constant, so that 0 * -inf
    # never appears (the second derivative stays finite where the first is).
    zero_base = x == 0
    log_base = F.where(zero_base, F.where(y >= 0, 0.0, -np.inf), F.log(F.where(zero_base, 1.0, x)))
    return g * out * log_base


def _gelu_tanh_derivative(F, x):
    t = F.tanh(SQRT_2_OVER_PI * (x + GELU_TANH_C * x * x * x))
    return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_TANH_C * x * x)


def _inside(x, low, high):
    """Where clip passes the gradient: low <= x <= high (bounds inclusive, as PyTorch)."""
    if low is None:
        return x <= high
    if high is None:
        return x >= low
    return (x >= low) & (x <= high)


# ---- the table --------------------------------------------------------------------------------
# reads(...) beside each formula names the values it reads (see the module docstring).

register(
    "add",
    np.add,
    reads("", lambda F, g, x, y, **_: g),
    reads("", lambda F, g, x, y, **_: g),
    samples=BROADCAST_PAIRS,
    errors=(ErrorCase(S((2, 3), (4,)), ValueError, "add: shapes (2, 3) and (4,) cannot be broadcast"),),
)
register(
    "sub",
    np.subtract,
    reads("", lambda F, g, x, y, **_: g),
    reads("", lambda F, g, x, y, **_: -g),
    samples=BROADCAST_PAIRS,
)
register(
    "mul",
    np.multiply,
    reads("y", lambda F, g, x, y, **_: g * y),
    reads("x", lambda F, g, x, y, **_: g * x),
    samples=BROADCAST_PAIRS,
    errors=(ErrorCase(S((3,), (2, 2)), ValueError, "mul: shapes (3,) and (2, 2) cannot be broadcast"),),
)
register(
    "div",
    np.true_divide,
    reads("y", lambda F, g, x, y, **_: g / y),
    reads("y out", lambda F, g, x, y, out: -g * out / y),
    samples=BROADCAST_PAIRS,
    domain=(0.5, 2.0),
)
register(
    "pow",
    np.power,
    reads("x y", pow_grad_base),
    reads("x y out", pow_grad_exponent),
    samples=BROADCAST_PAIRS + (S((3,), np.array(2.0)), S((2, 3), np.array(-1.5))),
    domain=(0.5, 2.0),
)
register(
    "maximum",
    np.maximum,
    reads("x y", lambda F, g, x, y, **_: g * F.where(x == y, 0.5, x > y)),
    reads("x y", lambda F, g, x, y, **_: g * F.where(x == y, 0.5, y > x)),
    samples=BROADCAST_PAIRS,
)
register(
    "minimum",
    np.minimum,
    reads("x y", lambda F, g, x, y, **_: g * F.where(x == y, 0.5, x < y)),
    reads("x y", lambda F, g, x, y, **_: g * F.where(x == y, 0.5, y < x)),
    samples=BROADCAST_PAIRS,
)
register(
    "where",
    np.where,
    None,
    reads("c", lambda F, g, c, x, y, **_: F.where(c, g, 0.0)),
    reads("c", lambda F, g, c, x, y, **_: F.where(c, 0.0, g)),
    samples=(S(np.array([True, False, True]), (3,), (3,)), S(np.array([[True], [False]]), (2, 3), ())),
)
register(
    "matmul",
    np.matmul,
    reads("y", matmul_grad_x),
    reads("x", matmul_grad_y),
    samples=(
        S((3, 4), (4, 2)),
        S((4,), (4,)),
        S((4,), (4, 3)),
        S((3, 4), (4,)),
        S((2, 3, 4), (4, 5)),
        S((2, 1, 3, 4), (5, 4, 2)),
        S((4,), (2, 4, 3)),
        S((2, 3, 4), (4,)),
    ),
    errors=(ErrorCase(S((2, 3, 4), (5, 4, 2)), ValueError, "matmul: shapes (2, 3, 4) and (5, 4, 2)"),),
)

register("neg", np.negative, reads("", lambda F, g, x, **_: -g), samples=UNARY)
register("exp", np.exp, reads("out", lambda F, g, x, out: g * out), samples=UNARY)
register("log", np.log, reads("x", lambda F, g, x, **_: g / x), samples=UNARY, domain=(0.5, 2.0))
register("log1p", np.log1p, reads("x", lambda F, g, x, **_: g / (x + 1.0)), samples=UNARY, domain=(-0.5, 2.0))
register("expm1", np.expm1, reads("out", lambda F, g, x, out: g * (out + 1.0)), samples=UNARY)
register("sqrt", np.sqrt, reads("out", lambda F, g, x, out: g / (2.0 * out)), samples=UNARY, domain=(0.5, 2.0))
register("abs", np.abs, reads("x", lambda F, g, x, **_: g * F.sign(x)), samples=UNARY)
register("sign", np.sign, reads("", lambda F, g, x, **_: g * 0.0), samples=UNARY)
register("sin", np.sin, reads("x", lambda F, g, x, **_: g * F.cos(x)), samples=UNARY)
register("cos", np.cos, reads("x", lambda F, g, x, **_: -g * F.sin(x)), samples=UNARY)
register("tanh", np.tanh, reads("out", lambda F, g, x, out: g * (1.0 - out * out)), samples=UNARY)
register("sigmoid", sigmoid, reads("out", lambda F, g, x, out: g * out * (1.0 - out)), samples=UNARY)
register("relu", lambda x: np.maximum(x, 0.0), reads("out", lambda F, g, x, out: g * (out > 0)), samples=UNARY)
register(
    "leaky_relu",
    lambda x, negative_slope: np.where(x > 0, x, x * negative_slope),
    reads("x", lambda F, g, x, out, negative_slope: g * F.where(x > 0, 1.0, negative_slope)),
    samples=(S((3, 4), negative_slope=0.01), S((), negative_slope=0.2)),
)
register(
    "elu",
    lambda x, alpha: np.where(x > 0, x, alpha * np.expm1(x)),
    reads("x out", lambda F, g, x, out, alpha: g * F.where(x > 0, 1.0, out + alpha)),
    samples=(S((3, 4), alpha=1.0), S((), alpha=0.5)),
)
register(
    "softplus",
    softplus,
    reads("x", lambda F, g, x, out, beta, threshold: g * F.where(x * beta > threshold, 1.0, F.sigmoid(x * beta))),
    samples=(S((3, 4), beta=1.0, threshold=20.0), S((5,), beta=2.0, threshold=1.0)),
)
register(
    "silu",
    lambda x: x * sigmoid(x),
    reads("x", lambda F, g, x, **_: g * (F.sigmoid(x) * (1.0 + x * (1.0 - F.sigmoid(x))))),
    samples=UNARY,
)
register("erf", erf, reads("x", lambda F, g, x, **_: g * (2.0 / math.sqrt(math.pi)) * F.exp(-x * x)), samples=UNARY)
register(
    "gelu",
    gelu,
    reads("x", lambda F, g, x, **_: g * (0.5 * (1.0 + F.erf(x * INV_SQRT_2)) + x * INV_SQRT_2PI * F.exp(-0.5 * x * x))),
    samples=UNARY,
)
register("gelu_tanh", gelu_tanh, reads("x", lambda F, g, x, **_: g * _gelu_tanh_derivative(F, x)), samples=UNARY)
register(
    "clip",
    lambda x, min, max: np.clip(x, min, max),
    reads("x", lambda F, g, x, min, max, **_: g * _inside(x, min, max)),
    samples=(S((3, 4), min=-0.5, max=0.5), S((5,), min=None, max=0.3), S((), min=-1.0, max=None)),
)


REDUCE = (
    S((3, 4), axis=None, keepdims=False),
    S((3, 4), axis=(1,), keepdims=False),
    S((2, 3, 4), axis=(0, 2), keepdims=True),
    S((), axis=None, keepdims=False),
)
ALONG = (S((3, 4), axis=1, keepdims=False), S((3, 4), axis=0, keepdims=True), S((2, 3, 4), axis=2, keepdims=False))

register(
    "sum",
    lambda x, axis, keepdims: np.sum(x, axis=axis, keepdims=keepdims),
    reads("", lambda F, g, x, out, axis, keepdims: expand_reduced(F, g, x.shape, axis, keepdims)),
    samples=REDUCE,
)
register(
    "mean",
    lambda x, axis, keepdims: np.mean(x, axis=axis, keepdims=keepdims),
    reads(
        "",
        lambda F, g, x, out, axis, keepdims: (
            expand_reduced(F, g, x.shape, axis, keepdims) / reduced_count(x.shape, axis)
        ),
    ),
    samples=REDUCE,
)


def variance(x, axis, correction, keepdims, root):
    """PyTorch's var/std: the sum of squared deviations over max(N - correction, 0) (nan or inf when
    that is 0, without numpy's warnings)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.var(x, axis=axis, ddof=correction, keepdims=keepdims)
        return np.sqrt(out) if root else out


def per_degree_of_freedom(shape, axis, correction):
    """1 / max(N - correction, 0), infinite at 0 (PyTorch's gradient there is inf or nan, never an error)."""
    degrees = reduced_count(shape, axis) - correction
    return 1.0 / degrees if degrees > 0 else math.inf


register(
    "var",
    lambda x, axis, correction, keepdims: variance(x, axis, correction, keepdims, root=False),
    reads(
        "x",
        lambda F, g, x, out, axis, correction, keepdims: (
            expand_reduced(F, g, x.shape, axis, keepdims)
            * (2.0 * per_degree_of_freedom(x.shape, axis, correction))
            * (x - F.mean(x, axis=axis, keepdims=True))
        ),
    ),
    samples=(
        S((3, 4), axis=None, correction=1, keepdims=False),
        S((3, 4), axis=(1,), correction=0, keepdims=True),
        S((2, 5), axis=(1,), correction=2, keepdims=False),
    ),
)
register(
    "std",
    lambda x, axis, correction, keepdims: variance(x, axis, correction, keepdims, root=True),
    reads(
        "x out",
        lambda F, g, x, out, axis, correction, keepdims: (
            # where the deviation is zero (a constant slice) PyTorch's gradient is 0, not 0/0
            expand_reduced(F, g / F.where(out == 0, math.inf, out), x.shape, axis, keepdims)
            * per_degree_of_freedom(x.shape, axis, correction)
            * (x - F.mean(x, axis=axis, keepdims=True))
        ),
    ),
    samples=(
        S((3, 4), axis=None, correction=1, keepdims=False),
        S((3, 4), axis=(0,), correction=0, keepdims=False),
    ),
)
register(
    "max",
    lambda x, axis, keepdims: np.max(x, axis=axis, keepdims=keepdims),
    reads("x out", extreme_grad),
    samples=REDUCE,
)
register(
    "min",
    lambda x, axis, keepdims: np.min(x, axis=axis, keepdims=keepdims),
    reads("x out", extreme_grad),
    samples=REDUCE,
)
register(
    "max_dim",
    lambda x, axis, keepdims: extreme_along(np.argmax, x, axis, keepdims),
    reads("out", picked_grad),
    multi_output=True,
    samples=ALONG,
)
register(
    "min_dim",
    lambda x, axis, keepdims: extreme_along(np.argmin, x, axis, keepdims),
    reads("out", picked_grad),
    multi_output=True,
    samples=ALONG,
)
register(
    "sort",
    sort,
    reads("out", lambda F, g, x, out, axis, descending: picked_grad(F, g, x, out, axis, True)),
    multi_output=True,
    samples=(S((3, 4), axis=1, descending=False), S((3, 4), axis=0, descending=True), S((5,), axis=0, descending=True)),
)
register(
    "topk",
    topk,
    reads("out", lambda F, g, x, out, k, axis, largest: picked_grad(F, g, x, out, axis, True)),
    multi_output=True,
    samples=(
        S((3, 5), k=2, axis=1, largest=True),
        S((4, 3), k=3, axis=0, largest=False),
        S((6,), k=1, axis=0, largest=True),
    ),
)
register(
    "prod",
    lambda x, axis, keepdims: np.prod(x, axis=axis, keepdims=keepdims),
    # exact at zeros; under create_graph the product of the others is treated as a constant there
    reads(
        "x out",
        lambda F, g, x, out, axis, keepdims: (
            expand_reduced(F, g, x.shape, axis, keepdims)
            * F.where(
                x == 0,
                prod_of_others(np.asarray(x), axis),
                expand_reduced(F, out, x.shape, axis, keepdims) / F.where(x == 0, 1.0, x),
            )
        ),
    ),
    samples=REDUCE,
    domain=(0.5, 1.5),
)
register(
    "logsumexp",
    logsumexp,
    reads(
        "x out",
        lambda F, g, x, out, axis, keepdims: (
            expand_reduced(F, g, x.shape, axis, keepdims) * F.exp(x - expand_reduced(F, out, x.shape, axis, keepdims))
        ),
    ),
    samples=REDUCE,
)
register(
    "norm",
    norm,
    reads("x out", norm_grad),
    samples=(
        S((3, 4), p=2, axis=None, keepdims=False),
        S((3, 4), p=1, axis=(1,), keepdims=False),
        S((2, 3), p=3.0, axis=(0,), keepdims=True),
    ),
)
register(
    "softmax",
    softmax,
    reads("out", lambda F, g, x, out, axis: out * (g - F.sum(g * out, axis=(axis,), keepdims=True))),
    samples=(S((3, 4), axis=1), S((2, 3, 4), axis=0)),
)
register(
    "log_softmax",
    log_softmax,
    reads("out", lambda F, g, x, out, axis: g - F.exp(out) * F.sum(g, axis=(axis,), keepdims=True)),
    samples=(S((3, 4), axis=1), S((2, 3, 4), axis=0)),
)

register(
    "reshape",
    lambda x, shape: np.reshape(x, shape),
    reads("", lambda F, g, x, out, shape: F.reshape(g, shape=x.shape)),
    is_view=True,
    samples=(S((3, 4), shape=(2, 6)), S((), shape=(1, 1)), S((4,), shape=(2, 2))),
    errors=(ErrorCase(S((3, 4), shape=(5, 2)), ValueError, "reshape: invalid input (shape (3, 4)): cannot reshape"),),
)
register(
    "transpose",
    lambda x, axes: np.transpose(x, axes),
    reads("", lambda F, g, x, out, axes: F.transpose(g, axes=tuple(np.argsort(axes)))),
    is_view=True,
    samples=(S((3, 4), axes=(1, 0)), S((2, 3, 4), axes=(2, 0, 1))),
)
register(
    "swapaxes",
    lambda x, axis1, axis2: np.swapaxes(x, axis1, axis2),
    reads("", lambda F, g, x, out, axis1, axis2: F.swapaxes(g, axis1=axis1, axis2=axis2)),
    is_view=True,
    samples=(S((2, 3, 4), axis1=-1, axis2=-2),),
)
register(
    "broadcast_to",
    lambda x, shape: np.broadcast_to(x, shape),
    reads("", lambda F, g, x, out, shape: g),  # the engine's unbroadcast sums the copies
    is_view=True,
    samples=(S((3, 1), shape=(2, 3, 4)), S((), shape=(2,))),
)
register(
    "getitem",
    lambda x, index: x[index],
    reads("", lambda F, g, x, out, index: F.scatter_add(g, index=index, shape=x.shape)),
    is_view=True,
    samples=(
        S((4, 5), index=(slice(1, 3), 2)),
        S((4, 5), index=(np.array([0, 2, 0]),)),
        S((4, 5), index=(np.array([[True, False, True, False, True]] * 4),)),
        S((3, 4), index=(Ellipsis, None, slice(None, None, -2))),
        S((5,), index=(np.array([1, 1, 1]),)),
    ),
    errors=(ErrorCase(S((4, 5), index=(7,)), IndexError, "getitem"),),
)
register(
    "scatter_add",
    scatter_add,
    reads("", lambda F, g, src, out, index, shape: F.getitem(g, index=index)),
    samples=(S((3,), index=(np.array([0, 2, 0]),), shape=(4,)), S((2, 3), index=(slice(1, 3),), shape=(4, 3))),
)
register(
    "setitem",
    setitem,
    reads("", lambda F, g, x, v, out, index: F.where(unassigned_mask(x.shape, index), g, 0.0)),
    reads("", lambda F, g, x, v, out, index: F.getitem(g, index=index)),
    samples=(S((4, 3), (3,), index=(slice(0, 2),)), S((5,), (), index=(np.array([1, 3]),))),
)
register(
    "concatenate",
    lambda *xs, axis: np.concatenate(xs, axis=axis),
    reads(
        "",
        lambda F, g, *xs, out, axis, index: F.getitem(
            g,
            index=along(
                axis, g.ndim, slice(sum(x.shape[axis] for x in xs[:index]), sum(x.shape[axis] for x in xs[: index + 1]))
            ),
        ),
    ),
    variadic=True,
    samples=(S((2, 3), (4, 3), axis=0), S((2, 3), (2, 1), (2, 2), axis=1)),
)
register(
    "stack",
    lambda *xs, axis: np.stack(xs, axis=axis),
    reads("", lambda F, g, *xs, out, axis, index: F.getitem(g, index=along(axis, g.ndim, index))),
    variadic=True,
    samples=(S((2, 3), (2, 3), axis=0), S((), (), (), axis=0), S((3,), (3,), axis=-1)),
)
register(
    "split",
    lambda x, axis, bounds: tuple(x[along(axis, x.ndim, slice(a, b))] for a, b in itertools.pairwise(bounds)),
    reads(
        "",
        lambda F, g, x, out, axis, bounds: F.concatenate(
            *(
                part if part is not None else np.zeros(x.shape[:axis] + (b - a,) + x.shape[axis + 1 :], x.dtype)
                for part, a, b in zip(g, bounds, bounds[1:])
            ),
            axis=axis,
        ),
    ),
    is_view=True,
    multi_output=True,
    samples=(
        S((5, 3), axis=0, bounds=(0, 2, 4, 5)),
        S((2, 6), axis=1, bounds=(0, 3, 6)),
        S((4,), axis=0, bounds=(0, 4)),
    ),
)
register(
    "unbind",
    lambda x, axis: tuple(x[along(axis, x.ndim, i)] for i in range(x.shape[axis])),
    reads(
        "",
        lambda F, g, x, out, axis: F.stack(
            *(part if part is not None else np.zeros(x.shape[:axis] + x.shape[axis + 1 :], x.dtype) for part in g),
            axis=axis,
        ),
    ),
    is_view=True,
    multi_output=True,
    samples=(S((3, 2), axis=0), S((2, 3, 2), axis=1)),
)
register(
    "pad",
    lambda x, pad_width, value: np.pad(x, pad_width, constant_values=value),
    reads(
        "",
        lambda F, g, x, out, pad_width, value: F.getitem(
            g, index=tuple(slice(before, g.shape[i] - after) for i, (before, after) in enumerate(pad_width))
        ),
    ),
    samples=(S((2, 3), pad_width=((1, 0), (2, 1)), value=0.0),),
)
register(
    "astype",
    lambda x, dtype: x.astype(dtype),
    reads("", lambda F, g, x, out, dtype: g),  # the engine casts g back
    samples=(S((3,), dtype=np.float64),),
)
register("clone", np.copy, reads("", lambda F, g, x, **_: g), samples=UNARY)
register(
    "fill",
    lambda x, value: np.full_like(x, value),
    reads("", lambda F, g, x, out, value: None),
    samples=(S((3,), value=2.0),),
)
register(
    "copy",
    lambda x, src: np.broadcast_to(src, x.shape).astype(x.dtype),
    reads("", lambda F, g, x, src, **_: None),
    reads("", lambda F, g, x, src, **_: g),
    samples=(S((2, 3), (3,)),),
)
