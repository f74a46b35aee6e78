# %% [markdown]
# # 2. The elementwise (Hadamard) product in backpropagation
#
# Backpropagation through a layer alternates two kinds of step: a *matrix* product for the linear part
# and an *elementwise* product for the activation. This notebook shows where the elementwise product
# comes from (the Jacobian of an elementwise function is diagonal), checks the resulting formulas
# against `backward()` on a two-layer network, measures what the sigmoid's factor does to gradients through
# depth, derives the softmax + cross-entropy gradient $\hat y - y$, trains linear and softmax regression from
# scratch with hand-written gradients, writes the notes' `Matmul` as an autograd `Function`, and shows the same
# elementwise product at work in dropout.
#
# The examples follow the project's seed notes on the Hadamard product and on backpropagation in a
# two-layer network (a CSDN course post, "阿达玛乘积详解").

# %%
import matplotlib.pyplot as plt
import numpy as np

import autograd_core as ag
import nn.functional as F

# %% [markdown]
# ## Layout: one sample per row
#
# The notes write one sample at a time as a **column** vector, $z = Wx + b$ with $W \in \mathbb R^{m \times n}$
# and $x \in \mathbb R^n$. Every notebook here stores a batch the way `nn.Linear`, PyTorch and numpy do: **one
# sample per row**, $X \in \mathbb R^{N \times n}$ (`X.shape == (n_samples, n_features)`). Stacking the notes'
# columns side by side gives $X^\top$, so the notes' $W X^\top + b$ is, transposed,
#
# $$Z = X W^\top + b \qquad (N \times m,\ b \text{ added to every row}),$$
#
# which is exactly `F.linear(X, W, b)`. Gradients follow the same transpose: the notes' per-sample
# $\partial L/\partial W = \delta\, x^\top$ becomes, summed over the batch, $(\partial L/\partial Z)^\top X$.

# %%
rng = np.random.default_rng(0)
W_layout, b_layout = rng.standard_normal((3, 4)), rng.standard_normal(3)
X_layout = rng.standard_normal((5, 4))  # 5 samples, 4 features: one sample per row
notes_columns = W_layout @ X_layout.T + b_layout[:, None]  # the notes: one sample per column
rows = F.linear(ag.tensor(X_layout), ag.tensor(W_layout), ag.tensor(b_layout)).numpy()
layout_gap = np.abs(rows - notes_columns.T).max()
print(f"X W^T + b (rows) against (W X_col + b)^T (notes' columns): largest difference {layout_gap:.1e}")

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
# ## What the factor $\sigma'(Z) \le 1/4$ does through depth
#
# The factor $\sigma(Z)(1 - \sigma(Z))$ in $\partial L/\partial Z$ is at most $1/4$, which is where the
# *vanishing gradient* of deep sigmoid networks starts (notebook 4). Going back through one layer
# $a_l = \sigma(a_{l-1} W_l^\top)$ multiplies the gradient by $\operatorname{diag}(\sigma'(z))$ and then by $W_l$:
#
# $$\Big\|\frac{\partial L}{\partial a_{l-1}}\Big\| \le \|W_l\|_2 \cdot \max \sigma'(z) \cdot
# \Big\|\frac{\partial L}{\partial a_l}\Big\| \le \frac{\|W_l\|_2}{4}\Big\|\frac{\partial L}{\partial a_l}\Big\|.$$
#
# So the sigmoid alone does not guarantee a shrinking gradient: the weights' largest singular value
# $\|W\|_2$ matters too. We measure it: a stack of 8 layers of width 32 on 64 random inputs, with orthogonal
# weights (every singular value 1, so the weights neither shrink nor grow the gradient), once with the sigmoid and
# once with tanh (whose derivative reaches 1), and record with `retain_grad()` how the gradient's norm changes
# at every layer.


# %%
def gradient_through_depth(activation, gain=1.0, depth=8, width=32):
    """`||dL/da_(l-1)|| / ||dL/da_l||` for each layer of a stack with orthogonal weights times `gain`."""
    layer_rng = np.random.default_rng(1)
    a = ag.tensor(layer_rng.standard_normal((64, width)), requires_grad=True)
    activations = [a]
    for _ in range(depth):
        q, _ = np.linalg.qr(layer_rng.standard_normal((width, width)))
        a = activation(F.linear(a, ag.tensor(gain * q)))
        a.retain_grad()
        activations.append(a)
    a.sum().backward()
    norms = np.array([np.linalg.norm(t.grad.numpy()) for t in activations])
    return norms[:-1] / norms[1:]


