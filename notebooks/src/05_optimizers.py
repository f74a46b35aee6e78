# %% [markdown]
# # 5. Optimizers
#
# Backpropagation gives the gradient; the **optimizer** decides what step to take with it. Plain gradient
# descent uses one learning rate for every parameter, which is a poor fit when the loss curves much more
# steeply in some directions than in others. Momentum smooths the steps over time; AdaGrad, RMSprop,
# AdaDelta and Adam give every parameter its own step size. This notebook watches each of them on a
# two-dimensional ill-conditioned quadratic, checks `optim`'s updates against the textbook formulas,
# corrects the notes' Adam update, shows Adam's bias correction and RMSprop's averaging window at work, looks at
# saddle points and noisy gradients, plots learning-rate schedules, and compares the optimizers (and schedules)
# training an MLP on the digits.
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
    ax.set(title=name, xlabel="$x_1$", ylabel="$x_2$")
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
# - **AdaDelta** has no learning rate: its first step is $\sqrt{\epsilon/(s_1 + \epsilon)}\,g_1$ with
#   $s_1 = (1-\rho)g_1^2$, of size $\sqrt{\epsilon/(1-\rho)} = \sqrt{10^{-5}} \approx 3.2 \times 10^{-3}$ in
#   every coordinate (computed below), and its steps grow only as its own step history grows, so in 20 steps it
#   barely moves.
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
adadelta_first_step = np.abs(trajectories["AdaDelta 0.9"][1] - trajectories["AdaDelta 0.9"][0])
print(f"AdaDelta's first step: {adadelta_first_step} (sqrt(1e-6 / 0.1) = {np.sqrt(1e-6 / 0.1):.3e})")
print(f"AdaDelta moved at most {adadelta_moved:.3f} in {STEPS} steps")

# %% [markdown]
# ## Adam: the notes' update, and why the corrections matter
#
# > **The notes say** (the course slides) $\theta \leftarrow \theta - \frac{\varepsilon\,\hat s}{\sqrt{s}}\,g$: the
# > bias-corrected first moment $\hat s$ divided by the root of the *uncorrected first* moment $s$, times the
# > gradient once more, with no $\delta$. **In fact** (Kingma & Ba 2014; mantch's article; the table above, whose
# > names are $v$ for the first moment and $s$ for the second) the update is
# > $\theta \leftarrow \theta - \frac{\varepsilon\,\hat s}{\sqrt{\hat r} + \delta}$ in the slides' names: the
# > denominator is the root of the **bias-corrected second** moment $\hat r = r/(1 - \rho_2^t)$, plus a small
# > $\delta$, and the gradient is not multiplied in again.
#
# The next cell measures what each part of the formula does on the first step, where $s_1 = (1-\rho_1) g$,
# $r_1 = (1 - \rho_2) g^2$ and $\hat s_1 = g$, $\hat r_1 = g^2$:
#
# - the notes' rule takes the root of $s_1 = 0.1g$, which is negative wherever $g$ is: from $(-5, -2)$, where
#   $g = (-1, -8)$, its first step is NaN; even where it is defined, its step $\varepsilon g^2/\sqrt{0.1 g}$ grows
#   like $|g|^{3/2}$, so scaling the loss by 100 scales the step by 1000, where Adam's step is the same;
# - dividing by $\sqrt{r_1}$ instead of $\sqrt{\hat r_1}$ (forgetting the second correction) makes the first
#   step $1/\sqrt{1 - \rho_2} \approx 31.6$ times $\varepsilon$;
# - without $\delta$, a coordinate whose gradient is exactly 0 from the start gets $0/0$.


# %%
def adam_first_step(g, lr=0.4, beta1=0.9, beta2=0.999, correct_second=True, delta=1e-8, notes=False):
    """The first Adam update for the gradient g (state starting at zero), in one of several variants."""
    with np.errstate(invalid="ignore", divide="ignore"):
        s, r = (1 - beta1) * g, (1 - beta2) * g**2
        s_hat, r_hat = s / (1 - beta1), r / (1 - beta2)
        if notes:
            return lr * s_hat / np.sqrt(s) * g
        return lr * s_hat / (np.sqrt(r_hat if correct_second else r) + delta)


