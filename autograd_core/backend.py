"""Which implementation runs: the numpy reference, a Numba kernel, or its threaded variant.

This is the one place the choice is made, in two steps:

- the backend (`set`, `get`, AUTOGRAD_CORE_BACKEND): under "numpy" every op runs its numpy
  reference; under "numba" the ops that have a compiled kernel ask the policy;
- the policy table `POLICY`: for each kernel, the dtypes it is compiled for, whether its inputs
  must be C-contiguous, the size below which numpy wins and the size from which threads pay.
  `choose` is the one predicate every kernel and the optimizers' fused updates ask, per call.

`trace()` records what ran and why, per call; `explain()` prints the policy table.

Every computation that has a Numba implementation is a `Kernel` holding both implementations
side by side; `set()` rebinds all of them at once, so a call under the numpy backend pays no
dispatch cost. Numba is imported lazily, on the first call of a kernel under the numba backend,
so `import autograd_core` stays fast; its on-disk cache goes to a per-user directory (`_numba`).
"""

import builtins
import functools
import importlib.util
import os
import types
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple

import numpy as np

BACKENDS = ("numpy", "numba")
_ENV_VAR = "AUTOGRAD_CORE_BACKEND"


def _numba_importable():
    return importlib.util.find_spec("numba") is not None


def _initial_backend():
    name = os.environ.get(_ENV_VAR, "").strip().lower()
    if not name:
        return "numba" if _numba_importable() else "numpy"
    if name not in BACKENDS:
        raise ValueError(f"{_ENV_VAR}={name!r}: expected one of {BACKENDS}")
    return name


# ---- the policy ---------------------------------------------------------------------------------

NUMPY, NUMBA, NUMBA_PARALLEL = "numpy", "numba", "numba parallel"

FLOAT32, FLOAT64 = np.dtype(np.float32), np.dtype(np.float64)
FLOATS, FLOAT64_ONLY = (FLOAT32, FLOAT64), (FLOAT64,)

# Loops over this many elements or more run on Numba's threads. Measured on 2 cores shared with
# other work (`python -m autograd_core.benchmarks.kernels --threads`): a threaded call cost 6-15 ms more up to
# 256K elements (the other core is busy), won or lost by turns at 1M, and won in every kernel at 4M;
# a quiet machine with more cores would want a lower threshold.
PARALLEL_MIN_SIZE = 1 << 22

# Below this mean number of elements per tensor an optimizer's group takes the per-tensor numpy update
# even under the numba backend: a compiled call per tensor (~0.5 us to dispatch, plus a flat view of
# each array) costs more than fusing saves on tiny tensors. Measured with
# `python -m autograd_core.benchmarks.optim_step --crossover` (4 float32 tensors, 2 cores, one BLAS thread),
# after the kernels moved from one typed list per group to one call per tensor: Adam's fused step wins
# from the smallest size measured, 1024 elements per tensor (48 vs 52 us; 92 vs 175 us at 16384),
# SGD with momentum's from 8192 (44 vs 46 us; 37 vs 33 us at 1024).
FUSED_MIN_MEAN_SIZE = {"adam_update": 1 << 10, "sgd_update": 1 << 13}

# Why a dtype is left out of a kernel's table: numpy's float32 exp and tanh are vectorized (AVX2),
# while compiled code calls scalar libm per element (vector math needs an SVML-patched LLVM, which
# llvmlite's wheels are not); for float64 numpy calls scalar libm too, and the fused pass wins.
# Each choice is measured: `python -m autograd_core.benchmarks.kernels --dtype float32` (and float64).
EXP_BOUND = "exp-bound: numpy's vectorized float32 exp wins"


class Rule(NamedTuple):
    """When one kernel's compiled code runs (else its numpy reference)."""

    dtypes: tuple  # the dtypes it is compiled for; the inputs must all share one of them
    contiguous: bool = False  # the inputs must be C-contiguous
    min_size: int = 0  # below this size, numpy (the optimizers: mean elements per tensor)
    threads_from: int | None = None  # the threaded variant from this size on; None: always serial
    note: str = ""  # why dtypes are left out


