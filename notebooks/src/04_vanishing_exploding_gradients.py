# %% [markdown]
# # 4. Vanishing and exploding gradients
#
# Backpropagation multiplies the gradient by one factor per layer on its way from the loss to the first
# layer. Over twenty layers, factors a little below 1 leave almost nothing (the gradient **vanishes** and
# the first layers stop learning); factors a little above 1 blow it up (it **explodes** and training
# diverges). This notebook measures the per-layer gradient norms of deep MLPs on the handwritten digits
# and tries the standard remedies: a better activation, a better initialisation, normalisation layers,
# residual connections, and gradient clipping.
#
# The causes and remedies follow the project's seed notes (the course slides after Qiu Xipeng's *Neural
# Networks and Deep Learning*; a CSDN post on vanishing gradients in a two-layer network; mantch's Zhihu
# article after *Dive into Deep Learning*).

# %%
import contextlib
import io
import tempfile
import warnings

import matplotlib.pyplot as plt
import numpy as np

import autograd_core as ag
import nn
import nn.functional as F
import optim
from autograd_core import cli
from autograd_core.cli import gradflow
from autograd_core.cli.gradflow import Network

# %% [markdown]
# ## Why depth multiplies
#
# In an MLP $z^{(l)} = W^{(l)} a^{(l-1)} + b^{(l)}$, $a^{(l)} = f(z^{(l)})$, the gradient with respect to a
# layer's pre-activation comes from the layer above (notebook 2):
#
# $$\delta^{(l)} = \frac{\partial L}{\partial z^{(l)}} = \Big(W^{(l+1)\top} \delta^{(l+1)}\Big) \circ f'\big(z^{(l)}\big),
# \qquad \frac{\partial L}{\partial W^{(l)}} = \delta^{(l)} a^{(l-1)\top}.$$
#
# Each layer multiplies the gradient's size by roughly $\lVert W \rVert \cdot \overline{f'}$. For the sigmoid,
# $f' \le 1/4$, so with weights of moderate size every layer divides the gradient by four or more. Whether
# the product stays near 1 is a matter of the weights' scale, which is what initialisation schemes choose:
# **Xavier** ($\operatorname{Var} W = 2/(n_\text{in} + n_\text{out})$) keeps the variance of signals and
# gradients constant for activations with slope 1 at 0 (tanh); **He** ($\operatorname{Var} W = 2/n_\text{in}$)
# compensates for ReLU zeroing half of its inputs.
#
# ## Measuring it
#
# Every network below is an `nn.MLP` of 20 hidden layers of width 64 on the 8x8 digits (64 inputs, 10
# classes). `nn.utils.GradientMonitor` records, at each `step()`, the gradient norm of every layer (a module
# owning parameters, e.g. `"3.linear"`). It flags a layer as *vanishing* when its norm is below $10^{-3}$
# times the last layer's, and as *exploding* when it is above $10^3$ times the last layer's, or above $10^3$
# outright (a whole network can explode together), or not finite.
#
# The study's code is the module behind `autograd-core gradflow` (the last section runs the command):
# `gradflow.Network` describes a network (activation, initialisation, normalisation, residual, depth,
# width), `gradflow.build` makes it (seeded), `gradflow.first_step` runs one backward on a batch and reads
# the monitor, `gradflow.table` and `gradflow.plot` show the results.

# %%
digits, labels = ag.datasets.load_digits()
batch_x, batch_y = ag.tensor(digits[:256]), ag.tensor(labels[:256])


def study(networks):
    """Each network's gradient flow at initialisation: one backward on the batch, no update."""
    return {network.label: gradflow.first_step(network, batch_x, batch_y) for network in networks}


def show_png(png, title=None):
    """Show a rendered PNG (bytes or a path) in a pyplot figure: the same code displays it inline in Jupyter
    and in a window (or nowhere, under the Agg backend) when the notebook runs as a script."""
    image = plt.imread(io.BytesIO(png) if isinstance(png, bytes) else png)
    height, width = image.shape[:2]
    _, ax = plt.subplots(figsize=(width / 100, height / 100))
    ax.imshow(image)
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    plt.show()


