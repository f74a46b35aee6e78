"""Fused optimizer updates: SGD (momentum, Nesterov, weight decay) and Adam/AdamW (amsgrad).

Each update works on all the parameters of a param group in one call and
modifies the parameter and state arrays in place. The numpy reference goes
tensor by tensor with vectorized numpy; the Numba implementation walks every
element of every tensor in a single compiled loop, so the moments are read
and written once per step instead of once per numpy temporary.

Both implementations take the same arguments:

- `params`: list of parameter arrays, any layout, updated in place;
- `grads`: list of gradient arrays, each of its parameter's shape and dtype;
- state buffers: lists of arrays of the parameters' shapes and dtypes,
  created by the optimizer and updated in place (an empty list for a buffer
  the options do not use: no momentum, no amsgrad);
- per-tensor values (SGD's first-step flags, Adam's step counts) as lists;
- hyperparameters as Python scalars.

Under the numba backend a group of small tensors still takes the numpy
reference (`FUSED_MIN_MEAN_SIZE`): handing the arrays to Numba has a cost
per array that only a large enough update repays.

No `fastmath`: the loops are elementwise (nothing to reassociate) and LLVM
vectorizes them without it. Without it the loops do the numpy reference's
float operations in the same order and dtype, so the two agree to the bit
(as measured here, in float32 and float64; the parity test allows rounding).
"""
import functools
import math

import numpy as np

from .. import backend


def _adam_step_scalars(steps, lr, beta1, beta2):
    """Per-tensor step sizes lr / (1 - beta1^t) and bias corrections sqrt(1 - beta2^t), for step counts t."""
    step_sizes = [lr / (1 - beta1**t) for t in steps]
    bias_correction2_sqrts = [math.sqrt(1 - beta2**t) for t in steps]
    return step_sizes, bias_correction2_sqrts


# ---- numpy references ---------------------------------------------------------------------------

def _sgd_numpy(params, grads, momentum_buffers, fresh, *, lr, momentum, dampening,
               weight_decay, nesterov):
    """SGD as torch.optim.SGD, for every tensor of a group.

    d = g + weight_decay * p;  b = d on the first step (`fresh`), else momentum * b + (1 - dampening) * d;
    p -= lr * (d + momentum * b if nesterov else b)   (p -= lr * d without momentum).
    """
    for i, (p, g) in enumerate(zip(params, grads)):
        d = g + weight_decay * p if weight_decay != 0 else g
        if momentum != 0:
            buf = momentum_buffers[i]
            if fresh[i]:
                buf[...] = d
            else:
                buf *= momentum
                buf += (1 - dampening) * d
            d = d + momentum * buf if nesterov else buf
        p -= lr * d


def _adam_numpy(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, *, lr, beta1,
                beta2, eps, weight_decay, decoupled_weight_decay, amsgrad):
    """Adam (or AdamW when `decoupled_weight_decay`) as torch.optim.Adam, for every tensor of a group.

    m += (1 - beta1) * (g - m);  v = beta2 * v + (1 - beta2) * g^2;  (amsgrad: v_max = max(v_max, v))
    p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
    with g = grad + weight_decay * p (L2), or p *= 1 - lr * weight_decay first (decoupled).
    `steps` holds each tensor's step count t, already incremented for this step.
    """
    step_sizes, bias_correction2_sqrts = _adam_step_scalars(steps, lr, beta1, beta2)
    for i, (p, g, m, v) in enumerate(zip(params, grads, exp_avgs, exp_avg_sqs)):
        if weight_decay != 0:
            if decoupled_weight_decay:
                p *= 1 - lr * weight_decay
            else:
                g = g + weight_decay * p
        m += (1 - beta1) * (g - m)
        v *= beta2
        v += (1 - beta2) * (g * g)
        if amsgrad:
            np.maximum(max_exp_avg_sqs[i], v, out=max_exp_avg_sqs[i])
            v = max_exp_avg_sqs[i]
        p -= step_sizes[i] * (m / (np.sqrt(v) / bias_correction2_sqrts[i] + eps))


# ---- Numba implementations ----------------------------------------------------------------------
# The loops below are plain Python that Numba compiles (`_numba_*` factories, on first use). Their
# wrappers flatten every array to a 1-D view and pass them all in ONE typed list: the params, then
# the grads, then each list of state buffers, n arrays each (building a typed list costs ~40 us
# plus ~4 us per item, more than the update itself on small models, so one list beats several).
# Scalars are cast to the arrays' dtype first, so float32 arithmetic stays float32 exactly as in
# the numpy reference.

def _sgd_loops(arrays, n, fresh, lr, momentum, one_minus_dampening, weight_decay, nesterov):
    for i in range(n):
        p, g = arrays[i], arrays[n + i]
        buf = arrays[2 * n + i] if momentum != 0 else p
        for j in range(p.size):
            d = g[j]
            if weight_decay != 0:
                d = d + weight_decay * p[j]
            if momentum != 0:
                if fresh[i]:
                    buf[j] = d
                else:
                    buf[j] = buf[j] * momentum + one_minus_dampening * d
                d = d + momentum * buf[j] if nesterov else buf[j]
            p[j] -= lr * d


