"""Solutions to the exercises of notebook 6 (generalization): each answer computed and asserted."""

import numpy as np

import autograd_core as ag
import nn
import nn.functional as F
import optim

digits, labels = ag.datasets.load_digits()

# Exercise 1: the weight decay term adds lambda * w to the gradient: w <- w - eta (grad + lambda w).
# The weights from an always-blank pixel multiply a zero input, so their data gradient is 0:
# w_k = (1 - eta lambda)^k w_0.
eta, decay, steps = 0.1, 0.01, 50
x, y = ag.tensor(digits[:200]), ag.tensor(labels[:200])
blank = np.flatnonzero(digits[:200].max(axis=0) == 0)
ag.manual_seed(0)
model = nn.Linear(64, 10)
start = model.weight.detach().numpy()[:, blank].copy()
optimizer = optim.SGD(model.parameters(), lr=eta, weight_decay=decay)
for _ in range(steps):
    optimizer.zero_grad()
    F.cross_entropy(model(x), y).backward()
    optimizer.step()
assert len(blank) > 0
assert np.allclose(model.weight.detach().numpy()[:, blank], (1 - eta * decay) ** steps * start, rtol=1e-5)
print(f"Exercise 1: blank-pixel weights shrank by exactly {(1 - eta * decay) ** steps:.4f} in {steps} steps")

# Exercise 2: E[xi^2] = 1 - p, so E[h'^2] = h^2 / (1 - p) and Var h' = h^2 / (1 - p) - h^2 = h^2 p / (1 - p).
ag.manual_seed(0)
h = 1.5
for p in (0.2, 0.5):
    samples = nn.Dropout(p)(ag.full((200000,), h)).numpy()
    predicted = h**2 * p / (1 - p)
    assert abs(samples.var() / predicted - 1) < 0.02, (p, samples.var(), predicted)
    print(f"Exercise 2: p = {p}: variance {samples.var():.4f}, predicted {predicted:.4f}")

# Exercise 3: the n x n Vandermonde matrix of distinct x has determinant prod_{i<j} (x_j - x_i) != 0, so the
# system V w = y has one solution whatever y: the fitted polynomial interpolates.
rng = np.random.default_rng(0)
points = rng.uniform(0, 1, 8)
noisy = np.sin(2 * np.pi * points) + rng.normal(0, 0.25, 8)
vandermonde = np.vander(points, 8, increasing=True)
assert abs(np.linalg.det(vandermonde)) > 0
coefficients = np.linalg.solve(vandermonde, noisy)
assert np.allclose(vandermonde @ coefficients, noisy, atol=1e-8)
print("Exercise 3: the degree-7 polynomial through 8 noisy points has training error 0")

# Exercise 4: ridge on 1, x, ..., x^11 (x centred to [-1, 1] for conditioning), lambda chosen on validation.
curve_rng = np.random.default_rng(0)  # the notebook's samples, drawn in the same order


def noisy_sine(n):
    x = curve_rng.uniform(0, 1, n)
    return x, np.sin(2 * np.pi * x) + curve_rng.normal(0, 0.25, n)


curve_train, curve_val = noisy_sine(12), noisy_sine(200)


def features(x):
    return np.vander(2 * x - 1, 12, increasing=True)


def ridge(strength):
    X = features(curve_train[0])
    return np.linalg.solve(X.T @ X + strength * np.eye(12), X.T @ curve_train[1])


def val_mse(weights):
    return float(np.mean((features(curve_val[0]) @ weights - curve_val[1]) ** 2))


unregularised = val_mse(np.linalg.lstsq(features(curve_train[0]), curve_train[1], rcond=None)[0])
strengths = 10.0 ** np.arange(-8, 1)
ridge_errors = [val_mse(ridge(strength)) for strength in strengths]
best = int(np.argmin(ridge_errors))
assert ridge_errors[best] < unregularised / 10 and ridge_errors[best] < 0.2
print(
    f"Exercise 4: lambda = {strengths[best]:g}: validation MSE {ridge_errors[best]:.3f}, "
    f"unregularised {unregularised:.1f}"
)

# Exercise 5: each random guesser's validation accuracy is Binomial(100, 0.1) / 100; the best of 20 is the maximum
# of 20 such draws, well above 0.1 by luck alone. On fresh test digits the same guesser is back to about 0.1.
rng = np.random.default_rng(1)
val_labels, test_labels = rng.integers(0, 10, 100), rng.integers(0, 10, 1000)
guessers = [np.random.default_rng(seed) for seed in range(100, 120)]  # streams independent of the labels
val_scores = [np.mean(g.integers(0, 10, 100) == val_labels) for g in guessers]
chosen = int(np.argmax(val_scores))
test_score = np.mean(guessers[chosen].integers(0, 10, 1000) == test_labels)
assert val_scores[chosen] >= 0.15 and abs(test_score - 0.1) < 0.03
print(f"Exercise 5: the chosen guesser: validation accuracy {val_scores[chosen]:.2f}, test accuracy {test_score:.3f}")
