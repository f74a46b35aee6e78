# %% [markdown]
# # 11. Compiling a training step
#
# Every notebook so far ran the engine **eagerly**: each line of Python does its work at once. `x * 2` calls
# the op, makes a new tensor, records a node of the graph; `loss.backward()` walks the graph node by node
# and calls each node's VJP. That is what makes the engine easy to follow and to debug, and it costs a fixed
# amount of Python per op whatever the tensor's size. On a large tensor the arithmetic hides that cost; on a
# small model it *is* the step.
#
# A compiler removes it. `step = ag.compile(train_step)` runs `train_step` once, eagerly, while a **tracer**
# records every op it did: the forward, the backward (as the engine's formulas compute it), the gradients it
# stored, the optimizer's update. The recording becomes one straight-line Python function over numpy arrays,
# and later calls whose inputs look the same (the **guards**) replay that function instead: no tensor, no
# graph node, no dispatch by name. PyTorch's `torch.compile` and JAX's `jax.jit` work the same way, and have
# the same rules: what Python did while tracing is fixed, what the program cannot replay faithfully is run
# eagerly.
#
# This notebook measures the per-op cost, compiles a training step for the 8x8 digits and reads what
# `step.explain()` prints, checks that the compiled step trains exactly as the eager one, times both (and
# PyTorch eager, when it is installed), and then walks through the rules: guards and retracing, what Python
# does only at trace time, fallbacks, randomness, and the fused elementwise kernels.

# %%
import gc
import io
import re
import time
import warnings

import matplotlib.pyplot as plt
import numba
import numpy as np

import autograd_core as ag
import nn
import nn.functional as F
import optim
from autograd_core.benchmarks import runner
from autograd_core.benchmarks.engines import Engine, all_engines
from autograd_core.benchmarks.workloads import Workload, make_problem


def median_time(fn, *args, rounds=9, calls=20):
    """The median over `rounds` blocks of `calls` calls of fn(*args): seconds per call."""
    fn(*args)
    samples = []
    for _ in range(rounds):
        gc.collect()
        start = time.perf_counter()
        for _ in range(calls):
            fn(*args)
        samples.append((time.perf_counter() - start) / calls)
    return float(np.median(samples))


# %% [markdown]
# ## The cost of an op
#
# A chain of 200 elementwise ops, alternately `x * 1.0001` and `x + 0.0001`, on a vector of 4 numbers and on
# one of 100,000. We time it three ways: numpy alone (the arithmetic and numpy's own call), the engine with no
# tensor requiring grad (the op is dispatched and a Tensor made, no graph), and the engine recording the graph
# and running `backward()` through it (per op of the chain: one forward op, one node, one VJP).

# %%
N_OPS = 200


