"""The `Optimizer` base class: everything an optimizer does except its update rule.

Parameter groups, hyperparameter validation, lazy per-parameter state,
skipping of frozen parameters and of parameters without a gradient,
`maximize`, `zero_grad`, `state_dict` / `load_state_dict` all live here. A
subclass gives its defaults to `__init__` and implements

- `_init_state(param, group)`: the state of one parameter before its first
  step (a dict of numpy arrays and numbers), and
- `_update(group, params, grads, states)`: one step over the parameters of a
  group that have a gradient, as numpy arrays, updated in place.

An optimizer with a fused kernel (SGD, Adam, AdamW) names it in `FUSED_KERNEL` and takes
`fused=None | True | False`, kept per group as PyTorch does: None lets the kernel policy decide
(`ag.backend.choose`: the numba backend, one float32 or float64 dtype across the group, and at
least `ag.backend.FUSED_MIN_MEAN_SIZE[kernel]` elements per tensor on average); True runs the fused kernel
or raises an error saying why it cannot; False runs the per-tensor numpy path.
"""

import math
import numbers
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

import numpy as np

import autograd_core as ag
from autograd_core import Tensor

# What an optimizer is built over: Tensors, or parameter groups ({"params": [...], hyperparameter overrides}).
ParamsT = Iterable[Tensor] | Iterable[dict[str, Any]]

_NON_NEGATIVE = ("a finite number >= 0", lambda v: v >= 0)
_POSITIVE = ("a finite number > 0", lambda v: v > 0)
_FRACTION = ("a number in [0, 1]", lambda v: 0 <= v <= 1)

# Every hyperparameter an optimizer may take: (what it must be, the test). The bounds are
# PyTorch's, except that eps must be strictly positive (eps = 0 divides by zero) and that
# infinities are refused. betas, a pair, are checked apart.
_HYPERPARAMETER_RULES = {
    "lr": _NON_NEGATIVE,
    "momentum": _NON_NEGATIVE,
    "weight_decay": _NON_NEGATIVE,
    "lr_decay": _NON_NEGATIVE,
    "initial_accumulator_value": _NON_NEGATIVE,
    "momentum_decay": _NON_NEGATIVE,
    "eps": _POSITIVE,
    "alpha": _FRACTION,
    "rho": _FRACTION,
}


def _is_number(v):
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _ordered(params, who):
    if isinstance(params, (set, frozenset)):
        raise TypeError(
            f"{who}: params must be an ordered collection (state_dict identifies parameters by "
            "position), got a set; use a list"
        )
    return list(params)


