# %% [markdown]
# # 3. Activation functions and their derivatives
#
# Without a nonlinearity between them, stacked linear layers collapse into one linear map. The
# activation function supplies the nonlinearity, and its **derivative** is what every gradient flowing
# back through the layer is multiplied by (elementwise, notebook 2). A good activation is continuous,
# differentiable almost everywhere, cheap, and has a derivative that is neither too small nor too large
# over the inputs it actually sees.
#
# This notebook computes the derivatives of nine activations and two approximations of GELU with
# `autograd_core`, checks each against its closed form, plots them, and then shows two failure modes on real
# data: **saturation** (sigmoid, tanh) and **dying ReLUs**. It measures the "bias shift" that the sigmoid's
# positive outputs cause, corrects two formulas of the notes, and shows the universal approximation theorem at
# work on a 1-D function. The list of activations, their derivative table and the two GELU approximations
# follow the course notes this project grew from (after Qiu Xipeng, *Neural Networks and Deep Learning*,
# ch. 4).

# %%
import itertools
import math

import matplotlib.pyplot as plt
import numpy as np

import autograd_core as ag
import nn
import nn.functional as F
import optim

# %% [markdown]
# ## Nine activations and two approximations, with their derivatives in closed form
#
# With $\sigma(x) = 1/(1 + e^{-x})$, $\Phi$ the standard normal CDF and $\phi$ its density:
#
# | name | $f(x)$ | $f'(x)$ |
# |---|---|---|
# | sigmoid | $\sigma(x)$ | $\sigma(x)(1 - \sigma(x))$ |
# | tanh | $\tanh x$ | $1 - \tanh^2 x$ |
# | ReLU | $\max(0, x)$ | $\mathbb 1[x > 0]$ |
# | LeakyReLU ($\gamma = 0.1$) | $x$ if $x > 0$ else $\gamma x$ | $1$ if $x > 0$ else $\gamma$ |
# | PReLU ($a$ learnable, 0.25 here) | $x$ if $x > 0$ else $a x$ | $1$ if $x > 0$ else $a$; $\ \partial f/\partial a = \min(x, 0)$ |
# | ELU ($\alpha = 1$) | $x$ if $x > 0$ else $\alpha(e^x - 1)$ | $1$ if $x > 0$ else $\alpha e^x$ |
# | softplus | $\log(1 + e^x)$ | $\sigma(x)$ |
# | Swish ($\beta = 1$, also called SiLU) | $x\,\sigma(\beta x)$ | $\sigma(\beta x) + \beta x\,\sigma(\beta x)(1 - \sigma(\beta x))$ |
# | GELU | $x\,\Phi(x)$ | $\Phi(x) + x\,\phi(x)$ |
# | GELU, tanh approximation | $\tfrac12 x\big(1 + \tanh u\big)$, $u = \sqrt{2/\pi}\,(x + 0.044715x^3)$ | $\tfrac12(1 + \tanh u) + \tfrac12 x (1 - \tanh^2 u)\sqrt{2/\pi}\,(1 + 3 \cdot 0.044715 x^2)$ |
# | GELU, sigmoid approximation | $x\,\sigma(1.702x)$ | Swish's with $\beta = 1.702$ |
#
# The derivatives come from `autograd_core`: for an elementwise $f$, the gradient of $\sum_i f(x_i)$ with
# respect to $x$ is the vector of $f'(x_i)$ (the Jacobian is diagonal). The grid avoids $x = 0$, where
# ReLU and its relatives have a kink.


# %%
def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def swish_prime(x, beta):
    s = sigmoid(beta * x)
    return s + beta * x * s * (1 - s)


erf = np.vectorize(math.erf)
SQRT_2_OVER_PI = math.sqrt(2 / math.pi)


def gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x**3)))


def gelu_tanh_prime(x):
    t = np.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x**3))
    return 0.5 * (1 + t) + 0.5 * x * (1 - t**2) * SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x**2)


def normal_cdf(x):
    return 0.5 * (1 + erf(x / math.sqrt(2)))


