"""`fit`'s checkpoints: the whole run in one `ag.save` file, checked field by field before it is restored.

A checkpoint holds the model and optimizer state (and the optimizer's class
name), the scheduler's state, the epoch, the history, the callbacks' states
and every random generator's state (the project's, numpy's and Python's global
ones, and each DataLoader's `state_dict()`: the generators its shuffles draw from).

`restore_checkpoint` validates every field against this `fit` call (the same
optimizer class, model keys and shapes, scheduler, callbacks and loaders; an
epoch that is an int >= 0 matching the history) and only then restores
anything; a state that the checks pass but its own `load_state_dict` refuses
rolls back what was already loaded. Either way a mismatched or malformed
checkpoint leaves the model, optimizer, scheduler, callbacks and generators
untouched.
"""

import copy
import functools
import numbers
import os
import random

import numpy as np

import autograd_core as ag

from .history import History

CHECKPOINT_FORMAT = "autograd_core.fit/3"
_FIELDS = (
    "format",
    "epoch",
    "stop_training",
    "model",
    "optimizer_type",
    "optimizer",
    "scheduler_type",
    "scheduler",
    "history",
    "callbacks",
    "random",
)
_RANDOM_FIELDS = ("autograd_core", "numpy", "python", "loaders")


def check_checkpoint_path(path):
    """Refuse, before any training, a checkpoint path that could not be written after the first epoch."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not path or os.path.isdir(path):
        raise ValueError(
            f"fit: checkpoint must name a file to write, got {path!r}" + (" (a directory)" if path else "")
        )
    if not os.path.isdir(directory):
        raise ValueError(
            f"fit: cannot write the checkpoint {path!r}: its directory {directory!r} does not exist "
            "(or is not a directory); create it first"
        )
    if not os.access(directory, os.W_OK | os.X_OK):
        raise ValueError(f"fit: cannot write the checkpoint {path!r}: its directory {directory!r} is not writable")


def _random_states(loaders):
    return {
        "autograd_core": ag.default_generator.rng.bit_generator.state,
        "numpy": np.random.get_state(),  # noqa: NPY002  (users seed the legacy global state; a resume restores it)
        "python": random.getstate(),
        # A loader with its own generator (generator= or seed=): without its state a resumed run would
        # shuffle its next epochs differently from the uninterrupted one.
        "loaders": [loader.state_dict() if hasattr(loader, "state_dict") else None for loader in loaders],
    }


def _set_random_states(states, loaders):
    ag.default_generator.rng.bit_generator.state = states["autograd_core"]
    name, keys, position, has_gauss, cached_gaussian = states["numpy"]
    legacy_state = (name, np.asarray(keys, dtype=np.uint32), position, has_gauss, cached_gaussian)
    np.random.set_state(legacy_state)  # noqa: NPY002  (the legacy global state, saved above)
    version, internal, gauss_next = states["python"]
    random.setstate((version, tuple(internal), gauss_next))
    for loader, state in zip(loaders, states["loaders"]):
        if state is not None:
            loader.load_state_dict(state)


def _type_name(obj):
    return None if obj is None else type(obj).__name__


def save_checkpoint(path, state, callbacks, loaders):
    ag.save(
        {
            "format": CHECKPOINT_FORMAT,
            "epoch": state.epoch,
            "stop_training": state.stop_training,
            "model": state.model.state_dict(),
            "optimizer_type": _type_name(state.optimizer),
            "optimizer": state.optimizer.state_dict(),
            "scheduler_type": _type_name(state.scheduler),
            "scheduler": None if state.scheduler is None else state.scheduler.state_dict(),
            "history": state.history.to_dict(),
            "callbacks": [{"type": type(callback).__name__, "state": callback.state_dict()} for callback in callbacks],
            "random": _random_states(loaders),
        },
        path,
    )


def restore_checkpoint(path, state, callbacks, loaders):
    """Check every field of the checkpoint at `path` against this run, then restore the run from it.

    All or nothing: a state that passes the checks here but that its own `load_state_dict` refuses (an
    optimizer buffer of the wrong shape, say) rolls back whatever was already loaded before the error is
    raised, so the run is left exactly as it was.
    """
    saved = ag.load(path)

    def error(problem):
        return ValueError(
            f"fit: cannot resume from {path}: {problem}. Nothing was restored; resume with the "
            "arguments the checkpoint was written with, or start afresh (resume=False)"
        )

    history = _checked(saved, state, callbacks, loaders, error)
    rollback = _restore_steps(_current_states(state, callbacks, loaders), state, callbacks, loaders)
    for part, load, part_state in _restore_steps(saved, state, callbacks, loaders):
        try:
            load(part_state)
        except Exception as err:
            for _, undo, previous in rollback:
                undo(previous)
            raise error(f"its {part} state does not load ({type(err).__name__}: {err})") from err
    state.history = history
    state.epoch, state.stop_training = saved["epoch"], saved["stop_training"]
    state.logs = history.rows[-1] if history.rows else {}


def _current_states(state, callbacks, loaders):
    """A copy of everything `_restore_steps` overwrites, in the checkpoint's layout, to roll back to."""
    return {
        "model": {name: np.array(value) for name, value in state.model.state_dict().items()},
        "optimizer": state.optimizer.state_dict(),
        "scheduler": None if state.scheduler is None else copy.deepcopy(state.scheduler.state_dict()),
        "callbacks": [{"state": copy.deepcopy(callback.state_dict())} for callback in callbacks],
        "random": _random_states(loaders),
    }