def chain(x, n_ops=N_OPS):
    for _ in range(n_ops // 2):
        x = x * 1.0001
        x = x + 0.0001
    return x


def chain_loss(x):
    loss = chain(x).sum()
    loss.backward()
    return loss


per_op_us = {}
for width in (4, 100_000):
    values = np.ones(width, np.float32)
    per_op_us[width] = {
        "numpy": median_time(chain, values, calls=5) / N_OPS * 1e6,
        "engine, no grad": median_time(chain, ag.tensor(values), calls=5) / N_OPS * 1e6,
        "engine, forward + backward": median_time(chain_loss, ag.tensor(values, requires_grad=True), calls=5)
        / N_OPS
        * 1e6,
    }
    print(f"width {width:>7,}: " + ", ".join(f"{k} {v:7.2f} us/op" for k, v in per_op_us[width].items()))
overhead_ratio = {w: row["engine, no grad"] / row["numpy"] for w, row in per_op_us.items()}
print("engine / numpy per op:", {w: round(r, 2) for w, r in overhead_ratio.items()})

# %% [markdown]
# On 4 numbers numpy's own call is most of its time, and the engine adds a fixed cost on top of it (checking
# the inputs, choosing the kernel, making the Tensor); recording the graph and running the backward adds
# more. On 100,000 numbers the same fixed costs are still there, but the arithmetic dwarfs them and the
# engine's time is close to numpy's. A training step of a small model is the first case:
# hundreds of ops on small arrays, each paying the fixed cost.
#
# ## Tracing: record once, replay
#
# `ag.compile(fn)` returns a function with `fn`'s signature. Its first call runs `fn` eagerly while the tracer
# watches; the `print` below is ordinary Python, so it shows *when* Python runs.


# %%
def affine_tanh(x):
    print("  (Python is running affine_tanh)")
    return (x * 2 + 1).tanh()


compiled_affine = ag.compile(affine_tanh)
x = ag.tensor([0.0, 0.5, -1.0])
print("first call:")
first = compiled_affine(x)
print("second call:")
second = compiled_affine(x)
print("results:", first, second)
affine_listing = compiled_affine.explain()  # printed, and returned as text

# %% [markdown]
# The message appears once: the second call did not run `affine_tanh` at all. It ran the **program**
# `explain()` prints: `v0` is the first tensor argument, `mul`, `add` and `tanh` are the engine's own ops
# (the same forward functions the eager call used), each line's comment is the dtype and shape the value had
# when traced. The **guard** says when this program may be used: argument 0 has shape (3,), the same dtype,
# and does not require grad. Anything else traces again.
#
# ## A training step, compiled
#
# A two-layer MLP on the 8x8 digits (64 inputs, 32 hidden ReLU units, 10 classes), cross-entropy, Adam. The
# step is written as for eager execution and handed to `ag.compile` unchanged. It returns the loss as a
# tensor; reading its value with `.item()` happens outside, after the call (the reason comes below).

# %%
X, y = ag.datasets.load_digits()
BATCH = 32


def make_model(seed=0, dropout=0.0):
    ag.manual_seed(seed)
    layers = [nn.Linear(64, 32), nn.ReLU()] + ([nn.Dropout(dropout)] if dropout else []) + [nn.Linear(32, 10)]
    return nn.Sequential(*layers)


def make_train_step(model, optimizer=None):
    """The training step of `model`, eager: zero_grad, cross-entropy, backward, an Adam step (lr 0.01)."""
    optimizer = optimizer or optim.Adam(model.parameters(), lr=0.01)

    def train_step(x, t):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), t)
        loss.backward()
        optimizer.step()
        return loss

    return train_step


model = make_model()
step = ag.compile(make_train_step(model))
xb, tb = ag.tensor(X[:BATCH]), ag.tensor(y[:BATCH])
losses = [step(xb, tb).item() for _ in range(3)]
print("losses of three steps on one batch:", np.round(losses, 4))
listing = step.explain()

# %% [markdown]
# Read the program from the top:
#
# - `call Adam.zero_grad()` and, at the end, `call Adam.step()`: the optimizer's methods are not traced op by
#   op but **replayed as calls** (they are fused, per-tensor kernels already, and they read the learning
#   rate when they run: change it between calls and the program sees it).
# - `v0`, `v1`: the two arguments. `state (32, 64)` and the like: the parameters, read through their
#   tensors on every call, so the program always sees the current weights.
# - The **forward**: `linear`, the ReLU as a `fused loop` of one op (a generated Numba loop costs less to
#   call than the registry op), `linear`, `softmax_cross_entropy`, then `mean_on_one_thread`: the batch
#   mean of the losses, which the program runs as the `mean` op's compiled loop, called directly (the
#   `_on_threads` variant runs big reductions on two threads).
# - The **backward**, as eager backward runs it: a constant `array()` (the seed gradient 1 that
#   `loss.backward()` starts from), `broadcast_to` and `div(..., 32)` (the mean's VJP), then
#   `softmax_cross_entropy VJP (fused kernel)` (cross-entropy's gradient $\hat y - y$ of notebook 2, one
#   compiled kernel, the one eager backward calls) and `linear VJP (fused kernel)` (the linear layers' VJPs:
#   $\delta h = \delta W$, $\delta W = \delta^\top h$, $\delta b$ the column sums, as three GEMMs and a sum).
#   Between them, ReLU's VJP is a `fused loop`: its formula, `greater(v, 0)` times the gradient (the
#   Hadamard product with the mask), is made of elementwise ops, which the compiler fuses into one
#   generated Numba loop; the `|` lines under it are the ops the loop computes per element (it reads
#   the forward's ReLU output `v5`, which the forward's loop wrote).
# - `leaf (...).grad += v`: the four parameter gradients, stored as eager backward stores them.
#
# The guards are one long condition; here they are grouped by the object they check:


# %%
def guards_of(text, program=0):
    """The guard conditions of one program of an explain() listing, one string each."""
    guard_lines = [line for line in text.splitlines() if line.startswith("guards: ")]
    return guard_lines[program].removeprefix("guards: ").split(" and ")


by_subject = {}
for guard in guards_of(listing):
    if guard.startswith("bool("):  # a guard on values (see below)
        by_subject.setdefault("values", []).append(guard)
        continue
    subject = re.match(r"A\[\d+\]|G\d+", guard).group(0)
    by_subject.setdefault(subject, []).append(guard.removeprefix(subject))
