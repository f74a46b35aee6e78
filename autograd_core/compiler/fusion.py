"""Fusing chains of elementwise ops into generated Numba loops.

An elementwise instruction (an op of `_EXPRESSIONS`, or a numpy comparison, over operands that are
all either C-contiguous arrays of one shape or single values) becomes a node of an expression; the
values something else needs (a non-elementwise instruction, a returned value) are the sinks. Each
group of sinks becomes one `FusedCall`: one loop over the elements that evaluates every node the sinks
depend on and writes each sink. A `sum` stays a separate pass after the loop, `kernels.reduce`'s
float64-accumulating loop called directly (`compile_sums`): a sum inside the loop vectorizes only
when LLVM may reassociate, and that flag also reorders the elementwise float32 ops (measured: 1.3e-5
relative drift over a 2,000-op chain). On a CPU with AVX-512 the loops ask LLVM for 512-bit vectors
(`backend.wide_vectors`).

Where a group is placed: after the last instruction it reads from outside (its leaves) and before
the first instruction that reads one of its sinks, and never across an instruction with an effect
(an in-place write, a replayed call, a stored gradient), so that every array it reads holds what the
ops it replaces read. Sinks whose windows overlap share one loop. A node a later group needs (the
backward reads the forward's values) is computed again there from its leaves when it is cheap
arithmetic, and written by the earlier loop and read back when it is an exp, tanh or sigmoid
(measured on sum(sigmoid(x) * tanh(x) + relu(x)) forward and backward: 32.8 against 50.1 us at 1e4
elements, 1.64 against 2.30 ms at 1e6).

Kernels are generated as Python source, written to a file named by the hash of that source (and of
`vector_math`'s), and compiled by Numba with its disk cache: a second process compiles nothing.
float32 stays float32 (constants are typed; exp, tanh and sigmoid come from `vector_math`); loops of
at least `PARALLEL_MIN_SIZE` elements run on threads (`prange`) in programs without BLAS calls.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from typing import Any

import numpy as np

from .. import backend
from . import program as P

PARALLEL_MIN_SIZE = 1 << 17
"""Elements from which a fused loop runs on threads (prange), in a program without BLAS calls.

