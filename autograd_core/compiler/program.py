"""The compiled program: a straight-line list of instructions over numbered values, turned into one
generated Python function.

A value (`v3`) is a numpy array at run time. Instructions read values and make new ones:

- `ReadTensor`: the array of an input tensor (argument k) or of a tensor that lives across calls
  (a parameter, a buffer, an optimizer's state: read through the Tensor object, so that
  `p.data = ...` between calls is seen), or of `p.grad`;
- `Constant`: an array or number fixed when the function was traced (a shape-derived index, the
  seed gradient of `loss.backward()`);
- `OpCall`: a registry op's forward on values, with its attributes (arrays among them are values);
- `VjpCall`: an op's fused VJP kernel (its `fast_backward`, as eager backward runs it);
- `ArrayCall`: a numpy computation outside the graph (a comparison, max pooling's positions);
- `FusedCall`: a chain of elementwise ops run as one generated Numba loop (see `fusion`);
- `RandomCall`: a random constructor, called again on every run (fresh draws, same generator);
- `Assign`: an in-place write (`p.data -= lr * p.grad`, `running_mean.mul_(...)`), then the same array
  under a new number;
- `CopyValue`: a copy kept before an in-place write (what a recorded in-place op's VJP reads);
- `StoreGrad`: a leaf's gradient stored as eager backward stores it (`.grad` set, or added in place);
- `SetGrad`: `p.grad = g` or `p.grad = None` as the function assigned it in Python;
- `Call`: a call the compiler replays as it is (`optimizer.step()`, `zero_grad()`, a scheduler).

The generated function (`Program.source`) is what runs; `Program.listing()` shows it to a reader.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from ..tensor import Tensor


class Instruction:
    """One step of the program. `reads` are the value numbers it reads; `writes` the ones it makes;
    `effect` is True when it changes something outside the program's values (it is never dropped)."""

    reads: tuple[int, ...] = ()
    writes: tuple[int, ...] = ()
    effect = False

    def source(self, name: Any) -> list[str]:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError


class ReadTensor(Instruction):
    """`v = <tensor>._data`: `where` is ("input", k), ("state", tensor) or ("grad", tensor)."""

    def __init__(self, value, where, label):
        self.writes = (value,)
        self.where = where
        self.label = label

    def source(self, name):
        grad = ".grad" if self.where[0] == "grad" else ""
        return [f"v{self.writes[0]} = {_tensor(self.where, name)}{grad}._data"]

    def describe(self):
        return f"v{self.writes[0]} = {self.label}"


def _tensor(where, name):
    """The generated code's expression for a tensor: ("input", k) is argument k, else the object itself."""
    kind, ref = where
    return f"A[{ref}]" if kind == "input" else name(ref)


class Constant(Instruction):
    """`copied` when the function writes into it in place: each run starts from the traced value."""

    copied = False

    def __init__(self, value, constant):
        self.writes = (value,)
        self.constant = constant

    def source(self, name):
        return [f"v{self.writes[0]} = {name(self.constant)}{'.copy()' if self.copied else ''}"]

    def describe(self):
        c = self.constant
        shown = f"array{c.shape} {c.dtype}" if isinstance(c, np.ndarray) else repr(c)
        return f"v{self.writes[0]} = constant {shown}"


class AttrTemplate:
    """An op's attributes with the arrays among them replaced by value numbers (`_Slot`s)."""

    def __init__(self, template, values):
        self.template = template
        self.values = values


class _Slot:
    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


def _fill(template, arrays):
    if type(template) is _Slot:
        return arrays[template.value]
    if type(template) is tuple:
        return tuple(_fill(t, arrays) for t in template)
    if type(template) is list:
        return [_fill(t, arrays) for t in template]
    if type(template) is dict:
        return {k: _fill(t, arrays) for k, t in template.items()}
    return template


