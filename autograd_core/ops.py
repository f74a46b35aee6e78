"""The op registry: every differentiable op, its forward and the vector-Jacobian
product (VJP) for each input, side by side.

Forwards take and return numpy arrays. A VJP formula is written once and serves
both backward paths: it receives `F`, a namespace holding every registered op
under its name, and the gradient `g`, the inputs and the output. On the fast
path `F` holds the raw numpy forwards and the values are arrays, so no graph is
built; under `create_graph=True` `F` holds the recorded Tensor ops and the
values are Tensors, so the backward pass is itself differentiable. Operators
(`g * y`, `-g`, `x > 0`) work the same on both.

Formula signature: `grad(F, g, *inputs, out, **attrs)` returns the gradient of
one input (or None for "no gradient"). The engine reduces broadcast dimensions
and casts to the input's dtype centrally, so a formula may return a gradient in
the broadcast shape.

`samples` lists input shapes (or constant arrays) that the test suite uses to
gradcheck, gradgradcheck and compare with PyTorch every op in this table.
"""
import math

import numpy as np


class Op:
    """One differentiable operation."""

    __slots__ = ("name", "forward", "grads", "fast_backward", "uses_input_values", "saves_output",
                 "is_view", "variadic", "samples", "domain", "twice_differentiable")

    def __init__(self, name, forward, grads, uses_input_values=True, saves_output=False,
                 is_view=False, variadic=False, samples=(), domain=(-2.0, 2.0),
                 twice_differentiable=True):
        self.name = name
        self.forward = forward
        self.grads = grads
        # Optional fused kernel for the fast path: fast_backward(g, inputs, out, attrs, needs) -> grads.
        # The formulas stay the reference and serve create_graph.
        self.fast_backward = None
        # False when the VJP needs only input shapes: in-place edits of the inputs are then harmless.
        self.uses_input_values = uses_input_values
        self.saves_output = saves_output
        self.is_view = is_view
        self.variadic = variadic
        self.samples = samples
        self.domain = domain
        self.twice_differentiable = twice_differentiable

    def backward(self, F, g, inputs, out, attrs, needs):
        """Gradients of every input; None where `needs[i]` is None (no gradient wanted)."""
        if F is ARRAY_F and self.fast_backward is not None:
            return self.fast_backward(g, inputs, out, attrs, needs)
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
    """Attribute bag: `F.exp(x)` etc. Filled from the registry."""


REGISTRY = {}
ARRAY_F = Namespace()


def register(name, forward, *grads, **options):
    op = Op(name, forward, grads if not options.get("variadic") else grads[0], **options)
    REGISTRY[name] = op
    setattr(ARRAY_F, name, forward)
    return op


class Sample:
    """Inputs for the registry-driven tests: shapes become random float inputs, arrays stay constants."""

    __slots__ = ("args", "attrs")

    def __init__(self, *args, **attrs):
        self.args = args
        self.attrs = attrs


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
    axes = tuple(range(x.ndim)) if axis is None else axis
    kept = [i for i in range(x.ndim) if i not in axes]
    moved = np.transpose(x, kept + list(axes))
    flat = moved.reshape(moved.shape[:len(kept)] + (-1,))
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
        return F.reshape(x, shape=x.shape + (1,)) * F.reshape(g, shape=g.shape[:-1] + (1,) + g.shape[-1:]) \
            if y.ndim > 1 else g * x
    if y.ndim == 1:  # (..., m, k) @ (k,)
        return F.reshape(F.matmul(F.swapaxes(x, axis1=-1, axis2=-2), F.reshape(g, shape=g.shape + (1,))),
                         shape=g.shape[:-1] + x.shape[-1:])
    return F.matmul(F.swapaxes(x, axis1=-1, axis2=-2), g)


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


def pow_grad_exponent(F, g, x, y, out):
    # d(x^y)/dy = x^y log x; PyTorch's convention: 0 where x == 0 and y >= 0.
    zero_base = x == 0
    return F.where(zero_base & (y >= 0), 0.0, g * out * F.log(F.where(zero_base, 1.0, x)))


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

register("add", np.add, lambda F, g, x, y, **_: g, lambda F, g, x, y, **_: g,
         uses_input_values=False, samples=BROADCAST_PAIRS)
register("sub", np.subtract, lambda F, g, x, y, **_: g, lambda F, g, x, y, **_: -g,
         uses_input_values=False, samples=BROADCAST_PAIRS)
register("mul", np.multiply, lambda F, g, x, y, **_: g * y, lambda F, g, x, y, **_: g * x,
         samples=BROADCAST_PAIRS)
