"""Solutions to the exercises of notebook 2 (the Hadamard product in backprop): each answer computed and asserted."""

import numpy as np

import autograd_core as ag
import nn.functional as F

rng = np.random.default_rng(0)

# Exercise 1: dL/dz = -y (1 - s) + (1 - y) s = s - y, with s = sigma(z) and sigma' = s (1 - s).
z_value, y_value = rng.standard_normal(8), rng.uniform(0, 1, 8)
z = ag.tensor(z_value, requires_grad=True)
F.binary_cross_entropy_with_logits(z, ag.tensor(y_value), reduction="sum").backward()
assert np.allclose(z.grad.numpy(), 1 / (1 + np.exp(-z_value)) - y_value, rtol=1e-12, atol=1e-15)
print("Exercise 1: d BCE / dz = sigma(z) - y")

# Exercise 2: dL/dA = G o B o C, dL/dB = G o A o C, dL/dC = G o A o B.
A, B, C, G = (rng.standard_normal((3, 4)) for _ in range(4))
tensors = [ag.tensor(m, requires_grad=True) for m in (A, B, C)]
(ag.tensor(G) * tensors[0] * tensors[1] * tensors[2]).sum().backward()
for tensor, expected in zip(tensors, (G * B * C, G * A * C, G * A * B)):
    assert np.allclose(tensor.grad.numpy(), expected, rtol=1e-12)
print("Exercise 2: each factor's gradient is G times the other two, elementwise")

# Exercise 3: e^(z_k + c) / sum_j e^(z_j + c) = e^(z_k) / sum_j e^(z_j). So L(z + c 1) = L(z) for every c, and the
# directional derivative along 1 is 0: the gradient is orthogonal to 1. Cross-entropy: sum_k (y_hat_k - y_k) = 0.
logits = rng.standard_normal((5, 4))
shifted = F.softmax(ag.tensor(logits + 3.7), dim=1).numpy()
assert np.allclose(shifted, F.softmax(ag.tensor(logits), dim=1).numpy(), rtol=1e-12)
z = ag.tensor(logits, requires_grad=True)
F.cross_entropy(z, ag.tensor(np.array([0, 1, 2, 3, 0]))).backward()
assert np.abs(z.grad.numpy().sum(axis=1)).max() < 1e-15
print("Exercise 3: each row of dL/dZ sums to 0")


# Exercise 4: Y = X W^T + b: dX = dY W, dW = dY^T X, db = column sums of dY.
class Linear(ag.Function):
    @staticmethod
    def forward(ctx, X, W, b):
        ctx.save_for_backward(X, W)
        return X @ W.T + b

    @staticmethod
    def backward(ctx, grad_y):
        X, W = ctx.saved_tensors
        return grad_y @ W, grad_y.T @ X, grad_y.sum(dim=0)


inputs = [ag.tensor(rng.standard_normal(shape), requires_grad=True) for shape in ((5, 3), (2, 3), (2,))]
assert ag.gradcheck(Linear.apply, inputs)
assert np.allclose(Linear.apply(*inputs).detach().numpy(), F.linear(*inputs).detach().numpy())
print("Exercise 4: Linear with a hand-written backward passes gradcheck")

# Exercise 5: the hidden weight omega_14 (from input 1 to hidden unit 4) in the notes' 3-3-3 sigmoid network.
x, y = rng.uniform(-1, 1, 3), np.array([0.9, 0.1, 0.6])
W1, W2 = rng.standard_normal((3, 3)), rng.standard_normal((3, 3))  # W1[j, i] = omega_ij, W2[k, j] = omega_jk
alpha = 1 / (1 + np.exp(-(W1 @ x)))
y_hat = 1 / (1 + np.exp(-(W2 @ alpha)))
by_hand = -np.sum((y - y_hat) * y_hat * (1 - y_hat) * W2[:, 0]) * alpha[0] * (1 - alpha[0]) * x[0]
W1_t = ag.tensor(W1, requires_grad=True)
(0.5 * ((ag.tensor(y) - (ag.tensor(W2) @ (W1_t @ ag.tensor(x)).sigmoid()).sigmoid()) ** 2).sum()).backward()
assert np.isclose(W1_t.grad.numpy()[0, 0], by_hand, rtol=1e-12)
print(f"Exercise 5: dL/d omega_14 = {by_hand:+.6f}")

# Exercise 6: sum_n delta_n x_n^T = sum_n (row n of dZ)^T (row n of X) = dZ^T X.
dZ, X = rng.standard_normal((6, 2)), rng.standard_normal((6, 3))
assert np.allclose(sum(np.outer(dZ[n], X[n]) for n in range(6)), dZ.T @ X)
print("Exercise 6: the per-sample outer products sum to dZ^T X")
