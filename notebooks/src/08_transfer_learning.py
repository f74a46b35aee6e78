# %% [markdown]
# # 8. Transfer learning
#
# When the task at hand has few labelled examples, a common remedy is to start from a network trained on a
# related task with plenty of data: keep its lower layers (the *features*), put a new output layer (a
# *head*) on top, and train on the few examples, either the head alone (the lower layers **frozen**) or the
# whole network (**fine-tuning**). This notebook first shows a transfer that works (clean digits to noisy
# digits with a few labels, against a from-scratch control), then does all of it on a harder pair: pre-train on the digits 0-4,
# save and reload the weights, transfer to the digits 5-9 with 1 to 30 examples per class, and compare with
# training from scratch. Then it shows why fine-tuning a deep, old-style sigmoid network needs the remedies of
# notebook 4.
#
# "Pre-training and fine-tuning" as a remedy for small data sets and for deep networks comes from the
# project's seed notes (mantch's Zhihu article after *Dive into Deep Learning*).

# %%
import pathlib
import tempfile

import matplotlib.pyplot as plt
import numpy as np

import autograd_core as ag
import nn
import nn.functional as F
import optim

# %% [markdown]
# ## Two tasks from one data set
#
# The **source** task classifies the digits 0-4 (900 images, 80% for training); the **target** task classifies
# the digits 5-9 (labels shifted to 0-4), of which we keep 359 images for testing and draw the few training
# examples from the rest.

# %%
digits, labels = ag.datasets.load_digits()
order = np.random.default_rng(0).permutation(len(digits))
source_rows, target_rows = order[labels[order] < 5], order[labels[order] >= 5]
source_train, source_test = np.split(source_rows, [int(0.8 * len(source_rows))])
target_pool, target_test = np.split(target_rows, [int(0.6 * len(target_rows))])
print(
    f"source: {len(source_train)} training and {len(source_test)} test images of 0-4; "
    f"target: a pool of {len(target_pool)} and {len(target_test)} test images of 5-9"
)


def inputs_and_labels(rows):
    """Tensors for the images at `rows`, with the target digits 5-9 relabelled 0-4."""
    return ag.tensor(digits[rows]), ag.tensor(labels[rows] % 5)


def accuracy(model, rows):
    x, y = inputs_and_labels(rows)
    model.eval()
    with ag.no_grad():
        correct = np.mean(model(x).numpy().argmax(axis=1) == y.numpy())
    model.train()
    return float(correct)


def few_shot(per_class, draw):
    """`per_class` random target examples of each digit 5-9 (a different set for each draw)."""
    rng = np.random.default_rng(draw)
    return np.concatenate(
        [rng.choice(target_pool[labels[target_pool] == digit], per_class, replace=False) for digit in range(5, 10)]
    )


# %% [markdown]
# ## Pre-training on the source task
#
# An MLP with one hidden layer of 256 ReLU units, trained for 20 epochs with Adam.

# %%
ag.manual_seed(0)
pretrained = nn.MLP([64, 256, 5])
source_loader = ag.data.DataLoader(
    ag.data.TensorDataset(*inputs_and_labels(source_train)), batch_size=32, shuffle=True, seed=0
)
nn.utils.fit(
    pretrained,
    nn.CrossEntropyLoss(),
    optim.Adam(pretrained.parameters(), lr=1e-3),
    source_loader,
    epochs=20,
    progress=False,
)
source_accuracy = accuracy(pretrained, source_test)
print(f"pre-trained model: {source_accuracy:.1%} on the held-out digits 0-4")

# %% [markdown]
# ## Saving and reloading the weights
#
# `ag.save(model.state_dict(), path)` writes a safetensors file (never a pickle: loading it runs no code) with
# PyTorch's parameter names, so the same file loads into the equivalent `torch.nn` model. `ag.load` gives the
# state dict back; `load_state_dict` copies it into a freshly built model.