g_start, g_positive = f_gradient(np.array(START)), f_gradient(np.array([5.0, 2.0]))
x_adam = ag.tensor(np.array(START), requires_grad=True)
adam_check = optim.Adam([x_adam], lr=0.4)
f(x_adam).backward()
adam_check.step()
adam_variants = {
    "Adam (optim), from (-5, -2)": np.array(START) - x_adam.detach().numpy(),
    "Adam (formula), from (-5, -2)": adam_first_step(g_start),
    "notes' rule, from (-5, -2)": adam_first_step(g_start, notes=True),
    "notes' rule, from (5, 2)": adam_first_step(g_positive, notes=True),
    "notes' rule, from (5, 2), loss x 100": adam_first_step(100 * g_positive, notes=True),
    "Adam, from (5, 2), loss x 100": adam_first_step(100 * g_positive),
    "no correction of r, from (-5, -2)": adam_first_step(g_start, correct_second=False),
    "no delta, gradient (0, -8)": adam_first_step(np.array([0.0, -8.0]), delta=0.0),
    "Adam, gradient (0, -8)": adam_first_step(np.array([0.0, -8.0])),
}
for name, step in adam_variants.items():
    print(f"{name:38} first step {step}")

# %% [markdown]
# **Bias correction, step by step.** With a constant gradient $g = 1$ the averages start at zero and only creep
# towards 1: $v_t = 1 - \beta_1^t$ and $s_t = 1 - \beta_2^t$, so early on they are far too small, and the second
# one much more so. Dividing by $1 - \beta^t$ restores them exactly. We read `optim.Adam`'s own state
# (`exp_avg`, `exp_avg_sq`) over its first steps on the loss $L = x$ (gradient 1), and compare the step it takes
# with the uncorrected ratio $v_t/\sqrt{s_t}$:

# %%
x_bias = ag.tensor(np.array([0.0]), requires_grad=True)
adam_bias = optim.Adam([x_bias], lr=0.1)
bias_rows = []
for t in range(1, 6):
    before = x_bias.item()
    adam_bias.zero_grad()
    x_bias.sum().backward()
    adam_bias.step()
    state = adam_bias.state[x_bias]
    v, s = state["exp_avg"].item(), state["exp_avg_sq"].item()
    bias_rows.append((t, v, s, v / (1 - 0.9**t), s / (1 - 0.999**t), (before - x_bias.item()) / 0.1, v / np.sqrt(s)))
print(" t   v_t      s_t       v_hat   s_hat   step / lr   uncorrected v_t / sqrt(s_t)")
for row in bias_rows:
    print("{:2d}  {:.4f}  {:.6f}  {:.4f}  {:.4f}  {:.6f}    {:.3f}".format(*row))

# %% [markdown]
# Corrected, every step is exactly $\eta$ (the gradient is constant, so the ideal step is); uncorrected, the first
# step would be more than three times too large, because the second moment starts even closer to zero than the first.
#
# ## RMSprop averages over about $1/(1 - \gamma)$ steps
#
# mantch's article says RMSprop's $s_t$ is a weighted average of roughly the last $1/(1-\gamma)$ squared
# gradients. Unrolled, $s_t = (1-\gamma)\sum_{k \ge 0} \gamma^k g_{t-k}^2$: the weights decay geometrically, and
# the most recent $n = 1/(1-\gamma)$ of them add up to $1 - \gamma^{n} \approx 1 - 1/e \approx 63\%$. Equivalently,
# after a jump of the gradient from 0 to 1, $s_t = 1 - \gamma^t$ reaches $1 - 1/e$ after about $1/(1 - \gamma)$
# steps. We measure that step count on `optim.RMSprop`'s own `square_avg`:

# %%
window = {}
for gamma in (0.9, 0.99, 0.999):
    x_window = ag.tensor(np.array([0.0]), requires_grad=True)
    rmsprop = optim.RMSprop([x_window], lr=1e-3, alpha=gamma)
    t = 0
    while rmsprop.state[x_window].get("square_avg", ag.zeros(1)).item() < 1 - np.exp(-1):
        rmsprop.zero_grad()
        x_window.sum().backward()
        rmsprop.step()
        t += 1
    window[gamma] = t
    print(f"gamma = {gamma}: s_t reaches 1 - 1/e after {t} steps; 1/(1 - gamma) = {1 / (1 - gamma):.0f}")

