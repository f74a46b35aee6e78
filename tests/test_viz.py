"""ag.viz: graph drawing, module clusters, gradient colouring, the missing-dot path, determinism."""

import os
import re
import shutil
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import autograd_core as ag
from autograd_core import viz

graphviz = pytest.importorskip("graphviz")
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="the Graphviz `dot` program is not installed")

SVG = "{http://www.w3.org/2000/svg}"


def _small_graph(seed=0, scopes=("layer1",)):
    """loss = relu(x @ w + b).sum(), the layer ops run inside the given (nested) module scopes."""
    rng = np.random.default_rng(seed)
    x = ag.tensor(rng.standard_normal((2, 3)))
    w = ag.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    b = ag.tensor(rng.standard_normal(4), requires_grad=True)
    with _nested_scopes(scopes):
        h = (x @ w + b).relu()
    return h.sum(), {"w": w, "b": b}


class _nested_scopes:
    def __init__(self, names):
        self.contexts = [ag.engine.module_scope(name) for name in names]

    def __enter__(self):
        for context in self.contexts:
            context.__enter__()

    def __exit__(self, *exc):
        for context in reversed(self.contexts):
            context.__exit__(*exc)


def _render(root, tmp_path, **options):
    path = tmp_path / "graph.svg"
    assert viz.save_svg(root, str(path), **options) == str(path)
    return ET.parse(path).getroot()


def _outline(group):
    """The first shape (box, rounded box) that graphviz drew for a node or cluster."""
    return next(e for e in group if e.tag in (f"{SVG}polygon", f"{SVG}path"))


def _bbox(group):
    """(xmin, ymin, xmax, ymax) of a node's or cluster's outline (a rounded corner's control points included)."""
    outline = _outline(group)
    numbers = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", outline.get("points") or outline.get("d"))]
    points = np.array(numbers).reshape(-1, 2)
    return (*points.min(axis=0), *points.max(axis=0))


def _inside(inner, outer):
    return outer[0] <= inner[0] and outer[1] <= inner[1] and inner[2] <= outer[2] and inner[3] <= outer[3]


def _groups(svg, kind):
    """{label text: svg group} for the nodes or clusters of a rendered graph."""
    return {"\n".join(t.text for t in g.iter(f"{SVG}text")): g for g in svg.iter(f"{SVG}g") if g.get("class") == kind}


def _statement(graph, label):
    """The one DOT statement of the node with this exact label."""
    found = [s for s in graph.body if f'[label="{label}"' in s]
    assert len(found) == 1, f"expected one node labelled {label!r} in {graph.source}"
    return found[0]


def _node_with_line(nodes, line):
    found = [g for label, g in nodes.items() if line in label.split("\n")]
    assert len(found) == 1, f"expected one node with label line {line!r}, got {list(nodes)}"
    return found[0]


@needs_dot
def test_svg_has_ops_params_and_shapes(tmp_path):
    loss, params = _small_graph()
    svg = _render(loss, tmp_path, params=params)
    nodes = _groups(svg, "node")
    labels = set(nodes)
    assert {"matmul\n(2, 4)", "add\n(2, 4)", "relu\n(2, 4)", "sum\n()"} <= labels
    assert {"w\n(3, 4)", "b\n(4,)"} <= labels
    assert len(nodes) == 6  # x needs no grad, so it is not part of the graph
    edges = [g for g in svg.iter(f"{SVG}g") if g.get("class") == "edge"]
    assert len(edges) == 5


@needs_dot
def test_unnamed_leaves_show_their_shape_and_names_can_hide_shapes(tmp_path):
    loss, params = _small_graph()
    svg = _render(loss, tmp_path, params={"w": params["w"]}, show_shapes=False)
    labels = set(_groups(svg, "node"))
    assert {"w", "(4,)", "matmul", "add", "relu", "sum"} == labels


