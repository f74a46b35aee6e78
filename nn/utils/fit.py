"""The training loop `fit`, the `History` it returns, callbacks, `EarlyStopping` and checkpoints.

    history = nn.utils.fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters()),
                           train_loader, val_loader, epochs=30,
                           callbacks=[nn.utils.EarlyStopping(patience=5)],
                           checkpoint="run.ckpt", resume=True)
    history.plot("training.png")
    history.save("history.json")

One epoch: for every batch `(*inputs, target)` of `train_loader`, in training
mode: zero_grad, `output = model(*inputs)`, `loss = loss_fn(output, target)`,
backward, optional gradient-norm clipping, `optimizer.step()`, a per-batch
scheduler step, then each callback's `on_batch_end`. Then validation on
`val_loader` (eval mode, no_grad), the per-epoch scheduler step (a
ReduceLROnPlateau-like scheduler, whose `step` takes the metric, is fed the
monitored value), the history row, each callback's `on_epoch_end`, and the
checkpoint.

Epoch losses and metrics are means over samples: each batch's value is
weighted by its number of samples (a loss with reduction="mean" and a metric
returning a batch mean then give the exact dataset mean).

Metrics are functions `metric(output, target) -> float`, the mean over the
batch, called with the model's output (detached) and the target. `metrics`
is "auto" (accuracy when the output holds class scores, shape (..., classes),
and the targets are integers of shape (...); nothing otherwise), a dict
name -> function, or a list of functions and names from `METRICS`.

Checkpoints: with `checkpoint=path`, after every epoch the whole run is written
atomically to `path` (an `ag.save` file): model and optimizer state, scheduler
state, the epoch, the history, the callbacks' states (EarlyStopping's best
weights) and every random generator's state (the project's, numpy's and
Python's global ones, and each DataLoader's own shuffling generator). A run
stopped at any point (Ctrl-C, a crash) loses at most the epoch in progress:
`fit(..., resume=True)` with the same arguments loads the checkpoint and
re-runs that epoch from its start, reproducing bit for bit the run that was
never interrupted. With `resume=True` and no file yet, training starts fresh,
so the same call serves the first run and every restart.
"""
import inspect
import io
import json
import math
import numbers
import os
import random
import sys
import time

import numpy as np

import autograd_core as ag
from autograd_core import distributed
from autograd_core.serialization import atomic_write

from ..parallel import distribute
from .clip import clip_grad_norm_

CHECKPOINT_FORMAT = "autograd_core.fit/1"


# ---- metrics ---------------------------------------------------------------------------------

def accuracy(output, target):
    """Fraction of samples whose highest score is the target class: mean(argmax(output, -1) == target)."""
    return float(np.mean(np.argmax(output.data, axis=-1) == target.data))


METRICS = {"accuracy": accuracy}


def is_classification(output, target):
    """Whether `output` holds class scores for integer `target`: shapes (..., classes) and (...)."""
    return (target.dtype.kind in "iu" and output.ndim == target.ndim + 1
            and output.shape[:-1] == target.shape and output.shape[-1] >= 2)


def _resolve_metrics(metrics):
    """{name: function} for `metrics`, or None for "auto" (decided on the first batch)."""
    if isinstance(metrics, str):
        if metrics == "auto":
            return None
        metrics = [metrics]
    if metrics is None:
        return {}
    pairs = metrics.items() if isinstance(metrics, dict) else ((None, m) for m in metrics)
    resolved = {}
    for name, metric in pairs:
        if isinstance(metric, str):
            if metric not in METRICS:
                raise ValueError(f"fit: unknown metric {metric!r}; known metrics are {sorted(METRICS)}, "
                                 "or pass a function metric(output, target) -> float")
            name, metric = name or metric, METRICS[metric]
        if not callable(metric):
            raise TypeError(f"fit: a metric must be a name or a function metric(output, target) -> float, "
                            f"got {type(metric).__name__}")
        resolved[name or getattr(metric, "__name__", f"metric{len(resolved)}")] = metric
    return resolved