def _source_of(template, name):
    """Python source that makes `template` with each slot's value: the containers holding values written
    out when the program is built (filling them in on every run cost a few microseconds per call),
    anything else a constant."""
    kind = type(template)
    if kind is _Slot:
        return f"v{template.value}"
    if not any(True for _ in _values_in(template)):
        return name(template)
    if kind is tuple:
        return "(" + "".join(f"{_source_of(t, name)}, " for t in template) + ")"
    if kind is list:
        return "[" + ", ".join(_source_of(t, name) for t in template) + "]"
    return "{" + ", ".join(f"{name(k)}: {_source_of(t, name)}" for k, t in template.items()) + "}"


def _argument(x):
    return f"v{x.value}" if type(x) is _Slot else None


class OpCall(Instruction):
    """`v = op.forward(*args, **attrs)`, cast as `apply` casts it (PyTorch's float promotion)."""

    def __init__(self, op, args, attrs, outs, casts, as_arrays):
        self.op = op
        self.args = args  # _Slot for a value, else a Python constant
        self.attrs = attrs  # dict, or AttrTemplate when arrays are among them
        self.writes = tuple(outs)
        self.casts = casts  # per output: None or the dtype apply cast it to
        self.as_arrays = as_arrays  # per output: whether apply wrapped it in np.asarray
        reads = [a.value for a in args if type(a) is _Slot]
        if isinstance(attrs, AttrTemplate):
            reads += attrs.values
        self.reads = tuple(reads)

    def source(self, name):
        args = [_argument(a) or name(a) for a in self.args]
        if isinstance(self.attrs, AttrTemplate):
            args.append(f"**{_source_of(self.attrs.template, name)}")
        elif self.attrs:
            args.append(f"**{name(self.attrs)}")
        call = f"{name(self.op)}.forward({', '.join(args)})"
        if self.op.multi_output:
            lines = [f"_outs = {call}"]
            for k, (v, cast, wrap) in enumerate(zip(self.writes, self.casts, self.as_arrays)):
                lines.append(f"v{v} = {_post(f'_outs[{k}]', cast, wrap, name)}")
            return lines
        return [f"v{self.writes[0]} = {_post(call, self.casts[0], self.as_arrays[0], name)}"]

    def describe(self):
        outs = ", ".join(f"v{v}" for v in self.writes)
        args = ", ".join(f"v{a.value}" if type(a) is _Slot else _short(a) for a in self.args)
        attrs = self.attrs.template if isinstance(self.attrs, AttrTemplate) else self.attrs
        shown = ", ".join(f"{k}={_short(v)}" for k, v in attrs.items())
        return f"{outs} = {self.op.name}({args}{', ' if args and shown else ''}{shown})"


def _post(expression, cast, wrap, name):
    if wrap:
        expression = f"np.asarray({expression})"
    if cast is not None:
        expression = f"{expression}.astype({name(cast)})"
    return expression


