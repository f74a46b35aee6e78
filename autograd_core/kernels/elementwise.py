"""Fused activation kernels: y = f(x) and dx = g * f'(x), each in one pass over memory.

The numpy reference of each activation is its registry entry in `ops.py`: the forward, and the
VJP formula, which numpy evaluates as several passes with temporaries (`g * out * (1 - out)` is
three). Here the same math is written per element, in `activation` and `activation_grad`, and one
compiled loop maps it over the arrays: the backward reads g, x and y once and writes dx once.

Activations are told apart by an integer `kind`, not by passing a function (Numba cannot reuse a
disk-cached loop compiled for a function argument), and each loop is compiled once per kind, with
`KIND` a compile-time constant (`backend.jit(..., constants=...)`): the branch disappears and the
loop vectorizes, as if written for that activation alone.

Transcendentals: compiled code calls libm per element, and glibc's tanh, expm1 and log1p cost 3 to
5 times its exp, so sigmoid and tanh are computed from one exp. numpy's float32 exp and tanh are
vectorized, so for float32 the kernels bound by them are not used (see `backend.POLICY`).
"""

import functools
import math
from types import SimpleNamespace

import numpy as np

from .. import backend
from ..ops import GELU_TANH_C, INV_SQRT_2, INV_SQRT_2PI, REGISTRY, SQRT_2_OVER_PI
from . import FORWARD_KERNELS, loop_for, reference_backward, register_kernels

prange = range  # numba.prange in the compiled loops (backend.jit)

IDENTITY, RELU, LEAKY_RELU, ELU, SIGMOID, TANH, SOFTPLUS, SILU, ERF, GELU, GELU_TANH = range(11)
KIND = IDENTITY  # in a compiled loop: the activation it was compiled for (see `compiled`)

# registry op -> (its kind in the loops below, the op's attributes that become the parameters a, b).
# Which dtypes run compiled, forward and backward, is the policy's (`backend.POLICY`).
ACTIVATION_KINDS = {
    "relu": (RELU, ()),
    "leaky_relu": (LEAKY_RELU, ("negative_slope",)),
    "elu": (ELU, ("alpha",)),
    "sigmoid": (SIGMOID, ()),
    "tanh": (TANH, ()),
    "softplus": (SOFTPLUS, ("beta", "threshold")),
    "silu": (SILU, ()),
    "erf": (ERF, ()),
    "gelu": (GELU, ()),
    "gelu_tanh": (GELU_TANH, ()),
}

TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
# Below this |x|, tanh uses its series: 1 - e^(-2|x|) would cancel (relative error eps / (2|x|)).
TANH_SERIES_BELOW = 0.05


# ---- the math, per element ------------------------------------------------------------------


def _sigmoid(x):
    """1 / (1 + e^-x) with one exp of a non-positive number: never overflows."""
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _tanh(x):
    """tanh from one exp: tanh|x| = (1 - e^(-2|x|)) / (1 + e^(-2|x|)); the odd series near 0."""
    magnitude = abs(x)
    if magnitude < TANH_SERIES_BELOW:
        x2 = x * x  # next term 1382/155925 x^11: below 1e-15 relative here
        return x * (1.0 + x2 * (-1.0 / 3.0 + x2 * (2.0 / 15.0 + x2 * (-17.0 / 315.0 + x2 * (62.0 / 2835.0)))))
    t = math.exp(-2.0 * magnitude)
    return math.copysign((1.0 - t) / (1.0 + t), x)


def activation(kind, x, a, b):
    """f(x); a and b are the activation's parameters (negative_slope; alpha; beta and threshold)."""
    if kind == RELU:
        return 0.0 if x <= 0.0 else x  # nan stays nan, as np.maximum
    if kind == LEAKY_RELU:
        return x if x > 0.0 else x * a
    if kind == ELU:
        return x if x > 0.0 else a * math.expm1(x)
    if kind == SIGMOID:
        return _sigmoid(x)
    if kind == TANH:
        return _tanh(x)
    if kind == SOFTPLUS:
        z = a * x  # log(1 + e^z) = max(z, 0) + log1p(e^-|z|); x itself above the threshold
        return x if z > b else (max(z, 0.0) + math.log1p(math.exp(-abs(z)))) / a
    if kind == SILU:
        return x * _sigmoid(x)
    if kind == ERF:
        return math.erf(x)
    if kind == GELU:
        return 0.5 * x * (1.0 + math.erf(x * INV_SQRT_2))
    if kind == GELU_TANH:  # 0.5 (1 + tanh u) = sigmoid(2u): no cancellation for x << 0
        return x * _sigmoid(2.0 * SQRT_2_OVER_PI * (x + GELU_TANH_C * x * x * x))
    return x


