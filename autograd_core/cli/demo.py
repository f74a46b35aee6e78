"""`autograd-core demo`: train an MLP on the digits (or a 2-D toy set), or a small CNN on the digits as
8x8 images; write graph, plots, weights, history."""

import os
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

import autograd_core as ag

from .checks import UsageError, check_mlp_fits, check_output_directory
from .common import save_graph
from .options import (
    activation_name,
    dropout_probability,
    layer_sizes,
    non_negative_int,
    optimizer_name,
    optimizers,
    positive_float,
    positive_int,
)

# Fractions of a dataset for training, validation (early stopping, curves) and the held-out test.
SPLIT = (0.7, 0.15, 0.15)
# Rows per batch when evaluating (validation and test).
EVAL_BATCH = 512
# The digits as images for `--model cnn`: (N, 64) -> (N, 1, 8, 8).
DIGIT_IMAGE = (1, 8, 8)
# Channels of the CNN's two conv layers; each is followed by a 2x2 max-pool, so 8x8 -> 4x4 -> 2x2.
CNN_CHANNELS = (16, 32)
# The CNN's fully connected head between the flattened features and the classes, unless --hidden says otherwise.
CNN_HIDDEN = (64,)


class DemoDataset(NamedTuple):
    """A demo data set, its size, and the defaults that train an MLP on it well in 30 epochs."""

    load: Callable  # seed -> (X, y)
    samples: int
    features: int
    classes: int
    hidden: tuple
    dropout: float
    lr: float


DATASETS = {
    "digits": DemoDataset(lambda seed: ag.datasets.load_digits(), 1797, 64, 10, (128,), 0.2, 3e-3),
    "moons": DemoDataset(
        lambda seed: ag.datasets.make_moons(1000, noise=0.2, seed=seed), 1000, 2, 2, (32, 32), 0.0, 1e-2
    ),
    "spirals": DemoDataset(
        lambda seed: ag.datasets.make_spirals(1500, n_classes=3, noise=0.02, seed=seed), 1500, 2, 3, (64, 64), 0.0, 1e-2
    ),
    "circles": DemoDataset(
        lambda seed: ag.datasets.make_circles(1000, noise=0.1, factor=0.5, seed=seed), 1000, 2, 2, (32, 32), 0.0, 1e-2
    ),
}

OUTPUTS = {
    "graph.svg": "autograd graph, gradients coloured, one cluster per module",
    "training.png": "loss and accuracy per epoch",
    "gradient_flow.png": "per-layer gradient norms and update ratios per step",
    "model.safetensors": "weights (PyTorch key names; ag.load or safetensors)",
    "history.json": "per-epoch losses, metrics and learning rates",
}


def _loaders(X, y, batch_size, seed):
    """Train, validation and test DataLoaders over a seeded SPLIT of (X, y); only training shuffles."""
    train, val, test = ag.data.random_split(ag.data.TensorDataset(X, y), SPLIT, seed=seed)
    return (
        ag.data.DataLoader(train, batch_size=batch_size, shuffle=True, seed=seed),
        ag.data.DataLoader(val, batch_size=EVAL_BATCH),
        ag.data.DataLoader(test, batch_size=EVAL_BATCH),
    )


def _accuracy(model, loader):
    """(correct, total) of the model's argmax predictions over a loader, in eval mode."""
    model.eval()
    correct = total = 0
    with ag.no_grad():
        for x, y in loader:
            correct += int(np.sum(np.argmax(np.asarray(model(x)), axis=-1) == np.asarray(y)))
            total += len(y)
    model.train()
    return correct, total


def check(args):
    check_output_directory(args.out)
    dataset = DATASETS[args.dataset]
    if args.model == "cnn":
        if dataset.features != int(np.prod(DIGIT_IMAGE)):
            raise UsageError(
                f"--model cnn trains on 8x8 images and needs --dataset digits, got --dataset {args.dataset}"
            )
        return
    hidden = dataset.hidden if args.hidden is None else args.hidden
    check_mlp_fits(
        [dataset.features, *hidden, dataset.classes],
        min(max(args.batch_size, EVAL_BATCH), dataset.samples),
        "--hidden and --batch-size",
    )


