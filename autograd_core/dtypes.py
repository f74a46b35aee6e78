"""Dtypes and the device, spelled as PyTorch spells them.

A dtype here is a numpy dtype: `ag.float32 is np.dtype("float32")`, so it is accepted wherever numpy's
are (`dtype=`, `.to(dtype)`, `.astype`), and `t.dtype == ag.float32` compares as a PyTorch user expects.
The only device is the CPU: `ag.device("cpu")`, which `t.device` returns; asking for another one raises
an error that says so.
"""

from __future__ import annotations

from typing import Any

import numpy as np

float16 = half = np.dtype(np.float16)
float32 = np.dtype(np.float32)
float64 = double = np.dtype(np.float64)
int8 = np.dtype(np.int8)
int16 = short = np.dtype(np.int16)
int32 = np.dtype(np.int32)
int64 = long = np.dtype(np.int64)
uint8 = np.dtype(np.uint8)
bool_ = np.dtype(np.bool_)

# PyTorch's names that are Python builtins here: reachable as `ag.float`, `ag.int` and `ag.bool`, kept out
# of `__all__` so that `from autograd_core import *` does not shadow the builtins.
ALIASES_SHADOWING_BUILTINS = {"float": float32, "int": int32, "bool": bool_}


class device:
    """PyTorch's device object, for the one device there is: `device("cpu")` (also `device("cpu", 0)`)."""

    __slots__ = ("type", "index")

    def __init__(self, type: str | device = "cpu", index: int | None = None) -> None:
        spelled = str(type)
        name, _, number = spelled.partition(":")
        if name != "cpu":
            raise RuntimeError(
                f"device: autograd-core runs on the CPU only; expected 'cpu', got {spelled!r}"
                + (" (there is no CUDA here: drop .to('cuda') / .cuda() calls)" if name == "cuda" else "")
            )
        self.type: str = "cpu"
        self.index: int | None = int(number) if number else index

    def __repr__(self) -> str:
        return "device(type='cpu')" if self.index is None else f"device(type='cpu', index={self.index})"

    def __str__(self) -> str:
        return "cpu" if self.index is None else f"cpu:{self.index}"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            return str(other).partition(":")[0] == "cpu"
        return isinstance(other, device)

    def __hash__(self) -> int:
        return hash("cpu")


CPU = device("cpu")


def check_device(value: Any, who: str) -> None:
    """Accept None, "cpu", "cpu:N" or a device; raise for any other device, naming `who`."""
    if value is None:
        return
    if not isinstance(value, (str, device)):
        raise TypeError(f"{who}: device must be a string or ag.device, got {type(value).__name__}")
    try:
        device(value)
    except RuntimeError as error:
        raise RuntimeError(f"{who}: {error}") from None


def is_dtype_like(value: Any) -> bool:
    """True for what names a dtype: a numpy dtype, a numpy scalar type, or a Python float/int/bool type."""
    return isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, (np.generic, float, int)))
