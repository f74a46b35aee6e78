"""`ag.compile`: trace a function once, replay it as a straight-line program.

`step = ag.compile(fn)` returns a callable with `fn`'s signature. The first call with new inputs runs
`fn` eagerly while `tracer.Tracer` records what it did (every op of the forward and of the
backward, the in-place writes, the `.grad` assignments, the random draws, the optimizer calls); the
recording becomes a `program.Program`: one generated Python function over numpy arrays, with dead
values dropped and the chains of elementwise ops fused into generated Numba loops (`fusion`); a fused
loop's output that never leaves the program keeps one buffer across calls (`Program.keep_buffers`),
everything returned or stored is allocated fresh. Later calls whose guards hold run the program: no
Tensor or graph node is made, no op is dispatched by name.

Guards (checked on every call, a miss traces again; up to `cache_size` traces per function):
the Python values among the arguments (numbers, strings, None, and the identity of other objects),
the shape, dtype and `requires_grad` of every tensor argument and of every tensor the trace read
(parameters, buffers, optimizer state), whether a `.grad` it read is set, grad mode, the
`training` flag of every module that ran, and the values a library path was chosen by
(`branch_on_values`: cross-entropy's fused case, the count of a boolean mask).

What the program cannot replay faithfully turns the function eager for good, with one warning
naming the reason and the line (`fullgraph=True` raises `CompileError` there instead): Python reading
a tensor's values (`.item()`, `bool(t)`, `.numpy()`, `print(t)`), a hook, `create_graph=True`, a
custom `autograd.Function`, an in-place random fill, `nonzero`, numpy arrays computed from tensor values
after `np.asarray(t)`, a tensor argument that is a numpy array. (Library code that computes arrays from
tensor values outside the graph does it through `tensor.computed_array`, which the program repeats.)

As in `jax.jit`, Python code in `fn` runs only while tracing: what it does outside tensors (appending
to a list, reading a global number, `np.random`) is fixed at trace time. Outputs are returned as new
tensors without a graph (call `backward` inside `fn`).
"""

from __future__ import annotations

import builtins
import functools
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from ..graph import is_grad_enabled, state
from ..tensor import Tensor
from . import program as P
from .tracer import CompileError, Tracer

__all__ = ["compile", "CompiledFunction", "CompileError", "CompileFallbackWarning", "replayed_call", "branch_on_values"]


_Method = TypeVar("_Method", bound=Callable[..., Any])


class CompileFallbackWarning(UserWarning):
    """A compiled function runs eagerly from now on; the message says why and where."""