register("div", np.true_divide, lambda F, g, x, y, **_: g / y, lambda F, g, x, y, out: -g * out / y,
         saves_output=True, samples=BROADCAST_PAIRS, domain=(0.5, 2.0))
register("pow", np.power, lambda F, g, x, y, **_: g * y * x ** (y - 1), lambda F, g, x, y, out: pow_grad_exponent(F, g, x, y, out),
         saves_output=True, samples=BROADCAST_PAIRS + (S((3,), np.array(2.0)), S((2, 3), np.array(-1.5))),
         domain=(0.5, 2.0))
register("maximum", np.maximum,
         lambda F, g, x, y, **_: g * F.where(x == y, 0.5, x > y),
         lambda F, g, x, y, **_: g * F.where(x == y, 0.5, y > x), samples=BROADCAST_PAIRS)
register("minimum", np.minimum,
         lambda F, g, x, y, **_: g * F.where(x == y, 0.5, x < y),
         lambda F, g, x, y, **_: g * F.where(x == y, 0.5, y < x), samples=BROADCAST_PAIRS)
register("where", np.where, None,
         lambda F, g, c, x, y, **_: F.where(c, g, 0.0), lambda F, g, c, x, y, **_: F.where(c, 0.0, g),
         samples=(S(np.array([True, False, True]), (3,), (3,)), S(np.array([[True], [False]]), (2, 3), ())))
register("matmul", np.matmul, matmul_grad_x, matmul_grad_y,
         samples=(S((3, 4), (4, 2)), S((4,), (4,)), S((4,), (4, 3)), S((3, 4), (4,)), S((2, 3, 4), (4, 5)),
                  S((2, 1, 3, 4), (5, 4, 2)), S((4,), (2, 4, 3)), S((2, 3, 4), (4,))))

register("neg", np.negative, lambda F, g, x, **_: -g, uses_input_values=False, samples=UNARY)
register("exp", np.exp, lambda F, g, x, out: g * out, uses_input_values=False, saves_output=True, samples=UNARY)
register("log", np.log, lambda F, g, x, **_: g / x, samples=UNARY, domain=(0.5, 2.0))
register("log1p", np.log1p, lambda F, g, x, **_: g / (x + 1.0), samples=UNARY, domain=(-0.5, 2.0))
register("expm1", np.expm1, lambda F, g, x, out: g * (out + 1.0), uses_input_values=False, saves_output=True, samples=UNARY)
register("sqrt", np.sqrt, lambda F, g, x, out: g / (2.0 * out), uses_input_values=False, saves_output=True,
         samples=UNARY, domain=(0.5, 2.0))
register("abs", np.abs, lambda F, g, x, **_: g * F.sign(x), samples=UNARY)
register("sign", np.sign, lambda F, g, x, **_: g * 0.0, uses_input_values=False, samples=UNARY)
register("sin", np.sin, lambda F, g, x, **_: g * F.cos(x), samples=UNARY)
register("cos", np.cos, lambda F, g, x, **_: -g * F.sin(x), samples=UNARY)
register("tanh", np.tanh, lambda F, g, x, out: g * (1.0 - out * out), uses_input_values=False, saves_output=True,
         samples=UNARY)
register("sigmoid", sigmoid, lambda F, g, x, out: g * out * (1.0 - out), uses_input_values=False, saves_output=True,
         samples=UNARY)
register("relu", lambda x: np.maximum(x, 0.0), lambda F, g, x, out: g * (out > 0), uses_input_values=False,
         saves_output=True, samples=UNARY)
register("leaky_relu", lambda x, negative_slope: np.where(x > 0, x, x * negative_slope),
         lambda F, g, x, out, negative_slope: g * F.where(x > 0, 1.0, negative_slope),
         samples=(S((3, 4), negative_slope=0.01), S((), negative_slope=0.2)))
register("elu", lambda x, alpha: np.where(x > 0, x, alpha * np.expm1(x)),
         lambda F, g, x, out, alpha: g * F.where(x > 0, 1.0, out + alpha), saves_output=True,
         samples=(S((3, 4), alpha=1.0), S((), alpha=0.5)))
register("softplus", softplus,
         lambda F, g, x, out, beta, threshold: g * F.where(x * beta > threshold, 1.0, F.sigmoid(x * beta)),
         samples=(S((3, 4), beta=1.0, threshold=20.0), S((5,), beta=2.0, threshold=1.0)))
register("silu", lambda x: x * sigmoid(x),
         lambda F, g, x, **_: g * (F.sigmoid(x) * (1.0 + x * (1.0 - F.sigmoid(x)))), samples=UNARY)