# ---- history ---------------------------------------------------------------------------------

class History:
    """One row per finished epoch: {"epoch", "lr", "time", "train_loss", "train_<metric>", "val_loss",
    "val_<metric>"} (val_ keys only with validation).

    `history["val_loss"]` is that column as a list; `history.rows` the rows.
    `to_dict()` / `from_dict()`, `save(path)` / `load(path)` (JSON) and `plot(path)`.
    """

    def __init__(self, rows=()):
        self.rows = [dict(row) for row in rows]

    def append(self, row):
        self.rows.append(dict(row))

    def __len__(self):
        return len(self.rows)

    def keys(self):
        """Every column name, in first-seen order."""
        return list(dict.fromkeys(key for row in self.rows for key in row))

    def __getitem__(self, key):
        if key not in self.keys():
            raise KeyError(f"History: no column {key!r}; columns are {self.keys()}")
        return [row.get(key) for row in self.rows]

    def best_epoch(self, monitor="val_loss", mode="min"):
        """The epoch (1-based, as in the rows) with the lowest (mode="min") or highest value of `monitor`."""
        values = np.array(self[monitor], dtype=np.float64)
        best = np.nanargmin(values) if mode == "min" else np.nanargmax(values)
        return self.rows[int(best)]["epoch"]

    def to_dict(self):
        return {"epochs": [dict(row) for row in self.rows]}

    @classmethod
    def from_dict(cls, data):
        if not (isinstance(data, dict) and isinstance(data.get("epochs"), list)):
            raise ValueError("History.from_dict: expected {'epochs': [row, ...]}")
        return cls(data["epochs"])

    def to_json(self):
        return json.dumps(self.to_dict(), indent=1)

    def save(self, path):
        """Write the history to `path` as JSON, atomically; returns `path`."""
        atomic_write(path, self.to_json().encode("utf-8"))
        return path

    @classmethod
    def load(cls, path):
        with open(path, encoding="utf-8") as handle:
            return cls.from_dict(json.load(handle))

    def plot(self, path):
        """Draw the loss curves, and each metric's curves beside them, to an image file (PNG by default)."""
        if not self.rows:
            raise ValueError("History.plot: the history is empty (no epoch finished)")
        metric_names = [key[len("train_"):] for key in self.keys() if key.startswith("train_") and key != "train_loss"]
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


def new_figure(ncols, width_per_panel, height=4.0):
    """A matplotlib Figure with `ncols` panels on an Agg canvas: no pyplot, so no window and no
    global backend change."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width_per_panel * ncols, height), layout="constrained")
    FigureCanvasAgg(figure)
    figure.subplots(1, ncols, squeeze=False)
    return figure


def save_figure(figure, path):
    """Render `figure` in the format named by `path`'s extension (PNG without one), atomically."""
    extension = os.path.splitext(os.fspath(path))[1].lstrip(".").lower() or "png"
    buffer = io.BytesIO()
    figure.savefig(buffer, format=extension, dpi=120)
    atomic_write(path, buffer.getvalue())
    return path


# ---- callbacks -------------------------------------------------------------------------------

class FitState:
    """What `fit` shares with its callbacks.

    model, optimizer, scheduler, history: as given to / made by fit.
    epoch: the epoch running or just finished (1-based); batch: the batch index within it (1-based).
    loss: the last batch's loss (a float). logs: the row of the epoch that just finished.
    stop_training: a callback sets it to True to end training after the current epoch.
    """

    def __init__(self, model, optimizer, scheduler, history):
        self.model, self.optimizer, self.scheduler, self.history = model, optimizer, scheduler, history
        self.epoch = 0
        self.batch = 0
        self.loss = None
        self.logs = {}
        self.stop_training = False