depth_ratios = {
    "sigmoid, orthogonal W": gradient_through_depth(F.sigmoid),
    "tanh, orthogonal W": gradient_through_depth(F.tanh),
    "sigmoid, 6 x orthogonal W": gradient_through_depth(F.sigmoid, gain=6.0),
}
fig, ax = plt.subplots(figsize=(6, 3.5))
for label, ratios in depth_ratios.items():
    ax.plot(range(1, len(ratios) + 1), ratios, "o-", label=label)
    print(
        f"{label:26}: per-layer ratio from {ratios.min():.3f} to {ratios.max():.3f}; "
        f"over all 8 layers x {np.prod(ratios):.1e}"
    )
ax.axhline(0.25, color="grey", ls="--", lw=0.8)
ax.set(
    yscale="log",
    xlabel="layer l (1 = first)",
    ylabel=r"$\|\partial L/\partial a_{l-1}\| \,/\, \|\partial L/\partial a_l\|$",
    title="gradient ratio per layer; dashed: 1/4",
)
ax.legend(fontsize="small")
plt.show()

# %% [markdown]
# With orthogonal weights every sigmoid layer shrinks the gradient at least fourfold, as the bound says, so 8
# layers shrink it by more than $4^8 \approx 6.6 \times 10^4$; tanh layers, whose derivative is near 1 for small
# inputs, lose far less. Scale the weights up sixfold and the same sigmoid layers let the gradient through at a
# ratio above $1/4$: the bound is $\|W\|_2/4$, not $1/4$.
#
# ## Softmax and cross-entropy: the gradient is $\hat y - y$
#
# A classifier's last layer turns scores (logits) $z \in \mathbb R^C$ into probabilities
# $\hat y = \operatorname{softmax}(z)$, $\hat y_k = e^{z_k}/\sum_j e^{z_j}$, and the notes' loss for a one-hot
# target $y$ is the cross-entropy $L = -y^\top \log \hat y$. Unlike an elementwise activation, softmax mixes its
# inputs: its Jacobian is **not** diagonal,
#
# $$\frac{\partial \hat y_k}{\partial z_j} = \hat y_k(\delta_{kj} - \hat y_j), \qquad
# J = \operatorname{diag}(\hat y) - \hat y \hat y^\top .$$
#
# Chained with $\partial L/\partial \hat y_k = -y_k/\hat y_k$ it collapses, since $\sum_k y_k = 1$:
#
# $$\frac{\partial L}{\partial z_j} = -\sum_k \frac{y_k}{\hat y_k}\,\hat y_k(\delta_{kj} - \hat y_j)
# = -y_j + \hat y_j \sum_k y_k = \hat y_j - y_j .$$
#
# For a batch (one sample per row) with the mean over the $N$ samples, $\partial L/\partial Z = (\hat Y - Y)/N$.
# `F.cross_entropy` takes the logits and the class indices and computes the same thing in one fused, stable
# step (log-softmax, then the negative log-likelihood).

# %%
logits_value = rng.standard_normal((6, 4))
targets = np.array([0, 3, 1, 1, 2, 0])
one_hot = np.eye(4)[targets]
probabilities = np.exp(logits_value) / np.exp(logits_value).sum(axis=1, keepdims=True)

logits = ag.tensor(logits_value, requires_grad=True)
F.cross_entropy(logits, ag.tensor(targets)).backward()
softmax_ce_gap = np.abs(logits.grad.numpy() - (probabilities - one_hot) / len(targets)).max()
print(f"backward() against (Y_hat - Y) / N: largest difference {softmax_ce_gap:.1e}")

softmax_jacobian = ag.func.jacobian(lambda t: F.softmax(t, dim=0))(logits_value[0]).numpy()
softmax_jacobian_gap = np.abs(
    softmax_jacobian - (np.diag(probabilities[0]) - np.outer(probabilities[0], probabilities[0]))
).max()
print(f"softmax Jacobian against diag(y) - y y^T: largest difference {softmax_jacobian_gap:.1e}")

softmax_ce_gradcheck = ag.gradcheck(
    lambda z: F.cross_entropy(z, ag.tensor(targets)), [ag.tensor(logits_value, requires_grad=True)]
)
print("gradcheck of cross_entropy(logits):", softmax_ce_gradcheck)

# %% [markdown]
# ## Linear and softmax regression from scratch
#
# Before any `nn.Module`, the two simplest trainable models, with the gradients written by hand from the
# formulas above and checked once against `backward()`.
#
# **Linear regression**, $\hat y = Xw + b$ with the mean squared error $L = \frac1N\|\hat y - y\|^2$:
# $\partial L/\partial w = \frac2N X^\top(\hat y - y)$ and $\partial L/\partial b = \frac2N \sum_n (\hat y_n - y_n)$.
# Full-batch gradient descent should reach the least-squares solution.