def digits_cnn(hidden, classes, activation, dropout):
    """conv(1->16, 3, pad 1)-act-maxpool2-conv(16->32, 3, pad 1)-act-maxpool2-flatten-MLP head, on (N, 1, 8, 8).

    The children are named (conv1, pool1, ...) so that the graph's clusters say which layer is which.
    """
    from collections import OrderedDict

    import nn

    (_, height, width), (first, second) = DIGIT_IMAGE, CNN_CHANNELS
    flattened = second * (height // 4) * (width // 4)
    return nn.Sequential(
        OrderedDict(
            conv1=nn.Conv2d(DIGIT_IMAGE[0], first, 3, padding=1),
            act1=nn.ACTIVATION_MODULES[activation](),
            pool1=nn.MaxPool2d(2),
            conv2=nn.Conv2d(first, second, 3, padding=1),
            act2=nn.ACTIVATION_MODULES[activation](),
            pool2=nn.MaxPool2d(2),
            flatten=nn.Flatten(),
            head=nn.MLP([flattened, *hidden, classes], activation=activation, dropout=dropout),
        )
    )


def _model(args, dataset, classes, dropout):
    """The model --model asks for, and how to describe it in one line."""
    import nn

    if args.model == "cnn":
        hidden = CNN_HIDDEN if args.hidden is None else args.hidden
        model = digits_cnn(hidden, classes, args.activation, dropout)
        return model, f"CNN conv{CNN_CHANNELS[0]}-pool-conv{CNN_CHANNELS[1]}-pool-MLP{hidden + (classes,)}"
    sizes = (dataset.features, *(dataset.hidden if args.hidden is None else args.hidden), classes)
    return nn.MLP(list(sizes), activation=args.activation, dropout=dropout), f"MLP{sizes}"


def _train(args, main_rank, show):
    """The trained model, its history, its GradientMonitor and the test loader."""
    import nn

    ag.manual_seed(args.seed)
    dataset = DATASETS[args.dataset]
    dropout = dataset.dropout if args.dropout is None else args.dropout
    lr = dataset.lr if args.lr is None else args.lr
    X, y = dataset.load(args.seed)
    classes = int(y.max()) + 1
    inputs = X.reshape(-1, *DIGIT_IMAGE) if args.model == "cnn" else X
    train_loader, val_loader, test_loader = _loaders(inputs, y, args.batch_size, args.seed)
    model, described = _model(args, dataset, classes, dropout)
    optimizer = optimizers()[args.optimizer](model.parameters(), lr=lr)
    monitor = nn.utils.GradientMonitor(model, warn=main_rank)
    stopper = nn.utils.EarlyStopping(patience=max(5, args.epochs // 4), monitor="val_loss", restore_best=True)
    show(
        f"{args.dataset}: {len(X)} samples, {X.shape[1]} features, {classes} classes; "
        f"model {described} ({args.activation}, dropout {dropout}), {args.optimizer} lr={lr}"
    )
    history = nn.utils.fit(
        model,
        nn.CrossEntropyLoss(),
        optimizer,
        train_loader,
        val_loader,
        epochs=args.epochs,
        callbacks=[monitor, stopper],
        progress=not args.no_progress,
    )
    last = history.rows[-1]
    show(
        f"trained {len(history)} epochs; best epoch {stopper.best_epoch} (val_loss {stopper.best:.4f}); "
        f"last epoch: train_accuracy {last['train_accuracy']:.4f}, val_accuracy {last['val_accuracy']:.4f}"
    )
    return model, history, monitor, test_loader


def _write_outputs(out, model, history, monitor, test_loader):
    import nn

    os.makedirs(out, exist_ok=True)
    paths = {name: os.path.join(out, name) for name in OUTPUTS}
    # One more batch through the trained model, so the graph shows this model's gradients.
    x, target = next(iter(test_loader))
    model.zero_grad()
    loss = nn.CrossEntropyLoss()(model(x[:16]), target[:16])
    loss.backward()
    wrote_graph = save_graph(loss, paths["graph.svg"], model, show_grads=True)
    history.plot(paths["training.png"])
    monitor.plot(paths["gradient_flow.png"])
    ag.save(model.state_dict(), paths["model.safetensors"])
    history.save(paths["history.json"])
    for name, path in paths.items():
        if name != "graph.svg" or wrote_graph:
            print(f"wrote {path:<40} {OUTPUTS[name]}")


def run(args):
    from autograd_core import distributed

    # Under `mpiexec -n N` every rank trains (fit shares out the batches); rank 0 alone reports and writes.
    main_rank = distributed.rank() == 0
    show = print if main_rank else (lambda *args, **kwargs: None)
    model, history, monitor, test_loader = _train(args, main_rank, show)
    correct, total = _accuracy(model, test_loader)
    show(f"test accuracy: {correct / total:.4f} ({correct}/{total} held-out samples)")
    show(monitor.summary())
    if main_rank:
        _write_outputs(args.out, model, history, monitor, test_loader)
    return 0


def add_parser(commands):
    parser = commands.add_parser(
        "demo",
        help="train an MLP (or a CNN) and write its graph, plots, weights and history",
        description="Train an MLP (digits by default) or, with --model cnn, a small CNN on the digits as "
        "8x8 images; print the held-out test accuracy "
        "and write graph.svg, training.png, gradient_flow.png, "
        "model.safetensors and history.json into --out.",
    )
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="digits", help="default: digits")
    parser.add_argument(
        "--model",
        choices=("mlp", "cnn"),
        default="mlp",
        help="mlp, or cnn: conv(16)-pool-conv(32)-pool-MLP head on the digits as 8x8 images (default: mlp)",
    )
    parser.add_argument("--epochs", type=positive_int, default=30, help="default: 30 (early stopping may end sooner)")
    parser.add_argument(
        "--hidden",
        type=layer_sizes,
        help="hidden widths, comma-separated (default: 128 for digits, 32,32 or 64,64 for 2-D sets; "
        "with --model cnn the widths of its fully connected head, default 64)",
    )
    parser.add_argument(
        "--activation",
        type=activation_name,
        default="relu",
        help="nn activation name: relu, tanh, sigmoid, gelu, silu, ... (default: relu)",
    )
    parser.add_argument(
        "--dropout",
        type=dropout_probability,
        help="dropout probability after each hidden layer (default: 0.2 for digits, 0 for 2-D sets)",
    )
    parser.add_argument(
        "--optimizer",
        type=optimizer_name,
        default="adam",
        help="sgd, adam, adamw, rmsprop, adagrad, adadelta, adamax or nadam (default: adam)",
    )
    parser.add_argument("--lr", type=positive_float, help="learning rate (default: 3e-3 for digits, 1e-2 for 2-D sets)")
    parser.add_argument("--batch-size", type=positive_int, default=64, help="default: 64")
    parser.add_argument(
        "--seed",
        type=non_negative_int,
        default=0,
        help="seeds the data split, the initialization and the shuffling (default: 0)",
    )
    parser.add_argument("--out", default="out", help="output directory (default: ./out)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(run=run, check=check)
    return parser