def _restore_steps(states, state, callbacks, loaders):
    """(part, load, its state) for each part of the run that `states` (a checkpoint's layout) restores."""
    steps = [
        ("model", state.model.load_state_dict, states["model"]),
        ("optimizer", state.optimizer.load_state_dict, states["optimizer"]),
    ]
    if state.scheduler is not None:
        steps.append(("scheduler", state.scheduler.load_state_dict, states["scheduler"]))
    steps += [
        (f"{type(callback).__name__} callback", callback.load_state_dict, entry["state"])
        for callback, entry in zip(callbacks, states["callbacks"])
    ]
    steps.append(("random generators", functools.partial(_set_random_states, loaders=loaders), states["random"]))
    return steps


def _checked(saved, state, callbacks, loaders, error):
    """The checkpoint's History once every field has passed its check; raises error(problem) otherwise."""
    if not (isinstance(saved, dict) and saved.get("format") == CHECKPOINT_FORMAT):
        found = saved.get("format") if isinstance(saved, dict) else None
        raise error(
            f"it is not a fit checkpoint of format {CHECKPOINT_FORMAT!r}"
            + (f" (its format is {found!r}, from another version)" if isinstance(found, str) else "")
        )
    missing = [field for field in _FIELDS if field not in saved]
    if missing:
        raise error(f"it lacks the fields {missing}")
    _check_counters(saved, error)
    _check_model(saved["model"], state.model, error)
    _check_optimizer(saved, state.optimizer, error)
    _check_scheduler(saved, state.scheduler, error)
    _check_callbacks(saved["callbacks"], callbacks, error)
    _check_random(saved["random"], loaders, error)
    try:
        history = History.from_dict(saved["history"])
    except ValueError as err:
        raise error(f"its history is malformed ({err})") from None
    if len(history) != saved["epoch"]:
        raise error(f"its history has {len(history)} epochs but its epoch is {saved['epoch']}")
    return history


def _check_counters(saved, error):
    epoch = saved["epoch"]
    if isinstance(epoch, bool) or not isinstance(epoch, numbers.Integral) or epoch < 0:
        raise error(f"its epoch must be an int >= 0, got {epoch!r}")
    if not isinstance(saved["stop_training"], bool):
        raise error(f"its stop_training must be True or False, got {saved['stop_training']!r}")


def _check_model(saved_model, model, error):
    if not isinstance(saved_model, dict):
        raise error(f"its model state is a {type(saved_model).__name__}, not a dict")
    expected = {name: tuple(t.shape) for name, t in model.state_dict().items()}
    found = {name: tuple(getattr(t, "shape", ())) for name, t in saved_model.items()}
    if found.keys() != expected.keys():
        raise error(
            f"its model has the entries {sorted(found.keys() - expected.keys())} this model lacks and "
            f"lacks {sorted(expected.keys() - found.keys())}"
        )
    wrong = [f"{name} {found[name]} (here {shape})" for name, shape in expected.items() if found[name] != shape]
    if wrong:
        raise error(f"its model has other shapes: {', '.join(wrong)}")


def _check_optimizer(saved, optimizer, error):
    if saved["optimizer_type"] != type(optimizer).__name__:
        raise error(
            f"it was written with optimizer {saved['optimizer_type']} and this call trains with "
            f"{type(optimizer).__name__}"
        )
    state = saved["optimizer"]
    groups = state.get("param_groups") if isinstance(state, dict) else None
    if not (
        isinstance(groups, list)
        and isinstance(state.get("state"), dict)
        and all(isinstance(group, dict) and isinstance(group.get("params"), list) for group in groups)
    ):
        raise error("its optimizer state is not {'state': {...}, 'param_groups': [{'params': [...]}, ...]}")
    saved_sizes = [len(group["params"]) for group in groups]
    sizes = [len(group["params"]) for group in optimizer.param_groups]
    if saved_sizes != sizes:
        raise error(f"its optimizer has parameter groups of {saved_sizes} parameters, this one {sizes}")


def _check_scheduler(saved, scheduler, error):
    if saved["scheduler_type"] != _type_name(scheduler):
        raise error(
            f"it was written with scheduler {saved['scheduler_type']} and this call has {_type_name(scheduler)}"
        )
    if scheduler is not None and not isinstance(saved["scheduler"], dict):
        raise error(f"its scheduler state is a {type(saved['scheduler']).__name__}, not a dict")


def _check_callbacks(saved_callbacks, callbacks, error):
    if not (
        isinstance(saved_callbacks, list)
        and all(isinstance(entry, dict) and {"type", "state"} <= entry.keys() for entry in saved_callbacks)
    ):
        raise error("its callbacks are not a list of {'type', 'state'} entries")
    kinds = [entry["type"] for entry in saved_callbacks]
    if kinds != [type(callback).__name__ for callback in callbacks]:
        raise error(
            f"it was written with callbacks {kinds} and this call has "
            f"{[type(callback).__name__ for callback in callbacks]}"
        )


def _check_random(states, loaders, error):
    if not (isinstance(states, dict) and set(_RANDOM_FIELDS) <= states.keys()):
        raise error(f"its random states are not a dict with {list(_RANDOM_FIELDS)}")
    if not (
        isinstance(states["numpy"], (list, tuple))
        and len(states["numpy"]) == 5
        and isinstance(states["python"], (list, tuple))
        and len(states["python"]) == 3
        and isinstance(states["autograd_core"], dict)
    ):
        raise error("its random states are malformed")
    if not isinstance(states["loaders"], list):
        raise error(f"its loaders' random states are a {type(states['loaders']).__name__}, not a list")
    if len(states["loaders"]) != len(loaders):
        raise error(f"it holds the shuffling state of {len(states['loaders'])} loaders, this call has {len(loaders)}")
    for loader, state in zip(loaders, states["loaders"]):
        if state is not None and not (isinstance(state, dict) and hasattr(loader, "load_state_dict")):
            raise error(f"its loader state {state!r} does not fit a {type(loader).__name__}")
