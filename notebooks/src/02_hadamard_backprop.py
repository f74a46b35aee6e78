# %% [markdown]
# # 2. The elementwise (Hadamard) product in backpropagation
#
# Backpropagation through a layer alternates two kinds of step: a *matrix* product for the linear part
# and an *elementwise* product for the activation. This notebook shows where the elementwise product
# comes from (the Jacobian of an elementwise function is diagonal), checks the resulting formulas
# against `backward()` on a two-layer network, and shows the same product at work in dropout.
#
# The examples follow the project's seed notes on the Hadamard product and on backpropagation in a
# two-layer network (a CSDN course post, "阿达玛乘积详解").

# %%
import numpy as np

import autograd_core as ag
import nn.functional as F

# %% [markdown]
# ## The Hadamard product
#
# For two matrices of the same shape, $(A \circ B)_{ij} = A_{ij} B_{ij}$: no sums over rows and columns,
# just the matching entries multiplied. In `autograd_core` (as in numpy and PyTorch) it is the `*`
# operator, while `@` is the matrix product.

# %%
A = ag.tensor([[1.0, 2.0], [3.0, 4.0]])
B = ag.tensor([[5.0, 6.0], [7.0, 8.0]])
hadamard = A * B
matrix_product = A @ B
print("A ∘ B =\n", hadamard.numpy())
print("A @ B =\n", matrix_product.numpy())

# %% [markdown]
# A Hadamard product with a vector $a$ is a matrix product with the diagonal matrix $\operatorname{diag}(a)$:
# each coordinate is scaled on its own, with no mixing between coordinates.
#
# $$a \circ v = \operatorname{diag}(a)\, v.$$

# %%
a = np.array([1.0, -2.0, 0.5])
v = np.array([4.0, 3.0, 2.0])
print("a ∘ v        =", a * v)
print("diag(a) @ v  =", np.diag(a) @ v)

# %% [markdown]
# ## Why backpropagation multiplies elementwise
#
# An elementwise function $h = f(z)$ (an activation) has $h_i$ depend on $z_i$ alone, so its Jacobian
# $\partial h_i / \partial z_j$ is zero off the diagonal:
#
# $$J_f(z) = \frac{\partial h}{\partial z} = \operatorname{diag}\big(f'(z_1), \dots, f'(z_n)\big).$$
#
# Backpropagation needs the vector–Jacobian product $J^\top \frac{\partial L}{\partial h}$, and by the
# identity above it is the Hadamard product
#
# $$\frac{\partial L}{\partial z} = J_f(z)^\top \frac{\partial L}{\partial h} = \frac{\partial L}{\partial h} \circ f'(z).$$
#
# `ag.func.jacobian` builds the full Jacobian (one backward pass per output element), so we can look at it.

# %%
z = np.array([-2.0, 0.0, 1.0, 3.0])
sigmoid_jacobian = ag.func.jacobian(lambda t: t.sigmoid())(z).numpy()
sigmoid_prime = 1 / (1 + np.exp(-z)) * (1 - 1 / (1 + np.exp(-z)))
print("Jacobian of sigmoid at z:\n", np.round(sigmoid_jacobian, 4))
print("sigma'(z) = sigma(z)(1 - sigma(z)) =", np.round(sigmoid_prime, 4))

upstream = np.array([0.3, -1.0, 2.0, 0.5])  # some dL/dh
print("J^T g   =", sigmoid_jacobian.T @ upstream)
print("g ∘ f'  =", upstream * sigmoid_prime)

# %% [markdown]
# A linear map $z = Wx$ mixes coordinates, so its Jacobian is the dense matrix $W$ itself, and its
# vector–Jacobian product is a real matrix product, $W^\top g$:

# %%
W = np.array([[1.0, 2.0, 0.0], [-1.0, 0.5, 3.0]])
linear_jacobian = ag.func.jacobian(lambda x: ag.tensor(W) @ x)(np.array([0.2, -0.1, 0.4])).numpy()
print("Jacobian of x -> W x:\n", linear_jacobian)