class Callback:
    """Base class of fit callbacks: override the hooks you need; each receives the `FitState`.

    A callback with state that a resumed run needs returns it from `state_dict()` (values that
    `ag.save` can store) and takes it back in `load_state_dict()`.
    """

    def on_train_begin(self, state):
        pass

    def on_epoch_begin(self, state):
        pass

    def on_batch_end(self, state):
        pass

    def on_epoch_end(self, state):
        pass

    def on_train_end(self, state):
        pass

    def state_dict(self):
        return {}

    def load_state_dict(self, state_dict):
        pass


class EarlyStopping(Callback):
    """Stop when `monitor` has not improved by more than `min_delta` for `patience` epochs.

    mode "min" (improved: value < best - min_delta) or "max" (value > best + min_delta); "auto" picks
    "max" for names containing "acc" and "min" otherwise. With `restore_best`, the model gets back the
    weights and buffers of its best epoch when training ends (stopped early or not).
    """

    def __init__(self, patience=5, min_delta=0.0, monitor="val_loss", restore_best=True, mode="auto"):
        if isinstance(patience, bool) or not isinstance(patience, numbers.Integral) or patience < 0:
            raise ValueError(f"EarlyStopping: patience must be an int >= 0, got {patience!r}")
        if not (isinstance(min_delta, numbers.Real) and min_delta >= 0):
            raise ValueError(f"EarlyStopping: min_delta must be a number >= 0, got {min_delta!r}")
        if mode == "auto":
            mode = "max" if "acc" in monitor else "min"
        if mode not in ("min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'min', 'max' or 'auto', got {mode!r}")
        self.patience, self.min_delta, self.monitor, self.restore_best, self.mode = (
            int(patience), float(min_delta), monitor, restore_best, mode)
        self.best = math.inf if mode == "min" else -math.inf
        self.best_epoch = 0
        self.wait = 0
        self.best_weights = None

    def _improved(self, value):
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_epoch_end(self, state):
        value = monitored_value(state.logs, self.monitor, "EarlyStopping")
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, state.epoch, 0
            if self.restore_best:
                self.best_weights = {name: np.array(t.data) for name, t in state.model.state_dict().items()}
        else:
            self.wait += 1
            if self.wait >= self.patience:
                state.stop_training = True

    def on_train_end(self, state):
        if self.restore_best and self.best_weights is not None:
            state.model.load_state_dict(self.best_weights)

    def state_dict(self):
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait,
                "best_weights": self.best_weights}

    def load_state_dict(self, state_dict):
        self.best, self.best_epoch, self.wait = state_dict["best"], state_dict["best_epoch"], state_dict["wait"]
        weights = state_dict["best_weights"]
        self.best_weights = None if weights is None else {name: np.asarray(t) for name, t in weights.items()}


def monitored_value(logs, monitor, who):
    if monitor not in logs:
        raise ValueError(f"{who}: monitored value {monitor!r} is not among this epoch's values {sorted(logs)}"
                         + ("; validation values need val_loader" if monitor.startswith("val_") else ""))
    return logs[monitor]


# ---- the loop --------------------------------------------------------------------------------

class _Means:
    """Sample-weighted running means of the loss and metrics over one epoch."""

    def __init__(self):
        self.sums = {}
        self.count = 0

    def add(self, n, values):
        self.count += n
        for name, value in values.items():
            self.sums[name] = self.sums.get(name, 0.0) + n * value

    def means(self, prefix):
        """The means over the samples of every rank (in a data-parallel job each saw its own share)."""
        totals = np.array([self.count, *self.sums.values()], dtype=np.float64)
        distributed.all_reduce_array(totals, "sum")
        return {prefix + name: total / totals[0] for name, total in zip(self.sums, totals[1:])}


def _split_batch(batch):
    """`(inputs, target)` of one batch `(*inputs, target)`."""
    if not (isinstance(batch, (tuple, list)) and len(batch) >= 2):
        raise TypeError(f"fit: each batch must be a tuple (*inputs, target), got "
                        f"{type(batch).__name__}{'' if not isinstance(batch, (tuple, list)) else f' of {len(batch)}'}")
    return batch[:-1], batch[-1]


