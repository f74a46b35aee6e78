# %% [markdown]
# # 6. Generalization: fitting the training set is not the goal
#
# A model is trained on one set of examples and used on others. The **training error** is what the
# optimizer drives down; the **generalization error**, the expected error on new examples, is what we care
# about. This notebook shows, on the handwritten digits and on a small curve-fitting problem:
#
# - the train / validation / test rule, and why it matters;
# - under- and over-fitting as the model grows, and as it trains;
# - three regularizers: weight decay (L2), L1, and inverted dropout (and what dropout masks);
# - K-fold cross-validation to choose a model when data are scarce;
# - early stopping;
# - what the mini-batch size does to speed and accuracy;
# - and, at the end, the test set, used once.
#
# The topics, and the dropout and batch-size discussions, follow the project's seed notes (mantch's Zhihu
# article after *Dive into Deep Learning*; the Hadamard-product notes for dropout).

# %%
import matplotlib.pyplot as plt
import numpy as np

import autograd_core as ag
import nn
import nn.functional as F
import optim

# %% [markdown]
# ## The train / validation / test rule
#
# The notes state it (*Dive into Deep Learning*, 2.1):
# "从严格意义上讲,测试集只能在所有超参数和模型参数选定后使用一次。不可以使用测试数据选择模型,如调参。"
# (Strictly, the test set may be used only once, after all
# hyper-parameters and model parameters have been chosen; test data must not be used to choose a model, e.g. to
# tune hyper-parameters.) So every choice in this notebook follows one rule:
#
# | data | used for | how often |
# |---|---|---|
# | **training** set | fitting the parameters (gradient steps) | every step |
# | **validation** set (or K-fold cross-validation inside training + validation) | choosing hyper-parameters: width, epochs, $\lambda$, dropout $p$ | as often as needed |
# | **test** set | reporting the chosen models' error | **once**, at the end |
#
# A validation score that chose a model is biased in its favour (it was picked *because* it looked good), so
# it cannot also be the report; asserting that "the chosen epoch has the lowest validation loss" would be
# true by construction. The report comes from data that took no part in any choice.
#
# Overfitting needs a model with more capacity than its data: we train on only **200** digits, validate on
# 400 others, and lock the remaining **1197** away as the test set until the last section. Every digits model
# is an MLP with one hidden ReLU layer, trained for 80 epochs with SGD (learning rate 0.1, momentum 0.9,
# batches of 32). Data matrices are rows = samples: `digits` has shape (1797, 64), one 8x8 image per row (the
# notes write one example as a column vector $x$; a batch $X$ stacks the $x^\top$ as rows, so a layer computes
# $XW^\top + b$).

# %%
digits, labels = ag.datasets.load_digits()
order = np.random.default_rng(0).permutation(len(digits))
train_rows, val_rows, test_rows = order[:200], order[200:600], order[600:]
train_set = ag.data.TensorDataset(digits[train_rows], labels[train_rows])
val_set = ag.data.TensorDataset(digits[val_rows], labels[val_rows])
test_set = ag.data.TensorDataset(digits[test_rows], labels[test_rows])
print(f"training {len(train_set)}, validation {len(val_set)}, test {len(test_set)} digits; X is {digits.shape}")
assert not set(test_rows) & (set(train_rows) | set(val_rows))


def l1_penalized(model, strength):
    """Cross-entropy plus strength * (sum of |w| over the model's weight matrices)."""
    weights = [p for name, p in model.named_parameters() if name.endswith("weight")]
    cross_entropy = nn.CrossEntropyLoss()
    return lambda output, target: cross_entropy(output, target) + strength * sum(w.abs().sum() for w in weights)


def train(
    width,
    train_data=train_set,
    val_data=val_set,
    epochs=80,
    weight_decay=0.0,
    l1=0.0,
    dropout=0.0,
    callbacks=(),
    seed=0,
):
    ag.manual_seed(seed)
    model = nn.MLP([64, width, 10], dropout=dropout)
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=weight_decay)
    train_loader = ag.data.DataLoader(train_data, batch_size=32, shuffle=True, seed=seed)
    val_loader = ag.data.DataLoader(val_data, batch_size=len(val_data))
    loss_fn = l1_penalized(model, l1) if l1 else nn.CrossEntropyLoss()
    history = nn.utils.fit(
        model, loss_fn, optimizer, train_loader, val_loader, epochs=epochs, callbacks=callbacks, progress=False
    )
    return model, history


