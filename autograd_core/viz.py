"""Draw the autograd graph behind a tensor with Graphviz.

    dot = ag.viz.draw_graph(loss, params=dict(model.named_parameters()))
    ag.viz.save_svg(loss, "graph.svg", params=..., show_grads=True)

The drawing walks `root.grad_fn` and its `next_functions` with an explicit
stack (no recursion, so a graph of any depth draws), numbering nodes in walk
order: the same graph always gives the same DOT text and the same SVG.

Nodes: every op is a rounded box with its name and output shape; every leaf
tensor (an input or a parameter) is a plain box carrying its name from
`params` (matched by identity) or, unnamed, its shape. Edges run from inputs to
the op that consumed them, so the loss sits at the bottom, drawn with a
double border (as is every root).

Modules: each op records the nn.Module scopes active when it ran
(`Node.scope`, outermost first). With `group_modules=True` each scope path is
a Graphviz cluster, nested as the modules are; a leaf sits in the innermost
cluster shared by all its consumers, so a layer's weight is drawn inside that
layer. Calls of one module share a scope path and so share one cluster.

Gradients (`show_grads=True`, after a backward): a node is coloured by the L2
norm of its gradient, on a log10 scale, with a colour bar as legend:

    norm < 1e-6 (zero included)   vanishing   blues
    1e-6 <= norm < 1e3            healthy     greens
    norm >= 1e3                   exploding   reds
    NaN or Inf anywhere           broken      dark red

The thresholds are absolute (`VANISHING_BELOW`, `EXPLODING_FROM`). The
gradient of a leaf is its `.grad`; an op's output gradient is known only for
tensors that kept it with `retain_grad()` and are given to the drawer, as the
root or in `params` (a non-leaf tensor in `params` names the op that made
it). Nodes with no known gradient keep their plain colours; leaves that got
none are drawn dashed.
"""

import bisect
import itertools
import math
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

import autograd_core as ag

from .engine import Node
from .serialization import atomic_write
from .tensor import Tensor

__all__ = ["draw_graph", "save_svg", "grad_band", "VANISHING_BELOW", "EXPLODING_FROM"]

if TYPE_CHECKING:
    import graphviz

# (lower bound, fill, font colour, legend label) of one band of the colour bar.
_Band = tuple[float, str, str, str]
_Scope = tuple[str, ...]

VANISHING_BELOW = 1e-6
EXPLODING_FROM = 1e3

# Colour bar, one row per band of gradient norms: (lower bound, fill, font colour, legend label).
# Blues below VANISHING_BELOW, greens up to EXPLODING_FROM, reds beyond.
_GRAD_BANDS: tuple[_Band, ...] = (
    (0.0, "#08519c", "white", "< 1e-9   vanishing"),
    (1e-9, "#6baed6", "black", "1e-9 .. 1e-6   vanishing"),
    (VANISHING_BELOW, "#c7e9c0", "black", "1e-6 .. 1e-3   healthy"),
    (1e-3, "#74c476", "black", "1e-3 .. 1   healthy"),
    (1.0, "#238b45", "white", "1 .. 1e3   healthy"),
    (EXPLODING_FROM, "#fb6a4a", "black", "1e3 .. 1e6   exploding"),
    (1e6, "#cb181d", "white", ">= 1e6   exploding"),
)
_NON_FINITE_BAND: _Band = (math.nan, "#67000d", "white", "NaN / Inf")
_BAND_LOWER_BOUNDS = [band[0] for band in _GRAD_BANDS]

# Op nodes take the graph-wide node defaults (most nodes are ops, so their DOT lines stay short);
# leaves override them.
_OP_STYLE = dict(shape="box", style="rounded,filled", fillcolor="#eeeeee", fontname="Helvetica", fontsize="11")
_LEAF_STYLE = dict(style="filled", fillcolor="#fff2cc")
_CLUSTER_STYLE = dict(style="rounded", color="#888888", fontcolor="#444444", fontname="Helvetica", labeljust="l")


def grad_band(norm: float) -> tuple[float, str, str, str]:
    """`(lower bound, fill, font colour, label)` of the colour-bar band holding a gradient norm."""
    if not math.isfinite(norm):
        return _NON_FINITE_BAND
    return _GRAD_BANDS[bisect.bisect_right(_BAND_LOWER_BOUNDS, norm) - 1]


def _grad_norm(tensor: Tensor) -> float | None:
    """L2 norm of `tensor.grad` in float64 (so a large float32 gradient does not overflow), or None."""
    if tensor.grad is None:
        return None
    return float(np.linalg.norm(np.asarray(tensor.grad._data, dtype=np.float64).ravel()))