# %%
with tempfile.TemporaryDirectory() as folder:
    path = pathlib.Path(folder) / "pretrained_0_4.safetensors"
    ag.save(pretrained.state_dict(), path)
    print(f"wrote {path.name}: {path.stat().st_size:,} bytes")
    reloaded_state = ag.load(path)
print({name: tuple(value.shape) for name, value in reloaded_state.items()})

reloaded = nn.MLP([64, 256, 5])
reloaded.load_state_dict(reloaded_state)
probe = ag.tensor(digits[source_test])
with ag.no_grad():
    reload_identical = np.array_equal(reloaded(probe).numpy(), pretrained(probe).numpy())
print("the reloaded model computes exactly the same outputs:", reload_identical)

# %% [markdown]
# A state dict only loads into a model whose parameters have the same names and shapes, and a mismatch is
# reported before anything is copied. To reuse the hidden layer under a different head, we load just that
# layer's entries (`strict=False` would also accept a partial dict, and report the missing keys).

# %%
try:
    nn.MLP([64, 256, 10]).load_state_dict(reloaded_state)
except RuntimeError as error:
    mismatch_message = str(error)
print(mismatch_message)

# %% [markdown]
# ## A transfer that works: same digits, a noisier domain, few labels
#
# Transfer pays when the source task is broad enough to have learnt what the target needs. Here the source is
# **all ten digits** (900 clean images); the target is the same ten classes in a *shifted domain*: other
# images, with Gaussian pixel noise of standard deviation 0.3 added (a different scanner, say), and only 1, 3
# or 10 labelled examples per class. The from-scratch control trains the same architecture on the **same few
# labelled examples**; "frozen features" and "fine-tuned" start from the source network's hidden layer under a
# new head (fine-tuning at a ten times smaller learning rate for the reused layer, so that a few examples
# adjust it rather than overwrite it). Same optimizer and steps as below: Adam, 100 full-batch steps; mean test
# accuracy over 3 draws of the examples, on 397 noisy test images never used for anything else.

# %%
broad_source, noisy_pool, noisy_test = np.split(order, [900, 1400])
noisy_digits = (digits + np.random.default_rng(5).normal(0, 0.3, digits.shape)).astype(digits.dtype)
ag.manual_seed(0)
broad_model = nn.MLP([64, 256, 10])
nn.utils.fit(
    broad_model,
    nn.CrossEntropyLoss(),
    optim.Adam(broad_model.parameters(), lr=1e-3),
    ag.data.DataLoader(ag.data.TensorDataset(digits[broad_source], labels[broad_source]), batch_size=32, shuffle=True),
    epochs=20,
    progress=False,
)


def noisy_accuracy(model):
    model.eval()
    with ag.no_grad():
        predicted = model(ag.tensor(noisy_digits[noisy_test])).numpy().argmax(axis=1)
    model.train()
    return float(np.mean(predicted == labels[noisy_test]))


def few_noisy(per_class, draw):
    rng = np.random.default_rng(draw)
    return np.concatenate(
        [rng.choice(noisy_pool[labels[noisy_pool] == digit], per_class, replace=False) for digit in range(10)]
    )


def adapt(strategy, rows, steps=100, lr=1e-2):
    model = nn.MLP([64, 256, 10])
    groups = [{"params": list(model[1].parameters())}]  # the new head
    if strategy != "from scratch":
        model[0].load_state_dict(broad_model[0].state_dict())
    if strategy == "frozen features":
        model[0].requires_grad_(False)
    else:
        body_lr = lr if strategy == "from scratch" else lr / 10
        groups.append({"params": list(model[0].parameters()), "lr": body_lr})
    optimizer = optim.Adam(groups, lr=lr)
    x, y = ag.tensor(noisy_digits[rows]), ag.tensor(labels[rows])
    for _ in range(steps):
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
    return model


