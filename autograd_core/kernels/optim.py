"""Fused optimizer updates, compiled: SGD (momentum, Nesterov, weight decay) and Adam/AdamW (amsgrad).

Each update works on all the parameters of a param group, one compiled call per tensor, and modifies
the parameter and state arrays in place: one compiled loop walks every element of the tensor, so the
moments are read and written once per step instead of once per numpy temporary. The per-tensor numpy
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
vectorizes them without it. SGD's loop does the numpy reference's float
operations in the same order and dtype, so the two agree to the bit. Adam's
divides once per element where the reference (PyTorch's formula) divides
twice: step_size * m / (sqrt(v) / sqrt(1 - beta2^t) + eps) is computed as
(step_size * sqrt(1 - beta2^t)) * m / (sqrt(v) + eps * sqrt(1 - beta2^t)),
the same number up to float rounding (the parity test allows rounding). The
loop is bound by division and square root: 22.1 against 31.4 us for 55,000
float32 elements (the mlp_small model's parameters; median of 500 calls).
"""

import functools

import numpy as np

from .. import backend

# ---- Numba implementations ----------------------------------------------------------------------
# The loops below are plain Python that Numba compiles (`backend.jit`, on first use), one call per
# tensor: a call with a few 1-D arrays costs about 0.5 us to dispatch, where a typed list of all of a
# group's arrays cost ~40 us plus ~4 us per array to build (measured; the list also compiled its
# methods in every process). The scalars come in as Python floats (0.27 us less to dispatch than
# numpy scalars, and no cast per call; measured with 14 arguments) and are cast to the arrays' dtype
# first thing, so float32 arithmetic stays float32 exactly as in the numpy reference.


def _sgd_loop(p, g, buf, fresh, lr_given, momentum_given, one_minus_dampening_given, weight_decay_given, nesterov):
    cast = p.dtype.type
    lr, momentum, one_minus_dampening = cast(lr_given), cast(momentum_given), cast(one_minus_dampening_given)
    weight_decay = cast(weight_decay_given)
    for j in range(p.size):
        d = g[j]
        if weight_decay != 0:
            d = d + weight_decay * p[j]
        if momentum != 0:
            if fresh:
                buf[j] = d
            else:
                buf[j] = buf[j] * momentum + one_minus_dampening * d
            d = d + momentum * buf[j] if nesterov else buf[j]
        p[j] -= lr * d


def _adam_loop(
    p,
    g,
    m,
    v,
    v_max,
    scaled_step_size_given,
    scaled_eps_given,
    one_minus_beta1_given,
    beta2_given,
    one_minus_beta2_given,
    weight_decay_given,
    decay_factor_given,
    decoupled_weight_decay,
    amsgrad,
):
    cast = p.dtype.type
    scaled_step_size, scaled_eps = cast(scaled_step_size_given), cast(scaled_eps_given)
    one_minus_beta1, beta2, one_minus_beta2 = (
        cast(one_minus_beta1_given),
        cast(beta2_given),
        cast(one_minus_beta2_given),
    )
    weight_decay, decay_factor = cast(weight_decay_given), cast(decay_factor_given)
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
        p[j] -= scaled_step_size * (m[j] / (np.sqrt(second_moment) + scaled_eps))


def _run_per_tensor(loop, arrays, per_tensor, scalars):
    """`loop(*flat arrays of tensor i, *per_tensor[i], *scalars)` for each tensor i; `arrays` holds one
    list per array argument (params first). A non-contiguous or read-only array is copied flat, then
    written back. Runs once per tensor per step, so it avoids generators and `isinstance` (about 5 us
    per tensor at first, 2 now, of which 0.7 us is Numba's dispatch of the 14 arguments)."""
    for tensor_arrays, values in zip(zip(*arrays), per_tensor):
        flat = []
        for a in tensor_arrays:
            flags = a.flags
            if not (flags.c_contiguous and flags.writeable):
                break
            flat.append(a if a.ndim == 1 else a.reshape(-1))  # flat views: written in place
        else:
            loop(*flat, *values, *scalars)
            continue
        flat_of = {}  # by identity: an array passed twice (SGD's unused buffer is the param) is copied once
        for a in tensor_arrays:
            if id(a) not in flat_of:
                flat_of[id(a)] = (a, a.flatten())
        loop(*(flat_of[id(a)][1] for a in tensor_arrays), *values, *scalars)
        for array, flat in flat_of.values():
            if array.flags.writeable:
                array[...] = flat.reshape(array.shape)


@functools.cache
def _compiled(loop):
    return backend.jit(loop)


def sgd_update(params, grads, momentum_buffers, fresh, *, lr, momentum, dampening, weight_decay, nesterov):
    """SGD over a group, as `optim.SGD`'s per-tensor reference: one compiled call per tensor."""
    buffers = momentum_buffers if momentum != 0 else params  # unused without momentum
    _run_per_tensor(
        _compiled(_sgd_loop),
        [params, grads, buffers],
        [(bool(f),) for f in fresh] if momentum != 0 else [(False,)] * len(params),
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
    """Adam over a group, as `optim.Adam`'s per-tensor reference: one compiled call per tensor.
    `step_sizes` holds each tensor's lr / (1 - beta1^t), `bias_correction2_sqrts` its sqrt(1 - beta2^t)."""
    _run_per_tensor(
        _compiled(_adam_loop),
        [params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs if amsgrad else exp_avg_sqs],
        [(float(a * b), float(eps * b)) for a, b in zip(step_sizes, bias_correction2_sqrts)],
        [
            float(1 - beta1),
            float(beta2),
            float(1 - beta2),
            float(weight_decay),
            float(1 - lr * weight_decay),
            bool(decoupled_weight_decay),
            bool(amsgrad),
        ],
    )
