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
import tempfile
import warnings

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Image, display

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


def show(results, title):
    print(gradflow.table(results.values()))
    display(gradflow.plot(results.values(), title=title))


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
ag.viz.draw_graph(loss, params=dict(small_sigmoid.named_parameters()), show_grads=True)

# %% [markdown]
# ## Does the flow at initialisation decide training?
#
# Four networks train for three epochs (45 steps of 128 digits, Adam at $10^{-3}$) with `nn.utils.fit`, with a
# `GradientMonitor` as a callback recording every step. Adam divides each step by the gradient's recent size,
# which makes up for moderately small gradients, but not for ones far below its $\epsilon = 10^{-8}$.

# %%
training = {}
for network in (
    remedies["sigmoid"],
    remedies["sigmoid + BatchNorm"],
    remedies["tanh + LayerNorm"],
    Network("ReLU, He", "relu", "he"),
):
    label, model = network.label, gradflow.build(network, inputs=64, classes=10)
    monitor = nn.utils.GradientMonitor(model, warn=False)
    loader = ag.data.DataLoader(ag.data.TensorDataset(digits, labels), batch_size=128, shuffle=True, seed=0)
    history = nn.utils.fit(
        model,
        nn.CrossEntropyLoss(),
        optim.Adam(model.parameters(), lr=1e-3),
        loader,
        epochs=3,
        callbacks=[monitor],
        progress=False,
    )
    first_layer = monitor.layer_norms("update_ratio")["0.linear"]
    training[label] = {
        "loss": history["train_loss"],
        "accuracy": history["train_accuracy"][-1],
        "first layer update/weight": float(np.mean(first_layer)),
    }
    print(
        f"{label:20}: training loss per epoch {np.round(history['train_loss'], 3)}, "
        f"accuracy {training[label]['accuracy']:.1%}, "
        f"first layer moves {training[label]['first layer update/weight']:.1e} of its norm per step"
    )

# %% [markdown]
# The plain sigmoid network stays at the loss of guessing ($\ln 10 \approx 2.30$) and its first layer barely
# moves; the three networks whose gradient reaches the first layer learn.
#
# ## Exploding gradients and clipping
#
# A ReLU network of 10 hidden layers with $\mathcal N(0, 0.3^2)$ weights gains about $0.3\sqrt{64/2} \approx 1.7$
# per layer: its initial loss is in the hundreds and its largest layer gradient norms pass $10^3$ (where
# `draw_graph` starts colouring red). Plain SGD (learning rate 0.01, momentum 0.9) takes a huge first step and ends in NaN. **Gradient clipping**
# rescales the whole gradient when its norm exceeds a threshold, $g \leftarrow g \cdot \min(1, c / \lVert g \rVert)$,
# so no single step can be huge (`nn.utils.clip_grad_norm_`, or `fit(..., grad_clip=c)`).

# %%
exploding = Network("ReLU, N(0, 0.3^2)", "relu", "normal:0.3", depth=10)
with ag.no_grad():
    exploding_loss = F.cross_entropy(gradflow.build(exploding, inputs=64, classes=10)(batch_x), batch_y).item()
exploding_norms = gradflow.first_step(exploding, batch_x, batch_y).norms
print(
    f"initial loss {exploding_loss:.0f}; gradient norms at initialisation: first layer {exploding_norms[0]:.2e}, "
    f"last layer {exploding_norms[-1]:.2e}, largest {exploding_norms.max():.2e}"
)

clipping = {}
for label, grad_clip in (("no clipping", None), ("clip_grad_norm_ at 5", 5.0)):
    model = gradflow.build(exploding, inputs=64, classes=10)
    loader = ag.data.DataLoader(ag.data.TensorDataset(digits, labels), batch_size=128, shuffle=True, seed=0)
    optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    with np.errstate(all="ignore"):  # the unclipped run overflows: that is what it shows
        history = nn.utils.fit(
            model, nn.CrossEntropyLoss(), optimizer, loader, epochs=4, grad_clip=grad_clip, progress=False
        )
    clipping[label] = history["train_loss"]
    print(
        f"{label:21}: training loss per epoch {np.round(history['train_loss'], 3)}, "
        f"accuracy {history['train_accuracy'][-1]:.1%}"
    )