@needs_dot
def test_module_scopes_become_nested_clusters(tmp_path):
    rng = np.random.default_rng(0)
    x = ag.tensor(rng.standard_normal((2, 3)))
    w1 = ag.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    w2 = ag.tensor(rng.standard_normal((4, 1)), requires_grad=True)
    with ag.engine.module_scope("model"):
        with ag.engine.module_scope("layer1"):
            h = (x @ w1).tanh()
        with ag.engine.module_scope("layer2"):
            out = h @ w2
    loss = (out * out).mean()
    svg = _render(loss, tmp_path, params={"layer1.weight": w1, "layer2.weight": w2})
    clusters = {label: _bbox(g) for label, g in _groups(svg, "cluster").items()}
    assert set(clusters) == {"model", "layer1", "layer2"}
    assert _inside(clusters["layer1"], clusters["model"]) and _inside(clusters["layer2"], clusters["model"])
    nodes = _groups(svg, "node")
    for line, cluster in [("tanh", "layer1"), ("layer1.weight", "layer1"), ("layer2.weight", "layer2")]:
        assert _inside(_bbox(_node_with_line(nodes, line)), clusters[cluster]), line
    assert not _inside(_bbox(_node_with_line(nodes, "mean")), clusters["model"])
    assert not _inside(_bbox(_node_with_line(nodes, "tanh")), clusters["layer2"])


def test_group_modules_false_draws_no_clusters():
    loss, params = _small_graph(scopes=("model", "layer1"))
    assert "subgraph cluster_" in viz.draw_graph(loss, params=params).source
    assert "subgraph" not in viz.draw_graph(loss, params=params, group_modules=False).source


@needs_dot
def test_leaf_shared_by_two_scopes_sits_in_their_common_cluster(tmp_path):
    w = ag.tensor(np.ones((2, 2)), requires_grad=True)
    with ag.engine.module_scope("model"):
        with ag.engine.module_scope("encoder"):
            h = w.exp()
        with ag.engine.module_scope("decoder"):
            out = h @ w
    svg = _render(out.sum(), tmp_path, params={"tied": w})
    clusters = {label: _bbox(g) for label, g in _groups(svg, "cluster").items()}
    tied = _bbox(_node_with_line(_groups(svg, "node"), "tied"))
    assert _inside(tied, clusters["model"])
    assert not _inside(tied, clusters["encoder"]) and not _inside(tied, clusters["decoder"])


@needs_dot
def test_show_grads_colours_exploding_red_and_vanishing_blue(tmp_path):
    w = ag.tensor(np.ones((3, 2)), requires_grad=True)
    b = ag.tensor(np.ones(2), requires_grad=True)
    healthy = ag.tensor(np.ones(2), requires_grad=True)
    unused = ag.tensor(np.ones(2), requires_grad=True)
    x = ag.tensor(np.ones((4, 3)))
    loss = ((x @ w) * 1e9).sum() + (b * 1e-12).sum() + (healthy * 0.5).sum() + (unused * 0.0).sum()
    loss.backward()
    unused.grad = None  # as if it had not been reached: drawn dashed, uncoloured
    svg = _render(loss, tmp_path, params={"w": w, "b": b, "healthy": healthy, "unused": unused}, show_grads=True)
    nodes = _groups(svg, "node")

    def fill(name):
        return _outline(_node_with_line(nodes, name)).get("fill")

    assert fill("w") == viz.grad_band(1e10)[1] == "#cb181d"  # red: ||grad|| = 4e9 * sqrt(6)
    assert fill("b") == viz.grad_band(1e-11)[1] == "#08519c"  # deep blue: ||grad|| = 1.4e-12
    assert fill("healthy") == viz.grad_band(0.7)[1] == "#74c476"  # green
    assert "no grad" in next(label for label in nodes if label.startswith("unused"))
    legend = _groups(svg, "cluster")["gradient L2 norm"]
    swatches = [label for label in nodes if label.startswith(("<", ">=", "NaN")) or ".." in label]
    assert len(swatches) == 8
    assert all(_inside(_bbox(nodes[s]), _bbox(legend)) for s in swatches)