def normal_pdf(x):
    return np.exp(-(x**2) / 2) / math.sqrt(2 * math.pi)


prelu_slope = ag.tensor(0.25, dtype=np.float64, requires_grad=True)

# name -> (the activation on Tensors, its closed form, its derivative's closed form)
ACTIVATIONS = {
    "sigmoid": (F.sigmoid, sigmoid, lambda x: sigmoid(x) * (1 - sigmoid(x))),
    "tanh": (F.tanh, np.tanh, lambda x: 1 - np.tanh(x) ** 2),
    "ReLU": (F.relu, lambda x: np.maximum(x, 0), lambda x: (x > 0) * 1.0),
    "LeakyReLU": (
        lambda t: F.leaky_relu(t, 0.1),
        lambda x: np.where(x > 0, x, 0.1 * x),
        lambda x: np.where(x > 0, 1.0, 0.1),
    ),
    "PReLU": (
        lambda t: F.prelu(t, prelu_slope),
        lambda x: np.where(x > 0, x, 0.25 * x),
        lambda x: np.where(x > 0, 1.0, 0.25),
    ),
    "ELU": (F.elu, lambda x: np.where(x > 0, x, np.expm1(x)), lambda x: np.where(x > 0, 1.0, np.exp(x))),
    "softplus": (F.softplus, lambda x: np.log1p(np.exp(x)), sigmoid),
    "Swish": (lambda t: F.swish(t, 1.0), lambda x: x * sigmoid(x), lambda x: swish_prime(x, 1.0)),
    "GELU": (F.gelu, lambda x: x * normal_cdf(x), lambda x: normal_cdf(x) + x * normal_pdf(x)),
    "GELU (tanh)": (lambda t: F.gelu(t, approximate="tanh"), gelu_tanh, gelu_tanh_prime),
    "GELU (sigmoid)": (lambda t: F.swish(t, 1.702), lambda x: x * sigmoid(1.702 * x), lambda x: swish_prime(x, 1.702)),
}

grid = np.linspace(-5, 5, 1000)  # 1000 points: 0 is not among them
values, derivatives, errors = {}, {}, {}
for name, (activation, closed_form, closed_form_prime) in ACTIVATIONS.items():
    x = ag.tensor(grid, requires_grad=True)  # float64, like the grid
    y = activation(x)
    y.sum().backward()
    values[name], derivatives[name] = y.detach().numpy(), x.grad.numpy()
    errors[name] = (
        np.abs(values[name] - closed_form(grid)).max(),
        np.abs(derivatives[name] - closed_form_prime(grid)).max(),
    )
    print(f"{name:15} max |f - closed form| = {errors[name][0]:.1e}   max |f' - closed form| = {errors[name][1]:.1e}")

# %% [markdown]
# PReLU's slope is a parameter, so `backward()` also gave its gradient: $\sum_i \partial f(x_i)/\partial a =
# \sum_i \min(x_i, 0)$.

# %%
print(
    f"dPReLU/da by backward(): {prelu_slope.grad.item():.6f};  "
    f"closed form sum(min(x, 0)): {np.minimum(grid, 0).sum():.6f}"
)

# %% [markdown]
# ### Two formulas of the notes, corrected
#
# > **The notes say** $\operatorname{ELU}(x) = x$ if $x > 0$, $\gamma_i x$ if $x \le 0$, a copy of their
# > PReLU formula (their derivative table then gives the right one). **In fact** ELU is
# > $x$ for $x > 0$ and $\gamma(e^x - 1)$ for $x \le 0$, i.e. $\max(0, x) + \min(0, \gamma(e^x - 1))$: it
# > saturates at $-\gamma$ for very negative inputs instead of growing linearly, and its derivative $\gamma e^x$ is
# > continuous at 0 when $\gamma = 1$.
#
# > **The notes say** (mantch's article) leaky ReLU is $\max(kx, 0)$ with $k$ around 0.01. **In fact** that
# > is a ReLU scaled by $k$: zero, with zero gradient, for every negative input (no leak at all) and $kx$ for
# > positive ones. Leaky ReLU is $\max(x, kx)$ for $0 < k < 1$: $x$ for positive inputs, $kx$ for negative ones.
#
# The evidence, against the library's `F.elu` and `F.leaky_relu` (which follow PyTorch):