def _batch_values(loss, output, target, metric_fns):
    values = {"loss": loss.item()}
    detached = output.detach()
    for name, metric in metric_fns.items():
        values[name] = float(metric(detached, target))
    return values


class _Loop:
    """One `fit` call: its arguments, the shared FitState, and the steps of an epoch."""

    def __init__(self, model, loss_fn, optimizer, train_loader, val_loader, scheduler, callbacks, grad_clip,
                 metrics, monitor, scheduler_interval):
        self.loss_fn, self.train_loader, self.val_loader = loss_fn, train_loader, val_loader
        self.callbacks, self.grad_clip, self.monitor = callbacks, grad_clip, monitor
        self.metric_fns = _resolve_metrics(metrics)
        self.per_batch_scheduler = scheduler is not None and scheduler_interval == "batch"
        # ReduceLROnPlateau's step(metrics) takes the monitored value; other schedulers' step() takes nothing.
        self.plateau = scheduler is not None and _step_takes_a_value(scheduler)
        self.state = FitState(model, optimizer, scheduler, History())

    def _forward(self, batch):
        inputs, target = _split_batch(batch)
        output = self.state.model(*inputs)
        loss = self.loss_fn(output, target)
        if self.metric_fns is None:
            self.metric_fns = {"accuracy": accuracy} if is_classification(output, target) else {}
        return loss, output, target

    def train_epoch(self, bar):
        state = self.state
        state.model.train()
        means = _Means()
        for state.batch, batch in enumerate(self.train_loader, 1):
            state.optimizer.zero_grad()
            loss, output, target = self._forward(batch)
            loss.backward()
            if self.grad_clip is not None:
                clip_grad_norm_(state.model.parameters(), self.grad_clip)
            state.optimizer.step()
            if self.per_batch_scheduler:
                state.scheduler.step()
            values = _batch_values(loss, output, target, self.metric_fns)
            state.loss = values["loss"]
            means.add(len(target), values)
            for callback in self.callbacks:
                callback.on_batch_end(state)
            bar.update(1)
            bar.set_postfix({name: f"{value:.4g}" for name, value in values.items()}, refresh=False)
        if means.count == 0:
            raise ValueError("fit: train_loader produced no batches")
        return means.means("train_")

    def evaluate(self):
        if self.val_loader is None:
            return {}
        model = self.state.model
        model.eval()
        means = _Means()
        with ag.no_grad():
            for batch in self.val_loader:
                loss, output, target = self._forward(batch)
                means.add(len(target), _batch_values(loss, output, target, self.metric_fns))
        model.train()
        if means.count == 0:
            raise ValueError("fit: val_loader produced no batches")
        return means.means("val_")

    def step_scheduler(self, row):
        scheduler = self.state.scheduler
        if scheduler is None or self.per_batch_scheduler:
            return
        if self.plateau:
            scheduler.step(monitored_value(row, self.monitor, "fit (ReduceLROnPlateau)"))
        else:
            scheduler.step()

    def run_epoch(self, bar):
        state = self.state
        for callback in self.callbacks:
            callback.on_epoch_begin(state)
        sampler = getattr(self.train_loader, "sampler", None)
        if hasattr(sampler, "set_epoch"):  # a DistributedSampler: a new permutation, the same on every rank
            sampler.set_epoch(state.epoch)
        lr = state.optimizer.param_groups[0]["lr"]
        started = time.perf_counter()
        row = {"epoch": state.epoch, "lr": lr, **self.train_epoch(bar), **self.evaluate()}
        row["time"] = time.perf_counter() - started
        self.step_scheduler(row)
        state.history.append(row)
        state.logs = row
        for callback in self.callbacks:
            callback.on_epoch_end(state)
        bar.set_postfix({key: f"{value:.4g}" for key, value in row.items() if key.startswith(("train_", "val_"))})


def _step_takes_a_value(scheduler):
    parameters = inspect.signature(scheduler.step).parameters.values()
    return any(p.default is inspect.Parameter.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
               for p in parameters)