def _activation_rules(name, forward_dtypes, backward_dtypes, note=EXP_BOUND):
    """An elementwise activation's rows: the forward maps any layout (reshape(-1)); the backward asks for
    contiguous inputs, because a compiled loop over the stride-0 gradient that `sum` passes back
    measured 6.5 ms at 1e6 elements against numpy's 1.1 ms (ad hoc, commit e11148e). Not settled:
    re-measured ad hoc at 1e6 (compiled loop vs reference, stride-0 g) relu float32 took 1.4 vs
    0.7 ms, but relu float64 0.7 vs 1.2 ms and gelu 19 vs 148 ms (numpy's erf is per element)."""
    rules = {}
    if forward_dtypes:
        rules[f"{name}_forward"] = Rule(forward_dtypes, False, 0, PARALLEL_MIN_SIZE, note)
    if backward_dtypes:
        rules[f"{name}_backward"] = Rule(backward_dtypes, True, 0, PARALLEL_MIN_SIZE, note)
    return rules


POLICY = {
    **_activation_rules("relu", FLOATS, FLOATS),
    **_activation_rules("leaky_relu", FLOATS, FLOATS),
    **_activation_rules("elu", FLOATS, FLOATS),
    **_activation_rules("sigmoid", FLOAT64_ONLY, FLOATS),
    **_activation_rules("tanh", FLOAT64_ONLY, FLOATS),
    **_activation_rules("softplus", FLOATS, FLOAT64_ONLY),
    **_activation_rules("silu", FLOAT64_ONLY, FLOAT64_ONLY),
    # erf's backward, 2/sqrt(pi) e^(-x^2) g, is numpy's vectorized exp: no kernel
    **_activation_rules("erf", FLOATS, ()),
    **_activation_rules("gelu", FLOATS, FLOATS),
    **_activation_rules("gelu_tanh", FLOAT64_ONLY, FLOAT64_ONLY),
    # the GEMMs stay BLAS; the bias + activation epilogue may thread, the backward's column sums may not
    "linear_forward": Rule(FLOATS, threads_from=PARALLEL_MIN_SIZE),
    "linear_backward": Rule(FLOATS),
    "softmax_forward": Rule(FLOAT64_ONLY, threads_from=PARALLEL_MIN_SIZE, note=EXP_BOUND),
    "softmax_backward": Rule(FLOATS, threads_from=PARALLEL_MIN_SIZE),
    "log_softmax_forward": Rule(FLOAT64_ONLY, threads_from=PARALLEL_MIN_SIZE, note=EXP_BOUND),
    "log_softmax_backward": Rule(FLOAT64_ONLY, threads_from=PARALLEL_MIN_SIZE, note=EXP_BOUND),
    "softmax_cross_entropy_forward": Rule(FLOATS, threads_from=PARALLEL_MIN_SIZE),
    "softmax_cross_entropy_backward": Rule(FLOATS, threads_from=PARALLEL_MIN_SIZE),
    # a sum or mean over every axis (kernels/reduce.py): added in float64, vectorized
    "sum_forward": Rule(FLOATS, contiguous=True, threads_from=PARALLEL_MIN_SIZE),
    "mean_forward": Rule(FLOATS, contiguous=True, threads_from=PARALLEL_MIN_SIZE),
    # serial: batch norm's sums run across the rows, and threads did not pay at the measured sizes
    "layer_norm_forward": Rule(FLOATS),
    "layer_norm_backward": Rule(FLOATS),
    "batch_norm_forward": Rule(FLOATS),
    "batch_norm_backward": Rule(FLOATS),
    # serial: repeated indices would make threads write the same row
    "scatter_add_forward": Rule(FLOATS),
    # convolution and pooling (kernels/conv.py): the loops copy a strided input to C order themselves, so
    # any layout; serial: threads over the planes would be safe, but were not measured
    "add_windows": Rule(FLOATS),
    # stride-1 convolutions as direct loops where they beat im2col (kernels/conv.py: `direct_refusal`); serial:
    # Numba's threads wait for the cores OpenBLAS's idle workers spin on after each GEMM
    "conv": Rule(FLOATS),
    "conv_transpose": Rule(FLOATS),
    "conv_weight_grad": Rule(FLOATS),
    "max_pool_positions": Rule(FLOATS),
    # an LSTM layer's steps (kernels/recurrent.py): the elementwise work around each step's GEMM, serial
    "lstm_layer_forward": Rule(FLOATS),
    "lstm_layer_backward": Rule(FLOATS),
    # the scalars are cast to one dtype for the whole group, so its parameters must share it
    "sgd_update": Rule(FLOATS, min_size=FUSED_MIN_MEAN_SIZE["sgd_update"]),
    "adam_update": Rule(FLOATS, min_size=FUSED_MIN_MEAN_SIZE["adam_update"]),
}