# %%
gamma, k = 1.0, 0.01
elu_notes_first = np.where(grid > 0, grid, gamma * grid)
elu_notes_table = np.maximum(0, grid) + np.minimum(0, gamma * np.expm1(grid))
elu_library = F.elu(ag.tensor(grid), alpha=gamma).numpy()
elu_gaps = {
    "notes' first formula": np.abs(elu_notes_first - elu_library).max(),
    "notes' table formula": np.abs(elu_notes_table - elu_library).max(),
}
print({name: f"{gap:.2e}" for name, gap in elu_gaps.items()}, f"; F.elu(-5) = {elu_library[0]:.4f}")

probe = ag.tensor(np.array([-2.0, 3.0]), requires_grad=True)
F.leaky_relu(probe, k).sum().backward()
leaky_library, leaky_slopes = F.leaky_relu(probe, k).detach().numpy(), probe.grad.numpy()
leaky_notes = np.maximum(k * probe.detach().numpy(), 0)
leaky_correct = np.maximum(probe.detach().numpy(), k * probe.detach().numpy())
print(f"at x = -2 and 3: max(kx, 0) = {leaky_notes}, max(x, kx) = {leaky_correct}, F.leaky_relu = {leaky_library}")
print(f"F.leaky_relu's slopes there: {leaky_slopes} (max(kx, 0) would have 0 and {k})")

# %%
fig, axes = plt.subplots(3, 4, figsize=(15, 10), sharex=True)
for ax, name in zip(axes.flat, ACTIVATIONS):
    ax.plot(grid, values[name], label="f(x)")
    ax.plot(grid, derivatives[name], label="f'(x) by autograd")
    ax.plot(grid[::50], ACTIVATIONS[name][2](grid[::50]), "k.", label="f'(x) closed form")
    ax.axhline(0, color="grey", lw=0.5)
    ax.set(title=name, xlabel="x", ylabel="f(x), f'(x)", ylim=(-1.5, 3))
ax = axes.flat[-1]
ax.plot(grid, values["GELU (tanh)"] - values["GELU"], label="tanh approx. - GELU")
ax.plot(grid, values["GELU (sigmoid)"] - values["GELU"], label="sigmoid approx. - GELU")
ax.set(title="error of the GELU approximations", xlabel="x", ylabel="approximation - GELU(x)")
ax.legend(fontsize="small")
axes.flat[0].legend(fontsize="small")
fig.tight_layout()
plt.show()

# %% [markdown]
# What the plots show, in numbers:
#
# - the sigmoid's derivative never exceeds $1/4$ (at 0), tanh's reaches 1. A sigmoid layer therefore multiplies
#   a backpropagated gradient elementwise by at most $1/4$; the weights then multiply it again, so the gradient
#   reaching the layer below shrinks by a factor of at most $\|W\|_2/4$ ($\|W\|_2$ the largest singular value):
#   at least fourfold only when $\|W\|_2 \le 1$. Notebook 2 measures both cases; over many layers of modest
#   weights the shrinking compounds (notebook 4);
# - ReLU's derivative is exactly 1 for every positive input (no shrinking) and exactly 0 for every negative one;
# - the tanh form of GELU is a much closer approximation than $x\,\sigma(1.702x)$.

# %%
peak_derivative = {name: derivatives[name].max() for name in ("sigmoid", "tanh", "ReLU")}
gelu_error = {name: np.abs(values[name] - values["GELU"]).max() for name in ("GELU (tanh)", "GELU (sigmoid)")}
print("largest derivative:", {k: round(float(v), 4) for k, v in peak_derivative.items()})
print("largest error of the GELU approximations:", {k: f"{v:.1e}" for k, v in gelu_error.items()})

