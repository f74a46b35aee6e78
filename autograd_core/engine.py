"""The graph engine: nodes recorded as ops run, and the reverse pass over them.

Every op goes through `apply`, which runs the forward on arrays and, when grad
mode is on and an input requires grad, records a `Node`. `backward` walks the
nodes in reverse topological order (dependency counts, an explicit stack: no
recursion), sums the gradients that reach a node along several paths, reduces
broadcast dimensions, checks that saved tensors were not modified in place,
and frees saved buffers as it goes.

Nodes hold their parents, never their children, and tensors hold their node;
nothing points back, so dropping the loss frees the graph by reference
counting alone.
"""
import functools
import heapq
import itertools
import threading
import traceback

import numpy as np

from .ops import ARRAY_F, REGISTRY, Namespace
from .tensor import Tensor


# ---- thread-local state: grad mode, module scope, anomaly mode --------------------------------

class _State(threading.local):
    def __init__(self):
        self.grad_enabled = True
        self.scope = ()
        self.anomaly = False


_state = _State()


def is_grad_enabled():
    return _state.grad_enabled


class _Setting:
    """A context manager that sets one field of the thread-local state for its block (re-entrant);
    also a decorator."""

    field = "grad_enabled"
    value = True

    def __init__(self):
        self.previous = []

    def __enter__(self):
        self.previous.append(getattr(_state, self.field))
        setattr(_state, self.field, self.value)

    def __exit__(self, *exc):
        setattr(_state, self.field, self.previous.pop())

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)
        return wrapper


class no_grad(_Setting):
    """Disable graph recording: `with ag.no_grad():` or `@ag.no_grad()`."""

    value = False


class enable_grad(_Setting):
    """Re-enable graph recording inside a `no_grad` block."""


class detect_anomaly(_Setting):
    """Record where each op was created; a NaN or Inf produced in backward raises, naming the op and
    quoting that forward stack."""

    field = "anomaly"


class set_grad_enabled:
    """Set grad mode now (as a call) or for a block (as a context manager), as PyTorch does."""

    def __init__(self, mode):
        self.previous = _state.grad_enabled
        _state.grad_enabled = bool(mode)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _state.grad_enabled = self.previous


class module_scope:
    """Stamp every node recorded inside with `name` (nn.Module.__call__ pushes its module's path).

    A slotted class rather than a generator-based context manager: it runs on every module call."""

    __slots__ = ("name", "previous")

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        self.previous = _state.scope
        _state.scope = self.previous + (self.name,)

    def __exit__(self, *exc):
        _state.scope = self.previous


# ---- nodes ---------------------------------------------------------------------------------

class Node:
    """The record of one op application: what backward needs to send gradients to the parents.

    `parents[i]` is the node that made input i, the leaf tensor itself, or None (no grad needed).
    `saved` holds the input arrays and `out` the output array (when the op's VJP uses it);
    both are freed after backward unless retain_graph. `checks` is a flat list
    [version counter, version at save, ...] of the saved tensors, the output's last.
    """

    __slots__ = ("op", "parents", "saved", "out", "attrs", "shape", "dtype", "checks", "hooks",
                 "scope", "trace", "seq", "__weakref__")

    def __init__(self, op, parents, saved, out, attrs, shape, dtype, checks, scope):
        # Creation order: a node's consumers are always created after it, so visiting nodes by decreasing
        # seq is a topological order of the reverse pass (no dependency counting needed).
        self.seq = next(_sequence)
        self.op = op
        self.parents = parents
        self.saved = saved
        self.out = out
        self.attrs = attrs
        self.shape = shape
        self.dtype = dtype
        self.checks = checks
        self.hooks = None
        self.scope = scope
        self.trace = None

    @property
    def name(self):
        return self.op.name

    @property
    def next_functions(self):
        return tuple((AccumulateGrad(p) if isinstance(p, Tensor) else p, 0) for p in self.parents)

    def register_prehook(self, hook):
        """Run `hook(grad)` on the gradient arriving at this node; it may return a replacement."""
        if self.hooks is None:
            self.hooks = []
        self.hooks.append(hook)
        return RemovableHandle(self.hooks, hook)

    def __repr__(self):
        return f"<{self.name} node, output shape {self.shape}>"


class AccumulateGrad:
    """Stands for a leaf in `next_functions`, as in PyTorch."""

    __slots__ = ("variable",)
    name = "AccumulateGrad"
    next_functions = ()

    def __init__(self, variable):
        self.variable = variable

    def __eq__(self, other):
        return isinstance(other, AccumulateGrad) and other.variable is self.variable

    def __hash__(self):
        return id(self.variable)