# %% [markdown]
# The diagonal structure is what makes the Hadamard form pay: for a batch of $N$ samples of width $n$ the
# Jacobian of an activation has $(Nn)^2$ entries, of which only $Nn$ are not zero. Nobody builds it; the
# backward pass multiplies elementwise instead. The Jacobian of $A \circ B$ with respect to $A$ is diagonal
# too, with the entries of $B$ on the diagonal, so the gradient of $A \circ B$ with respect to $A$ is
# $\frac{\partial L}{\partial (A\circ B)} \circ B$.

# %%
batch_jacobian = ag.func.jacobian(lambda t: t.tanh())(np.linspace(-1, 1, 20).reshape(5, 4)).numpy()
print(
    f"tanh on a (5, 4) batch: Jacobian of shape {batch_jacobian.shape}, "
    f"{batch_jacobian.size} entries, {np.count_nonzero(batch_jacobian)} non-zero"
)

hadamard_jacobian = ag.func.jacobian(lambda a, b: a * b, argnums=0)(
    A.numpy().astype(np.float64), B.numpy().astype(np.float64)
)
print("d(A ∘ B)/dA, flattened to 4 x 4:\n", hadamard_jacobian.numpy().reshape(4, 4))

# %% [markdown]
# ## A two-layer network, backpropagated by hand
#
# The network of the seed notes, written for a batch of $N$ samples stored as the rows of $X$ (the layout
# of `nn.Linear`):
#
# $$Z = X W_1^\top + b_1, \qquad H = \sigma(Z), \qquad \hat Y = H W_2^\top + b_2, \qquad
# L = \tfrac12 \textstyle\sum (\hat Y - Y)^2 .$$
#
# Backward, one line per step; the only elementwise product is the one through the activation:
#
# $$\begin{aligned}
# \frac{\partial L}{\partial \hat Y} &= \hat Y - Y, &
# \frac{\partial L}{\partial W_2} &= \Big(\frac{\partial L}{\partial \hat Y}\Big)^{\!\top} H, &
# \frac{\partial L}{\partial b_2} &= \textstyle\sum_n \frac{\partial L}{\partial \hat Y}, \\
# \frac{\partial L}{\partial H} &= \frac{\partial L}{\partial \hat Y}\, W_2, &
# \frac{\partial L}{\partial Z} &= \frac{\partial L}{\partial H} \circ \sigma(Z)\big(1 - \sigma(Z)\big), & \\
# \frac{\partial L}{\partial W_1} &= \Big(\frac{\partial L}{\partial Z}\Big)^{\!\top} X, &
# \frac{\partial L}{\partial b_1} &= \textstyle\sum_n \frac{\partial L}{\partial Z}. &
# \end{aligned}$$

# %%
rng = np.random.default_rng(0)
n_samples, n_in, n_hidden, n_out = 5, 3, 4, 2
X = rng.standard_normal((n_samples, n_in))
Y = rng.standard_normal((n_samples, n_out))
params = {
    "W1": rng.standard_normal((n_hidden, n_in)),
    "b1": rng.standard_normal(n_hidden),
    "W2": rng.standard_normal((n_out, n_hidden)),
    "b2": rng.standard_normal(n_out),
}

# by hand, with numpy
Z = X @ params["W1"].T + params["b1"]
H = 1 / (1 + np.exp(-Z))
Y_hat = H @ params["W2"].T + params["b2"]
dY_hat = Y_hat - Y
dH = dY_hat @ params["W2"]
dZ = dH * H * (1 - H)  # the Hadamard product
by_hand = {"W2": dY_hat.T @ H, "b2": dY_hat.sum(axis=0), "W1": dZ.T @ X, "b1": dZ.sum(axis=0)}

