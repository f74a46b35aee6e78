"""Solutions to the exercises of notebook 1 (computational graphs): each answer computed and asserted."""

import math

import numpy as np

import autograd_core as ag


def sigmoid(z):
    return 1 / (1 + math.exp(-z))


# Exercise 1: the forward and backward tables at (x, w, b) = (2, -1, 0.5).
x_value, w_value, b_value = 2.0, -1.0, 0.5
h1 = x_value * w_value  # -2
h2 = h1 + b_value  # -1.5
h3 = -h2  # 1.5
h4 = math.exp(h3)  # 4.4817
h5 = h4 + 1  # 5.4817
h6 = 1 / h5  # 0.1824 = sigmoid(-1.5)
bar = {"h6": 1.0}
bar["h5"] = bar["h6"] * (-1 / h5**2)
bar["h4"] = bar["h5"]
bar["h3"] = bar["h4"] * h4
bar["h2"] = -bar["h3"]
bar["h1"] = bar["h2"]
bar["w"], bar["x"], bar["b"] = bar["h1"] * x_value, bar["h1"] * w_value, bar["h2"]
assert math.isclose(h6, sigmoid(-1.5))
slope = sigmoid(-1.5) * (1 - sigmoid(-1.5))  # 0.1491
assert math.isclose(bar["w"], 2 * slope) and math.isclose(bar["x"], -slope) and math.isclose(bar["b"], slope)

leaves = {name: ag.tensor(v, dtype=np.float64, requires_grad=True) for name, v in zip("xwb", (2.0, -1.0, 0.5))}
t = {"h1": leaves["x"] * leaves["w"]}
t["h2"] = t["h1"] + leaves["b"]
t["h3"] = -t["h2"]
t["h4"] = t["h3"].exp()
t["h5"] = t["h4"] + 1
t["h6"] = 1 / t["h5"]
for tensor in t.values():
    tensor.retain_grad()
t["h6"].backward()
for name, tensor in {**t, **leaves}.items():
    assert math.isclose(tensor.grad.item(), bar[name], rel_tol=1e-12), name
print(f"Exercise 1: f = {h6:.4f}, df/dw = {bar['w']:.4f}, df/dx = {bar['x']:.4f}, df/db = {bar['b']:.4f}")

# Exercise 2: df/dh2 = (-1/h5^2) * 1 * exp(h3) * (-1) = exp(h3)/h5^2 = f (1 - f), since 1 - f = exp(h3)/h5.
for z in (-3.0, -0.5, 0.0, 1.2, 4.0):
    e = math.exp(-z)
    f = 1 / (e + 1)
    assert math.isclose(e / (e + 1) ** 2, f * (1 - f), rel_tol=1e-12)
print("Exercise 2: exp(h3)/h5^2 = f(1 - f) at five points")

# Exercise 3: g = a * c with a = sin w, c = w^2: dg/dw = c cos w (through a) + a 2w (through c).
w = ag.tensor(0.7, dtype=np.float64, requires_grad=True)
(w.sin() * w**2).backward()
through_a, through_c = 0.7**2 * math.cos(0.7), math.sin(0.7) * 2 * 0.7
assert math.isclose(w.grad.item(), through_a + through_c, rel_tol=1e-12)
print(f"Exercise 3: {through_a:.4f} + {through_c:.4f} = {w.grad.item():.4f}")

# Exercise 4: forward mode needs one jvp per input coordinate (100), reverse mode one backward pass.
rng = np.random.default_rng(0)
A = rng.standard_normal((100, 100)) / 10
point = rng.standard_normal(100)


def tanh_sum(x):
    return (ag.tensor(A) @ x).tanh().sum()


forward_mode = np.array([ag.func.jvp(tanh_sum, [point], [np.eye(100)[i]])[1].item() for i in range(100)])
x = ag.tensor(point, requires_grad=True)
tanh_sum(x).backward()
assert np.allclose(forward_mode, x.grad.numpy(), rtol=1e-10, atol=1e-12)
assert np.allclose(x.grad.numpy(), A.T @ (1 - np.tanh(A @ point) ** 2))
print("Exercise 4: 100 jvp passes = 1 backward pass")

# Exercise 5: 1.1 ** (2 ** k) > 10 first for 2 ** k > ln 10 / ln 1.1 = 24.2, i.e. k = 5: f = x^32, df/dx = 32 x^31.
k = math.ceil(math.log2(math.log(10) / math.log(1.1)))
x = ag.tensor(1.1, dtype=np.float64, requires_grad=True)
y, squarings = x, 0
while y.item() <= 10.0:
    y, squarings = y * y, squarings + 1
y.backward()
assert squarings == k == 5 and math.isclose(x.grad.item(), 32 * 1.1**31, rel_tol=1e-12)
print(f"Exercise 5: {squarings} squarings, df/dx = 32 * 1.1^31 = {x.grad.item():.2f}")