def _default_monitor(callbacks, val_loader):
    for callback in callbacks:
        if isinstance(callback, EarlyStopping):
            return callback.monitor
    return "val_loss" if val_loader is not None else "train_loss"


def _check_arguments(model, loss_fn, optimizer, epochs, grad_clip, callbacks, scheduler_interval, checkpoint,
                     resume, train_loader):
    if not hasattr(model, "parameters") or not callable(model):
        raise TypeError(f"fit: model must be an nn.Module, got {type(model).__name__}")
    if not callable(loss_fn):
        raise TypeError(f"fit: loss_fn must be callable (e.g. nn.CrossEntropyLoss()), got {type(loss_fn).__name__}")
    if not hasattr(optimizer, "step") or not hasattr(optimizer, "param_groups"):
        raise TypeError(f"fit: optimizer must be an optim.Optimizer, got {type(optimizer).__name__}")
    if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral) or epochs < 1:
        raise ValueError(f"fit: epochs must be a positive int, got {epochs!r}")
    if grad_clip is not None and not (isinstance(grad_clip, numbers.Real) and grad_clip > 0):
        raise ValueError(f"fit: grad_clip must be a positive number (the max gradient norm) or None, "
                         f"got {grad_clip!r}")
    for callback in callbacks:
        if not isinstance(callback, Callback):
            raise TypeError(f"fit: callbacks must be nn.utils.Callback instances, got {type(callback).__name__}")
    if scheduler_interval not in ("epoch", "batch"):
        raise ValueError(f"fit: scheduler_interval must be 'epoch' or 'batch', got {scheduler_interval!r}")
    if resume and checkpoint is None:
        raise ValueError("fit: resume=True needs checkpoint= (the file to resume from)")
    if not hasattr(train_loader, "__iter__"):
        raise TypeError(f"fit: train_loader must be iterable (an ag.data.DataLoader), got "
                        f"{type(train_loader).__name__}")


def fit(model, loss_fn, optimizer, train_loader, val_loader=None, epochs=10, scheduler=None, callbacks=(),
        grad_clip=None, progress=True, checkpoint=None, resume=False, metrics="auto", *, monitor=None,
        scheduler_interval="epoch"):
    """Train `model` for `epochs` epochs and return its `History` (see the module docstring).

    scheduler: stepped once per epoch (scheduler_interval="epoch") or after every optimizer step
        ("batch", e.g. OneCycleLR); a scheduler whose step takes a value (ReduceLROnPlateau) gets the
        monitored one.
    callbacks: `Callback` instances (EarlyStopping, GradientMonitor, your own).
    grad_clip: clip the gradients' total L2 norm to this value before every step.
    progress: a tqdm bar with live loss and metrics, shown only on a terminal.
    checkpoint, resume: a file rewritten atomically after every epoch; resume=True continues from it.
    metrics: "auto", None, a list of names / functions, or a dict name -> function.
    monitor: the value ReduceLROnPlateau watches: by default the first EarlyStopping's monitor, else
        "val_loss" with a val_loader and "train_loss" without.
    """
    callbacks = list(callbacks)
    _check_arguments(model, loss_fn, optimizer, epochs, grad_clip, callbacks, scheduler_interval, checkpoint,
                     resume, train_loader)
    # Under `mpiexec -n N`: DistributedDataParallel and a shard of every batch per rank; only rank 0
    # shows progress and writes the checkpoint.
    model, train_loader = distribute(model, train_loader)
    main_rank = distributed.rank() == 0
    monitor = monitor or _default_monitor(callbacks, val_loader)
    loop = _Loop(model, loss_fn, optimizer, train_loader, val_loader, scheduler, callbacks, grad_clip, metrics,
                 monitor, scheduler_interval)
    state = loop.state
    loaders = [loader for loader in (train_loader, val_loader) if loader is not None]
    if resume and os.path.exists(checkpoint):
        _restore_checkpoint(checkpoint, state, callbacks, loaders)

    from tqdm.auto import tqdm

    batches = len(train_loader)
    bar = tqdm(total=epochs * batches, initial=state.epoch * batches, unit="batch", dynamic_ncols=True,
               disable=None if progress and main_rank else True, file=sys.stderr)
    for callback in callbacks:
        callback.on_train_begin(state)
    try:
        while state.epoch < epochs and not state.stop_training:
            state.epoch += 1
            bar.set_description(f"epoch {state.epoch}/{epochs}")
            loop.run_epoch(bar)
            if checkpoint is not None and main_rank:
                _save_checkpoint(checkpoint, state, callbacks, loaders)
    except KeyboardInterrupt:
        if checkpoint is not None and os.path.exists(checkpoint):
            print(f"\nfit: interrupted in epoch {state.epoch}; {checkpoint} holds the run up to the end of the "
                  f"last finished epoch. Call fit(..., resume=True) to continue from there.", file=sys.stderr)
        raise
    finally:
        bar.close()
    for callback in callbacks:
        callback.on_train_end(state)
    return state.history


