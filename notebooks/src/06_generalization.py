# %% [markdown]
# # 6. Generalization: fitting the training set is not the goal
#
# A model is trained on one set of examples and used on others. The **training error** is what the
# optimizer drives down; the **generalization error**, the expected error on new examples, is what we care
# about, and we estimate it on data held out from training (a *validation* set). This notebook shows, on the
# handwritten digits:
#
# - under- and over-fitting as the model grows;
# - three regularizers: weight decay (L2), L1, and inverted dropout;
# - K-fold cross-validation to choose a model when data are scarce;
# - early stopping;
# - what the mini-batch size does to speed and accuracy.
#
# The topics, and the dropout and batch-size discussions, follow the project's seed notes (mantch's Zhihu
# article after *Dive into Deep Learning*).

# %%
import matplotlib.pyplot as plt
import numpy as np

import autograd_core as ag
import nn
import nn.functional as F
import optim

# %% [markdown]
# ## A small training set
#
# Overfitting needs a model with more capacity than its data: we train on only **200** digits and hold out
# 400 others for validation. Every model is an MLP with one hidden ReLU layer, trained for 80 epochs with SGD
# (learning rate 0.1, momentum 0.9, batches of 32). Errors are reported as cross-entropy losses and accuracies.

# %%
digits, labels = ag.datasets.load_digits()
order = np.random.default_rng(0).permutation(len(digits))
train_rows, val_rows = order[:200], order[1000:1400]
train_set = ag.data.TensorDataset(digits[train_rows], labels[train_rows])
val_set = ag.data.TensorDataset(digits[val_rows], labels[val_rows])


def l1_penalized(model, strength):
    """Cross-entropy plus strength * (sum of |w| over the model's weight matrices)."""
    weights = [p for name, p in model.named_parameters() if name.endswith("weight")]
    cross_entropy = nn.CrossEntropyLoss()
    return lambda output, target: cross_entropy(output, target) + strength * sum(w.abs().sum() for w in weights)


def train(
    width, train_data=train_set, val_data=val_set, epochs=80, weight_decay=0.0, l1=0.0, dropout=0.0, callbacks=()
):
    ag.manual_seed(0)
    model = nn.MLP([64, width, 10], dropout=dropout)
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=weight_decay)
    train_loader = ag.data.DataLoader(train_data, batch_size=32, shuffle=True, seed=0)
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
# ## Under- and over-fitting by model size

# %%
WIDTHS = (1, 2, 4, 8, 32, 128)
size_runs = {width: train(width)[1] for width in WIDTHS}
for width, history in size_runs.items():
    print(
        f"hidden width {width:3}: training accuracy {history['train_accuracy'][-1]:6.1%}, validation accuracy "
        f"{history['val_accuracy'][-1]:6.1%};  training loss {history['train_loss'][-1]:.4f}, "
        f"validation loss {history['val_loss'][-1]:.3f}"
    )

fig, (size_ax, curve_ax) = plt.subplots(1, 2, figsize=(13, 4))
size_ax.plot(WIDTHS, [1 - size_runs[w]["train_accuracy"][-1] for w in WIDTHS], "o-", label="training error")
size_ax.plot(WIDTHS, [1 - size_runs[w]["val_accuracy"][-1] for w in WIDTHS], "s-", label="validation error")
size_ax.set(xscale="log", xlabel="hidden width", ylabel="error rate after 80 epochs", title="model size")
size_ax.legend()
big = size_runs[128]
best_epoch = int(np.argmin(big["val_loss"]))
print(
    f"width 128: lowest validation loss {big['val_loss'][best_epoch]:.3f} at epoch {best_epoch + 1} "
    f"(training loss {big['train_loss'][best_epoch]:.4f}); after 80 epochs {big['val_loss'][-1]:.3f} "
    f"(training loss {big['train_loss'][-1]:.4f})"
)
curve_ax.plot(big["epoch"], big["train_loss"], label="training loss")
curve_ax.plot(big["epoch"], big["val_loss"], label="validation loss")
curve_ax.set(yscale="log", xlabel="epoch", title="width 128: loss during training")
curve_ax.legend()
plt.show()

# %% [markdown]
# - Widths 1 and 2 **underfit**: they cannot even fit the 200 training digits, and the validation error is as
#   bad or worse.
# - From width 8 on the training set is fitted perfectly (100% accuracy, loss near 0), while the validation
#   error stays near 8%: the gap between the two is the price of having seen only 200 examples.
# - Over time the width-128 model **overfits**: its validation loss bottoms out after about 20 epochs and then
#   creeps back up (0.28 to 0.30), while the training loss keeps falling (fivefold more): the model grows more
#   confident on the examples it memorised without getting better on new ones.
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
# Now the width-128 model with each regularizer. We compare the validation loss at the end of training and
# the weights: their overall size, and the share that are practically zero ($|w| < 10^{-3}$).


