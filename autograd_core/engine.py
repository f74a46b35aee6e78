"""The reverse pass: from the gradients of some outputs to the gradients of the leaves.

The graph: every op that runs with grad recording leaves a `Node` (see `tensor.apply`), which
holds the node or leaf each input came from (`parents`), the values its VJP formulas read, and a
sequence number `seq` in creation order. Nodes hold their parents, never their consumers, and
tensors hold their node: dropping the loss frees the graph by reference counting alone.

The algorithm (`run_backward`):

1. Seeding. Each root (the node that made an output, or the output itself when it is a leaf)
   gets its incoming gradient in `pending` (node -> gradient summed so far), and goes on a heap.
2. The per-node loop. The heap pops the node with the highest `seq` first. That is a valid
   topological order of the reverse pass: a node is created after every node it consumes, so
   each of its consumers has a higher `seq` and was popped (and has sent its gradient) before
   it. When a node pops, its gradient is therefore complete. The node's prehooks run, its
   op's VJP (`Op.backward`) computes the gradient of each wanted input, and each input
   gradient is reduced to the input's shape and dtype where broadcasting changed them, then
   summed into `pending[parent]` (pushing the parent on first arrival) or, for a leaf, into
   `leaves[parent]`. No recursion, no dependency counting; a million-op chain is fine.
   Before the VJP runs, the node's kept values are checked against in-place edits (version
   counters) and against a previous backward that freed them; afterwards they are freed
   unless retain_graph.
3. Storing leaf gradients. Each leaf's summed gradient passes its hooks and accumulates into
   `.grad` (or, for `ag.grad`, is returned instead).

Nodes with several outputs (`graph.MultiOutputNode`: max(dim), sort, split, custom Functions):
consumers reach output k through the node's `edges[k]`, so their gradients land in slot k of
the node's pending list; when the node pops, the hooks of each output run on its slot, and its
VJP receives the list, with None for outputs that received no gradient (registry formulas supply
zeros where they need an array; a custom Function's backward receives zeros, as in PyTorch).

`ag.grad(outputs, inputs)` prunes: it first walks the graph from the roots, then keeps the nodes
from which some target (an input of `grad`) is reachable through parents (`_nodes_leading_to`);
the loop passes through other nodes without computing their VJPs, and the gradient reaching each
target is captured instead of stored in `.grad`.

Under `create_graph=True` the VJPs run on Tensors with `F = TENSOR_F` (every op recorded), with
the kept values attached to the graph, so the gradients are themselves differentiable.
"""

import heapq
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .graph import (  # noqa: F401 (re-exported where nn, tools and tests import them from)
    FREED,
    MultiOutputNode,
    Node,
    OutputEdge,
    RemovableHandle,
    detect_anomaly,
    enable_grad,
    inference_mode,
    is_grad_enabled,
    module_scope,
    no_grad,
    set_grad_enabled,
    state,
)
from .ops import ARRAY_F, REGISTRY, Namespace
from .tensor import Tensor, apply, install_reverse_pass


class _TensorNamespace(Namespace):
    """`F` for create_graph: every registered op, recorded."""

    def __getattr__(self, name: str) -> Callable[..., Any]:
        op = REGISTRY.get(name)
        if op is None:  # an AttributeError, as for any object: hasattr() and introspection rely on it
            raise AttributeError(f"TENSOR_F: no registered op named {name!r}")

        def recorded(*args, **attrs):
            return apply(op, *args, **attrs)

        setattr(self, name, recorded)
        return recorded


TENSOR_F = _TensorNamespace()


def unbroadcast(F: Namespace, g: Any, shape: tuple[int, ...]) -> Any:
    """Sum `g` over the dimensions that broadcasting added or stretched, giving `shape`."""
    extra = g.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(i + extra for i, n in enumerate(shape) if n == 1 and g.shape[i + extra] != 1)
    if axes:
        g = F.sum(g, axis=axes, keepdims=False)
    return F.reshape(g, shape=shape) if g.shape != shape else g