# %% [markdown]
# ## Bias shift: non-zero-centred outputs slow gradient descent
#
# The notes: *"non-zero-centred outputs shift the inputs of the next layer (bias shift) and so slow down
# gradient descent"*; tanh is zero-centred, the sigmoid's outputs are all positive. Why: a neuron of the next
# layer, $y = w^\top h + b$, gets the weight gradient $\frac{\partial L}{\partial y} h$, and when every $h_i > 0$
# all its weights' gradients have the same sign for a given sample, so they can only all grow or all shrink
# together. In terms of curvature, the mean $\bar h \approx 0.5$ in every input makes the loss's Hessian
# $\frac2N[H\ \mathbf 1]^\top[H\ \mathbf 1]$ badly conditioned (one large eigenvalue along the shared mean), and
# gradient descent needs about $\kappa$ steps.
#
# Measured: 500 samples of 10 sigmoid outputs $h = \sigma(z)$, $z \sim \mathcal N(0, 2^2)$, feed a linear neuron
# trained by full-batch gradient descent on the squared error, once as they are and once zero-centred,
# $h - \frac12 = \frac12\tanh(z/2)$ (the same information, a tanh unit's output up to scale). Each run uses its
# best fixed step, $1/\lambda_\text{max}$, and we count the steps until the loss is within 1% of the least-squares
# minimum.

# %%
shift_rng = np.random.default_rng(0)
centred_outputs = sigmoid(2 * shift_rng.standard_normal((500, 10))) - 0.5
shift_target = centred_outputs @ shift_rng.standard_normal(10) + 0.1 * shift_rng.standard_normal(500)


def steps_to_converge(inputs, max_steps=3000):
    """(condition number, gradient-descent steps until the MSE is within 1% of least squares)."""
    design = np.column_stack([inputs, np.ones(len(inputs))])
    eigenvalues = np.linalg.eigvalsh(2 / len(inputs) * design.T @ design)
    best = np.mean((design @ np.linalg.lstsq(design, shift_target, rcond=None)[0] - shift_target) ** 2)
    neuron = nn.Linear(10, 1).to(dtype=ag.float64)
    nn.init.zeros_(neuron.weight)
    nn.init.zeros_(neuron.bias)
    optimizer = optim.SGD(neuron.parameters(), lr=1 / eigenvalues.max())
    X, y = ag.tensor(inputs), ag.tensor(shift_target[:, None])
    for step in range(1, max_steps + 1):
        optimizer.zero_grad()
        loss = F.mse_loss(neuron(X), y)
        loss.backward()
        optimizer.step()
        if loss.item() <= 1.01 * best:
            return eigenvalues.max() / eigenvalues.min(), step
    return eigenvalues.max() / eigenvalues.min(), None


bias_shift = {
    "sigmoid outputs (mean 0.5)": steps_to_converge(centred_outputs + 0.5),
    "zero-centred outputs": steps_to_converge(centred_outputs),
}
for name, (kappa, steps_needed) in bias_shift.items():
    print(f"{name:27}: condition number {kappa:6.1f}, {steps_needed} steps to within 1% of the minimum")

# %% [markdown]
# The same neuron, the same data up to a shift of its inputs by $\frac12$: the shifted inputs make the problem
# about ten times worse conditioned and gradient descent about ten times slower.
#
# ## Saturation, on real data
#
# Where $|x|$ is large, the sigmoid and tanh are flat: they **saturate**, and their derivative is almost
# zero, so almost no gradient gets through. Whether that happens depends on the inputs the layer sees.
# Here the 1797 handwritten digits (8x8 images, pixels scaled to [0, 1]) go through one `nn.Linear(64, 128)`,
# once with PyTorch's default initialisation ($U(\pm 1/\sqrt{64})$) and once with a careless
# $\mathcal N(0, 1)$. We measure the activation's derivative at every unit for every digit.

