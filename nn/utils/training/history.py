"""`History`: the rows `fit` records, one per finished epoch; JSON and a plot."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from autograd_core.figures import new_figure, save_figure
from autograd_core.serialization import atomic_write


class History:
    """One row per finished epoch: {"epoch", "lr", "time", "train_loss", "train_<metric>", "val_loss",
    "val_<metric>"} (val_ keys only with validation).

    `history["val_loss"]` is that column as a list; `history.rows` the rows.
    `to_dict()` / `from_dict()`, `save(path)` / `load(path)` (JSON) and `plot(path)`.
    """

    def __init__(self, rows: Iterable[Mapping[str, Any]] = ()) -> None:
        self.rows = [dict(row) for row in rows]

    def append(self, row: Mapping[str, Any]) -> None:
        self.rows.append(dict(row))

    def __len__(self) -> int:
        return len(self.rows)

    def keys(self) -> list[str]:
        """Every column name, in first-seen order."""
        return list(dict.fromkeys(key for row in self.rows for key in row))

    def __contains__(self, key: object) -> bool:
        """Whether `key` is a column (without it, `in` would try the rows' positions as column names)."""
        return key in self.keys()

    def __getitem__(self, key: str) -> list[Any]:
        if key not in self.keys():
            raise KeyError(f"History: no column {key!r}; columns are {self.keys()}")
        return [row.get(key) for row in self.rows]

    def best_epoch(self, monitor: str = "val_loss", mode: str = "min") -> int:
        """The epoch (1-based, as in the rows) with the lowest (mode="min") or highest value of `monitor`."""
        values = np.array(self[monitor], dtype=np.float64)
        best = np.nanargmin(values) if mode == "min" else np.nanargmax(values)
        return self.rows[int(best)]["epoch"]

    def to_dict(self) -> dict[str, list[dict[str, Any]]]:
        return {"epochs": [dict(row) for row in self.rows]}

    @classmethod
    def from_dict(cls, data: Any) -> History:
        if not (
            isinstance(data, dict)
            and isinstance(data.get("epochs"), list)
            and all(isinstance(row, dict) for row in data["epochs"])
        ):
            raise ValueError("History.from_dict: expected {'epochs': [row, ...]} with a dict per row")
        return cls(data["epochs"])

    def to_json(self) -> str:
        """The history as strict JSON: a value that is not finite (NaN, or +-inf from a diverged loss)
        is written as null, which `from_json` and `load` read back as NaN."""
        rows = [{key: _finite_or_none(value) for key, value in row.items()} for row in self.rows]
        return json.dumps({"epochs": rows}, indent=1, allow_nan=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> History:
        data = json.loads(text)
        if isinstance(data, dict) and isinstance(data.get("epochs"), list):
            data = {
                "epochs": [
                    {key: math.nan if value is None else value for key, value in row.items()}
                    if isinstance(row, dict)
                    else row
                    for row in data["epochs"]
                ]
            }
        return cls.from_dict(data)

    def save(self, path: str | os.PathLike[str]) -> str | os.PathLike[str]:
        """Write the history to `path` as JSON (see `to_json`), atomically; returns `path`."""
        atomic_write(path, self.to_json().encode("utf-8"))
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> History:
        with open(path, encoding="utf-8") as handle:
            return cls.from_json(handle.read())

    def plot(self, path: str | os.PathLike[str]) -> str | os.PathLike[str]:
        """Draw the loss curves, and each metric's curves beside them, to an image file (PNG by default)."""
        if not self.rows:
            raise ValueError("History.plot: the history is empty (no epoch finished)")
        metric_names = [key[len("train_") :] for key in self.keys() if key.startswith("train_") and key != "train_loss"]
        panels = ["loss"] + metric_names
        figure = new_figure(ncols=len(panels), width_per_panel=5.0)
        epochs = self["epoch"]
        for ax, name in zip(figure.axes, panels):
            for split, style in (("train", "-o"), ("val", "-s")):
                key = f"{split}_{name}"
                if key in self.keys():
                    ax.plot(epochs, self[key], style, markersize=3, label=split)
            ax.set_xlabel("epoch")
            ax.set_title(name)
            ax.grid(alpha=0.3)
            ax.legend()
        return save_figure(figure, path)


def _finite_or_none(value):
    return None if isinstance(value, float) and not math.isfinite(value) else value
