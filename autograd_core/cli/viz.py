"""`autograd-core viz`: draw an MLP's autograd graph as SVG."""

import os

import autograd_core as ag

from .checks import check_mlp_fits, check_output_file
from .common import save_graph
from .options import activation_name, model_spec, non_negative_int, positive_int


def check(args):
    check_output_file(args.out, "SVG", "graph.svg")
    check_mlp_fits(args.model[1], args.batch_size, "--model and --batch-size")


def run(args):
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
    if not save_graph(root, args.out, model, show_grads=args.grads):
        return 1
    print(f"wrote {args.out}")
    return 0


def add_parser(commands):
    parser = commands.add_parser(
        "viz",
        help="draw an MLP's autograd graph as SVG",
        description="Run an MLP on a random batch and draw the graph of its output (or, "
        "with --grads, of an MSE loss against random targets after backward, "
        "nodes coloured by gradient norm), one cluster per module.",
    )
    parser.add_argument("--model", type=model_spec, required=True, help="KIND:SIZES, e.g. mlp:4,16,16,1")
    parser.add_argument("--activation", type=activation_name, default="relu", help="default: relu")
    parser.add_argument("--grads", action="store_true", help="backward first and colour nodes by gradient norm")
    parser.add_argument("--batch-size", type=positive_int, default=8, help="rows of the random input (default: 8)")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="default: 0")
    parser.add_argument("--out", default="graph.svg", help="SVG file to write (default: graph.svg)")
    parser.set_defaults(run=run, check=check)
    return parser
