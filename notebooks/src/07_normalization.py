# %% [markdown]
# # 7. Normalization
#
# Standardizing a set of numbers (subtract the mean, divide by the standard deviation) puts them on a common
# scale. Done to a network's **inputs**, it makes gradient descent well conditioned; done **inside** the
# network (BatchNorm, LayerNorm), it keeps every layer's activations, and therefore its gradients, at a
# healthy scale however deep the network is. This notebook works the arithmetic by hand, then measures both
# effects.
#
# The worked example and the account of why normalization helps against unstable values and vanishing or
# exploding gradients follow the project's seed notes (a CSDN course post on standardization; mantch's Zhihu
# article after *Dive into Deep Learning*).

# %%
import matplotlib.pyplot as plt
import numpy as np

import autograd_core as ag
import nn
import nn.functional as F
import optim

# %% [markdown]
# ## Standardizing $[100, 50, 10, 5, 1]$ step by step
#
# $$\mu = \frac1n \sum_i x_i, \qquad \sigma^2 = \frac1n \sum_i (x_i - \mu)^2, \qquad \hat x_i = \frac{x_i - \mu}{\sigma}.$$

# %%
x = np.array([100.0, 50.0, 10.0, 5.0, 1.0])
mean = x.sum() / len(x)
deviations = x - mean
variance = (deviations**2).sum() / len(x)
std = np.sqrt(variance)
standardized = deviations / std
print(f"mean       mu      = {x.sum():.0f} / 5 = {mean:.1f}")
print(f"deviations x - mu  = {deviations}")
print(f"squares            = {deviations**2}")
print(f"variance   sigma^2 = {(deviations**2).sum():.2f} / 5 = {variance:.2f}")
print(f"std        sigma   = {std:.4f}")
print(f"standardized       = {np.round(standardized, 4)}")
print(f"its mean {standardized.mean():.1e} and standard deviation {standardized.std():.4f}")

# %% [markdown]
# > **The notes say** $\sigma^2 = \frac15\sum_i (x_i - \mu)^2 = 1600.16$, $\sigma \approx 40$, and standardized
# > values $[1.67, 0.42, -0.58, -0.71, -0.81]$. **In fact** the squared deviations above add up to $7114.8$, so
# > $\sigma^2 = 1422.96$ and $\sigma \approx 37.72$; 1600.16 is not the sample ($n - 1$) variance either, which is
# > $1778.70$. The standardized values are $[1.77, 0.45, -0.62, -0.75, -0.85]$.

# %%
population_variance = np.var(x)  # divides by n, as the notes' formula
sample_variance = np.var(x, ddof=1)  # divides by n - 1 (Bessel's correction; PyTorch's default for var)
notes_standardized = (x - 33.2) / 40
print(f"variance dividing by n: {population_variance:.2f}; by n - 1: {sample_variance:.2f}; the notes: 1600.16")
print(
    f"with the notes' sigma = 40: {np.round(notes_standardized, 2)}; its standard deviation {notes_standardized.std():.4f}"
)

# %% [markdown]
# > **The notes say** standardizing makes the data "distributed symmetrically around 0", "compresses large values
# > and expands small ones", and so makes the distribution "more even". **In fact** standardization is an affine
# > map, $\hat x = (x - \mu)/\sigma$: every value is shifted by the same $\mu$ and divided by the same $\sigma$. It
# > keeps the order of the values, the ratios of their differences and the **shape** of the distribution: a skewed
# > sample stays exactly as skewed (its skewness $\frac1n\sum \hat x_i^3$ is unchanged), an outlier stays as
# > far out in units of $\sigma$. Only the origin and the unit change. (Making a distribution symmetric takes a
# > non-linear map, e.g. a logarithm.)
#
# Measured on the notes' five numbers and on 10 000 draws from an exponential distribution (skewness 2):


# %%
def skewness(values):
    centred = values - values.mean()
    return (centred**3).mean() / (centred**2).mean() ** 1.5


