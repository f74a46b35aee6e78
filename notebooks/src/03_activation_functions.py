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
# data: **saturation** (sigmoid, tanh) and **dying ReLUs**. The list of activations, their derivative table and the two GELU approximations
# follow the course notes this project grew from (after Qiu Xipeng, *Neural Networks and Deep Learning*,
# ch. 4).

# %%
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

# %%
fig, axes = plt.subplots(3, 4, figsize=(15, 10), sharex=True)
for ax, name in zip(axes.flat, ACTIVATIONS):
    ax.plot(grid, values[name], label="f(x)")
    ax.plot(grid, derivatives[name], label="f'(x) by autograd")
    ax.plot(grid[::50], ACTIVATIONS[name][2](grid[::50]), "k.", label="f'(x) closed form")
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_title(name)
    ax.set_ylim(-1.5, 3)
ax = axes.flat[-1]
ax.plot(grid, values["GELU (tanh)"] - values["GELU"], label="tanh approx. - GELU")
ax.plot(grid, values["GELU (sigmoid)"] - values["GELU"], label="sigmoid approx. - GELU")
ax.set_title("error of the GELU approximations")
ax.legend(fontsize="small")
axes.flat[0].legend(fontsize="small")
fig.tight_layout()
plt.show()

# %% [markdown]
# What the plots show, in numbers:
#
# - the sigmoid's derivative never exceeds $1/4$ (at 0), tanh's reaches 1: each sigmoid layer shrinks a
#   backpropagated gradient at least fourfold, which compounds over depth (notebook 4);
# - tanh is zero-centred, the sigmoid is not (its outputs are all positive, which shifts the next layer's
#   inputs: the "bias shift" that slows gradient descent);
# - ReLU's derivative is exactly 1 for every positive input (no shrinking) and exactly 0 for every negative one;
# - the tanh form of GELU is a much closer approximation than $x\,\sigma(1.702x)$.

# %%
peak_derivative = {name: derivatives[name].max() for name in ("sigmoid", "tanh", "ReLU")}
mean_output = {name: values[name].mean() for name in ("sigmoid", "tanh")}
gelu_error = {name: np.abs(values[name] - values["GELU"]).max() for name in ("GELU (tanh)", "GELU (sigmoid)")}
print("largest derivative:", {k: round(float(v), 4) for k, v in peak_derivative.items()})
print("mean output over a symmetric interval:", {k: round(float(v), 4) for k, v in mean_output.items()})
print("largest error of the GELU approximations:", {k: f"{v:.1e}" for k, v in gelu_error.items()})

# %% [markdown]
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
        ax.set_title(f"{name}: f'(z) / max f' over all units and digits")
        ax.set_yscale("log")
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
# ## Findings
#
# - For all eleven functions, the derivative computed by `backward()` matches the closed form to $10^{-9}$
#   on a 1000-point grid over $[-5, 5]$ (and the values match too); PReLU's slope gets the gradient
#   $\sum \min(x, 0)$.
# - The sigmoid's derivative peaks at $1/4$, tanh's at 1, ReLU's is exactly 1 for positive inputs; tanh is
#   zero-centred, the sigmoid is centred on 1/2.
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
assert abs(mean_output["tanh"]) < 1e-9 and abs(mean_output["sigmoid"] - 0.5) < 1e-9
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