fig, ax = plt.subplots(figsize=(6, 3.5))
for label, losses in clipping.items():
    ax.plot(range(1, len(losses) + 1), losses, marker="o", label=label)
ax.set(yscale="log", xlabel="epoch", ylabel="training loss", title="ReLU, N(0, 0.3^2) init, SGD")
ax.legend()
plt.show()

# %% [markdown]
# Clipping does not fix the bad initialisation (He initialisation does: see above); it only keeps each step
# bounded, which is enough for training to make progress instead of diverging.
#
# ## The same study from the command line
#
# `autograd-core gradflow` runs a grid of such networks and prints the first-step gradient norms, the
# monitor's verdicts and a short training run for each; here with 10 training steps per network to stay
# quick (`autograd-core gradflow --help` lists the options).

# %%
with tempfile.TemporaryDirectory() as out:
    cli.main(["gradflow", "--steps", "10", "--out", out])
    display(Image(filename=f"{out}/gradient_flow.png"))

# %% [markdown]
# ## Findings
#
# - At 20 hidden layers, a sigmoid MLP's first-layer gradient is below $10^{-9}$ of its last layer's and the
#   monitor flags most layers as vanishing; tanh with Xavier and ReLU with He stay within a factor of 10; the
#   default init makes tanh and ReLU vanish too (below $10^{-2}$); ReLU with $\mathcal N(0,1)$ weights explodes
#   (gradient norms above $10^{10}$, every layer flagged by the monitor).
# - BatchNorm and residual connections bring the sigmoid network's first/last ratio above $10^{-3}$; LayerNorm
#   leaves it below $10^{-6}$ because the sigmoid's common offset swamps the between-input spread (below
#   $10^{-3}$, against above 0.05 with BatchNorm), while tanh + LayerNorm is healthy (ratio above 0.1).
# - On the graph the first layer's weight gradient is below $10^{-6}$ (vanishing colour), the output layer's
#   above $10^{-2}$.
# - In three epochs the sigmoid MLP stays at the guessing loss (above 2.2), while sigmoid + BatchNorm,
#   tanh + LayerNorm and ReLU + He all get below 1.5; the sigmoid network's first layer moves at least 100
#   times less per step than theirs.
# - The ReLU network with $\mathcal N(0, 0.3^2)$ weights starts with a loss above 100 and gradient norms above
#   $10^3$; unclipped SGD on it ends in NaN; with the gradient norm clipped at 5 the loss stays
#   finite and falls at least tenfold.

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
assert ratio["sigmoid + BatchNorm"] > 1e-3 and ratio["sigmoid + residual"] > 1e-3
assert ratio["sigmoid + LayerNorm"] < 1e-6 and ratio["tanh + LayerNorm"] > 0.1
assert spread["sigmoid + LayerNorm"][0] < 1e-3 and spread["sigmoid + BatchNorm"][0] > 0.05
assert small_sigmoid_norms["0.linear.weight"] < 1e-6 and small_sigmoid_norms["10.weight"] > 1e-2
assert training["sigmoid"]["loss"][-1] > 2.2
for label in ("sigmoid + BatchNorm", "tanh + LayerNorm", "ReLU, He"):
    assert training[label]["loss"][-1] < 1.5, label
    assert training[label]["first layer update/weight"] > 100 * training["sigmoid"]["first layer update/weight"], label
assert exploding_loss > 100 and exploding_norms.max() > 1e3
assert np.isnan(clipping["no clipping"][-1])
clipped = clipping["clip_grad_norm_ at 5"]
assert np.all(np.isfinite(clipped)) and clipped[-1] < clipped[0] / 10