def show(results, title):
    """The results' table, and `gradflow.plot`'s figure (a pyplot-free Figure, rendered and shown by show_png)."""
    print(gradflow.table(results.values()))
    buffer = io.BytesIO()
    gradflow.plot(results.values(), title=title).savefig(buffer, format="png", dpi=100)
    show_png(buffer.getvalue())


# %% [markdown]
# ### Activation and initialisation

# %%
activation_results = study(
    [
        Network("sigmoid, Xavier", "sigmoid", "xavier"),
        Network("tanh, Xavier", "tanh", "xavier"),
        Network("tanh, default init", "tanh", "default"),
        Network("ReLU, default init", "relu", "default"),
        Network("ReLU, He", "relu", "he"),
        Network("ReLU, N(0, 1)", "relu", "normal:1.0"),
    ]
)
show(activation_results, "gradient norm per layer at initialisation, 20 hidden layers")

# %% [markdown]
# - **Sigmoid**: the first layer's gradient is about $10^{-13}$ of the last layer's. With Xavier weights each
#   sigmoid layer shrinks the gradient roughly four-fold ($f' \le 1/4$), and $4^{-20} \approx 10^{-12}$.
# - **tanh with Xavier** and **ReLU with He** keep every layer's gradient within a small factor of the last
#   layer's: the initialisation was derived for exactly that.
# - The same tanh and ReLU with PyTorch's default initialisation, $U(\pm 1/\sqrt{n_\text{in}})$ (a variance of
#   $1/(3 n_\text{in})$, a sixth of He's), vanish too: the activation alone is not enough.
# - **ReLU with $\mathcal N(0, 1)$ weights** explodes: every layer multiplies by $\approx \sqrt{64/2} \approx 5.7$,
#   so the activations *and* the gradients reach $10^{15}$. The ratio to the last layer stays near 1, because
#   the last layer's gradient has exploded too; the absolute size gives it away, and the monitor flags every
#   layer.
#
# The monitor's own report for the sigmoid network (one row per layer; "vs last" is the ratio to the output
# layer), and the warning it raises during training:

# %%
sigmoid_monitor = activation_results["sigmoid, Xavier"].monitor
print(sigmoid_monitor.summary())
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    sigmoid_monitor.warn = True
    sigmoid_monitor.step()
print("\nwarnings raised:", len(caught), "\nfirst:", caught[0].message)

# %% [markdown]
# ### What "exploding" means
#
# > **The notes say** (the course slides, *梯度爆炸*): "在神经网络中,当前面隐藏层的学习速率低于后面隐藏层的学习速率,
# > 即随着隐藏层数目的增加,分类准确率反而下降了。这种现象叫梯度爆炸。" That is word for word their definition of the
# > *vanishing* gradient (earlier layers learning more slowly than later ones), copied under the other heading.
# > **In fact** the two are opposites. Back-propagation multiplies the gradient with respect to a layer's output,
# > $\partial L / \partial a^{(l)}$, by one factor per layer on its way to the input. The gradient **vanishes**
# > when that factor is below 1, so the early layers get far *smaller* gradients than the late ones (and learn
# > more slowly); it **explodes** when the factor is above 1, so the early layers get far *larger* gradients,
# > the updates are huge, and the loss jumps around or overflows to inf/NaN.
#
# The measurement: a forward hook on every hidden block keeps its output $a^{(l)}$ (`retain_grad()`), one
# backward gives $\lVert \partial L/\partial a^{(l)} \rVert$ for every layer, and the geometric mean of the ratio
# between consecutive layers is the factor per layer on the way back (below 1: vanishing; above 1: exploding).


# %%
def backward_signal(network):
    """||dL/da|| at the output of every hidden block (input side first), for one backward on the batch."""
    model = gradflow.build(network, inputs=64, classes=10)
    outputs = []
    handles = [
        model[block].register_forward_hook(
            lambda module, inputs, output: outputs.append(output) or output.retain_grad()
        )
        for block in range(network.depth)
    ]
    F.cross_entropy(model(batch_x), batch_y).backward()
    for handle in handles:
        handle.remove()
    return np.array([np.linalg.norm(output.grad.numpy()) for output in outputs])