# %%
digits, labels = ag.datasets.load_digits()
ag.manual_seed(0)
layer = nn.Linear(64, 128)
saturation = {}
fig, axes = plt.subplots(1, 2, figsize=(12, 3.5))
INITS = (("default init", lambda w: None), ("N(0, 1) init", lambda w: nn.init.normal_(w, std=1.0)))
for init_name, init_weights in INITS:
    init_weights(layer.weight)
    with ag.no_grad():
        pre_activation = layer(ag.tensor(digits))
    for ax, name in zip(axes, ("sigmoid", "tanh")):
        z = ag.tensor(pre_activation.numpy(), requires_grad=True)
        ACTIVATIONS[name][0](z).sum().backward()
        slope = z.grad.numpy()
        peak = 0.25 if name == "sigmoid" else 1.0
        saturation[name, init_name] = ((slope < 0.01 * peak).mean(), slope.mean() / peak)
        ax.hist((slope / peak).ravel(), bins=50, alpha=0.6, label=init_name)
        ax.set(
            title=f"{name}: f'(z) / max f' over all units and digits",
            xlabel="f'(z) / max f'",
            ylabel="number of (digit, unit) pairs",
            yscale="log",
        )
        ax.legend()
    print(f"{init_name}: pre-activations have std {pre_activation.numpy().std():.2f}")
plt.show()
for (name, init_name), (saturated, mean_slope) in saturation.items():
    print(
        f"{name:8} {init_name:13}: {saturated:6.1%} of unit activations saturated (f' < 1% of its peak), "
        f"mean f' = {mean_slope:.2f} x its peak"
    )

# %% [markdown]
# With the default initialisation the pre-activations stay near 0, where both functions are nearly linear.
# With $\mathcal N(0, 1)$ weights the pre-activations are more than ten times wider, a large share of the units sit on
# the flat tails, and the average factor that multiplies the backpropagated gradient falls by more than half.
# Careful initialisation (Xavier for sigmoid/tanh, He for ReLU) and normalisation (notebook 7) exist to keep
# layers out of this regime.
#
# ## Dying ReLUs
#
# A ReLU unit whose pre-activation is negative for **every** input outputs 0 everywhere, and since
# $\mathbb 1[x > 0] = 0$ there, its incoming weights get exactly zero gradient: nothing can bring it back.
# One large gradient step can push many units there at once. Below, a small digit classifier takes one
# epoch of SGD with a learning rate that is far too large (2.0), then three epochs with a sensible one (0.1);
# a twin takes the sensible rate throughout. A unit is *dead* when its pre-activation is $\le 0$ for all 1797
# digits.


# %%
def digit_classifier(activation):
    ag.manual_seed(0)
    return nn.Sequential(nn.Linear(64, 64), activation, nn.Linear(64, 10))


def train_epoch(model, lr):
    loader = ag.data.DataLoader(ag.data.TensorDataset(digits, labels), batch_size=32, shuffle=True, seed=0)
    optimizer = optim.SGD(model.parameters(), lr=lr)
    for inputs, targets in loader:
        optimizer.zero_grad()
        F.cross_entropy(model(inputs), targets).backward()
        optimizer.step()


def dead_units(model):
    with ag.no_grad():
        return np.flatnonzero(model[0](ag.tensor(digits)).numpy().max(axis=0) <= 0)


def accuracy(model):
    with ag.no_grad():
        return (model(ag.tensor(digits)).numpy().argmax(axis=1) == labels).mean()


dying = {}
for schedule_name, learning_rates in (("lr 0.1 throughout", [0.1] * 4), ("one epoch at lr 2.0", [2.0, 0.1, 0.1, 0.1])):
    model = digit_classifier(nn.ReLU())
    history = []
    for epoch, lr in enumerate(learning_rates):
        train_epoch(model, lr)
        history.append(len(dead_units(model)))
        if epoch == 0:
            dead_after_first_epoch = dead_units(model)
            weights_after_first_epoch = model[0].weight.detach().numpy().copy()
    frozen = np.array_equal(
        model[0].weight.detach().numpy()[dead_after_first_epoch], weights_after_first_epoch[dead_after_first_epoch]
    )
    dying[schedule_name] = {"dead per epoch": history, "accuracy": accuracy(model), "dead weights untouched": frozen}
    print(
        f"{schedule_name:20}: dead units after each epoch {history}, training accuracy {accuracy(model):.1%}; "
        f"the dead units' weights never changed again: {frozen}"
    )