class Optimizer:
    """Base class of all optimizers (see the module docstring for what a subclass supplies).

    `params` is an iterable of Tensors, or of dicts (parameter groups) each
    holding "params" and any hyperparameters that override the defaults for
    that group, as in PyTorch.
    """

    defaults: dict[str, Any]
    state: defaultdict[Tensor, dict[str, Any]]
    param_groups: list[dict[str, Any]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A subclass's own `step`/`zero_grad` are replayed as calls by `ag.compile`, as the base's are."""
        super().__init_subclass__(**kwargs)
        ag.compiler.replay_overrides(cls, ("step", "zero_grad"))

    def __init__(self, params: ParamsT, defaults: dict[str, Any]) -> None:
        name = type(self).__name__
        if isinstance(params, ag.Tensor):
            raise TypeError(
                f"{name}: params must be an iterable of Tensors or of dicts, got a single Tensor; pass [tensor]"
            )
        groups = _ordered(params, name)
        if not groups:
            raise ValueError(f"{name}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        self.defaults = dict(defaults)
        self.state = defaultdict(dict)
        self.param_groups = []
        for group in groups:
            self.add_param_group(group)

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {key}: {value}" for key, value in sorted(group.items()) if key != "params"]
        return "\n".join(lines + [")"])

    # ---- groups ----

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters, with hyperparameters defaulting to the optimizer's `defaults`."""
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(f"{name}.add_param_group: expected a dict, got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError(f"{name}.add_param_group: the group has no 'params' entry")
        params = param_group["params"]
        params = [params] if isinstance(params, ag.Tensor) else _ordered(params, name)
        for p in params:
            if not isinstance(p, ag.Tensor):
                raise TypeError(f"{name}: params must be Tensors, got {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(
                    f"{name}: can't optimize a non-leaf Tensor (shape {p.shape}, made by "
                    f"{getattr(p.grad_fn, 'name', 'an op')}); optimize the leaf it was computed from"
                )
        ids = {id(p) for p in params}
        if len(ids) != len(params) or ids & {id(p) for group in self.param_groups for p in group["params"]}:
            raise ValueError(f"{name}: some parameters appear more than once (within a group or in two groups)")
        group = {**self.defaults, **param_group, "params": params}
        self._validate(group)
        if group.get("fused") is True:  # refuse now rather than at the first step
            self._fused(group, [np.asarray(p) for p in params], record=False)
        self.param_groups.append(group)

    def _validate(self, group):
        name = type(self).__name__
        for key, value in group.items():
            if key == "betas":
                self._validate_betas(value)
            elif key == "fused":
                if not (value is None or isinstance(value, bool)):
                    raise TypeError(f"{name}: fused must be None, True or False, got {value!r}")
            elif key in _HYPERPARAMETER_RULES:
                requirement, holds = _HYPERPARAMETER_RULES[key]
                if not _is_number(value):
                    raise TypeError(f"{name}: {key} must be {requirement}, got {type(value).__name__} {value!r}")
                if not (holds(value) and math.isfinite(value)):
                    raise ValueError(f"{name}: invalid {key}={value!r}; it must be {requirement}")
        self._check_group(group)

    def _validate_betas(self, betas):
        name = type(self).__name__
        if not (isinstance(betas, (tuple, list)) and len(betas) == 2 and all(map(_is_number, betas))):
            raise TypeError(f"{name}: betas must be a pair of numbers (beta1, beta2), got {betas!r}")
        for i, beta in enumerate(betas):
            if not 0 <= beta < 1:
                raise ValueError(f"{name}: invalid betas[{i}]={beta!r}; each beta must be in [0, 1)")

    def _check_group(self, group):
        """Constraints between hyperparameters; subclasses override (e.g. SGD's Nesterov)."""

    # ---- gradients and steps ----

    @ag.compiler.replayed_call
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all parameters: to None (default), or to zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    if p.grad.grad_fn is not None:  # a create_graph gradient: keep its graph out of it
                        p.grad = p.grad.detach()
                    with ag.no_grad():
                        p.grad.zero_()

    @ag.compiler.replayed_call
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One optimization step. `closure`, if given, re-evaluates the model and returns the loss."""
        loss = None
        if closure is not None:
            with ag.enable_grad():
                loss = closure()
        for group in self.param_groups:
            active, arrays, grads, states = [], [], [], []
            maximize = group.get("maximize", False)
            for p in group["params"]:
                if not p.requires_grad or p.grad is None:
                    continue
                array, grad = _array(p), _array(p.grad)
                if grad.shape != array.shape:
                    raise ValueError(
                        f"{type(self).__name__}.step: a gradient of shape {grad.shape} does not match "
                        f"its parameter's shape {array.shape}"
                    )
                if grad.dtype is not array.dtype:
                    grad = grad.astype(array.dtype)
                active.append(p)
                arrays.append(array)
                grads.append(-grad if maximize else grad)
                states.append(self._state_of(p, group))
            if not active:
                continue
            self._update(group, arrays, grads, states)
            for p in active:
                ag.increment_version(p)
        return loss

    def _state_of(self, p, group):
        state = self.state[p]
        if not state:
            state.update(self._init_state(np.asarray(p), group))
        return state

    @staticmethod
    def _zeros(param):
        """A C-contiguous zero buffer shaped like `param` (the fused kernels want contiguous state)."""
        return np.zeros(param.shape, dtype=param.dtype)

    @staticmethod
    def _weight_decayed(group, params, grads):
        """Apply a group's weight decay: the L2 term, g + weight_decay * p, or, when the group uses
        decoupled weight decay (AdamW-style), p *= 1 - lr * weight_decay in place, g unchanged."""
        weight_decay = group["weight_decay"]
        if weight_decay == 0:
            return grads
        if group.get("decoupled_weight_decay", False):
            for p in params:
                p *= 1 - group["lr"] * weight_decay
            return grads
        return [g + weight_decay * p for p, g in zip(params, grads)]

    # the name of the optimizer's fused update in `ag.backend.POLICY`, if any
    FUSED_KERNEL: ClassVar[str | None] = None

    def _fused(self, group, params, record=True):
        """True when this step of `group` runs the fused kernel (see the module docstring)."""
        fused = group.get("fused")  # absent from the state dicts of older versions: the policy decides
        mean_size = sum(p.size for p in params) // len(params)
        chosen = ag.backend.choose(
            self.FUSED_KERNEL,
            params,
            mean_size,
            unsupported="fused=False" if fused is False else None,
            required=fused is True,
            record=record,
        )
        return chosen is not ag.backend.NUMPY

    def _init_state(self, param, group):
        raise NotImplementedError

    def _update(self, group, params, grads, states):
        raise NotImplementedError

    # ---- state dicts ----

    def state_dict(self) -> dict[str, Any]:
        """A snapshot: {"state": {index: {name: value}}, "param_groups": [{hyperparameters, "params": [index]}]}.

        Parameters are identified by their position across all groups, as in
        PyTorch, so the dict loads into an optimizer built over other tensors
        of the same shapes. Arrays are copied: training on does not change it.
        """
        index: dict[int, int] = {}
        param_groups = []
        for group in self.param_groups:
            packed = {key: value for key, value in group.items() if key != "params"}
            packed["params"] = []
            for p in group["params"]:
                index[id(p)] = len(index)
                packed["params"].append(index[id(p)])
            param_groups.append(packed)
        state = {
            index[id(p)]: {key: np.array(value) if isinstance(value, np.ndarray) else value for key, value in s.items()}
            for p, s in self.state.items()
            if s and id(p) in index
        }
        return {"state": state, "param_groups": param_groups, "optimizer": type(self).__name__}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a `state_dict()` (also as returned by `ag.load`); training continues bit for bit.

        Everything is checked before anything changes, so a failed load leaves the optimizer as it was:
        the dict must come from an optimizer of the same type (a state dict that names none, as older
        ones, must at least hold this optimizer's hyperparameters, of the same kinds), with the same
        number of groups and of parameters in each, and state arrays of real numbers shaped like their
        parameters. Arrays are copied (cast to each parameter's dtype), so the loaded optimizer never
        shares buffers with the dict or another optimizer.
        """
        name = type(self).__name__
        if not (isinstance(state_dict, dict) and {"state", "param_groups"} <= state_dict.keys()):
            raise ValueError(
                f"{name}.load_state_dict: expected a dict with 'state' and 'param_groups', as "
                f"state_dict() returns, got {type(state_dict).__name__}"
            )
        saved_type = state_dict.get("optimizer", name)
        if saved_type != name:
            raise ValueError(
                f"{name}.load_state_dict: the state dict is of a {saved_type} optimizer, not a {name}; "
                f"load it into a {saved_type}"
            )
        saved_groups = state_dict["param_groups"]
        by_index = self._saved_parameter_positions(saved_groups)
        saved_state = state_dict["state"]
        if not isinstance(saved_state, dict):
            raise TypeError(
                f"{name}.load_state_dict: 'state' must be a dict of parameter index -> state, "
                f"got {type(saved_state).__name__}"
            )
        state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        for index, saved in saved_state.items():
            p = by_index.get(index if isinstance(index, int) else _int_or_none(index))
            if p is None or not isinstance(saved, dict):
                raise ValueError(
                    f"{name}.load_state_dict: state entry {index!r} is not a dict of the state of "
                    f"one of the parameters 0 to {len(by_index) - 1}"
                )
            state[p] = {key: self._loaded_value(value, p, key) for key, value in saved.items()}
        groups = [{**saved, "params": group["params"]} for group, saved in zip(self.param_groups, saved_groups)]
        for group in groups:
            self._validate(group)
        self.state, self.param_groups = state, groups

    def _saved_parameter_positions(self, saved_groups):
        """Saved parameter index -> this optimizer's parameter, once the saved groups are known to match ours."""
        name = type(self).__name__
        if not isinstance(saved_groups, (list, tuple)) or not all(isinstance(g, dict) for g in saved_groups):
            raise TypeError(
                f"{name}.load_state_dict: 'param_groups' must be a list of dicts, got {saved_groups!r:.100}"
            )
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{name}.load_state_dict: the state dict has {len(saved_groups)} parameter groups, "
                f"this optimizer has {len(self.param_groups)}"
            )
        by_index = {}
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            wrong_kinds = [key for key, default in self.defaults.items() if not _same_kind(saved.get(key), default)]
            if wrong_kinds:
                raise ValueError(
                    f"{name}.load_state_dict: parameter group {i} of the state dict lacks {name}'s "
                    f"hyperparameters {wrong_kinds} (or holds values of another kind): is it the state "
                    f"of another optimizer?"
                )
            indices = saved.get("params")
            if not (isinstance(indices, list) and all(type(index) is int for index in indices)):
                raise ValueError(
                    f"{name}.load_state_dict: parameter group {i} of the state dict must list its "
                    f"parameters as integer indices, got {indices!r:.100}"
                )
            if len(group["params"]) != len(indices):
                raise ValueError(
                    f"{name}.load_state_dict: parameter group {i} has {len(indices)} "
                    f"parameters in the state dict and {len(group['params'])} here"
                )
            by_index.update(zip(indices, group["params"]))
        if len(by_index) != sum(len(group["params"]) for group in self.param_groups):
            raise ValueError(f"{name}.load_state_dict: the state dict lists a parameter index twice")
        return by_index

    def _loaded_value(self, value, p, key):
        """A saved state value checked and ready for `p`: a real number, or an array of real numbers shaped like
        `p`, copied to `p`'s dtype."""
        who = f"{type(self).__name__}.load_state_dict"
        if not isinstance(value, (np.ndarray, ag.Tensor)):
            if not (_is_number(value) or isinstance(value, np.number)):
                raise ValueError(f"{who}: state {key!r} is {value!r:.100} ({type(value).__name__}), not a number")
            return value
        array = np.asarray(value)
        if array.dtype.kind not in "biuf":
            raise ValueError(f"{who}: state {key!r} has dtype {array.dtype}, not real numbers")
        if array.shape != p.shape:
            raise ValueError(f"{who}: state {key!r} has shape {array.shape} but its parameter has shape {p.shape}")
        return np.array(array, dtype=p.dtype, order="C")


def _int_or_none(index):
    """A state-dict index given as a string ("3", as JSON keys come back) as an int; None if it is not one."""
    try:
        return int(index)
    except (TypeError, ValueError):
        return None


def _same_kind(saved, default):
    """Whether a saved hyperparameter can stand for `default`: a bool for a bool, a number for a number, a pair for
    a pair (betas); anything for other defaults."""
    if isinstance(default, bool):
        return isinstance(saved, (bool, np.bool_))
    if _is_number(default):
        return _is_number(saved)
    if isinstance(default, (tuple, list)):
        return isinstance(saved, (tuple, list)) and len(saved) == len(default)
    return True


def _array(tensor):
    """The tensor's array, shared, as `np.asarray(tensor)` returns it, called through numpy's protocol
    method directly: np.asarray first probes `__array_struct__` and `__array_interface__`, which
    reach Tensor's `__getattr__` (its message for missing PyTorch methods) and cost 1.3 us per call,
    paid twice per parameter per step."""
    return tensor.__array__()