class RemovableHandle:
    __slots__ = ("hooks", "hook")

    def __init__(self, hooks, hook):
        self.hooks, self.hook = hooks, hook

    def remove(self):
        if self.hook in self.hooks:
            self.hooks.remove(self.hook)


_FREED = "freed"
_sequence = itertools.count()


# ---- forward: the one door every op goes through ----------------------------------------------

_CONSTANT_TYPES = (np.ndarray, np.generic, float, int)


def _forward_error(op, arrays, exc):
    kind = IndexError if isinstance(exc, IndexError) else TypeError if isinstance(exc, TypeError) else ValueError
    shapes = " and ".join(str(np.shape(a)) for a in arrays)
    return kind(f"{op.name}: invalid input ({'shapes' if len(arrays) > 1 else 'shape'} {shapes}): {exc}")


def apply(op, *inputs, **attrs):
    """Run `op` on Tensors/constants; record a node when grad mode is on and an input requires grad."""
    arrays = []
    recording = False
    for x in inputs:
        if isinstance(x, Tensor):
            arrays.append(x.data)
            if x.requires_grad:
                recording = True
        elif isinstance(x, _CONSTANT_TYPES):
            arrays.append(x)
        else:
            raise TypeError(f"{op.name}: expected a Tensor, numpy array or number, got {type(x).__name__}")
    try:
        out = op.forward(*arrays, **attrs)
    except (ValueError, TypeError, IndexError) as exc:
        raise _forward_error(op, arrays, exc) from None
    if type(out) is not np.ndarray:
        out = np.asarray(out)
    if recording and _state.grad_enabled:
        return record(op, inputs, arrays, out, attrs)
    result = Tensor(out)
    if op.is_view and out.base is not None:
        result._share_version_with(inputs[0])
    return result


def record(op, inputs, arrays, out, attrs):
    """The output Tensor of `op`, with the node that lets backward reach `inputs`."""
    parents = []
    checks = []
    for x in inputs:
        if not isinstance(x, Tensor):
            parents.append(None)
            continue
        if x._base is not None and x._vc[1] != x._view_rebase:
            raise RuntimeError(
                f"{op.name}: an input of shape {x.shape} is a view of a tensor that was later modified in "
                "place by a recorded op, so its recorded history is stale; take the view again after the "
                "in-place op, or use .clone()")
        parents.append(x.grad_fn if x.grad_fn is not None else x if x.requires_grad else None)
        if op.uses_input_values:
            checks += (x._vc, x._vc[0])
    result = Tensor(out, True)
    if op.saves_output:
        checks += (result._vc, 0)
        node = Node(op, parents, arrays, out, attrs, out.shape, out.dtype, checks, _state.scope)
    else:
        node = Node(op, parents, arrays, None, attrs, out.shape, out.dtype, checks, _state.scope)
    if _state.anomaly:
        node.trace = traceback.format_stack()[:-3]
    result.grad_fn = node
    if op.is_view and out.base is not None:
        result._share_version_with(inputs[0])
    return result


# ---- backward ------------------------------------------------------------------------------

class _TensorNamespace(Namespace):
    """`F` for create_graph: every registered op, recorded."""

    def __getattr__(self, name):
        op = REGISTRY[name]

        def recorded(*args, **attrs):
            return apply(op, *args, **attrs)

        setattr(self, name, recorded)
        return recorded


TENSOR_F = _TensorNamespace()


def unbroadcast(F, g, shape):
    """Sum `g` over the dimensions that broadcasting added or stretched, giving `shape`."""
    extra = g.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(i + extra for i, n in enumerate(shape) if n == 1 and g.shape[i + extra] != 1)
    if axes:
        g = F.sum(g, axis=axes, keepdims=False)
    return F.reshape(g, shape=shape) if g.shape != shape else g


def _needed(roots, targets):
    """The nodes through which a gradient can reach one of `targets` (so `grad` computes only those)."""
    stack = [r for r in roots if isinstance(r, Node)]
    reachable = set(stack)
    while stack:
        for parent in stack.pop().parents:
            if isinstance(parent, Node) and parent not in reachable:
                reachable.add(parent)
                stack.append(parent)
    needed = set(targets)
    for node in sorted(reachable, key=lambda n: n.seq):  # parents before the nodes that consume them
        if any(p in needed for p in node.parents if p is not None):
            needed.add(node)
    return needed