# %% [markdown]
# The large step killed most of the hidden layer, and three epochs at a good learning rate revived none of
# them: their weights are bit-for-bit the same as when they died, because their gradient is exactly zero.
# The network is left training with the few survivors.
#
# A leaky ReLU keeps a small slope ($\gamma = 0.01$) for negative inputs, so the same units still receive a
# gradient. We compare the gradient reaching the weights of the units that the large step pushed below zero:


# %%
def gradient_into_negative_units(activation):
    model = digit_classifier(activation)
    train_epoch(model, 2.0)
    negative = dead_units(model)  # pre-activation <= 0 on every digit
    model.zero_grad()
    F.cross_entropy(model(ag.tensor(digits)), ag.tensor(labels)).backward()
    return len(negative), np.linalg.norm(model[0].weight.grad.numpy()[negative])


leaky = {}
for activation in (nn.ReLU(), nn.LeakyReLU(0.01)):
    leaky[type(activation).__name__] = gradient_into_negative_units(activation)
    count, norm = leaky[type(activation).__name__]
    print(
        f"{type(activation).__name__:9}: {count} units negative on every digit; "
        f"gradient norm into their weights {norm:.2e}"
    )

# %% [markdown]
# ## Universal approximation, on a 1-D function
#
# The notes state the universal approximation theorem (Cybenko 1989, Hornik et al. 1989): for a squashing
# $\varphi$ (non-constant, bounded, increasing, continuous) every continuous $f$ on a bounded closed set is
# approximated to any $\epsilon$ by $F(x) = \sum_{i=1}^m v_i\,\varphi(w_i^\top x + b_i)$, one hidden layer and a
# linear output, if the width $m$ is large enough. In one dimension the proof can be built by hand: cut the
# interval into $m$ pieces and let unit $i$ be a steep sigmoid step at the $i$-th cut, of height the change of
# $f$ across that piece; the sum is a staircase that follows $f$, and doubling $m$ halves the steps.
#
# The theorem says such weights exist, not that gradient descent finds them; so we also train the same
# one-hidden-layer sigmoid network with Adam (2000 full-batch steps) at a few widths. The target:
# $f(x) = \sin 2x + 0.2x^2$ on $[-3, 3]$.


# %%
def target_function(x):
    return np.sin(2 * x) + 0.2 * x**2


ua_grid = np.linspace(-3, 3, 400)


def staircase(width):
    """The constructive approximation: f(-3) plus `width` sigmoid steps at the midpoints of equal pieces."""
    knots = np.linspace(-3, 3, width + 1)
    heights = np.diff(target_function(knots))
    centres = (knots[:-1] + knots[1:]) / 2
    steepness = 8 * width / 6  # each step rises over about a quarter of its piece
    steps = 0.5 * (1 + np.tanh(steepness * (ua_grid[:, None] - centres) / 2))  # sigmoid, without overflow
    return target_function(-3) + (heights * steps).sum(axis=1)


def trained(width, steps=2000):
    ag.manual_seed(0)
    model = nn.Sequential(nn.Linear(1, width), nn.Sigmoid(), nn.Linear(width, 1)).to(dtype=ag.float64)
    optimizer = optim.Adam(model.parameters(), lr=0.02)
    inputs, targets = ag.tensor(ua_grid[:, None]), ag.tensor(target_function(ua_grid)[:, None])
    for _ in range(steps):
        optimizer.zero_grad()
        F.mse_loss(model(inputs), targets).backward()
        optimizer.step()
    with ag.no_grad():
        return model(inputs).numpy()[:, 0]


STAIRCASE_WIDTHS, TRAINED_WIDTHS = (4, 8, 16, 32, 64, 128), (1, 4, 16)
fits = {f"staircase, m = {m}": staircase(m) for m in STAIRCASE_WIDTHS}
fits.update({f"trained, m = {m}": trained(m) for m in TRAINED_WIDTHS})
ua_error = {name: np.abs(fit - target_function(ua_grid)).max() for name, fit in fits.items()}
for name, error in ua_error.items():
    print(f"{name:20} max |F(x) - f(x)| = {error:.3f}")

