"""The optimizers: each is its defaults, its state, and its update rule, written as PyTorch's.

In the formulas g is the gradient (negated under `maximize`, with the L2 term
weight_decay * p added where the optimizer couples weight decay), t the
parameter's step count, and every operation elementwise.

SGD and Adam/AdamW also have a fused kernel (`autograd_core.fused_ops.sgd_update` and `adam_update`):
one compiled call per group, taken as their `fused` option and the kernel
policy say (see `optim.optimizer`). Every optimizer's per-tensor numpy update
is written here, and is the reference the fused kernels are tested against.
"""

import math

import numpy as np

from autograd_core import fused_ops

from .optimizer import Optimizer, ParamsT


class SGD(Optimizer):
    """Stochastic gradient descent, with optional momentum, dampening, Nesterov momentum and weight decay.

    d = g + weight_decay * p;  b = d on the first step, then b = momentum * b + (1 - dampening) * d;
    p -= lr * (d + momentum * b if nesterov else b)   (p -= lr * d without momentum).
    """

    FUSED_KERNEL = "sgd_update"

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        fused: bool | None = None,
    ) -> None:
        super().__init__(
            params,
            dict(
                lr=lr,
                momentum=momentum,
                dampening=dampening,
                weight_decay=weight_decay,
                nesterov=nesterov,
                maximize=maximize,
                fused=fused,
            ),
        )

    def _check_group(self, group):
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                f"SGD: nesterov=True requires momentum > 0 and dampening = 0, got "
                f"momentum={group['momentum']!r}, dampening={group['dampening']!r}"
            )

    def _init_state(self, param, group):
        return {}  # the momentum buffer starts as the first gradient, made on the first step

    def _update(self, group, params, grads, states):
        buffers, fresh = [], []
        if group["momentum"] != 0:
            fresh = ["momentum_buffer" not in s for s in states]
            for p, s, first in zip(params, states, fresh):
                if first:
                    s["momentum_buffer"] = self._zeros(p)  # the update sets it to the first gradient
            buffers = [s["momentum_buffer"] for s in states]
        update = fused_ops.sgd_update if self._fused(group, params) else _sgd_numpy
        update(
            params,
            grads,
            buffers,
            fresh,
            lr=group["lr"],
            momentum=group["momentum"],
            dampening=group["dampening"],
            weight_decay=group["weight_decay"],
            nesterov=group["nesterov"],
        )


def _sgd_numpy(params, grads, momentum_buffers, fresh, *, lr, momentum, dampening, weight_decay, nesterov):
    """SGD tensor by tensor (the formulas of `SGD`); `fresh[i]`: tensor i's first step with momentum."""
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


class Adam(Optimizer):
    """Adam, optionally AMSGrad, with L2 or decoupled (AdamW) weight decay.

    m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g^2   (amsgrad: v = max over steps);
    p -= lr / (1 - beta1^t) * m / (sqrt(v / (1 - beta2^t)) + eps).
    """

    FUSED_KERNEL = "adam_update"

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        decoupled_weight_decay: bool = False,
        fused: bool | None = None,
    ) -> None:
        super().__init__(
            params,
            dict(
                lr=lr,
                betas=betas,
                eps=eps,
                weight_decay=weight_decay,
                amsgrad=amsgrad,
                maximize=maximize,
                decoupled_weight_decay=decoupled_weight_decay,
                fused=fused,
            ),
        )

    def _init_state(self, param, group):
        state = {"step": 0, "exp_avg": self._zeros(param), "exp_avg_sq": self._zeros(param)}
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = self._zeros(param)
        return state

    def _update(self, group, params, grads, states):
        for s in states:
            s["step"] += 1
        lr, (beta1, beta2) = group["lr"], group["betas"]
        step_sizes = [lr / (1 - beta1 ** s["step"]) for s in states]
        bias_correction2_sqrts = [math.sqrt(1 - beta2 ** s["step"]) for s in states]
        update = fused_ops.adam_update if self._fused(group, params) else _adam_numpy
        update(
            params,
            grads,
            [s["exp_avg"] for s in states],
            [s["exp_avg_sq"] for s in states],
            [s["max_exp_avg_sq"] for s in states] if group["amsgrad"] else [],
            step_sizes,
            bias_correction2_sqrts,
            lr=lr,
            beta1=beta1,
            beta2=beta2,
            eps=group["eps"],
            weight_decay=group["weight_decay"],
            decoupled_weight_decay=group["decoupled_weight_decay"],
            amsgrad=group["amsgrad"],
        )