# %%
X_lin = rng.standard_normal((200, 3))
true_w, true_b = np.array([2.0, -1.0, 0.5]), 0.3
y_lin = X_lin @ true_w + true_b + 0.1 * rng.standard_normal(200)


def linear_regression_gradients(w, b):
    residual = X_lin @ w + b - y_lin
    return 2 / len(y_lin) * X_lin.T @ residual, 2 * residual.mean()


w_lin, b_lin = np.zeros(3), 0.0
w_t, b_t = ag.tensor(w_lin, requires_grad=True), ag.tensor(b_lin, dtype=np.float64, requires_grad=True)
F.mse_loss(ag.tensor(X_lin) @ w_t + b_t, ag.tensor(y_lin)).backward()
hand_w, hand_b = linear_regression_gradients(w_lin, b_lin)
linear_gradient_gap = max(np.abs(hand_w - w_t.grad.numpy()).max(), abs(hand_b - b_t.grad.item()))
for _ in range(300):
    grad_w, grad_b = linear_regression_gradients(w_lin, b_lin)
    w_lin, b_lin = w_lin - 0.1 * grad_w, b_lin - 0.1 * grad_b
least_squares = np.linalg.lstsq(np.column_stack([X_lin, np.ones(200)]), y_lin, rcond=None)[0]
linear_solution_gap = np.abs(np.append(w_lin, b_lin) - least_squares).max()
print(f"hand gradient against backward(): {linear_gradient_gap:.1e}")
print(f"after 300 steps w = {np.round(w_lin, 3)}, b = {b_lin:.3f}; least squares differs by {linear_solution_gap:.1e}")

# %% [markdown]
# **Softmax regression** on the 1797 digits (8x8 pixels, one image per row of $X$, $64$ features), $Z = XW^\top
# + b$ with $W \in \mathbb R^{10 \times 64}$: by the result above, $\partial L/\partial Z = (\hat Y - Y)/N$, so
# $\partial L/\partial W = (\hat Y - Y)^\top X / N$ and $\partial L/\partial b$ is the column sum of
# $(\hat Y - Y)/N$. One linear layer with a softmax is already a decent digit classifier.

# %%
digits, labels = ag.datasets.load_digits()
digits = digits.astype(np.float64)
digits_one_hot = np.eye(10)[labels]


def softmax_regression_gradients(W, b):
    scores = digits @ W.T + b
    scores -= scores.max(axis=1, keepdims=True)  # softmax is unchanged by a shift; this avoids overflow
    y_hat = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    dZ = (y_hat - digits_one_hot) / len(digits)
    loss = -np.log(y_hat[np.arange(len(digits)), labels]).mean()
    return dZ.T @ digits, dZ.sum(axis=0), loss, (y_hat.argmax(axis=1) == labels).mean()


W_soft, b_soft = np.zeros((10, 64)), np.zeros(10)
W_t, b_t = ag.tensor(W_soft, requires_grad=True), ag.tensor(b_soft, requires_grad=True)
F.cross_entropy(F.linear(ag.tensor(digits), W_t, b_t), ag.tensor(labels)).backward()
hand_W, hand_b, first_loss, _ = softmax_regression_gradients(W_soft, b_soft)
softmax_gradient_gap = max(np.abs(hand_W - W_t.grad.numpy()).max(), np.abs(hand_b - b_t.grad.numpy()).max())
for _ in range(200):
    grad_W, grad_b, last_loss, train_accuracy = softmax_regression_gradients(W_soft, b_soft)
    W_soft, b_soft = W_soft - 0.5 * grad_W, b_soft - 0.5 * grad_b
print(f"hand gradient against backward(): {softmax_gradient_gap:.1e}")
print(f"loss {first_loss:.3f} (= log 10) -> {last_loss:.3f} in 200 steps; training accuracy {train_accuracy:.1%}")

# %% [markdown]
# ## The notes' `Matmul`, as an autograd `Function`
#
# The notes sketch a layer object with a hand-written backward:
#
# ```python
# class Matmul:
#     def forward(self, x, W):            # h = x W, one sample per row of x
#         self.mem = {"x": x, "W": W}
#         return np.matmul(x, W)
#     def backward(self, grad_y):
#         grad_W = np.matmul(x.T, grad_y)
#         grad_x = np.matmul(grad_y, W.T)
#         return grad_x, grad_W
# ```
#
# `ag.Function` is exactly this contract (PyTorch's `torch.autograd.Function`): `forward` computes the value
# and saves what backward needs on `ctx`, `backward` receives $\partial L/\partial h$ and returns one gradient per
# input. Once defined, the op composes with every other op in the graph, and `gradcheck` tests the hand-written
# backward against central differences.


