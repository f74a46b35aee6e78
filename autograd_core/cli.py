"""The `autograd-core` command (also `python -m autograd_core`).

    autograd-core demo       train an MLP on the digits (or a 2-D toy set); write graph, plots, weights
    autograd-core gradflow   per-layer gradient norms of deep MLPs: which vanish, explode, or train
    autograd-core viz        draw an MLP's autograd graph as SVG
    autograd-core bench      run the benchmarks (benchmarks/runner.py, in a checkout of the repository)

`autograd-core COMMAND --help` lists each command's options. Bad options are
argparse errors: a message naming the option, exit status 2.

`nn` and `optim` are imported inside the commands, never when `autograd_core`
is imported.
"""
import argparse
import contextlib
import itertools
import math
import os
import sys
from typing import Callable, NamedTuple

import numpy as np

import autograd_core as ag

PROG = "autograd-core"

# Fractions of a dataset for training, validation (early stopping, curves) and the held-out test.
SPLIT = (0.7, 0.15, 0.15)


# ---- option types: each returns the parsed value or raises ArgumentTypeError (exit status 2) ---------

def _int_at_least(minimum):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value
    parse.__name__ = "integer"
    return parse


positive_int = _int_at_least(1)
non_negative_int = _int_at_least(0)


def positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def dropout_probability(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def layer_sizes(text):
    """"128" or "64,32" -> (128,) or (64, 32)."""
    parts = text.split(",")
    try:
        sizes = tuple(int(part) for part in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers such as 128 or 64,32, got {text!r}") \
            from None
    if any(size < 1 for size in sizes):
        raise argparse.ArgumentTypeError(f"layer sizes must be positive, got {text!r}")
    return sizes


def activation_name(text):
    import nn

    if text not in nn.ACTIVATION_MODULES:
        raise argparse.ArgumentTypeError(f"unknown activation {text!r}; choose from {', '.join(nn.ACTIVATION_MODULES)}")
    return text


def _optimizers():
    """Optimizer classes by lower-case name: {"sgd": optim.SGD, "adam": optim.Adam, ...}."""
    import optim

    return {name.lower(): getattr(optim, name) for name in optim.__all__
            if isinstance(getattr(optim, name), type) and name != "Optimizer"}


def optimizer_name(text):
    optimizers = _optimizers()
    if text.lower() not in optimizers:
        raise argparse.ArgumentTypeError(f"unknown optimizer {text!r}; choose from {', '.join(optimizers)}")
    return text.lower()


INITS = ("default", "xavier", "he", "normal:STD")


def init_spec(text):
    """"default" (PyTorch's), "xavier" (Glorot uniform), "he" (Kaiming normal, fan_in) or "normal:STD"."""
    if text in ("default", "xavier", "he"):
        return text
    kind, _, std = text.partition(":")
    if kind == "normal" and std:
        try:
            return f"normal:{positive_float(std)}"
        except argparse.ArgumentTypeError as err:
            raise argparse.ArgumentTypeError(f"in {text!r}, STD {err}") from None
    raise argparse.ArgumentTypeError(f"expected one of {', '.join(INITS)} (e.g. normal:0.5), got {text!r}")


MODEL_KINDS = ("mlp",)


def model_spec(text):
    """"mlp:4,16,16,1" -> ("mlp", (4, 16, 16, 1)): an MLP through those widths."""
    kind, colon, sizes = text.partition(":")
    if kind not in MODEL_KINDS or not colon:
        raise argparse.ArgumentTypeError(f"expected KIND:SIZES with KIND in {MODEL_KINDS}, e.g. mlp:4,16,16,1; "
                                         f"got {text!r}")
    sizes = layer_sizes(sizes)
    if len(sizes) < 2:
        raise argparse.ArgumentTypeError(f"an MLP needs at least an input and an output width, got {text!r}")
    return kind, sizes


# ---- datasets ------------------------------------------------------------------------------

class DemoDataset(NamedTuple):
    """A demo data set and the defaults that train an MLP on it well in 30 epochs."""

    load: Callable  # seed -> (X, y)
    hidden: tuple
    dropout: float
    lr: float


DATASETS = {
    "digits": DemoDataset(lambda seed: ag.datasets.load_digits(), (128,), 0.2, 3e-3),
    "moons": DemoDataset(lambda seed: ag.datasets.make_moons(1000, noise=0.2, seed=seed), (32, 32), 0.0, 1e-2),
    "spirals": DemoDataset(lambda seed: ag.datasets.make_spirals(1500, n_classes=3, noise=0.02, seed=seed), (64, 64),
                           0.0, 1e-2),
    "circles": DemoDataset(lambda seed: ag.datasets.make_circles(1000, noise=0.1, factor=0.5, seed=seed), (32, 32),
                           0.0, 1e-2),
}


def _loaders(X, y, batch_size, seed):
    """Train, validation and test DataLoaders over a seeded SPLIT of (X, y); only training shuffles."""
    train, val, test = ag.data.random_split(ag.data.TensorDataset(X, y), SPLIT, seed=seed)
    return (ag.data.DataLoader(train, batch_size=batch_size, shuffle=True, seed=seed),
            ag.data.DataLoader(val, batch_size=512), ag.data.DataLoader(test, batch_size=512))


def _accuracy(model, loader):
    """(correct, total) of the model's argmax predictions over a loader, in eval mode."""
    model.eval()
    correct = total = 0
    with ag.no_grad():
        for x, y in loader:
            correct += int(np.sum(np.argmax(model(x).data, axis=-1) == y.data))
            total += len(y)
    model.train()
    return correct, total


def _save_graph(root, path, model, **options):
    """Draw the graph behind `root` with the model's parameter names; a missing Graphviz `dot` is reported,
    not fatal (save_svg then leaves the DOT source beside `path`). Returns whether the SVG was written."""
    try:
        ag.viz.save_svg(root, path, params=dict(model.named_parameters()), **options)
        return True
    except RuntimeError as err:
        print(f"{PROG}: {err}", file=sys.stderr)
        return False


# ---- demo ----------------------------------------------------------------------------------

def run_demo(args):
    import nn
    from autograd_core import distributed

    # Under `mpiexec -n N` every rank trains (fit shares out the batches); rank 0 alone reports and writes.
    main_rank = distributed.rank() == 0
    show = print if main_rank else (lambda *args, **kwargs: None)
    ag.manual_seed(args.seed)
    dataset = DATASETS[args.dataset]
    hidden, dropout, lr = (dataset.hidden if args.hidden is None else args.hidden,
                           dataset.dropout if args.dropout is None else args.dropout,
                           dataset.lr if args.lr is None else args.lr)
    X, y = dataset.load(args.seed)
    train_loader, val_loader, test_loader = _loaders(X, y, args.batch_size, args.seed)
    sizes = [X.shape[1], *hidden, int(y.max()) + 1]
    model = nn.MLP(sizes, activation=args.activation, dropout=dropout)
    optimizer = _optimizers()[args.optimizer](model.parameters(), lr=lr)
    monitor = nn.utils.GradientMonitor(model, warn=main_rank)
    stopper = nn.utils.EarlyStopping(patience=max(5, args.epochs // 4), monitor="val_loss", restore_best=True)
    show(f"{args.dataset}: {len(X)} samples, {X.shape[1]} features, {sizes[-1]} classes; "
         f"model {type(model).__name__}{tuple(sizes)} ({args.activation}, dropout {dropout}), "
         f"{args.optimizer} lr={lr}")
    history = nn.utils.fit(model, nn.CrossEntropyLoss(), optimizer, train_loader, val_loader, epochs=args.epochs,
                           callbacks=[monitor, stopper], progress=not args.no_progress)
    last = history.rows[-1]
    show(f"trained {len(history)} epochs; best epoch {stopper.best_epoch} (val_loss {stopper.best:.4f}); "
         f"last epoch: train_accuracy {last['train_accuracy']:.4f}, val_accuracy {last['val_accuracy']:.4f}")
    correct, total = _accuracy(model, test_loader)
    show(f"test accuracy: {correct / total:.4f} ({correct}/{total} held-out samples)")
    show(monitor.summary())
    if not main_rank:
        return 0

    os.makedirs(args.out, exist_ok=True)
    paths = {name: os.path.join(args.out, name) for name in
             ("graph.svg", "training.png", "gradient_flow.png", "model.safetensors", "history.json")}
    # One more batch through the trained model, so the graph shows this model's gradients.
    x, target = next(iter(test_loader))
    model.zero_grad()
    loss = nn.CrossEntropyLoss()(model(x[:16]), target[:16])
    loss.backward()
    wrote_graph = _save_graph(loss, paths["graph.svg"], model, show_grads=True)
    history.plot(paths["training.png"])
    monitor.plot(paths["gradient_flow.png"])
    ag.save(model.state_dict(), paths["model.safetensors"])
    history.save(paths["history.json"])
    descriptions = {
        "graph.svg": "autograd graph, gradients coloured, one cluster per module",
        "training.png": "loss and accuracy per epoch",
        "gradient_flow.png": "per-layer gradient norms and update ratios per step",
        "model.safetensors": "weights (PyTorch key names; ag.load or safetensors)",
        "history.json": "per-epoch losses, metrics and learning rates",
    }
    for name, path in paths.items():
        if name != "graph.svg" or wrote_graph:
            print(f"wrote {path:<40} {descriptions[name]}")
    return 0


# ---- gradflow ------------------------------------------------------------------------------

# The default comparison: (label, activation, init, norm, residual, depth: None = the deepest --depth).
GRADFLOW_GRID = (
    ("sigmoid, xavier", "sigmoid", "xavier", "none", False, 3),
    ("sigmoid, xavier", "sigmoid", "xavier", "none", False, None),
    ("relu, default init", "relu", "default", "none", False, None),
    ("relu, he init", "relu", "he", "none", False, None),
    ("sigmoid + batchnorm", "sigmoid", "xavier", "batch", False, None),
    ("relu + layernorm", "relu", "default", "layer", False, None),
    ("sigmoid + residual", "sigmoid", "xavier", "none", True, None),
    ("relu, normal:1 init", "relu", "normal:1.0", "none", False, None),
)


def _initialize(model, init):
    """Re-initialise every Linear of `model`: weights by `init` (see init_spec), biases to zero."""
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


def _gradflow_configs(args):
    """[(label, activation, init, norm, residual, depth)]: the default grid, or the product of the flags."""
    deepest = max(args.depth)
    if args.activation is args.init is args.norm is None and not args.residual:
        return [(label, act, init, norm, residual, depth or deepest)
                for label, act, init, norm, residual, depth in GRADFLOW_GRID]
    configs = []
    for depth, act, init, norm in itertools.product(args.depth, args.activation or ["relu"], args.init or ["he"],
                                                    args.norm or ["none"]):
        label = f"{act}, {init} init" + (f", {norm} norm" if norm != "none" else "") + (
            ", residual" if args.residual else "")
        configs.append((label, act, init, norm, args.residual, depth))
    return configs


def _full_loss(model, loss_fn, X, y):
    """The loss over the whole data set, without recording (training mode: BatchNorm uses these statistics)."""
    with ag.no_grad():
        return loss_fn(model(X), y).item()


def _gradflow_run(config, X, y, args):
    """Train one configuration for args.steps steps; its Linear layers' gradient norms at the first step,
    the monitor's verdicts there, and the loss before and after."""
    import nn
    import optim

    label, activation, init, norm, residual, depth = config
    ag.manual_seed(args.seed)
    classes = int(y.data.max()) + 1
    model = nn.MLP([X.shape[1], *[args.width] * depth, classes], activation=activation,
                   norm=None if norm == "none" else norm, residual=residual)
    _initialize(model, init)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    monitor = nn.utils.GradientMonitor(model, warn=False)
    loader = ag.data.DataLoader(ag.data.TensorDataset(X, y), batch_size=args.batch_size, shuffle=True,
                                seed=args.seed)
    start = _full_loss(model, loss_fn, X, y)
    losses = []
    batches = itertools.chain.from_iterable(itertools.repeat(loader))
    with np.errstate(all="ignore"):  # an exploding network overflows; that is what it shows
        for _, (xb, yb) in zip(range(args.steps), batches):
            optimizer.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            optimizer.step()
            monitor.step()
            losses.append(loss.item())
        end = _full_loss(model, loss_fn, X, y)
    linear_layers = [name for name, module in model.named_modules() if isinstance(module, nn.Linear)]
    first_step = {layer: values[0] for layer, values in monitor.layer_norms("grad_norm").items()}
    verdicts = monitor.diagnose(step=0)
    flagged = sorted({status for status, _ in verdicts.values()} - {"ok"})
    return dict(label=label, depth=depth, norms=[first_step[layer] for layer in linear_layers],
                flow=", ".join(f"{status} in {sum(v[0] == status for v in verdicts.values())} layers"
                               for status in flagged) or "ok",
                start=start, end=end, losses=losses, verdict=_training_verdict(end, classes))


def _training_verdict(end, classes):
    """How far training got below chance level, the loss log(classes) of uniform predictions."""
    chance = math.log(classes)
    if not math.isfinite(end) or end > 2 * chance:
        return "blows up"
    progress = (chance - end) / chance
    return "trains" if progress > 0.5 else "slow" if progress > 0.1 else "stuck"


def _gradflow_table(results):
    header = ("network", "depth", "|grad| first layer", "|grad| last layer", "first/last", "flow at step 0",
              "loss start", "loss end", "")
    rows = [(r["label"], str(r["depth"]), f"{r['norms'][0]:.2e}", f"{r['norms'][-1]:.2e}",
             f"{r['norms'][0] / r['norms'][-1]:.1e}" if r["norms"][-1] > 0 else "nan",
             r["flow"], f"{r['start']:.3g}", f"{r['end']:.3g}", r["verdict"]) for r in results]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
                     for row in (header, *rows))


def _gradflow_plot(results, path, steps, classes):
    from matplotlib.ticker import MaxNLocator

    from nn.utils.fit import new_figure, save_figure

    figure = new_figure(ncols=2, width_per_panel=6.5, height=4.5)
    norms_ax, loss_ax = figure.axes
    for r in results:
        norms = np.array(r["norms"])
        line, = norms_ax.plot(np.arange(1, len(norms) + 1), np.where(norms > 0, norms, np.nan), marker="o",
                              markersize=3, label=f"{r['label']} ({r['depth']})")
        losses = np.array(r["losses"])
        loss_ax.plot(np.arange(1, len(losses) + 1), np.where(np.isfinite(losses), losses, np.nan),
                     color=line.get_color())
    norms_ax.set(yscale="log", xlabel="linear layer (input -> output)", ylabel="gradient L2 norm",
                 title="gradient norm per layer, first step")
    norms_ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    # Exploded losses would flatten every other curve: show up to 10x chance level (log(classes)).
    loss_ax.set(yscale="log", ylim=(None, 10 * math.log(classes)), xlabel="step", ylabel="training loss (batch)",
                title=f"training, {steps} Adam steps (losses > {10 * math.log(classes):.0f} off the chart)")
    for ax in figure.axes:
        ax.grid(alpha=0.3, which="both")
    norms_ax.legend(fontsize="x-small")
    save_figure(figure, path)


def run_gradflow(args):
    X, y = ag.datasets.load_digits()
    X, y = ag.tensor(X), ag.tensor(y)
    configs = _gradflow_configs(args)
    print(f"gradient flow on the digits: width {args.width}; {args.steps} Adam steps (lr {args.lr}, "
          f"batch {args.batch_size}) per network", flush=True)
    results = []
    for config in configs:
        print(f"  training {config[0]}, depth {config[5]} ...", file=sys.stderr, flush=True)
        results.append(_gradflow_run(config, X, y, args))
    print(_gradflow_table(results))
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "gradient_flow.png")
    _gradflow_plot(results, path, args.steps, classes=int(y.data.max()) + 1)
    print(f"wrote {path}")
    return 0


# ---- viz -----------------------------------------------------------------------------------

def run_viz(args):
    import nn

    ag.manual_seed(args.seed)
    _, sizes = args.model
    model = nn.MLP(sizes, activation=args.activation)
    root = model(ag.randn(args.batch_size, sizes[0]))
    if args.grads:
        root = nn.MSELoss()(root, ag.randn(*root.shape))  # regression on random targets: a loss to differentiate
        root.backward()
    directory = os.path.dirname(args.out)
    if directory:
        os.makedirs(directory, exist_ok=True)
    if not _save_graph(root, args.out, model, show_grads=args.grads):
        return 1
    print(f"wrote {args.out}")
    return 0


# ---- bench ---------------------------------------------------------------------------------

def run_bench(argv):
    """Hand the arguments to benchmarks.runner.main, which lives in the repository, not in the package."""
    try:
        from benchmarks import runner
    except ModuleNotFoundError as err:
        if err.name not in ("benchmarks", "benchmarks.runner"):
            raise
        print(f"{PROG} bench: the 'benchmarks' package is not importable. It lives in the benchmarks/ folder of "
              "the autograd-core repository and is not installed with the package: run this command from the "
              "root of a checkout (git clone, then cd into it).", file=sys.stderr)
        return 2
    return runner.main(argv)


def _single_threaded_blas():
    """Limit the BLAS thread pool to one thread for a command's duration.

    These commands multiply small matrices (64 x 128), where BLAS threads only add synchronization,
    and on a busy machine they wait for one another: a training step of the gradflow networks took
    390 ms with OpenBLAS's default threads and 25 ms with one, on a loaded 2-core machine.
    threadpoolctl comes with scikit-learn (a dependency); without it nothing is limited.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


# ---- parser --------------------------------------------------------------------------------

def _check_out(parser, args):
    """--out names a directory (demo, gradflow) or a file (viz): refuse an existing path of the other kind."""
    if args.command == "viz":
        if os.path.isdir(args.out):
            parser.error(f"argument --out: {args.out!r} is a directory; give the SVG file to write, e.g. "
                         f"{os.path.join(args.out, 'graph.svg')!r}")
    elif os.path.exists(args.out) and not os.path.isdir(args.out):
        parser.error(f"argument --out: {args.out!r} exists and is not a directory")


def build_parser():
    parser = argparse.ArgumentParser(prog=PROG, description="autograd-core: train, inspect and benchmark the "
                                                            "reverse-mode autodiff engine.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser("demo", help="train an MLP and write its graph, plots, weights and history",
                               description="Train an MLP (digits by default), print the held-out test accuracy and "
                                           "write graph.svg, training.png, gradient_flow.png, model.safetensors and "
                                           "history.json into --out.")
    demo.add_argument("--dataset", choices=sorted(DATASETS), default="digits", help="default: digits")
    demo.add_argument("--epochs", type=positive_int, default=30, help="default: 30 (early stopping may end sooner)")
    demo.add_argument("--hidden", type=layer_sizes,
                      help="hidden widths, comma-separated (default: 128 for digits, 32,32 or 64,64 for 2-D sets)")
    demo.add_argument("--activation", type=activation_name, default="relu",
                      help="nn activation name: relu, tanh, sigmoid, gelu, silu, ... (default: relu)")
    demo.add_argument("--dropout", type=dropout_probability,
                      help="dropout probability after each hidden layer (default: 0.2 for digits, 0 for 2-D sets)")
    demo.add_argument("--optimizer", type=optimizer_name, default="adam",
                      help="sgd, adam, adamw, rmsprop, adagrad, adadelta, adamax or nadam (default: adam)")
    demo.add_argument("--lr", type=positive_float, help="learning rate (default: 3e-3 for digits, 1e-2 for 2-D sets)")
    demo.add_argument("--batch-size", type=positive_int, default=64, help="default: 64")
    demo.add_argument("--seed", type=non_negative_int, default=0,
                      help="seeds the data split, the initialization and the shuffling (default: 0)")
    demo.add_argument("--out", default="out", help="output directory (default: ./out)")
    demo.add_argument("--no-progress", action="store_true", help="no progress bar")
    demo.set_defaults(run=run_demo)

    gradflow = commands.add_parser(
        "gradflow", help="vanishing and exploding gradients in deep MLPs: a table and a plot",
        description="Train deep MLPs on the digits for a few Adam steps; report each one's per-layer gradient norms "
                    "at the first step and whether it trains. With none of --activation/--init/--norm/--residual "
                    "a default grid compares sigmoid (shallow and deep), ReLU with He init, sigmoid with BatchNorm, "
                    "LayerNorm and residual connections, and a too-large initialization. Otherwise every "
                    "combination of the given values is run.")
    gradflow.add_argument("--depth", type=positive_int, nargs="+", default=[20],
                          help="hidden layers (several values: one network each; default: 20)")
    gradflow.add_argument("--width", type=positive_int, default=64, help="hidden width (default: 64)")
    gradflow.add_argument("--activation", type=activation_name, nargs="+", help="activation names (default: relu)")
    gradflow.add_argument("--init", type=init_spec, nargs="+",
                          help="default, xavier, he or normal:STD (default: he)")
    gradflow.add_argument("--norm", choices=("none", "batch", "layer"), nargs="+", help="default: none")
    gradflow.add_argument("--residual", action="store_true", help="skip connections around hidden layers")
    gradflow.add_argument("--steps", type=positive_int, default=100, help="Adam steps per network (default: 100)")
    gradflow.add_argument("--lr", type=positive_float, default=2e-3, help="Adam learning rate (default: 2e-3)")
    gradflow.add_argument("--batch-size", type=positive_int, default=128, help="default: 128")
    gradflow.add_argument("--seed", type=non_negative_int, default=0, help="default: 0")
    gradflow.add_argument("--out", default="out", help="directory for gradient_flow.png (default: ./out)")
    gradflow.set_defaults(run=run_gradflow)

    viz = commands.add_parser("viz", help="draw an MLP's autograd graph as SVG",
                              description="Run an MLP on a random batch and draw the graph of its output (or, with "
                                          "--grads, of an MSE loss against random targets after backward, nodes "
                                          "coloured by gradient norm), one cluster per module.")
    viz.add_argument("--model", type=model_spec, required=True, help="KIND:SIZES, e.g. mlp:4,16,16,1")
    viz.add_argument("--activation", type=activation_name, default="relu", help="default: relu")
    viz.add_argument("--grads", action="store_true", help="backward first and colour nodes by gradient norm")
    viz.add_argument("--batch-size", type=positive_int, default=8, help="rows of the random input (default: 8)")
    viz.add_argument("--seed", type=non_negative_int, default=0, help="default: 0")
    viz.add_argument("--out", default="graph.svg", help="SVG file to write (default: graph.svg)")
    viz.set_defaults(run=run_viz)

    commands.add_parser("bench", add_help=False, help="run the benchmarks; `bench --help` lists their options")
    return parser


def main(argv=None):
    """Run the command line `argv` (default sys.argv[1:]); returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench"]:  # every argument after it belongs to the benchmark runner's own parser
        return run_bench(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    _check_out(parser, args)
    with _single_threaded_blas():
        return args.run(args)
