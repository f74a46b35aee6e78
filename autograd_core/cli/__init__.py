"""The `autograd-core` command (also `python -m autograd_core`): one module per command.

    autograd-core demo       train an MLP on the digits (or a 2-D toy set); write graph, plots, weights
    autograd-core gradflow   per-layer gradient norms of deep MLPs: which vanish, explode, or train
    autograd-core viz        draw an MLP's autograd graph as SVG
    autograd-core bench      measure autograd-core against its peers (autograd_core.benchmarks)

`autograd-core COMMAND --help` lists each command's options. Bad options are
argparse errors: a message naming the option, exit status 2. Values that parse
but cannot work (an output path under a file, a model too large for this
machine's memory) are refused the same way, before any training (`checks`).

`nn` and `optim` are imported inside the commands, never when `autograd_core`
or `autograd_core.cli` is imported.
"""

import argparse
import contextlib
import sys

from . import bench, demo, gradflow, viz
from .checks import UsageError
from .common import PROG

COMMANDS = (demo, gradflow, viz)


def build_parser():
    """The top-level parser; each command's subparser carries `run` and `check` defaults (and `parser`)."""
    parser = argparse.ArgumentParser(
        prog=PROG, description="autograd-core: train, inspect and benchmark the reverse-mode autodiff engine."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        subparser = command.add_parser(commands)
        subparser.set_defaults(parser=subparser)
    bench.add_parser(commands)
    return parser


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


def main(argv=None):
    """Run the command line `argv` (default sys.argv[1:]); returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench"]:  # every argument after it belongs to the benchmark runner's own parser
        return bench.run(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        args.check(args)
    except UsageError as err:  # one line, as argparse words its errors (without the usage: the option was valid)
        args.parser.exit(2, f"{args.parser.prog}: error: {err}\n")
    with _single_threaded_blas():
        return args.run(args)
