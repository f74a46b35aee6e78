"""Recording one eager call of a function as a `Program`.

The tracer only watches: the call runs exactly as it would without it (so the first call's results
are eager's), and the library's hook points report to it while `graph.state.tracer` is set:
`tensor.apply` (every op, forward and, through the engine's create-graph formulas, backward),
`Tensor._inplace` (in-place writes), the value reads (`item()`, `bool(t)`, `.numpy()`, `np.asarray(t)`),
`engine.run_backward` (which it runs itself, see `backward`), the random constructors, the calls it
replays as they are (`optimizer.step()`...), `module_scope` (which modules ran, for their `training`
guards) and the hooks.

Values are identified by their numpy array: the value an op reads is the number of the array object
it receives (every array seen is kept alive while tracing, so an id is never reused). An array not
made inside the trace belongs to a tensor that lives across calls (a parameter, a buffer, an input)
and is read through that tensor on every run.

What the tracer cannot replay faithfully it reports with `poison(reason)`: the function then runs
eagerly on every call (one warning naming the reason and the line), or, with `fullgraph=True`, the
call raises `CompileError` there.
"""

from __future__ import annotations

import functools
import gc
import os
import sys
from types import FrameType
from typing import Any

import numpy as np

from ..graph import Node, OutputEdge, SavedShape, no_grad, state
from ..ops import Namespace
from ..tensor import Tensor
from . import program as P
from .fusion import FUSABLE_OPS


class CompileError(RuntimeError):
    """`ag.compile(..., fullgraph=True)` met something it cannot compile."""


def user_location(code: Any = None) -> str:
    """file:line of the innermost frame that is the traced function's (`code`) or outside autograd_core,
    nn and optim: the user's line."""
    library = _library_roots()
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        filename = os.path.abspath(frame.f_code.co_filename)
        if frame.f_code is code or not filename.startswith(library):
            return f"{frame.f_code.co_filename}:{frame.f_lineno}"
        frame = frame.f_back
    return "<unknown line>"


def _library_roots():
    import autograd_core

    root = os.path.dirname(os.path.dirname(os.path.abspath(autograd_core.__file__)))
    return tuple(os.path.join(root, name) + os.sep for name in ("autograd_core", "nn", "optim"))


