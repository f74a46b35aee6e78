"""`autograd-core bench`: the benchmark runner (`autograd_core.benchmarks.runner`), which parses its own
arguments (`autograd-core bench --help`)."""


def run(argv):
    from autograd_core.benchmarks import runner

    return runner.main(argv, prog="autograd-core bench")


def add_parser(commands):
    return commands.add_parser("bench", add_help=False, help="run the benchmarks; `bench --help` lists their options")
