"""float32 exp, tanh and sigmoid written in arithmetic that LLVM vectorizes, for the fused loops.

Numba compiles `np.exp` on a float32 scalar to a call of the C library's scalar `expf`: a fused loop
around it runs about 10 times slower than numpy's own vectorized (AVX2) exp, which is why the
elementwise kernels leave float32 exp to numpy (backend.EXP_BOUND). These are Cephes' single
precision algorithms (range reduction by ln 2, a degree-6 polynomial, the power of two assembled in
the exponent bits), branch-free so that the loop vectorizes: 0.79 ms for 1e6 exps on one thread
against numpy's 0.52 ms (best of 30, same process), within 1e-7 relative error of float64 exp. Each is
inlined into the generated kernels (`fusion`).
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


_F = np.float32
_LOG2E, _LN2_HIGH, _LN2_LOW = _F(1.44269504088896341), _F(0.693359375), _F(-2.12194440e-4)
_EXP_P = (_F(1.9875691500e-4), _F(1.3981999507e-3), _F(8.3334519073e-3), _F(4.1665795894e-2), _F(1.6666665459e-1))
_EXP_P5 = _F(5.0000001201e-1)
_EXP_LOW, _OVERFLOW, _UNDERFLOW = _F(-87.3365478515625), _F(88.72283935546875), _F(-103.97208404541016)
_ONE, _HALF, _TWO, _ZERO, _INF = _F(1.0), _F(0.5), _F(2.0), _F(0.0), _F(np.inf)
_TANH_SMALL, _TANH_SATURATED = _F(0.625), _F(9.0)
_TANH_P = (_F(-5.70498872745e-3), _F(2.06390887954e-2), _F(-5.37397155531e-2), _F(1.33314422036e-1))
_TANH_P4 = _F(-3.33332819422e-1)


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
    a = abs(x)
    z = x * x
    small = (((_TANH_P[0] * z + _TANH_P[1]) * z + _TANH_P[2]) * z + _TANH_P[3]) * z + _TANH_P4
    small = small * z * x + x
    large = _ONE - _TWO / (exp32(_TWO * a) + _ONE)
    large = _ONE if a > _TANH_SATURATED else large
    large = -large if x < _ZERO else large
    return small if a < _TANH_SMALL else large


@numba.njit(inline="always", error_model="numpy", cache=True)
def sigmoid32(x):
    return _ONE / (_ONE + exp32(-x))
