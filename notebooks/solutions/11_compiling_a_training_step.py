"""Solutions to the exercises of notebook 11 (compiling a training step): each answer computed and asserted."""

import io
import re
import warnings

import numpy as np

import autograd_core as ag
import nn
import nn.functional as F
import optim

X, y = ag.datasets.load_digits()
BATCH = 32


def make_model(seed=0):
    ag.manual_seed(seed)
    return nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))


def batch(start, size=BATCH, dtype=None):
    inputs = X[start : start + size]
    return ag.tensor(inputs if dtype is None else inputs.astype(dtype)), ag.tensor(y[start : start + size])


# Exercise 1: `.numpy()` hands the tensor's values to Python; the program has no Python to replay, so the whole
# function runs eagerly. The accuracy written with tensor ops (argmax, ==, float, mean) is recorded like any op.
def step_with_accuracy(accuracy_of):
    model = make_model()
    optimizer = optim.Adam(model.parameters(), lr=0.01)

    def train_step(x, t):
        optimizer.zero_grad()
        logits = model(x)
        loss = F.cross_entropy(logits, t)
        loss.backward()
        optimizer.step()
        return loss, accuracy_of(logits, t)

    return train_step


def numpy_accuracy(logits, t):
    return (logits.argmax(1).numpy() == t.numpy()).mean()


def tensor_accuracy(logits, t):
    return (logits.argmax(1) == t).float().mean()


results = {}
for name, accuracy_of in (("numpy", numpy_accuracy), ("tensor", tensor_accuracy)):
    compiled = ag.compile(step_with_accuracy(accuracy_of))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        accuracies = [float(compiled(*batch(32 * k))[1]) for k in range(5)]
    explained = compiled.explain(file=io.StringIO())
    results[name] = dict(
        accuracies=accuracies,
        warnings=[str(w.message) for w in caught if issubclass(w.category, ag.CompileFallbackWarning)],
        programs=len(compiled.traces),
        explained=explained,
    )
assert len(results["numpy"]["warnings"]) == 1 and ".numpy()" in results["numpy"]["warnings"][0]
assert "runs eagerly: .numpy()" in results["numpy"]["explained"] and results["numpy"]["programs"] == 0
assert results["tensor"]["warnings"] == [] and results["tensor"]["programs"] == 1
assert np.allclose(results["numpy"]["accuracies"], results["tensor"]["accuracies"], atol=1e-6)
print("Exercise 1:", results["numpy"]["warnings"][0].split(": ", 1)[1])
print("            fixed: one program, accuracies", np.round(results["tensor"]["accuracies"], 3))

# Exercise 2: a program is reused when every guard holds: same shapes and dtypes of the arguments and of the
# state read, same training flags, same grad mode. Values never count, and the learning rate is read by the
# replayed Adam.step(), not baked into the program.
model = make_model()
optimizer = optim.Adam(model.parameters(), lr=0.01)


def train_step(x, t):
    optimizer.zero_grad()
    loss = F.cross_entropy(model(x), t)
    loss.backward()
    optimizer.step()
    return loss


def halve_lr():
    optimizer.param_groups[0]["lr"] /= 2


step = ag.compile(train_step)
changes = [
    ("a batch of 32", lambda: None, lambda: batch(0), 1),
    ("new digits, same shape", lambda: None, lambda: batch(32), 1),
    ("a batch of 16", lambda: None, lambda: batch(64, 16), 2),
    ("the batch of 32 again", lambda: None, lambda: batch(96), 2),
    ("model.eval()", model.eval, lambda: batch(96), 3),
    ("learning rate halved", halve_lr, lambda: batch(96), 3),
    ("float64 inputs", lambda: None, lambda: batch(96, dtype=np.float64), 4),
]
for label, change, inputs, predicted in changes:
    change()
    step(*inputs())
    assert step.traced == predicted, f"{label}: {step.traced} traces, predicted {predicted}"
    print(f"Exercise 2: {label:24} -> {step.traced} program(s) traced")