backward_norms, factor_per_layer = {}, {}
for network in (
    Network("sigmoid, Xavier", "sigmoid", "xavier"),
    Network("ReLU, He", "relu", "he"),
    Network("ReLU, N(0, 1)", "relu", "normal:1.0"),
):
    norms = backward_norms[network.label] = backward_signal(network)
    factor_per_layer[network.label] = float((norms[0] / norms[-1]) ** (1 / (len(norms) - 1)))
    print(
        f"{network.label:16}: ||dL/da|| at the last hidden layer {norms[-1]:.1e}, at the first {norms[0]:.1e}; "
        f"factor per layer on the way back {factor_per_layer[network.label]:.2f}"
    )

fig, ax = plt.subplots(figsize=(6.5, 4))
for label, norms in backward_norms.items():
    ax.plot(np.arange(1, len(norms) + 1), norms, marker="o", markersize=3, label=label)
ax.set(
    yscale="log",
    xlabel="hidden layer l (input -> output)",
    ylabel="||dL/da(l)||",
    title="the back-propagated gradient, 20 hidden layers",
)
ax.legend()
plt.show()

# %% [markdown]
# The sigmoid network divides the back-propagated gradient by about four per layer (vanishing); ReLU with
# $\mathcal N(0, 1)$ weights multiplies it by about $\sqrt{64/2} \approx 5.7$ per layer (exploding: the first
# layer's is $10^{14}$ times the last layer's); ReLU with He keeps the factor near 1. (The *weight* gradients
# of the $\mathcal N(0,1)$ network, in the table above, hide this ratio: $\partial L/\partial W^{(l)} =
# \delta^{(l)} a^{(l-1)\top}$, and its forward activations $a^{(l)}$ grow towards the output as fast as
# $\delta^{(l)}$ grows towards the input, so every layer's weight gradient is about equally, and hugely, large.)

# %% [markdown]
# ### Normalisation and residual connections
#
# Three remedies for the sigmoid network, and tanh with LayerNorm for comparison. `nn.MLP(norm="batch")`
# places a `BatchNorm1d` between each hidden linear layer and its activation, `norm="layer"` a `LayerNorm`;
# `residual=True` adds each hidden block's input to its output, $a^{(l)} = a^{(l-1)} + f(z^{(l)})$, so the
# gradient also flows through the identity: $\partial a^{(l)}/\partial a^{(l-1)} = I + (\dots)$.

# %%
remedies = {
    network.label: network
    for network in (
        Network("sigmoid", "sigmoid", "xavier"),
        Network("sigmoid + BatchNorm", "sigmoid", "xavier", "batch"),
        Network("sigmoid + LayerNorm", "sigmoid", "xavier", "layer"),
        Network("sigmoid + residual", "sigmoid", "xavier", residual=True),
        Network("tanh + LayerNorm", "tanh", "xavier", "layer"),
    )
}
remedy_results = study(remedies.values())
show(remedy_results, "sigmoid, 20 hidden layers: remedies")

# %% [markdown]
# BatchNorm and the residual connection restore the flow: the first layer's gradient is within a factor
# of about a hundred of the last layer's instead of $10^{-13}$. LayerNorm does **not** rescue the sigmoid
# network, yet works with tanh. The difference is the sigmoid's non-zero mean (notebook 3): every sigmoid
# output averages about 0.5, so each unit of the next linear layer gets a large offset that is the *same for
# every input* (the sum of its row of weights times 0.5). LayerNorm standardises each sample across its
# units, so it spends its normalisation on that offset while the part that differs between inputs keeps
# shrinking; BatchNorm standardises each unit across the batch and so removes exactly the offset. We can see
# it in the pre-normalisation outputs of hidden layer 10, for the 256 digits of the batch:


