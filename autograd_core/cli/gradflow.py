"""The gradient-flow study: per-layer gradient norms of deep MLPs, which vanish, explode, or train.

The `autograd-core gradflow` command, and functions that notebook 4 uses too:

    network = Network("sigmoid, xavier", "sigmoid", "xavier", depth=20)
    result = first_step(network, x, y)           # gradient norms per Linear layer at initialisation
    result = train(network, X, y, steps=100)     # the same at the first Adam step, then the losses
    print(table([result], classes=10)); plot([result], "gradient_flow.png")

A `FlowResult` holds the gradient norm of every Linear layer (input to output) at the first step, the
`GradientMonitor`'s status of each, and, after `train`, the batch losses and the full-data loss before and
after. nn and optim are imported inside the functions (importing `autograd_core.cli` loads neither).
"""

import dataclasses
import itertools
import math
import os
import sys

import numpy as np

import autograd_core as ag
from autograd_core.figures import new_figure, save_figure

from .checks import check_mlp_fits, check_output_directory
from .options import (
    activation_name,
    init_spec,
    non_negative_int,
    positive_float,
    positive_int,
)


@dataclasses.dataclass(frozen=True)
class Network:
    """One MLP of the study: `depth` hidden layers of `width` units; init as `options.init_spec` reads it;
    norm "none", "batch" or "layer"."""

    label: str
    activation: str = "relu"
    init: str = "default"
    norm: str = "none"
    residual: bool = False
    depth: int | None = 20  # None: the deepest --depth
    width: int = 64


@dataclasses.dataclass
class FlowResult:
    """What one network showed: see the module docstring. `losses` is empty and `start`/`end` NaN
    until trained."""

    label: str
    depth: int
    norms: np.ndarray
    statuses: list
    monitor: object
    losses: list = dataclasses.field(default_factory=list)
    start: float = math.nan
    end: float = math.nan


# The command's default comparison; depth None means the deepest --depth.
DEFAULT_GRID = (
    Network("sigmoid, xavier", "sigmoid", "xavier", depth=3),
    Network("sigmoid, xavier", "sigmoid", "xavier", depth=None),
    Network("relu, default init", "relu", "default", depth=None),
    Network("relu, he init", "relu", "he", depth=None),
    Network("sigmoid + batchnorm", "sigmoid", "xavier", "batch", depth=None),
    Network("relu + layernorm", "relu", "default", "layer", depth=None),
    Network("sigmoid + residual", "sigmoid", "xavier", residual=True, depth=None),
    Network("relu, normal:1 init", "relu", "normal:1.0", depth=None),
)


def initialize(model, init):
    """Re-initialise every Linear of `model` by `init`: "default" leaves PyTorch's initialisation; "xavier"
    (Glorot uniform), "he" (Kaiming normal, fan_in) and "normal:STD" set the weights and zero the biases."""
    import nn

    if init == "default":
        return
    for module in model.modules():
        if isinstance(module, nn.Linear):
            if init == "xavier":
                nn.init.xavier_uniform_(module.weight)
            elif init == "he":
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            else:
                nn.init.normal_(module.weight, 0.0, float(init.partition(":")[2]))
            if module.bias is not None:
                nn.init.zeros_(module.bias)


def build(network, inputs, classes, seed=0):
    """The seeded, initialised nn.MLP of `network` from `inputs` features to `classes` scores."""
    import nn

    ag.manual_seed(seed)
    model = nn.MLP(
        [inputs, *[network.width] * network.depth, classes],
        activation=network.activation,
        norm=None if network.norm == "none" else network.norm,
        residual=network.residual,
    )
    initialize(model, network.init)
    return model


def _flow(network, model, monitor):
    """The FlowResult of the monitor's first recorded step, over the model's Linear layers."""
    import nn

    layers = [name for name, module in model.named_modules() if isinstance(module, nn.Linear)]
    norms = monitor.layer_norms("grad_norm")
    verdicts = monitor.diagnose(step=0)
    return FlowResult(
        network.label,
        network.depth,
        np.array([norms[layer][0] for layer in layers]),
        [verdicts[layer][0] for layer in layers],
        monitor,
    )


