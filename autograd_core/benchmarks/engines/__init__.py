"""The engines the runner measures: one adapter module per engine.

Every adapter module defines `ENGINES`, a list of `Engine` rows (usually one).
An engine implements some of the workload kinds of `autograd_core.benchmarks.workloads`; each
implementation is a builder

    builder(problem) -> (step, grads)

where `problem` is the workload's dict of numpy arrays (the runner hands every
engine its own copy, so in-place training never leaks between engines),
`step()` runs one forward + backward (+ optimizer update for training
workloads) and returns the loss as a Python float (which also waits for any
asynchronous work), and `grads()` returns the gradients of the latest step as
numpy arrays, in the order `autograd_core.benchmarks.workloads` documents for that kind.

Adding an engine is one module here plus its name in `_MODULES`. Adapters
import their library inside their functions, so listing an engine that is not
installed costs nothing until the runner asks for it.
"""

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field


def _nothing():
    return None


@dataclass
class Engine:
    key: str
    label: str
    load: Callable[[], str]
    """Imports the library, pins its thread count, returns its version; ImportError if missing."""
    workloads: dict
    """Workload kind -> builder(problem) -> (step, grads)."""
    compiled: bool = False
    """The whole step is traced and compiled on its first call (its first-call time is compile time)."""
    activate: Callable[[], None] = field(default=_nothing)
    """Runs before every check and timed block of this engine, outside the timed region."""


# Column order of the results: the reference peers first, autograd-core last.
_MODULES = (
    "torch_eager",
    "jax_jit",
    "hips_autograd",
    "mygrad_eager",
    "micrograd_scalar",
    "numpy_by_hand",
    "autograd_core_eager",
    "autograd_core_compiled",
)


def all_engines():
    """Every known engine, keyed by `Engine.key`, in column order."""
    engines = {}
    for module_name in _MODULES:
        module = importlib.import_module(f"{__name__}.{module_name}")
        for engine in module.ENGINES:
            engines[engine.key] = engine
    return engines