def evaluate(model, data):
    """(cross-entropy, accuracy) of `model` in eval mode on a TensorDataset."""
    model.eval()
    with ag.no_grad():
        logits = model(data.tensors[0])
        loss = F.cross_entropy(logits, data.tensors[1]).item()
    model.train()
    return loss, float(np.mean(logits.numpy().argmax(axis=1) == data.tensors[1].numpy()))


# %% [markdown]
# ## Capacity: the U-curve
#
# The cleanest picture of under- and over-fitting is curve fitting. Twelve noisy samples of $\sin 2\pi x$ are
# fitted by least squares with polynomials of degree 0 to 11 (degree $d$ has $d + 1$ parameters: degree 11
# passes through all twelve points). The training error can only fall as the degree grows; the validation
# error (200 fresh noisy samples) first falls, then rises: the model starts fitting the noise. The degree is
# chosen on validation; a separate test sample waits for the last section.

# %%
curve_rng = np.random.default_rng(0)


def noisy_sine(n):
    x = curve_rng.uniform(0, 1, n)
    return x, np.sin(2 * np.pi * x) + curve_rng.normal(0, 0.25, n)


curve_train, curve_val, curve_test = noisy_sine(12), noisy_sine(200), noisy_sine(200)
DEGREES = np.arange(12)


def mse(polynomial, data):
    x, y = data
    return float(np.mean((polynomial(x) - y) ** 2))


polynomials = {degree: np.polynomial.Polynomial.fit(*curve_train, degree) for degree in DEGREES}
curve_errors = {
    split: np.array([mse(polynomials[degree], data) for degree in DEGREES])
    for split, data in (("training", curve_train), ("validation", curve_val))
}
chosen_degree = int(DEGREES[np.argmin(curve_errors["validation"])])
for degree in DEGREES:
    print(
        f"degree {degree:2}: training MSE {curve_errors['training'][degree]:.4f}, "
        f"validation MSE {curve_errors['validation'][degree]:.3f}"
    )
print(f"chosen on validation: degree {chosen_degree}")

fig, (u_ax, fit_ax) = plt.subplots(1, 2, figsize=(12, 4))
for split, errors in curve_errors.items():
    u_ax.plot(DEGREES, errors, "o-", label=f"{split} error")
u_ax.axvline(chosen_degree, color="gray", linestyle=":", label=f"chosen on validation (degree {chosen_degree})")
u_ax.set(
    xlabel="polynomial degree (capacity)",
    ylabel="mean squared error",
    ylim=(0, 1.2),
    title="under- and over-fitting: the U-curve",
)
u_ax.legend()
grid = np.linspace(0, 1, 400)
fit_ax.plot(*curve_train, "ko", label="12 training samples")
fit_ax.plot(grid, np.sin(2 * np.pi * grid), "k:", label="sin 2 pi x (the truth)")
for degree in (1, chosen_degree, 11):
    fit_ax.plot(grid, polynomials[degree](grid), label=f"degree {degree}")
fit_ax.set(xlabel="x", ylabel="y", ylim=(-2, 2), title="three fits")
fit_ax.legend(fontsize="small")
plt.show()

# %% [markdown]
# Degree 1 **underfits** (both errors high); degree 11 **overfits**: its training error is zero while its
# curve swings between the points and its validation error is many times the chosen degree's.
#
# ## Under- and over-fitting by network width
#
# The same on the digits, with the hidden width as capacity. Each width trains from 3 random initialisations
# (seeds), because tiny networks are fragile (see below); the plot shows the mean error and each seed's.

# %%
WIDTHS = (1, 2, 4, 8, 32, 128)
SEEDS = (0, 1, 2)
size_runs = {(width, seed): train(width, seed=seed) for width in WIDTHS for seed in SEEDS}
width_errors = {
    split: np.array([[1 - size_runs[width, seed][1][f"{split}_accuracy"][-1] for seed in SEEDS] for width in WIDTHS])
    for split in ("train", "val")
}
for row, width in enumerate(WIDTHS):
    print(
        f"hidden width {width:3}: training error per seed {np.round(width_errors['train'][row], 3)}, "
        f"validation error per seed {np.round(width_errors['val'][row], 3)}"
    )

fig, ax = plt.subplots(figsize=(6.5, 4))
for split, marker, name in (("train", "o", "training error"), ("val", "s", "validation error")):
    (line,) = ax.plot(WIDTHS, width_errors[split].mean(axis=1), marker + "-", label=f"{name} (mean of 3 seeds)")
    ax.plot(np.repeat(WIDTHS, len(SEEDS)), width_errors[split].ravel(), marker, alpha=0.3, color=line.get_color())