# ---- checks on a node before its VJP runs -------------------------------------------------------


def _check_saved_values(node):
    """Raise if the node's kept values were freed by an earlier backward or modified in place since."""
    if node.saved is FREED:
        raise RuntimeError(
            f"Trying to backward through the graph a second time: the buffers saved by '{node.name}' were freed "
            "by the first backward. Pass retain_graph=True to the first backward() or ag.grad() call if you need "
            "to backward through the graph again."
        )
    checks = node.version_checks
    output_checks = len(node.shape) if type(node) is MultiOutputNode else 1
    first_output_check = len(checks) - 2 * output_checks if node.out is not None else len(checks)
    for k in range(0, len(checks), 2):
        counter, version = checks[k], checks[k + 1]
        if counter[0] != version:
            what = "its output" if k >= first_output_check else "an input"
            raise RuntimeError(
                f"{node.name}: {what} (saved for backward; output shape {node.shape}) was modified by an in-place "
                f"operation after the forward pass (version {version} -> {counter[0]}), so its gradient would be "
                "wrong. Use an out-of-place op, or .clone() the tensor before modifying it."
            )


def _conform(g, node, parent, shape, dtype, F):
    """Reduce broadcast dims, cast, and validate one input gradient; the one place this happens
    (the loop calls it only when the shape or dtype differs, for leaves, or in anomaly mode)."""
    if g.shape != shape:
        try:
            g = unbroadcast(F, g, shape)
        except (ValueError, IndexError):
            raise RuntimeError(
                f"{node.name}: backward produced a gradient of shape {g.shape} for input "
                f"{node.parents.index(parent)} of shape {shape}"
            ) from None
    if g.dtype != dtype:
        g = F.astype(g, dtype=dtype)
    if state.anomaly and not np.all(np.isfinite(g._data if isinstance(g, Tensor) else g)):
        where = "".join(node.trace or ["(no forward trace: the node was created outside detect_anomaly)\n"])
        raise RuntimeError(
            f"Function '{node.name}' returned nan or inf values in its gradient for input "
            f"{node.parents.index(parent)}. "
            f"The forward call that created it:\n{where}"
        )
    return g


# ---- the values a VJP receives -------------------------------------------------------------------


def _attached(value, parent):
    """`value` as a Tensor whose history is `parent` (a node or an output edge)."""
    if type(parent) is OutputEdge:
        tensor = Tensor(value, True, parent.node)
        tensor.output_nr = parent.index
        return tensor
    return Tensor(value, True, parent)


def _graph_values(node):
    """The node's kept inputs and output as Tensors attached to the graph, so that the formulas'
    own ops are recorded under create_graph; stand-ins and Python numbers pass as they are."""
    inputs = []
    for value, parent in zip(node.saved, node.parents):
        if type(value) is not np.ndarray:
            inputs.append(value)
        elif parent is None:
            inputs.append(Tensor(value))
        else:
            inputs.append(parent if isinstance(parent, Tensor) else _attached(value, parent))
    out = node.out
    if out is None:
        return inputs, None
    if type(node) is not MultiOutputNode:
        return inputs, Tensor(out, True, node)
    return inputs, tuple(_attached(o, edge) if o.dtype.kind == "f" else Tensor(o) for o, edge in zip(out, node.edges))


# ---- hooks ------------------------------------------------------------------------------------


def _as_tensor(g):
    return g if isinstance(g, Tensor) else Tensor(g)


def _run_hooks(hooks, g, graph_mode):
    if state.tracer is not None:
        state.tracer.poison("a gradient hook runs Python code in backward")
    for hook in tuple(hooks):  # a snapshot: a hook that removes itself must not make the next one skipped
        replaced = hook(_as_tensor(g))
        if replaced is not None:
            g = _checked_replacement(replaced, g, graph_mode)
    return g


