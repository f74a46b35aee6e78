"""JAX with `jax.jit` around the whole step (forward, backward and update), float32 on CPU.

Compiled: its first call traces and compiles, which the runner reports as
compile time; steady-state steps run one fused XLA executable.
"""

from autograd_core.benchmarks.engines import Engine
from autograd_core.benchmarks.engines.common import chain, flat_params, mlp_apply
from autograd_core.benchmarks.workloads import ADAM_BETAS, ADAM_EPS


def load():
    import jax

    # float32 everywhere, like the other engines (this is also jax's default).
    jax.config.update("jax_enable_x64", False)
    return jax.__version__


def _flat(layers):
    import jax.numpy as jnp

    return [jnp.asarray(array) for array in flat_params(layers)]


def mlp(problem):
    import jax
    import jax.numpy as jnp

    lr, (beta1, beta2) = problem["lr"], ADAM_BETAS
    # The data goes in as arguments, not closed-over constants XLA could specialise the program to.
    x, y = jnp.asarray(problem["x"]), jnp.asarray(problem["y"])

    def loss_fn(params, x, y):
        logits = mlp_apply(params, x, jax.nn.relu)
        picked = jnp.take_along_axis(logits, y[:, None], axis=1)[:, 0]
        return jnp.mean(jax.nn.logsumexp(logits, axis=1) - picked)

    @jax.jit
    def train_step(params, m, v, t, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        t = t + 1
        m = [beta1 * mi + (1 - beta1) * g for mi, g in zip(m, grads)]
        v = [beta2 * vi + (1 - beta2) * g * g for vi, g in zip(v, grads)]
        step_size = lr / (1 - beta1**t)
        root_bias2 = jnp.sqrt(1 - beta2**t)
        params = [p - step_size * mi / (jnp.sqrt(vi) / root_bias2 + ADAM_EPS) for p, mi, vi in zip(params, m, v)]
        return params, m, v, t, loss, grads

    params = _flat(problem["layers"])
    state = dict(
        params=params, m=[jnp.zeros_like(p) for p in params], v=[jnp.zeros_like(p) for p in params], t=jnp.float32(0)
    )

    def step():
        state["params"], state["m"], state["v"], state["t"], loss, state["grads"] = train_step(
            state["params"], state["m"], state["v"], state["t"], x, y
        )
        return float(loss)

    return step, lambda: [jax.device_get(g) for g in state["grads"]]


def micrograd_demo(problem):
    import jax
    import jax.numpy as jnp

    lr, alpha = problem["lr"], problem["alpha"]
    x, y = jnp.asarray(problem["x"]), jnp.asarray(problem["y"])

    def loss_fn(params, x, y):
        score = mlp_apply(params, x, jax.nn.relu)[:, 0]
        return jnp.mean(jnp.maximum(1 - y * score, 0)) + alpha * sum(jnp.sum(p * p) for p in params)

    @jax.jit
    def train_step(params, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        return [p - lr * g for p, g in zip(params, grads)], loss, grads

    state = dict(params=_flat(problem["layers"]))

    def step():
        state["params"], loss, state["grads"] = train_step(state["params"], x, y)
        return float(loss)

    return step, lambda: [jax.device_get(g) for g in state["grads"]]


def _jitted_loss_and_grads(loss_fn, arrays):
    """step/grads for a workload that is one loss of `arrays` differentiated in all of them."""
    import jax
    import jax.numpy as jnp

    value_and_grads = jax.jit(jax.value_and_grad(loss_fn, argnums=tuple(range(len(arrays)))))
    inputs = [jnp.asarray(a) for a in arrays]
    state = {}

    def step():
        loss, state["grads"] = value_and_grads(*inputs)
        return float(loss)

    return step, lambda: [jax.device_get(g) for g in state["grads"]]


def elementwise(problem):
    import jax
    import jax.numpy as jnp

    return _jitted_loss_and_grads(lambda x: jnp.sum(jax.nn.sigmoid(x) * jnp.tanh(x) + jax.nn.relu(x)), [problem["x"]])


def op_chain(problem):
    n_ops, scale, shift = problem["n_ops"], problem["scale"], problem["shift"]
    return _jitted_loss_and_grads(lambda x: chain(x, n_ops, scale, shift).sum(), [problem["x"]])


def matmul(problem):
    return _jitted_loss_and_grads(lambda a, b: (a @ b).sum(), [problem["a"], problem["b"]])


ENGINES = [
    Engine(
        key="jax",
        label="jax (jit)",
        load=load,
        compiled=True,
        workloads=dict(
            mlp=mlp, micrograd_demo=micrograd_demo, elementwise=elementwise, op_chain=op_chain, matmul=matmul
        ),
    )
]