for subject, conditions in by_subject.items():
    print(f"  {subject:4} " + " and ".join(conditions))

program_lines = [line.strip() for line in listing.splitlines() if line.startswith("  ")]
ops = [re.match(r"v\d+ = (\w+)\(", line).group(1) for line in program_lines if re.match(r"v\d+ = \w+\(", line)]
stored_grads = [line for line in program_lines if ".grad +=" in line]
replayed = [line for line in program_lines if line.startswith("call ")]
print(f"{len(ops)} ops, {len(stored_grads)} gradients stored, replayed calls: {replayed}")

# %% [markdown]
# `A[0]`, `A[1]` are the tensor arguments. The other names are objects the guard compares with: the dtypes
# seen when tracing (float32, int64), the four parameters (shape, dtype, `requires_grad`), the modules that
# ran, the `Sequential` and the three layers in it (their `training` flag). One guard reads values:
# `F.cross_entropy` takes its fused path only when every target is a class index in range (no
# `ignore_index`), so the program keeps that answer as a guard, computed again from the targets argument
# before each call (`bool(...(A)[0]) is True`): a batch with an ignored target traces again instead of
# running the fused path on it. The grad mode and any Python values among the arguments are guarded too,
# outside this list.
#
# ## The same results as eager
#
# A compiled step must train exactly as the eager one. Two identical models (same seed) take one epoch over
# the digits, batch 32, shuffled the same way; one with the eager step, one with the compiled step. The last
# batch has only 1797 mod 32 = 5 digits, a new shape: the compiled step traces a second program for it.

# %%
eager_model, compiled_model = make_model(), make_model()
eager_step = make_train_step(eager_model)
compiled_step = ag.compile(make_train_step(compiled_model))

order = np.random.default_rng(0).permutation(len(X))
eager_losses, compiled_losses = [], []
for start in range(0, len(X), BATCH):
    batch = order[start : start + BATCH]
    xb, tb = ag.tensor(X[batch]), ag.tensor(y[batch])
    eager_losses.append(eager_step(xb, tb).item())
    compiled_losses.append(compiled_step(xb, tb).item())
eager_losses, compiled_losses = np.array(eager_losses), np.array(compiled_losses)

loss_difference = np.abs(eager_losses - compiled_losses).max()
weight_difference = max(
    np.abs(a.detach().numpy() - b.detach().numpy()).max()
    for a, b in zip(eager_model.parameters(), compiled_model.parameters())
)
print(f"{len(eager_losses)} steps: loss {eager_losses[0]:.4f} -> {eager_losses[-1]:.4f}")
print(f"largest difference of the losses {loss_difference:.1e}, of the weights after the epoch {weight_difference:.1e}")
print(f"programs traced: {compiled_step.traced}, cached: {len(compiled_step.traces)}")

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(eager_losses, label="eager")
ax.plot(compiled_losses, linestyle="--", label="ag.compile")
ax.set(xlabel="step", ylabel="training loss", title="one epoch on the digits, batch 32")
ax.legend()
plt.show()

# %% [markdown]
# The curves lie on top of each other. They are not bit for bit equal: eager backward evaluates each node's
# VJP directly on arrays (cross-entropy's through a kernel of its own), while the compiled backward is the
# sequence of ops listed above, and the two can round differently in the last bit of float32. The differences
# stay at that level, about $10^{-7}$, over the whole epoch.
#
# ## How much faster?
#
# The benchmark suite (`autograd_core.benchmarks`) already knows how to time a training step fairly: every
# engine starts from the same inputs, each one's first three losses and first gradients are checked against a
# float64 numpy reference before it is timed, and the timed blocks of the engines are interleaved so that load
# from other processes hits them alike. We use its pieces on this notebook's MLP: a `Workload` of kind `"mlp"`
# with our sizes, the suite's engines for autograd-core eager and PyTorch eager (the adapter imports PyTorch
# itself, and only when asked; without it the row is left out), and one engine of our own, the same step
# under `ag.compile`, with `.item()` outside the compiled function.

# %%
DIGITS_MLP = Workload("digits_mlp", "mlp", dict(sizes=(64, 32, 10), batch=BATCH), "MLP 64-32-10, Adam step")