def _checked_replacement(replaced, g, graph_mode):
    """A hook's return value, which must be a gradient of the same shape and dtype (as PyTorch)."""
    value = replaced._data if isinstance(replaced, Tensor) else replaced
    if not isinstance(value, (np.ndarray, np.generic)) or value.dtype.kind not in "biuf":
        raise RuntimeError(
            f"hook has changed the type of value: expected a Tensor of shape {g.shape} and dtype "
            f"{g.dtype}, got {type(replaced).__name__}"
        )
    if value.shape != g.shape:
        raise RuntimeError(f"hook has changed the size of value: expected shape {g.shape}, got {value.shape}")
    if value.dtype != g.dtype:
        raise RuntimeError(f"hook has changed the type of value: expected dtype {g.dtype}, got {value.dtype}")
    if graph_mode:
        return replaced if isinstance(replaced, Tensor) else Tensor(value)
    return value


def _arrived_at_outputs(node, slots, graph_mode, targets, captured):
    """The gradients of a multi-output node's outputs after their hooks, capturing `ag.grad` targets."""
    for k, edge in enumerate(node.edges):
        if slots[k] is None:
            continue
        if edge.hooks:
            slots[k] = _run_hooks(edge.hooks, slots[k], graph_mode)
        if targets is not None and edge in targets:
            captured[edge] = slots[k]
    return slots


# ---- the reverse pass ---------------------------------------------------------------------------


def _deliver_to_output(edge, g, pending, heap):
    """Add `g` to slot `edge.index` of its node's pending gradients (pushing the node on first arrival)."""
    node = edge.node
    slots = pending.get(node)
    if slots is None:
        slots = pending[node] = [None] * len(node.shape)
        heapq.heappush(heap, (-node.seq, node))
    slots[edge.index] = g if slots[edge.index] is None else slots[edge.index] + g


def _seed(roots, root_grads, graph_mode):
    """Step 1: the pending gradients, the leaf gradients and the heap, from the roots."""
    pending, leaves, heap = {}, {}, []
    for root, g in zip(roots, root_grads):
        if type(root) is OutputEdge:
            _deliver_to_output(root, g, pending, heap)
        elif isinstance(root, Tensor):
            leaves[root] = leaves[root] + g if root in leaves else g if graph_mode else np.array(g)
        elif root in pending:
            pending[root] = pending[root] + g
        else:
            pending[root] = g
            heapq.heappush(heap, (-root.seq, root))
    return pending, leaves, heap


def _owned_exclusively(g, incoming):
    """Whether leaf accumulation may keep array `g` as is: no other gradient or tensor shares it
    (`incoming` is the gradient the node received: one array, or a list for several outputs)."""
    passed_through = g is incoming or (type(incoming) is list and any(g is slot for slot in incoming))
    return not passed_through and g.base is None and g.flags.writeable


