"""Solutions to the exercises of notebook 10 (recurrent networks): each answer computed and asserted."""

import math

import numpy as np

import autograd_core as ag
import nn

rng = np.random.default_rng(0)

# Exercise 1: with a_t = w h_(t-1) + u x_t and delta_t = dL/da_t: delta_3 = h_3 (1 - h_3^2),
# delta_(t-1) = delta_t w (1 - h_(t-1)^2), and dL/dw = sum_t delta_t h_(t-1).
w_value, u_value, xs = 0.8, 0.5, [1.0, -0.4, 0.7]
hs = [0.0]
for x_t in xs:
    hs.append(math.tanh(w_value * hs[-1] + u_value * x_t))
delta = hs[3] * (1 - hs[3] ** 2)
by_hand = 0.0
for t in (3, 2, 1):
    by_hand += delta * hs[t - 1]
    delta = delta * w_value * (1 - hs[t - 1] ** 2)
w = ag.tensor(w_value, dtype=ag.float64, requires_grad=True)
h = ag.tensor(0.0, dtype=ag.float64)
for x_t in xs:
    h = (w * h + u_value * x_t).tanh()
(0.5 * h**2).backward()
assert math.isclose(w.grad.item(), by_hand, rel_tol=1e-12)
print(f"Exercise 1: dL/dw = {by_hand:.6f} by hand and by backward()")

# Exercise 2: dL/dh_0 = (W^T)^T g; an orthogonal W^T preserves norms, 0.9 Q scales every vector's norm by 0.9.
Q, _ = np.linalg.qr(rng.standard_normal((16, 16)))
g = rng.standard_normal(16)
for scale in (1.0, 0.9):
    h0 = ag.tensor(rng.standard_normal(16), requires_grad=True)
    h = h0
    for _ in range(40):
        h = ag.tensor(scale * Q) @ h
    (h * ag.tensor(g)).sum().backward()
    assert math.isclose(np.linalg.norm(h0.grad.numpy()), scale**40 * np.linalg.norm(g), rel_tol=1e-10)
print(f"Exercise 2: over 40 steps the norm is kept (orthogonal) or scaled by 0.9^40 = {0.9**40:.4f}")


# Exercise 3: sigma(0)^50 = 2^-50, sigma(1)^50 = 1.6e-7; sigma(b)^50 >= 1e-2 needs sigma(b) >= 0.01^(1/50).
def sigmoid(z):
    return 1 / (1 + math.exp(-z))


smallest_gate = 0.01 ** (1 / 50)
smallest_bias = math.log(smallest_gate / (1 - smallest_gate))
assert sigmoid(0) ** 50 == 2.0**-50 and math.isclose(sigmoid(1) ** 50, 1.6e-7, rel_tol=0.05)
assert math.isclose(sigmoid(smallest_bias) ** 50, 1e-2) and 2.3 < smallest_bias < 2.4
print(f"Exercise 3: b >= {smallest_bias:.3f} (forget gate >= {smallest_gate:.4f})")

# Exercise 4: clip_grad_norm_ multiplies the whole gradient by one factor; clip_grad_value_ clips each component.
grads = {}
for clip in ("norm", "value"):
    p = ag.tensor(np.zeros(2), requires_grad=True)
    (p * ag.tensor(np.array([30.0, 0.5]))).sum().backward()
    if clip == "norm":
        nn.utils.clip_grad_norm_([p], max_norm=1.0)
    else:
        nn.utils.clip_grad_value_([p], clip_value=1.0)
    grads[clip] = p.grad.numpy()
direction = np.array([30.0, 0.5]) / np.linalg.norm([30.0, 0.5])
assert np.allclose(grads["norm"], direction) and np.allclose(grads["value"], [1.0, 0.5])
print(f"Exercise 4: by norm {np.round(grads['norm'], 4)} (same direction), by value {grads['value']} (turned)")


# Exercise 5: the GRU's update gate mixes in h_(t-1) directly (z_t ~ 1/2 at initialisation), a path with no weight
# matrix, so its gradient decays more slowly than the tanh RNN's (here over ten times less in 30 steps).
def gradient_30_steps_back(cell):
    inputs = ag.tensor(rng.standard_normal((30, 1, 2)))
    h = ag.zeros((1, 32), requires_grad=True)
    first = h
    for t in range(30):
        h = cell(inputs[t], h)
    h.sum().backward()
    return np.linalg.norm(first.grad.numpy()) / np.linalg.norm(np.ones(32))


ag.manual_seed(0)
decay = {"GRU": gradient_30_steps_back(nn.GRUCell(2, 32)), "tanh RNN": gradient_30_steps_back(nn.RNNCell(2, 32))}
assert decay["GRU"] > 10 * decay["tanh RNN"]
print("Exercise 5: |dL/dh_0| / |dL/dh_30|:", {name: f"{value:.1e}" for name, value in decay.items()})