NOISY_PER_CLASS = (1, 3, 10)
working = {strategy: [] for strategy in ("from scratch", "frozen features", "fine-tuned")}
for per_class in NOISY_PER_CLASS:
    for strategy, scores in working.items():
        runs = []
        for draw in range(3):
            ag.manual_seed(1 + draw)
            runs.append(noisy_accuracy(adapt(strategy, few_noisy(per_class, draw))))
        scores.append(np.mean(runs))
    print(f"{per_class:2} per class: " + ", ".join(f"{name} {scores[-1]:.1%}" for name, scores in working.items()))
source_as_is = noisy_accuracy(broad_model)
print(f"the source network as it is (its own head, no target labels): {source_as_is:.1%} on the noisy test images")

fig, ax = plt.subplots(figsize=(7, 4))
for name, scores in working.items():
    ax.plot(NOISY_PER_CLASS, scores, "o-", label=name)
ax.axhline(source_as_is, color="gray", linestyle=":", label="source network as it is")
ax.set(
    xscale="log",
    xlabel="labelled target examples per class (noisy digits)",
    ylabel="test accuracy (noisy digits)",
    title="transfer from clean 0-9 to noisy 0-9",
)
ax.legend()
plt.show()

# %% [markdown]
# With one or three examples per class, both transferred networks are far ahead of the same network trained
# from scratch on the same examples: the source taught features (strokes, their combinations) that the noise
# does not destroy, and a few examples are enough to fit a head on them. Here the classes are the same as the
# source's, so the source network *with its own head* already does well: when the label set carries over, so
# can the head. The next sections show the opposite case, where the source is too narrow.
#
# %% [markdown]
# ## Transfer to the digits 5-9, with few examples
#
# Four ways to learn the target task from `k` examples per class, all with the same architecture (64 -> 256
# -> 5), the same optimizer (Adam at $10^{-2}$, 100 full-batch steps) and the same examples:
#
# | name | hidden layer | trained |
# |---|---|---|
# | from scratch | random initialization | everything |
# | frozen pre-trained features | the source model's, **frozen** (`requires_grad_(False)`) | the new head only |
# | fine-tuned | the source model's | everything |
# | frozen random features (a control) | random initialization, frozen | the new head only |
#
# The control answers the question a fair comparison must ask: are the pre-trained features better than
# features that know nothing at all? Each number is the mean test accuracy over 3 random draws of the examples.


# %%
def transfer_model(start_from, freeze):
    model = nn.MLP([64, 256, 5])  # a new, randomly initialized head
    if start_from == "pre-trained":
        model[0].linear.load_state_dict(
            {"weight": reloaded_state["0.linear.weight"], "bias": reloaded_state["0.linear.bias"]}
        )
    if freeze:
        model[0].requires_grad_(False)
    return model


def train_head(model, rows, steps=100, lr=1e-2):
    optimizer = optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    x, y = inputs_and_labels(rows)
    for _ in range(steps):
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()


STRATEGIES = {
    "from scratch": ("random", False),
    "frozen pre-trained features": ("pre-trained", True),
    "fine-tuned": ("pre-trained", False),
    "frozen random features": ("random", True),
}
PER_CLASS = (1, 3, 10, 30)
transfer = {name: [] for name in STRATEGIES}
frozen_checks = []  # per frozen run: (weights bit-identical after training, no gradient received)
for per_class in PER_CLASS:
    for name, (start_from, freeze) in STRATEGIES.items():
        scores = []
        for draw in range(3):
            ag.manual_seed(1 + draw)
            model = transfer_model(start_from, freeze)
            frozen_before = model[0].linear.weight.detach().numpy().copy()
            train_head(model, few_shot(per_class, draw))
            scores.append(accuracy(model, target_test))
            if freeze:
                frozen_checks.append(
                    (
                        np.array_equal(model[0].linear.weight.detach().numpy(), frozen_before),
                        model[0].linear.weight.grad is None,
                    )
                )
        transfer[name].append(np.mean(scores))
    print(f"{per_class:2} per class: " + ", ".join(f"{name} {transfer[name][-1]:.1%}" for name in STRATEGIES))

