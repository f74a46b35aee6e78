"""Misuse and faults of the state-dict loaders: Optimizer.load_state_dict refuses another optimizer's state and
anything it cannot load, and a failed load leaves the optimizer bit-identical to before."""

import numpy as np
import pytest

import autograd_core as ag
import optim


def _trained(kind, steps=3, **options):
    params = [
        ag.tensor(np.linspace(-1.0, 1.0, 6).reshape(2, 3), requires_grad=True),
        ag.tensor(np.array([0.5, -0.25]), requires_grad=True),
    ]
    optimizer = getattr(optim, kind)(params, lr=0.1, **options)
    for _ in range(steps):
        for p in params:
            p.grad = ag.tensor(np.sin(3 * np.asarray(p)) + 0.1)
        optimizer.step()
    return optimizer


def _snapshot(optimizer):
    """Everything a load could change, as comparable values: the groups (hyperparameters, the very
    parameter objects) and every state value's type and bytes."""
    groups = [
        {key: (value if key != "params" else [id(p) for p in value]) for key, value in group.items()}
        for group in optimizer.param_groups
    ]
    state = {
        id(p): {
            key: (type(value), value.tobytes() if isinstance(value, np.ndarray) else value) for key, value in s.items()
        }
        for p, s in optimizer.state.items()
    }
    return repr(groups), state


def _unchanged_after(optimizer, state_dict, error, match):
    before = _snapshot(optimizer)
    with pytest.raises(error, match=match):
        optimizer.load_state_dict(state_dict)
    assert _snapshot(optimizer) == before


def test_the_state_dict_names_its_optimizer():
    assert _trained("Adam").state_dict()["optimizer"] == "Adam"


def test_adam_refuses_an_sgd_state_dict():
    _unchanged_after(
        _trained("Adam"),
        _trained("SGD", momentum=0.9).state_dict(),
        ValueError,
        "Adam.load_state_dict: the state dict is of a SGD optimizer, not a Adam; load it into a SGD",
    )


def test_a_state_dict_without_a_type_name_is_checked_by_its_hyperparameters():
    older_sgd = _trained("SGD", momentum=0.9).state_dict()
    del older_sgd["optimizer"]
    _unchanged_after(
        _trained("Adam"),
        older_sgd,
        ValueError,
        r"parameter group 0 of the state dict lacks Adam's hyperparameters \['betas', 'eps', 'amsgrad'",
    )
    older_adam = _trained("Adam", steps=5).state_dict()
    del older_adam["optimizer"]
    resumed = _trained("Adam", steps=0)
    resumed.load_state_dict(older_adam)  # an older file of the right optimizer still loads
    assert resumed.state[resumed.param_groups[0]["params"][0]]["step"] == 5


BAD_STATES = {  # id -> (how the state dict is spoiled, the error, its message)
    "none-array": (
        lambda sd: sd["state"][1].update(exp_avg=np.array([None, None])),
        ValueError,
        "state 'exp_avg' has dtype object",
    ),
    "string-array": (
        lambda sd: sd["state"][1].update(exp_avg=np.array(["a", "b"])),
        ValueError,
        "state 'exp_avg' has dtype <U1",
    ),
    "none-step": (lambda sd: sd["state"][1].update(step=None), ValueError, "state 'step' is None"),
    "string-step": (lambda sd: sd["state"][1].update(step="3"), ValueError, "state 'step' is '3'"),
    "shape": (
        lambda sd: sd["state"][1].update(exp_avg_sq=np.ones(3)),
        ValueError,
        r"'exp_avg_sq' has shape \(3,\) but its parameter",
    ),
    "unknown-index": (
        lambda sd: sd["state"].update({7: {}}),
        ValueError,
        "state entry 7 is not a dict of the state of one of the parameters 0 to 1",
    ),
    "index-twice": (
        lambda sd: sd["param_groups"][0].update(params=[0, 0]),
        ValueError,
        "lists a parameter index twice",
    ),
    "index-not-int": (
        lambda sd: sd["param_groups"][0].update(params=["x", 1]),
        ValueError,
        "must list its parameters as integer indices",
    ),
    "flag-none": (lambda sd: sd["param_groups"][0].update(amsgrad=None), ValueError, r"hyperparameters \['amsgrad'\]"),
    "lr-nan": (lambda sd: sd["param_groups"][0].update(lr=float("nan")), ValueError, "invalid lr=nan"),
    "groups-none": (lambda sd: sd.update(param_groups=None), TypeError, "'param_groups' must be a list of dicts"),
    "state-list": (lambda sd: sd.update(state=[]), TypeError, "'state' must be a dict"),
}


@pytest.mark.parametrize("case", BAD_STATES)
def test_a_failed_load_leaves_the_optimizer_bit_identical(case):
    corrupt, error, match = BAD_STATES[case]
    optimizer = _trained("Adam")
    state_dict = _trained("Adam", steps=7).state_dict()
    corrupt(state_dict)
    _unchanged_after(optimizer, state_dict, error, match)


def test_non_finite_state_values_load_as_torch_allows():
    state_dict = _trained("Adam").state_dict()
    state_dict["state"][0]["exp_avg"][0, 0] = np.nan
    state_dict["state"][0]["exp_avg_sq"][0, 0] = np.inf
    optimizer = _trained("Adam", steps=0)
    optimizer.load_state_dict(state_dict)
    loaded = optimizer.state[optimizer.param_groups[0]["params"][0]]
    assert np.isnan(loaded["exp_avg"][0, 0]) and np.isposinf(loaded["exp_avg_sq"][0, 0])