fig, (fit_ax, error_ax) = plt.subplots(1, 2, figsize=(13, 4))
fit_ax.plot(ua_grid, target_function(ua_grid), "k", lw=3, alpha=0.3, label="f(x)")
for name in ("staircase, m = 8", "staircase, m = 32", "trained, m = 4", "trained, m = 16"):
    fit_ax.plot(ua_grid, fits[name], label=name)
fit_ax.set(xlabel="x", ylabel="F(x)", title="one hidden sigmoid layer, m units")
fit_ax.legend(fontsize="small")
error_ax.loglog(STAIRCASE_WIDTHS, [ua_error[f"staircase, m = {m}"] for m in STAIRCASE_WIDTHS], "o-", label="staircase")
error_ax.loglog(TRAINED_WIDTHS, [ua_error[f"trained, m = {m}"] for m in TRAINED_WIDTHS], "s-", label="trained (Adam)")
error_ax.set(xlabel="hidden units m", ylabel="max |F(x) - f(x)| on [-3, 3]", title="error against width")
error_ax.legend()
plt.show()

# %% [markdown]
# The staircase's worst error halves each time the width doubles (it is about half the largest step of $f$
# across one piece), as the constructive proof promises: any $\epsilon$ is reached with enough units. With few
# units a trained network does better (at $m = 4$ its error is about half the staircase's), since training places
# and shapes the steps where they are needed; but the theorem gives no guarantee about training, and at
# $m = 16$ Adam's 2000 steps do no better than the staircase: the error of a trained network also depends on the
# optimizer.
#
# ## Findings
#
# - For all eleven functions, the derivative computed by `backward()` matches the closed form to $10^{-9}$
#   on a 1000-point grid over $[-5, 5]$ (and the values match too); PReLU's slope gets the gradient
#   $\sum \min(x, 0)$.
# - The notes' first ELU formula (a copy of PReLU's) differs from ELU by up to 4 on $[-5, 5]$; their table's
#   formula matches `F.elu` to $10^{-15}$. Their leaky ReLU $\max(kx, 0)$ gives 0 at $x = -2$ and $0.03$ at
#   $x = 3$, where leaky ReLU ($\max(x, kx)$, `F.leaky_relu`) gives $-0.02$ and 3, with slopes $k$ and 1.
# - The sigmoid's derivative peaks at $1/4$, tanh's at 1, ReLU's is exactly 1 for positive inputs.
# - Bias shift, measured: feeding a linear neuron sigmoid outputs (mean 1/2) instead of the same outputs
#   zero-centred raises the condition number more than fivefold, and gradient descent at its best fixed step
#   needs more than five times as many steps to come within 1% of the minimum.
# - Universal approximation: the hand-built staircase of $m$ sigmoids approximates $\sin 2x + 0.2x^2$ on
#   $[-3, 3]$ with a worst error that falls by at least a third at every doubling of $m$, below 0.05 at
#   $m = 128$; trained networks of 1, 4 and 16 units get steadily closer, the widest within 0.3, and at 4 units
#   the trained network's error is below 0.6 times the staircase's.
# - The tanh approximation of GELU is within $10^{-3}$ of the exact function, at least ten times closer than
#   $x\,\sigma(1.702x)$, itself within $0.03$.
# - On the digits, $\mathcal N(0,1)$ weights saturate a large share of tanh units (over 20%, none with the
#   default init) and cut the mean derivative of both the sigmoid and tanh layers by more than half.
# - One SGD epoch at learning rate 2.0 kills most (over 40 of 64) ReLU units, which stay dead, with weights
#   unchanged, through three more epochs at 0.1; at 0.1 throughout at most 2 are dead. The same units under a
#   leaky ReLU still receive a non-zero gradient; under ReLU it is exactly zero.