def _adam_numpy(
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
    """Adam tensor by tensor (the formulas of `Adam`), with g = grad + weight_decay * p (L2), or
    p *= 1 - lr * weight_decay first (decoupled); `step_sizes[i]` = lr / (1 - beta1^t) and
    `bias_correction2_sqrts[i]` = sqrt(1 - beta2^t) for tensor i's step count t."""
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


class AdamW(Adam):
    """Adam with decoupled weight decay: p *= 1 - lr * weight_decay before the Adam step."""

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        fused: bool | None = None,
    ) -> None:
        super().__init__(
            params,
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            decoupled_weight_decay=True,
            fused=fused,
        )


class Adagrad(Optimizer):
    """Adagrad: s += g^2;  p -= lr / (1 + (t - 1) * lr_decay) * g / (sqrt(s) + eps)."""

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(
            params,
            dict(
                lr=lr,
                lr_decay=lr_decay,
                weight_decay=weight_decay,
                initial_accumulator_value=initial_accumulator_value,
                eps=eps,
                maximize=maximize,
            ),
        )

    def _init_state(self, param, group):
        return {"step": 0, "sum": np.full(param.shape, group["initial_accumulator_value"], dtype=param.dtype)}

    def _update(self, group, params, grads, states):
        for p, g, s in zip(params, self._weight_decayed(group, params, grads), states):
            s["step"] += 1
            s["sum"] += g * g
            p -= group["lr"] / (1 + (s["step"] - 1) * group["lr_decay"]) * (g / (np.sqrt(s["sum"]) + group["eps"]))