# Why the compiled code was refused (formatted only when tracing or raising).
_BACKEND, _DTYPE, _MIXED, _LAYOUT, _SMALL = "backend", "dtype", "mixed", "layout", "small"


def choose(
    name: str,
    arrays: Sequence[Any],
    size: int = 0,
    unsupported: str | None = None,
    required: bool = False,
    record: bool = True,
) -> str:
    """Which implementation of kernel `name` takes `arrays`: NUMPY, NUMBA or NUMBA_PARALLEL.

    The one predicate: the backend, then `POLICY[name]` (dtypes, layout, `size` against the rule's
    minimum and its threads threshold). `unsupported` is the caller's reason, as a short phrase,
    when the compiled code cannot take these inputs at all (e.g. "empty input"). With `required`
    (an optimizer's fused=True) the size minimum is waived and a refusal raises a RuntimeError that
    says why. Under `trace()` each call is recorded with its reason (unless `record` is False: a
    check made ahead of time, not a kernel call).

    Runs on every kernel call, so the refusal is a code (formatted only when tracing or raising),
    and dtypes are compared by identity where they can be (numpy keeps one object per builtin
    dtype; `in` tries identity first), `==` on dtypes being slow.
    """
    rule = POLICY[name]
    refusal = unsupported
    if refusal is None:
        dtype = getattr(arrays[0], "dtype", None)
        if _current != "numba":
            refusal = _BACKEND
        elif dtype not in rule.dtypes:
            refusal = _DTYPE
        else:
            for a in arrays:
                if type(a) is not np.ndarray or a.dtype is not dtype:
                    refusal = _MIXED
                    break
                if rule.contiguous and not a.flags.c_contiguous:
                    refusal = _LAYOUT
                    break
            else:
                if size < rule.min_size and not required:
                    refusal = _SMALL
    if refusal is None:
        chosen = NUMBA if rule.threads_from is None or size < rule.threads_from else NUMBA_PARALLEL
    elif required:
        raise RuntimeError(
            f"{name}: fused=True, but the fused kernel cannot run: {_reason(rule, arrays, size, refusal)}"
        )
    else:
        chosen = NUMPY
    if _traces and record:
        reason = _reason(rule, arrays, size, refusal, chosen)
        for t in _traces:
            t.record(name, chosen, reason)
    return chosen


def _dtype_names(dtypes):
    return ", ".join(d.name for d in dtypes) or "no dtype"


def _reason(rule, arrays, size, refusal, chosen=NUMPY):
    """The words for a choice: what the inputs were, and which rule decided."""
    dtype = getattr(arrays[0], "dtype", type(arrays[0]).__name__) if arrays else None
    if refusal is None:
        layout = ", contiguous" if rule.contiguous else ""
        threads = f", size {size} >= {rule.threads_from}" if chosen == NUMBA_PARALLEL else ""
        return f"{dtype}{layout}{threads}"
    if refusal == _BACKEND:
        return "numpy backend"
    if refusal == _DTYPE:
        note = f"; {rule.note}" if rule.note else ""
        return f"{dtype} inputs are not in the table (compiled for {_dtype_names(rule.dtypes)}{note})"
    if refusal == _MIXED:
        kinds = sorted({str(getattr(a, "dtype", type(a).__name__)) for a in arrays})
        return f"inputs are not numpy arrays of one dtype ({', '.join(kinds)})"
    if refusal == _LAYOUT:
        return "a non-contiguous input (numpy handles strides and broadcasts well)"
    if refusal == _SMALL:
        return f"size {size} below {rule.min_size}"
    return refusal