register("erf", erf, lambda F, g, x, **_: g * (2.0 / math.sqrt(math.pi)) * F.exp(-x * x), samples=UNARY)
register("gelu", gelu,
         lambda F, g, x, **_: g * (0.5 * (1.0 + F.erf(x * INV_SQRT_2)) + x * INV_SQRT_2PI * F.exp(-0.5 * x * x)),
         samples=UNARY)
register("gelu_tanh", gelu_tanh,
         lambda F, g, x, **_: g * _gelu_tanh_derivative(F, x), samples=UNARY)
register("clip", lambda x, min, max: np.clip(x, min, max),
         lambda F, g, x, min, max, **_: g * _inside(x, min, max),
         samples=(S((3, 4), min=-0.5, max=0.5), S((5,), min=None, max=0.3), S((), min=-1.0, max=None)))


REDUCE = (S((3, 4), axis=None, keepdims=False), S((3, 4), axis=(1,), keepdims=False),
          S((2, 3, 4), axis=(0, 2), keepdims=True), S((), axis=None, keepdims=False))

register("sum", lambda x, axis, keepdims: np.sum(x, axis=axis, keepdims=keepdims),
         lambda F, g, x, out, axis, keepdims: expand_reduced(F, g, x.shape, axis, keepdims),
         uses_input_values=False, samples=REDUCE)
register("mean", lambda x, axis, keepdims: np.mean(x, axis=axis, keepdims=keepdims),
         lambda F, g, x, out, axis, keepdims: expand_reduced(F, g, x.shape, axis, keepdims) / reduced_count(x.shape, axis),
         uses_input_values=False, samples=REDUCE)
register("var", lambda x, axis, ddof, keepdims: np.var(x, axis=axis, ddof=ddof, keepdims=keepdims),
         lambda F, g, x, out, axis, ddof, keepdims: expand_reduced(F, g, x.shape, axis, keepdims)
         * (2.0 / (reduced_count(x.shape, axis) - ddof)) * (x - F.mean(x, axis=axis, keepdims=True)),
         samples=(S((3, 4), axis=None, ddof=0, keepdims=False), S((3, 4), axis=(1,), ddof=1, keepdims=True)))
register("std", lambda x, axis, ddof, keepdims: np.std(x, axis=axis, ddof=ddof, keepdims=keepdims),
         lambda F, g, x, out, axis, ddof, keepdims: expand_reduced(F, g / out, x.shape, axis, keepdims)
         * (1.0 / (reduced_count(x.shape, axis) - ddof)) * (x - F.mean(x, axis=axis, keepdims=True)),
         saves_output=True,
         samples=(S((3, 4), axis=None, ddof=0, keepdims=False), S((3, 4), axis=(0,), ddof=1, keepdims=False)))
register("max", lambda x, axis, keepdims: np.max(x, axis=axis, keepdims=keepdims), extreme_grad,
         saves_output=True, samples=REDUCE)
register("min", lambda x, axis, keepdims: np.min(x, axis=axis, keepdims=keepdims), extreme_grad,
         saves_output=True, samples=REDUCE)
register("prod", lambda x, axis, keepdims: np.prod(x, axis=axis, keepdims=keepdims),
         # exact at zeros; under create_graph the product of the others is treated as a constant there
         lambda F, g, x, out, axis, keepdims: expand_reduced(F, g, x.shape, axis, keepdims)
         * F.where(x == 0, prod_of_others(np.asarray(x), axis), expand_reduced(F, out, x.shape, axis, keepdims) / F.where(x == 0, 1.0, x)),
         saves_output=True, samples=REDUCE, domain=(0.5, 1.5))
register("logsumexp", logsumexp,
         lambda F, g, x, out, axis, keepdims: expand_reduced(F, g, x.shape, axis, keepdims)
         * F.exp(x - expand_reduced(F, out, x.shape, axis, keepdims)),
         saves_output=True, samples=REDUCE)
register("norm", norm, norm_grad, saves_output=True,
         samples=(S((3, 4), p=2, axis=None, keepdims=False), S((3, 4), p=1, axis=(1,), keepdims=False),
                  S((2, 3), p=3.0, axis=(0,), keepdims=True)))
register("softmax", softmax,
         lambda F, g, x, out, axis: out * (g - F.sum(g * out, axis=(axis,), keepdims=True)),
         uses_input_values=False, saves_output=True, samples=(S((3, 4), axis=1), S((2, 3, 4), axis=0)))
