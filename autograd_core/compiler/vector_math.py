"""float32 exp, tanh and sigmoid written in arithmetic that LLVM vectorizes, for the fused loops.

Numba compiles `np.exp` on a float32 scalar to a call of the C library's scalar `expf`: a fused loop
around it runs about 10 times slower than numpy's own vectorized (AVX2) exp, which is why the
elementwise kernels leave float32 exp to numpy (backend.EXP_BOUND). `exp32` is Cephes' single
precision algorithm (range reduction by ln 2, a degree-6 polynomial, the power of two assembled in
the exponent bits), branch-free so that the loop vectorizes: 0.79 ms for 1e6 exps on one thread
against numpy's 0.52 ms (best of 30, same process), within 1e-7 relative error of float64 exp;
`sigmoid32` is 1 / (1 + exp32(-x)). `tanh32` is the rational approximation of Eigen and XLA (an odd
degree-13 polynomial over an even degree-6 one, the input clamped to +-7.9053): one division and no
exp, 4.3 us over 1e4 float32 against 7.8 us for 1 - 2 / (exp(2x) + 1) with the polynomial of Cephes
below 0.625 (numpy's: 3.0 us), within 4e-7 relative of float64 tanh (numpy's float32 tanh: 1.1e-7);
past the clamp it gives 0.99999976, one float32 step below 1. Each is inlined into the generated
kernels (`fusion`).
"""

import numba
import numpy as np
from numba import types
from numba.extending import intrinsic


@intrinsic
def _float32_from_bits(typingctx, bits):
    """The float32 whose IEEE bits are the int32 `bits` (a bit cast, which LLVM vectorizes)."""
    signature = types.float32(types.int32)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.float32))

    return signature, codegen


@intrinsic
def prefer_wide_vectors(typingctx):
    """Ask LLVM to vectorize the function this is called in with 512-bit registers (its
    "prefer-vector-width" attribute); no code. Called inside a loop body, so that it marks the function
    Numba outlines a `prange` body into, too. `fusion` emits it where `backend.wide_vectors()`."""

    def codegen(context, builder, signature, args):
        # llvmlite checks attribute names against LLVM's keyword list; a string attribute goes in as is
        set.add(builder.function.attributes, '"prefer-vector-width"="512"')
        return context.get_dummy_value()

    return types.none(), codegen


@intrinsic
def keep_default_vectors(typingctx):
    """`prefer_wide_vectors`' stand-in where wide vectors are not wanted: no attribute, no code."""

    def codegen(context, builder, signature, args):
        return context.get_dummy_value()

    return types.none(), codegen


_F = np.float32
_LOG2E, _LN2_HIGH, _LN2_LOW = _F(1.44269504088896341), _F(0.693359375), _F(-2.12194440e-4)
_EXP_P = (_F(1.9875691500e-4), _F(1.3981999507e-3), _F(8.3334519073e-3), _F(4.1665795894e-2), _F(1.6666665459e-1))
_EXP_P5 = _F(5.0000001201e-1)
_EXP_LOW, _OVERFLOW, _UNDERFLOW = _F(-87.3365478515625), _F(88.72283935546875), _F(-103.97208404541016)
_ONE, _HALF, _ZERO, _INF = _F(1.0), _F(0.5), _F(0.0), _F(np.inf)
# Eigen's `generic_fast_tanh_float` (also XLA's): tanh(x) ~ x p(x^2) / q(x^2) on [-7.9053, 7.9053]
_TANH_CLAMP, _TANH_TINY = _F(7.90531110763549805), _F(0.0004)
_TANH_P = tuple(
    _F(c)
    for c in (
        -2.76076847742355e-16,
        2.00018790482477e-13,
        -8.60467152213735e-11,
        5.12229709037114e-08,
        1.48572235717979e-05,
        6.37261928875436e-04,
        4.89352455891786e-03,
    )
)
_TANH_Q = tuple(_F(c) for c in (1.19825839466702e-06, 1.18534705686654e-04, 2.26843463243900e-03, 4.89352518554385e-03))


@numba.njit(inline="always", error_model="numpy", cache=True)
def exp32(x):
    clamped = min(max(x, _EXP_LOW), _OVERFLOW)
    n = np.floor(clamped * _LOG2E + _HALF)  # LLVM's floor: one vroundps per 8 floats
    k = np.int32(n)
    r = clamped - n * _LN2_HIGH - n * _LN2_LOW
    p = ((((_EXP_P[0] * r + _EXP_P[1]) * r + _EXP_P[2]) * r + _EXP_P[3]) * r + _EXP_P[4]) * r + _EXP_P5
    # 2^n in two halves: n reaches 128 near the overflow bound, past the largest float32 exponent
    half = k >> np.int32(1)
    rest = k - half
    scale = _float32_from_bits((half + np.int32(127)) << np.int32(23))
    y = (p * (r * r) + r + _ONE) * scale * _float32_from_bits((rest + np.int32(127)) << np.int32(23))
    y = _INF if x > _OVERFLOW else y
    y = _ZERO if x < _UNDERFLOW else y
    return x if x != x else y  # nan stays nan


@numba.njit(inline="always", error_model="numpy", cache=True)
def tanh32(x):
    clamped = min(max(x, -_TANH_CLAMP), _TANH_CLAMP)
    z = clamped * clamped
    p = _TANH_P[0]
    for c in _TANH_P[1:]:
        p = p * z + c
    q = _TANH_Q[0]
    for c in _TANH_Q[1:]:
        q = q * z + c
    y = clamped * p / q
    y = x if abs(x) < _TANH_TINY else y  # tanh(x) = x in float32 there, and -0.0 stays -0.0
    return x if x != x else y  # nan stays nan


@numba.njit(inline="always", error_model="numpy", cache=True)
def sigmoid32(x):
    return _ONE / (_ONE + exp32(-x))