# %% [markdown]
# ## Saddle points and noisy gradients
#
# mantch's article: in high dimension a point of zero gradient is far more likely a **saddle** (curving up in some
# directions, down in others) than a local minimum, and the plateau around a saddle slows learning. Flip the sign
# of the steep direction of the notes' quadratic and add a quartic term to keep it bounded below:
#
# $$f_\text{saddle}(x) = 0.1x_1^2 - 2x_2^2 + x_2^4,$$
#
# a saddle at the origin ($f = 0$) between two minima at $x = (0, \pm 1)$ ($f = -1$). Started exactly on the
# ridge line $x_2 = 0$, gradient descent never sees a reason to leave it: the $x_2$ component of the gradient is
# exactly 0, and it converges to the saddle, where the gradient vanishes as at a minimum. Started a hair off it
# ($x_2 = 10^{-6}$), it escapes, but only after the plateau: the distance from the ridge grows by $1 + 4\eta$ per
# step. A little noise in the gradient (as mini-batches give) is enough to leave the ridge.


# %%
def f_saddle(x):
    return 0.1 * x[0] ** 2 - 2 * x[1] ** 2 + x[1] ** 4


def saddle_run(make_optimizer, start, steps=300, noise=0.0, seed=0):
    """The points visited; `noise` adds N(0, noise^2) to every gradient component."""
    noise_rng = np.random.default_rng(seed)
    x = ag.tensor(np.array(start), requires_grad=True)
    optimizer = make_optimizer([x])
    points = []
    for _ in range(steps):
        optimizer.zero_grad()
        f_saddle(x).backward()
        if noise:
            x.grad = x.grad + ag.tensor(noise * noise_rng.standard_normal(2))
        optimizer.step()
        points.append(x.detach().numpy().copy())
    return np.array(points)


def escape_step(points):
    """The first step after which |x2| > 0.9 (near a minimum), or None."""
    away = np.flatnonzero(np.abs(points[:, 1]) > 0.9)
    return int(away[0]) + 1 if len(away) else None


RIDGE, OFF_RIDGE = (-1.0, 0.0), (-1.0, 1e-6)
saddle = {
    "GD 0.1, on the ridge": saddle_run(lambda p: optim.SGD(p, lr=0.1), RIDGE),
    "GD 0.1, on the ridge, noise 0.01": saddle_run(lambda p: optim.SGD(p, lr=0.1), RIDGE, noise=0.01),
    "GD 0.1, 1e-6 off the ridge": saddle_run(lambda p: optim.SGD(p, lr=0.1), OFF_RIDGE),
    "momentum 0.9, 1e-6 off": saddle_run(lambda p: optim.SGD(p, lr=0.1, momentum=0.9), OFF_RIDGE),
    "Adam 0.1, 1e-6 off": saddle_run(lambda p: optim.Adam(p, lr=0.1), OFF_RIDGE),
}
fig, ax = plt.subplots(figsize=(7, 4))
for name, points in saddle.items():
    values = f_saddle(points.T)
    ax.plot(range(1, len(values) + 1), values, label=name)
    print(f"{name:34} f after {len(values)} steps {values[-1]:+.2e}; |x2| > 0.9 after {escape_step(points)} steps")
ax.set(
    xlabel="step", ylabel=r"$f_\mathrm{saddle}(x)$", title="leaving the saddle of 0.1 x1² - 2 x2² + x2⁴, from x1 = -1"
)
ax.legend(fontsize="small")
plt.show()

# %% [markdown]
# Exactly on the ridge, gradient descent settles on the saddle ($f \to 0$, $x_2$ stays exactly 0); noise of
# standard deviation 0.01 takes it to a minimum. A millionth off the ridge, gradient descent spends its first few
# dozen steps on the plateau; momentum, which accumulates the growing $x_2$ component, and Adam, whose first steps have the size
# $\eta$ in every coordinate however small the gradient, leave sooner.
#
# **Noise near a minimum.** The same noise that helps at a saddle keeps SGD from settling at a minimum. With
# gradients $g + \sigma\xi$ ($\xi$ standard normal) and a constant step $\eta$, each coordinate of the notes'
# quadratic ($f = \sum_i \frac{h_i}{2}x_i^2$, $h = (0.2, 4)$) becomes $x \leftarrow (1 - \eta h)x - \eta\sigma\xi$,
# whose variance settles at $\eta\sigma^2/(h(2 - \eta h))$: the loss hovers at
#
# $$\mathbb E[f] = \sum_i \frac{\eta\sigma^2}{2(2 - \eta h_i)} \approx \frac{\eta\sigma^2}{2} \cdot (\text{number of coordinates}),$$
#
# proportional to $\eta$. A smaller step lowers that floor but takes longer to get there; a decaying step,
# $\eta_t = 0.1/(1 + t/100)$, gets both. We run 1000 independent noisy runs at once (a $(1000, 2)$ parameter) with
# $\sigma = 1$ and average $f$ over the runs and over the last 200 of 2000 steps.


