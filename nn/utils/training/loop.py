"""The training loop `fit`.

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
returning a batch mean then give the exact dataset mean). Metrics: see
`metrics`.

Checkpoints (see `checkpoint`): with `checkpoint=path`, after every epoch the
whole run is written atomically to `path`. A run stopped at any point (Ctrl-C,
a crash) loses at most the epoch in progress: `fit(..., resume=True)` with the
same arguments loads the checkpoint and re-runs that epoch from its start,
reproducing bit for bit the run that was never interrupted. With `resume=True`
and no file yet, training starts fresh, so the same call serves the first run
and every restart. The checkpoint's directory is checked at the start, and a
checkpoint that does not fit this call is refused before anything is restored.
"""

from __future__ import annotations

import inspect
import numbers
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

import autograd_core as ag
from autograd_core import distributed

from ...parallel import distribute
from ..clip import clip_grad_norm_
from .callbacks import Callback, EarlyStopping, FitState, monitored_value
from .checkpoint import check_checkpoint_path, restore_checkpoint, save_checkpoint
from .history import History
from .metrics import accuracy, is_classification, resolve_metrics

if TYPE_CHECKING:  # for the annotations only: nn does not import optim
    from optim import Optimizer
    from optim.lr_scheduler import LRScheduler

    from ...module import Module

# A metric: metric(output, target) -> the batch's mean, as a float.
Metric = Callable[[ag.Tensor, ag.Tensor], float]


class Loader(Protocol):
    """What fit trains and validates on: batches (inputs, targets), and their number (an `ag.data.DataLoader`)."""

    def __iter__(self) -> Iterator[Any]: ...

    def __len__(self) -> int: ...


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
        raise TypeError(
            f"fit: each batch must be a tuple (*inputs, target), got "
            f"{type(batch).__name__}{'' if not isinstance(batch, (tuple, list)) else f' of {len(batch)}'}"
        )
    return batch[:-1], batch[-1]


def _batch_values(loss, output, target, metric_fns):
    values = {"loss": loss.item()}
    detached = output.detach()
    for name, metric in metric_fns.items():
        values[name] = float(metric(detached, target))
    return values


class _Loop:
    """One `fit` call: its arguments, the shared FitState, and the steps of an epoch."""

    def __init__(
        self,
        model,
        loss_fn,
        optimizer,
        train_loader,
        val_loader,
        scheduler,
        callbacks,
        grad_clip,
        metrics,
        monitor,
        scheduler_interval,
    ):
        self.loss_fn, self.train_loader, self.val_loader = loss_fn, train_loader, val_loader
        self.callbacks, self.grad_clip, self.monitor = callbacks, grad_clip, monitor
        self.metric_fns = resolve_metrics(metrics)
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
    return any(
        p.default is inspect.Parameter.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        for p in parameters
    )


def _default_monitor(callbacks, val_loader):
    for callback in callbacks:
        if isinstance(callback, EarlyStopping):
            return callback.monitor
    return "val_loss" if val_loader is not None else "train_loss"


def _check_arguments(
    model, loss_fn, optimizer, epochs, grad_clip, callbacks, scheduler_interval, checkpoint, resume, train_loader
):
    if not hasattr(model, "parameters") or not callable(model):
        raise TypeError(f"fit: model must be an nn.Module, got {type(model).__name__}")
    if not callable(loss_fn):
        raise TypeError(f"fit: loss_fn must be callable (e.g. nn.CrossEntropyLoss()), got {type(loss_fn).__name__}")
    if not hasattr(optimizer, "step") or not hasattr(optimizer, "param_groups"):
        raise TypeError(f"fit: optimizer must be an optim.Optimizer, got {type(optimizer).__name__}")
    if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral) or epochs < 1:
        raise ValueError(f"fit: epochs must be a positive int, got {epochs!r}")
    if grad_clip is not None and not (isinstance(grad_clip, numbers.Real) and grad_clip > 0):
        raise ValueError(f"fit: grad_clip must be a positive number (the max gradient norm) or None, got {grad_clip!r}")
    for callback in callbacks:
        if not isinstance(callback, Callback):
            raise TypeError(f"fit: callbacks must be nn.utils.Callback instances, got {type(callback).__name__}")
    if scheduler_interval not in ("epoch", "batch"):
        raise ValueError(f"fit: scheduler_interval must be 'epoch' or 'batch', got {scheduler_interval!r}")
    if resume and checkpoint is None:
        raise ValueError("fit: resume=True needs checkpoint= (the file to resume from)")
    if not hasattr(train_loader, "__iter__"):
        raise TypeError(
            f"fit: train_loader must be iterable (an ag.data.DataLoader), got {type(train_loader).__name__}"
        )
    _check_optimizer_trains_model(model, optimizer)