# %%
def spread_at_layer(model, block=10):
    captured = {}
    handle = model[block].linear.register_forward_hook(
        lambda module, inputs, output: captured.update(z=output.detach().numpy())
    )
    with ag.no_grad():
        model(batch_x)
    handle.remove()
    z = captured["z"]
    return z.std(axis=0).mean(), np.abs(z.mean(axis=0)).mean()


spread = {}
for label in ("sigmoid + BatchNorm", "sigmoid + LayerNorm", "tanh + LayerNorm"):
    spread[label] = spread_at_layer(gradflow.build(remedies[label], inputs=64, classes=10))
    print(
        f"{label:20}: spread across the digits {spread[label][0]:.1e}, "
        f"offset common to all digits {spread[label][1]:.2f}"
    )

# %% [markdown]
# In the sigmoid + LayerNorm network the 256 different digits produce, at layer 10, outputs that differ by
# about $10^{-5}$ around an offset of about 0.4: the input has been forgotten in the forward pass, and the
# gradient vanishes with it.
#
# ### Why the residual sigmoid network starts with a loss of 16
#
# The residual network's table row looks healthy (first/last ratio about $10^{-2}$), but its *last* layer's
# gradient is about a hundred times the others' and its loss at initialisation is far above the $\ln 10 \approx
# 2.3$ of an untrained classifier. The cause is the sigmoid's mean again: each block adds $\sigma(z) \approx 0.5$
# to every unit of the residual stream $a^{(l)} = a^{(l-1)} + \sigma(z^{(l)})$, so after 20 blocks every unit
# carries an offset of about $20 \times 0.5 = 10$, and the output layer turns it into large, confident, wrong
# scores (and a large gradient $\delta\, a^{(19)\top}$ for its weights). The forward pass blows up, linearly
# in depth.
#
# **The fix used here: centre the branch.** Replacing $\sigma(z)$ by $\sigma(z) - \tfrac12 = \tfrac12\tanh(z/2)$
# (the same shape, mean zero) stops the offset from accumulating. (Scaling each branch by $1/\text{depth}$, or
# initialising its last weights at zero as ResNets often do, also works.) We swap each block's activation module
# for a centred sigmoid and measure the mean of the residual stream at every block, the initial loss and the
# output layer's gradient.


# %%
class CentredSigmoid(nn.Module):
    """sigmoid(x) - 1/2: the sigmoid's shape with mean zero at x = 0."""

    def forward(self, x):
        return F.sigmoid(x) - 0.5


def centred_residual_sigmoid():
    model = gradflow.build(remedies["sigmoid + residual"], inputs=64, classes=10)
    for block in model[:-1]:
        block.activation = CentredSigmoid()
    return model


def stream_and_start(model):
    """The mean residual-stream value after each block, the initial loss, and the output layer's weight gradient."""
    means = []
    handles = [
        block.register_forward_hook(lambda module, inputs, output: means.append(float(output.detach().numpy().mean())))
        for block in model[:-1]
    ]
    loss = F.cross_entropy(model(batch_x), batch_y)
    loss.backward()
    for handle in handles:
        handle.remove()
    return np.array(means), loss.item(), float(np.linalg.norm(model[-1].weight.grad.numpy()))


residual_start = {
    "sigmoid + residual": stream_and_start(gradflow.build(remedies["sigmoid + residual"], inputs=64, classes=10)),
    "centred sigmoid + residual": stream_and_start(centred_residual_sigmoid()),
}
for label, (means, start_loss, output_grad) in residual_start.items():
    print(
        f"{label:27}: mean of the residual stream after blocks 1, 10, 20: {np.round(means[[0, 9, 19]], 2)}; "
        f"initial loss {start_loss:.2f}; output layer's gradient norm {output_grad:.2f}"
    )

# %% [markdown]
# ## The gradient, drawn on the graph
#
# `ag.viz.draw_graph(loss, params=..., show_grads=True)` colours each parameter by its gradient norm (blues:
# vanishing, below $10^{-6}$; greens: healthy; reds: exploding, from $10^{3}$) and draws each module call as
# a cluster. A 10-layer sigmoid network of width 32 keeps the picture readable; the gradient fades from green
# at the output (bottom) to blue at the input (top).