# ---- checkpoints -----------------------------------------------------------------------------

def _loader_generators(loaders):
    # DataLoader keeps its shuffling generator private; without its state a resumed run would shuffle
    # differently from the uninterrupted one.
    return [getattr(loader, "generator", None) for loader in loaders]


def _random_states(loaders):
    return {
        "autograd_core": ag.default_generator().bit_generator.state,
        "numpy": np.random.get_state(),
        "python": random.getstate(),
        "loaders": [None if g is None else g.bit_generator.state for g in _loader_generators(loaders)],
    }


def _set_random_states(states, loaders):
    ag.default_generator().bit_generator.state = states["autograd_core"]
    name, keys, position, has_gauss, cached_gaussian = states["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), position, has_gauss, cached_gaussian))
    version, internal, gauss_next = states["python"]
    random.setstate((version, tuple(internal), gauss_next))
    for generator, state in zip(_loader_generators(loaders), states["loaders"]):
        if generator is not None and state is not None:
            generator.bit_generator.state = state


def _save_checkpoint(path, state, callbacks, loaders):
    ag.save({
        "format": CHECKPOINT_FORMAT,
        "epoch": state.epoch,
        "stop_training": state.stop_training,
        "model": state.model.state_dict(),
        "optimizer": state.optimizer.state_dict(),
        "scheduler": None if state.scheduler is None else state.scheduler.state_dict(),
        "history": state.history.to_dict(),
        "callbacks": [{"type": type(callback).__name__, "state": callback.state_dict()} for callback in callbacks],
        "random": _random_states(loaders),
    }, path)


def _restore_checkpoint(path, state, callbacks, loaders):
    saved = ag.load(path)
    if not (isinstance(saved, dict) and saved.get("format") == CHECKPOINT_FORMAT):
        raise ValueError(f"fit: {path} is not a fit checkpoint (no format {CHECKPOINT_FORMAT!r})")
    saved_callbacks = saved["callbacks"]
    kinds = [entry["type"] for entry in saved_callbacks]
    if kinds != [type(callback).__name__ for callback in callbacks]:
        raise ValueError(f"fit: the checkpoint {path} was written with callbacks {kinds}, this call has "
                         f"{[type(c).__name__ for c in callbacks]}; resume with the same callbacks")
    if (saved["scheduler"] is None) != (state.scheduler is None):
        raise ValueError(f"fit: the checkpoint {path} was written {'without' if saved['scheduler'] is None else 'with'}"
                         " a scheduler and this call differs; resume with the same arguments")
    state.model.load_state_dict(saved["model"])
    state.optimizer.load_state_dict(saved["optimizer"])
    if state.scheduler is not None:
        state.scheduler.load_state_dict(saved["scheduler"])
    for callback, entry in zip(callbacks, saved_callbacks):
        callback.load_state_dict(entry["state"])
    state.history = History.from_dict(saved["history"])
    state.epoch, state.stop_training = saved["epoch"], saved["stop_training"]
    state.logs = state.history.rows[-1] if state.history.rows else {}
    _set_random_states(saved["random"], loaders)