# Exercise 3: the counter and the assignment to param_groups are Python, run once while tracing: the compiled
# step keeps the first warm-up learning rate (0.001) for good. A scheduler's step() is a replayed call, so
# LambdaLR's warm-up advances on every compiled call exactly as in eager execution.
def warmup_by_hand():
    model = make_model()
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    count = [0]

    def train_step(x, t):
        count[0] += 1
        optimizer.param_groups[0]["lr"] = 0.01 * min(1, count[0] / 10)
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), t)
        loss.backward()
        optimizer.step()
        return loss

    return train_step, optimizer


def warmup_by_scheduler():
    model = make_model()
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    scheduler = optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: min(1, (epoch + 1) / 10))

    def train_step(x, t):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), t)
        loss.backward()
        optimizer.step()
        scheduler.step()
        return loss

    return train_step, optimizer


def run(make_step, compiled, steps=15):
    """The losses and learning rates of `steps` steps (the learning rate used by each step)."""
    train_step, optimizer = make_step()
    if compiled:
        train_step = ag.compile(train_step)
    losses, rates = [], []
    for k in range(steps):
        losses.append(train_step(*batch(32 * k)).item())
        rates.append(optimizer.param_groups[0]["lr"])
    return np.array(losses), np.array(rates)


by_hand = {compiled: run(warmup_by_hand, compiled) for compiled in (False, True)}
by_scheduler = {compiled: run(warmup_by_scheduler, compiled) for compiled in (False, True)}
assert np.isclose(by_hand[False][1][-1], 0.01) and np.allclose(by_hand[True][1], 0.001)
assert not np.allclose(by_hand[False][0], by_hand[True][0], atol=1e-4)
assert np.allclose(by_scheduler[False][0], by_scheduler[True][0], atol=1e-5)
assert np.allclose(by_scheduler[False][1], by_scheduler[True][1])
print(f"Exercise 3: by hand, compiled lr stays {by_hand[True][1][-1]:g} (eager reaches {by_hand[False][1][-1]:g});")
print(
    "            with LambdaLR the compiled losses equal eager's to "
    f"{np.abs(by_scheduler[False][0] - by_scheduler[True][0]).max():.1e}"
)


# Exercise 4: the unfused program, read from explain(): every instruction whose result has the vector's shape
# is one elementwise pass (the broadcast_to of the seed gradient is a view of one number: reading it is free).
# Each pass reads its array arguments and writes its result; the sum reads one vector; storing the gradient
# (`.grad +=`) reads and writes one.
# A fused loop reads x and writes the gradient: 8 bytes per element.
def elementwise_loss(x):
    loss = (x.sigmoid() * x.tanh() + x.relu()).sum()
    loss.backward()
    return loss


n = 100_000
compiled = ag.compile(elementwise_loss, fuse=False)
compiled(ag.tensor(np.ones(n, np.float32), requires_grad=True))
listing = [line.strip() for line in compiled.explain(file=io.StringIO()).splitlines() if line.startswith("  v")]
size_of = {"float32": 4, "bool": 1}
value_bytes = {}
for line in listing:
    target, dtype = re.match(r"(v\d+) = .*# (\w+)\[", line).groups()
    value_bytes[target] = size_of[dtype] if f"[{n}]" in line and "broadcast_to" not in line else 0
passes = {"forward": 0, "backward": 0}
bytes_per_element = 0
backward_started = False
for line in listing:
    target, operation = re.match(r"(v\d+) = (\w+)", line).groups()
    backward_started = backward_started or operation == "constant"
    arguments = re.findall(r"\bv\d+\b", line.split(" = ", 1)[1].split("#")[0])
    if operation in ("input", "constant", "reshape", "broadcast_to"):
        continue
    bytes_per_element += sum(value_bytes[v] for v in arguments) + value_bytes[target]
    if value_bytes[target]:
        passes["backward" if backward_started else "forward"] += 1
bytes_per_element += 4 + 4  # the gradient stored: .grad += reads and writes it
fused_bytes_per_element = 4 + 4
assert passes == {"forward": 5, "backward": 7}
assert bytes_per_element / fused_bytes_per_element > 10
print(
    f"Exercise 4: {passes['forward']} elementwise passes forward, {passes['backward']} backward; "
    f"{bytes_per_element} bytes per element ({bytes_per_element * n / 1e6:.1f} MB for n = {n:,}) against "
    f"{fused_bytes_per_element} fused: {bytes_per_element / fused_bytes_per_element:.0f}x the traffic"
)