# %%
def noisy_sgd(lr_at, steps=2000, runs=1000, noise=1.0, seed=0):
    """Mean of f over `runs` parallel noisy SGD runs and over the last 200 steps."""
    noise_rng = np.random.default_rng(seed)
    x = ag.tensor(np.tile(START, (runs, 1)), requires_grad=True)
    optimizer = optim.SGD([x], lr=lr_at(0))
    tail = []
    for t in range(steps):
        optimizer.param_groups[0]["lr"] = lr_at(t)
        optimizer.zero_grad()
        (0.1 * x[:, 0] ** 2 + 2 * x[:, 1] ** 2).sum().backward()
        x.grad = x.grad + ag.tensor(noise * noise_rng.standard_normal((runs, 2)))
        optimizer.step()
        if t >= steps - 200:
            tail.append(f(x.detach().numpy().T).mean())
    return float(np.mean(tail))


def noise_floor(lr, noise=1.0):
    return sum(lr * noise**2 / (2 * (2 - lr * h)) for h in (0.2, 4.0))


noisy = {
    "constant 0.1": noisy_sgd(lambda t: 0.1),
    "constant 0.02": noisy_sgd(lambda t: 0.02),
    "0.1 / (1 + t/100)": noisy_sgd(lambda t: 0.1 / (1 + t / 100)),
}
for name, value in noisy.items():
    print(f"{name:18} mean f at the end {value:.4f}", end="")
    print(f"   (predicted floor {noise_floor(float(name.split()[1])):.4f})" if name.startswith("constant") else "")

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
loss_ax.set(yscale="log", xlabel="epoch", ylabel="training loss (cross-entropy)", title="training loss")
acc_ax.set(xlabel="epoch", ylabel="fraction of validation digits correct", title="validation accuracy")
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
# AdaDelta, which hardly moved on the quadratic, does well here: its first steps, about $3 \times 10^{-3}$, are
# tiny next to $x = (-5, -2)$ but well sized for weights of order 0.1.
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
#   above $f = 0.5$ while at 2 it gets below $10^{-5}$; RMSprop gets below $10^{-4}$; AdaDelta's first step is
#   $\sqrt{10^{-6}/0.1} \approx 3.2 \times 10^{-3}$ in both coordinates and it moves less than 0.1 in all.
# - **The notes' Adam update is wrong**: from $(-5, -2)$ its first step is NaN (the root of a negative first
#   moment), and from $(5, 2)$ scaling the loss by 100 scales its step by 1000; Adam's first step is $\eta$ per
#   coordinate either way (`optim.Adam` agrees). Without correcting $r$ the first step is 31.6 times too large;
#   without $\delta$ a zero gradient gives NaN.
# - With a constant gradient, `optim.Adam`'s state is $v_t = 1 - 0.9^t$, $s_t = 1 - 0.999^t$, and each corrected
#   step is $\eta$ (to $10^{-6}$), where the uncorrected ratio starts at 3.16.
# - RMSprop's $s_t$ reaches $1 - 1/e$ of a new gradient level after $1/(1-\gamma)$ steps (10, 100, 1000).
# - On $0.1x_1^2 - 2x_2^2 + x_2^4$ gradient descent started on the ridge converges to the saddle ($x_2$ stays 0,
#   $f$ within $10^{-5}$ of 0); gradient noise of 0.01 takes it to a minimum ($f < -0.99$); from $10^{-6}$ off
#   the ridge momentum and Adam reach $|x_2| > 0.9$ in fewer steps than gradient descent.
# - Noisy SGD on the notes' quadratic hovers at the predicted floor $\sum_i \eta\sigma^2/(2(2 - \eta h_i))$ (within
#   10%), five times lower at $\eta = 0.02$ than at 0.1; the decaying step ends below both.
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
assert np.allclose(adadelta_first_step, np.sqrt(1e-6 / 0.1), rtol=1e-3)
assert np.all(np.isnan(adam_variants["notes' rule, from (-5, -2)"]))
assert np.allclose(
    adam_variants["notes' rule, from (5, 2), loss x 100"], 1000 * adam_variants["notes' rule, from (5, 2)"]
)
assert np.allclose(adam_variants["Adam (optim), from (-5, -2)"], [-0.4, -0.4], rtol=1e-6)
assert np.allclose(adam_variants["Adam (formula), from (-5, -2)"], adam_variants["Adam (optim), from (-5, -2)"])
assert np.allclose(adam_variants["Adam, from (5, 2), loss x 100"], [0.4, 0.4], rtol=1e-6)
assert np.allclose(adam_variants["no correction of r, from (-5, -2)"], -0.4 / np.sqrt(1e-3), rtol=1e-6)
assert np.isnan(adam_variants["no delta, gradient (0, -8)"][0]) and adam_variants["Adam, gradient (0, -8)"][0] == 0
for t, v, s, v_hat, s_hat, step, _ in bias_rows:
    assert np.isclose(v, 1 - 0.9**t) and np.isclose(s, 1 - 0.999**t) and np.isclose(v_hat, 1) and np.isclose(s_hat, 1)
    assert abs(step - 1) < 1e-6
