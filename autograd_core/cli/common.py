"""What several commands share: the program name and drawing a model's graph."""

import sys

import autograd_core as ag

PROG = "autograd-core"


def save_graph(root, path, model, **options):
    """Draw the graph behind `root` with the model's parameter names; a missing Graphviz `dot` is reported,
    not fatal (save_svg then leaves the DOT source beside `path`). Returns whether the SVG was written."""
    try:
        ag.viz.save_svg(root, path, params=dict(model.named_parameters()), **options)
        return True
    except RuntimeError as err:
        print(f"{PROG}: {err}", file=sys.stderr)
        return False
