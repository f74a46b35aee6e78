# %% [markdown]
# # 5. Optimizers
#
# Backpropagation gives the gradient; the **optimizer** decides what step to take with it. Plain gradient
# descent uses one learning rate for every parameter, which is a poor fit when the loss curves much more
# steeply in some directions than in others. Momentum smooths the steps over time; AdaGrad, RMSprop,
# AdaDelta and Adam give every parameter its own step size. This notebook watches each of them on a
# two-dimensional ill-conditioned quadratic, checks `optim`'s updates against the textbook formulas,
# plots learning-rate schedules, and compares the optimizers (and schedules) training an MLP on the digits.
#
# The test function $f(x) = 0.1x_1^2 + 2x_2^2$, its starting point and learning rates, and the update rules
# follow the project's seed notes (mantch's Zhihu article after *Dive into Deep Learning*, and the course
# slides after Qiu Xipeng's *Neural Networks and Deep Learning*).

# %%
import matplotlib.pyplot as plt
import numpy as np

import autograd_core as ag
import nn
import optim

# %% [markdown]
# ## The update rules
#
# With $g_t$ the gradient at step $t$, $\eta$ the learning rate and all state starting at zero (products,
# squares, square roots and divisions are elementwise):
#
# | optimizer | update |
# |---|---|
# | gradient descent | $x_t = x_{t-1} - \eta g_t$ |
# | momentum | $v_t = \gamma v_{t-1} + \eta g_t,\quad x_t = x_{t-1} - v_t$ |
# | AdaGrad | $s_t = s_{t-1} + g_t^2,\quad x_t = x_{t-1} - \frac{\eta}{\sqrt{s_t} + \epsilon} g_t$ |
# | RMSprop | $s_t = \gamma s_{t-1} + (1 - \gamma) g_t^2,\quad x_t = x_{t-1} - \frac{\eta}{\sqrt{s_t} + \epsilon} g_t$ |
# | AdaDelta | $s_t = \rho s_{t-1} + (1-\rho) g_t^2,\ \ g'_t = \sqrt{\frac{\Delta_{t-1} + \epsilon}{s_t + \epsilon}}\, g_t,\ \ x_t = x_{t-1} - g'_t,\ \ \Delta_t = \rho\Delta_{t-1} + (1-\rho) g'^2_t$ |
# | Adam | $v_t = \beta_1 v_{t-1} + (1-\beta_1) g_t,\ \ s_t = \beta_2 s_{t-1} + (1-\beta_2) g_t^2,\ \ x_t = x_{t-1} - \frac{\eta\, \hat v_t}{\sqrt{\hat s_t} + \epsilon}$, with $\hat v_t = \frac{v_t}{1 - \beta_1^t},\ \hat s_t = \frac{s_t}{1 - \beta_2^t}$ |
#
# AdaGrad divides by the root of *all* past squared gradients, so its steps only shrink; RMSprop and
# AdaDelta use a moving average instead; AdaDelta replaces $\eta$ by the root of a moving average of its own
# past steps; Adam combines momentum (the average $v$) with RMSprop's scaling, and corrects both averages for
# starting at zero.
#
# The same rules, written out in numpy so that we can compare them with `optim` step by step:


# %%
def textbook_step(rule, x, g, state, t, lr, gamma=0.5, rho=0.9, beta1=0.9, beta2=0.999, eps=1e-10):
    """One step of the table's rule; `state` is a dict of arrays updated in place."""
    zeros = np.zeros_like(x)
    if rule == "gradient descent":
        return x - lr * g
    if rule == "momentum":
        state["v"] = gamma * state.get("v", zeros) + lr * g
        return x - state["v"]
    if rule == "AdaGrad":
        state["s"] = state.get("s", zeros) + g**2
        return x - lr / (np.sqrt(state["s"]) + eps) * g
    if rule == "RMSprop":
        state["s"] = rho * state.get("s", zeros) + (1 - rho) * g**2
        return x - lr / (np.sqrt(state["s"]) + eps) * g
    if rule == "AdaDelta":
        state["s"] = rho * state.get("s", zeros) + (1 - rho) * g**2
        step = np.sqrt((state.get("delta", zeros) + eps) / (state["s"] + eps)) * g
        state["delta"] = rho * state.get("delta", zeros) + (1 - rho) * step**2
        return x - lr * step
    if rule == "Adam":
        state["v"] = beta1 * state.get("v", zeros) + (1 - beta1) * g
        state["s"] = beta2 * state.get("s", zeros) + (1 - beta2) * g**2
        v_hat, s_hat = state["v"] / (1 - beta1**t), state["s"] / (1 - beta2**t)
        return x - lr * v_hat / (np.sqrt(s_hat) + eps)
    raise ValueError(f"unknown rule {rule!r}")