With a BLAS call in the program the loops stay on one thread: OpenBLAS's workers keep spinning after
each call and the loop's threads wait for the cores (measured: LeNet's 221,184-element ReLU-gradient
loop took 16 us on two threads alone, 2.16 ms after the convolutions; the whole compiled step 12.2 ms
against 5.9 ms with one thread). Without BLAS, two threads halve the loops (sum(sigmoid(x) * tanh(x)
+ relu(x)) forward and backward at 1e6 elements: 1.54 against 2.87 ms). Smaller loops stay on one
thread even where a loop alone would gain: over 1e4 elements that step's sigmoid-and-tanh loop took
9.5 us on two threads against 14.4 on one, but the loops after it then read half their inputs from
the other core's cache and the step as a whole did not gain (23.9 against 23.8 us; with every loop
and the sum threaded, 33.6 us)."""

_BLAS_OPS = frozenset(
    {"matmul", "linear", "conv", "conv_transpose", "conv_weight_grad", "einsum", "mm", "bmm", "dot", "outer", "inner"}
    | {"rnn_layer_hh", "lstm_layer_hh", "gru_layer_hh", "unfold", "fold"}
)

_UNARY = {
    "neg": "(-{0})",
    "abs": "abs({0})",
    "sqrt": "np.sqrt({0})",
    "square": "({0} * {0})",
    "reciprocal": "(ONE / {0})",
    "rsqrt": "(ONE / np.sqrt({0}))",
    "relu": "({0} if {0} > ZERO or {0} != {0} else ZERO)",
}
_TRANSCENDENTAL = {"exp": ("exp32", "np.exp"), "tanh": ("tanh32", "np.tanh"), "sigmoid": ("sigmoid32", None)}
_BINARY = {"add": "({0} + {1})", "sub": "({0} - {1})", "mul": "({0} * {1})", "div": "({0} / {1})"}
_COMPARISONS = {
    np.greater: "({0} > {1})",
    np.less: "({0} < {1})",
    np.greater_equal: "({0} >= {1})",
    np.less_equal: "({0} <= {1})",
    np.equal: "({0} == {1})",
    np.not_equal: "({0} != {1})",
}
FUSABLE_OPS = frozenset(_UNARY) | frozenset(_TRANSCENDENTAL) | frozenset(_BINARY) | {"pow", "where", "astype"}
"""The ops a trace records through their formulas (not their fused VJP kernels) so that they fuse."""


class _Node:
    """One elementwise instruction: `operands` are ("value", v) or ("scalar", python number)."""

    def __init__(self, index, instruction, kind, operands, out, dtype):
        self.index, self.instruction, self.kind = index, instruction, kind
        self.operands, self.out, self.dtype = operands, out, dtype


def _operand_list(instruction):
    if type(instruction) is P.OpCall:
        return list(instruction.args)
    args, kwargs = instruction.template
    return list(args) if not kwargs else None


def _as_node(index, instruction, labels, layouts):
    """The instruction as a `_Node` when it is elementwise over one shape, else None."""
    if type(instruction) is P.OpCall:
        name = instruction.op.name
        if name not in FUSABLE_OPS or isinstance(instruction.attrs, P.AttrTemplate) or instruction.op.multi_output:
            return None
        if name == "astype" and np.dtype(instruction.attrs["dtype"]).kind not in "fb":
            return None
        if name != "astype" and instruction.attrs:
            return None
        kind = name
    elif type(instruction) is P.ArrayCall and instruction.fn in _COMPARISONS:
        kind = instruction.fn
    else:
        return None
    out = instruction.writes[0]
    shape, dtype = labels[out][:2]
    if dtype.kind not in "fb" or (kind == "pow" and not _simple_power(instruction)):
        return None
    operands = []
    for a in _operand_list(instruction) or ():
        if type(a) is P._Slot:
            a_shape, a_dtype = labels[a.value][:2]
            if a_dtype.kind not in "fbiu" or (a_dtype.kind in "iu" and a_shape != ()):
                return None
            if layouts.get(a.value) == "single":
                operands.append(("single", a.value))
            elif a_shape == shape and layouts.get(a.value) == "C":
                operands.append(("value", a.value))
            else:
                return None
        elif isinstance(a, (int, float, bool, np.number)):
            operands.append(("scalar", a))
        else:
            return None
    if not operands:
        return None
    return _Node(index, instruction, kind, operands, out, dtype)


def _simple_power(instruction):
    exponent = instruction.args[1] if len(instruction.args) == 2 else None
    return isinstance(exponent, (int, float)) and not isinstance(exponent, bool) and exponent in (2, 0.5, -1, 3)


class _Group:
    """Sinks computed by one loop, placed just before instruction `high` (and after instruction `low`)."""

    def __init__(self, shape, low, high):
        self.shape, self.low, self.high = shape, low, high
        self.sinks: list[int] = []  # values written as arrays
        self.plan: tuple[list[int], list[int], list[int]] | None = None  # `_plan`'s answer


def fuse_elementwise(program: P.Program, layouts: dict[int, str]) -> None:
    """Replace the program's elementwise chains by `FusedCall`s (in place).

    A node instruction that no loop replaces stays where it is (a group with no place between the
    effects around it, a lone exp), so it reads what it reads there: the values it reads must be
    written before it. Grouping is therefore repeated, those staying instructions counted as readers
    like any other, until no new one stays (each round can only add some, so it ends)."""
    instructions = program.instructions
    labels = program.labels
    nodes = {}  # value -> its elementwise node
    for index, instruction in enumerate(instructions):
        node = _as_node(index, instruction, labels, layouts)
        if node is not None:
            nodes[node.out] = node
    if not nodes:
        return
    staying: set[int] = set()  # indices of node instructions no loop replaces that something still reads
    while True:
        groups = _groups(program, nodes, staying)
        computed: set[int] = set()  # sinks written by an earlier group
        for group in groups:
            group.plan = _plan(group, nodes, computed)
            if group.plan is not None:
                computed.update(group.sinks)
        newly_staying = _staying(program, nodes, groups)
        if newly_staying <= staying:
            break
        staying |= newly_staying

    end = len(instructions)
    placements: dict[int, list[P.Instruction]] = {}
    replaced: set[int] = set()  # instruction indices whose values a FusedCall now writes
    threads = _threads_pay(instructions)
    for group in groups:
        if group.plan is None:
            continue
        replaced |= {nodes[v].index for v in group.sinks}
        placements.setdefault(group.high, []).append(_build_call(group, nodes, labels, threads))
    if not placements:
        return
    result: list[P.Instruction] = []
    for i, ins in enumerate(instructions):
        result.extend(placements.get(i, ()))
        if i not in replaced:
            result.append(ins)
    result.extend(placements.get(end, ()))
    program.instructions = result
    program.eliminate_dead_code()  # the node instructions only the fused sinks read


def _staying(program, nodes, groups):
    """The indices of the node instructions that stay once the planned groups' sinks are replaced: those
    whose values the other instructions, the returned values, the loops or other staying nodes read."""
    replaced = {v for g in groups if g.plan is not None for v in g.sinks}
    node_indices = {node.index for node in nodes.values()}
    needed = set(program.output_values)
    for i, instruction in enumerate(program.instructions):
        if i not in node_indices:
            needed.update(instruction.reads)
    for g in groups:
        if g.plan is not None:
            _, leaves, singles = g.plan
            needed.update(leaves, singles)
    stays = set()
    for v, node in sorted(nodes.items(), key=lambda item: -item[1].index):  # readers before what they read
        if v in needed and v not in replaced:
            stays.add(node.index)
            needed.update(a for kind, a in node.operands if kind != "scalar")
    return stays


def _groups(program, nodes, staying):
    """The sinks grouped into loops, each group placed between the last instruction writing a value it
    reads and the first instruction reading a value it writes (`staying` node instructions included),
    never across an effect. A sink no group can take is left out (its instructions stay)."""
    instructions = program.instructions
    end = len(instructions)
    produced_at = {v: i for i, ins in enumerate(instructions) for v in ins.writes}
    effects = [i for i, ins in enumerate(instructions) if ins.effect]
    readers: dict[int, list[int]] = {}
    for i, ins in enumerate(instructions):
        for v in ins.reads:
            readers.setdefault(v, []).append(i)
    for v in program.output_values:
        readers.setdefault(v, []).append(end)
    # the sinks, as (deadline, value): node values read by a non-node or a staying instruction, or returned
    sinks: list[tuple[int, int]] = []
    replaceable = {node.index for node in nodes.values()} - staying
    for v in nodes:
        outside = [i for i in readers.get(v, ()) if i not in replaceable]
        if outside:
            sinks.append((min(outside), v))
    sinks.sort()

    groups: list[_Group] = []
    written: set[int] = set()  # sinks that a group writes, which later groups read instead of recomputing
    computed_in: dict[int, _Group] = {}  # node value -> the first group whose loop computes it
    for deadline, sink in sinks:
        members, leaves = _cone(sink, nodes, written)
        # an exp, tanh or sigmoid an earlier loop computes: that loop writes it, this one reads it
        kept = [
            u
            for u in members
            if nodes[u].kind in _TRANSCENDENTAL and u in computed_in and computed_in[u].high <= deadline
        ]
        for u in kept:
            if u not in computed_in[u].sinks:
                computed_in[u].sinks.append(u)
            written.add(u)
        if kept:
            members, leaves = _cone(sink, nodes, written)
        low = max([produced_at[a] for a in leaves] + [-1])
        first_node = min(nodes[u].index for u in members)
        deadline = min([deadline] + [e for e in effects if e > low])  # before the next effect
        if any(first_node <= e <= low for e in effects) or low >= deadline:
            continue  # no place where its inputs hold what its ops read
        shape = program.labels[sink][0]
        group = groups[-1] if groups else None
        if group is None or group.shape != shape or max(group.low, low) >= min(group.high, deadline):
            group = _Group(shape, low, deadline)
            groups.append(group)
        group.low, group.high = max(group.low, low), min(group.high, deadline)
        group.sinks.append(sink)
        written.add(sink)
        for u in members:
            computed_in.setdefault(u, group)
    return groups


def _threads_pay(instructions):
    """Whether big loops may run on threads: in a program without BLAS calls (see PARALLEL_MIN_SIZE)."""
    return not any(getattr(getattr(i, "op", None), "name", None) in _BLAS_OPS for i in instructions)


def compile_sums(program: P.Program, layouts: dict[int, str]) -> None:
    """Replace each `sum` and `mean` of every element of a C-contiguous float array by a direct call of
    `kernels.reduce`'s loop (in place): on threads from PARALLEL_MIN_SIZE elements in a program
    without BLAS calls (eager keeps one thread below `backend.PARALLEL_MIN_SIZE`, as it must assume
    other work on the cores). The call skips the op's policy check, which cost more than the loop
    over 1e4 float32 (measured: 2.8 against 1.2 us)."""
    from ..kernels import reduce

    threads = _threads_pay(program.instructions)
    for k, instruction in enumerate(program.instructions):
        if type(instruction) is not P.OpCall or instruction.op.name not in ("sum", "mean"):
            continue
        (x,) = instruction.args
        shape, dtype = program.labels[x.value][:2]
        axis = instruction.attrs.get("axis")
        size = int(np.prod(shape))
        if (
            instruction.casts[0] is not None
            or dtype.kind != "f"
            or layouts.get(x.value) != "C"
            or instruction.attrs.get("keepdims")
            or not (axis is None or len(axis) == len(shape))
            or size == 0
        ):
            continue
        loop = reduce.full_reduction(instruction.op.name, threads and size >= PARALLEL_MIN_SIZE)
        program.instructions[k] = P.ArrayCall(loop, ((x,), {}), instruction.writes[0])
        program.instructions[k].fresh = True  # a new 0-d array: x's buffer may be reused


def _cone(value, nodes, written):
    """The node values `value` is computed from (itself included, stopping at values another group
    writes) and the leaf values they read."""
    members, leaves, stack = set(), set(), [value]
    while stack:
        u = stack.pop()
        if u in members:
            continue
        members.add(u)
        for kind, a in nodes[u].operands:
            if kind == "scalar":
                continue
            if kind == "value" and a in nodes and a not in written:
                stack.append(a)
            else:
                leaves.add(a)
    return members, leaves


def _plan(group, nodes, computed):
    """(the node values in evaluation order, the leaves, the single values) of a group's loop, or None
    for nothing to compute or a lone exp, tanh or sigmoid (numpy's vectorized one is faster than
    `vector_math`'s). A lone cheap op becomes a loop: its call costs less than the op's (a relu over
    (16, 64) float32 took 3.4 us through the registry op and its kernel policy, in the compiled
    mlp_small step)."""
    order: list[int] = []  # node values in evaluation order
    leaves: list[int] = []
    singles: list[int] = []
    seen: set[int] = set()
    for target in group.sinks:
        stack = [(target, False)]  # depth-first, operands before the node (no recursion: chains run long)
        while stack:
            v, operands_done = stack.pop()
            if operands_done:
                order.append(v)
                continue
            if v in seen:
                continue
            seen.add(v)
            if v in nodes and v not in computed:
                stack.append((v, True))
                for kind, a in reversed(nodes[v].operands):
                    if kind == "value":
                        stack.append((a, False))
                    elif kind == "single" and a not in singles:
                        singles.append(a)
            elif v not in leaves:
                leaves.append(v)
    if not order or (len(order) == 1 and nodes[order[0]].kind in _TRANSCENDENTAL):
        return None
    return order, leaves, singles


def _build_call(group, nodes, labels, threads):
    """The FusedCall computing a group's sinks, as `group.plan` says: its kernel compiled now."""
    order, leaves, singles = group.plan
    size = int(np.prod(group.shape))
    source, constants = _kernel_source(order, leaves, singles, group, nodes, labels, size)
    kernel = compile_kernel(source, constants, parallel=threads and size >= PARALLEL_MIN_SIZE)
    # compiled now, for the arguments the program passes (flat arrays, single values), so that the
    # first call pays for it, not the first replay (another layout compiles one more variant then)
    numba = backend.numba_module()
    flat = [numba.types.Array(numba.from_dtype(labels[v][1]), 1, "C") for v in (*leaves, *group.sinks)]
    kernel.compile(tuple(flat[: len(leaves)] + [numba.from_dtype(labels[v][1]) for v in singles] + flat[len(leaves) :]))
    return P.FusedCall(
        kernel,
        leaves,
        singles,
        [(v, labels[v][1]) for v in group.sinks],
        group.shape,
        size,
        [nodes[v].instruction.describe() for v in order],
    )


def _kernel_source(order, leaves, singles, group, nodes, labels, size):
    """The loop's Python source and the typed constants it reads."""
    constants: dict[str, Any] = {}

    def constant(value, dtype):
        key = f"C{len(constants)}"
        constants[key] = np.dtype(dtype).type(value)
        return key

    names = {v: f"x{k}" for k, v in enumerate(leaves)}
    names.update({v: f"s{k}" for k, v in enumerate(singles)})
    body = ["        prefer_wide_vectors()"] if backend.wide_vectors() else []
    body += [f"        x{k} = a{k}[i]" for k in range(len(leaves))]
    for v in order:
        node = nodes[v]
        dtype = node.dtype
        operands = []
        for kind, a in node.operands:
            if kind == "scalar":  # typed as the op's float dtype (or, in a comparison, as its array operand's)
                operands.append(constant(a, dtype if dtype.kind == "f" else _array_operand_dtype(node, labels)))
            else:
                operands.append(_cast(names[a], labels[a][1], dtype, node.kind))
        names[v] = f"t{v}"
        body.append(f"        t{v} = {_expression(node, operands, constants, constant)}")
    for k, v in enumerate(group.sinks):
        body.append(f"        o{k}[i] = {names[v]}")
    parameters = [f"a{k}" for k in range(len(leaves))] + [f"s{k}" for k in range(len(singles))]
    parameters += [f"o{k}" for k in range(len(group.sinks))]
    lines = [f"def kernel({', '.join(parameters)}):", f"    for i in prange({size}):"]
    return "\n".join(lines + body) + "\n", constants


def _array_operand_dtype(node, labels):
    return np.result_type(*(labels[a][1] for kind, a in node.operands if kind != "scalar"))


def _cast(name, source_dtype, dtype, kind):
    if kind in _COMPARISONS or kind == "where" or source_dtype == dtype or dtype.kind == "b":
        return name
    return f"np.{dtype.name}({name})"


def _expression(node, operands, constants, constant):
    kind, dtype = node.kind, node.dtype
    if kind in _COMPARISONS:
        return _COMPARISONS[kind].format(*operands)
    if kind in _BINARY:
        return _BINARY[kind].format(*operands)
    if kind in _UNARY:
        text = _UNARY[kind]
        if "ONE" in text:
            text = text.replace("ONE", constant(1, dtype))
        if "ZERO" in text:
            text = text.replace("ZERO", constant(0, dtype))
        return text.format(*operands)
    if kind in _TRANSCENDENTAL:
        vectorized, fallback = _TRANSCENDENTAL[kind]
        if dtype == np.float32:
            return f"{vectorized}({operands[0]})"
        if fallback is None:  # sigmoid in float64: 1 / (1 + exp(-x))
            one = constant(1, dtype)
            return f"({one} / ({one} + np.exp(-{operands[0]})))"
        return f"{fallback}({operands[0]})"
    if kind == "pow":
        base = operands[0]
        exponent = node.instruction.args[1]
        if exponent == 2:
            return f"({base} * {base})"
        if exponent == 3:
            return f"({base} * {base} * {base})"
        if exponent == 0.5:
            return f"np.sqrt({base})"
        return f"({constant(1, dtype)} / {base})"
    if kind == "where":
        return f"({operands[1]} if {operands[0]} else {operands[2]})"
    if kind == "astype":
        return f"np.{dtype.name}({operands[0]})" if dtype.kind == "f" else f"({operands[0]} != 0)"
    raise AssertionError(kind)


# ---- compiling and caching the kernels -----------------------------------------------------------


_compiled: dict[str, Any] = {}


def _cache_folder():
    numba = backend.numba_module()  # sets NUMBA_CACHE_DIR to the user's cache folder unless set
    folder = os.path.join(numba.config.CACHE_DIR, "autograd_core_compiled")
    os.makedirs(folder, exist_ok=True)
    return folder


def _vector_math_version():
    from . import vector_math

    with open(vector_math.__file__, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:12]


def compile_kernel(source: str, constants: dict[str, Any], parallel: bool) -> Any:
    """The kernel of `source` compiled by Numba, from a module file named by the source's hash (so that
    Numba's disk cache serves a second process, and two kernels never share a file). No fastmath: the
    loop does numpy's float operations in the same order and dtype."""
    options = dict(cache=True, error_model="numpy", nogil=True, parallel=parallel)
    header = (
        f"# compiled by autograd_core.compiler.fusion with numba.njit(**{options!r})\n"
        "import numpy as np\n"
        "from numba import prange\n"
        "from autograd_core.compiler.vector_math import exp32, prefer_wide_vectors, sigmoid32, tanh32\n\n"
        + "".join(f"{k} = np.{np.asarray(c).dtype.name}({c.item()!r})\n" for k, c in constants.items())
        + "\n\n"
    )
    text = header + source
    key = hashlib.sha256((text + _vector_math_version()).encode()).hexdigest()[:24]
    found = _compiled.get(key)
    if found is not None:
        return found
    path = os.path.join(_cache_folder(), f"fused_{key}.py")
    if not os.path.exists(path):
        temporary = f"{path}.{os.getpid()}.tmp"
        with open(temporary, "w") as f:
            f.write(text)
        os.replace(temporary, path)  # atomic: a concurrent process sees the whole file or none
    spec = importlib.util.spec_from_file_location(f"autograd_core_fused_{key}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # Numba's disk cache finds the kernel's module by name when it loads
    spec.loader.exec_module(module)
    numba = backend.numba_module()
    kernel = numba.njit(**options)(module.kernel)
    _compiled[key] = kernel
    return kernel