def compiled_mlp(problem):
    """The "mlp" workload's step under ag.compile: (step, grads) as the benchmark's engines return them."""
    (w1, b1), (w2, b2) = problem["layers"]
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    for parameter, array in zip(model.parameters(), (w1, b1, w2, b2)):
        parameter.data = ag.tensor(array)
    optimizer = optim.Adam(model.parameters(), lr=problem["lr"])
    x, t = ag.tensor(problem["x"]), ag.tensor(problem["y"])

    def train_step(x, t):
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), t)
        loss.backward()
        optimizer.step()
        return loss

    compiled = ag.compile(train_step)
    return (lambda: compiled(x, t).item()), (lambda: [p.grad.numpy() for p in model.parameters()])


COMPILED = Engine("compiled", "autograd-core, ag.compile", load=lambda: "", workloads={"mlp": compiled_mlp})
problem = make_problem(DIGITS_MLP, seed=0)
problem.update(x=X[:BATCH], y=y[:BATCH])
reference = runner.reference(DIGITS_MLP, problem)

engines = {"eager": all_engines()["autograd_core"], "compiled": COMPILED, "torch": all_engines()["torch"]}
ROUNDS, STEPS_PER_BLOCK = 15, 10
with runner.ThreadPinning():  # every library on the same number of threads, as the benchmark runs them
    steps, checks = {}, {}
    for name, engine in engines.items():
        try:
            engine.load()
        except ImportError:
            print(f"{engine.label}: not installed, left out")
            continue
        steps[name], _, checks[name] = runner.checked_step(engine, DIGITS_MLP, problem, reference)
    samples = {name: [] for name in steps}
    for _ in range(ROUNDS):
        for name, step_fn in steps.items():
            gc.collect()
            start = time.perf_counter()
            for _ in range(STEPS_PER_BLOCK):
                step_fn()
            samples[name].append((time.perf_counter() - start) / STEPS_PER_BLOCK)
step_ms = {name: float(np.median(times)) * 1e3 for name, times in samples.items()}
for name, ms in step_ms.items():
    quartiles = np.percentile(samples[name], [25, 75]) * 1e3
    print(
        f"{engines[name].label:26}: {ms:6.3f} ms/step (quartiles {quartiles[0]:.3f}-{quartiles[1]:.3f}), "
        f"losses checked: {checks[name]['ok']}"
    )
speedup = step_ms["eager"] / step_ms["compiled"]
print(f"compiled step {speedup:.2f}x faster than eager")

fig, ax = plt.subplots(figsize=(6, 2.5))
labels = [engines[name].label for name in step_ms]
ax.barh(labels, list(step_ms.values()))
ax.set(xlabel=f"ms per training step (median of {ROUNDS} blocks)", title="MLP 64-32-10, batch 32, Adam")
plt.show()

# %% [markdown]
# The compiled step does the same arithmetic with the engine's per-op cost gone: no Tensor or graph node is
# made, no op is looked up by name, the backward is a list of calls instead of a walk over a graph. What is
# left is numpy's own call per op and the optimizer's kernels. PyTorch eager pays a per-op cost of its own (in
# C++, with more machinery per op than numpy). Its row is also the one that suffers most when the machine is
# shared with other work: its two threads wait on each other at every op, and a wide spread between its
# quartiles shows that waiting, not PyTorch's speed on an idle machine; `benchmarks/RESULTS.md` has the
# benchmark suite's measurements on one.
#
# ## Guards and retracing
#
# A program is only correct for the inputs it was traced with: the shapes decide which arrays the ops make,
# a module's `training` flag decides what `Dropout` and `BatchNorm` do. So every call first checks the guards
# of the programs it has (`step.traces`, up to `cache_size`, 8 by default), runs the first one whose guards
# hold, and traces a new one otherwise. We saw a new batch size make a second program. Switching a model to
# evaluation mode is another guard: an accuracy function, compiled, called in training mode, in evaluation
# mode, and in training mode again.

# %%
model = compiled_model


def accuracy(x, t):
    return (model(x).argmax(1) == t).float().mean()


compiled_accuracy = ag.compile(accuracy)
all_x, all_t = ag.tensor(X), ag.tensor(y)
retraces = {}
retraces["train mode"] = (compiled_accuracy(all_x, all_t).item(), len(compiled_accuracy.traces))
model.eval()
retraces["eval mode"] = (compiled_accuracy(all_x, all_t).item(), len(compiled_accuracy.traces))
model.train()
retraces["train mode again"] = (compiled_accuracy(all_x, all_t).item(), len(compiled_accuracy.traces))
for when, (value, programs) in retraces.items():
    print(f"{when:17}: accuracy {value:.3f}, programs cached {programs}")