exponential_sample = np.random.default_rng(0).exponential(size=10_000)
shape_check = {}
for name, values in (("[100, 50, 10, 5, 1]", x), ("exponential sample", exponential_sample)):
    standardized_values = (values - values.mean()) / values.std()
    shape_check[name] = (skewness(values), skewness(standardized_values), skewness(np.log(values)))
    print(
        f"{name:20} skewness before {shape_check[name][0]:+.4f}, after standardizing {shape_check[name][1]:+.4f}"
        f"  (after a log instead: {shape_check[name][2]:+.4f})"
    )
gaps_before = np.diff(np.sort(x))
gaps_after = np.diff(np.sort(standardized))
print(
    f"gaps between sorted values, divided by sigma: {np.round(gaps_before / std, 4)}; after: {np.round(gaps_after, 4)}"
)

# %% [markdown]
# The same computation with tensors,
# where `var` divides by $n - 1$ unless told `correction=0` (PyTorch's default, Bessel's correction),
# and as `nn.LayerNorm` (which standardizes the last axis, adding $\epsilon = 10^{-5}$ to the variance and,
# until trained, an identity affine map):

# %%
t = ag.tensor(x)
by_tensor_ops = ((t - t.mean()) / t.var(correction=0).sqrt()).numpy()  # population variance, as above
by_layer_norm = nn.LayerNorm(5)(ag.tensor(x[None, :])).detach().numpy()[0]
print("tensor ops :", np.round(by_tensor_ops, 4))
print("LayerNorm  :", np.round(by_layer_norm, 4))
ratio_before = (x[0] - x[1]) / (x[1] - x[2])
ratio_after = (standardized[0] - standardized[1]) / (standardized[1] - standardized[2])
print(f"(x1 - x2) / (x2 - x3): {ratio_before:.4f} before, {ratio_after:.4f} after")

# %% [markdown]
# ## Why standardize the inputs: conditioning
#
# Take a linear regression with two features on very different scales, say a fraction in $[0, 1]$ and a
# count in $[0, 100]$, and the mean squared error. Its Hessian is $\frac2n X^\top X$ (with a column of ones
# for the bias): the large feature makes the loss thousands of times steeper in its direction. As on the
# quadratic of notebook 5, gradient descent must use a step small enough for the steepest direction
# ($\eta < 2/\lambda_\text{max}$) and then crawls along the flattest one: it needs about
# $\kappa = \lambda_\text{max}/\lambda_\text{min}$ steps. Standardizing each feature makes $\kappa$ close to 1.

# %%
rng = np.random.default_rng(0)
n = 500
features = np.column_stack([rng.uniform(0, 1, n), rng.uniform(0, 100, n)])
target = 3.0 * features[:, 0] + 0.05 * features[:, 1] + 1.0 + 0.1 * rng.standard_normal(n)
standardized_features = (features - features.mean(axis=0)) / features.std(axis=0)


def condition_number(inputs):
    design = np.column_stack([inputs, np.ones(len(inputs))])
    eigenvalues = np.linalg.eigvalsh(2 / len(inputs) * design.T @ design)
    return eigenvalues.max() / eigenvalues.min(), eigenvalues.max()