def activation_grad(kind, g, x, y, a, b):
    """g * f'(x), given x and y = f(x) (the registry's formulas, per element)."""
    if kind == RELU:
        return g * (1.0 if y > 0.0 else 0.0)
    if kind == LEAKY_RELU:
        return g * (1.0 if x > 0.0 else a)
    if kind == ELU:
        return g * (1.0 if x > 0.0 else y + a)
    if kind == SIGMOID:
        return g * y * (1.0 - y)
    if kind == TANH:
        return g * (1.0 - y * y)
    if kind == SOFTPLUS:
        return g * (1.0 if a * x > b else _sigmoid(a * x))
    if kind == SILU:
        s = _sigmoid(x)
        return g * (s * (1.0 + x * (1.0 - s)))
    if kind == ERF:
        return g * TWO_OVER_SQRT_PI * math.exp(-x * x)
    if kind == GELU:
        return g * (0.5 * (1.0 + math.erf(x * INV_SQRT_2)) + x * INV_SQRT_2PI * math.exp(-0.5 * x * x))
    if kind == GELU_TANH:  # with s = sigmoid(2u) = 0.5 (1 + tanh u): 0.5 (1 - tanh^2 u) = 2 s (1 - s)
        s = _sigmoid(2.0 * SQRT_2_OVER_PI * (x + GELU_TANH_C * x * x * x))
        return g * (s + 2.0 * x * s * (1.0 - s) * SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_TANH_C * x * x))
    return g


# ---- compiled loops ---------------------------------------------------------------------------


def _forward_loop(x, out, a, b):
    for i in prange(x.size):
        out[i] = activation(KIND, x[i], a, b)


def _backward_loop(g, x, y, out, a, b):
    for i in prange(x.size):
        out[i] = activation_grad(KIND, g[i], x[i], y[i], a, b)


def _bias_activation_loop(z, bias, a, b):
    """z[i, j] = f(z[i, j] + bias[j]) in place: the epilogue of a linear layer's GEMM."""
    rows, columns = z.shape
    for i in prange(rows):
        for j in range(columns):
            z[i, j] = activation(KIND, z[i, j] + bias[j], a, b)


def _activation_grad_bias_loop(g, y, dz, bias_grad):
    """dz = g * f'(z) from the output y, and bias_grad = the column sums of dz, in one pass.

    Only activations whose derivative is a function of y reach here (linear's fused activations);
    `bias_grad` is a float64 buffer, so that float32 sums keep their precision.
    """
    rows, columns = g.shape
    bias_grad[:] = 0.0
    for i in range(rows):
        for j in range(columns):
            d = activation_grad(KIND, g[i, j], y[i, j], y[i, j], 0.0, 0.0)
            dz[i, j] = d
            bias_grad[j] += d


@functools.cache
def compiled(kind):
    """The loops for one activation (each compiled on its first call); `*_parallel` are threaded."""
    backend.jitable(_sigmoid, _tanh, activation, activation_grad)
    loops = {}
    for fn, threaded in (
        (_forward_loop, True),
        (_backward_loop, True),
        (_bias_activation_loop, True),
        (_activation_grad_bias_loop, False),  # its column sums would race across threads
    ):
        name = fn.__name__.strip("_").removesuffix("_loop")
        loops[name] = backend.jit(fn, constants={"KIND": kind})
        if threaded:
            loops[name + "_parallel"] = backend.jit(fn, parallel=True, constants={"KIND": kind})
    return SimpleNamespace(**loops)


def parameter_reader(attr_names):
    """attrs -> the activation parameters (a, b), as floats (so that one signature is compiled)."""
    if not attr_names:
        return lambda attrs: (0.0, 0.0)
    if len(attr_names) == 1:
        return lambda attrs: (float(attrs[attr_names[0]]), 0.0)
    return lambda attrs: (float(attrs[attr_names[0]]), float(attrs[attr_names[1]]))


# ---- the registry ops' kernels ------------------------------------------------------------------


def _numba_forward(name):
    kind, attr_names = ACTIVATION_KINDS[name]
    kernel_name = f"{name}_forward"
    reference = FORWARD_KERNELS[name].numpy
    loops = compiled(kind)
    parameters = parameter_reader(attr_names)

    def forward(x, **attrs):
        chosen = backend.choose(kernel_name, (x,), getattr(x, "size", 0))
        if chosen is backend.NUMPY:
            return reference(x, **attrs)
        out = np.empty(x.shape, x.dtype)
        # reshape(-1): a view where the layout allows (contiguous, or broadcast with stride 0), else a copy
        loop_for(loops, "forward", chosen)(x.reshape(-1), out.reshape(-1), *parameters(attrs))
        return out

    return forward


def _numba_backward(name):
    kind, attr_names = ACTIVATION_KINDS[name]
    kernel_name = f"{name}_backward"
    reads_input = 0 in REGISTRY[name].reads_of(0)[0]
    reference = reference_backward(name)
    loops = compiled(kind)
    parameters = parameter_reader(attr_names)

    def backward(g, inputs, out, attrs, needs):
        # An op whose VJP reads only y keeps no x (a SavedShape stands there): pass y in its place.
        x = inputs[0] if reads_input else out
        y = x if out is None else out
        chosen = backend.choose(kernel_name, (g, x, y), y.size)
        if chosen is backend.NUMPY:
            return reference(g, inputs, out, attrs, needs)
        dx = np.empty(y.shape, y.dtype)
        loop_for(loops, "backward", chosen)(
            g.reshape(-1), x.reshape(-1), y.reshape(-1), dx.reshape(-1), *parameters(attrs)
        )
        return (dx,)

    return backward


for _name in ACTIVATION_KINDS:
    register_kernels(
        _name,
        functools.partial(_numba_forward, _name) if f"{_name}_forward" in backend.POLICY else None,
        functools.partial(_numba_backward, _name) if f"{_name}_backward" in backend.POLICY else None,
    )