fig, ax = plt.subplots(figsize=(7, 4))
for name, scores in transfer.items():
    ax.plot(PER_CLASS, scores, "o-", label=name)
ax.set(
    xscale="log",
    xlabel="training examples per class (digits 5-9)",
    ylabel="test accuracy",
    title="transfer from 0-4 to 5-9",
)
ax.legend()
plt.show()

# %% [markdown]
# The frozen layers did not change (their weights are bit-for-bit the same after training, and they never
# received a gradient). But on this pair of tasks **transfer does not pay**: training from scratch is as good as
# fine-tuning and better than the frozen pre-trained features, which even lose to frozen *random* features.
# This is *negative transfer*, and it has a measurable cause. A network trained to separate five classes
# squeezes its hidden representation towards a handful of directions, one per class; whatever distinguishes
# a 5 from an 8 but not a 0 from a 3 is discarded. The effective rank of the hidden features (the exponential
# of the entropy of their variance spectrum) shows it:


# %%
def effective_rank(features):
    features = features.astype(np.float64)
    variances = np.linalg.svd(features - features.mean(axis=0), compute_uv=False) ** 2
    shares = variances[variances > 0] / variances.sum()
    return float(np.exp(-np.sum(shares * np.log(shares))))


ag.manual_seed(1)
random_layer = nn.MLP([64, 256, 5])[0]
rank = {}
for layer_name, layer in (("pre-trained", pretrained[0]), ("random", random_layer)):
    with ag.no_grad():
        for task, rows in (("0-4", source_test), ("5-9", target_test)):
            rank[layer_name, task] = effective_rank(layer(ag.tensor(digits[rows])).numpy())
    print(
        f"{layer_name:11} hidden layer: effective rank {rank[layer_name, '0-4']:.1f} on digits 0-4, "
        f"{rank[layer_name, '5-9']:.1f} on digits 5-9 (of 256 units)"
    )

# %% [markdown]
# Transfer works when the source task is broad enough to teach features the target task needs, as ImageNet
# (a thousand classes, a million images) is for most vision tasks; five classes of 8x8 images are not. The
# mechanics (reuse, freeze, new head, fine-tune) are what carries over.
#
# ## Freezing a network with BatchNorm: `requires_grad_(False)` is not enough
#
# `requires_grad_(False)` stops the *parameters* from changing. A BatchNorm layer also keeps **buffers**, the
# running mean and variance it uses in eval mode, and it updates them on every forward pass in training mode,
# gradient or not. So a "frozen" BatchNorm network trained under a new head in training mode still changes its
# features. Calling `.eval()` on the frozen part fixes it (it then also normalises with the stored statistics,
# as it will at test time). We freeze a pre-trained `nn.MLP(norm="batch")` body both ways and train a new head
# on the noisy digits for 20 steps.

# %%
ag.manual_seed(0)
bn_source = nn.MLP([64, 256, 10], norm="batch")
nn.utils.fit(
    bn_source,
    nn.CrossEntropyLoss(),
    optim.Adam(bn_source.parameters(), lr=1e-3),
    ag.data.DataLoader(ag.data.TensorDataset(digits[broad_source], labels[broad_source]), batch_size=32, shuffle=True),
    epochs=5,
    progress=False,
)
bn_frozen = {}
for how in ("requires_grad_(False) only", "requires_grad_(False) and .eval()"):
    model = nn.MLP([64, 256, 10], norm="batch")
    model.load_state_dict(bn_source.state_dict())
    body = model[0]
    body.requires_grad_(False)
    if how.endswith(".eval()"):
        body.eval()
    before = body.norm.running_mean.numpy().copy()
    optimizer = optim.Adam(model[1].parameters(), lr=1e-2)
    x, y = ag.tensor(noisy_digits[noisy_pool]), ag.tensor(labels[noisy_pool])
    for _ in range(20):
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
    bn_frozen[how] = float(np.abs(body.norm.running_mean.numpy() - before).max())
    print(f"{how:34}: largest change of the frozen BatchNorm's running mean {bn_frozen[how]:.3g}")

