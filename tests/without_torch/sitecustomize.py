"""Hide PyTorch from this interpreter when AUTOGRAD_CORE_HIDE_TORCH=1, so the suite can be run as if it were
not installed (the oracle tests must skip cleanly, everything else must pass).

Python imports this file at start-up because tests/conftest.py puts this folder on PYTHONPATH, which reaches
every subprocess a test starts (the CLI, the MPI ranks, the notebook kernels); conftest also runs
`hide_torch()` in the test process itself.
"""

import os
import sys

_HIDDEN = "torch"


class _WithoutTorch:
    """A meta-path finder that answers "not found" for torch and its submodules and asks the finder it
    wraps about everything else: `import torch` raises ModuleNotFoundError and
    `importlib.util.find_spec("torch")` returns None, exactly as when torch is not installed."""

    def __init__(self, finder):
        self._finder = finder

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == _HIDDEN:
            return None
        find_spec = getattr(self._finder, "find_spec", None)
        return find_spec(name, path, target) if find_spec is not None else None

    def __getattr__(self, attribute):  # invalidate_caches, find_distributions, ...
        return getattr(self._finder, attribute)


def hide_torch():
    """Wrap every finder on sys.meta_path (once); refuse if torch is already imported."""
    if _HIDDEN in sys.modules:
        raise RuntimeError("AUTOGRAD_CORE_HIDE_TORCH=1, but torch was imported before it could be hidden")
    sys.meta_path[:] = [
        finder if isinstance(finder, _WithoutTorch) else _WithoutTorch(finder) for finder in sys.meta_path
    ]


if os.environ.get("AUTOGRAD_CORE_HIDE_TORCH") == "1":
    hide_torch()