# %% [markdown]
# ## Trajectories on $f(x) = 0.1x_1^2 + 2x_2^2$
#
# The minimum is at the origin; the function is 20 times steeper along $x_2$ than along $x_1$. Every method
# starts at $(-5, -2)$ and takes 20 steps. The `optim` optimizers run on a single tensor parameter, exactly
# as they would on a network's weights. (PyTorch's momentum keeps $v_t = \gamma v_{t-1} + g_t$ and steps by
# $\eta v_t$: the same trajectory when $\eta$ is constant. Its AdaDelta also multiplies the step by a learning
# rate, 1 by default; the eps values below are each optimizer's default.)

# %%
START, STEPS = (-5.0, -2.0), 20


def f(x):
    return 0.1 * x[0] ** 2 + 2 * x[1] ** 2


def f_gradient(x):
    return np.array([0.2 * x[0], 4 * x[1]])


def optim_trajectory(make_optimizer, steps=STEPS):
    x = ag.tensor(np.array(START), requires_grad=True)
    optimizer = make_optimizer([x])
    points = [x.detach().numpy().copy()]
    for _ in range(steps):
        optimizer.zero_grad()
        f(x).backward()
        optimizer.step()
        points.append(x.detach().numpy().copy())
    return np.array(points)


def textbook_trajectory(rule, steps=STEPS, **hyper):
    x, state, points = np.array(START), {}, [np.array(START)]
    for t in range(1, steps + 1):
        x = textbook_step(rule, x, f_gradient(x), state, t, **hyper)
        points.append(x)
    return np.array(points)


# name -> (the optim optimizer, the same rule from the table with the same hyperparameters)
METHODS = {
    "gradient descent, lr 0.4": (lambda p: optim.SGD(p, lr=0.4), ("gradient descent", dict(lr=0.4))),
    "momentum 0.5, lr 0.4": (lambda p: optim.SGD(p, lr=0.4, momentum=0.5), ("momentum", dict(lr=0.4, gamma=0.5))),
    "AdaGrad, lr 0.4": (lambda p: optim.Adagrad(p, lr=0.4), ("AdaGrad", dict(lr=0.4, eps=1e-10))),
    "AdaGrad, lr 2": (lambda p: optim.Adagrad(p, lr=2.0), ("AdaGrad", dict(lr=2.0, eps=1e-10))),
    "RMSprop 0.9, lr 0.4": (
        lambda p: optim.RMSprop(p, lr=0.4, alpha=0.9),
        ("RMSprop", dict(lr=0.4, rho=0.9, eps=1e-8)),
    ),
    "AdaDelta 0.9": (lambda p: optim.Adadelta(p, rho=0.9), ("AdaDelta", dict(lr=1.0, rho=0.9, eps=1e-6))),
    "Adam, lr 0.4": (lambda p: optim.Adam(p, lr=0.4), ("Adam", dict(lr=0.4, eps=1e-8))),
}

trajectories, textbook_gap = {}, {}
for name, (make_optimizer, (rule, hyper)) in METHODS.items():
    trajectories[name] = optim_trajectory(make_optimizer)
    textbook_gap[name] = np.abs(trajectories[name] - textbook_trajectory(rule, **hyper)).max()
    end = trajectories[name][-1]
    print(
        f"{name:26} after {STEPS} steps: x = ({end[0]:+.4f}, {end[1]:+.4f}), f = {f(end):.2e};  "
        f"largest difference from the table's formula: {textbook_gap[name]:.1e}"
    )