# %%
assert all(value_error < 1e-9 and slope_error < 1e-9 for value_error, slope_error in errors.values()), errors
assert np.isclose(prelu_slope.grad.item(), np.minimum(grid, 0).sum())
assert 0.2499 < peak_derivative["sigmoid"] <= 0.25 and 0.999 < peak_derivative["tanh"] <= 1.0
assert np.all(derivatives["ReLU"][grid > 0] == 1.0) and np.all(derivatives["ReLU"][grid < 0] == 0.0)
assert elu_gaps["notes' first formula"] > 3.9 and elu_gaps["notes' table formula"] < 1e-15
assert np.allclose(leaky_notes, [0.0, 0.03]) and np.allclose(leaky_library, [-0.02, 3.0])
assert np.array_equal(leaky_library, leaky_correct) and np.allclose(leaky_slopes, [k, 1.0])
(kappa_shifted, steps_shifted), (kappa_centred, steps_centred) = bias_shift.values()
assert steps_centred is not None and steps_shifted is not None
assert kappa_shifted > 5 * kappa_centred and steps_shifted > 5 * steps_centred
staircase_errors = [ua_error[f"staircase, m = {m}"] for m in STAIRCASE_WIDTHS]
assert all(b < 2 / 3 * a for a, b in itertools.pairwise(staircase_errors)) and staircase_errors[-1] < 0.05
trained_errors = [ua_error[f"trained, m = {m}"] for m in TRAINED_WIDTHS]
assert trained_errors[0] > trained_errors[1] > trained_errors[2] and trained_errors[2] < 0.3
assert ua_error["trained, m = 4"] < 0.6 * ua_error["staircase, m = 4"]
assert gelu_error["GELU (tanh)"] < 1e-3 and gelu_error["GELU (sigmoid)"] < 0.03
assert gelu_error["GELU (tanh)"] * 10 < gelu_error["GELU (sigmoid)"]
assert saturation["tanh", "default init"][0] == 0 and saturation["tanh", "N(0, 1) init"][0] > 0.2
for name in ("sigmoid", "tanh"):
    assert saturation[name, "N(0, 1) init"][1] < 0.5 * saturation[name, "default init"][1]
sensible, too_large = dying["lr 0.1 throughout"], dying["one epoch at lr 2.0"]
assert max(sensible["dead per epoch"]) <= 2
assert too_large["dead per epoch"][0] > 40 and len(set(too_large["dead per epoch"])) == 1
assert too_large["dead weights untouched"] and sensible["accuracy"] > too_large["accuracy"] + 0.2
assert leaky["ReLU"][1] == 0.0 and leaky["LeakyReLU"][0] > 0 and leaky["LeakyReLU"][1] > 0

# %% [markdown]
# ## Exercises
#
# Solutions, as a script that computes and asserts each answer: `notebooks/solutions/03_activation_functions.py`.
#
# 1. **tanh is a rescaled sigmoid.** Show that $\tanh(x) = 2\sigma(2x) - 1$, deduce $\tanh'(x) = 4\sigma'(2x)$ and
#    so $\tanh'(0) = 1$, and check both on a grid.
# 2. **Softplus, a smooth ReLU.** Show that softplus$'(x) = \sigma(x)$ and that $0 < \operatorname{softplus}(x) -
#    \operatorname{ReLU}(x) \le \log 2$, with the maximum at $x = 0$.
# 3. **Swish tends to ReLU.** Show that $\max_x |x\,\sigma(\beta x) - \operatorname{ReLU}(x)| = c/\beta$ for a
#    constant $c$; find $c$ numerically and check it for $\beta = 1, 10, 100$.
# 4. **When is ELU smooth?** Compute the one-sided derivatives of ELU at 0 with `backward()` for $\gamma = 1$ and
#    $\gamma = 2$. For which $\gamma$ is ELU differentiable at 0?
# 5. **Bias shift as a function of the shift.** With the notebook's data, compute the condition number of the
#    neuron's problem when its inputs are the zero-centred outputs plus $c$, for $c = 0, 0.25, 0.5, 1$. How does
#    it grow?
# 6. **Units for a given accuracy.** The staircase's error roughly halves as $m$ doubles. Predict the smallest
#    power of two $m$ with error below 0.01 and check it.