def test_grad_norm_bands():
    def kind(norm):
        return viz.grad_band(norm)[3].split()[-1]

    assert [kind(v) for v in (0.0, 1e-12, 5e-7)] == ["vanishing"] * 3
    assert [kind(v) for v in (viz.VANISHING_BELOW, 1e-4, 1.0, 999.0)] == ["healthy"] * 4
    assert [kind(v) for v in (viz.EXPLODING_FROM, 1e5, 1e30)] == ["exploding"] * 3
    assert viz.grad_band(float("nan"))[3] == viz.grad_band(float("inf"))[3] == "NaN / Inf"


def test_show_grads_on_retained_intermediate_and_non_finite_grad():
    x = ag.tensor(np.array([1.0, 2.0]), requires_grad=True)
    h = x * 1e-8
    h.retain_grad()
    loss = (h * np.inf).sum()
    loss.backward()
    graph = viz.draw_graph(loss, params={"x": x, "h": h}, show_grads=True)
    h_node = _statement(graph, "h\nmul\n(2,)\n|grad| = inf")  # the op that made h, named after it
    assert f'fillcolor="{viz.grad_band(float("inf"))[1]}"' in h_node  # dark red
    x_node = _statement(graph, "x\n(2,)\n|grad| = inf")  # x.grad = 1e-8 * inf
    assert f'fillcolor="{viz.grad_band(float("inf"))[1]}"' in x_node
    loss_node = _statement(graph, "sum\n()")  # the root did not retain its grad: plain colours
    assert "fillcolor" not in loss_node


def test_deep_chain_draws_without_recursion():
    x = ag.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    graph = viz.draw_graph(y, params={"x": x})
    source = graph.source
    assert source.count(" -> ") == 100_000
    assert source.count('label="mul') == 100_000
    assert 'n100000 [label="x' in source  # the leaf is found last, at the bottom of the chain


def _fresh_svg(tmp_path, name):
    loss, params = _small_graph(seed=3, scopes=("model", "layer1"))
    path = tmp_path / name
    viz.save_svg(loss, str(path), params=params)
    return path.read_bytes(), viz.draw_graph(loss, params=params).source


@needs_dot
def test_same_graph_gives_identical_svg(tmp_path):
    first_svg, first_source = _fresh_svg(tmp_path, "a.svg")
    second_svg, second_source = _fresh_svg(tmp_path, "b.svg")
    assert first_source == second_source
    assert first_svg == second_svg


@needs_dot
def test_save_svg_replaces_atomically(tmp_path):
    path = tmp_path / "graph.svg"
    path.write_text("old")
    loss, params = _small_graph()
    viz.save_svg(loss, str(path), params=params)
    assert path.read_text().lstrip().startswith("<?xml")
    assert sorted(os.listdir(tmp_path)) == ["graph.svg"]  # no temporary file left behind


def test_missing_dot_raises_and_writes_dot_source(tmp_path, monkeypatch):
    empty = tmp_path / "empty_bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    loss, params = _small_graph()
    target = tmp_path / "graph.svg"
    with pytest.raises(RuntimeError, match="dot") as info:
        viz.save_svg(loss, str(target), params=params)
    message = str(info.value)
    assert "apt-get install graphviz" in message and "brew install graphviz" in message
    dot_file = tmp_path / "graph.dot"
    assert str(dot_file) in message
    assert not target.exists()
    source = dot_file.read_text()
    assert source == viz.draw_graph(loss, params=params).source
    assert source.startswith("digraph")


def test_leaf_root_and_several_roots():
    w = ag.tensor(np.ones(3), requires_grad=True)
    assert 'label="w\n(3,)"' in viz.draw_graph(w, params={"w": w}).source
    a, b = w.exp(), w.sin()
    source = viz.draw_graph([a, b], params={"w": w}).source
    assert source.count("peripheries=2") == 2
    assert source.count('label="w') == 1


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda loss: viz.draw_graph("loss"), "root must be a Tensor"),
        (lambda loss: viz.draw_graph([]), "no root"),
        (lambda loss: viz.draw_graph(loss, params=[("w", loss)]), "params must be a dict"),
        (lambda loss: viz.draw_graph(loss, params={"w": np.ones(3)}), r"params\['w'\] must be a Tensor"),
    ],
)
def test_bad_arguments(call, match):
    loss, _ = _small_graph()
    with pytest.raises((TypeError, ValueError), match=match):
        call(loss)