# %% [markdown]
# Without `.eval()`, the frozen layer's running statistics drift towards the noisy target's; with it they stay
# exactly as pre-trained. (`model.train()` switches every submodule back to training mode, so call
# `body.eval()` again after it, e.g. at the start of each epoch.)
#
# ## Fine-tuning a deep, old-style sigmoid network
#
# Fine-tuning relies on the gradient of the new task reaching the reused layers: here the features *must*
# change, as the frozen results showed. In a deep network of sigmoid layers (the usual design before ReLU and
# normalization layers), the gradient vanishes on its way down (notebook 4), and with it any chance of
# adapting the lower layers, or even of pre-training them. We pre-train two networks of 10 hidden layers of
# 64 units, Xavier-initialized, on the digits 0-4 (20 epochs of Adam), and fine-tune each on the whole target
# pool (10 epochs of SGD with momentum) either entirely or only its new head: a plain sigmoid MLP, and the same
# with a BatchNorm before each sigmoid, one of notebook 4's remedies. A `GradientMonitor` records the flow.

# %%
DEPTH = 10


def deep_sigmoid(norm):
    model = nn.MLP([64] + [64] * DEPTH + [5], activation="sigmoid", norm=norm)
    for module in model.modules():
        if isinstance(module, nn.Linear):
            nn.init.xavier_uniform_(module.weight)
            nn.init.zeros_(module.bias)
    return model


def fit_monitored(model, rows, optimizer, epochs):
    monitor = nn.utils.GradientMonitor(model, warn=False)
    loader = ag.data.DataLoader(ag.data.TensorDataset(*inputs_and_labels(rows)), batch_size=32, shuffle=True, seed=0)
    nn.utils.fit(model, nn.CrossEntropyLoss(), optimizer, loader, epochs=epochs, callbacks=[monitor], progress=False)
    norms = monitor.layer_norms("grad_norm")
    return norms["0.linear"][0] / norms[str(DEPTH)][0]  # first layer / output layer, at the first step


deep = {}
for label, norm in (("sigmoid", None), ("sigmoid + BatchNorm", "batch")):
    ag.manual_seed(0)
    source_model = deep_sigmoid(norm)
    flow = fit_monitored(source_model, source_train, optim.Adam(source_model.parameters(), lr=1e-3), epochs=20)
    deep[label] = {"pre-training": accuracy(source_model, source_test), "flow": flow}
    body = {name: value for name, value in source_model.state_dict().items() if not name.startswith(f"{DEPTH}.")}
    for mode in ("new head only", "all layers"):
        ag.manual_seed(1)
        model = deep_sigmoid(norm)
        model.load_state_dict(body, strict=False)  # everything but the output layer
        if mode == "new head only":
            for block in range(DEPTH):
                model[block].requires_grad_(False)
        trainable = [p for p in model.parameters() if p.requires_grad]
        fit_monitored(model, target_pool, optim.SGD(trainable, lr=0.05, momentum=0.9), epochs=10)
        deep[label][mode] = accuracy(model, target_test)
    print(
        f"{label:20}: first-layer / output-layer gradient at the start of pre-training {flow:.1e}; "
        f"pre-trained to {deep[label]['pre-training']:.1%} on 0-4; fine-tuned on 5-9: new head only "
        f"{deep[label]['new head only']:.1%}, all layers {deep[label]['all layers']:.1%}"
    )