class _Entry:
    """One drawn node: an op (`node` set) or a leaf tensor (`tensor` set, `node` None)."""

    __slots__ = ("dot_id", "node", "tensor", "scope", "is_root")

    def __init__(self, dot_id: str, node: Node | None, tensor: Tensor | None, scope: _Scope | None):
        self.dot_id = dot_id
        self.node = node
        self.tensor = tensor
        self.scope = scope
        self.is_root = False


def _as_roots(root: Tensor | Sequence[Tensor]) -> list[Tensor]:
    roots = []
    for r in root if isinstance(root, (list, tuple)) else [root]:
        if not isinstance(r, ag.Tensor):
            raise TypeError(f"draw_graph: root must be a Tensor or a list of Tensors, got {type(r).__name__}")
        roots.append(r)
    if not roots:
        raise ValueError("draw_graph: no root tensor given")
    return roots


def _walk(roots: list[Tensor]) -> tuple[list[_Entry], list[tuple[_Entry, _Entry]]]:
    """Every node reachable from the roots, in depth-first discovery order, and the edges (input, consumer).

    A leaf is keyed by its tensor, not by its AccumulateGrad node, so a
    tensor used by several ops is one box.
    """
    entries: dict[int, _Entry] = {}
    edges: list[tuple[_Entry, _Entry]] = []
    stack: list[_Entry] = []

    def discover(fn_or_tensor: Any) -> _Entry:
        if isinstance(fn_or_tensor, ag.Tensor):
            node, tensor = None, fn_or_tensor
        elif hasattr(fn_or_tensor, "variable"):
            node, tensor = None, fn_or_tensor.variable
        else:
            node, tensor = fn_or_tensor, None
        key = id(tensor) if node is None else id(node)
        entry = entries.get(key)
        if entry is None:
            scope = tuple(node.scope) if node is not None else None
            entry = entries[key] = _Entry(f"n{len(entries)}", node, tensor, scope)
            stack.append(entry)
        return entry

    for root in roots:
        discover(root.grad_fn if root.grad_fn is not None else root).is_root = True
    while stack:
        consumer = stack.pop()
        if consumer.node is None:
            continue
        for parent, _ in consumer.node.next_functions:
            if parent is not None:
                edges.append((discover(parent), consumer))
    return list(entries.values()), edges


def _place_leaves(entries: list[_Entry], edges: list[tuple[_Entry, _Entry]]) -> None:
    """Give each leaf the deepest scope shared by all its consumers (the root scope if it has none)."""
    for parent, consumer in edges:
        if parent.node is None:
            consumer_scope = consumer.scope or ()  # an op's scope, never None
            parent.scope = consumer_scope if parent.scope is None else _common_prefix(parent.scope, consumer_scope)
    for entry in entries:
        if entry.scope is None:
            entry.scope = ()


def _common_prefix(a: _Scope, b: _Scope) -> _Scope:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]


def _node_attrs(
    entry: _Entry, name: str | None, grad_tensor: Tensor | None, show_shapes: bool, show_grads: bool
) -> tuple[dict[str, str], list[str]]:
    """Style of one node and the lines of its label (unescaped)."""
    node, leaf = entry.node, entry.tensor
    attrs: dict[str, str] = {} if node is not None else dict(_LEAF_STYLE)
    lines = [name] if name is not None else []
    if node is not None:
        lines.append(node.name)
        if show_shapes:
            lines.append(str(tuple(node.shape)))
    elif leaf is not None and (show_shapes or name is None):
        lines.append(str(tuple(leaf.shape)))
    if show_grads and grad_tensor is not None:
        norm = _grad_norm(grad_tensor)
        if norm is None:
            if node is None:
                attrs["style"] = "filled,dashed"
                lines.append("no grad")
        else:
            _, attrs["fillcolor"], attrs["fontcolor"], _ = grad_band(norm)
            lines.append(f"|grad| = {norm:.2e}")
    if entry.is_root:
        attrs["peripheries"] = "2"
    return attrs, lines


def _names_by_identity(params: dict[str, Tensor]) -> dict[int, str]:
    """`{id(tensor): name}` for the `params` dict; a tensor listed twice keeps its first name."""
    if not isinstance(params, dict):
        raise TypeError(f"draw_graph: params must be a dict of name -> Tensor, got {type(params).__name__}")
    names: dict[int, str] = {}
    for name, tensor in params.items():
        if not isinstance(tensor, ag.Tensor):
            raise TypeError(f"draw_graph: params[{name!r}] must be a Tensor, got {type(tensor).__name__}")
        names.setdefault(id(tensor), str(name))
    return names