ax.set(xscale="log", xlabel="hidden width", ylabel="error rate after 80 epochs", title="digits: model size")
ax.legend()
plt.show()

# %% [markdown]
# From width 8 on, the 200 training digits are fitted perfectly while the validation error does not follow:
# the gap is the price of having seen only 200 examples. The smallest widths underfit, but not only for lack of
# capacity. Some width-1 and width-2 runs end at the accuracy of a constant guess: their hidden ReLU units are
# **dead** (negative on every training input, so their output and their gradient are zero and they never
# recover). We measure each width-1 and width-2 run's share of training digits on which each hidden unit is
# active:


# %%
def active_share(model):
    """Per hidden unit, the share of training digits on which its pre-activation is positive."""
    with ag.no_grad():
        return (model[0].linear(train_set.tensors[0]).numpy() > 0).mean(axis=0)


dead_runs, alive_runs = [], []
for width in (1, 2):
    for seed in SEEDS:
        model, history = size_runs[width, seed]
        share = active_share(model)
        (dead_runs if share.max() == 0 else alive_runs).append((width, seed, history["train_accuracy"][-1]))
        print(
            f"width {width}, seed {seed}: active share per unit {np.round(share, 2)}, "
            f"training accuracy {history['train_accuracy'][-1]:.1%}"
        )

# %% [markdown]
# A dead network is not a small network: it is a constant. The surviving width-1 runs (one hidden number per
# digit) underfit genuinely, at well under half of the training digits right.
#
# ## Over-fitting as training goes on
#
# The width-128 model's training and validation losses per epoch, on a **linear** axis, with the clean labels
# and with 20% of the 200 training labels replaced by random ones (a stand-in for labelling mistakes, which
# a large model memorises):

# %%
noise_rng = np.random.default_rng(1)
noisy_labels = labels[train_rows].copy()
flipped = noise_rng.random(len(noisy_labels)) < 0.2
noisy_labels[flipped] = noise_rng.integers(0, 10, flipped.sum())
noisy_train_set = ag.data.TensorDataset(digits[train_rows], noisy_labels)
epoch_runs = {"clean labels": size_runs[128, 0][1], "20% noisy labels": train(128, noisy_train_set)[1]}
fig, axes = plt.subplots(1, 2, figsize=(12, 3.8), sharey=True)
for ax, (label, history) in zip(axes, epoch_runs.items()):
    best = int(np.argmin(history["val_loss"]))
    print(
        f"{label:17}: lowest validation loss {history['val_loss'][best]:.3f} at epoch {best + 1}, "
        f"{history['val_loss'][-1]:.3f} after 80 epochs; validation accuracy {history['val_accuracy'][best]:.1%} "
        f"then {history['val_accuracy'][-1]:.1%}; training loss {history['train_loss'][-1]:.4f}"
    )
    ax.plot(history["epoch"], history["train_loss"], label="training loss")
    ax.plot(history["epoch"], history["val_loss"], label="validation loss")
    ax.axvline(best + 1, color="gray", linestyle=":", label="lowest validation loss")
    ax.set(xlabel="epoch", ylabel="cross-entropy", title=f"width 128, {label}")
    ax.legend()
plt.show()

# %% [markdown]
# With clean labels the validation loss bottoms out early and then creeps up while the training loss keeps
# falling; with noisy labels the climb is steep and the validation accuracy falls too: the network fits the
# wrong labels (training loss near 0 means it reproduces every flipped label) and that hurts on new digits.
#
# ## Weight decay (L2) and L1 regularization
#
# Regularization adds a penalty on the weights to the loss, $\tilde L(w) = L(w) + \lambda\,\Omega(w)$:
#
# - **L2**, $\Omega = \tfrac12 \lVert w \rVert_2^2$, adds $\lambda w$ to the gradient, so every step also shrinks
#   the weights by a factor $(1 - \eta\lambda)$: hence the name **weight decay**. `optim.SGD(weight_decay=λ)`
#   does exactly this.
# - **L1**, $\Omega = \lVert w \rVert_1$, adds $\lambda\,\operatorname{sign}(w)$: a constant pull towards 0 that
#   drives unneeded weights to (nearly) zero, giving a sparse model. `l1_penalized` (above) adds it to the
#   loss; autograd differentiates `abs`.
#
# First, that `weight_decay=λ` is the gradient of the L2 penalty: one SGD step each way from the same weights.