# %% [markdown]
# The plain sigmoid network starts pre-training with a first-layer gradient about a millionth of the output
# layer's, never learns the source task properly, and has nothing useful to transfer. With BatchNorm the same
# depth pre-trains to 100%, and fine-tuning all its layers beats training a new head on its frozen features by
# a wide margin: the lower layers get the gradient they need to adapt. Before normalization layers and ReLUs,
# deep sigmoid networks were made trainable with greedy layer-wise pre-training (train one layer at a time,
# then fine-tune all): the seed notes' first remedy for vanishing gradients, now rarely needed.
#
# ## Findings
#
# - The source model reaches at least 97% on held-out 0-4 digits; saved with `ag.save` and reloaded with
#   `ag.load`, it computes bit-identical outputs; loading it under a 10-class head fails with an error naming the
#   mismatched parameter.
# - Frozen layers keep bit-identical weights and receive no gradient.
# - Clean 0-9 to noisy 0-9 (a transfer that works): with 1 and 3 labelled examples per class, frozen pre-trained
#   features and fine-tuning each beat training from scratch on the same examples by over 10 points.
# - Freezing a BatchNorm body with `requires_grad_(False)` alone still moves its running mean (by over 0.01);
#   with `.eval()` on the frozen body it does not move at all.
# - From 0-4 to 5-9, transfer does not beat training from scratch: with 10 and 30 examples per class, scratch is
#   within 1 point of fine-tuning or better, and frozen pre-trained features are below frozen random features at
#   every size (negative transfer); the pre-trained layer's effective rank on 5-9 is less than two-thirds of a
#   random layer's.
# - A 10-layer sigmoid MLP starts pre-training with a first/output gradient ratio below $10^{-4}$, reaches under
#   60% on 0-4 and under 60% on 5-9 after fine-tuning; with BatchNorm the ratio is above 0.1, pre-training reaches
#   over 95%, and fine-tuning all layers scores over 90%, at least 20 points above a new head on frozen features.

# %%
assert source_accuracy >= 0.97 and reload_identical
assert "1.weight" in mismatch_message and "shape" in mismatch_message
for index in (0, 1):
    assert min(working["frozen features"][index], working["fine-tuned"][index]) > working["from scratch"][index] + 0.1
assert bn_frozen["requires_grad_(False) only"] > 0.01 and bn_frozen["requires_grad_(False) and .eval()"] == 0
assert len(frozen_checks) == 24 and all(unchanged and no_grad for unchanged, no_grad in frozen_checks)
scratch, frozen, tuned, control = (np.array(transfer[name]) for name in STRATEGIES)
assert np.all(scratch[2:] >= tuned[2:] - 0.01)
assert np.all(frozen < control)
assert rank["pre-trained", "5-9"] < 2 / 3 * rank["random", "5-9"]
plain, normed = deep["sigmoid"], deep["sigmoid + BatchNorm"]
assert plain["flow"] < 1e-4 and plain["pre-training"] < 0.6 and plain["all layers"] < 0.6
assert normed["flow"] > 0.1 and normed["pre-training"] > 0.95
assert normed["all layers"] > 0.9 and normed["all layers"] > normed["new head only"] + 0.2

# %% [markdown]
# ## Exercises
#
# Solutions, as a script that computes and asserts each answer: `notebooks/solutions/08_transfer_learning.py`.
#
# 1. **What freezing saves.** For the 64 -> 256 -> 10 network with a frozen hidden layer, how many parameters are
#    trained? Check with `sum(p.numel() for p in model.parameters() if p.requires_grad)`.
# 2. **Frozen features are a linear model.** Training only the head on frozen features is multinomial logistic
#    regression on the features $h = \mathrm{ReLU}(W_1 x + b_1)$. Compute the features once, train a
#    `nn.Linear(256, 10)` on them, and check that it gives the same predictions as training the head inside the
#    full network with the same initial weights and the same steps.
# 3. **BatchNorm's momentum.** With `momentum=0.1`, the running mean after $k$ training-mode forward passes on the
#    same batch is $\mu_k = 0.9^k \mu_0 + (1 - 0.9^k)\,\bar x$. Check it on a `BatchNorm1d` for $k = 10$.
# 4. **Reloading keeps the buffers.** Show that `state_dict()` of a BatchNorm network contains the running
#    statistics (and `num_batches_tracked`), and that a reloaded network in eval mode computes the same outputs.
