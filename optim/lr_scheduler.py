"""Learning-rate schedulers, as `torch.optim.lr_scheduler`.

A scheduler rewrites `group["lr"]` for every parameter group of its optimizer
each time its `step()` is called: once per epoch after `optimizer.step()`
(per batch for OneCycleLR). Building one applies the value for epoch 0.

Every schedule is written in closed form, lr(t) from the group's base lr and
the epoch t. PyTorch updates most of them recursively (lr_t from lr_{t-1});
the two agree to rounding while nothing else edits the learning rates.

A warm-up is `LinearLR` (start_factor < 1 ramping to 1), followed by the main
schedule with `SequentialLR`:

    warmup = LinearLR(opt, start_factor=0.1, total_iters=5)
    decay = CosineAnnealingLR(opt, T_max=95)
    schedule = SequentialLR(opt, [warmup, decay], milestones=[5])
"""

import math
import numbers
from bisect import bisect_right
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import autograd_core as ag

from .optimizer import Optimizer

# lr_lambda(epoch) -> the factor of the base learning rate
LRLambda = Callable[[int], float]

__all__ = [
    "LRScheduler",
    "LambdaLR",
    "StepLR",
    "MultiStepLR",
    "ExponentialLR",
    "CosineAnnealingLR",
    "LinearLR",
    "SequentialLR",
    "OneCycleLR",
    "ReduceLROnPlateau",
]


def _require_optimizer(optimizer, who):
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{who}: expected an optim.Optimizer, got {type(optimizer).__name__}")


def _require_positive_int(value, name, who):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{who}: {name} must be a positive integer, got {value!r}")


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _require_finite(who, values):
    """Each of `values` (name -> a number, or a list/tuple of numbers, one per group) is a finite real number."""
    for name, value in values.items():
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if not _is_number(item):
                raise TypeError(f"{who}: {name} must be a finite number, got {type(item).__name__} {item!r:.60}")
            if not math.isfinite(item):
                raise ValueError(f"{who}: {name} must be a finite number, got {item!r}")


def _same_kind(saved, current):
    """Whether `saved` can replace the attribute value `current` in a scheduler's state: a bool for a bool, a
    number for a number, a string for a string, a list of such for a list (tuples element by element)."""
    if isinstance(current, bool):
        return isinstance(saved, bool)
    if _is_number(current):
        return _is_number(saved)
    if isinstance(current, str):
        return isinstance(saved, str)
    if isinstance(current, tuple):
        return isinstance(saved, (tuple, list)) and len(saved) == len(current) and all(map(_same_kind, saved, current))
    if isinstance(current, list):
        return isinstance(saved, (list, tuple)) and (not current or all(_same_kind(item, current[0]) for item in saved))
    return True


def _per_group(value, name, optimizer, who):
    """A value for each param group: a list/tuple of one per group, or one value shared by all."""
    if isinstance(value, (list, tuple)):
        if len(value) != len(optimizer.param_groups):
            raise ValueError(
                f"{who}: {name} has {len(value)} values but the optimizer has "
                f"{len(optimizer.param_groups)} parameter groups"
            )
        return list(value)
    return [value] * len(optimizer.param_groups)