# %%
grid_x1, grid_x2 = np.meshgrid(np.linspace(-5.5, 2, 200), np.linspace(-2.5, 2.5, 200))
fig, axes = plt.subplots(2, 4, figsize=(18, 7), sharex=True, sharey=True)
for ax, (name, points) in zip(axes.flat, trajectories.items()):
    ax.contour(
        grid_x1, grid_x2, f((grid_x1, grid_x2)), levels=np.geomspace(0.01, 12, 12), colors="#bbbbbb", linewidths=0.8
    )
    ax.plot(points[:, 0], points[:, 1], "-o", color="tab:orange", markersize=3)
    ax.plot(0, 0, "k+", markersize=12)
    ax.set_title(name)
axes.flat[-1].axis("off")
fig.tight_layout()
plt.show()

# %% [markdown]
# What the trajectories show:
#
# - **Gradient descent** at $\eta = 0.4$ multiplies $x_2$ by $1 - 0.4 \cdot 4 = -0.6$ each step (it zig-zags
#   across the valley) and $x_1$ by $1 - 0.4 \cdot 0.2 = 0.92$ (it crawls along it). A larger rate, to speed
#   up $x_1$, makes $|1 - 4\eta| > 1$ and $x_2$ diverges, as $\eta = 0.6$ shows below.
# - **Momentum** averages the steps: the $x_2$ components, alternating in sign, cancel, while the $x_1$
#   components, all pointing the same way, add up. It gets much closer in the same 20 steps, and survives $\eta = 0.6$.
# - **AdaGrad** scales each coordinate by its own gradient history, so both move at a similar pace, but its
#   steps keep shrinking: at $\eta = 0.4$ it stalls far from the minimum; at $\eta = 2$ it gets there.
# - **RMSprop** forgets old gradients and keeps a useful step size.
# - **AdaDelta** has no learning rate: its first steps have the size $\sqrt{\epsilon} \approx 10^{-3}$ and grow
#   only as its own step history grows, so in 20 steps it barely moves.
# - **Adam** at $\eta = 0.4$ moves each coordinate by about $\eta$ per step at first (its normalised step is
#   $\approx \pm 1$), overshoots, and its momentum carries it around the minimum.

# %%
diverging = {
    name: optim_trajectory(make)[-1]
    for name, make in (
        ("gradient descent, lr 0.6", lambda p: optim.SGD(p, lr=0.6)),
        ("momentum 0.5, lr 0.6", lambda p: optim.SGD(p, lr=0.6, momentum=0.5)),
    )
}
for name, end in diverging.items():
    print(f"{name:26} after {STEPS} steps: f = {f(end):.3g}")
adadelta_moved = np.abs(trajectories["AdaDelta 0.9"][-1] - np.array(START)).max()
print(f"AdaDelta moved at most {adadelta_moved:.3f} in {STEPS} steps")

# %% [markdown]
# ## Learning-rate schedules
#
# A schedule changes the learning rate as training goes: large steps early to make progress, small steps late
# to settle into a minimum instead of bouncing around it. `optim.lr_scheduler` has PyTorch's schedules; each
# `scheduler.step()` (once per epoch, or per batch for OneCycleLR) rewrites the optimizer's learning rate.

# %%
EPOCHS = 40


def lr_curve(make_scheduler, base_lr=0.1):
    optimizer = optim.SGD([ag.zeros(1, requires_grad=True)], lr=base_lr, momentum=0.9)
    scheduler = make_scheduler(optimizer)
    rates = []
    for _ in range(EPOCHS):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return np.array(rates)


S = optim.lr_scheduler
SCHEDULES = {
    "StepLR(10, 0.5)": lambda o: S.StepLR(o, step_size=10, gamma=0.5),
    "MultiStepLR([15, 30], 0.1)": lambda o: S.MultiStepLR(o, milestones=[15, 30], gamma=0.1),
    "ExponentialLR(0.9)": lambda o: S.ExponentialLR(o, gamma=0.9),
    "CosineAnnealingLR(40)": lambda o: S.CosineAnnealingLR(o, T_max=EPOCHS),
    "warm-up 5 + cosine": lambda o: S.SequentialLR(
        o, [S.LinearLR(o, start_factor=0.1, total_iters=5), S.CosineAnnealingLR(o, T_max=EPOCHS - 5)], milestones=[5]
    ),
    "OneCycleLR(max 0.1)": lambda o: S.OneCycleLR(o, max_lr=0.1, total_steps=EPOCHS),
}
curves = {name: lr_curve(make) for name, make in SCHEDULES.items()}
fig, ax = plt.subplots(figsize=(8, 4))
for name, rates in curves.items():
    ax.plot(rates, label=name)