# %%
def one_step(weight_decay, l2_in_loss):
    ag.manual_seed(0)
    model = nn.Linear(64, 10)
    optimizer = optim.SGD(model.parameters(), lr=0.1, weight_decay=weight_decay)
    loss = F.cross_entropy(model(train_set.tensors[0]), train_set.tensors[1])
    if l2_in_loss:
        loss = loss + 0.5 * l2_in_loss * sum((p * p).sum() for p in model.parameters())
    loss.backward()
    optimizer.step()
    return model.weight.detach().numpy()


LAMBDA = 0.01
by_weight_decay, by_penalty = one_step(weight_decay=LAMBDA, l2_in_loss=0), one_step(weight_decay=0, l2_in_loss=LAMBDA)
decay_vs_penalty = np.abs(by_weight_decay - by_penalty).max()
print(f"weight_decay={LAMBDA} vs loss + {LAMBDA}/2 * ||w||^2: largest difference after one step {decay_vs_penalty:.1e}")

# %% [markdown]
# Now the width-128 model with weight decay of four strengths, the strength **chosen by the validation loss**
# at the end of training, and with an L1 penalty. We also look at the weights: their overall size, and the
# share that are practically zero ($|w| < 10^{-3}$).


# %%
def weights_of(model):
    return np.concatenate(
        [p.detach().numpy().ravel() for name, p in model.named_parameters() if name.endswith("weight")]
    )


regularized = {}
REGULARIZERS = {f"L2, weight_decay={decay:g}": {"weight_decay": decay} for decay in (0, 1e-4, 1e-3, 1e-2)}
REGULARIZERS["L1, lambda=3e-4"] = {"l1": 3e-4}
for label, options in REGULARIZERS.items():
    model, _ = train(128, **options)
    weights = weights_of(model)
    val_loss, val_accuracy = evaluate(model, val_set)
    regularized[label] = {
        "val_loss": val_loss,
        "val_accuracy": val_accuracy,
        "weight_norm": np.linalg.norm(weights),
        "near_zero": np.mean(np.abs(weights) < 1e-3),
        "model": model,
    }
    print(
        f"{label:22}: validation loss {val_loss:.3f}, accuracy {val_accuracy:.1%}; weight norm "
        f"{regularized[label]['weight_norm']:.1f}, {regularized[label]['near_zero']:.0%} of weights below 1e-3"
    )
chosen_decay = min((label for label in regularized if label.startswith("L2")), key=lambda k: regularized[k]["val_loss"])
print(f"chosen on validation: {chosen_decay}")

# %% [markdown]
# Stronger weight decay keeps the weights smaller; the validation loss picks the strength. L1 sets most of the
# weights to practically zero at about the same accuracy. (For the L1 run, the losses that `fit` records
# include the penalty; the numbers above are the plain cross-entropy, from `evaluate`.)
#
# Which weights does L1 remove first? Those that do not help: for instance, the weights leaving the pixels
# that are blank in every training image. No data gradient ever reaches them, so without a penalty they keep
# their random initial values; L2 shrinks them geometrically; L1 pulls them to zero at a constant rate.

# %%
blank_pixels = np.flatnonzero(digits[train_rows].max(axis=0) == 0)
largest_blank_weight = {}
for label in ("L2, weight_decay=0", chosen_decay, "L1, lambda=3e-4"):
    first_layer = regularized[label]["model"][0].linear.weight.detach().numpy()
    largest_blank_weight[label] = np.abs(first_layer[:, blank_pixels]).max()
    print(
        f"{label:22}: largest |weight| from the {len(blank_pixels)} always-blank pixels "
        f"{largest_blank_weight[label]:.1e}"
    )

# %% [markdown]
# ## Inverted dropout
#
# During training, dropout zeroes each hidden unit with probability $p$ and divides the survivors by $1 - p$:
# with $\xi \sim \text{Bernoulli}(1-p)$, $h' = \xi h / (1-p)$, so $\mathbb E[h'] = h$. No unit can rely on any
# particular other unit being present, which discourages co-adapted, memorised features. At evaluation time
# (`model.eval()`) dropout is the identity, and thanks to the $1/(1-p)$ scaling nothing needs rescaling.

# %%
ag.manual_seed(0)
dropout = nn.Dropout(p=0.5)
hidden = ag.tensor(np.linspace(0.5, 2.0, 8))
masks = np.stack([dropout(hidden).numpy() for _ in range(20000)])
print("h                 :", hidden.numpy())
print("mean of 20000 h'  :", masks.mean(axis=0).round(3))
print(f"share of units zeroed: {np.mean(masks == 0):.3f}")
dropout.eval()
print("in eval mode, h' = h:", np.array_equal(dropout(hidden).numpy(), hidden.numpy()))

