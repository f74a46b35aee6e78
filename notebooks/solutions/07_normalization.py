"""Solutions to the exercises of notebook 7 (normalization): each answer computed and asserted."""

import numpy as np

import autograd_core as ag
import nn


def standardize(values):
    return (values - values.mean()) / values.std()


rng = np.random.default_rng(0)

# Exercise 1: (a x + b - (a mu + b)) / (|a| sigma) = sign(a) (x - mu) / sigma; a standardized z has mu 0, sigma 1.
x = rng.exponential(size=50)
assert np.allclose(standardize(standardize(x)), standardize(x))
assert np.allclose(standardize(3.0 * x - 7.0), standardize(x)) and np.allclose(
    standardize(-2.0 * x + 1), -standardize(x)
)
print("Exercise 1: standardize(a x + b) = sign(a) standardize(x)")

# Exercise 2: in training mode BatchNorm standardizes every column over the batch, so adding a constant b_j to
# column j changes nothing: the bias before it has no effect on the output and gets a zero gradient.
ag.manual_seed(0)
linear, norm = nn.Linear(4, 3).to(dtype=ag.float64), nn.BatchNorm1d(3).to(dtype=ag.float64)
inputs = ag.tensor(rng.standard_normal((16, 4)))
out = norm(linear(inputs))
with ag.no_grad():
    linear.bias.add_(5.0)
shifted = norm(linear(inputs))
assert np.allclose(out.detach().numpy(), shifted.detach().numpy(), atol=1e-12)
(shifted * ag.tensor(rng.standard_normal((16, 3)))).sum().backward()
assert np.abs(linear.bias.grad.numpy()).max() < 1e-12 and np.abs(linear.weight.grad.numpy()).max() > 1e-3
print(f"Exercise 2: the bias's gradient is {np.abs(linear.bias.grad.numpy()).max():.1e}")

# Exercise 3: the notebook's features. Scaling alone fixes the 1:100 scale mismatch but leaves both means (about
# 1.7 after scaling) correlated with the bias column (kappa ~ 70); centring alone leaves the scales (kappa ~ 1e4).
n = 500
features = np.column_stack([rng.uniform(0, 1, n), rng.uniform(0, 100, n)])


def condition_number(inputs):
    design = np.column_stack([inputs, np.ones(len(inputs))])
    eigenvalues = np.linalg.eigvalsh(2 / len(inputs) * design.T @ design)
    return eigenvalues.max() / eigenvalues.min()


kappa = {
    "raw": condition_number(features),
    "centred only": condition_number(features - features.mean(axis=0)),
    "scaled only": condition_number(features / features.std(axis=0)),
    "standardized": condition_number((features - features.mean(axis=0)) / features.std(axis=0)),
}
assert kappa["raw"] > 1e4 and kappa["centred only"] > 1e3 and kappa["scaled only"] < 100 and kappa["standardized"] < 1.5
assert kappa["scaled only"] < kappa["centred only"] / 100
print("Exercise 3:", {name: round(value, 1) for name, value in kappa.items()}, "- scaling does most of the work")

# Exercise 4: y = (x - mean) / std per row; its Jacobian J is symmetric with J 1 = 0 and J y = 0
# (a shift of the row, or a move along y, changes nothing to first order), so dL/dx = J g is orthogonal to 1 and y.
x = ag.tensor(rng.standard_normal((4, 6)), requires_grad=True)
y = nn.functional.layer_norm(x, (6,), eps=0.0)
(y * ag.tensor(rng.standard_normal((4, 6)))).sum().backward()
grad, y_values = x.grad.numpy(), y.detach().numpy()
assert np.abs(grad.sum(axis=1)).max() < 1e-12 and np.abs((grad * y_values).sum(axis=1)).max() < 1e-12
print("Exercise 4: every row of the gradient is orthogonal to 1 and to x_hat")

# Exercise 5: BatchNorm normalizes with the biased variance (divide by n) and stores the unbiased one (n - 1).
batch = rng.standard_normal((8, 3)) * [1.0, 2.0, 3.0]
norm = nn.BatchNorm1d(3, momentum=1.0).to(dtype=ag.float64)
normalized = norm(ag.tensor(batch)).detach().numpy()
biased = batch.var(axis=0)
assert np.allclose(normalized, (batch - batch.mean(axis=0)) / np.sqrt(biased + norm.eps))
assert np.allclose(norm.running_var.numpy(), biased * 8 / 7)
print("Exercise 5: running_var = n/(n-1) x the variance used to normalize")