def _short(value):
    if type(value) is _Slot:
        return f"v{value.value}"
    if isinstance(value, np.ndarray):
        return f"array{value.shape}"
    if isinstance(value, tuple):
        return "(" + ", ".join(_short(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


class FusedCall(Instruction):
    """A chain of elementwise ops as one generated Numba loop (see `fusion`): reads the `leaves` (arrays
    of the loop's shape) and `singles` (one value each), writes each sink as a new array."""

    def __init__(self, kernel, leaves, singles, sinks, shape, size, fused):
        self.kernel, self.leaves, self.singles = kernel, leaves, singles
        self.sinks, self.shape, self.size = sinks, shape, size
        self.fused = fused  # the replaced instructions, described
        self.reads = tuple(leaves) + tuple(singles)
        self.writes = tuple(v for v, _ in sinks)
        self.kept: dict[int, np.ndarray] = {}  # sinks written into the same buffer every run

    def source(self, name):
        lines = [
            f"v{v} = {name(self.kept[v])}" if v in self.kept else f"v{v} = np.empty({self.shape!r}, {name(dtype)})"
            for v, dtype in self.sinks
        ]
        flat = "" if len(self.shape) == 1 else ".reshape(-1)"  # leaves and sinks have the loop's shape
        arguments = [f"v{v}{flat}" for v in self.leaves] + [f"v{v}.flat[0]" for v in self.singles]
        arguments += [f"v{v}{flat}" for v, _ in self.sinks]
        lines.append(f"{name(self.kernel)}({', '.join(arguments)})")
        return lines

    def describe(self):
        written = ", ".join(f"v{v}" for v, _ in self.sinks)
        header = f"{written} = fused loop over {self.size} elements ({', '.join(f'v{v}' for v in self.reads)})"
        if self.kept:
            header += f", into kept buffers {', '.join(f'v{v}' for v in self.kept)}"
        header += ":"
        return "\n".join([header] + [f"      | {line}" for line in self.fused])


class VjpCall(Instruction):
    """`grads = op.fast_backward(g, inputs, out, attrs, needs)`: an op's fused VJP kernel as one step
    (the engine's fast path), its arrays as values; `writes` one value per gradient computed."""

    def __init__(self, op, template, needs, outs):
        self.op, self.template, self.needs = op, template, needs
        self.outs = outs  # per input: a value number, or None where no gradient is wanted
        self.writes = tuple(v for v in outs if v is not None)
        self.reads = tuple(_values_in(template))

    def source(self, name):
        arguments = f"*{_source_of(self.template, name)}"
        lines = [f"_g = {name(self.op)}.fast_backward({arguments}, {name(self.needs)})"]
        lines += [f"v{v} = _g[{k}]" for k, v in enumerate(self.outs) if v is not None]
        return lines

    def describe(self):
        grads = ", ".join(f"v{v}" for v in self.writes)
        return f"{grads} = {self.op.name} VJP (fused kernel)({', '.join(f'v{v}' for v in self.reads)})"


class ArrayCall(Instruction):
    """`v = np.asarray(fn(*args, **kwargs))`: a numpy computation outside the graph (a comparison,
    `argmax`), its arrays among the arguments as values. `fresh`: its result never shares memory with
    its arguments (a full sum), so an argument's buffer may be reused (`Program.keep_buffers`)."""

    fresh = False

    def __init__(self, fn, template, out):
        self.fn, self.template = fn, template
        self.writes = (out,)
        self.reads = tuple(_values_in(template))

    def source(self, name):
        args, kwargs = self.template
        parts = [_argument(a) or name(a) for a in args]
        parts += [f"{k}={_argument(v) or name(v)}" for k, v in kwargs.items()]
        return [f"v{self.writes[0]} = np.asarray({name(self.fn)}({', '.join(parts)}))"]

    def describe(self):
        args, kwargs = self.template
        shown = [_short(a) for a in args] + [f"{k}={_short(v)}" for k, v in kwargs.items()]
        return f"v{self.writes[0]} = {getattr(self.fn, '__name__', self.fn)}({', '.join(shown)})"


class RandomCall(Instruction):
    """`v = fn(*args, **kwargs)._data` for a random constructor: fresh draws on every run."""

    effect = True  # it advances the generator, as eager does, even when its result goes unused

    def __init__(self, fn, args, kwargs, out):
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.writes = (out,)
        self.reads = tuple(_values_in((args, kwargs)))

    def source(self, name):
        template = name((self.args, self.kwargs))
        arrays = ", ".join(f"v{v}" for v in self.reads)
        return [
            f"_a, _k = _tensors({template}, ({arrays}{',' if self.reads else ''}))",
            f"v{self.writes[0]} = {name(self.fn)}(*_a, **_k)._data",
        ]

    def describe(self):
        return f"v{self.writes[0]} = {self.fn.__name__}(...)  # fresh random draws every call"


def _values_in(template):
    if type(template) is _Slot:
        yield template.value
    elif type(template) in (tuple, list):
        for t in template:
            yield from _values_in(t)
    elif type(template) is dict:
        for t in template.values():
            yield from _values_in(t)


def tensors_filled(template, arrays):
    """The args/kwargs of a random call with its values as Tensors again."""
    return _fill(template, {k: Tensor(a) for k, a in zip(_values_in(template), arrays)})


class Assign(Instruction):
    """`np.copyto(target, value)`: an in-place write into the array of value `target`; `writes` is the
    number the written array has afterwards (the same array)."""

    effect = True

    def __init__(self, target, value, casting, after):
        self.reads = (target, value)
        self.writes = (after,)
        self.casting = casting

    def source(self, name):
        target, value = self.reads
        return [f"np.copyto(v{target}, v{value}, casting={self.casting!r})", f"v{self.writes[0]} = v{target}"]

    def describe(self):
        target, value = self.reads
        return f"v{self.writes[0]} = v{target} written in place with v{value}"


class CopyValue(Instruction):
    def __init__(self, source_value, out):
        self.reads = (source_value,)
        self.writes = (out,)

    def source(self, name):
        return [f"v{self.writes[0]} = v{self.reads[0]}.copy()"]

    def describe(self):
        return f"v{self.writes[0]} = copy of v{self.reads[0]} (kept before an in-place write)"


class StoreGrad(Instruction):
    """Eager backward's last step for one leaf: `.grad` set (a copy when the array is shared) or added
    to in place; `writes` is the array `.grad` holds afterwards."""

    effect = True

    def __init__(self, leaf, label, value, copy, out):
        self.leaf, self.label, self.copy = leaf, label, copy
        self.reads = (value,)
        self.writes = (out,)

    def source(self, name):
        return [f"v{self.writes[0]} = _store_grad({_tensor(self.leaf, name)}, v{self.reads[0]}, {self.copy})"]

    def describe(self):
        return f"{self.label}.grad += v{self.reads[0]}{' (copied)' if self.copy else ''}"


class SetGrad(Instruction):
    """`leaf.grad = v` or `leaf.grad = None`, as the function assigned it in Python."""

    effect = True

    def __init__(self, leaf, label, value):
        self.leaf, self.label = leaf, label
        self.reads = () if value is None else (value,)

    def source(self, name):
        value = f"{name(Tensor)}(v{self.reads[0]})" if self.reads else "None"
        return [f"{_tensor(self.leaf, name)}.grad = {value}"]

    def describe(self):
        return f"{self.label}.grad = {f'v{self.reads[0]}' if self.reads else 'None'}"


def store_grad(leaf, g, copy):
    current = leaf.grad
    if current is None:
        leaf.grad = current = Tensor(g.copy() if copy else g)
    else:
        current._data += g
    return current._data


class Call(Instruction):
    """A call replayed as it is (an optimizer's step, zero_grad, a scheduler's step)."""

    effect = True

    def __init__(self, fn, args, kwargs, label):
        self.fn, self.args, self.kwargs, self.label = fn, args, kwargs, label

    def source(self, name):
        return [f"{name(self.fn)}(*{name(self.args)}, **{name(self.kwargs)})"]

    def describe(self):
        return f"call {self.label}"


class Program:
    """The instructions, the values returned, and the generated function that runs them."""

    def __init__(self, instructions, output_values, labels):
        self.instructions = instructions
        self.output_values = output_values
        self.labels = labels  # value -> (shape, dtype) seen when tracing
        self.removed = 0
        self.lock: threading.Lock | None = None  # held while a run writes kept buffers (`keep_buffers`)

    def eliminate_dead_code(self):
        """Drop instructions whose values nothing needs (no effect, not returned, not read later)."""
        live = set(self.output_values)
        kept = []
        for instruction in reversed(self.instructions):
            if instruction.effect or any(v in live for v in instruction.writes):
                live.update(instruction.reads)
                kept.append(instruction)
        self.removed += len(self.instructions) - len(kept)
        self.instructions = kept[::-1]

    def fold_constants(self):
        """Run now, once, the ops whose inputs are all constants (the seed gradient's reshape and
        broadcast), each replaced by its result as a constant. Not in a program that writes in place:
        a folded array must never be written into."""
        if any(type(i) is Assign for i in self.instructions):
            return
        constants = {i.writes[0]: i.constant for i in self.instructions if type(i) is Constant and not i.copied}
        for k, instruction in enumerate(self.instructions):
            if type(instruction) is not OpCall or isinstance(instruction.attrs, AttrTemplate):
                continue
            if instruction.op.multi_output or not all(
                type(a) is not _Slot or a.value in constants for a in instruction.args
            ):
                continue
            args = [constants[a.value] if type(a) is _Slot else a for a in instruction.args]
            result = instruction.op.forward(*args, **instruction.attrs)
            if instruction.as_arrays[0]:
                result = np.asarray(result)
            if instruction.casts[0] is not None:
                result = result.astype(instruction.casts[0])
            self.instructions[k] = Constant(instruction.writes[0], result)
            constants[instruction.writes[0]] = result
        self.eliminate_dead_code()

    def keep_buffers(self):
        """Give each fused loop's output that never leaves the program its own buffer, allocated now and
        written again on every run: a value that only other fused loops and fresh-result calls (a full
        sum) read, never returned, stored as a gradient, written into a tensor or passed to a replayed
        call. Every other value is allocated on every run, so that nothing the user holds from one call
        is overwritten by the next. A program with kept buffers runs one call at a time (`lock`)."""
        readers: dict[int, list[Instruction]] = {}
        for instruction in self.instructions:
            for v in instruction.reads:
                readers.setdefault(v, []).append(instruction)
        returned = set(self.output_values)
        for instruction in self.instructions:
            if type(instruction) is not FusedCall:
                continue
            instruction.kept = {
                v: np.empty(instruction.shape, dtype)
                for v, dtype in instruction.sinks
                if v not in returned
                and v in readers
                and all(type(r) is FusedCall or (type(r) is ArrayCall and r.fresh) for r in readers[v])
            }
            if instruction.kept:
                self.lock = threading.Lock()

    def build(self):
        """The generated Python function `run(A)` (A: the tensors among the arguments, flattened)."""
        constants: dict[int, tuple[str, Any]] = {}

        def name(obj):
            entry = constants.get(id(obj))
            if entry is None:
                entry = constants[id(obj)] = (f"K{len(constants)}", obj)
            return entry[0]

        # each value's name is dropped after its last use, so that an array is freed (or reused by
        # numpy's allocator) as soon as eager execution would free it, not when the program returns
        last_use = {}
        for i, instruction in enumerate(self.instructions):
            for v in (*instruction.writes, *instruction.reads):
                last_use[v] = i
        for v in self.output_values:
            last_use[v] = len(self.instructions)
        dropped_after: dict[int, list[int]] = {}
        for v, i in last_use.items():
            dropped_after.setdefault(i, []).append(v)
        body = []
        for i, instruction in enumerate(self.instructions):
            body += instruction.source(name)
            if i in dropped_after:
                body.append("del " + ", ".join(f"v{v}" for v in sorted(dropped_after[i])))
        outputs = ", ".join(f"v{v}" for v in self.output_values)
        body.append(f"return ({outputs}{',' if len(self.output_values) == 1 else ''})")
        self.source = "def run(A):\n" + "".join(f"    {line}\n" for line in body)
        namespace: dict[str, Any] = {k: obj for k, obj in constants.values()}
        namespace.update(np=np, _store_grad=store_grad, _tensors=tensors_filled)
        exec(compile(self.source, "<ag.compile program>", "exec"), namespace)
        self.run = namespace["run"]
        return self.run

    def listing(self):
        lines = []
        for instruction in self.instructions:
            text = instruction.describe()
            if instruction.writes and instruction.writes[0] in self.labels and "\n" not in text:
                shape, dtype = self.labels[instruction.writes[0]]
                text = f"{text:<70} # {dtype}{list(shape)}"
            lines += text.split("\n")
        return lines