# ---- what ran: trace() and explain() -------------------------------------------------------------


class Call(NamedTuple):
    kernel: str
    implementation: str
    reason: str


class Trace:
    """The kernel calls made while a `trace()` block ran, in order (`calls`); printing it gives
    one row per distinct (kernel, implementation, reason) with its count."""

    def __init__(self) -> None:
        self.calls: list[Call] = []

    def record(self, kernel: str, implementation: str, reason: str) -> None:
        """Add one call (the policy and the kernels call this while the trace is open)."""
        self.calls.append(Call(kernel, implementation, reason))

    def implementations(self, kernel: str) -> builtins.set[str]:
        """The implementations that ran for `kernel` (a set: empty if it never ran)."""
        return {c.implementation for c in self.calls if c.kernel == kernel}

    def __str__(self) -> str:
        rows = [(c.kernel, c.implementation, c.reason, str(n)) for c, n in Counter(self.calls).items()]
        return _table(("kernel", "ran", "why", "calls"), rows)

    def __repr__(self):
        return f"Trace({len(self.calls)} calls)"


_traces: list[Trace] = []  # the open trace() blocks; empty, the per-call cost of tracing is one truth test


@contextmanager
def trace() -> Iterator[Trace]:
    """Record which implementation each kernel call runs, and why:

        with ag.backend.trace() as t:
            loss = model(x).sum(); loss.backward(); opt.step()
        print(t)   # linear_forward  numba  float32 ...

    Recorded are the calls of every op that has a kernel (`POLICY`'s rows: forwards, backwards and
    the optimizers' updates), from every thread; ops without a kernel always run numpy.
    """
    recorder = Trace()
    _traces.append(recorder)
    _rebind()
    try:
        yield recorder
    finally:
        _traces.remove(recorder)
        _rebind()


def is_tracing() -> bool:
    """Whether a `trace()` block is open."""
    return bool(_traces)


def explain() -> str:
    """The policy as a printable table: per kernel, the dtypes it is compiled for, its layout
    requirement, its size thresholds, and what the active backend makes of it."""
    rows = []
    for name, rule in POLICY.items():
        rows.append(
            (
                name,
                _dtype_names(rule.dtypes),
                "C-contiguous" if rule.contiguous else "any",
                str(rule.min_size) if rule.min_size else "-",
                str(rule.threads_from) if rule.threads_from is not None else "never",
            )
        )
    header = f"backend: {_current}" + ("" if _current == "numba" else " (every op runs its numpy reference)")
    return header + "\n" + _table(("kernel", "numba for", "layout", "numpy below", "threads from"), rows)


def _table(header, rows):
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in (header, *rows))


# ---- kernels and the switch ----------------------------------------------------------------------