def _check_saved(node):
    if node.saved is _FREED:
        raise RuntimeError(
            f"Trying to backward through the graph a second time: the buffers saved by '{node.name}' were freed "
            "by the first backward. Pass retain_graph=True to the first backward() or ag.grad() call if you need "
            "to backward through the graph again.")
    checks = node.checks
    for k in range(0, len(checks), 2):
        counter, version = checks[k], checks[k + 1]
        if counter[0] != version:
            what = "its output" if node.op.saves_output and k == len(checks) - 2 else "an input"
            raise RuntimeError(
                f"{node.name}: {what} (saved for backward; output shape {node.shape}) was modified by an in-place "
                f"operation after the forward pass (version {version} -> {counter[0]}), so its gradient would be "
                "wrong. Use an out-of-place op, or .clone() the tensor before modifying it.")


def _graph_inputs(node):
    """The saved inputs as Tensors attached to the graph, so formulas under create_graph are recorded."""
    values = []
    for array, parent in zip(node.saved, node.parents):
        if isinstance(parent, Tensor):
            values.append(parent)
        elif isinstance(parent, Node):
            values.append(Tensor(array, requires_grad=True, grad_fn=parent))
        else:
            values.append(Tensor(array) if isinstance(array, np.ndarray) else array)
    out = Tensor(node.out, requires_grad=True, grad_fn=node) if node.out is not None else None
    return values, out


def _as_tensor(g):
    return g if isinstance(g, Tensor) else Tensor(g)


def _run_hooks(hooks, g, graph_mode):
    for hook in hooks:
        replaced = hook(_as_tensor(g))
        if replaced is not None:
            g = replaced if graph_mode else np.asarray(replaced.data if isinstance(replaced, Tensor) else replaced)
    return g


def _finish(g, node, parent, shape, dtype, F):
    """Reduce broadcast dims, cast, and validate one input gradient; the one place this happens
    (the backward loop calls it only when the shape or dtype differs, or in anomaly mode)."""
    if g.shape != shape:
        try:
            g = unbroadcast(F, g, shape)
        except (ValueError, IndexError):
            raise RuntimeError(f"{node.name}: backward produced a gradient of shape {g.shape} for input "
                               f"{node.parents.index(parent)} of shape {shape}") from None
    if g.dtype != dtype:
        g = F.astype(g, dtype=dtype)
    if _state.anomaly and not np.all(np.isfinite(g.data if isinstance(g, Tensor) else g)):
        where = "".join(node.trace or ["(no forward trace: the node was created outside detect_anomaly)\n"])
        raise RuntimeError(f"Function '{node.name}' returned nan or inf values in its gradient for input "
                           f"{node.parents.index(parent)}. "
                           f"The forward call that created it:\n{where}")
    return g


def _fresh(g, incoming):
    """Whether leaf accumulation may keep `g` as is: an array no other gradient or tensor shares."""
    return g is not incoming and g.base is None and g.flags.writeable


def run_backward(roots, root_grads, retain_graph=False, create_graph=False, targets=None):
    """Propagate `root_grads` from `roots` (nodes or leaf tensors) to the leaves.

    Without `targets`, leaf gradients accumulate into `.grad`. With `targets` (nodes or leaf
    tensors), nothing accumulates: the gradient reaching each target is returned in a dict.
    """
    graph_mode = create_graph
    F = TENSOR_F if graph_mode else ARRAY_F
    anomaly = _state.anomaly
    needed = _needed(roots, targets) if targets is not None else None
    pending = {}
    leaves = {}
    heap = []
    for root, g in zip(roots, root_grads):
        if isinstance(root, Tensor):
            leaves[root] = leaves[root] + g if root in leaves else g if graph_mode else np.array(g)
        elif root in pending:
            pending[root] = pending[root] + g
        else:
            pending[root] = g
            heap.append((-root.seq, root))
    heapq.heapify(heap)
    captured = {}

    with set_grad_enabled(graph_mode):
        while heap:
            node = heapq.heappop(heap)[1]
            g = pending.pop(node)
            if node.hooks:
                g = _run_hooks(node.hooks, g, graph_mode)
            if needed is None:
                needs = node.parents
            else:
                if node in targets:
                    captured[node] = g
                if node not in needed:
                    continue
                needs = [p if p in needed else None for p in node.parents]
            checks = node.checks
            if node.saved is _FREED or checks and (len(checks) > 2 or checks[0][0] != checks[1]):
                _check_saved(node)
            if graph_mode:
                inputs, out = _graph_inputs(node)
            else:
                inputs, out = node.saved, node.out
            grads = node.op.backward(F, g, inputs, out, node.attrs, needs)
            if not retain_graph:
                node.saved, node.out = _FREED, None
            for parent, gi in zip(needs, grads):
                if gi is None or parent is None:
                    continue
                if type(parent) is Node:
                    # dtype objects of one type are usually the same object: `is` skips numpy's comparison
                    if gi.shape != parent.shape or gi.dtype is not parent.dtype and gi.dtype != parent.dtype or anomaly:
                        gi = _finish(gi, node, parent, parent.shape, parent.dtype, F)
                    if parent in pending:
                        pending[parent] = pending[parent] + gi
                    else:
                        pending[parent] = gi
                        heapq.heappush(heap, (-parent.seq, parent))
                else:
                    gi = _finish(gi, node, parent, parent.data.shape, parent.data.dtype, F)
                    if parent in leaves:
                        leaves[parent] = leaves[parent] + gi
                    else:
                        leaves[parent] = gi if graph_mode or _fresh(gi, g) else gi.copy()

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
                leaf.grad.data += g
    return captured