# %%
class Matmul(ag.Function):
    """h = x @ W with the notes' hand-written backward."""

    @staticmethod
    def forward(ctx, x, W):
        ctx.save_for_backward(x, W)
        return x @ W

    @staticmethod
    def backward(ctx, grad_h):
        x, W = ctx.saved_tensors
        return grad_h @ W.T, x.T @ grad_h  # grad_x, grad_W


x_mm = ag.tensor(rng.standard_normal((5, 3)), requires_grad=True)
W_mm = ag.tensor(rng.standard_normal((3, 2)), requires_grad=True)
Matmul.apply(x_mm, W_mm).tanh().sum().backward()
custom_grads = (x_mm.grad.numpy().copy(), W_mm.grad.numpy().copy())
x_mm.grad, W_mm.grad = None, None
(x_mm @ W_mm).tanh().sum().backward()
matmul_gap = max(np.abs(custom_grads[0] - x_mm.grad.numpy()).max(), np.abs(custom_grads[1] - W_mm.grad.numpy()).max())
matmul_gradcheck = ag.gradcheck(Matmul.apply, [x_mm.detach().requires_grad_(), W_mm.detach().requires_grad_()])
print(f"Matmul.apply against @ inside tanh(...).sum(): largest gradient difference {matmul_gap:.1e}")
print("gradcheck of the hand-written backward:", matmul_gradcheck)

# %% [markdown]
# ## The notes' 3-3-3 sigmoid network: the sign of the update
#
# The notes work a network with inputs 1-3, sigmoid hidden units 4-6 ($\alpha_j = \sigma(\delta_j)$) and sigmoid
# outputs 7-9 ($\hat y_k = \sigma(\delta_k)$), with the squared error $L = \frac12 \sum_k (y_k - \hat y_k)^2$, and
# write the update of the weight $\omega_{47}$ from unit 4 to unit 7 as
#
# > **The notes say** $\omega'_{47} = \omega_{47} - \eta\,(y_7 - \hat y_7)\,\hat y_7(1 - \hat y_7)\,\alpha_4$
# > (and, on the same line, equate $\eta\,\partial L/\partial\omega_{47}$ with $(y_7 - \hat y_7)\hat y_7(1 -
# > \hat y_7)\alpha_4$). **In fact** $\partial L/\partial \omega_{47} = -(y_7 - \hat y_7)\,\hat y_7(1 - \hat
# > y_7)\,\alpha_4$: differentiating $\frac12(y_7 - \hat y_7)^2$ brings down a factor $-1$ from $-\hat y_7$. The
# > descent step is $\omega'_{47} = \omega_{47} + \eta\,(y_7 - \hat y_7)\hat y_7(1 - \hat y_7)\alpha_4$; the notes'
# > sign climbs the loss.
#
# The next cell builds the network (one sample, the notes' column form: `W2[k, j]` is $\omega_{jk}$), compares
# the notes' expression with `backward()`, and takes one step of each sign on the nine output weights.

# %%
net_rng = np.random.default_rng(7)
x_333, y_333 = net_rng.uniform(-1, 1, 3), np.array([0.9, 0.1, 0.6])
W1_333, W2_333 = net_rng.standard_normal((3, 3)), net_rng.standard_normal((3, 3))


def loss_333(W2):
    alpha = 1 / (1 + np.exp(-(W1_333 @ x_333)))
    y_hat = 1 / (1 + np.exp(-(W2 @ alpha)))
    return 0.5 * ((y_333 - y_hat) ** 2).sum(), alpha, y_hat