assert np.isclose(bias_rows[0][-1], 0.1 / np.sqrt(1e-3))
assert window == {0.9: 10, 0.99: 100, 0.999: 1000}
on_ridge = saddle["GD 0.1, on the ridge"]
assert np.all(on_ridge[:, 1] == 0) and abs(f_saddle(on_ridge[-1])) < 1e-5
assert f_saddle(saddle["GD 0.1, on the ridge, noise 0.01"][-1]) < -0.99
gd_escape = escape_step(saddle["GD 0.1, 1e-6 off the ridge"])
assert gd_escape is not None
assert (
    escape_step(saddle["momentum 0.9, 1e-6 off"]) < gd_escape and escape_step(saddle["Adam 0.1, 1e-6 off"]) < gd_escape
)
for lr in (0.1, 0.02):
    assert abs(noisy[f"constant {lr}"] / noise_floor(lr) - 1) < 0.1, (lr, noisy[f"constant {lr}"])
assert noisy["constant 0.02"] < noisy["constant 0.1"] / 4 and noisy["0.1 / (1 + t/100)"] < noisy["constant 0.02"]
assert all(np.isclose(got, expected) for got, expected in schedule_checks.values())
sgd_loss = mlp_runs["SGD, lr 0.05"]["train_loss"][4]
for name, history in mlp_runs.items():
    assert history["val_accuracy"][-1] >= 0.9, name
    if name != "SGD, lr 0.05":
        assert history["train_loss"][4] < 0.6 * sgd_loss, name
constant_loss = schedule_runs["constant"]["train_loss"][-1]
assert all(schedule_runs[name]["train_loss"][-1] < constant_loss / 3 for name in ("cosine", "step"))

# %% [markdown]
# ## Exercises
#
# Solutions, as a script that computes and asserts each answer: `notebooks/solutions/05_optimizers.py`.
#
# 1. **Momentum's stability region.** On one coordinate of $0.1x_1^2 + 2x_2^2$ with curvature $h$, momentum
#    ($v_t = \gamma v_{t-1} + \eta g_t$, $x_t = x_{t-1} - v_t$) is a linear recurrence in $(x_t, x_{t-1})$. Show
#    that it converges exactly when $0 < \eta h < 2(1 + \gamma)$, so that for $\gamma = 0.5$ the largest stable
#    learning rate is $0.75$; check $\eta = 0.74$ and $0.76$ with `optim.SGD`.
# 2. **Gradient descent's best fixed step.** Show that on this quadratic the step minimising the worst
#    per-coordinate contraction $\max_i |1 - \eta h_i|$ is $\eta^* = 2/(h_\text{min} + h_\text{max})$, with
#    contraction $(\kappa - 1)/(\kappa + 1)$; compute both and check the contraction numerically.
# 3. **AdaGrad's shrinking steps.** With a constant gradient, show that AdaGrad's $t$-th step is
#    $\eta/\sqrt t$ (ignoring $\epsilon$), so that after $T$ steps it has moved about $2\eta\sqrt T$. Check with
#    `optim.Adagrad`.
# 4. **Adam ignores the scale of the gradient.** Show that Adam's first step is $\eta\,\operatorname{sign}(g)$ when
#    $|g| \gg \epsilon$, whatever the scale of $g$, and find the gradient size below which $\epsilon$ matters.
# 5. **AdaDelta's first step.** Show that it is $\sqrt{\epsilon/(1-\rho)}$ in every coordinate with
#    $|g| \gg \sqrt\epsilon$, and check with `optim.Adadelta` for $\rho = 0.9$ and $0.99$.
# 6. **The averaging window.** Compute the share of the weight that RMSprop's $s_t$ gives to its most recent
#    $1/(1-\gamma)$ squared gradients for $\gamma = 0.9, 0.99, 0.999$, and its limit as $\gamma \to 1$.
