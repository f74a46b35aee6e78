"""What `fit` shares with its callbacks (`FitState`), the `Callback` base class and `EarlyStopping`."""

from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # for the annotations only: nn does not import optim
    from optim import Optimizer
    from optim.lr_scheduler import LRScheduler

    from ...module import Module
    from .history import History


class FitState:
    """What `fit` shares with its callbacks.

    model, optimizer, scheduler, history: as given to / made by fit.
    epoch: the epoch running or just finished (1-based); batch: the batch index within it (1-based).
    loss: the last batch's loss (a float). logs: the row of the epoch that just finished.
    stop_training: a callback sets it to True to end training after the current epoch.
    """

    def __init__(self, model: Module, optimizer: Optimizer, scheduler: LRScheduler | None, history: History) -> None:
        self.model, self.optimizer, self.scheduler, self.history = model, optimizer, scheduler, history
        self.epoch = 0
        self.batch = 0
        self.loss: float | None = None
        self.logs: dict[str, Any] = {}
        self.stop_training = False


class Callback:
    """Base class of fit callbacks: override the hooks you need; each receives the `FitState`.

    A callback with state that a resumed run needs returns it from `state_dict()` (values that
    `ag.save` can store) and takes it back in `load_state_dict()`.
    """

    def on_train_begin(self, state: FitState) -> None:
        pass

    def on_epoch_begin(self, state: FitState) -> None:
        pass

    def on_batch_end(self, state: FitState) -> None:
        pass

    def on_epoch_end(self, state: FitState) -> None:
        pass

    def on_train_end(self, state: FitState) -> None:
        pass

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        pass


class EarlyStopping(Callback):
    """Stop when `monitor` has not improved by more than `min_delta` for `patience` epochs.

    mode "min" (improved: value < best - min_delta) or "max" (value > best + min_delta); "auto" picks
    "max" for names containing "acc" and "min" otherwise. With `restore_best`, the model gets back the
    weights and buffers of its best epoch when training ends (stopped early or not).
    """

    patience: int
    min_delta: float
    monitor: str
    restore_best: bool
    mode: str
    best: float
    best_epoch: int
    wait: int
    best_weights: dict[str, np.ndarray] | None

    def __init__(
        self,
        patience: int = 5,
        min_delta: float = 0.0,
        monitor: str = "val_loss",
        restore_best: bool = True,
        mode: str = "auto",
    ) -> None:
        if isinstance(patience, bool) or not isinstance(patience, numbers.Integral) or patience < 0:
            raise ValueError(f"EarlyStopping: patience must be an int >= 0, got {patience!r}")
        if not (isinstance(min_delta, numbers.Real) and min_delta >= 0):
            raise ValueError(f"EarlyStopping: min_delta must be a number >= 0, got {min_delta!r}")
        if mode == "auto":
            mode = "max" if "acc" in monitor else "min"
        if mode not in ("min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'min', 'max' or 'auto', got {mode!r}")
        self.patience, self.min_delta, self.monitor, self.restore_best, self.mode = (
            int(patience),
            float(min_delta),
            monitor,
            restore_best,
            mode,
        )
        self.best = math.inf if mode == "min" else -math.inf
        self.best_epoch = 0
        self.wait = 0
        self.best_weights = None

    def _improved(self, value):
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_epoch_end(self, state: FitState) -> None:
        value = monitored_value(state.logs, self.monitor, "EarlyStopping")
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, state.epoch, 0
            if self.restore_best:
                self.best_weights = {name: np.array(t) for name, t in state.model.state_dict().items()}
        else:
            self.wait += 1
            if self.wait >= self.patience:
                state.stop_training = True

    def on_train_end(self, state: FitState) -> None:
        if self.restore_best and self.best_weights is not None:
            state.model.load_state_dict(self.best_weights)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait, "best_weights": self.best_weights}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a `state_dict()`; every entry is checked first, so a failed load changes nothing."""
        expected = {"best", "best_epoch", "wait", "best_weights"}
        if not (isinstance(state_dict, dict) and expected <= state_dict.keys()):
            raise ValueError(
                f"EarlyStopping.load_state_dict: expected a dict with {sorted(expected)}, got {state_dict!r:.200}"
            )
        best, best_epoch, wait, weights = (state_dict[key] for key in ("best", "best_epoch", "wait", "best_weights"))
        if isinstance(best, bool) or not isinstance(best, numbers.Real):
            raise ValueError(f"EarlyStopping.load_state_dict: best must be a number, got {best!r}")
        for name, count in (("best_epoch", best_epoch), ("wait", wait)):
            if isinstance(count, bool) or not isinstance(count, numbers.Integral) or count < 0:
                raise ValueError(f"EarlyStopping.load_state_dict: {name} must be an int >= 0, got {count!r}")
        if not (weights is None or isinstance(weights, dict)):
            raise ValueError(
                f"EarlyStopping.load_state_dict: best_weights must be None or a dict of name -> "
                f"array, got {type(weights).__name__}"
            )
        self.best, self.best_epoch, self.wait = float(best), int(best_epoch), int(wait)
        self.best_weights = None if weights is None else {name: np.asarray(t) for name, t in weights.items()}


def monitored_value(logs, monitor, who):
    if monitor not in logs:
        raise ValueError(
            f"{who}: monitored value {monitor!r} is not among this epoch's values {sorted(logs)}"
            + ("; validation values need val_loader" if monitor.startswith("val_") else "")
        )
    return logs[monitor]