class Tracer:
    def __init__(self, fullgraph: bool, fuse: bool = True, code: Any = None):
        self.fullgraph = fullgraph
        self.code = code  # the traced function's code object: its lines are the user's
        self.fuse = fuse
        self.instructions: list[P.Instruction] = []
        self.value_of: dict[int, int] = {}  # id(array) -> value number
        self.alive: list[Any] = []  # every array and tensor seen, so that no id is reused while tracing
        self.labels: dict[int, tuple[tuple[int, ...], np.dtype]] = {}
        self.layouts: dict[int, str] = {}  # value -> "single", "C" or "strided" (what the fused loops can read)
        self.count = 0
        self.poisoned: tuple[str, str] | None = None
        self.paused = 0
        self.exported = False  # a tensor's array was handed to numpy (np.asarray): see `_constant`
        self.modules: dict[int, Any] = {}
        self.states: dict[int, Tensor] = {}  # id(tensor) -> tensor read as state
        self.input_index: dict[int, int] = {}  # id(input tensor) -> position among the arguments' tensors
        self.input_aliases: list[tuple[int, int]] = []  # (k, j): argument k holds the same array as argument j < k
        self.constants: dict[int, P.Constant] = {}  # id(array owning the memory) -> its Constant instruction
        self.value_guards: list[tuple[P.Program, Any, bool]] = []  # see `value_guard`
        self.input_of_memory: dict[int, int] = {}  # id(array owning an argument's memory) -> the argument
        self.inputs_written: set[int] = set()  # the arguments whose memory an in-place write reached
        self.fresh: set[int] = set()  # values that are an op's new array (not a view, not an input)
        self.backward_ran = False
        self.owner_of_array, self.leaf_of_grad, self.grads = _existing_tensors()
        self.alive.append((self.owner_of_array, self.leaf_of_grad))

    # ---- values ----

    def _new_value(self, array):
        value = self.count
        self.count += 1
        self.value_of[id(array)] = value
        self.alive.append(array)
        if isinstance(array, np.ndarray):
            self.labels[value] = (array.shape, array.dtype)
            self.layouts[value] = _layout(array)
        return value

    def add_inputs(self, tensors):
        first_with_array: dict[int, int] = {}
        for k, t in enumerate(tensors):
            self.input_index.setdefault(id(t), k)
            j = first_with_array.setdefault(id(t._data), k)
            if j != k:  # the program reads the array once, through argument j: a guard keeps them one array
                self.input_aliases.append((k, j))
            elif id(t._data) not in self.value_of:
                self.input_of_memory[id(_memory(t._data))] = k
                value = self._new_value(t._data)
                self.instructions.append(P.ReadTensor(value, ("input", k), f"input {k}"))

    def value(self, tensor: Tensor) -> int:
        """The value number of a Tensor's array (see `_array_value`)."""
        return self._array_value(tensor._data, "an op")

    def _array_value(self, array, who):
        """The value number of an array. An array first seen here belongs either to a tensor that
        existed before the call (read through that tensor on every run; through its leaf when it is a
        leaf's `.grad`, which backward and zero_grad replace) or was made inside the function (a
        constant of the trace, see `_constant`)."""
        value = self.value_of.get(id(array))
        if value is not None:
            return value
        owner = self.owner_of_array.get(id(array))
        if owner is None:
            return self._constant(array, who)
        leaf = self.leaf_of_grad.get(id(owner))
        if leaf is not None:
            where, label = ("grad", leaf), f"grad of state {tuple(leaf.shape)}"
            self.states[id(leaf)] = leaf
        else:
            where, label = ("state", owner), f"state {tuple(array.shape)}"
            self.states[id(owner)] = owner
        value = self._new_value(array)
        self.instructions.append(P.ReadTensor(value, where, label))
        return value

    def _constant(self, array, who):
        """An array not made in the trace and not a tensor's: fixed (a shape-derived index, a mask from
        Python data), unless it is a numpy view of a tensor's values (`np.broadcast_to(mask._data)`), or
        tensor values went to numpy earlier in the trace, when it may be made of them and the trace
        cannot prove it is not."""
        value = self.value_of.get(id(array))
        if value is not None:
            return value
        memory = _memory(array)
        if memory is not array and (
            id(memory) in self.owner_of_array or (id(memory) in self.value_of and id(memory) not in self.constants)
        ):
            self.poison(
                f"{who} received a numpy view of a tensor's values made outside the graph; the program "
                "would keep the first call's values"
            )
        if self.exported:
            self.poison(
                f"{who} received a numpy array made outside the graph after a tensor's values were "
                "taken with np.asarray; the compiler cannot tell whether it depends on them"
            )
        value = self._new_value(array)
        # a snapshot: the call may write into the array later (`acc += loss`), and every run starts from here
        instruction = P.Constant(value, array.copy() if array.flags.writeable else array)
        self.constants[id(_memory(array))] = instruction
        self.instructions.append(instruction)
        return value

    def _template(self, obj, who):
        """`obj` (an op attribute, an argument) with its arrays and tensors as value slots."""
        if isinstance(obj, Tensor):
            return P._Slot(self.value(obj))
        if type(obj) is np.ndarray:
            return P._Slot(self._array_value(obj, who))
        if type(obj) in (tuple, list):
            parts = [self._template(o, who) for o in obj]
            return tuple(parts) if type(obj) is tuple else parts
        if type(obj) is dict:
            return {k: self._template(v, who) for k, v in obj.items()}
        return obj

    # ---- what the hook points report ----

    def op(self, op, inputs, attrs, raw, result):
        if self.paused:
            return
        args = []
        for x in inputs:
            if isinstance(x, Tensor):
                args.append(P._Slot(self.value(x)))
            elif type(x) is np.ndarray:
                args.append(P._Slot(self._array_value(x, op.name)))
            else:
                if self.exported and isinstance(x, np.generic):  # a numpy number: maybe a reduction of them
                    self.poison(
                        f"{op.name} received a numpy number after a tensor's values were taken with np.asarray; "
                        "the compiler cannot tell whether it depends on them"
                    )
                args.append(x)
        template = self._template(attrs, op.name)
        slots = list(P._values_in(template))
        attrs_arg = P.AttrTemplate(template, slots) if slots else attrs
        results = result if type(result) is tuple else (result,)
        raws = raw if type(raw) is tuple else (raw,)
        input_arrays = {id(x._data) for x in inputs if isinstance(x, Tensor)}
        outs = []
        for r in results:
            outs.append(self._new_value(r._data))
            if r._data.base is None and id(r._data) not in input_arrays:
                self.fresh.add(outs[-1])
        casts = [
            None if (type(w) is np.ndarray and w.dtype == r.dtype) or type(w) is not np.ndarray else r.dtype
            for w, r in zip(raws, results)
        ]
        wraps = [type(w) is not np.ndarray for w in raws]
        self.instructions.append(P.OpCall(op, args, attrs_arg, outs, casts, wraps))
        if op.name == "getitem":
            index = attrs["index"]
            for part in index if type(index) is tuple else (index,):
                if type(part) is np.ndarray and part.dtype == np.bool_ and id(_memory(part)) not in self.constants:
                    self.value_guard(
                        self.value_of[id(part)],
                        functools.partial(_counts, np.count_nonzero(part)),
                        True,
                        "indexing with a boolean mask (the result's shape depends on its values)",
                    )

    def computed(self, fn, args, kwargs, out):
        """A numpy computation outside the graph made a tensor (`tensor._computed`)."""
        if not self.paused:
            template = self._template((args, kwargs), getattr(fn, "__name__", "a numpy call"))
            self.instructions.append(P.ArrayCall(fn, template, self._new_value(out)))
            self.fresh.add(self.count - 1)

    def copied(self, source_array, copy):
        if not self.paused:
            source = self._array_value(source_array, "a copy")
            self.instructions.append(P.CopyValue(source, self._new_value(copy)))

    def assigned(self, target: Tensor, value_array, casting):
        """`target`'s array was written in place with `value_array` (np.copyto)."""
        if self.paused:
            return
        target_value = self.value(target)
        memory = id(_memory(target._data))
        if memory in self.input_of_memory:
            self.inputs_written.add(self.input_of_memory[memory])
        constant = self.constants.get(memory)
        if constant is not None:  # a constant (or a view of one) written in place: each run writes into a fresh copy
            constant.copied = True
        value = self.value_of.get(id(value_array))
        if value is None:
            value = self._array_value(value_array, "an in-place write")
        after = self.count
        self.count += 1
        self.value_of[id(target._data)] = after
        self.labels[after] = (target._data.shape, target._data.dtype)
        self.instructions.append(P.Assign(target_value, value, casting, after))

    def values_read(self, tensor, what):
        """Python reads a tensor's values (`item()`, `bool(t)`...): the trace cannot replay a choice made on them."""
        if not self.paused:
            self.poison(f"{what} reads a tensor's values in Python")

    def array_taken(self, tensor):
        """`np.asarray(t)`: the array itself is fine where it reaches an op; anything computed from it is not."""
        if not self.paused:
            self.exported = True

    def saw_module(self, module):
        if not self.paused:
            self.modules[id(module)] = module

    def random_call(self, fn, args, kwargs):
        self.paused += 1
        try:
            result = fn(*args, **kwargs)
        finally:
            self.paused -= 1
        if not self.paused:
            template = self._template((args, kwargs), fn.__name__)
            out = self._new_value(result._data)
            self.instructions.append(P.RandomCall(fn, template[0], template[1], out))
        return result

    def replayed_call(self, fn, args, kwargs, label):
        if any(isinstance(a, Tensor) or callable(a) for a in (*args, *kwargs.values())):
            self.poison(f"{label} is given a tensor or a function (a closure is not replayed)")
        outermost = not self.paused
        if outermost:
            self.sync_grads()  # a gradient assigned before the call (`p.grad = None`) is seen by it
        self.paused += 1
        try:
            result = fn(*args, **kwargs)
        finally:
            self.paused -= 1
        if outermost:
            self.instructions.append(P.Call(fn, tuple(args), dict(kwargs), label))
            self.grads_replayed()
        return result

    def value_guard(self, value, predicate, result, who):
        """Library code chose a path by `predicate(array of value)` (cross_entropy's fused case, the
        shape of `x[mask]`): the program replays only while the predicate gives `result` again. The
        guard computes the value again from the arguments before the program runs (the instructions it
        came from: a reshape, a slice of an argument...), so it must come from arguments, tensors held
        across calls (read as they are when the call starts) and constants, by ops, with no argument
        written in place before; values of constants alone need no guard."""
        if self.paused:
            return
        made_by = {v: instruction for instruction in self.instructions for v in instruction.writes}
        needed, stack, reads_input = set(), [value], False
        while stack:
            v = stack.pop()
            instruction = made_by[v]
            if instruction in needed:
                continue
            needed.add(instruction)
            if type(instruction) is P.ReadTensor and (
                (instruction.where[0] == "input" and instruction.where[1] not in self.inputs_written)
                or instruction.where[0] == "state"  # a tensor held across calls (labels in a closure)
            ):
                reads_input = True
            elif type(instruction) in (P.OpCall, P.ArrayCall):
                stack.extend(instruction.reads)
            elif type(instruction) is not P.Constant:
                self.poison(f"{who} reads the values of a tensor that is not computed from the arguments alone")
                return
        if reads_input:
            slice_ = [i for i in self.instructions if i in needed]
            self.value_guards.append((P.Program(slice_, [value], {}), predicate, result))

    # ---- gradients assigned in Python ----

    def sync_grads(self):
        """Record the `.grad` assignments made in Python since the last look (`p.grad = None`,
        `p.grad = g`): compared, for every leaf that requires grad, with the gradient the trace last
        knew. Called before what reads gradients (backward, a replayed call) and at the end."""
        if self.paused or state.tracer is not self:
            return
        for key, (leaf, known) in list(self.grads.items()):
            grad = leaf.grad
            if grad is known:
                continue
            self.grads[key] = (leaf, grad)
            value = None
            if grad is not None:
                value = self.value(grad)
                for constant in self.constants.values():
                    if constant.writes[0] == value:
                        constant.copied = True  # `.grad` may be added to in place: a fresh array each run
            self.instructions.append(P.SetGrad(self._leaf_ref(leaf), f"leaf {tuple(leaf.shape)}", value))

    def grads_replayed(self):
        """A replayed call changed gradients itself (zero_grad): the program's call will do it again."""
        for key, (leaf, _) in self.grads.items():
            self.grads[key] = (leaf, leaf.grad)

    def _leaf_ref(self, leaf):
        index = self.input_index.get(id(leaf))
        if index is not None:
            return ("input", index)
        self.states[id(leaf)] = leaf
        return ("state", leaf)

    def poison(self, reason):
        if self.poisoned is not None:
            return
        where = user_location(self.code)
        if self.fullgraph:
            raise CompileError(f"ag.compile(fullgraph=True): {reason} (at {where})")
        self.poisoned = (reason, where)
        state.tracer = None  # the rest of the call runs as plain eager code

    # ---- backward ----

    def backward(self, roots, root_grads, retain_graph, create_graph, targets):
        """Eager backward, run through the create-graph formulas (so every op of it is recorded) with
        grad recording off; leaf gradients are stored as the fast path stores them."""
        from ..engine import (
            _nodes_leading_to,
            _propagate,
            _run_hooks,
            _seed,
            _store_leaf_gradients,
            run_backward,
        )

        if create_graph:
            self.poison("backward(create_graph=True) is not compiled")
            return run_backward(roots, root_grads, retain_graph, create_graph, targets)
        if state.anomaly:
            self.poison("detect_anomaly() checks values in Python")
            return run_backward(roots, root_grads, retain_graph, create_graph, targets)
        self.backward_ran = True
        self.sync_grads()
        grads = [self._as_tensor(g) for g in root_grads]
        pending, leaves, heap = _seed(roots, grads, True)
        wanted = _nodes_leading_to(roots, targets) if targets is not None else None
        captured: dict[Any, Any] = {}
        with no_grad():
            _propagate(heap, pending, leaves, _TracingF(self), True, retain_graph, wanted, targets, captured)
            if targets is not None:
                _store_leaf_gradients(leaves, True, targets, captured)
                return captured
            for leaf, g in leaves.items():
                if leaf._hooks:
                    g = _run_hooks(leaf._hooks, g, True)  # the engine reports the hook: this call turns eager
                self.store_grad(leaf, g)
        return captured

    def fast_vjp(self, op, g, inputs, out, attrs, needs):
        """An op's fused VJP kernel (`Op.fast_backward`), run on the arrays and recorded as one step; None
        for the elementwise ops that fusion handles, whose formulas are recorded op by op instead."""
        if self.fuse and op.name in FUSABLE_OPS:
            return None
        g_arrays = [None if x is None else x._data for x in g] if type(g) is list else g._data
        input_arrays = [_plain(x) for x in inputs]
        out_arrays = None if out is None else tuple(o._data for o in out) if type(out) is tuple else out._data
        wanted = tuple(None if n is None else True for n in needs)
        grads = op.fast_backward(g_arrays, input_arrays, out_arrays, attrs, wanted)
        if state.tracer is not self:
            return [None if gi is None else Tensor(gi) for gi in grads]
        template = self._template((g_arrays, input_arrays, out_arrays, attrs), op.name)
        outs = []
        for gi in grads:
            if gi is None:
                outs.append(None)
                continue
            fresh = id(gi) not in self.value_of and gi.base is None
            outs.append(self._new_value(gi))
            if fresh:
                self.fresh.add(outs[-1])
        self.instructions.append(P.VjpCall(op, template, wanted, outs))
        return [None if gi is None else Tensor(gi) for gi in grads]

    def _as_tensor(self, g):
        """A root gradient as a Tensor: the user's (a value of the trace), or the ones `backward()` made."""
        if isinstance(g, Tensor):
            return g
        if id(g) not in self.value_of:
            self.instructions.append(P.Constant(self._new_value(g), g))
        return Tensor(g)

    def store_grad(self, leaf, g):
        """Eager's fast-path store of a leaf gradient (a Tensor computed in the trace), recorded. While
        tracing it always copies (never wrong); the program copies only where the array may be shared
        (decided once the whole trace is known, see `compile.finish_program`)."""
        if leaf.grad is not None and leaf.grad.requires_grad:
            self.poison("a leaf's .grad requires grad (left by create_graph)")
        recording = state.tracer is self
        value = self.value(g) if recording else None
        if leaf.grad is None:
            leaf.grad = Tensor(g._data.copy())
        elif leaf.grad.requires_grad:
            leaf.grad = leaf.grad + g
        else:
            leaf.grad._data += g._data
        self.grads[id(leaf)] = (leaf, leaf.grad)
        if not recording:
            return
        self.alive.append(leaf.grad)
        out = self._new_value(leaf.grad._data)
        self.instructions.append(P.StoreGrad(self._leaf_ref(leaf), f"leaf {tuple(leaf.shape)}", value, True, out))