# %% [markdown]
# > **The notes say** (the Hadamard-product notes, on element-wise operations): "在一些正则化方法(如 Dropout)中,
# > 它用于逐元素调整权重" (in regularizers such as dropout, the Hadamard product adjusts the *weights* element
# > by element). **In fact** dropout multiplies the **activations** element-wise: its mask has the shape of the
# > layer's output, (batch, units), one draw per example and unit, and the weights are never touched. Masking
# > individual weights is a different method, **DropConnect** (Wan et al., 2013), whose mask has the weight
# > matrix's shape (out, in). Dropping unit $j$ for one example is the same as zeroing the whole row $j$ of $W$
# > for that example, so dropout is a row-structured, per-example special case; DropConnect zeroes scattered
# > single weights, and a unit's output is then almost never exactly zero.
#
# Both, on a layer of 64 -> 16 units and a batch of 32 digits:

# %%
ag.manual_seed(0)
layer = nn.Linear(64, 16)
dropout = nn.Dropout(p=0.5)
batch = train_set.tensors[0][:32]
with ag.no_grad():
    pre_activation = layer(batch)
    dropped = dropout(pre_activation)
    dropout_mask = dropped.numpy() != 0  # which (example, unit) entries survived
    weight_mask = ag.bernoulli(ag.full((16, 64), 0.5)).numpy().astype(bool)
    drop_connect = F.linear(batch, layer.weight * ag.tensor(weight_mask) / 0.5, layer.bias)
    # dropout = zeroing whole rows of W per example: example 0 through W with its dropped units' rows zeroed
    unit_kept = ag.tensor(dropout_mask[0])
    row_masked = F.linear(batch[:1], layer.weight * unit_kept[:, None], layer.bias * unit_kept)
print(f"dropout mask: shape {dropout_mask.shape} (batch, units), {1 - dropout_mask.mean():.0%} of activations zeroed")
print(f"DropConnect mask: shape {weight_mask.shape} (out, in), {1 - weight_mask.mean():.0%} of weights zeroed")
dropout_is_row_masking = np.allclose(dropped.numpy()[0], 2 * row_masked.numpy()[0], atol=1e-5)
exact_zero_units = {"dropout": np.mean(dropped.numpy() == 0), "DropConnect": np.mean(drop_connect.numpy() == 0)}
print(f"dropout on example 0 == its rows of W zeroed (times 1/(1-p)): {dropout_is_row_masking}")
print(
    f"share of outputs exactly zero: dropout {exact_zero_units['dropout']:.0%}, "
    f"DropConnect {exact_zero_units['DropConnect']:.0%}"
)

# %% [markdown]
# Now dropout as a regularizer: the width-128 model with $p$ = 0, 0.25 and 0.5, $p$ chosen by the lowest
# validation loss.

# %%
dropout_runs = {p: train(128, dropout=p) for p in (0.0, 0.25, 0.5)}
for p, (_, history) in dropout_runs.items():
    print(
        f"p = {p:4}: training accuracy {history['train_accuracy'][-1]:.1%} (measured with dropout active), lowest "
        f"validation loss {min(history['val_loss']):.3f}, final validation loss {history['val_loss'][-1]:.3f}"
    )
chosen_p = min(dropout_runs, key=lambda p: dropout_runs[p][1]["val_loss"][-1])
print(f"chosen on validation (final validation loss): p = {chosen_p}")

# %% [markdown]
# With dropout the training accuracy (measured on the thinned network) no longer reaches 100%: the model
# memorises less.
#
# ## K-fold cross-validation
#
# A validation set costs training data. **K-fold cross-validation** splits the data into $K$ folds and trains
# $K$ times, each time validating on one fold and training on the other $K-1$; the $K$ validation scores are
# averaged. Every example is used for validation exactly once. Here it chooses the hidden width among 2, 8
# and 32 from the pool of the 600 training and validation digits (5 folds of 120), 30 epochs per run; the test
# digits stay out.

# %%
pool_rows = np.concatenate([train_rows, val_rows])
pool = ag.data.TensorDataset(digits[pool_rows], labels[pool_rows])
folds = list(ag.data.kfold(len(pool), k=5, seed=0))
validated = np.sort(np.concatenate([val for _, val in folds]))
cv_scores = {}
for width in (2, 8, 32):
    cv_scores[width] = []
    for train_idx, val_idx in folds:
        _, history = train(width, ag.data.Subset(pool, train_idx), ag.data.Subset(pool, val_idx), epochs=30)
        cv_scores[width].append(history["val_accuracy"][-1])
    print(
        f"width {width:2}: validation accuracy per fold {np.round(cv_scores[width], 3)}, "
        f"mean {np.mean(cv_scores[width]):.3f} +- {np.std(cv_scores[width]):.3f}"
    )