class LRScheduler:
    """Base class: subclasses implement `get_lr()`, the learning rates at epoch `self.last_epoch`.

    `last_epoch=-1` starts a schedule; another value resumes one, and then the
    optimizer's groups must already hold "initial_lr" (a loaded optimizer state does).
    """

    _not_saved: ClassVar[tuple[str, ...]] = ("optimizer",)  # attributes left out of state_dict()
    # hyperparameters (arguments and attributes) that must be finite numbers, or lists of them
    _finite: ClassVar[tuple[str, ...]] = ()
    # attributes holding one value per param group
    _per_group_state: ClassVar[tuple[str, ...]] = ("base_lrs", "_last_lr", "min_lrs")
    _choices: ClassVar[dict] = {}  # attribute -> the values it may take

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A subclass's own `step` is replayed as a call by `ag.compile`, as the base's is."""
        super().__init_subclass__(**kwargs)
        ag.compiler.replay_overrides(cls, ("step",))

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        who = type(self).__name__
        _require_optimizer(optimizer, who)
        self.optimizer = optimizer
        for i, group in enumerate(optimizer.param_groups):
            if last_epoch == -1:
                group.setdefault("initial_lr", group["lr"])
            elif "initial_lr" not in group:
                raise ValueError(
                    f"{who}: resuming at last_epoch={last_epoch} needs 'initial_lr' in param group "
                    f"{i}; load the optimizer's state_dict first, or start with last_epoch=-1"
                )
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self.step()

    def get_lr(self) -> list[float]:
        raise NotImplementedError

    @ag.compiler.replayed_call
    def step(self) -> None:
        """Advance one epoch and set each group's learning rate."""
        self.last_epoch += 1
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        """The learning rates set by the last `step()`, one per parameter group."""
        return list(self._last_lr)

    def _check_finite(self, values):
        """TypeError/ValueError naming this scheduler and the parameter unless each of its `_finite` in `values`
        (the constructor's arguments, or a state dict) is a finite number."""
        _require_finite(type(self).__name__, {name: values[name] for name in self._finite if name in values})

    def state_dict(self) -> dict[str, Any]:
        return {key: value for key, value in self.__dict__.items() if key not in self._not_saved}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a `state_dict()`; it is checked first, and a failed load changes nothing."""
        self.__dict__.update(self._checked_state(state_dict))

    def _checked_state(self, state_dict):
        """`state_dict` once it is known to fit this scheduler: the same entries as `state_dict()`, each of the
        same kind, one value per param group where there is one per group, finite hyperparameters."""
        who = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, dict):
            raise TypeError(f"{who}: expected a dict, as state_dict() returns, got {type(state_dict).__name__}")
        current = self.state_dict()
        missing, unexpected = sorted(current.keys() - state_dict.keys()), sorted(state_dict.keys() - current.keys())
        if missing or unexpected:
            raise ValueError(
                f"{who}: the state dict is not a {type(self).__name__}'s: missing entries {missing}, "
                f"unexpected entries {unexpected}"
            )
        for key, value in current.items():
            saved = state_dict[key]
            if not _same_kind(saved, value):
                raise ValueError(f"{who}: {key} is {saved!r:.80}, not a value of the kind of {value!r:.80}")
            if key in self._per_group_state and len(saved) != len(self.optimizer.param_groups):
                raise ValueError(
                    f"{who}: {key} has {len(saved)} values but the optimizer has "
                    f"{len(self.optimizer.param_groups)} parameter groups"
                )
            if key in self._choices and saved not in self._choices[key]:
                raise ValueError(f"{who}: {key} must be one of {list(self._choices[key])}, got {saved!r}")
        self._check_finite(state_dict)
        return dict(state_dict)


class LambdaLR(LRScheduler):
    """lr = base_lr * lr_lambda(t); `lr_lambda` is one function or one per parameter group.

    The functions are not part of `state_dict()` (saving code is not possible without pickle).
    """

    _not_saved = ("optimizer", "lr_lambdas")

    def __init__(self, optimizer: Optimizer, lr_lambda: LRLambda | Sequence[LRLambda], last_epoch: int = -1) -> None:
        _require_optimizer(optimizer, "LambdaLR")
        self.lr_lambdas = _per_group(lr_lambda, "lr_lambda", optimizer, "LambdaLR")
        if not all(callable(f) for f in self.lr_lambdas):
            raise TypeError(f"LambdaLR: lr_lambda must be callable (or a list of callables), got {lr_lambda!r}")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [base_lr * f(self.last_epoch) for base_lr, f in zip(self.base_lrs, self.lr_lambdas)]


class StepLR(LRScheduler):
    """lr = base_lr * gamma^floor(t / step_size)."""

    _finite = ("gamma",)

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1) -> None:
        _require_positive_int(step_size, "step_size", "StepLR")
        self._check_finite(locals())
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [base_lr * self.gamma ** (self.last_epoch // self.step_size) for base_lr in self.base_lrs]


class MultiStepLR(LRScheduler):
    """lr = base_lr * gamma^(number of milestones <= t); a milestone listed twice counts twice."""

    _finite = ("milestones", "gamma")

    def __init__(
        self, optimizer: Optimizer, milestones: Sequence[int], gamma: float = 0.1, last_epoch: int = -1
    ) -> None:
        self._check_finite(locals())
        self.milestones, self.gamma = sorted(milestones), gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [base_lr * self.gamma ** bisect_right(self.milestones, self.last_epoch) for base_lr in self.base_lrs]


class ExponentialLR(LRScheduler):
    """lr = base_lr * gamma^t."""

    _finite = ("gamma",)

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self._check_finite(locals())
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [base_lr * self.gamma**self.last_epoch for base_lr in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * t / T_max)) / 2  (rises again after T_max, as PyTorch)."""

    _finite = ("eta_min",)

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1) -> None:
        _require_positive_int(T_max, "T_max", "CosineAnnealingLR")
        self._check_finite(locals())
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        cosine = (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
        return [self.eta_min + (base_lr - self.eta_min) * cosine for base_lr in self.base_lrs]


class LinearLR(LRScheduler):
    """lr = base_lr * factor, the factor going linearly from start_factor to end_factor over total_iters epochs.

    With start_factor < 1 and end_factor = 1 this is a linear warm-up.
    """

    _finite = ("start_factor", "end_factor")

    def __init__(
        self,
        optimizer: Optimizer,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
        last_epoch: int = -1,
    ) -> None:
        self._check_finite(locals())
        if not 0 < start_factor <= 1:
            raise ValueError(f"LinearLR: start_factor must be in (0, 1], got {start_factor!r}")
        if not 0 <= end_factor <= 1:
            raise ValueError(f"LinearLR: end_factor must be in [0, 1], got {end_factor!r}")
        _require_positive_int(total_iters, "total_iters", "LinearLR")
        self.start_factor, self.end_factor, self.total_iters = start_factor, end_factor, total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        progress = min(self.total_iters, self.last_epoch) / self.total_iters
        factor = self.start_factor + (self.end_factor - self.start_factor) * progress
        return [base_lr * factor for base_lr in self.base_lrs]


class SequentialLR(LRScheduler):
    """Runs schedulers[0] until milestones[0], then schedulers[1] from its epoch 0, and so on.

    The usual use is a warm-up followed by the main schedule (see the module docstring).
    """

    _not_saved = ("optimizer", "_schedulers")
    _finite = ("milestones", "_milestones")

    def __init__(
        self, optimizer: Optimizer, schedulers: Sequence[LRScheduler], milestones: Sequence[int], last_epoch: int = -1
    ) -> None:
        _require_optimizer(optimizer, "SequentialLR")
        self._check_finite(locals())
        if not schedulers:
            raise ValueError("SequentialLR: expected at least one scheduler")
        for i, scheduler in enumerate(schedulers):
            if isinstance(scheduler, ReduceLROnPlateau) or not isinstance(scheduler, LRScheduler):
                raise TypeError(
                    f"SequentialLR: schedulers[{i}] must be an epoch-driven LRScheduler "
                    f"(not ReduceLROnPlateau), got {type(scheduler).__name__}"
                )
            if scheduler.optimizer is not optimizer:
                raise ValueError(
                    f"SequentialLR: schedulers[{i}] ({type(scheduler).__name__}) belongs to another optimizer"
                )
        if len(milestones) != len(schedulers) - 1 or list(milestones) != sorted(milestones):
            raise ValueError(
                f"SequentialLR: expected {len(schedulers) - 1} increasing milestones for "
                f"{len(schedulers)} schedulers, got {list(milestones)}"
            )
        self._schedulers, self._milestones = list(schedulers), list(milestones)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        index = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[index]
        scheduler.last_epoch = self.last_epoch - (self._milestones[index - 1] if index else 0)
        scheduler._last_lr = scheduler.get_lr()
        return scheduler._last_lr

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "_schedulers": [s.state_dict() for s in self._schedulers]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a `state_dict()`, the inner schedulers' states included; all are checked before any is loaded."""
        own = self._checked_state(state_dict)
        saved_schedulers = own.pop("_schedulers")
        if len(saved_schedulers) != len(self._schedulers):
            raise ValueError(
                f"SequentialLR.load_state_dict: the state dict holds {len(saved_schedulers)} "
                f"schedulers, this SequentialLR {len(self._schedulers)}"
            )
        checked = [scheduler._checked_state(saved) for scheduler, saved in zip(self._schedulers, saved_schedulers)]
        self.__dict__.update(own)
        for scheduler, state in zip(self._schedulers, checked):
            scheduler.__dict__.update(state)


def _cosine_anneal(start, end, fraction):
    return end + (start - end) / 2.0 * (math.cos(math.pi * fraction) + 1)


def _linear_anneal(start, end, fraction):
    return (end - start) * fraction + start


_ANNEALERS = {"cos": _cosine_anneal, "linear": _linear_anneal}


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith & Topin, 2017), stepped once per batch, as PyTorch.

    The lr anneals from max_lr / div_factor up to max_lr over the first
    pct_start of total_steps, then down to max_lr / (div_factor * final_div_factor)
    (three_phase: back to the initial lr, then down to the minimum). With
    cycle_momentum, momentum (SGD) or beta1 (Adam family) moves inversely,
    between max_momentum and base_momentum. Group keys "initial_lr", "max_lr",
    "min_lr", "max_momentum" and "base_momentum" hold the end points.
    """

    _finite = ("max_lr", "base_momentum", "max_momentum", "div_factor", "final_div_factor", "pct_start")
    _choices: ClassVar[dict] = {"anneal_strategy": tuple(_ANNEALERS), "_momentum_key": ("betas", "momentum")}

    def __init__(
        self,
        optimizer: Optimizer,
        max_lr: float | Sequence[float],
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        cycle_momentum: bool = True,
        base_momentum: float | Sequence[float] = 0.85,
        max_momentum: float | Sequence[float] = 0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        last_epoch: int = -1,
    ) -> None:
        _require_optimizer(optimizer, "OneCycleLR")
        self._check_finite(locals())
        if div_factor <= 0 or final_div_factor <= 0:
            raise ValueError(
                f"OneCycleLR: div_factor and final_div_factor must be > 0 (they divide max_lr), got "
                f"{div_factor!r} and {final_div_factor!r}"
            )
        if total_steps is None:
            if epochs is None or steps_per_epoch is None:
                raise ValueError("OneCycleLR: give total_steps, or both epochs and steps_per_epoch")
            _require_positive_int(epochs, "epochs", "OneCycleLR")
            _require_positive_int(steps_per_epoch, "steps_per_epoch", "OneCycleLR")
            total_steps = epochs * steps_per_epoch
        _require_positive_int(total_steps, "total_steps", "OneCycleLR")
        if not (isinstance(pct_start, float) and 0 <= pct_start <= 1):
            raise ValueError(f"OneCycleLR: pct_start must be a float in [0, 1], got {pct_start!r}")
        if anneal_strategy not in _ANNEALERS:
            raise ValueError(
                f"OneCycleLR: anneal_strategy must be one of {sorted(_ANNEALERS)}, got {anneal_strategy!r}"
            )
        self.total_steps, self.anneal_strategy, self.cycle_momentum = total_steps, anneal_strategy, cycle_momentum
        # (last step of the phase, lr from, lr to, momentum from, momentum to), as group keys
        warmup_end = float(pct_start * total_steps) - 1
        if three_phase:
            self._phases = [
                (warmup_end, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                (2 * warmup_end, "max_lr", "initial_lr", "base_momentum", "max_momentum"),
                (total_steps - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum"),
            ]
        else:
            self._phases = [
                (warmup_end, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                (total_steps - 1, "max_lr", "min_lr", "base_momentum", "max_momentum"),
            ]
        if cycle_momentum and not {"momentum", "betas"} & optimizer.defaults.keys():
            raise ValueError(
                f"OneCycleLR: cycle_momentum=True needs an optimizer with momentum or betas, "
                f"{type(optimizer).__name__} has neither; pass cycle_momentum=False"
            )
        self._momentum_key = "betas" if "betas" in optimizer.defaults else "momentum"
        if last_epoch == -1:
            for group, peak, high, low in zip(
                optimizer.param_groups,
                _per_group(max_lr, "max_lr", optimizer, "OneCycleLR"),
                _per_group(max_momentum, "max_momentum", optimizer, "OneCycleLR"),
                _per_group(base_momentum, "base_momentum", optimizer, "OneCycleLR"),
            ):
                group.update(initial_lr=peak / div_factor, max_lr=peak, min_lr=peak / div_factor / final_div_factor)
                if cycle_momentum:
                    group.update(max_momentum=high, base_momentum=low)
                    self._set_momentum(group, high)
        super().__init__(optimizer, last_epoch)

    def _set_momentum(self, group, value):
        if self._momentum_key == "betas":
            group["betas"] = (value, *group["betas"][1:])
        else:
            group["momentum"] = value

    def get_lr(self) -> list[float]:
        """The lrs at step t (and, with cycle_momentum, the momentum set as a side effect, as PyTorch)."""
        t = self.last_epoch
        if t > self.total_steps:
            raise ValueError(f"OneCycleLR: stepped {t} times but total_steps is {self.total_steps}")
        start = 0.0
        for i, (end, *keys) in enumerate(self._phases):
            if t <= end or i == len(self._phases) - 1:
                lr_from, lr_to, momentum_from, momentum_to = keys
                fraction = (t - start) / (end - start)
                break
            start = end
        anneal = _ANNEALERS[self.anneal_strategy]
        for group in self.optimizer.param_groups:
            if self.cycle_momentum:
                self._set_momentum(group, anneal(group[momentum_from], group[momentum_to], fraction))
        return [anneal(group[lr_from], group[lr_to], fraction) for group in self.optimizer.param_groups]


class ReduceLROnPlateau(LRScheduler):
    """Multiply the lr by `factor` once a metric has stopped improving for more than `patience` epochs.

    step(metric) is called once per epoch with the monitored value. A value
    improves on the best so far when it beats best * (1 - threshold) (mode
    "min", threshold_mode "rel"; "max" and "abs" as PyTorch). After a
    reduction, `cooldown` epochs pass before bad epochs count again; no lr
    goes below `min_lr`, and reductions smaller than `eps` are skipped.
    """

    _finite = ("factor", "threshold", "eps", "min_lr", "min_lrs")
    _choices: ClassVar[dict] = {"mode": ("min", "max"), "threshold_mode": ("rel", "abs")}

    def __init__(
        self,
        optimizer: Optimizer,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float | Sequence[float] = 0,
        eps: float = 1e-8,
    ) -> None:
        _require_optimizer(optimizer, "ReduceLROnPlateau")
        self._check_finite(locals())
        if not 0 <= factor < 1:
            raise ValueError(f"ReduceLROnPlateau: factor must be in [0, 1), got {factor!r}")
        if mode not in ("min", "max"):
            raise ValueError(f"ReduceLROnPlateau: mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"ReduceLROnPlateau: threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}")
        for name, value in (("patience", patience), ("cooldown", cooldown)):
            if not isinstance(value, numbers.Integral) or value < 0:
                raise ValueError(f"ReduceLROnPlateau: {name} must be an integer >= 0, got {value!r}")
        self.optimizer = optimizer
        self.mode, self.factor, self.patience, self.cooldown = mode, factor, patience, cooldown
        self.threshold, self.threshold_mode, self.eps = threshold, threshold_mode, eps
        self.min_lrs = _per_group(min_lr, "min_lr", optimizer, "ReduceLROnPlateau")
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = self.cooldown_counter = self.last_epoch = 0
        self._last_lr = [group["lr"] for group in optimizer.param_groups]

    def _is_better(self, value):
        if self.mode == "min":
            bound = self.best * (1 - self.threshold) if self.threshold_mode == "rel" else self.best - self.threshold
            return value < bound
        bound = self.best * (1 + self.threshold) if self.threshold_mode == "rel" else self.best + self.threshold
        return value > bound

    # Takes the monitored value, as PyTorch's (whose signature differs from its base class's too).
    def step(self, metrics: float) -> None:  # type: ignore[override]
        """Record this epoch's metric value and reduce the lr if it has plateaued."""
        value = float(metrics)
        self.last_epoch += 1
        if self._is_better(value):
            self.best, self.num_bad_epochs = value, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            for group, min_lr in zip(self.optimizer.param_groups, self.min_lrs):
                reduced = max(group["lr"] * self.factor, min_lr)
                if group["lr"] - reduced > self.eps:
                    group["lr"] = reduced
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]