def _adam_loops(arrays, n, step_sizes, bias_correction2_sqrts, one_minus_beta1, beta2, one_minus_beta2, eps,
                weight_decay, decay_factor, decoupled_weight_decay, amsgrad):
    for i in range(n):
        p, g, m, v = arrays[i], arrays[n + i], arrays[2 * n + i], arrays[3 * n + i]
        v_max = arrays[4 * n + i] if amsgrad else v
        step_size, bias_correction2_sqrt = step_sizes[i], bias_correction2_sqrts[i]
        for j in range(p.size):
            grad = g[j]
            if weight_decay != 0:
                if decoupled_weight_decay:
                    p[j] *= decay_factor
                else:
                    grad = grad + weight_decay * p[j]
            m[j] += one_minus_beta1 * (grad - m[j])
            v[j] = v[j] * beta2 + one_minus_beta2 * (grad * grad)
            second_moment = v[j]
            if amsgrad:
                v_max[j] = max(v_max[j], v[j])
                second_moment = v_max[j]
            p[j] -= step_size * (m[j] / (np.sqrt(second_moment) / bias_correction2_sqrt + eps))


_NUMBA_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

# Below this mean number of elements per tensor a group takes the numpy reference even under the
# numba backend: building the typed list costs more than fusing saves. Measured crossovers on a
# 2-core x86 machine: ~8k elements per tensor for Adam, ~32k for SGD with momentum.
FUSED_MIN_MEAN_SIZE = 16384


def _fusable(params):
    """True when the Numba loops should take the group: one dtype they compile for (a typed list
    holds one array type) and tensors large enough on average to repay the typed list."""
    dtype = params[0].dtype
    return (dtype in _NUMBA_DTYPES and all(p.dtype == dtype for p in params)
            and sum(p.size for p in params) >= FUSED_MIN_MEAN_SIZE * len(params))


def _flat(array):
    """A writable 1-D C-contiguous view of `array`, or a copy when no such view exists."""
    if array.flags.c_contiguous and array.flags.writeable:
        return array.reshape(-1)
    return array.flatten()


@functools.lru_cache(maxsize=None)
def _flat_array_type(dtype):
    import numba

    return numba.types.Array(numba.from_dtype(dtype), 1, "C")


def _typed_list(flat_arrays):
    from numba import typed

    out = typed.List.empty_list(_flat_array_type(flat_arrays[0].dtype))
    for a in flat_arrays:
        out.append(a)
    return out


def _write_back(arrays, flat_arrays):
    """Copy the results into the arrays that `_flat` had to copy (non-contiguous parameters)."""
    for array, flat in zip(arrays, flat_arrays):
        if not np.may_share_memory(array, flat):
            array[...] = flat.reshape(array.shape)


def _run_fused(loops, params, grads, buffers, per_tensor, scalars):
    """One compiled call of `loops` over a whole group.

    `loops` receives the typed list of flat arrays (params, grads, then each
    list in `buffers`), the number of params, the per-tensor arrays, and the
    scalars, floats cast to the parameters' dtype. Params and buffers are
    written back where flattening had to copy them.
    """
    dtype = params[0].dtype
    flat_params = [_flat(p) for p in params]
    flat_buffers = [[_flat(b) for b in arrays] for arrays in buffers]
    arrays = flat_params + [_flat(g) for g in grads] + [b for flats in flat_buffers for b in flats]
    loops(_typed_list(arrays), len(params), *per_tensor,
          *(dtype.type(s) if isinstance(s, float) else s for s in scalars))
    for originals, flats in zip((params, *buffers), (flat_params, *flat_buffers)):
        _write_back(originals, flats)


def _numba_sgd():
    loops = backend.jit(_sgd_loops)

    def sgd(params, grads, momentum_buffers, fresh, *, lr, momentum, dampening, weight_decay,
            nesterov):
        if not _fusable(params):
            return _sgd_numpy(params, grads, momentum_buffers, fresh, lr=lr, momentum=momentum,
                              dampening=dampening, weight_decay=weight_decay, nesterov=nesterov)
        _run_fused(loops, params, grads, [momentum_buffers], [np.asarray(fresh, dtype=np.bool_)],
                   [float(lr), float(momentum), float(1 - dampening), float(weight_decay),
                    bool(nesterov)])

    return sgd


def _numba_adam():
    loops = backend.jit(_adam_loops)

    def adam(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, *, lr, beta1, beta2,
             eps, weight_decay, decoupled_weight_decay, amsgrad):
        if not _fusable(params):
            return _adam_numpy(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps,
                               lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay,
                               decoupled_weight_decay=decoupled_weight_decay, amsgrad=amsgrad)
        dtype = params[0].dtype
        step_sizes, bias_correction2_sqrts = _adam_step_scalars(steps, lr, beta1, beta2)
        _run_fused(loops, params, grads, [exp_avgs, exp_avg_sqs, max_exp_avg_sqs],
                   [np.asarray(step_sizes, dtype=dtype), np.asarray(bias_correction2_sqrts, dtype=dtype)],
                   [float(1 - beta1), float(beta2), float(1 - beta2), float(eps),
                    float(weight_decay), float(1 - lr * weight_decay),
                    bool(decoupled_weight_decay), bool(amsgrad)])

    return adam


sgd_update = backend.kernel("sgd_update", _sgd_numpy, _numba_sgd)
adam_update = backend.kernel("adam_update", _adam_numpy, _numba_adam)