best_width = max(cv_scores, key=lambda width: np.mean(cv_scores[width]))
print(f"chosen width: {best_width}")

# %% [markdown]
# The spread across folds shows how much a single validation split of 120 examples could have misled us.
#
# ## Early stopping
#
# Since the validation loss of the width-128 model turns up after a few dozen epochs, we can stop there:
# `nn.utils.EarlyStopping(patience=10)` ends training once the validation loss has not improved for 10 epochs
# and, with `restore_best=True`, puts back the weights of the best epoch. The stopping epoch is a
# hyper-parameter chosen on the validation set; whether it helped is for the test set to say.

# %%
stopper = nn.utils.EarlyStopping(patience=10, monitor="val_loss", restore_best=True)
stopped_model, stopped_history = train(128, callbacks=[stopper])
print(
    f"stopped after {len(stopped_history)} of 80 epochs; best epoch {stopper.best_epoch} "
    f"(validation loss {stopper.best:.3f})"
)

# %% [markdown]
# ## Mini-batch size: accuracy against wall-clock time
#
# A mini-batch gradient is an estimate of the full-data gradient: batch size 1 is stochastic gradient descent
# (cheap, noisy steps), the full training set is batch gradient descent (one exact but expensive step per
# epoch). The notes claim a sweet spot in *time*: larger batches process the data faster (vectorised
# arithmetic), but need more epochs for the same accuracy. We train on 1437 digits at the same learning rate
# (plain SGD, 0.05), recording after every epoch the validation accuracy (on the other 360) and the measured
# wall-clock time so far (training plus one validation pass per epoch), and compare the time each batch size
# takes to reach 90% validation accuracy.

# %%
full_train, full_val = ag.data.random_split(ag.data.TensorDataset(digits, labels), [1437, 360], seed=0)
BATCH_EPOCHS = {1: 3, 8: 8, 32: 20, 128: 40, 1437: 60}
TARGET = 0.9
batch_runs = {}
for batch_size, epochs in BATCH_EPOCHS.items():
    ag.manual_seed(0)
    model = nn.MLP([64, 64, 10])
    history = nn.utils.fit(
        model,
        nn.CrossEntropyLoss(),
        optim.SGD(model.parameters(), lr=0.05),
        ag.data.DataLoader(full_train, batch_size=batch_size, shuffle=True, seed=0),
        ag.data.DataLoader(full_val, batch_size=360),
        epochs=epochs,
        progress=False,
    )
    seconds, accuracy = np.cumsum(history["time"]), np.array(history["val_accuracy"])
    reached = np.flatnonzero(accuracy >= TARGET)
    batch_runs[batch_size] = {
        "seconds": seconds,
        "val_accuracy": accuracy,
        "seconds per epoch": float(np.median(history["time"])),
        "seconds to target": float(seconds[reached[0]]) if len(reached) else np.inf,
        "epochs to target": int(reached[0]) + 1 if len(reached) else None,
    }
    print(
        f"batch {batch_size:4}: {-(-1437 // batch_size):4} steps and {batch_runs[batch_size]['seconds per epoch']:.3f} s "
        f"per epoch; {TARGET:.0%} validation accuracy after {batch_runs[batch_size]['epochs to target']} epochs, "
        f"{batch_runs[batch_size]['seconds to target']:.2f} s; best {accuracy.max():.1%} in {seconds[-1]:.2f} s"
    )
fastest_batch = min(batch_runs, key=lambda b: batch_runs[b]["seconds to target"])
print(f"fastest to {TARGET:.0%}: batch size {fastest_batch}")

fig, (curve_ax, time_ax) = plt.subplots(1, 2, figsize=(12, 4))
for batch_size, run in batch_runs.items():
    curve_ax.plot(run["seconds"], run["val_accuracy"], ".-", label=f"batch {batch_size}")
curve_ax.axhline(TARGET, color="gray", linestyle=":", label=f"{TARGET:.0%}")
curve_ax.set(
    xscale="log", xlabel="wall-clock seconds (measured)", ylabel="validation accuracy", title="accuracy vs time"
)
curve_ax.legend(fontsize="small")
sizes = list(batch_runs)
time_ax.plot(sizes, [batch_runs[b]["seconds to target"] for b in sizes], "o-")
time_ax.set(
    xscale="log",
    yscale="log",
    xlabel="batch size",
    ylabel=f"seconds to {TARGET:.0%} validation accuracy",
    title="the sweet spot (missing: never reached)",
)
plt.show()