# %% [markdown]
# `model.eval()` made a second program (this model has no dropout or batch norm, so the accuracy is the
# same, but the compiler cannot know that without tracing); going back to training mode found the first one
# again. Python numbers among the arguments are guarded by value (the program has them baked in), tensors by
# shape and dtype only: pass a value that changes from call to call as a tensor, not as a float.

# %%
scale_by_float = ag.compile(lambda x, s: x * s)
scale_by_tensor = ag.compile(lambda x, s: x * s)
for s in (0.5, 1.5, 2.5):
    scale_by_float(x, s)
    scale_by_tensor(x, ag.tensor(s))
programs_per_scale = {"float": len(scale_by_float.traces), "tensor": len(scale_by_tensor.traces)}
print("programs after three different scales:", programs_per_scale)

# %% [markdown]
# ## What Python does only at trace time
#
# As in `jax.jit`, Python code inside a compiled function runs when it is traced, and not again: the program
# holds the tensor work only. A `print` of a string, an `append` to a list, a global number read: all happen
# (or are read) once. The optimizer is the exception by design: `optimizer.step()` is replayed as a call, so a
# learning rate changed between calls (by hand or by a scheduler whose `step()` is in the function) is seen.

# %%
SCALE = 2.0
calls_seen = []


def scale_and_log(x):
    calls_seen.append("traced")
    return x * SCALE


compiled_scale = ag.compile(scale_and_log)
before = compiled_scale(x).numpy()
SCALE = 3.0
after = compiled_scale(x).numpy()
print(f"SCALE 2 then 3: {before} then {after}; the list holds {calls_seen}")

lr_model = make_model()
lr_optimizer = optim.Adam(lr_model.parameters(), lr=0.01)
lr_step = ag.compile(make_train_step(lr_model, lr_optimizer))
xb, tb = ag.tensor(X[:BATCH]), ag.tensor(y[:BATCH])
lr_step(xb, tb)
lr_step(xb, tb)
lr_optimizer.param_groups[0]["lr"] = 0.0
frozen_weights = lr_model[0].weight.detach().numpy().copy()
lr_step(xb, tb)
lr_zero_kept_weights = np.array_equal(frozen_weights, lr_model[0].weight.detach().numpy())
print(f"learning rate set to 0 between calls: weights unchanged {lr_zero_kept_weights}, programs {len(lr_step.traces)}")

# %% [markdown]
# The global `SCALE` was read once, at trace time: the program multiplies by 2 for good, and the list got one
# entry for two calls. (Make such a value an argument, a tensor if it changes often.) The learning rate,
# read by the replayed `Adam.step()`, took effect at the next call without a retrace.
#
# ## Fallbacks
#
# Some things a program cannot replay: Python reading a tensor's *values* (`.item()`, `bool(t)`, `.numpy()`,
# printing a tensor) could steer Python differently on the next call, and the program has no Python in it;
# hooks, custom `autograd.Function`s and `backward(create_graph=True)` run code the tracer does not see. When
# the tracer meets one, the function **falls back**: it runs eagerly from then on, correct but uncompiled,
# with one `ag.CompileFallbackWarning` that names the reason and the line. A step that logs its loss with
# `.item()` inside:

# %%
log_model = make_model()
log_optimizer = optim.Adam(log_model.parameters(), lr=0.01)
history = []


def logging_step(x, t):
    log_optimizer.zero_grad()
    loss = F.cross_entropy(log_model(x), t)
    loss.backward()
    log_optimizer.step()
    history.append(loss.item())
    return loss


logging_compiled = ag.compile(logging_step)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    for _ in range(3):
        logging_compiled(xb, tb)
fallback_warnings = [w for w in caught if issubclass(w.category, ag.CompileFallbackWarning)]
for w in fallback_warnings:
    print(f"{w.category.__name__}: {w.message}")
print("history:", np.round(history, 4))
fallback_text = logging_compiled.explain()

try:
    ag.compile(logging_step, fullgraph=True)(xb, tb)
    compile_error = None
except ag.CompileError as error:
    compile_error = str(error)
print("fullgraph=True:", compile_error)

# %% [markdown]
# One warning for three calls, the history complete (every call ran eagerly, so every `.item()` ran), and
# `explain()` says why there is no program. `fullgraph=True` turns the fallback into an `ag.CompileError`, for
# when a silent eager run would be a bug. The fix is the step of the previous sections: return the loss and
# call `.item()` on what the compiled function returned.
#
# ## Randomness
#
# A dropout mask must be new on every call, as in eager execution. The tracer records a random constructor as
# a **random call**, which the program makes again on every run, from the same generator eager code uses:
# fresh masks, and the same ones as eager code after the same `ag.manual_seed`.