def _counts(count, mask):
    return np.count_nonzero(mask) == count


def _memory(array):
    """The array owning `array`'s memory (numpy points every view at it)."""
    return array if array.base is None else array.base


class _TracingF(Namespace):
    """The backward namespace of a trace: the create-graph ops (each recorded by `apply`), and the
    fused VJP kernels recorded whole (`Tracer.fast_vjp`)."""

    def __init__(self, tracer):
        self.fast_backward_recorder = tracer.fast_vjp

    def __getattr__(self, name):
        from ..engine import TENSOR_F

        return getattr(TENSOR_F, name)


def _plain(value):
    """A VJP input as the fused kernels take it: an array, a number, or a shape-only stand-in."""
    if isinstance(value, Tensor):
        return value._data
    if isinstance(value, (Node, OutputEdge)):
        return SavedShape(value.shape, value.dtype)
    return value


def _layout(array):
    if array.size == 1 or (array.ndim and not any(array.strides)):
        return "single"
    return "C" if array.flags.c_contiguous else "strided"


def _existing_tensors():
    """The tensors alive before the call (found by the garbage collector, which tracks every Tensor):
    {id(array): a tensor holding it}, {id(grad tensor): its leaf}, and {id(leaf): (leaf, its .grad)}
    for the leaves that require grad."""
    owner_of_array: dict[int, Tensor] = {}
    leaf_of_grad: dict[int, Tensor] = {}
    grads: dict[int, tuple[Tensor, Tensor | None]] = {}
    for obj in gc.get_objects():
        if issubclass(type(obj), Tensor):  # not isinstance: that reads __class__, which some objects compute
            if obj.grad_fn is None or id(obj._data) not in owner_of_array:
                owner_of_array[id(obj._data)] = obj
            if obj.grad is not None:
                leaf_of_grad[id(obj.grad)] = obj
            if obj.requires_grad and obj.grad_fn is None:
                grads[id(obj)] = (obj, obj.grad)
    return owner_of_array, leaf_of_grad, grads