# %% [markdown]
# Batch size 1 learns the most per epoch but each epoch is slow (1437 small steps); the full batch makes one
# step per epoch and needs far more epochs than it saves time; in between, a batch of a few dozen reaches the
# target soonest.
#
# ## The test set, used once
#
# Every choice is made: the polynomial degree, the weight-decay strength and dropout $p$ (validation), the width
# (5-fold cross-validation, then retrained on the whole pool of 600), the stopping epoch (validation). Each
# chosen model is now evaluated on the test data, next to the unregularised reference, once. Nothing below
# changes a choice.

# %%
cv_model, _ = train(best_width, pool, val_set, epochs=30)  # retrained on all 600 pooled digits
test_report = {
    "80 epochs, no regularization": evaluate(dropout_runs[0.0][0], test_set),
    f"early stopping (epoch {stopper.best_epoch})": evaluate(stopped_model, test_set),
    chosen_decay: evaluate(regularized[chosen_decay]["model"], test_set),
    f"dropout p = {chosen_p}": evaluate(dropout_runs[chosen_p][0], test_set),
    f"width {best_width} by 5-fold CV, trained on 600": evaluate(cv_model, test_set),
}
for label, (test_loss, test_accuracy) in test_report.items():
    print(f"{label:36}: test loss {test_loss:.3f}, test accuracy {test_accuracy:.1%}")
curve_test_error = {degree: mse(polynomials[degree], curve_test) for degree in (chosen_degree, 11)}
print(
    f"polynomial, degree {chosen_degree} (chosen): test MSE {curve_test_error[chosen_degree]:.3f}; "
    f"degree 11: {curve_test_error[11]:.3f}"
)
stopped_val_loss = stopper.best
stopped_test_loss = test_report[f"early stopping (epoch {stopper.best_epoch})"][0]
print(
    f"early stopping: validation loss {stopped_val_loss:.3f} (the figure that chose the epoch), "
    f"test loss {stopped_test_loss:.3f}"
)

# %% [markdown]
# ## Findings
#
# - Test digits are disjoint from the training and validation digits and are used only in the last section.
# - Polynomial fits: the training error falls at every degree to near zero at degree 11, while the validation
#   error of degree 11 is over 5 times the chosen degree's (chosen between 3 and 7); on test, degree 11 is
#   also over 5 times worse.
# - With 200 training digits, from width 8 every seed fits the training set exactly while the validation error
#   stays above 4%; some width-1/2 runs are dead ReLU networks (no unit active on any training digit, training
#   accuracy at most 15%), and the width-1 runs that are alive still get under half of the training digits right.
# - The width-128 model's validation loss rises after its minimum: by over 0.005 with clean labels, and by over
#   0.1 with 20% noisy labels, where the validation accuracy also drops.
# - `weight_decay=λ` equals adding $\tfrac{\lambda}{2}\lVert w\rVert^2$ to the loss (to $10^{-7}$ after a step);
#   the chosen strength is not 0 and shrinks the weight norm; L1 makes more than half of the weights practically
#   zero (less than 5% without it) at no more than 2 points of validation accuracy, including every weight from
#   an always-blank pixel (below $10^{-3}$, against above 0.05 without a penalty).
# - Inverted dropout preserves the mean (within 0.03 over 20000 masks), zeroes about half the units, and is the
#   identity in eval mode. It masks activations (mask shape (batch, units)), which equals zeroing rows of $W$ per
#   example; DropConnect masks weights (shape (out, in)) and leaves (almost) no output exactly zero.
# - 5-fold cross-validation uses every pooled example once for validation and ranks width 2 well below 8 and 32.
# - Early stopping stops well before 80 epochs.
# - Batch size 1 takes over 5 times longer per epoch than the full batch; the batch size that reaches 90%
#   validation accuracy soonest in measured time is neither 1 nor the full batch, and the full batch is at least
#   twice as slow to get there (or never does).
# - On the test set, used once: early stopping, the chosen weight decay and the chosen dropout each have a lower
#   test loss than the unregularised 80-epoch model, and the CV-chosen width reaches over 90% test accuracy.