def _add_legend(graph: "graphviz.Digraph") -> None:
    """The colour bar: a small cluster of labelled swatches stacked top to bottom."""
    with graph.subgraph(name="cluster_legend") as legend:
        legend.attr(label="gradient L2 norm", **_CLUSTER_STYLE)
        swatch_ids = []
        for i, (_, fill, font, label) in enumerate(_GRAD_BANDS + (_NON_FINITE_BAND,)):
            swatch_ids.append(f"legend{i}")
            legend.node(swatch_ids[-1], label=label, style="filled", fillcolor=fill, fontcolor=font)
        for upper, lower in itertools.pairwise(swatch_ids):
            legend.edge(upper, lower, style="invis")


def draw_graph(
    root: Tensor | Sequence[Tensor],
    params: dict[str, Tensor] | None = None,
    show_shapes: bool = True,
    show_grads: bool = False,
    group_modules: bool = True,
) -> "graphviz.Digraph":
    """The graph that produced `root` (a Tensor or a list of them) as a `graphviz.Digraph`.

    params: dict name -> Tensor naming leaves (parameters) and, for non-leaf
        tensors, the op that produced them; matched by identity.
    show_shapes: print each node's output shape.
    show_grads: colour nodes by gradient norm and add the colour bar (see the module docstring).
    group_modules: one cluster per nn.Module scope, nested like the modules.
    """
    import graphviz

    roots = _as_roots(root)
    params = {} if params is None else params
    names = _names_by_identity(params)
    entries, edges = _walk(roots)
    _place_leaves(entries, edges)

    # An op node stands for the non-leaf tensor it made: named after it, coloured by its retained grad.
    name_of_node = {id(t.grad_fn): names[id(t)] for t in params.values() if t.grad_fn is not None}
    grad_of_node = {id(t.grad_fn): t for t in [*params.values(), *roots] if t.grad_fn is not None}

    graph = graphviz.Digraph(name="autograd_graph", node_attr=_OP_STYLE)
    clusters: dict[_Scope, graphviz.Digraph] = {(): graph}
    for entry in entries:
        scope = (entry.scope or ()) if group_modules else ()
        for depth in range(1, len(scope) + 1):
            path = scope[:depth]
            if path not in clusters:
                cluster = clusters[path] = graphviz.Digraph(name=f"cluster_{len(clusters) - 1}")
                cluster.attr(label=graphviz.escape(str(path[-1])), **_CLUSTER_STYLE)
        if entry.node is not None:
            name, grad_tensor = name_of_node.get(id(entry.node)), grad_of_node.get(id(entry.node))
        else:
            name, grad_tensor = names.get(id(entry.tensor)), entry.tensor
        attrs, lines = _node_attrs(entry, name, grad_tensor, show_shapes, show_grads)
        clusters[scope].node(entry.dot_id, label="\n".join(graphviz.escape(line) for line in lines), **attrs)
    # A cluster's text is copied into its parent when attached, so attach the deepest first.
    for path in sorted((p for p in clusters if p), key=len, reverse=True):
        clusters[path[:-1]].subgraph(clusters[path])
    if show_grads:
        _add_legend(graph)
    for parent, consumer in edges:
        graph.edge(parent.dot_id, consumer.dot_id)
    return graph


def save_svg(root: Tensor | Sequence[Tensor], path: str | os.PathLike[str], **options: Any) -> str | os.PathLike[str]:
    """Render `draw_graph(root, **options)` to an SVG file at `path` (written atomically); returns `path`.

    Needs the Graphviz `dot` program. Without it this raises RuntimeError
    saying how to install it, after writing the DOT source next to `path`
    (same name, `.dot` suffix) so the graph can be rendered elsewhere.
    """
    import graphviz

    graph = draw_graph(root, **options)
    try:
        svg = graph.pipe(format="svg")
    except graphviz.ExecutableNotFound as err:
        dot_path = os.path.splitext(os.fspath(path))[0] + ".dot"
        atomic_write(dot_path, graph.source.encode("utf-8"))
        raise RuntimeError(
            f"save_svg: the Graphviz 'dot' program was not found on PATH, so {os.fspath(path)!r} could not be "
            f"rendered. Install Graphviz (Debian/Ubuntu: `apt-get install graphviz`; macOS: `brew install "
            f"graphviz`; conda: `conda install graphviz`). The graph's DOT source was written to {dot_path!r}."
        ) from err
    atomic_write(path, svg)
    return path