class Kernel:
    """A computation with a numpy reference and an optional Numba implementation.

    `numba_factory` is a zero-argument callable returning the jitted function;
    it runs on first use, so neither numba nor the compiled code is loaded
    until a kernel is actually called under the numba backend.
    """

    __slots__ = ("name", "numpy", "numba_factory", "_numba", "impl")

    _numba: Callable[..., Any] | None
    numba_factory: Callable[[], Callable[..., Any]] | None

    def __init__(
        self, name: str, numpy_impl: Callable[..., Any], numba_factory: Callable[[], Callable[..., Any]] | None = None
    ) -> None:
        self.name = name
        self.numpy = numpy_impl
        self.numba_factory = numba_factory
        self._numba = None
        self.impl = numpy_impl
        self._bind(_current)

    def numba(self) -> Callable[..., Any]:
        """The Numba implementation (built on first request)."""
        if self._numba is None:
            if self.numba_factory is None:
                raise RuntimeError(f"kernel {self.name}: no Numba implementation, only the numpy reference")
            self._numba = self.numba_factory()
        return self._numba

    def _bind(self, backend):
        if backend == "numba" and self.numba_factory is not None:
            self.impl = self._first_numba_call
        else:
            self.impl = self._traced_numpy if _traces else self.numpy

    def _traced_numpy(self, *args, **kwargs):
        for t in _traces:
            t.record(self.name, NUMPY, "numpy backend")
        return self.numpy(*args, **kwargs)

    def _first_numba_call(self, *args, **kwargs):
        self.impl = self.numba()
        return self.impl(*args, **kwargs)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.impl(*args, **kwargs)

    def __repr__(self):
        return f"Kernel({self.name!r}, backend={_current!r})"


_current = _initial_backend()
_kernels: list[Kernel] = []
_listeners: list[Callable[[str], None]] = []


def kernel(
    name: str, numpy_impl: Callable[..., Any], numba_factory: Callable[[], Callable[..., Any]] | None = None
) -> Kernel:
    """Register a kernel; it follows every later `set()`."""
    k = Kernel(name, numpy_impl, numba_factory)
    _kernels.append(k)
    return k


def on_change(callback: Callable[[str], None]) -> None:
    """Call `callback(backend_name)` now, after every `set()`, and when a `trace()` starts or ends."""
    _listeners.append(callback)
    callback(_current)


def get() -> str:
    """The active backend's name: "numba" or "numpy"."""
    return _current


def set(name: str) -> None:
    """Switch every kernel to the named backend ("numba" or "numpy")."""
    global _current
    if name not in BACKENDS:
        raise ValueError(f"backend.set: unknown backend {name!r}; expected one of {BACKENDS}")
    if name == "numba" and not _numba_importable():
        raise RuntimeError("backend.set('numba'): numba is not installed; pip install numba")
    _current = name
    _rebind()


def _rebind():
    """Rebind every kernel and tell the listeners, after a backend switch or a trace's start and end."""
    for k in _kernels:
        k._bind(_current)
    for callback in _listeners:
        callback(_current)


# ---- compiling Numba code ---------------------------------------------------------------------
# Kernel modules keep their Numba code as plain Python functions, so importing them never imports
# numba; their `numba_factory` compiles what it needs through the functions below.


def numba_module() -> types.ModuleType:
    """The `numba` module, its disk cache pointed at a per-user directory first.

    Numba's default is a `__pycache__` beside the source, which writes into the source tree or an
    installed package (read-only, or shared by users). NUMBA_CACHE_DIR, when the user sets it, wins;
    numba reads it at import, so it is set before; `numba.config` covers a numba imported earlier.
    """
    if "NUMBA_CACHE_DIR" not in os.environ:
        import platformdirs

        os.environ["NUMBA_CACHE_DIR"] = platformdirs.user_cache_dir("autograd-core")
    import numba

    config: Any = numba.config  # numba ships no type hints for its settings
    if not config.CACHE_DIR:
        config.CACHE_DIR = os.environ["NUMBA_CACHE_DIR"]
    return numba


WIDE_VECTORS_ENV_VAR = "AUTOGRAD_CORE_WIDE_VECTORS"