def first_step(network, x, y, seed=0):
    """The gradient flow of `network` at initialisation: one cross-entropy backward on (x, y), no update."""
    import nn

    model = build(network, x.shape[1], int(np.asarray(y).max()) + 1, seed)
    monitor = nn.utils.GradientMonitor(model, warn=False)
    nn.CrossEntropyLoss()(model(x), y).backward()
    monitor.step()
    return _flow(network, model, monitor)


def _full_loss(model, loss_fn, X, y):
    """The loss over the whole data set, without recording (training mode: BatchNorm uses these statistics)."""
    with ag.no_grad():
        return loss_fn(model(X), y).item()


def train(network, X, y, steps=100, lr=2e-3, batch_size=128, seed=0):
    """Train `network` for `steps` Adam steps on shuffled batches of (X, y): the gradient flow at the
    first step, every batch loss, and the full-data loss before and after."""
    import nn
    import optim

    model = build(network, X.shape[1], int(np.asarray(y).max()) + 1, seed)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = optim.Adam(model.parameters(), lr=lr)
    monitor = nn.utils.GradientMonitor(model, warn=False)
    loader = ag.data.DataLoader(ag.data.TensorDataset(X, y), batch_size=batch_size, shuffle=True, seed=seed)
    start = _full_loss(model, loss_fn, X, y)
    losses = []
    batches = itertools.chain.from_iterable(itertools.repeat(loader))
    with np.errstate(all="ignore"):  # an exploding network overflows; that is what it shows
        for _, (xb, yb) in zip(range(steps), batches):
            optimizer.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            optimizer.step()
            monitor.step()
            losses.append(loss.item())
        end = _full_loss(model, loss_fn, X, y)
    return dataclasses.replace(_flow(network, model, monitor), losses=losses, start=start, end=end)


def training_verdict(result, classes):
    """How far training got below chance level, the loss log(classes) of uniform predictions."""
    chance = math.log(classes)
    if not math.isfinite(result.end) or result.end > 2 * chance:
        return "blows up"
    progress = (chance - result.end) / chance
    return "trains" if progress > 0.5 else "slow" if progress > 0.1 else "stuck"


def flow_summary(result):
    """ "ok", or how many Linear layers the monitor flagged, e.g. "vanishing in 12 layers"."""
    flagged = sorted(set(result.statuses) - {"ok"})
    return ", ".join(f"{status} in {result.statuses.count(status)} layers" for status in flagged) or "ok"


def table(results, classes=10):
    """The results as a text table, one row per network; the training columns only when some were trained."""
    results = list(results)
    trained = any(r.losses for r in results)
    header = (
        "network",
        "depth",
        "|grad| first layer",
        "|grad| last layer",
        "first/last",
        "flow at step 0",
        *(("loss start", "loss end", "") if trained else ()),
    )
    rows = [
        (
            r.label,
            str(r.depth),
            f"{r.norms[0]:.2e}",
            f"{r.norms[-1]:.2e}",
            f"{r.norms[0] / r.norms[-1]:.1e}" if r.norms[-1] > 0 else "nan",
            flow_summary(r),
            *((f"{r.start:.3g}", f"{r.end:.3g}", training_verdict(r, classes) if r.losses else "") if trained else ()),
        )
        for r in results
    ]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in (header, *rows)
    )


def plot(results, path=None, title="gradient norm per layer, first step", classes=10):
    """The gradient norm per Linear layer of every result (log scale) and, for trained results, their batch
    losses beside it (cut at 10x the chance loss log(classes)). Saved to `path` when given; returns the
    matplotlib Figure."""
    from matplotlib.ticker import MaxNLocator

    results = list(results)
    trained = [r for r in results if r.losses]
    figure = new_figure(ncols=2 if trained else 1, width_per_panel=6.5, height=4.5)
    norms_ax = figure.axes[0]
    for r in results:
        (line,) = norms_ax.plot(
            np.arange(1, len(r.norms) + 1),
            np.where(r.norms > 0, r.norms, np.nan),
            marker="o",
            markersize=3,
            label=f"{r.label} ({r.depth})",
        )
        if r.losses:
            losses = np.array(r.losses)
            figure.axes[1].plot(
                np.arange(1, len(losses) + 1), np.where(np.isfinite(losses), losses, np.nan), color=line.get_color()
            )
    norms_ax.set(yscale="log", xlabel="linear layer (input -> output)", ylabel="gradient L2 norm", title=title)
    norms_ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if trained:
        ceiling = 10 * math.log(classes)  # exploded losses would flatten every other curve
        figure.axes[1].set(
            yscale="log",
            ylim=(None, ceiling),
            xlabel="step",
            ylabel="training loss (batch)",
            title=f"training, {len(trained[0].losses)} Adam steps (losses > {ceiling:.0f} off the chart)",
        )
    for ax in figure.axes:
        ax.grid(alpha=0.3, which="both")
    norms_ax.legend(fontsize="x-small")
    if path is not None:
        save_figure(figure, path)
    return figure