# %%
ones = ag.ones(2, 8)
compiled_dropout = ag.compile(lambda v: F.dropout(v, p=0.5))
compiled_dropout(ones)  # the trace
mask_a, mask_b = compiled_dropout(ones).numpy(), compiled_dropout(ones).numpy()
ag.manual_seed(7)
replayed_mask = compiled_dropout(ones).numpy()
ag.manual_seed(7)
eager_mask = F.dropout(ones, p=0.5).numpy()
print("two calls:\n", mask_a, "\n", mask_b)
print("after manual_seed(7), compiled and eager give the same mask:", np.array_equal(replayed_mask, eager_mask))
dropout_listing = compiled_dropout.explain()

# %% [markdown]
# In the listing, `rand(...)` is the random call; the comparison with $p$ and the scaling by $1/(1-p)$ are
# ordinary ops. With dropout in the model, eager and compiled training agree step by step when both start
# every step from the same seed:

# %%
eager_dropout_model, compiled_dropout_model = make_model(dropout=0.2), make_model(dropout=0.2)
eager_dropout_step = make_train_step(eager_dropout_model)
compiled_dropout_step = ag.compile(make_train_step(compiled_dropout_model))
dropout_losses = []
for k, start in enumerate(range(0, 20 * BATCH, BATCH)):
    batch = order[start : start + BATCH]
    xb, tb = ag.tensor(X[batch]), ag.tensor(y[batch])
    ag.manual_seed(k)
    eager_value = eager_dropout_step(xb, tb).item()
    ag.manual_seed(k)
    dropout_losses.append((eager_value, compiled_dropout_step(xb, tb).item()))
dropout_losses = np.array(dropout_losses)
dropout_difference = np.abs(dropout_losses[:, 0] - dropout_losses[:, 1]).max()
print(f"20 steps with dropout 0.2: largest loss difference {dropout_difference:.1e}")

# %% [markdown]
# ## Fused elementwise kernels
#
# Replaying ops without the engine's per-op cost still leaves numpy's: each op is one call that reads its
# inputs from memory and writes a new array. The chain of the first section, 20 ops on a million float32
# numbers, makes 20 passes over 4 MB arrays, reading one and writing one each time. A loop that takes each
# element through all 20 ops before moving to the next reads $x$ once and writes the result once: a **fused
# kernel**. Here is one by hand, with Numba (which compiles the loop to machine code on its first call):