# %%
small_sigmoid = gradflow.build(
    Network("sigmoid, 10 layers", "sigmoid", "xavier", depth=10, width=32), inputs=64, classes=10
)
loss = F.cross_entropy(small_sigmoid(batch_x[:64]), batch_y[:64])
loss.backward()
small_sigmoid_norms = {name: np.linalg.norm(p.grad.numpy()) for name, p in small_sigmoid.named_parameters()}
graph = ag.viz.draw_graph(loss, params=dict(small_sigmoid.named_parameters()), show_grads=True)
show_png(graph.pipe(format="png"), title="10 sigmoid layers: parameters coloured by gradient norm")

# %% [markdown]
# ## Does the flow at initialisation decide training?
#
# Six networks train for 45 steps on batches of 128 digits (about three epochs), with Adam at $10^{-3}$ and a
# `GradientMonitor` recording every step. Adam divides each step by the gradient's recent size, which makes up
# for moderately small gradients, but not for ones far below its $\epsilon = 10^{-8}$.


# %%
def train_steps(model, steps=45, lr=1e-3):
    """Adam on shuffled batches of 128 digits: the batch losses and the monitor that recorded every step."""
    optimizer = optim.Adam(model.parameters(), lr=lr)
    monitor = nn.utils.GradientMonitor(model, warn=False)
    loader = ag.data.DataLoader(ag.data.TensorDataset(digits, labels), batch_size=128, shuffle=True, seed=0)
    batches = (batch for _ in range(steps) for batch in loader)
    losses = []
    for _, (xb, yb) in zip(range(steps), batches):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        optimizer.step()
        monitor.step()
        losses.append(loss.item())
    return np.array(losses), monitor


candidates = {
    label: lambda label=label: gradflow.build(remedies[label], inputs=64, classes=10)
    for label in ("sigmoid", "sigmoid + BatchNorm", "tanh + LayerNorm", "sigmoid + residual")
}
candidates["centred sigmoid + residual"] = centred_residual_sigmoid
candidates["ReLU, He"] = lambda: gradflow.build(Network("ReLU, He", "relu", "he"), inputs=64, classes=10)
training = {}
for label, make in candidates.items():
    losses, monitor = train_steps(make())
    training[label] = {
        "first losses": losses[:5].mean(),
        "last losses": losses[-5:].mean(),
        "first layer update/weight": float(np.mean(monitor.layer_norms("update_ratio")["0.linear"])),
        "losses": losses,
    }
    print(
        f"{label:27}: mean batch loss over the first 5 steps {training[label]['first losses']:.2f}, "
        f"over the last 5 {training[label]['last losses']:.2f}; first layer moves "
        f"{training[label]['first layer update/weight']:.1e} of its norm per step"
    )

fig, ax = plt.subplots(figsize=(7, 4))
for label, run in training.items():
    ax.plot(np.arange(1, len(run["losses"]) + 1), run["losses"], label=label)
ax.axhline(np.log(10), color="gray", linestyle=":", label="ln 10 (guessing)")
ax.set(
    yscale="log", xlabel="Adam step (batch of 128)", ylabel="training loss (batch)", title="20 hidden layers: training"
)
ax.legend(fontsize="small")
plt.show()

# %% [markdown]
# The plain sigmoid network stays at the loss of guessing ($\ln 10 \approx 2.30$) and its first layer barely
# moves; the networks whose gradient reaches the first layer learn. The uncentred residual network spends its
# first steps undoing its offset (its loss starts near 16); the centred one starts at the guessing loss and
# learns from the first step.
#
# ## Exploding gradients and clipping
#
# A ReLU network of 10 hidden layers with $\mathcal N(0, 0.3^2)$ weights gains about $0.3\sqrt{64/2} \approx 1.7$
# per layer: its initial loss is in the hundreds and its largest layer gradient norms pass $10^3$ (where
# `draw_graph` starts colouring red). Plain SGD (learning rate 0.01, momentum 0.9) takes huge steps. **Gradient
# clipping** rescales the whole gradient when its norm exceeds a threshold, $g \leftarrow g \cdot \min(1, c /
# \lVert g \rVert)$, so no single step can be huge (`nn.utils.clip_grad_norm_`, or `fit(..., grad_clip=c)`).
# Both runs below record the loss of every batch, so the unclipped run's path to NaN is visible.

