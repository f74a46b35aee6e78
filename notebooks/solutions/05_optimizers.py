"""Solutions to the exercises of notebook 5 (optimizers): each answer computed and asserted."""

import numpy as np

import autograd_core as ag
import optim

CURVATURES = np.array([0.2, 4.0])  # f(x) = 0.1 x1^2 + 2 x2^2 = sum_i h_i x_i^2 / 2


def f(x):
    return 0.1 * x[0] ** 2 + 2 * x[1] ** 2


def run(make_optimizer, steps, start=(-5.0, -2.0)):
    x = ag.tensor(np.array(start), requires_grad=True)
    optimizer = make_optimizer([x])
    for _ in range(steps):
        optimizer.zero_grad()
        f(x).backward()
        optimizer.step()
    return x.detach().numpy()


# Exercise 1: x_t = x_(t-1) - gamma v_(t-1) - eta h x_(t-1) with v_(t-1) = x_(t-2) - x_(t-1) gives
# x_t = (1 + gamma - eta h) x_(t-1) - gamma x_(t-2): characteristic polynomial l^2 - (1 + gamma - eta h) l + gamma.
# Its roots lie inside the unit circle iff |1 + gamma - eta h| < 1 + gamma (and gamma < 1): 0 < eta h < 2(1 + gamma).
def spectral_radius(eta, h, gamma):
    return np.abs(np.roots([1.0, -(1 + gamma - eta * h), gamma])).max()


gamma = 0.5
largest_stable = 2 * (1 + gamma) / CURVATURES.max()
assert largest_stable == 0.75
assert spectral_radius(0.74, 4.0, gamma) < 1 < spectral_radius(0.76, 4.0, gamma)
stable_end = run(lambda p: optim.SGD(p, lr=0.74, momentum=gamma), 400)
unstable_end = run(lambda p: optim.SGD(p, lr=0.76, momentum=gamma), 400)
assert f(stable_end) < 1e-6 and f(unstable_end) > 1e3
print(
    f"Exercise 1: largest stable lr {largest_stable}; f after 400 steps at 0.74: {f(stable_end):.1e}, at 0.76: "
    f"{f(unstable_end):.1e}"
)

# Exercise 2: max(|1 - eta h_min|, |1 - eta h_max|) is smallest where 1 - eta h_min = eta h_max - 1.
eta_star = 2 / CURVATURES.sum()
kappa = CURVATURES.max() / CURVATURES.min()
contraction = (kappa - 1) / (kappa + 1)
assert np.isclose(np.abs(1 - eta_star * CURVATURES).max(), contraction)
end = run(lambda p: optim.SGD(p, lr=eta_star), 50)
assert np.allclose(np.abs(end), contraction**50 * np.array([5.0, 2.0]))
print(f"Exercise 2: eta* = {eta_star:.4f}, contraction {contraction:.4f} = 19/21 per step")

# Exercise 3: s_t = t g^2, so the t-th step is eta g / sqrt(t g^2) = eta / sqrt(t); the sum to T is about 2 eta sqrt(T).
x = ag.tensor(np.array([0.0]), requires_grad=True)
adagrad = optim.Adagrad([x], lr=0.1)
positions = [0.0]
for _ in range(400):
    adagrad.zero_grad()
    (3.0 * x).sum().backward()  # constant gradient 3
    adagrad.step()
    positions.append(x.item())
steps = -np.diff(positions)
assert np.allclose(steps, 0.1 / np.sqrt(np.arange(1, 401)), rtol=1e-8)
assert abs(-positions[-1] / (2 * 0.1 * np.sqrt(400)) - 1) < 0.05
print(f"Exercise 3: moved {-positions[-1]:.3f} in 400 steps; 2 eta sqrt(T) = {2 * 0.1 * 20:.3f}")

# Exercise 4: v_hat_1 = g, sqrt(s_hat_1) = |g|: the step is eta g / (|g| + eps), eta sign(g) while |g| >> eps = 1e-8.
first_steps = {}
for scale in (1e-6, 1e-3, 1.0, 1e3, 1e-8):
    x = ag.tensor(np.array([0.0]), requires_grad=True)
    adam = optim.Adam([x], lr=0.1)
    (scale * x).sum().backward()
    adam.step()
    first_steps[scale] = -x.item()
assert all(np.isclose(first_steps[scale], 0.1, rtol=1e-5) for scale in (1e-3, 1.0, 1e3))
assert np.isclose(first_steps[1e-8], 0.05, rtol=1e-6)  # |g| = eps: the step is halved
print(f"Exercise 4: first step {first_steps[1.0]:.6f} for |g| = 1 and 1e3; {first_steps[1e-8]:.3f} for |g| = eps")

# Exercise 5: s_1 = (1 - rho) g^2, delta_0 = 0: g'_1 = sqrt(eps / ((1 - rho) g^2 + eps)) g -> sqrt(eps / (1 - rho)).
for rho in (0.9, 0.99):
    x = ag.tensor(np.array([-5.0, -2.0]), requires_grad=True)
    adadelta = optim.Adadelta([x], rho=rho)
    f(x).backward()
    adadelta.step()
    assert np.allclose(np.abs(x.detach().numpy() - [-5.0, -2.0]), np.sqrt(1e-6 / (1 - rho)), rtol=1e-3)
print(f"Exercise 5: first steps sqrt(eps/(1-rho)) = {np.sqrt(1e-5):.2e} and {np.sqrt(1e-4):.2e}")

# Exercise 6: the weights (1 - gamma) gamma^k of the most recent n = 1/(1 - gamma) terms sum to 1 - gamma^n -> 1 - 1/e.
shares = {g: 1 - g ** round(1 / (1 - g)) for g in (0.9, 0.99, 0.999)}
assert np.isclose(shares[0.9], 0.6513, atol=1e-4) and abs(shares[0.999] - (1 - np.exp(-1))) < 3e-4
assert shares[0.9] > shares[0.99] > shares[0.999] > 1 - np.exp(-1)
print("Exercise 6: shares", {g: round(v, 4) for g, v in shares.items()}, f"-> 1 - 1/e = {1 - np.exp(-1):.4f}")