def _propagate(heap, pending, leaves, F, graph_mode, retain_graph, wanted, targets, captured):
    """Step 2: pop nodes by decreasing creation order, run each VJP, send the input gradients on."""
    anomaly = state.anomaly
    while heap:
        node = heapq.heappop(heap)[1]
        g = pending.pop(node)
        if type(node) is MultiOutputNode:
            g = _arrived_at_outputs(node, g, graph_mode, targets, captured)
        elif node.hooks:
            g = _run_hooks(node.hooks, g, graph_mode)
        if wanted is None:
            needs = node.parents
        else:
            if node in targets:
                captured[node] = g
            if node not in wanted:
                continue
            needs = [p if p in wanted else None for p in node.parents]
        checks = node.version_checks
        # the full check only when values were freed, several are kept, or the one kept has changed
        needs_full_check = node.saved is FREED or (checks and (len(checks) > 2 or checks[0][0] != checks[1]))
        if needs_full_check:
            _check_saved_values(node)
        inputs, out = _graph_values(node) if graph_mode else (node.saved, node.out)
        grads = node.op.backward(F, g, inputs, out, node.attrs, needs)
        if not retain_graph:
            node.saved, node.out = FREED, None
        for parent, gi in zip(needs, grads):
            if gi is None or parent is None:
                continue
            if type(parent) is Node:
                # dtype objects of one type are usually the same object: `is` skips numpy's comparison
                conforms = gi.shape == parent.shape and (gi.dtype is parent.dtype or gi.dtype == parent.dtype)
                if not conforms or anomaly:
                    gi = _conform(gi, node, parent, parent.shape, parent.dtype, F)
                if parent in pending:
                    pending[parent] = pending[parent] + gi
                else:
                    pending[parent] = gi
                    heapq.heappush(heap, (-parent.seq, parent))
            elif type(parent) is OutputEdge:
                _deliver_to_output(parent, _conform(gi, node, parent, parent.shape, parent.dtype, F), pending, heap)
            else:
                gi = _conform(gi, node, parent, parent._data.shape, parent._data.dtype, F)
                if parent in leaves:
                    leaves[parent] = leaves[parent] + gi
                else:
                    leaves[parent] = gi if graph_mode or _owned_exclusively(gi, g) else gi.copy()


def _store_leaf_gradients(leaves, graph_mode, targets, captured):
    """Step 3: run the leaves' hooks; accumulate into `.grad`, or capture the targets of `ag.grad`."""
    for leaf, g in leaves.items():
        if leaf._hooks:
            g = _run_hooks(leaf._hooks, g, graph_mode)
        if targets is not None:
            if leaf in targets:
                captured[leaf] = g
        elif leaf.grad is None:
            leaf.grad = g if graph_mode else Tensor(g)
        elif graph_mode or leaf.grad.requires_grad:
            leaf.grad = leaf.grad + g
        else:
            leaf.grad._data += g


def _nodes_leading_to(roots, targets):
    """The nodes (and their output edges) through which a gradient can reach one of `targets`."""
    stack = [r.node if type(r) is OutputEdge else r for r in roots if not isinstance(r, Tensor)]
    reachable = set(stack)
    while stack:
        for parent in stack.pop().parents:
            node = parent.node if type(parent) is OutputEdge else parent
            if isinstance(node, Node) and node not in reachable:
                reachable.add(node)
                stack.append(node)
    wanted = set(targets)
    for node in sorted(reachable, key=lambda n: n.seq):  # parents before the nodes that consume them
        if any(p in wanted for p in node.parents if p is not None):
            wanted.add(node)
            if type(node) is MultiOutputNode:
                wanted.update(node.edges)
    return wanted


def run_backward(
    roots: Sequence[Any],
    root_grads: Sequence[Any],
    retain_graph: bool = False,
    create_graph: bool = False,
    targets: set[Any] | None = None,
) -> dict[Any, Any]:
    """Propagate `root_grads` from `roots` (nodes, output edges or leaf tensors) to the leaves.

    Without `targets`, leaf gradients accumulate into `.grad`. With `targets` (nodes, output edges or
    leaf tensors), nothing accumulates: the gradient reaching each target is returned in a dict.
    """
    if state.tracer is not None:  # an ag.compile trace runs (and records) it: see compiler.tracer
        return state.tracer.backward(roots, root_grads, retain_graph, create_graph, targets)
    F = TENSOR_F if create_graph else ARRAY_F
    pending, leaves, heap = _seed(roots, root_grads, create_graph)
    wanted = _nodes_leading_to(roots, targets) if targets is not None else None
    captured: dict[Any, Any] = {}
    with set_grad_enabled(create_graph):
        _propagate(heap, pending, leaves, F, create_graph, retain_graph, wanted, targets, captured)
        _store_leaf_gradients(leaves, create_graph, targets, captured)
    return captured


# ---- the public entry points ----------------------------------------------------------------------