# %%
exploding = Network("ReLU, N(0, 0.3^2)", "relu", "normal:0.3", depth=10)
with ag.no_grad():
    exploding_loss = F.cross_entropy(gradflow.build(exploding, inputs=64, classes=10)(batch_x), batch_y).item()
exploding_norms = gradflow.first_step(exploding, batch_x, batch_y).norms
print(
    f"initial loss {exploding_loss:.0f}; gradient norms at initialisation: first layer {exploding_norms[0]:.2e}, "
    f"last layer {exploding_norms[-1]:.2e}, largest {exploding_norms.max():.2e}"
)

CLIP_STEPS = 60
clipping = {}
for label, max_norm in (("no clipping", None), ("clip_grad_norm_ at 5", 5.0)):
    model = gradflow.build(exploding, inputs=64, classes=10)
    optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loader = ag.data.DataLoader(ag.data.TensorDataset(digits, labels), batch_size=128, shuffle=True, seed=0)
    batches = (batch for _ in range(CLIP_STEPS) for batch in loader)
    losses, gradient_norms = [], []
    with np.errstate(all="ignore"):  # the unclipped run overflows: that is what it shows
        for _, (xb, yb) in zip(range(CLIP_STEPS), batches):
            optimizer.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            # clip_grad_norm_ returns the norm before clipping; an infinite cap measures it without clipping
            gradient_norms.append(nn.utils.clip_grad_norm_(model.parameters(), max_norm or float("inf")).item())
            optimizer.step()
            losses.append(loss.item())
    losses = np.array(losses)
    diverged = np.flatnonzero(~np.isfinite(losses))
    clipping[label] = {
        "losses": losses,
        "gradient norms": np.array(gradient_norms),
        "first non-finite step": int(diverged[0]) + 1 if len(diverged) else None,
    }
    print(
        f"{label:21}: loss at steps 1, 2, 3: {np.round(losses[:3], 1)}; largest gradient norm "
        f"{np.nanmax(np.where(np.isfinite(gradient_norms), gradient_norms, np.nan)):.1e}; "
        f"first non-finite loss at step {clipping[label]['first non-finite step']}; "
        f"mean loss over the last 10 steps {losses[-10:].mean():.2f}"
    )

fig, ax = plt.subplots(figsize=(7, 4))
for label, run in clipping.items():
    (line,) = ax.plot(np.arange(1, CLIP_STEPS + 1), run["losses"], label=label)
    if run["first non-finite step"] is not None:
        last_finite = run["first non-finite step"] - 1
        ax.plot(last_finite, run["losses"][last_finite - 1], "X", markersize=12, color=line.get_color())
        ax.annotate(
            f"NaN from step {run['first non-finite step']}",
            (last_finite, run["losses"][last_finite - 1]),
            textcoords="offset points",
            xytext=(10, 0),
            color=line.get_color(),
        )
ax.set(
    yscale="log", xlabel="SGD step (batch of 128)", ylabel="training loss (batch)", title="ReLU, N(0, 0.3^2) init, SGD"
)
ax.legend()
plt.show()

# %% [markdown]
# Unclipped, the first step's gradient (norm in the thousands) throws the weights so far that the loss
# overflows within a few steps, and NaN never leaves again. Clipped, every step has norm at most 5 and the
# loss falls. Clipping does not fix the bad initialisation (He initialisation does: see above); it only keeps
# each step bounded, which is enough for training to make progress instead of diverging.
#
# ## The same study from the command line
#
# `autograd-core gradflow` trains networks for a number of Adam steps and prints, per network, the first-step
# gradient norms, the monitor's verdicts and a training verdict (`trains`, `slow`, `stuck`, `blows up`: how far
# the loss fell below the guessing loss). The verdict needs enough steps to mean anything (after 10 steps,
# networks that train well are still near the start); here three of the sigmoid networks above, 100 steps
# each (`autograd-core gradflow --help` lists the options).