def _root_gradient(t, gradient, graph_mode, who):
    if gradient is None:
        if t.data.size != 1:
            raise RuntimeError(f"{who}: grad can be implicitly created only for scalar outputs, but the output has "
                               f"shape {t.shape}; pass gradient= (grad_outputs=) of that shape")
        g = np.ones(t.shape, dtype=t.dtype)
    elif isinstance(gradient, Tensor):
        g = gradient if graph_mode else gradient.data
    else:
        g = np.asarray(gradient, dtype=t.dtype)
    if tuple(np.shape(g)) != t.shape:
        raise RuntimeError(f"{who}: gradient has shape {tuple(np.shape(g))} but the output has shape {t.shape}")
    if graph_mode and not isinstance(g, Tensor):
        g = Tensor(g)
    return g


def _root(t, who):
    if not isinstance(t, Tensor):
        raise TypeError(f"{who}: expected Tensors, got {type(t).__name__}")
    if not t.requires_grad:
        raise RuntimeError(f"{who}: the tensor of shape {t.shape} does not require grad and has no grad_fn; "
                           "create its inputs with requires_grad=True (or call .requires_grad_()) before the ops "
                           "you want to differentiate, and not under no_grad()")
    return t.grad_fn if t.grad_fn is not None else t


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False):
    """Accumulate into the leaves' `.grad` the gradients of `tensors` (weighted by `grad_tensors`)."""
    tensors = (tensors,) if isinstance(tensors, Tensor) else tuple(tensors)
    if grad_tensors is None or isinstance(grad_tensors, (Tensor, np.ndarray)):
        grad_tensors = (grad_tensors,) * len(tensors) if grad_tensors is None else (grad_tensors,)
    roots = [_root(t, "backward") for t in tensors]
    grads = [_root_gradient(t, g, create_graph, "backward") for t, g in zip(tensors, grad_tensors)]
    run_backward(roots, grads, retain_graph=create_graph if retain_graph is None else retain_graph,
                 create_graph=create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=False):
    """Gradients of `outputs` with respect to `inputs`, returned as a tuple (nothing accumulates in .grad)."""
    outputs = (outputs,) if isinstance(outputs, Tensor) else tuple(outputs)
    single_input = isinstance(inputs, Tensor)
    inputs = (inputs,) if single_input else tuple(inputs)
    if grad_outputs is None or isinstance(grad_outputs, (Tensor, np.ndarray)):
        grad_outputs = (grad_outputs,) * len(outputs) if grad_outputs is None else (grad_outputs,)
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad: {len(outputs)} outputs but {len(grad_outputs)} grad_outputs")
    for x in inputs:
        if not isinstance(x, Tensor) or not x.requires_grad:
            raise RuntimeError("grad: every input must be a Tensor that requires grad; got "
                               + (f"a tensor of shape {x.shape} that does not" if isinstance(x, Tensor)
                                  else type(x).__name__))
    roots = [_root(t, "grad") for t in outputs]
    grads = [_root_gradient(t, g, create_graph, "grad") for t, g in zip(outputs, grad_outputs)]
    keys = [x.grad_fn if x.grad_fn is not None else x for x in inputs]
    captured = run_backward(roots, grads, retain_graph=create_graph if retain_graph is None else retain_graph,
                            create_graph=create_graph, targets=set(keys))
    results = []
    for x, key in zip(inputs, keys):
        g = captured.get(key)
        if g is None:
            if not allow_unused:
                raise RuntimeError(f"grad: an input of shape {x.shape} was not used to compute the outputs; "
                                   "pass allow_unused=True to get None for it")
            results.append(None)
        else:
            results.append(g if isinstance(g, Tensor) else Tensor(g))
    return tuple(results)