# ---- the command ---------------------------------------------------------------------------


def networks(args):
    """The networks the command compares: the default grid, or every combination of the given flags."""
    deepest = max(args.depth)
    if args.activation is args.init is args.norm is None and not args.residual:
        return [
            dataclasses.replace(network, depth=network.depth or deepest, width=args.width) for network in DEFAULT_GRID
        ]
    return [
        Network(
            f"{act}, {init} init"
            + (f", {norm} norm" if norm != "none" else "")
            + (", residual" if args.residual else ""),
            act,
            init,
            norm,
            args.residual,
            depth,
            args.width,
        )
        for depth, act, init, norm in itertools.product(
            args.depth, args.activation or ["relu"], args.init or ["he"], args.norm or ["none"]
        )
    ]


DIGITS = (1797, 64, 10)  # samples, features and classes of ag.datasets.load_digits()


def check(args):
    check_output_directory(args.out)
    samples, features, classes = DIGITS
    check_mlp_fits(
        [features, *[args.width] * max(args.depth), classes],
        max(samples, args.batch_size),
        "--depth, --width and --batch-size",
    )


def run(args):
    X, y = ag.datasets.load_digits()
    X, y = ag.tensor(X), ag.tensor(y)
    classes = int(np.asarray(y).max()) + 1
    print(
        f"gradient flow on the digits: width {args.width}; {args.steps} Adam steps (lr {args.lr}, "
        f"batch {args.batch_size}) per network",
        flush=True,
    )
    results = []
    for network in networks(args):
        print(f"  training {network.label}, depth {network.depth} ...", file=sys.stderr, flush=True)
        results.append(train(network, X, y, args.steps, args.lr, args.batch_size, args.seed))
    print(table(results, classes))
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "gradient_flow.png")
    plot(results, path, classes=classes)
    print(f"wrote {path}")
    return 0


def add_parser(commands):
    parser = commands.add_parser(
        "gradflow",
        help="vanishing and exploding gradients in deep MLPs: a table and a plot",
        description="Train deep MLPs on the digits for a few Adam steps; report each one's per-layer gradient norms "
        "at the first step and whether it trains. With none of --activation/--init/--norm/--residual "
        "a default grid compares sigmoid (shallow and deep), ReLU with He init, sigmoid with BatchNorm, "
        "LayerNorm and residual connections, and a too-large initialization. Otherwise every "
        "combination of the given values is run.",
    )
    parser.add_argument(
        "--depth",
        type=positive_int,
        nargs="+",
        default=[20],
        help="hidden layers (several values: one network each; default: 20)",
    )
    parser.add_argument("--width", type=positive_int, default=64, help="hidden width (default: 64)")
    parser.add_argument("--activation", type=activation_name, nargs="+", help="activation names (default: relu)")
    parser.add_argument("--init", type=init_spec, nargs="+", help="default, xavier, he or normal:STD (default: he)")
    parser.add_argument("--norm", choices=("none", "batch", "layer"), nargs="+", help="default: none")
    parser.add_argument("--residual", action="store_true", help="skip connections around hidden layers")
    parser.add_argument("--steps", type=positive_int, default=100, help="Adam steps per network (default: 100)")
    parser.add_argument("--lr", type=positive_float, default=2e-3, help="Adam learning rate (default: 2e-3)")
    parser.add_argument("--batch-size", type=positive_int, default=128, help="default: 128")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="default: 0")
    parser.add_argument("--out", default="out", help="directory for gradient_flow.png (default: ./out)")
    parser.set_defaults(run=run, check=check)
    return parser
