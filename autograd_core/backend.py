"""Which kernels run: the numpy reference or the Numba JIT.

This is the one place the choice is made. Every computation that has a Numba
implementation is a `Kernel` holding both implementations side by side;
`set()` rebinds all of them at once, so a call pays no dispatch cost.

Numba is imported lazily, on the first call of a kernel under the numba
backend, so `import autograd_core` stays fast.
"""
import importlib.util
import os
import types

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


class Kernel:
    """A computation with a numpy reference and an optional Numba implementation.

    `numba_factory` is a zero-argument callable returning the jitted function;
    it runs on first use, so neither numba nor the compiled code is loaded
    until a kernel is actually called under the numba backend.
    """

    __slots__ = ("name", "numpy", "numba_factory", "_numba", "impl")

    def __init__(self, name, numpy_impl, numba_factory=None):
        self.name = name
        self.numpy = numpy_impl
        self.numba_factory = numba_factory
        self._numba = None
        self.impl = numpy_impl
        self._bind(_current)

    def numba(self):
        """The Numba implementation (built on first request)."""
        if self._numba is None:
            self._numba = self.numba_factory()
        return self._numba

    def _bind(self, backend):
        if backend == "numba" and self.numba_factory is not None:
            self.impl = self._first_numba_call
        else:
            self.impl = self.numpy

    def _first_numba_call(self, *args, **kwargs):
        self.impl = self.numba()
        return self.impl(*args, **kwargs)

    def __call__(self, *args, **kwargs):
        return self.impl(*args, **kwargs)

    def __repr__(self):
        return f"Kernel({self.name!r}, backend={_current!r})"


_current = _initial_backend()
_kernels = []
_listeners = []


def kernel(name, numpy_impl, numba_factory=None):
    """Register a kernel; it follows every later `set()`."""
    k = Kernel(name, numpy_impl, numba_factory)
    _kernels.append(k)
    return k


def on_change(callback):
    """Call `callback(backend_name)` now and after every `set()`."""
    _listeners.append(callback)
    callback(_current)


def get():
    """The active backend's name: "numba" or "numpy"."""
    return _current


def set(name):
    """Switch every kernel to the named backend ("numba" or "numpy")."""
    global _current
    if name not in BACKENDS:
        raise ValueError(f"backend.set: unknown backend {name!r}; expected one of {BACKENDS}")
    if name == "numba" and not _numba_importable():
        raise RuntimeError("backend.set('numba'): numba is not installed; pip install numba")
    _current = name
    for k in _kernels:
        k._bind(name)
    for callback in _listeners:
        callback(name)


# ---- compiling Numba code ---------------------------------------------------------------------
# Kernel modules keep their Numba code as plain Python functions, so importing them never imports
# numba; their `numba_factory` compiles what it needs through the two functions below.

_jitable_helpers = []  # a list: this module's `set` is the backend switch


def jitable(*helpers):
    """Make the plain Python functions `helpers` callable from Numba-compiled code (idempotent).

    Each helper is inlined into its callers at Numba's IR level, so that LLVM optimizes the loop
    body whole. Numba checks only the caller's source file before reusing a cached compilation, so
    a helper must live in the same module as the kernels calling it.
    """
    from numba.extending import register_jitable

    for helper in helpers:
        if helper not in _jitable_helpers:
            register_jitable(inline="always")(helper)
            _jitable_helpers.append(helper)


def jit(fn, parallel=False, fastmath=False, constants=None):
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
    """
    import numba

    constants = constants or {}
    suffix = "".join(f"_{name}_{value}" for name, value in constants.items()) + ("_parallel" if parallel else "")
    variant = types.FunctionType(fn.__code__, dict(fn.__globals__, prange=numba.prange, **constants),
                                 fn.__name__ + suffix, fn.__defaults__, fn.__closure__)
    variant.__qualname__ = fn.__qualname__ + suffix
    variant.__module__ = fn.__module__
    return numba.njit(cache=True, error_model="numpy", nogil=True, parallel=parallel,
                      fastmath=fastmath)(variant)
