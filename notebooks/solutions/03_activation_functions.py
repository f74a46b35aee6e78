"""Solutions to the exercises of notebook 3 (activation functions): each answer computed and asserted."""

import itertools
import math

import numpy as np

import autograd_core as ag
import nn.functional as F


def sigmoid(x):
    return 0.5 * (1 + np.tanh(x / 2))


grid = np.linspace(-6, 6, 1201)

# Exercise 1: 2 sigma(2x) - 1 = (1 - e^(-2x)) / (1 + e^(-2x)) = tanh x; differentiating, tanh'(x) = 4 sigma'(2x).
assert np.allclose(np.tanh(grid), 2 / (1 + np.exp(-2 * grid)) - 1, atol=1e-15)
x = ag.tensor(grid, requires_grad=True)
x.tanh().sum().backward()
assert np.allclose(x.grad.numpy(), 4 * sigmoid(2 * grid) * (1 - sigmoid(2 * grid)), atol=1e-14)
assert x.grad.numpy()[600] == 1.0  # grid[600] == 0
print("Exercise 1: tanh(x) = 2 sigma(2x) - 1 and tanh'(0) = 4 sigma'(0) = 1")

# Exercise 2: d/dx log(1 + e^x) = e^x / (1 + e^x) = sigma(x); softplus(x) - relu(x) = log(1 + e^(-|x|)) in (0, log 2].
x = ag.tensor(grid, requires_grad=True)
F.softplus(x).sum().backward()
assert np.allclose(x.grad.numpy(), sigmoid(grid), atol=1e-14)
gap = np.log1p(np.exp(grid)) - np.maximum(grid, 0)
assert gap.min() > 0 and np.isclose(gap.max(), math.log(2)) and grid[gap.argmax()] == 0
print(f"Exercise 2: softplus' = sigma; softplus - ReLU peaks at x = 0 with log 2 = {math.log(2):.4f}")

# Exercise 3: with u = beta x, x sigma(beta x) - relu(x) = (u sigma(u) - relu(u)) / beta, so the maximum is c / beta
# with c = max_u |u sigma(u) - relu(u)| (reached at u = -1.278: c = 0.2785).
u = np.linspace(-10, 10, 200001)
c = np.abs(u * sigmoid(u) - np.maximum(u, 0)).max()
for beta in (1.0, 10.0, 100.0):
    x_fine = np.linspace(-10, 10, 200001) / beta
    worst = np.abs(x_fine * sigmoid(beta * x_fine) - np.maximum(x_fine, 0)).max()
    assert np.isclose(worst * beta, c, rtol=1e-9)
assert abs(c - 0.2785) < 1e-4
print(f"Exercise 3: max |swish_beta - ReLU| = {c:.4f} / beta")

# Exercise 4: ELU's slope is 1 on the right of 0 and gamma e^0 = gamma on the left: smooth only for gamma = 1.
for gamma in (1.0, 2.0):
    x = ag.tensor(np.array([-1e-9, 1e-9]), requires_grad=True)
    F.elu(x, alpha=gamma).sum().backward()
    left, right = x.grad.numpy()
    assert np.isclose(left, gamma, rtol=1e-6) and right == 1.0
print("Exercise 4: ELU's left derivative at 0 is gamma, its right one 1: differentiable only for gamma = 1")

# Exercise 5: the shared mean c of the inputs adds a direction of large curvature: the condition number grows with c.
rng = np.random.default_rng(0)
centred = sigmoid(2 * rng.standard_normal((500, 10))) - 0.5


def condition_number(inputs):
    design = np.column_stack([inputs, np.ones(len(inputs))])
    eigenvalues = np.linalg.eigvalsh(design.T @ design)
    return eigenvalues.max() / eigenvalues.min()


kappas = [condition_number(centred + shift) for shift in (0.0, 0.25, 0.5, 1.0)]
assert all(a < b for a, b in itertools.pairwise(kappas)) and kappas[-1] > 20 * kappas[0]
print("Exercise 5: condition numbers for shifts 0, 0.25, 0.5, 1:", np.round(kappas, 1))

# Exercise 6: errors 0.038, 0.019 at m = 64, 128 predict 0.0095 at m = 256.
ua_grid = np.linspace(-3, 3, 400)


def target(x):
    return np.sin(2 * x) + 0.2 * x**2


def staircase_error(width):
    knots = np.linspace(-3, 3, width + 1)
    centres = (knots[:-1] + knots[1:]) / 2
    steps = sigmoid(8 * width / 6 * (ua_grid[:, None] - centres))
    return np.abs(target(-3) + (np.diff(target(knots)) * steps).sum(axis=1) - target(ua_grid)).max()


smallest = next(m for m in (2**k for k in range(2, 12)) if staircase_error(m) < 0.01)
assert smallest == 256
print(f"Exercise 6: m = {smallest} (error {staircase_error(256):.4f}; m = 128 gives {staircase_error(128):.4f})")