class RMSprop(Optimizer):
    """RMSprop, optionally centered and with momentum.

    a = alpha * a + (1 - alpha) * g^2;  centered: c = alpha * c + (1 - alpha) * g and a - c^2 replaces a;
    d = g / (sqrt(a) + eps);  p -= lr * d, or with momentum b = momentum * b + d, p -= lr * b.
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(
            params,
            dict(
                lr=lr,
                alpha=alpha,
                eps=eps,
                weight_decay=weight_decay,
                momentum=momentum,
                centered=centered,
                maximize=maximize,
            ),
        )

    def _init_state(self, param, group):
        state = {"step": 0, "square_avg": self._zeros(param)}
        if group["momentum"] > 0:
            state["momentum_buffer"] = self._zeros(param)
        if group["centered"]:
            state["grad_avg"] = self._zeros(param)
        return state

    def _update(self, group, params, grads, states):
        alpha = group["alpha"]
        for p, g, s in zip(params, self._weight_decayed(group, params, grads), states):
            s["step"] += 1
            square_avg = s["square_avg"]
            square_avg *= alpha
            square_avg += (1 - alpha) * (g * g)
            if group["centered"]:
                s["grad_avg"] += (1 - alpha) * (g - s["grad_avg"])
                square_avg = square_avg - s["grad_avg"] * s["grad_avg"]
            avg = np.sqrt(square_avg) + group["eps"]
            if group["momentum"] > 0:
                buf = s["momentum_buffer"]
                buf *= group["momentum"]
                buf += g / avg
                p -= group["lr"] * buf
            else:
                p -= group["lr"] * (g / avg)


class Adadelta(Optimizer):
    """Adadelta: a = rho * a + (1 - rho) * g^2;  d = sqrt(u + eps) / sqrt(a + eps) * g;
    u = rho * u + (1 - rho) * d^2;  p -= lr * d."""

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize))

    def _init_state(self, param, group):
        return {"step": 0, "square_avg": self._zeros(param), "acc_delta": self._zeros(param)}

    def _update(self, group, params, grads, states):
        rho, eps = group["rho"], group["eps"]
        for p, g, s in zip(params, self._weight_decayed(group, params, grads), states):
            s["step"] += 1
            s["square_avg"] *= rho
            s["square_avg"] += (1 - rho) * (g * g)
            delta = np.sqrt(s["acc_delta"] + eps) / np.sqrt(s["square_avg"] + eps) * g
            s["acc_delta"] *= rho
            s["acc_delta"] += (1 - rho) * (delta * delta)
            p -= group["lr"] * delta


class Adamax(Optimizer):
    """Adamax (Adam with the infinity norm): m = beta1 * m + (1 - beta1) * g;
    u = max(beta2 * u, |g| + eps);  p -= lr / (1 - beta1^t) * m / u."""

    def __init__(
        self,
        params: ParamsT,
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize))

    def _init_state(self, param, group):
        return {"step": 0, "exp_avg": self._zeros(param), "exp_inf": self._zeros(param)}

    def _update(self, group, params, grads, states):
        beta1, beta2 = group["betas"]
        for p, g, s in zip(params, self._weight_decayed(group, params, grads), states):
            s["step"] += 1
            s["exp_avg"] += (1 - beta1) * (g - s["exp_avg"])
            s["exp_inf"] *= beta2
            np.maximum(s["exp_inf"], np.abs(g) + group["eps"], out=s["exp_inf"])
            p -= group["lr"] / (1 - beta1 ** s["step"]) * (s["exp_avg"] / s["exp_inf"])


class NAdam(Optimizer):
    """Adam with Nesterov momentum, with the momentum schedule of Dozat (2016).

    mu_t = beta1 * (1 - 0.5 * 0.96^(t * momentum_decay)),  P_t = mu_1 * ... * mu_t;
    m, v as in Adam;  d = sqrt(v / (1 - beta2^t)) + eps;
    p -= lr * (1 - mu_t) / (1 - P_t) * g / d + lr * mu_{t+1} / (1 - P_t * mu_{t+1}) * m / d.
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum_decay: float = 4e-3,
        decoupled_weight_decay: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(
            params,
            dict(
                lr=lr,
                betas=betas,
                eps=eps,
                weight_decay=weight_decay,
                momentum_decay=momentum_decay,
                decoupled_weight_decay=decoupled_weight_decay,
                maximize=maximize,
            ),
        )

    def _init_state(self, param, group):
        return {"step": 0, "mu_product": 1.0, "exp_avg": self._zeros(param), "exp_avg_sq": self._zeros(param)}

    def _update(self, group, params, grads, states):
        lr, (beta1, beta2) = group["lr"], group["betas"]

        def mu(t):
            return beta1 * (1 - 0.5 * 0.96 ** (t * group["momentum_decay"]))

        for p, g, s in zip(params, self._weight_decayed(group, params, grads), states):
            s["step"] += 1
            t = s["step"]
            s["mu_product"] *= mu(t)
            mu_product_next = s["mu_product"] * mu(t + 1)
            s["exp_avg"] += (1 - beta1) * (g - s["exp_avg"])
            s["exp_avg_sq"] *= beta2
            s["exp_avg_sq"] += (1 - beta2) * (g * g)
            denom = np.sqrt(s["exp_avg_sq"] / (1 - beta2**t)) + group["eps"]
            p -= lr * (1 - mu(t)) / (1 - s["mu_product"]) * (g / denom)
            p -= lr * mu(t + 1) / (1 - mu_product_next) * (s["exp_avg"] / denom)