# by the engine
tensors = {name: ag.tensor(value, requires_grad=True) for name, value in params.items()}
hidden = F.linear(ag.tensor(X), tensors["W1"], tensors["b1"]).sigmoid()
loss = 0.5 * ((F.linear(hidden, tensors["W2"], tensors["b2"]) - ag.tensor(Y)) ** 2).sum()
loss.backward()

hand_vs_engine = {name: np.abs(by_hand[name] - tensors[name].grad.numpy()).max() for name in params}
for name, difference in hand_vs_engine.items():
    print(f"dL/d{name}: largest difference between hand and backward() = {difference:.1e}")

# %% [markdown]
# The factor $\sigma(Z)(1 - \sigma(Z)) \le 1/4$ in $\partial L/\partial Z$ is also where the
# *vanishing gradient* of deep sigmoid networks starts (notebook 4): every sigmoid layer multiplies the
# gradient elementwise by a number no larger than $1/4$.

# %%
print(f"largest sigma'(Z) in this batch: {(H * (1 - H)).max():.3f} (never above 0.25)")
print(f"|dL/dZ| / |dL/dH| = {np.linalg.norm(dZ) / np.linalg.norm(dH):.3f}")

# %% [markdown]
# ## The same product in dropout
#
# Inverted dropout (notebook 6) multiplies a layer's output elementwise by a random mask $m$ of zeros and
# ones, scaled by $1/(1-p)$: $y = x \circ m / (1 - p)$. Its backward pass is the same Hadamard product,
# $\partial L/\partial x = \partial L/\partial y \circ m/(1-p)$, so the dropped units get exactly zero
# gradient. With $x$ all ones and $L = \sum y$, the gradient of $x$ *is* the scaled mask:

# %%
ag.manual_seed(0)
x_ones = ag.ones((4, 6), dtype=np.float64, requires_grad=True)
y = F.dropout(x_ones, p=0.5, training=True)
y.sum().backward()
print("y = x ∘ m / (1 - p):\n", y.detach().numpy())
print("dL/dx:\n", x_ones.grad.numpy())

# %% [markdown]
# ## Findings
#
# - $[[1,2],[3,4]] \circ [[5,6],[7,8]] = [[5,12],[21,32]]$, unlike the matrix product $[[19,22],[43,50]]$;
# - the Jacobian of an elementwise function is diagonal (off-diagonal entries exactly zero) with $f'(z)$ on
#   the diagonal, so $J^\top g = g \circ f'(z)$; the Jacobian of $A \circ B$ w.r.t. $A$ is $\operatorname{diag}(B)$;
#   a linear map's Jacobian is the dense $W$;
# - the hand-derived backward pass of the two-layer network, with its one Hadamard product, matches
#   `backward()` to $10^{-12}$ for every parameter;
# - dropout's backward pass is the same product: the gradient is the scaled mask, zero where a unit was dropped.

# %%
assert hadamard.numpy().tolist() == [[5, 12], [21, 32]]
assert matrix_product.numpy().tolist() == [[19, 22], [43, 50]]
assert np.array_equal(a * v, np.diag(a) @ v)
assert np.count_nonzero(sigmoid_jacobian - np.diag(np.diag(sigmoid_jacobian))) == 0
assert np.allclose(np.diag(sigmoid_jacobian), sigmoid_prime, rtol=1e-12)
assert np.allclose(sigmoid_jacobian.T @ upstream, upstream * sigmoid_prime, rtol=1e-12)
assert np.allclose(linear_jacobian, W)
assert np.count_nonzero(batch_jacobian) == 20 and batch_jacobian.size == 400
assert np.array_equal(hadamard_jacobian.numpy().reshape(4, 4), np.diag([5.0, 6.0, 7.0, 8.0]))
assert all(difference < 1e-12 for difference in hand_vs_engine.values()), hand_vs_engine
assert (H * (1 - H)).max() <= 0.25
assert np.array_equal(x_ones.grad.numpy(), y.detach().numpy()) and set(np.unique(y.detach().numpy())) == {0.0, 2.0}