def replayed_call(method: _Method) -> _Method:
    """Mark a method the compiler replays as a call (an optimizer's `step`, `zero_grad`, a scheduler's
    `step`): inside a trace its tensor work is not recorded op by op; the program calls it again."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        tracer = state.tracer
        if tracer is None:
            return method(self, *args, **kwargs)
        return tracer.replayed_call(
            functools.partial(method, self), args, kwargs, f"{type(self).__name__}.{method.__name__}()"
        )

    wrapper.__replayed__ = True  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]  # functools.wraps keeps the method's signature


def replay_overrides(cls: type, names: tuple[str, ...]) -> None:
    """Wrap with `replayed_call` the methods `names` that `cls` defines itself (a base class's
    `__init_subclass__` calls it, so that a subclass's own `step` is replayed too)."""
    for name in names:
        method = cls.__dict__.get(name)
        if method is not None and not getattr(method, "__replayed__", False):
            setattr(cls, name, replayed_call(method))


def traced_random(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a random constructor: inside a trace the program calls it again on every run."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        tracer = state.tracer
        if tracer is None or tracer.paused:
            return fn(*args, **kwargs)
        return tracer.random_call(fn, args, kwargs)

    return wrapper


def report(what: str) -> None:
    """Library code reports something a trace cannot replay (a hook running, a custom Function)."""
    tracer = state.tracer
    if tracer is not None and not tracer.paused:
        tracer.poison(what)


def branch_on_values(tensor: Any, predicate: Callable[[np.ndarray], Any], who: str) -> bool:
    """`bool(predicate(values))` for library code that picks a path by a tensor's values (a fused case
    that holds only for some values; `who` names it): inside a trace the answer becomes a guard, so
    that a call whose values answer otherwise traces again. `tensor` may be an array or a list too."""
    if not isinstance(tensor, Tensor):
        return bool(predicate(np.asarray(tensor)))
    result = bool(predicate(tensor._data))
    tracer = state.tracer
    if tracer is not None and not tracer.paused:
        tracer.value_guard(tracer.value(tensor), predicate, result, who)
    return result


# ---- arguments ----------------------------------------------------------------------------------


def _flatten(obj, tensors, others):
    """Tensors of `obj` (nested tuples, lists, dicts) in order; every other leaf as a guard entry."""
    if isinstance(obj, Tensor):
        tensors.append(obj)
        others.append(Tensor)
    elif type(obj) in (tuple, list):
        others.append((type(obj), len(obj)))
        for o in obj:
            _flatten(o, tensors, others)
    elif type(obj) is dict:
        others.append((dict, tuple(obj)))
        for o in obj.values():
            _flatten(o, tensors, others)
    elif obj is None or type(obj) in (int, float, bool, str, complex):
        others.append((type(obj), obj))
    elif isinstance(obj, np.ndarray):
        others.append(np.ndarray)
    else:
        others.append(_Identity(obj))


class _Identity:
    """Guards an argument that is neither a tensor nor a plain value by identity (a module, a function)."""

    __slots__ = ("obj",)

    def __init__(self, obj):
        self.obj = obj

    def __eq__(self, other):
        return type(other) is _Identity and other.obj is self.obj

    def __hash__(self):
        return id(self.obj)


# ---- a trace and its guards -------------------------------------------------------------------------


class Trace:
    """One compiled program and the guards under which it replays `fn`."""

    def __init__(self, others, tensors, tracer, program, output_template):
        self.others = others
        self.program = program
        self.output_template = output_template
        self.input_specs = [(t.shape, t.dtype, t.requires_grad) for t in tensors]
        self.input_aliases = tracer.input_aliases
        self.value_guards = tracer.value_guards
        self.states = [(t, t._data.shape, t._data.dtype, t.requires_grad) for t in tracer.states.values()]
        self.grads_read = [i.where[1] for i in program.instructions if type(i) is P.ReadTensor and i.where[0] == "grad"]
        self.modules = [(m, m.training) for m in tracer.modules.values()]
        self.calls = 0
        self.check = self._build_check()

    def _build_check(self):
        """The guards as one generated function `check(A)` (A: the tensor arguments)."""
        names: dict[str, Any] = {}

        def name(obj):
            key = f"G{len(names)}"
            names[key] = obj
            return key

        lines = []
        for k, (shape, dtype, requires_grad) in enumerate(self.input_specs):
            lines.append(f"A[{k}]._data.shape == {shape!r} and A[{k}]._data.dtype == {name(dtype)}")
            lines.append(f"A[{k}].requires_grad is {requires_grad}")
        for k, j in self.input_aliases:
            lines.append(f"A[{k}]._data is A[{j}]._data")
        for program, predicate, result in self.value_guards:  # the tensor computed again from the arguments
            program.build()
            lines.append(f"bool({name(predicate)}({name(program.run)}(A)[0])) is {result}")
        for tensor, shape, dtype, requires_grad in self.states:
            t = name(tensor)
            lines.append(f"{t}._data.shape == {shape!r} and {t}._data.dtype == {name(dtype)}")
            lines.append(f"{t}.requires_grad is {requires_grad}")
        for leaf in self.grads_read:
            t = name(leaf)
            lines.append(f"{t}.grad is not None and {t}.grad._data.shape == {t}._data.shape")
        for module, training in self.modules:
            lines.append(f"{name(module)}.training is {training}")
        body = " and\n        ".join(lines) or "True"
        source = f"def check(A):\n    return (\n        {body}\n    )\n"
        self.check_source = source
        exec(builtins.compile(source, "<ag.compile guards>", "exec"), names)
        return names["check"]

    def run(self, tensors):
        if self.program.lock is None:
            values = self.program.run(tensors)
        else:
            with self.program.lock:
                values = self.program.run(tensors)
        self.calls += 1
        return _rebuild(self.output_template, values)


def _rebuild(template, values):
    if type(template) is P._Slot:
        return Tensor(values[template.value])
    if type(template) in (tuple, list):
        parts = [_rebuild(t, values) for t in template]
        return tuple(parts) if type(template) is tuple else parts
    if type(template) is dict:
        return {k: _rebuild(t, values) for k, t in template.items()}
    return template


def _output_template(obj, tracer, outputs):
    """The returned structure with each tensor replaced by a slot into the program's outputs."""
    if isinstance(obj, Tensor):
        if obj.requires_grad and not tracer.backward_ran:
            tracer.poison(
                "it returns a tensor that requires grad without calling backward inside: a backward "
                "outside the compiled function would have no graph to follow"
            )
        outputs.append(tracer.value(obj))
        return P._Slot(len(outputs) - 1)
    if type(obj) in (tuple, list):
        parts = [_output_template(o, tracer, outputs) for o in obj]
        return tuple(parts) if type(obj) is tuple else parts
    if type(obj) is dict:
        return {k: _output_template(v, tracer, outputs) for k, v in obj.items()}
    if obj is None or type(obj) in (int, float, bool, str):
        return obj
    tracer.poison(f"it returns a {type(obj).__name__}; a compiled function returns tensors, numbers or None")
    return obj


def finish_program(tracer, output_values, fuse):
    """The traced instructions as a Program: copies decided, dead code dropped, chains fused."""
    program = P.Program(tracer.instructions, output_values, dict(tracer.labels))
    program.eliminate_dead_code()
    uses: dict[int, int] = {}
    for instruction in program.instructions:
        for v in instruction.reads:
            uses[v] = uses.get(v, 0) + 1
    for v in output_values:
        uses[v] = uses.get(v, 0) + 1
    for instruction in program.instructions:
        if type(instruction) is P.StoreGrad:
            v = instruction.reads[0]
            instruction.copy = not (v in tracer.fresh and uses[v] == 1)
    program.fold_constants()
    if fuse:
        from .fusion import compile_sums, fuse_elementwise

        fuse_elementwise(program, tracer.layouts)
        compile_sums(program, tracer.layouts)
        program.keep_buffers()
    program.build()
    return program


# ---- the compiled function ------------------------------------------------------------------------


class CompiledFunction:
    """What `ag.compile(fn)` returns: call it as `fn`; `explain()` shows what it runs."""

    def __init__(self, fn: Callable[..., Any], fullgraph: bool = False, cache_size: int = 8, fuse: bool = True):
        if not callable(fn):
            raise TypeError(f"ag.compile: expected a function, got {type(fn).__name__}")
        if isinstance(cache_size, bool) or not isinstance(cache_size, int) or cache_size < 1:
            raise ValueError(f"ag.compile: cache_size must be a positive int, got {cache_size!r}")
        self.fn = fn
        self.fullgraph = bool(fullgraph)
        self.cache_size = cache_size
        self.fuse = bool(fuse)
        self.traces: list[Trace] = []
        self.fallback: tuple[str, str] | None = None
        self.traced = 0
        functools.update_wrapper(self, fn)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if state.tracer is not None or self.fallback is not None:  # inside another trace: traced inline
            return self.fn(*args, **kwargs)
        tensors: list[Tensor] = []
        others: list[Any] = [is_grad_enabled()]
        _flatten((args, kwargs), tensors, others)
        for trace in self.traces:
            if trace.others == others and trace.check(tensors):
                return trace.run(tensors)
        return self._trace(args, kwargs, tensors, others)

    def _trace(self, args, kwargs, tensors, others):
        tracer = Tracer(self.fullgraph, self.fuse, getattr(self.fn, "__code__", None))
        if np.ndarray in others:
            tracer.poison("a numpy array is among the arguments; pass tensors (ag.from_numpy shares memory)")
        tracer.add_inputs(tensors)
        state.tracer = tracer if tracer.poisoned is None else None
        try:
            result = self.fn(*args, **kwargs)
            outputs: list[int] = []
            tracer.sync_grads()
            template = _output_template(result, tracer, outputs) if tracer.poisoned is None else None
        finally:
            state.tracer = None
        self.traced += 1
        if tracer.poisoned is not None:
            self._fall_back(tracer.poisoned)
            return result
        program = finish_program(tracer, outputs, self.fuse)
        if len(self.traces) == self.cache_size:
            self.traces.pop(0)
        self.traces.append(Trace(others, tensors, tracer, program, template))
        return result

    def _fall_back(self, poisoned):
        self.fallback = poisoned
        self.traces.clear()
        reason, where = poisoned
        name = getattr(self.fn, "__qualname__", self.fn)
        warnings.warn(
            f"ag.compile: {name} runs eagerly from now on: {reason} (at {where})",
            CompileFallbackWarning,
            stacklevel=4,  # the line that called the compiled function (through __call__ and _trace)
        )

    def explain(self, file: Any = None) -> str:
        """What this function runs now: per trace, its guards, the program (fused groups marked) and
        the numbers of values and instructions; or why it runs eagerly. Printed, and returned."""
        name = getattr(self.fn, "__qualname__", repr(self.fn))
        lines = [f"ag.compile({name}): traced {self.traced} time(s), {len(self.traces)} program(s) cached"]
        if self.fallback is not None:
            reason, where = self.fallback
            lines.append(f"runs eagerly: {reason} (at {where})")
        for k, trace in enumerate(self.traces):
            program = trace.program
            fused = [i for i in program.instructions if type(i).__name__ == "FusedCall"]
            lines.append("")
            lines.append(
                f"program {k}: {len(program.instructions)} instructions, {len(fused)} fused kernels, "
                f"{program.removed} dead instructions removed, run {trace.calls} time(s)"
            )
            lines.append(
                "guards: "
                + trace.check_source.split("return (", 1)[1].rsplit(")", 1)[0].strip().replace("\n        ", " ")
            )
            lines += ["  " + line for line in program.listing()]
        text = "\n".join(lines)
        print(text, file=file)
        return text


def compile(
    fn: Callable[..., Any] | None = None, *, fullgraph: bool = False, cache_size: int = 8, fuse: bool = True
) -> Any:
    """`ag.compile(fn)` or `@ag.compile` / `@ag.compile(fullgraph=True)`: see the module docstring.
    `fuse=False` keeps every elementwise op a separate numpy call (to compare)."""
    if fn is None:
        return lambda f: CompiledFunction(f, fullgraph, cache_size, fuse)
    return CompiledFunction(fn, fullgraph, cache_size, fuse)