# %%
with tempfile.TemporaryDirectory() as out, contextlib.redirect_stdout(io.StringIO()) as cli_output:
    cli.main(
        ["gradflow", "--activation", "sigmoid", "--init", "xavier", "--norm", "none", "batch", "layer"]
        + ["--steps", "100", "--out", out]
    )
    show_png(f"{out}/gradient_flow.png")
print(cli_output.getvalue())
cli_verdicts = {
    norm: line.split()[-1]
    for line in cli_output.getvalue().splitlines()
    for norm in ("none", "batch", "layer")
    if line.startswith("sigmoid, xavier init") and (f"{norm} norm" in line) == (norm != "none")
}
print(cli_verdicts)

# %% [markdown]
# ## Findings
#
# - At 20 hidden layers, a sigmoid MLP's first-layer gradient is below $10^{-9}$ of its last layer's and the
#   monitor flags most layers as vanishing; tanh with Xavier and ReLU with He stay within a factor of 10; the
#   default init makes tanh and ReLU vanish too (below $10^{-2}$); ReLU with $\mathcal N(0,1)$ weights explodes
#   (gradient norms above $10^{10}$, every layer flagged by the monitor).
# - Exploding is not vanishing (the notes' definition is a copy): the back-propagated $\lVert\partial L/\partial
#   a^{(l)}\rVert$ shrinks by a factor below 0.3 per layer in the sigmoid network, grows by a factor between 4 and
#   8 per layer with ReLU and $\mathcal N(0,1)$ weights, and stays within 0.8-1.25 per layer with ReLU + He.
# - BatchNorm and residual connections bring the sigmoid network's first/last ratio above $10^{-3}$; LayerNorm
#   leaves it below $10^{-6}$ because the sigmoid's common offset swamps the between-input spread (below
#   $10^{-3}$, against above 0.05 with BatchNorm), while tanh + LayerNorm is healthy (ratio above 0.1).
# - The sigmoid residual network's stream gains about 0.5 per block (mean above 8 after 20 blocks), giving an
#   initial loss above 10 and an output-layer gradient above 20; centring the branch ($\sigma - \tfrac12$) keeps
#   the stream's mean below 1, the initial loss below 3 and that gradient below 5.
# - On the graph the first layer's weight gradient is below $10^{-6}$ (vanishing colour), the output layer's
#   above $10^{-2}$.
# - In 45 Adam steps the sigmoid MLP stays at the guessing loss (above 2.2), while sigmoid + BatchNorm,
#   tanh + LayerNorm, ReLU + He and the centred residual network end below 1.5; the sigmoid network's first layer
#   moves at least 100 times less per step than theirs; the centred residual network starts below 3, the
#   uncentred one above 10.
# - The ReLU network with $\mathcal N(0, 0.3^2)$ weights starts with a loss above 100 and gradient norms above
#   $10^3$; unclipped SGD on it turns NaN within 10 steps; with the gradient norm clipped at 5 the loss stays
#   finite and its last 10 steps average below a tenth of its first step's loss.
# - After 100 steps `gradflow` calls sigmoid + BatchNorm "trains" and the plain and LayerNorm sigmoid networks
#   "stuck".