def gradient_descent(inputs, steps=300):
    """Full-batch SGD on the MSE at the step size 1/lambda_max; the loss after each step."""
    kappa, largest = condition_number(inputs)
    model = nn.Linear(2, 1)
    nn.init.zeros_(model.weight)
    nn.init.zeros_(model.bias)
    optimizer = optim.SGD(model.parameters(), lr=1 / largest)
    X, y = ag.tensor(inputs.astype(np.float32)), ag.tensor(target[:, None].astype(np.float32))
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = F.mse_loss(model(X), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return kappa, np.array(losses)


design = np.column_stack([features, np.ones(n)])
best_loss = np.mean((design @ np.linalg.lstsq(design, target, rcond=None)[0] - target) ** 2)
conditioning = {"raw": gradient_descent(features), "standardized": gradient_descent(standardized_features)}
for name, (kappa, losses) in conditioning.items():
    print(
        f"{name:13} condition number {kappa:10.1f}; "
        f"loss after 10, 100, 300 steps: {losses[9]:.4f}, {losses[99]:.4f}, "
        f"{losses[-1]:.4f} (least squares: {best_loss:.4f})"
    )

fig, ax = plt.subplots(figsize=(6, 3.5))
for name, (_, losses) in conditioning.items():
    ax.plot(losses - best_loss, label=name)
ax.set(
    yscale="log",
    xlabel="gradient-descent step",
    ylabel="loss - least-squares loss",
    title="features raw vs standardized",
)
ax.legend()
plt.show()

# %% [markdown]
# ## BatchNorm and LayerNorm: the same formula on different axes
#
# Inside a network the values to standardize form a batch matrix, one sample per row (samples x features, the
# layout of every notebook here; notebook 2 relates it to the notes' column vectors). **BatchNorm**
# standardizes each *feature* over the samples of the batch (down the columns); **LayerNorm** standardizes
# each *sample* over its features (along the rows). Both then apply a learnable scale $\gamma$ and shift
# $\beta$ per feature, $y = \gamma \hat x + \beta$, so the network can undo the normalization where that helps.

# %%
batch = ag.tensor([[100.0, 1.0, 0.1], [50.0, 2.0, 0.4], [10.0, 3.0, 0.2], [5.0, 4.0, 0.3]])
batch_normed = nn.BatchNorm1d(3)(batch).detach().numpy()
layer_normed = nn.LayerNorm(3)(batch).detach().numpy()
print(
    "BatchNorm: column means",
    np.round(batch_normed.mean(axis=0), 6),
    "column stds",
    np.round(batch_normed.std(axis=0), 4),
)
print(
    "LayerNorm: row means   ",
    np.round(layer_normed.mean(axis=1), 6),
    "row stds   ",
    np.round(layer_normed.std(axis=1), 4),
)

# %% [markdown]
# BatchNorm's statistics depend on the batch, so at evaluation time, when the model may see one example at a
# time, it uses **running estimates** accumulated during training,
# $\mu_\text{run} \leftarrow (1 - m)\,\mu_\text{run} + m\,\mu_\text{batch}$ (momentum $m = 0.1$; the variance
# likewise, unbiased). `model.eval()` switches to them. LayerNorm needs no running statistics: it behaves the
# same in training and evaluation and works on a single example, on which BatchNorm cannot train.

# %%
ag.manual_seed(0)
running_norm = nn.BatchNorm1d(3)
true_mean, true_std = np.array([5.0, -2.0, 0.0]), np.array([2.0, 0.5, 1.0])
for _ in range(200):
    running_norm(ag.tensor(true_mean + true_std * ag.default_generator.rng.standard_normal((32, 3))))
print("running mean", np.round(running_norm.running_mean.numpy(), 2), " (true", true_mean, ")")
print("running var ", np.round(running_norm.running_var.numpy(), 2), " (true", true_std**2, ")")
running_norm.eval()
single = ag.tensor([[7.0, -2.5, 1.0]])
print(
    "eval mode, one example [7, -2.5, 1] ->",
    np.round(running_norm(single).detach().numpy(), 3),
    "  (about (x - mean) / std =",
    np.round((single.numpy() - true_mean) / true_std, 3),
    ")",
)
running_norm.train()
try:
    running_norm(single)
except ValueError as error:
    single_example_error = str(error)
print("training mode, one example:", single_example_error)

# %% [markdown]
# ## Normalization keeps signals and gradients alive in deep networks
#
# A 10-layer tanh MLP with PyTorch's default initialization: we measure, at each hidden layer, how much its
# outputs differ between the 256 digits of a batch (their standard deviation across the batch, averaged over
# units), and the gradient norm of each layer's weights. Without normalization the signal that distinguishes
# one digit from another shrinks at every layer, and the gradient with it; `nn.MLP(norm="batch")` or
# `norm="layer"` puts a BatchNorm1d or LayerNorm after every hidden linear layer.

# %%
digits, labels = ag.datasets.load_digits()
batch_x, batch_y = ag.tensor(digits[:256]), ag.tensor(labels[:256])
DEPTH = 10


def signal_and_gradients(norm):
    ag.manual_seed(0)
    model = nn.MLP([64] + [64] * DEPTH + [10], activation="tanh", norm=norm)
    spreads = []
    for block in range(DEPTH):
        model[block].register_forward_hook(
            lambda module, inputs, output: spreads.append(output.detach().numpy().std(axis=0).mean())
        )
    F.cross_entropy(model(batch_x), batch_y).backward()
    weights = [model[block].linear.weight for block in range(DEPTH)] + [model[DEPTH].weight]
    return np.array(spreads), np.array([np.linalg.norm(w.grad.numpy()) for w in weights])


NORMS = (("no normalization", None), ("BatchNorm", "batch"), ("LayerNorm", "layer"))
flow = {label: signal_and_gradients(norm) for label, norm in NORMS}
fig, (signal_ax, grad_ax) = plt.subplots(1, 2, figsize=(13, 4))
for label, (spreads, grads) in flow.items():
    signal_ax.plot(range(1, DEPTH + 1), spreads, "o-", label=label)
    grad_ax.plot(range(1, DEPTH + 2), grads, "o-", label=label)
    print(
        f"{label:17}: spread across digits at hidden layer 1 {spreads[0]:.3f}, at layer {DEPTH} {spreads[-1]:.4f};  "
        f"gradient norm first layer / last layer {grads[0] / grads[-1]:.2g}"
    )
signal_ax.set(
    yscale="log", xlabel="hidden layer", ylabel="std of outputs across the batch", title="forward: the signal"
)
grad_ax.set(yscale="log", xlabel="linear layer", ylabel="weight-gradient norm", title="backward: the gradient")
signal_ax.legend()
plt.show()

# %% [markdown]
# (With the sigmoid instead of tanh, LayerNorm fails where BatchNorm succeeds; notebook 4 shows why.)
#
# ## ...and make training faster
#
# Six hidden tanh layers, plain SGD, the same learning rate (0.1), 10 epochs on 1437 digits, with and without
# normalization layers:

# %%
train_set, val_set = ag.data.random_split(ag.data.TensorDataset(digits, labels), [1437, 360], seed=0)
speed = {}
fig, ax = plt.subplots(figsize=(6, 4))
for label, norm in NORMS:
    ag.manual_seed(0)
    model = nn.MLP([64] + [64] * 6 + [10], activation="tanh", norm=norm)
    history = nn.utils.fit(
        model,
        nn.CrossEntropyLoss(),
        optim.SGD(model.parameters(), lr=0.1),
        ag.data.DataLoader(train_set, batch_size=64, shuffle=True, seed=0),
        ag.data.DataLoader(val_set, batch_size=360),
        epochs=10,
        progress=False,
    )
    speed[label] = history
    ax.plot(history["epoch"], history["train_loss"], "o-", label=label)
    print(
        f"{label:17}: training loss after 1, 3, 10 epochs {np.round(np.array(history['train_loss'])[[0, 2, 9]], 3)}; "
        f"validation accuracy {history['val_accuracy'][-1]:.1%}"
    )
ax.set(yscale="log", xlabel="epoch", ylabel="training loss", title="6 tanh layers, SGD lr 0.1")
ax.legend()
plt.show()

# %% [markdown]
# ## Findings
#
# - $[100, 50, 10, 5, 1]$ has mean 33.2, variance 1422.96 and standard deviation 37.72; standardized it is
#   $[1.77, 0.45, -0.62, -0.75, -0.85]$ (mean 0, standard deviation 1), the same by hand, with tensor ops and
#   with `nn.LayerNorm`, and the ratios of differences are unchanged. **The notes' variance, 1600.16, is wrong**:
#   neither the population variance (1422.96) nor the sample variance (1778.70).
# - **Standardizing does not make data symmetric**: the skewness of the five numbers and of an exponential sample
#   is the same before and after (to $10^{-12}$; about 2 for the exponential sample), while a log changes it;
#   the gaps between values, measured in units of $\sigma$, are unchanged: nothing large is compressed more than
#   anything small.
# - Standardizing two features of scales 1 and 100 brings the condition number from above 1000 to below 3:
#   gradient descent then reaches the least-squares loss (to $10^{-4}$) within 10 steps, while on the raw
#   features its loss is still over 100 times the minimum after 300 steps.
# - BatchNorm standardizes the columns of a batch, LayerNorm its rows; BatchNorm's running statistics converge
#   to the data's (means within 0.2, variances within 15%: a moving average over the last ~10 batches of 32
#   is noisy) and are used in eval mode; BatchNorm refuses to train on a single example.
# - In a 10-layer tanh MLP the between-digit signal falls more than 50-fold by the last hidden layer without
#   normalization but stays above 0.3 with BatchNorm or LayerNorm, and the first-layer gradient grows from
#   below 0.1 to above 0.5 of the last layer's.
# - With 6 tanh layers and SGD at 0.1, BatchNorm and LayerNorm reach less than a third of the un-normalized
#   network's training loss after 3 epochs.

# %%
assert mean == 33.2 and np.isclose(variance, 1422.96) and np.isclose(std, 37.7221, atol=1e-4)
assert np.allclose(np.round(standardized, 2), [1.77, 0.45, -0.62, -0.75, -0.85])
assert np.isclose(population_variance, 1422.96) and np.isclose(sample_variance, 1778.70)
assert not np.isclose(population_variance, 1600.16, atol=1) and not np.isclose(sample_variance, 1600.16, atol=1)
for before, after, logged in shape_check.values():
    assert abs(before - after) < 1e-12 and abs(logged - before) > 0.5
assert abs(shape_check["exponential sample"][0] - 2) < 0.2 and np.allclose(gaps_before / std, gaps_after)
assert abs(standardized.mean()) < 1e-12 and np.isclose(standardized.std(), 1.0)
assert np.allclose(by_tensor_ops, standardized) and np.allclose(by_layer_norm, standardized, atol=1e-5)
assert np.isclose(ratio_before, ratio_after)
(kappa_raw, raw_losses), (kappa_std, std_losses) = conditioning["raw"], conditioning["standardized"]
assert kappa_raw > 1000 and kappa_std < 3
assert std_losses[9] - best_loss < 1e-4 and raw_losses[-1] > 100 * best_loss
assert np.allclose(batch_normed.mean(axis=0), 0, atol=1e-5) and np.allclose(batch_normed.std(axis=0), 1, atol=1e-3)
assert np.allclose(layer_normed.mean(axis=1), 0, atol=1e-5) and np.allclose(layer_normed.std(axis=1), 1, atol=1e-3)
assert np.allclose(running_norm.running_mean.numpy(), true_mean, atol=0.2)
assert np.allclose(running_norm.running_var.numpy(), true_std**2, rtol=0.15)
assert "more than 1 value per channel" in single_example_error
spreads, grads = flow["no normalization"]
assert spreads[-1] < spreads[0] / 50 and grads[0] / grads[-1] < 0.1
for label in ("BatchNorm", "LayerNorm"):
    spreads, grads = flow[label]
    assert spreads.min() > 0.3 and grads[0] / grads[-1] > 0.5, label
    assert speed[label]["train_loss"][2] < speed["no normalization"]["train_loss"][2] / 3, label

# %% [markdown]
# ## Exercises
#
# Solutions, as a script that computes and asserts each answer: `notebooks/solutions/07_normalization.py`.
#
# 1. **Idempotent.** Show that standardizing already standardized data changes nothing, and that standardizing
#    $ax + b$ gives the same result as standardizing $x$ when $a > 0$ (and its negative when $a < 0$).
# 2. **A bias before BatchNorm is wasted.** Deduce from exercise 1 that in training mode `BatchNorm1d`'s output
#    does not depend on the bias of the linear layer before it, and check that this bias gets a zero gradient.
# 3. **Which half of standardization conditions the problem?** For the notebook's two features (scales 1 and 100),
#    compute the condition number of the least-squares Hessian after only centring the features, and after only
#    dividing them by their standard deviation. Which step does most of the work here?
# 4. **LayerNorm's gradient.** Show that the gradient of any loss with respect to LayerNorm's input (without the
#    affine map) is orthogonal to $\mathbf 1$ and to $\hat x$ in every row, and check it with `backward()`.
# 5. **The running variance is unbiased.** With `momentum=1.0`, show that one training batch of $n$ samples sets
#    `running_var` to $n/(n-1)$ times the variance BatchNorm used to normalize that batch.