def _root_gradient(t, gradient, graph_mode, who):
    if gradient is None:
        if t._data.size != 1:
            raise RuntimeError(
                f"{who}: grad can be implicitly created only for scalar outputs, but the output has "
                f"shape {t.shape}; pass gradient= (grad_outputs=) of that shape"
            )
        g = np.ones(t.shape, dtype=t.dtype)
    elif isinstance(gradient, Tensor):
        g = gradient if graph_mode else gradient._data
    else:
        try:
            g = np.asarray(gradient, dtype=t.dtype)
        except (ValueError, TypeError):
            raise TypeError(
                f"{who}: the gradient must be a Tensor, array or number of shape {t.shape}, got "
                f"{type(gradient).__name__} {gradient!r:.60}"
            ) from None
    if tuple(np.shape(g)) != t.shape:
        raise RuntimeError(f"{who}: gradient has shape {tuple(np.shape(g))} but the output has shape {t.shape}")
    if graph_mode and not isinstance(g, Tensor):
        g = Tensor(g)
    return g


def _root(t, who):
    if not isinstance(t, Tensor):
        raise TypeError(f"{who}: expected Tensors, got {type(t).__name__}")
    if not t.requires_grad:
        raise RuntimeError(
            f"{who}: the tensor of shape {t.shape} does not require grad and has no grad_fn; "
            "create its inputs with requires_grad=True (or call .requires_grad_()) before the ops "
            "you want to differentiate, and not under no_grad()"
        )
    return t._gradient_target()


def _roots_and_gradients(outputs, gradients, create_graph, who):
    """The normalisation `backward` and `grad` share: outputs as a tuple, their roots for the engine,
    and one gradient per output (ones for a scalar output given none)."""
    single = isinstance(outputs, Tensor)
    outputs = (outputs,) if single else tuple(outputs)
    if gradients is None:
        gradients = (None,) * len(outputs)
    elif single or isinstance(gradients, (Tensor, np.ndarray)):
        gradients = (gradients,)
    if len(gradients) != len(outputs):
        raise ValueError(f"{who}: {len(outputs)} outputs but {len(gradients)} gradients")
    roots = [_root(t, who) for t in outputs]
    return roots, [_root_gradient(t, g, create_graph, who) for t, g in zip(outputs, gradients)]


def backward(
    tensors: Tensor | Sequence[Tensor],
    grad_tensors: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
) -> None:
    """Accumulate into the leaves' `.grad` the gradients of `tensors` (weighted by `grad_tensors`)."""
    roots, grads = _roots_and_gradients(tensors, grad_tensors, create_graph, "backward")
    run_backward(
        roots, grads, retain_graph=create_graph if retain_graph is None else retain_graph, create_graph=create_graph
    )


install_reverse_pass(backward)


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple[Tensor | None, ...]:
    """Gradients of `outputs` with respect to `inputs`, returned as a tuple (nothing accumulates in .grad)."""
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    for x in inputs:
        if not isinstance(x, Tensor) or not x.requires_grad:
            raise RuntimeError(
                "grad: every input must be a Tensor that requires grad; got "
                + (f"a tensor of shape {x.shape} that does not" if isinstance(x, Tensor) else type(x).__name__)
            )
    roots, grads = _roots_and_gradients(outputs, grad_outputs, create_graph, "grad")
    targets = [x._gradient_target() for x in inputs]
    captured = run_backward(
        roots,
        grads,
        retain_graph=create_graph if retain_graph is None else retain_graph,
        create_graph=create_graph,
        targets=set(targets),
    )
    results = []
    for x, target in zip(inputs, targets):
        g = captured.get(target)
        if g is None and not allow_unused:
            raise RuntimeError(
                f"grad: an input of shape {x.shape} was not used to compute the outputs; "
                "pass allow_unused=True to get None for it"
            )
        results.append(None if g is None else g if isinstance(g, Tensor) else Tensor(g))
    return tuple(results)