# %%
def weights_of(model):
    return np.concatenate(
        [p.detach().numpy().ravel() for name, p in model.named_parameters() if name.endswith("weight")]
    )


regularized = {}
REGULARIZERS = {"none": {}, "L2, weight_decay=1e-3": {"weight_decay": 1e-3}, "L1, lambda=3e-4": {"l1": 3e-4}}
for label, options in REGULARIZERS.items():
    model, history = train(128, **options)
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

# %% [markdown]
# Weight decay keeps the weights smaller and the validation loss lower (it no longer climbs at the end of
# training). L1 sets most of the weights to practically zero at the same accuracy. (For the L1 run, the losses
# that `fit` records include the penalty; the numbers above are the plain cross-entropy, from `evaluate`.)
#
# Which weights does L1 remove first? Those that do not help: for instance, the weights leaving the pixels
# that are blank in every training image. No data gradient ever reaches them, so without a penalty they keep
# their random initial values; L2 shrinks them geometrically; L1 pulls them to zero at a constant rate.

# %%
blank_pixels = np.flatnonzero(digits[train_rows].max(axis=0) == 0)
largest_blank_weight = {}
for label, run in regularized.items():
    first_layer = run["model"][0].linear.weight.detach().numpy()
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

# %%
dropout_model, dropout_history = train(128, dropout=0.5)
for label, history in (("no dropout", size_runs[128]), ("dropout 0.5", dropout_history)):
    print(
        f"{label:12}: training accuracy {history['train_accuracy'][-1]:.1%} (measured with dropout active), lowest "
        f"validation loss {min(history['val_loss']):.3f}, validation accuracy {history['val_accuracy'][-1]:.1%}"
    )

# %% [markdown]
# With dropout the lowest validation loss is lower than without it, and the training accuracy (measured on
# the thinned network) no longer reaches 100%: the model memorises less.
#
# ## K-fold cross-validation
#
# A validation set costs training data. **K-fold cross-validation** splits the data into $K$ folds and trains
# $K$ times, each time validating on one fold and training on the other $K-1$; the $K$ validation scores are
# averaged. Every example is used for validation exactly once. Here it chooses the hidden width among 2, 8
# and 32 from a pool of 600 digits (5 folds of 120), 30 epochs per run.

# %%
pool_rows = order[:600]
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
# Since the validation loss of the width-128 model turns up after about 20 epochs, we can stop there:
# `nn.utils.EarlyStopping(patience=10)` ends training once the validation loss has not improved for 10 epochs
# and, with `restore_best=True`, puts back the weights of the best epoch.

# %%
stopper = nn.utils.EarlyStopping(patience=10, monitor="val_loss", restore_best=True)
stopped_model, stopped_history = train(128, callbacks=[stopper])
stopped_val_loss, stopped_val_accuracy = evaluate(stopped_model, val_set)
print(
    f"stopped after {len(stopped_history)} of 80 epochs; best epoch {stopper.best_epoch} "
    f"(validation loss {stopper.best:.3f})"
)
print(
    f"restored model: validation loss {stopped_val_loss:.3f}, accuracy {stopped_val_accuracy:.1%}; "
    f"the 80-epoch model: {size_runs[128]['val_loss'][-1]:.3f}, {size_runs[128]['val_accuracy'][-1]:.1%}"
)

# %% [markdown]
# ## Mini-batch size: speed and accuracy
#
# A mini-batch gradient is an estimate of the full-data gradient: batch size 1 is stochastic gradient descent
# (cheap, noisy steps), the full training set is batch gradient descent (one exact but expensive step per
# epoch). Larger batches use vectorised arithmetic better, so an epoch takes less time, but they take fewer
# steps per epoch. We train on all 1437 training digits for 3 epochs at the same learning rate (plain SGD,
# 0.05) and record the time per epoch (the fastest of the three, to be robust to a busy machine) and the
# validation accuracy.

