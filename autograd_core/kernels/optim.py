"""Fused optimizer updates, compiled: SGD (momentum, Nesterov, weight decay) and Adam/AdamW (amsgrad).

Each update works on all the parameters of a param group in one call and modifies the parameter
and state arrays in place: one compiled loop walks every element of every tensor, so the moments
are read and written once per step instead of once per numpy temporary. The per-tensor numpy
path, the reference, is the optimizer's own (`optim/optimizers.py`); whether a group takes this
one is `backend.choose("sgd_update" | "adam_update", ...)`'s answer, asked by the optimizer.

Both updates take:

- `params`: list of parameter arrays, any layout, updated in place;
- `grads`: list of gradient arrays, each of its parameter's shape and dtype;
- state buffers: lists of arrays of the parameters' shapes and dtypes,
  created by the optimizer and updated in place (an empty list for a buffer
  the options do not use: no momentum, no amsgrad);
- per-tensor values (SGD's first-step flags, Adam's step sizes and bias corrections) as lists;
- hyperparameters as Python scalars.

No `fastmath`: the loops are elementwise (nothing to reassociate) and LLVM
vectorizes them without it. Without it the loops do the numpy reference's
float operations in the same order and dtype, so the two agree to the bit
(as measured here, in float32 and float64; the parity test allows rounding).
"""

import functools

import numpy as np

from .. import backend

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


def _adam_loops(
    arrays,
    n,
    step_sizes,
    bias_correction2_sqrts,
    one_minus_beta1,
    beta2,
    one_minus_beta2,
    eps,
    weight_decay,
    decay_factor,
    decoupled_weight_decay,
    amsgrad,
):
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


def _flat(array):
    """A writable 1-D C-contiguous view of `array`, or a copy when no such view exists."""
    if array.flags.c_contiguous and array.flags.writeable:
        return array.reshape(-1)
    return array.flatten()


@functools.cache
def _flat_array_type(dtype):
    numba = backend.numba_module()
    return numba.types.Array(numba.from_dtype(dtype), 1, "C")


def _typed_list(flat_arrays):
    out = backend.numba_module().typed.List.empty_list(_flat_array_type(flat_arrays[0].dtype))
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
    loops(
        _typed_list(arrays), len(params), *per_tensor, *(dtype.type(s) if isinstance(s, float) else s for s in scalars)
    )
    for originals, flats in zip((params, *buffers), (flat_params, *flat_buffers)):
        _write_back(originals, flats)


@functools.cache
def _compiled(loops):
    return backend.jit(loops)


def sgd_update(params, grads, momentum_buffers, fresh, *, lr, momentum, dampening, weight_decay, nesterov):
    """SGD over a group, as `optim.SGD`'s per-tensor reference: one compiled call."""
    _run_fused(
        _compiled(_sgd_loops),
        params,
        grads,
        [momentum_buffers],
        [np.asarray(fresh, dtype=np.bool_)],
        [float(lr), float(momentum), float(1 - dampening), float(weight_decay), bool(nesterov)],
    )


def adam_update(
    params,
    grads,
    exp_avgs,
    exp_avg_sqs,
    max_exp_avg_sqs,
    step_sizes,
    bias_correction2_sqrts,
    *,
    lr,
    beta1,
    beta2,
    eps,
    weight_decay,
    decoupled_weight_decay,
    amsgrad,
):
    """Adam over a group, as `optim.Adam`'s per-tensor reference: one compiled call. `step_sizes` holds
    each tensor's lr / (1 - beta1^t), `bias_correction2_sqrts` its sqrt(1 - beta2^t)."""
    dtype = params[0].dtype
    _run_fused(
        _compiled(_adam_loops),
        params,
        grads,
        [exp_avgs, exp_avg_sqs, max_exp_avg_sqs],
        [np.asarray(step_sizes, dtype=dtype), np.asarray(bias_correction2_sqrts, dtype=dtype)],
        [
            float(1 - beta1),
            float(beta2),
            float(1 - beta2),
            float(eps),
            float(weight_decay),
            float(1 - lr * weight_decay),
            bool(decoupled_weight_decay),
            bool(amsgrad),
        ],
    )