def _check_optimizer_trains_model(model, optimizer):
    """Refuse an optimizer built over another model's parameters: training would change nothing."""
    trained = {id(p) for group in optimizer.param_groups for p in group["params"]}
    parameters = list(model.parameters())
    if parameters and not any(id(p) in trained for p in parameters):
        raise ValueError(
            f"fit: the optimizer holds none of the model's {len(parameters)} parameters "
            f"({type(optimizer).__name__} over {len(trained)} other tensors), so training would "
            "change nothing; build it over this model: optimizer = "
            f"{type(optimizer).__name__}(model.parameters(), ...)"
        )


def fit(
    model: Module,
    loss_fn: Callable[[Any, Any], ag.Tensor],
    optimizer: Optimizer,
    train_loader: Loader,
    val_loader: Loader | None = None,
    epochs: int = 10,
    scheduler: LRScheduler | None = None,
    callbacks: Iterable[Callback] = (),
    grad_clip: float | None = None,
    progress: bool = True,
    checkpoint: str | os.PathLike[str] | None = None,
    resume: bool = False,
    metrics: str | Sequence[str | Metric] | Mapping[str, Metric] | None = "auto",
    *,
    monitor: str | None = None,
    scheduler_interval: str = "epoch",
) -> History:
    """Train `model` for `epochs` epochs and return its `History` (see the module docstring).

    scheduler: stepped once per epoch (scheduler_interval="epoch") or after every optimizer step
        ("batch", e.g. OneCycleLR); a scheduler whose step takes a value (ReduceLROnPlateau) gets the
        monitored one.
    callbacks: `Callback` instances (EarlyStopping, GradientMonitor, your own).
    grad_clip: clip the gradients' total L2 norm to this value before every step.
    progress: a tqdm bar with live loss and metrics, shown only on a terminal.
    checkpoint, resume: a file rewritten atomically after every epoch (its folder must exist and be
        writable: checked before the first epoch); resume=True continues from it, after checking that
        every field fits this call (ValueError before anything is restored otherwise).
    metrics: "auto", None, a list of names / functions, or a dict name -> function.
    monitor: the value ReduceLROnPlateau watches: by default the first EarlyStopping's monitor, else
        "val_loss" with a val_loader and "train_loss" without.
    """
    callbacks = list(callbacks)
    _check_arguments(
        model, loss_fn, optimizer, epochs, grad_clip, callbacks, scheduler_interval, checkpoint, resume, train_loader
    )
    # Under `mpiexec -n N`: DistributedDataParallel and a shard of every batch per rank; only rank 0
    # shows progress and writes the checkpoint.
    model, train_loader = distribute(model, train_loader)
    main_rank = distributed.rank() == 0
    if checkpoint is not None and main_rank:  # the rank that will write it
        check_checkpoint_path(checkpoint)
    monitor = monitor or _default_monitor(callbacks, val_loader)
    loop = _Loop(
        model,
        loss_fn,
        optimizer,
        train_loader,
        val_loader,
        scheduler,
        callbacks,
        grad_clip,
        metrics,
        monitor,
        scheduler_interval,
    )
    state = loop.state
    loaders = [loader for loader in (train_loader, val_loader) if loader is not None]
    if resume and checkpoint is not None and os.path.exists(checkpoint):
        restore_checkpoint(checkpoint, state, callbacks, loaders)

    from tqdm.auto import tqdm

    batches = len(train_loader)
    bar = tqdm(
        total=epochs * batches,
        initial=state.epoch * batches,
        unit="batch",
        dynamic_ncols=True,
        disable=None if progress and main_rank else True,
        file=sys.stderr,
    )
    for callback in callbacks:
        callback.on_train_begin(state)
    try:
        while state.epoch < epochs and not state.stop_training:
            state.epoch += 1
            bar.set_description(f"epoch {state.epoch}/{epochs}")
            loop.run_epoch(bar)
            if checkpoint is not None and main_rank:
                save_checkpoint(checkpoint, state, callbacks, loaders)
    except KeyboardInterrupt:
        if checkpoint is not None and os.path.exists(checkpoint):
            print(
                f"\nfit: interrupted in epoch {state.epoch}; {checkpoint} holds the run up to the end of the "
                f"last finished epoch. Call fit(..., resume=True) to continue from there.",
                file=sys.stderr,
            )
        raise
    finally:
        bar.close()
    for callback in callbacks:
        callback.on_train_end(state)
    return state.history