loss_before, alpha_333, y_hat_333 = loss_333(W2_333)
notes_expression = np.outer((y_333 - y_hat_333) * y_hat_333 * (1 - y_hat_333), alpha_333)  # [k, j]: omega_jk
W2_t = ag.tensor(W2_333, requires_grad=True)
alpha_t = (ag.tensor(W1_333) @ ag.tensor(x_333)).sigmoid()
(0.5 * ((ag.tensor(y_333) - (W2_t @ alpha_t).sigmoid()) ** 2).sum()).backward()
sign_check = np.abs(W2_t.grad.numpy() + notes_expression).max()  # dL/dW2 = -(the notes' expression)
eta = 2.0
loss_notes_step = loss_333(W2_333 - eta * notes_expression)[0]
loss_descent_step = loss_333(W2_333 + eta * notes_expression)[0]
print(
    f"dL/d omega_47 by backward() {W2_t.grad.numpy()[0, 0]:+.5f}; the notes' expression {notes_expression[0, 0]:+.5f}"
)
print(f"largest |backward() + notes' expression| over the 9 output weights: {sign_check:.1e}")
print(
    f"loss {loss_before:.5f}; after the notes' step (eta = {eta}) {loss_notes_step:.5f}; "
    f"after the descent step {loss_descent_step:.5f}"
)

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
# - the notes' column layout and the rows-are-samples layout give the same numbers ($Z = XW^\top + b$);
# - through 8 sigmoid layers with orthogonal weights every layer shrinks the gradient at least fourfold (more
#   than $4^8$ in all), tanh layers lose far less (each keeps more than half), and with weights 6 times larger
#   the sigmoid layers pass more than $1/4$: the bound is $\|W\|_2/4$;
# - the softmax + cross-entropy gradient is $(\hat Y - Y)/N$ (to $10^{-15}$), the softmax Jacobian is
#   $\operatorname{diag}(\hat y) - \hat y\hat y^\top$, and `gradcheck` passes;
# - linear regression by hand-written gradient descent reaches the least-squares solution (to $10^{-6}$);
#   softmax regression by hand fits the digits to over 94% training accuracy; both hand gradients equal
#   `backward()`'s;
# - the notes' `Matmul` as an `ag.Function` gives the same gradients as `@` and passes `gradcheck`;
# - **the notes' update of the 3-3-3 sigmoid network has the wrong sign**: their expression is exactly
#   $-\partial L/\partial \omega$, so their step raises the loss and the opposite step lowers it;
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
assert layout_gap < 1e-12
sigmoid_ratios, tanh_ratios = depth_ratios["sigmoid, orthogonal W"], depth_ratios["tanh, orthogonal W"]
assert sigmoid_ratios.max() <= 0.25 and np.prod(sigmoid_ratios) < 4.0**-8
assert tanh_ratios.min() > 0.5 and depth_ratios["sigmoid, 6 x orthogonal W"].max() > 0.25
assert softmax_ce_gap < 1e-15 and softmax_jacobian_gap < 1e-15 and softmax_ce_gradcheck
assert linear_gradient_gap < 1e-12 and linear_solution_gap < 1e-6
assert softmax_gradient_gap < 1e-15 and np.isclose(first_loss, np.log(10)) and train_accuracy > 0.94
assert matmul_gap < 1e-12 and matmul_gradcheck
assert sign_check < 1e-12 and loss_notes_step > loss_before > loss_descent_step
assert np.array_equal(x_ones.grad.numpy(), y.detach().numpy()) and set(np.unique(y.detach().numpy())) == {0.0, 2.0}

# %% [markdown]
# ## Exercises
#
# Solutions, as a script that computes and asserts each answer: `notebooks/solutions/02_hadamard_backprop.py`.
#
# 1. **Sigmoid and binary cross-entropy.** For $\hat y = \sigma(z)$ and $L = -y\log\hat y - (1-y)\log(1-\hat y)$,
#    show that $\partial L/\partial z = \hat y - y$, the same form as softmax with cross-entropy. Check it with
#    `F.binary_cross_entropy_with_logits` and `backward()`.
# 2. **A three-way Hadamard product.** For $P = A \circ B \circ C$ and $L = \sum_{ij} G_{ij} P_{ij}$, write
#    $\partial L/\partial A$, $\partial L/\partial B$ and $\partial L/\partial C$ as Hadamard products, and check them.
# 3. **Why the rows of $\partial L/\partial Z$ sum to zero.** Show that $\operatorname{softmax}(z + c\mathbf 1) =
#    \operatorname{softmax}(z)$, deduce that the gradient of any loss of the softmax is orthogonal to
#    $\mathbf 1$, and check it on $\hat Y - Y$.
# 4. **`Linear` by hand.** Write $Y = XW^\top + b$ as an `ag.Function` with a hand-written backward (three
#    gradients) and `gradcheck` it.
# 5. **A hidden weight of the 3-3-3 network.** Derive $\partial L/\partial\omega_{14} = -\sum_{k=7}^{9} (y_k - \hat
#    y_k)\hat y_k(1 - \hat y_k)\,\omega_{4k}\,\alpha_4(1 - \alpha_4)\,x_1$ and check it against `backward()`.
# 6. **Columns and rows.** Show that the sum over a batch of the notes' per-sample $\delta_n x_n^\top$ is
#    $(\partial L/\partial Z)^\top X$ when samples are rows.