# %%
@numba.njit
def fused_chain(x, out, n_ops):
    for i in range(x.size):
        v = x[i]
        for _ in range(n_ops // 2):
            v = v * np.float32(1.0001)  # float32 constants, as numpy's float32 arrays use them
            v = v + np.float32(0.0001)
        out[i] = v
    return out


million = np.random.default_rng(0).standard_normal(1_000_000).astype(np.float32)
out = np.empty_like(million)
fused_chain(million, out, 20)  # the first call compiles
chain_ms = {
    "numpy, 20 calls": median_time(chain, million, 20, calls=5) * 1e3,
    "one fused loop": median_time(fused_chain, million, out, 20, calls=5) * 1e3,
}
fused_chain_equal = np.array_equal(fused_chain(million, out, 20), chain(million, 20))
print(", ".join(f"{k}: {v:.2f} ms" for k, v in chain_ms.items()), f"; bit for bit equal: {fused_chain_equal}")


@numba.njit
def fused_activation(x, out):
    one, zero = np.float32(1), np.float32(0)
    for i in range(x.size):
        v = x[i]
        out[i] = np.tanh(v) / (one + np.exp(-v)) + max(v, zero)
    return out


def numpy_activation(x):
    return 1 / (1 + np.exp(-x)) * np.tanh(x) + np.maximum(x, 0)


fused_activation(million, out)
activation_ms = {
    "numpy, 8 calls": median_time(numpy_activation, million, calls=5) * 1e3,
    "one fused loop": median_time(fused_activation, million, out, calls=5) * 1e3,
}
fused_activation_close = np.allclose(fused_activation(million, out), numpy_activation(million), rtol=1e-5, atol=1e-6)
print(
    "sigmoid(x) * tanh(x) + relu(x): " + ", ".join(f"{k}: {v:.2f} ms" for k, v in activation_ms.items()),
    f"; equal to float32 rounding: {fused_activation_close}",
)

# %% [markdown]
# The multiply-add chain is bound by memory traffic, and fusing it removes 19 of its 20 round trips to
# memory; the values are bit for bit those of numpy, since each element goes through the same float32
# operations in the same order. The activation is a different case: each element needs an `exp` and a `tanh`,
# which numpy computes with vectorised routines over whole arrays, while the loop calls the scalar math
# library once per element. Whether fusing pays depends on what is fused (compare the two timings above).
#
# %% [markdown]
# `ag.compile` does this to the programs it traces: chains of elementwise ops, forward and backward,
# become generated Numba loops (`FusedCall` instructions), which `explain()` lists and counts in each
# program's header ("... fused kernels"). For the activation problem above it brings its own float32
# `exp`, `tanh` and `sigmoid` (`autograd_core/compiler/vector_math.py`): Cephes' single-precision
# algorithms written as plain arithmetic and bit operations, with no call and no branch, which LLVM
# turns into vector instructions just as it does the multiply-adds. `ag.compile(fn, fuse=False)` keeps
# every op a separate numpy call, to compare; what follows reads the counts from `explain()`.


# %%
def elementwise_loss(x):
    loss = (x.sigmoid() * x.tanh() + x.relu()).sum()
    loss.backward()
    return loss


def fused_kernels(listing_text):
    return sum(int(n) for n in re.findall(r"(\d+) fused kernels", listing_text))


def instruction_count(listing_text):
    return sum(int(n) for n in re.findall(r"(\d+) instructions", listing_text))


fusion = {}
for fuse in (True, False):
    point = ag.tensor(million, requires_grad=True)
    compiled = ag.compile(elementwise_loss, fuse=fuse)
    compiled(point)
    point.grad = None
    value = compiled(point).item()
    text = compiled.explain(file=io.StringIO())  # the text, kept off the page
    fusion[fuse] = dict(
        value=value,
        grad=point.grad.numpy().copy(),
        fused=fused_kernels(text),
        instructions=instruction_count(text),
        ms=median_time(compiled, point, calls=3) * 1e3,
    )
    print(
        f"fuse={fuse!s:5}: {fusion[fuse]['instructions']} instructions, {fusion[fuse]['fused']} fused kernels, "
        f"{fusion[fuse]['ms']:.2f} ms per call (forward + backward, 1e6 elements)"
    )
fusion_same_grad = np.allclose(fusion[True]["grad"], fusion[False]["grad"], rtol=1e-5, atol=1e-6)
print(
    "the same loss and gradient either way:",
    np.isclose(fusion[True]["value"], fusion[False]["value"]),
    fusion_same_grad,
)

# %% [markdown]
# With `fuse=False` there is no fused kernel, and both programs compute the same loss and gradient. When the
# compiler fuses, the fused program has fewer instructions (one per chain instead of one per op) and makes
# fewer passes over memory; whether that makes it faster depends on the chain, as the two hand-written loops
# above showed, and the timings of the two programs answer it for this one.
#
# ## Findings
#
# - Per op of a 200-op chain on 4 numbers the engine costs more than numpy's own call (the engine's
#   per-op overhead), and that overhead is a larger share at width 4 than at width 100,000.
# - A compiled function's Python runs on its first call only (one trace); the second call replays the program
#   and returns the same values.
# - `step.explain()` of the compiled MLP step lists the forward ops, the backward as eager runs it (the
#   linear layers' and cross-entropy's fused VJP kernels, ReLU's VJP as a generated fused loop), stores 4
#   parameter gradients and replays `Adam.zero_grad()` and `Adam.step()`; its guards cover both arguments.
# - Over one epoch on the digits the compiled step's losses and weights equal the eager step's to $10^{-5}$;
#   the last, smaller batch traced a second program.
# - The compiled training step passes the benchmark's float64 loss check and is faster than the eager one
#   (median of 15 interleaved blocks).
# - `model.eval()` makes a new program and `model.train()` finds the old one; a Python float argument makes
#   one program per value, a tensor argument one in all.
# - Python side effects and globals are fixed at trace time; a learning rate changed between calls is seen by
#   the replayed `Adam.step()` without retracing.
# - A step calling `.item()` falls back to eager with exactly one `CompileFallbackWarning` naming `.item()`,
#   and `explain()` says so; with `fullgraph=True` the same step raises `ag.CompileError`.
# - Dropout in a compiled function draws a new mask on every call, the same mask as eager code after the same
#   seed (the program lists the random call), and 20 training steps with dropout agree with eager to
#   $10^{-5}$.
# - A hand-fused Numba loop computes the multiply-add chain bit for bit as numpy does, and the activation to
#   float32 rounding, but slower than numpy when it calls the scalar `exp` and `tanh`; the compiler's fused
#   program of the same activation (with its vectorizable float32 `exp` and `tanh`) has fewer instructions
#   than `fuse=False`'s, which has 0 fused kernels, and both give the same loss and gradient.

# %%
assert per_op_us[4]["engine, no grad"] > per_op_us[4]["numpy"]
assert overhead_ratio[4] > overhead_ratio[100_000]
assert compiled_affine.traced == 1 and "run 1 time(s)" in affine_listing
assert np.array_equal(first.numpy(), second.numpy())
assert ops.count("linear") == 2 and {"softmax_cross_entropy", "mean_on_one_thread"} <= set(ops)
assert sum("linear VJP (fused kernel)" in line for line in program_lines) == 2
# Unfused, the forward is exactly the model's five ops; a fusing compiler may merge the elementwise ones.
assert fused_kernels(listing) > 0 or ops[:5] == [
    "linear",
    "relu",
    "linear",
    "softmax_cross_entropy",
    "mean_on_one_thread",
]
assert len(stored_grads) == 4 and replayed == ["call Adam.zero_grad()", "call Adam.step()"]
assert any(g.startswith("A[0]._data.shape == (32, 64)") for g in guards_of(listing))
assert loss_difference < 1e-5 and weight_difference < 1e-5 and eager_losses[-1] < eager_losses[0]
assert compiled_step.traced == 2 and len(compiled_step.traces) == 2
assert checks["compiled"]["ok"] and checks["eager"]["ok"]
assert step_ms["compiled"] < step_ms["eager"]
assert [programs for _, programs in retraces.values()] == [1, 2, 2]
assert programs_per_scale == {"float": 3, "tensor": 1}
assert np.allclose(before, 2 * (x.numpy())) and np.allclose(after, before) and calls_seen == ["traced"]
assert lr_zero_kept_weights and len(lr_step.traces) == 1
assert len(fallback_warnings) == 1 and ".item()" in str(fallback_warnings[0].message) and len(history) == 3
assert "runs eagerly: .item()" in fallback_text and "0 program(s) cached" in fallback_text
assert compile_error is not None and ".item()" in compile_error
assert not np.array_equal(mask_a, mask_b) and np.array_equal(replayed_mask, eager_mask)
assert "rand(" in dropout_listing
assert dropout_difference < 1e-5
assert fused_chain_equal and fused_activation_close
assert fusion[False]["fused"] == 0 and fusion_same_grad and np.isclose(fusion[True]["value"], fusion[False]["value"])
assert fusion[True]["fused"] == 0 or fusion[True]["instructions"] < fusion[False]["instructions"]

# %% [markdown]
# ## Exercises
#
# Solutions, as a script that computes and asserts each answer: `notebooks/solutions/11_compiling_a_training_step.py`.
#
# 1. **Why does it fall back?** This step also reports its accuracy:
#    `accuracy = (logits.argmax(1).numpy() == t.numpy()).mean()` after `optimizer.step()`, returning
#    `loss, accuracy`. Compile it, find the reason for the fallback in the warning and in `explain()`, and
#    rewrite the accuracy so that the step compiles (no warning, one program) and returns the same accuracy.
# 2. **Predict the retraces.** Compile the training step of this notebook and call it on a batch of 32. Then,
#    one at a time: new digits of the same shape; a batch of 16; the batch of 32 again; the model in `eval()`
#    mode; the learning rate halved in `optimizer.param_groups`; the inputs as float64. Predict after each
#    call how many programs `step.traced` has made, then check.
# 3. **A warm-up that does not warm up.** A step sets
#    `optimizer.param_groups[0]["lr"] = 0.01 * min(1, count / 10)` from a Python counter it increments
#    itself. Show that, compiled, the learning rate stays at its traced value, and fix it with
#    `optim.lr_scheduler.LambdaLR` whose `step()` is called inside the step; check the fixed compiled run
#    against the eager one over 15 steps.
# 4. **Memory traffic.** From `explain()` of `elementwise_loss` with `fuse=False` on a vector of $n$ float32
#    numbers, count the elementwise ops of the forward and of the backward. If every op reads each of its
#    array inputs once and writes its output once (the seed gradient broadcast from one number is free), how
#    many bytes per element does one call move, against a single fused loop that reads $x$ and writes
#    $\partial L/\partial x$?