ax.set(xlabel="epoch", ylabel="learning rate", title="learning-rate schedules, base lr 0.1")
ax.legend(fontsize="small")
plt.show()

# %% [markdown]
# Each curve follows its closed form, e.g. cosine annealing $\eta_t = \eta_\text{min} + \tfrac12(\eta_0 -
# \eta_\text{min})(1 + \cos(\pi t / T))$ is exactly half of $\eta_0$ at $t = T/2$.

# %%
schedule_checks = {
    "StepLR at epoch 25 = 0.1 * 0.5^2": (curves["StepLR(10, 0.5)"][25], 0.025),
    "MultiStepLR at epoch 35 = 0.1 * 0.1^2": (curves["MultiStepLR([15, 30], 0.1)"][35], 1e-3),
    "ExponentialLR at epoch 10 = 0.1 * 0.9^10": (curves["ExponentialLR(0.9)"][10], 0.1 * 0.9**10),
    "cosine at T/2 = 0.05": (curves["CosineAnnealingLR(40)"][20], 0.05),
    "warm-up starts at 0.1 * 0.1": (curves["warm-up 5 + cosine"][0], 0.01),
    "OneCycle peaks at max_lr": (curves["OneCycleLR(max 0.1)"].max(), 0.1),
}
for name, (got, expected) in schedule_checks.items():
    print(f"{name:42} {got:.6f} (expected {expected:.6f})")

# %% [markdown]
# ## The same comparison, training an MLP on the digits
#
# An MLP with one hidden layer of 64 ReLU units learns the 8x8 digits (1437 for training, 360 held out for
# validation) for 10 epochs in mini-batches of 32, once per optimizer, each at a learning rate usual for it.
# Every run starts from the same initial weights and sees the batches in the same order.

# %%
digits, labels = ag.datasets.load_digits()
train_set, val_set = ag.data.random_split(ag.data.TensorDataset(digits, labels), [1437, 360], seed=0)


def train_mlp(make_optimizer, epochs=10, make_scheduler=None):
    ag.manual_seed(0)
    model = nn.MLP([64, 64, 10])
    optimizer = make_optimizer(model.parameters())
    scheduler = make_scheduler(optimizer) if make_scheduler else None
    train_loader = ag.data.DataLoader(train_set, batch_size=32, shuffle=True, seed=0)
    val_loader = ag.data.DataLoader(val_set, batch_size=360)
    return nn.utils.fit(
        model,
        nn.CrossEntropyLoss(),
        optimizer,
        train_loader,
        val_loader,
        epochs=epochs,
        scheduler=scheduler,
        progress=False,
    )


MLP_OPTIMIZERS = {
    "SGD, lr 0.05": lambda p: optim.SGD(p, lr=0.05),
    "momentum 0.9, lr 0.05": lambda p: optim.SGD(p, lr=0.05, momentum=0.9),
    "AdaGrad, lr 0.05": lambda p: optim.Adagrad(p, lr=0.05),
    "RMSprop, lr 1e-3": lambda p: optim.RMSprop(p, lr=1e-3),
    "AdaDelta": lambda p: optim.Adadelta(p),
    "Adam, lr 1e-3": lambda p: optim.Adam(p, lr=1e-3),
}
mlp_runs = {name: train_mlp(make) for name, make in MLP_OPTIMIZERS.items()}

fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(13, 4))
for name, history in mlp_runs.items():
    loss_ax.plot(history["epoch"], history["train_loss"], marker="o", markersize=3, label=name)
    acc_ax.plot(history["epoch"], history["val_accuracy"], marker="o", markersize=3, label=name)
loss_ax.set(yscale="log", xlabel="epoch", title="training loss")
acc_ax.set(xlabel="epoch", title="validation accuracy")
loss_ax.legend(fontsize="small")
plt.show()
for name, history in mlp_runs.items():
    print(
        f"{name:22} training loss after 5 epochs {history['train_loss'][4]:.3f}, "
        f"after 10 {history['train_loss'][-1]:.3f};"
        f" validation accuracy {history['val_accuracy'][-1]:.1%}"
    )