# %%
assert not set(test_rows) & set(pool_rows) and len(test_rows) == 1197
train_curve, val_curve = curve_errors["training"], curve_errors["validation"]
assert np.all(np.diff(train_curve) <= 1e-9) and train_curve[11] < 1e-6 and 3 <= chosen_degree <= 7
assert val_curve[11] > 5 * val_curve[chosen_degree]
assert curve_test_error[11] > 5 * curve_test_error[chosen_degree]
assert np.all(width_errors["train"][WIDTHS.index(8) :] == 0) and np.all(width_errors["val"][WIDTHS.index(8) :] > 0.04)
assert dead_runs and all(accuracy <= 0.15 for _, _, accuracy in dead_runs)
assert all(accuracy < 0.5 for width, _, accuracy in alive_runs if width == 1)
clean, noisy = epoch_runs["clean labels"], epoch_runs["20% noisy labels"]
assert clean["val_loss"][-1] > min(clean["val_loss"]) + 0.005 and noisy["val_loss"][-1] > min(noisy["val_loss"]) + 0.1
assert noisy["val_accuracy"][-1] < noisy["val_accuracy"][int(np.argmin(noisy["val_loss"]))]
assert decay_vs_penalty < 1e-7
none, l2, l1 = regularized["L2, weight_decay=0"], regularized[chosen_decay], regularized["L1, lambda=3e-4"]
assert chosen_decay != "L2, weight_decay=0" and l2["weight_norm"] < none["weight_norm"]
assert l1["near_zero"] > 0.5 and none["near_zero"] < 0.05 and l1["val_accuracy"] > none["val_accuracy"] - 0.02
assert len(blank_pixels) > 0
assert largest_blank_weight["L1, lambda=3e-4"] < 1e-3 and largest_blank_weight["L2, weight_decay=0"] > 0.05
assert np.abs(masks.mean(axis=0) - hidden.numpy()).max() < 0.03 and abs(np.mean(masks == 0) - 0.5) < 0.01
assert dropout_mask.shape == (32, 16) and weight_mask.shape == (16, 64) and dropout_is_row_masking
assert exact_zero_units["dropout"] > 0.3 and exact_zero_units["DropConnect"] < 0.01
assert np.array_equal(validated, np.arange(600))
assert np.mean(cv_scores[2]) < min(np.mean(cv_scores[8]), np.mean(cv_scores[32])) - 0.1 and best_width in (8, 32)
assert len(stopped_history) < 60
assert batch_runs[1]["seconds per epoch"] > 5 * batch_runs[1437]["seconds per epoch"]
assert fastest_batch not in (1, 1437)
assert batch_runs[1437]["seconds to target"] > 2 * batch_runs[fastest_batch]["seconds to target"]
reference_test_loss = test_report["80 epochs, no regularization"][0]
assert stopped_test_loss < reference_test_loss
assert test_report[chosen_decay][0] < reference_test_loss
assert chosen_p == 0.0 or test_report[f"dropout p = {chosen_p}"][0] < reference_test_loss
assert test_report[f"width {best_width} by 5-fold CV, trained on 600"][1] > 0.9

# %% [markdown]
# ## Exercises
#
# Solutions, as a script that computes and asserts each answer: `notebooks/solutions/06_generalization.py`.
#
# 1. **Why it is called weight decay.** Show that plain SGD with `weight_decay=λ` updates
#    $w \leftarrow (1 - \eta\lambda) w - \eta \nabla L(w)$, so a weight that gets no data gradient (one leaving an
#    always-blank pixel) decays geometrically: $w_k = (1-\eta\lambda)^k w_0$. Check it after 50 steps.
# 2. **Dropout's noise.** With $h' = \xi h / (1-p)$, $\xi \sim \text{Bernoulli}(1-p)$, show that
#    $\operatorname{Var} h' = h^2\, p / (1-p)$, and check it by sampling `nn.Dropout` for $p = 0.2$ and $0.5$.
# 3. **Interpolation.** Show that a polynomial of degree $n - 1$ passes exactly through $n$ points with distinct
#    $x$ (the Vandermonde matrix is invertible), so its training error is 0 whatever the noise.
# 4. **Regularising the polynomial.** Fit the degree-11 polynomial of the notebook with an L2 penalty (ridge
#    regression, $w = (X^\top X + \lambda I)^{-1} X^\top y$ on the features $1, x, \dots, x^{11}$), choose $\lambda$
#    among $10^{-8}, \dots, 10^{0}$ on the validation samples, and compare its validation error with the
#    unregularised fit's.
# 5. **Why the chosen model's validation score is optimistic.** Twenty "models" guess the digit at random. Pick
#    the one with the best accuracy on 100 validation digits, then score it on 1000 test digits. Explain the
#    difference; this is why the report must come from data not used for the choice.