register("log_softmax", log_softmax,
         lambda F, g, x, out, axis: g - F.exp(out) * F.sum(g, axis=(axis,), keepdims=True),
         uses_input_values=False, saves_output=True, samples=(S((3, 4), axis=1), S((2, 3, 4), axis=0)))

register("reshape", lambda x, shape: np.reshape(x, shape),
         lambda F, g, x, out, shape: F.reshape(g, shape=x.shape),
         uses_input_values=False, is_view=True, samples=(S((3, 4), shape=(2, 6)), S((), shape=(1, 1)), S((4,), shape=(2, 2))))
register("transpose", lambda x, axes: np.transpose(x, axes),
         lambda F, g, x, out, axes: F.transpose(g, axes=tuple(np.argsort(axes))),
         uses_input_values=False, is_view=True, samples=(S((3, 4), axes=(1, 0)), S((2, 3, 4), axes=(2, 0, 1))))
register("swapaxes", lambda x, axis1, axis2: np.swapaxes(x, axis1, axis2),
         lambda F, g, x, out, axis1, axis2: F.swapaxes(g, axis1=axis1, axis2=axis2),
         uses_input_values=False, is_view=True, samples=(S((2, 3, 4), axis1=-1, axis2=-2),))
register("broadcast_to", lambda x, shape: np.broadcast_to(x, shape),
         lambda F, g, x, out, shape: g,  # the engine's unbroadcast sums the copies
         uses_input_values=False, is_view=True, samples=(S((3, 1), shape=(2, 3, 4)), S((), shape=(2,))))
register("getitem", lambda x, index: x[index],
         lambda F, g, x, out, index: F.scatter_add(g, index=index, shape=x.shape),
         uses_input_values=False, is_view=True,
         samples=(S((4, 5), index=(slice(1, 3), 2)), S((4, 5), index=(np.array([0, 2, 0]),)),
                  S((4, 5), index=(np.array([[True, False, True, False, True]] * 4),)),
                  S((3, 4), index=(Ellipsis, None, slice(None, None, -2))), S((5,), index=(np.array([1, 1, 1]),))))
register("scatter_add", scatter_add,
         lambda F, g, src, out, index, shape: F.getitem(g, index=index),
         uses_input_values=False,
         samples=(S((3,), index=(np.array([0, 2, 0]),), shape=(4,)), S((2, 3), index=(slice(1, 3),), shape=(4, 3))))
register("setitem", setitem,
         lambda F, g, x, v, out, index: F.where(unassigned_mask(x.shape, index), g, 0.0),
         lambda F, g, x, v, out, index: F.getitem(g, index=index),
         uses_input_values=False, samples=(S((4, 3), (3,), index=(slice(0, 2),)), S((5,), (), index=(np.array([1, 3]),))))
register("concatenate", lambda *xs, axis: np.concatenate(xs, axis=axis),
         lambda F, g, *xs, out, axis, index: F.getitem(g, index=along(
             axis, g.ndim, slice(sum(x.shape[axis] for x in xs[:index]), sum(x.shape[axis] for x in xs[:index + 1])))),
         uses_input_values=False, variadic=True, samples=(S((2, 3), (4, 3), axis=0), S((2, 3), (2, 1), (2, 2), axis=1)))
register("stack", lambda *xs, axis: np.stack(xs, axis=axis),
         lambda F, g, *xs, out, axis, index: F.getitem(g, index=along(axis, g.ndim, index)),
         uses_input_values=False, variadic=True, samples=(S((2, 3), (2, 3), axis=0), S((), (), (), axis=0), S((3,), (3,), axis=-1)))
register("pad", lambda x, pad_width, value: np.pad(x, pad_width, constant_values=value),
         lambda F, g, x, out, pad_width, value: F.getitem(
             g, index=tuple(slice(before, g.shape[i] - after) for i, (before, after) in enumerate(pad_width))),
         uses_input_values=False, samples=(S((2, 3), pad_width=((1, 0), (2, 1)), value=0.0),))
register("astype", lambda x, dtype: x.astype(dtype), lambda F, g, x, out, dtype: g,  # the engine casts g back
         uses_input_values=False, samples=(S((3,), dtype=np.float64),))
register("clone", np.copy, lambda F, g, x, **_: g, uses_input_values=False, samples=UNARY)
register("fill", lambda x, value: np.full_like(x, value), lambda F, g, x, out, value: None,
         uses_input_values=False, samples=(S((3,), value=2.0),))
register("copy", lambda x, src: np.broadcast_to(src, x.shape).astype(x.dtype),
         lambda F, g, x, src, **_: None, lambda F, g, x, src, **_: g,
         uses_input_values=False, samples=(S((2, 3), (3,)),))