# %% [markdown]
# Every method with momentum or a per-parameter scale is well ahead of plain SGD after five epochs, and all
# of them end up classifying more than 90% of the held-out digits. The ranking among them depends on the
# learning rates chosen, which is the practical lesson: an optimizer comes with a learning rate to tune.
# AdaDelta, which hardly moved on the quadratic, does well here: its first steps, of order $\sqrt{\epsilon}
# \approx 10^{-3}$, are tiny next to $x = (-5, -2)$ but well sized for weights of order 0.1.
#
# Finally, schedules: SGD with momentum at a deliberately large learning rate (0.3) bounces around the minimum
# when the rate stays constant; decaying it (cosine annealing, or a step decay of 0.3x every 4 epochs) lets the
# same optimizer settle.


# %%
def fast_sgd(params):
    return optim.SGD(params, lr=0.3, momentum=0.9)


schedule_runs = {
    "constant": train_mlp(fast_sgd),
    "cosine": train_mlp(fast_sgd, make_scheduler=lambda o: S.CosineAnnealingLR(o, T_max=10)),
    "step": train_mlp(fast_sgd, make_scheduler=lambda o: S.StepLR(o, step_size=4, gamma=0.3)),
}
fig, ax = plt.subplots(figsize=(6, 4))
for name, history in schedule_runs.items():
    ax.plot(history["epoch"], history["train_loss"], marker="o", markersize=3, label=name)
    print(
        f"{name:9} lr per epoch {np.round(history['lr'], 3)}; final training loss {history['train_loss'][-1]:.4f}, "
        f"validation accuracy {history['val_accuracy'][-1]:.1%}"
    )
ax.set(yscale="log", xlabel="epoch", ylabel="training loss", title="SGD + momentum, lr 0.3")
ax.legend()
plt.show()

# %% [markdown]
# ## Findings
#
# - `optim`'s SGD, momentum, AdaGrad, RMSprop, AdaDelta and Adam follow the table's formulas on the quadratic
#   to $10^{-9}$.
# - In 20 steps from $(-5, -2)$: gradient descent at 0.4 leaves $x_1$ near $-0.94$ ($0.92^{20} \cdot 5$) and
#   diverges at 0.6; momentum 0.5 gets below $10^{-3}$ at 0.4 and converges at 0.6 too; AdaGrad at 0.4 stalls
#   above $f = 0.5$ while at 2 it gets below $10^{-5}$; RMSprop gets below $10^{-4}$; AdaDelta moves less than
#   0.1.
# - The schedules follow their closed forms.
# - On the digits, after 5 epochs, every optimizer with momentum or per-parameter scaling has less than 60% of
#   plain SGD's training loss, and all reach at least 90% validation accuracy after 10.
# - With SGD + momentum at lr 0.3, cosine and step decay end with less than a third of the constant rate's
#   training loss.

# %%
assert all(gap < 1e-9 for gap in textbook_gap.values()), textbook_gap
end = {name: points[-1] for name, points in trajectories.items()}
assert np.isclose(end["gradient descent, lr 0.4"][0], -5 * 0.92**STEPS)
assert f(diverging["gradient descent, lr 0.6"]) > 1e3
assert f(end["momentum 0.5, lr 0.4"]) < 1e-3 and f(diverging["momentum 0.5, lr 0.6"]) < 1e-3
assert f(end["AdaGrad, lr 0.4"]) > 0.5 and f(end["AdaGrad, lr 2"]) < 1e-5
assert f(end["RMSprop 0.9, lr 0.4"]) < 1e-4 and adadelta_moved < 0.1
assert all(np.isclose(got, expected) for got, expected in schedule_checks.values())
sgd_loss = mlp_runs["SGD, lr 0.05"]["train_loss"][4]
for name, history in mlp_runs.items():
    assert history["val_accuracy"][-1] >= 0.9, name
    if name != "SGD, lr 0.05":
        assert history["train_loss"][4] < 0.6 * sgd_loss, name
constant_loss = schedule_runs["constant"]["train_loss"][-1]
assert all(schedule_runs[name]["train_loss"][-1] < constant_loss / 3 for name in ("cosine", "step"))