# %%
ratio = {
    label: result.norms[0] / result.norms[-1] for label, result in {**activation_results, **remedy_results}.items()
}
assert ratio["sigmoid, Xavier"] < 1e-9 and activation_results["sigmoid, Xavier"].statuses.count("vanishing") >= 10
assert 0.1 < ratio["tanh, Xavier"] < 10 and 0.1 < ratio["ReLU, He"] < 10
assert ratio["tanh, default init"] < 1e-2 and ratio["ReLU, default init"] < 1e-2
assert activation_results["ReLU, N(0, 1)"].norms.min() > 1e10
assert set(activation_results["ReLU, N(0, 1)"].statuses) == {"exploding"}
assert "vanish" in str(caught[0].message) and "0.linear" in str(caught[0].message)
assert factor_per_layer["sigmoid, Xavier"] < 0.3 and 4 < factor_per_layer["ReLU, N(0, 1)"] < 8
assert 0.8 < factor_per_layer["ReLU, He"] < 1.25
assert ratio["sigmoid + BatchNorm"] > 1e-3 and ratio["sigmoid + residual"] > 1e-3
assert ratio["sigmoid + LayerNorm"] < 1e-6 and ratio["tanh + LayerNorm"] > 0.1
assert spread["sigmoid + LayerNorm"][0] < 1e-3 and spread["sigmoid + BatchNorm"][0] > 0.05
plain_stream, plain_loss, plain_output_grad = residual_start["sigmoid + residual"]
centred_stream, centred_loss, centred_output_grad = residual_start["centred sigmoid + residual"]
assert plain_stream[-1] > 8 and plain_loss > 10 and plain_output_grad > 20
assert np.abs(centred_stream).max() < 1 and centred_loss < 3 and centred_output_grad < 5
assert small_sigmoid_norms["0.linear.weight"] < 1e-6 and small_sigmoid_norms["10.weight"] > 1e-2
assert training["sigmoid"]["last losses"] > 2.2
for label in ("sigmoid + BatchNorm", "tanh + LayerNorm", "ReLU, He", "centred sigmoid + residual"):
    assert training[label]["last losses"] < 1.5, label
    assert training[label]["first layer update/weight"] > 100 * training["sigmoid"]["first layer update/weight"], label
assert (
    training["centred sigmoid + residual"]["first losses"] < 3 and training["sigmoid + residual"]["first losses"] > 10
)
assert exploding_loss > 100 and exploding_norms.max() > 1e3
unclipped, clipped = clipping["no clipping"], clipping["clip_grad_norm_ at 5"]
assert unclipped["first non-finite step"] is not None and unclipped["first non-finite step"] <= 10
assert clipped["first non-finite step"] is None and clipped["losses"][-10:].mean() < clipped["losses"][0] / 10
assert cli_verdicts == {"none": "stuck", "batch": "trains", "layer": "stuck"}

# %% [markdown]
# ## Exercises
#
# Solutions, as a script that computes and asserts each answer:
# `notebooks/solutions/04_vanishing_exploding_gradients.py`.
#
# 1. **How deep before it vanishes?** Show that $\sigma'(z) = \sigma(z)(1 - \sigma(z)) \le \tfrac14$. If every layer
#    multiplied the gradient by at most $\tfrac14$, after how many sigmoid layers would it be below $10^{-6}$ of the
#    output layer's? Compare with the factor per layer measured in this notebook.
# 2. **The edge between vanishing and exploding.** For a ReLU MLP of width 64 with $\mathcal N(0, s^2)$ weights,
#    predict the factor per layer of $\lVert\partial L/\partial a^{(l)}\rVert$ on the way back ($s\sqrt{64/2}$) and
#    check it by measurement for $s = 0.1$, $\sqrt{2/64}$ (He) and $0.3$.
# 3. **Clipping by norm keeps the direction.** Show that `clip_grad_norm_` multiplies all gradients by the same
#    factor (the clipped gradient is parallel to the original, with norm $c$), while `clip_grad_value_` clips each
#    entry separately and turns the direction. Measure the cosine between the clipped and the original gradient
#    for both on the exploding network.
# 4. **Another residual fix.** Instead of centring the sigmoid branch, scale it by $1/20$ (one over the depth).
#    Predict the mean of the residual stream after 20 blocks, and check it and the initial loss.
# 5. **Depth, linearly.** For the uncentred sigmoid residual network, predict and measure the initial mean of the
#    residual stream after the last block for depths 5, 10 and 20.