@functools.cache
def wide_vectors() -> bool:
    """Whether `ag.compile`'s fused loops ask LLVM for 512-bit vectors: AUTOGRAD_CORE_WIDE_VECTORS=1 or
    0 when set, else on a CPU with AVX-512 unless NUMBA_CPU_NAME names a generic target. LLVM vectorizes
    at 256 bits by default there (older AVX-512 chips lowered their clock on wide instructions);
    measured on this project's Xeon (AVX-512; the loop alone, median of 500 calls): the sigmoid * tanh +
    relu loop over 1e4 float32 took 14.7 us against 17.9 us, over 1e6 on two threads 0.79 ms against
    0.96 ms. Adam's update, bound by division and square root, did not gain (33 against 31 us for 55,000
    elements), so the hand-written kernels keep LLVM's default, but for the direct convolution loops
    (`jit(wide=True)`: LeNet's first forward, one thread, 176 against 210 us)."""
    chosen = os.environ.get(WIDE_VECTORS_ENV_VAR, "").strip()
    if chosen:
        if chosen not in ("0", "1"):
            raise ValueError(f"{WIDE_VECTORS_ENV_VAR}={chosen!r}: expected 0 or 1")
        return chosen == "1"
    numba_module()
    import llvmlite.binding

    if os.environ.get("NUMBA_CPU_NAME"):
        return False
    return bool(llvmlite.binding.get_host_cpu_features().get("avx512f", False))


_jitable_helpers: list[Callable[..., Any]] = []  # a list: this module's `set` is the backend switch


def jitable(*helpers: Callable[..., Any]) -> None:
    """Make the plain Python functions `helpers` callable from Numba-compiled code (idempotent).

    Each helper is inlined into its callers at Numba's IR level, so that LLVM optimizes the loop
    body whole. Numba checks only the caller's source file before reusing a cached compilation, so
    a helper must live in the same module as the kernels calling it.
    """
    register_jitable = numba_module().extending.register_jitable
    for helper in helpers:
        if helper not in _jitable_helpers:
            register_jitable(inline="always")(helper)
            _jitable_helpers.append(helper)


def jit(
    fn: Callable[..., Any],
    parallel: bool = False,
    fastmath: bool | builtins.set[str] = False,
    constants: dict[str, Any] | None = None,
    wide: bool = False,
) -> Callable[..., Any]:
    """`fn` compiled by Numba: cached on disk, numpy's float error model, the GIL released.

    Kernel modules write `prange` for loops that may run on threads, with `prange = range` at
    module level so that importing them does not import numba; the compiled copy of `fn` sees
    `numba.prange` instead, which is `range` unless `parallel=True`.

    `constants` maps global names read by `fn` to values that Numba compiles in as constants: an
    elementwise loop is compiled once per activation, so that the branch choosing the activation
    disappears and LLVM vectorizes the loop (passed as an argument, the branch stayed in the loop
    and made it 10 times slower). The constants are globals of `fn` only: a helper it calls reads
    its own module's globals, so `fn` passes such a value to it as an argument.

    Each variant is compiled from a copy of `fn` under its own name, because Numba's disk cache
    keys a function by module, name and bytecode only: variants under one name would overwrite each
    other's cache entries.

    error_model="numpy": x / 0 gives inf or nan as numpy does (Python's model tests every division
    and stops LLVM from vectorizing). `fastmath` takes LLVM flags; reductions pass
    {"reassoc", "contract"} so that sums vectorize (reordering and fused multiply-add stay within
    float tolerance; "nnan" and "ninf" would not: inf and nan must propagate as in numpy).

    With `wide`, the calls of `prefer_wide_vectors()` in `fn` (a no-op name in its module) ask
    LLVM for 512-bit vectors where `wide_vectors()` says so (`compiler.vector_math`), else compile to
    nothing.
    """
    numba = numba_module()
    constants = dict(constants or {})
    suffix = "".join(f"_{name}_{value}" for name, value in constants.items()) + ("_parallel" if parallel else "")
    if wide:
        from .compiler import vector_math

        hint = vector_math.prefer_wide_vectors if wide_vectors() else vector_math.keep_default_vectors
        constants["prefer_wide_vectors"] = hint
        suffix += "_wide" if hint is vector_math.prefer_wide_vectors else ""
    variant = types.FunctionType(
        fn.__code__,
        dict(fn.__globals__, prange=numba.prange, **constants),
        fn.__name__ + suffix,
        fn.__defaults__,
        fn.__closure__,
    )
    variant.__qualname__ = fn.__qualname__ + suffix
    variant.__module__ = fn.__module__
    return numba.njit(cache=True, error_model="numpy", nogil=True, parallel=parallel, fastmath=fastmath)(variant)