# %%
full_train, full_val = ag.data.random_split(ag.data.TensorDataset(digits, labels), [1437, 360], seed=0)
batch_runs = {}
for batch_size in (1, 8, 32, 128, 1437):
    ag.manual_seed(0)
    model = nn.MLP([64, 64, 10])
    history = nn.utils.fit(
        model,
        nn.CrossEntropyLoss(),
        optim.SGD(model.parameters(), lr=0.05),
        ag.data.DataLoader(full_train, batch_size=batch_size, shuffle=True, seed=0),
        ag.data.DataLoader(full_val, batch_size=360),
        epochs=3,
        progress=False,
    )
    batch_runs[batch_size] = {
        "seconds per epoch": min(history["time"]),
        "steps per epoch": -(-1437 // batch_size),
        "val_accuracy": history["val_accuracy"][-1],
    }
    print(
        f"batch {batch_size:4}: {batch_runs[batch_size]['steps per epoch']:4} steps and "
        f"{batch_runs[batch_size]['seconds per epoch']:.3f} s per epoch; validation accuracy after 3 epochs "
        f"{batch_runs[batch_size]['val_accuracy']:.1%}"
    )

fig, (time_ax, acc_ax) = plt.subplots(1, 2, figsize=(12, 3.5))
sizes = list(batch_runs)
time_ax.plot(sizes, [batch_runs[b]["seconds per epoch"] for b in sizes], "o-")
time_ax.set(xscale="log", yscale="log", xlabel="batch size", ylabel="seconds per epoch")
acc_ax.plot(sizes, [batch_runs[b]["val_accuracy"] for b in sizes], "o-")
acc_ax.set(xscale="log", xlabel="batch size", ylabel="validation accuracy after 3 epochs")
plt.show()

# %% [markdown]
# Per epoch, tiny batches are slow (one small matrix product per example) but make many steps and learn the
# most; the full batch is the fastest per epoch but makes only three steps in three epochs and barely
# learns. In between lies the practical choice, which is why mini-batches of a few dozen to a few hundred
# examples are the norm (with the learning rate tuned to the batch size).
#
# ## Findings
#
# - With 200 training digits, widths 1 and 2 underfit (training accuracy below 80%); from width 8 the training
#   set is fitted exactly while validation accuracy stays below 96%; the width-128 model's validation loss
#   ends above its minimum, reached in the first 40 epochs.
# - `weight_decay=λ` equals adding $\tfrac{\lambda}{2}\lVert w\rVert^2$ to the loss (to $10^{-7}$ after a step);
#   weight decay lowers the final validation loss by at least 0.03 and the weight norm; L1 makes more than half
#   of the weights practically zero (less than 5% without it) at no more than 2 points of accuracy, including
#   every weight from an always-blank pixel (below $10^{-3}$, against above 0.05 without a penalty).
# - Inverted dropout preserves the mean (within 0.03 over 20000 masks), zeroes about half the units, is the
#   identity in eval mode, and lowers the best validation loss by at least 0.02.
# - 5-fold cross-validation uses every pooled example once for validation and ranks width 2 well below 8 and 32.
# - Early stopping stops well before 80 epochs and restores the best epoch, whose validation loss is below the
#   80-epoch model's.
# - Batch size 1 takes over 5 times longer per epoch than the full batch, but after 3 epochs reaches over 90%
#   validation accuracy against below 30% for the full batch.

# %%
accuracy = {width: (history["train_accuracy"][-1], history["val_accuracy"][-1]) for width, history in size_runs.items()}
assert accuracy[1][0] < 0.8 and accuracy[2][0] < 0.8
assert all(accuracy[width][0] == 1.0 and accuracy[width][1] < 0.96 for width in (8, 32, 128))
assert big["val_loss"][-1] > big["val_loss"][best_epoch] and best_epoch < 40
assert decay_vs_penalty < 1e-7
none, l2, l1 = regularized["none"], regularized["L2, weight_decay=1e-3"], regularized["L1, lambda=3e-4"]
assert l2["val_loss"] < none["val_loss"] - 0.03 and l2["weight_norm"] < none["weight_norm"]
assert l1["near_zero"] > 0.5 and none["near_zero"] < 0.05 and l1["val_accuracy"] > none["val_accuracy"] - 0.02
assert len(blank_pixels) > 0 and largest_blank_weight["L1, lambda=3e-4"] < 1e-3 and largest_blank_weight["none"] > 0.05
assert np.abs(masks.mean(axis=0) - hidden.numpy()).max() < 0.03 and abs(np.mean(masks == 0) - 0.5) < 0.01
assert min(dropout_history["val_loss"]) < min(size_runs[128]["val_loss"]) - 0.02
assert np.array_equal(validated, np.arange(600))
assert np.mean(cv_scores[2]) < min(np.mean(cv_scores[8]), np.mean(cv_scores[32])) - 0.1 and best_width in (8, 32)
assert len(stopped_history) < 60 and np.isclose(stopped_val_loss, stopper.best, atol=1e-4)
assert stopped_val_loss < size_runs[128]["val_loss"][-1]
assert batch_runs[1]["seconds per epoch"] > 5 * batch_runs[1437]["seconds per epoch"]
assert batch_runs[1]["val_accuracy"] > 0.9 and batch_runs[1437]["val_accuracy"] < 0.3
