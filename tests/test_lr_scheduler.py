"""optim.lr_scheduler: each scheduler's learning-rate sequence against torch over 40 steps (two
param groups with different base lrs), state_dict round trips, warm-up, and bad arguments."""

import math

import numpy as np
import pytest

import autograd_core as ag
import optim
from optim import lr_scheduler

STEPS = 40
BASE_LRS = (0.1, 0.03)


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def make_optimizer(lib, optimizer="SGD", **options):
    """An optimizer of `lib` (our optim or torch.optim) over two param groups with lrs BASE_LRS."""
    tensor = lib.tensor if lib is not optim else ag.tensor
    module = lib.optim if lib is not optim else optim
    groups = [{"params": [tensor([1.0], requires_grad=True)], "lr": lr} for lr in BASE_LRS]
    return getattr(module, optimizer)(groups, **options)


def schedulers_of(lib):
    return lib.optim.lr_scheduler if lib is not optim else lr_scheduler


# name -> (optimizer, its options, build(schedulers module, optimizer) -> scheduler)
CASES = {
    "StepLR": ("SGD", {}, lambda s, o: s.StepLR(o, step_size=7, gamma=0.5)),
    "MultiStepLR": ("SGD", {}, lambda s, o: s.MultiStepLR(o, milestones=[12, 5, 30, 12], gamma=0.3)),
    "ExponentialLR": ("SGD", {}, lambda s, o: s.ExponentialLR(o, gamma=0.9)),
    "CosineAnnealingLR-past-T_max": ("SGD", {}, lambda s, o: s.CosineAnnealingLR(o, T_max=10, eta_min=0.001)),
    "CosineAnnealingLR": ("SGD", {}, lambda s, o: s.CosineAnnealingLR(o, T_max=STEPS)),
    "LambdaLR": ("SGD", {}, lambda s, o: s.LambdaLR(o, lambda epoch: 1 / (1 + 0.3 * epoch))),
    "LambdaLR-per-group": ("SGD", {}, lambda s, o: s.LambdaLR(o, [lambda e: 0.95**e, lambda e: 1 + e % 3])),
    "LinearLR-warmup": ("SGD", {}, lambda s, o: s.LinearLR(o, start_factor=0.1, total_iters=8)),
    "LinearLR-decay": ("SGD", {}, lambda s, o: s.LinearLR(o, start_factor=1.0, end_factor=0.2, total_iters=10)),
    "SequentialLR-warmup-cosine": (
        "SGD",
        {},
        lambda s, o: s.SequentialLR(
            o, [s.LinearLR(o, start_factor=0.1, total_iters=5), s.CosineAnnealingLR(o, T_max=30)], milestones=[5]
        ),
    ),
    "SequentialLR-three": (
        "SGD",
        {},
        lambda s, o: s.SequentialLR(
            o,
            [
                s.LinearLR(o, start_factor=0.25, total_iters=4),
                s.ExponentialLR(o, gamma=0.9),
                s.StepLR(o, step_size=5, gamma=0.5),
            ],
            milestones=[10, 25],
        ),
    ),
    "OneCycleLR": ("SGD", dict(momentum=0.9), lambda s, o: s.OneCycleLR(o, max_lr=[1.0, 0.5], total_steps=STEPS)),
    "OneCycleLR-three-phase-linear-Adam": (
        "Adam",
        {},
        lambda s, o: s.OneCycleLR(
            o,
            max_lr=0.01,
            epochs=4,
            steps_per_epoch=10,
            pct_start=0.25,
            anneal_strategy="linear",
            three_phase=True,
            base_momentum=0.8,
            max_momentum=0.9,
            div_factor=10.0,
            final_div_factor=100.0,
        ),
    ),
    "OneCycleLR-no-momentum": (
        "Adagrad",
        {},
        lambda s, o: s.OneCycleLR(o, max_lr=0.2, total_steps=STEPS, cycle_momentum=False),
    ),
}


def momentum_of(group):
    return group["betas"][0] if "betas" in group else group.get("momentum")


def lr_sequence(lib, case):
    """The (lrs, momenta) of both groups after construction and after each of STEPS steps."""
    optimizer_name, options, build = CASES[case]
    opt = make_optimizer(lib, optimizer_name, **options)
    scheduler = build(schedulers_of(lib), opt)
    sequence = []
    for _ in range(STEPS + 1):
        assert scheduler.get_last_lr() == [group["lr"] for group in opt.param_groups]
        sequence.append([[group["lr"], momentum_of(group)] for group in opt.param_groups])
        if len(sequence) <= STEPS:
            opt.step()
            scheduler.step()
    return np.array(sequence, dtype=np.float64)


@pytest.mark.parametrize("case", sorted(CASES))
def test_lr_sequence_matches_torch(torch, case):
    ours, theirs = lr_sequence(optim, case), lr_sequence(torch, case)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-15)
    assert len(np.unique(ours[:, 0, 0])) > 3, "the schedule never moved"


def plateau_lrs(lib, metrics, **options):
    opt = make_optimizer(lib)
    scheduler = schedulers_of(lib).ReduceLROnPlateau(opt, **options)
    lrs = []
    for value in metrics:
        opt.step()
        scheduler.step(value)
        assert scheduler.get_last_lr() == [group["lr"] for group in opt.param_groups]
        lrs.append(scheduler.get_last_lr())
    return np.array(lrs)


# A loss that falls, stalls with noise, falls a little (less than the threshold), then climbs.
PLATEAU_METRICS = (
    [1.0 / (1 + k) for k in range(8)]
    + [0.125, 0.13, 0.1249, 0.126, 0.125] * 4
    + [0.12499, 0.124]
    + [0.2 + 0.01 * k for k in range(10)]
)
PLATEAU_OPTIONS = [
    dict(),
    dict(patience=2, factor=0.5),
    dict(patience=1, factor=0.5, cooldown=2, min_lr=[0.01, 0.001]),
    dict(patience=0, threshold=0.01, threshold_mode="abs", min_lr=0.02),
    dict(mode="max", patience=3, factor=0.2),
    dict(mode="max", patience=1, threshold=0.05, threshold_mode="abs", eps=1e-3),
]


@pytest.mark.parametrize("options", PLATEAU_OPTIONS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()))
def test_reduce_lr_on_plateau_matches_torch(torch, options):
    assert len(PLATEAU_METRICS) >= 30
    ours = plateau_lrs(optim, PLATEAU_METRICS, **options)
    theirs = plateau_lrs(torch, PLATEAU_METRICS, **options)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    assert (ours[-1] < ours[0]).all() or options.get("mode") == "max"


def test_reduce_lr_on_plateau_reduces_after_patience_runs_out():
    opt = make_optimizer(optim)
    scheduler = lr_scheduler.ReduceLROnPlateau(opt, patience=2, factor=0.5)
    for value in [1.0, 1.0, 1.0]:  # the first sets the best; then two bad epochs = patience
        scheduler.step(value)
    assert scheduler.get_last_lr() == list(BASE_LRS)
    scheduler.step(ag.tensor(1.0))  # a third bad epoch exceeds patience; a scalar tensor is a metric too
    assert scheduler.get_last_lr() == [BASE_LRS[0] / 2, BASE_LRS[1] / 2]


def test_linear_warmup_reaches_the_base_lr_and_stays():
    opt = make_optimizer(optim)
    warmup = lr_scheduler.LinearLR(opt, start_factor=0.2, total_iters=4)
    lrs = [warmup.get_last_lr()[0]]
    for _ in range(6):
        warmup.step()
        lrs.append(warmup.get_last_lr()[0])
    np.testing.assert_allclose(lrs, [0.02, 0.04, 0.06, 0.08, 0.1, 0.1, 0.1])


def save_and_load(state, tmp_path, through_file):
    if not through_file:
        return state
    ag.save(state, tmp_path / "state.safetensors")
    return ag.load(tmp_path / "state.safetensors")


@pytest.mark.parametrize("through_file", [False, True], ids=["in-memory", "ag.save"])
@pytest.mark.parametrize(
    "case", ["StepLR", "CosineAnnealingLR", "SequentialLR-warmup-cosine", "OneCycleLR", "LambdaLR"]
)
def test_state_dict_round_trip_continues_the_same_schedule(tmp_path, case, through_file):
    optimizer_name, options, build = CASES[case]
    opt = make_optimizer(optim, optimizer_name, **options)
    scheduler = build(lr_scheduler, opt)
    for _ in range(12):
        scheduler.step()
    assert "optimizer" not in scheduler.state_dict()
    saved_optimizer = save_and_load(opt.state_dict(), tmp_path, through_file)
    saved_scheduler = save_and_load(scheduler.state_dict(), tmp_path, through_file)

    resumed_opt = make_optimizer(optim, optimizer_name, **options)
    resumed = build(lr_scheduler, resumed_opt)
    resumed_opt.load_state_dict(saved_optimizer)
    resumed.load_state_dict(saved_scheduler)
    for _ in range(STEPS - 12):
        scheduler.step()
        resumed.step()
        assert resumed.get_last_lr() == scheduler.get_last_lr()
        assert [g["lr"] for g in resumed_opt.param_groups] == [g["lr"] for g in opt.param_groups]


@pytest.mark.parametrize("through_file", [False, True], ids=["in-memory", "ag.save"])
def test_reduce_lr_on_plateau_state_dict_round_trip(tmp_path, through_file):
    opt = make_optimizer(optim)
    scheduler = lr_scheduler.ReduceLROnPlateau(opt, patience=1, cooldown=1)
    for value in PLATEAU_METRICS[:15]:
        scheduler.step(value)
    resumed_opt = make_optimizer(optim)
    resumed = lr_scheduler.ReduceLROnPlateau(resumed_opt)
    resumed_opt.load_state_dict(save_and_load(opt.state_dict(), tmp_path, through_file))
    resumed.load_state_dict(save_and_load(scheduler.state_dict(), tmp_path, through_file))
    for value in PLATEAU_METRICS[15:]:
        scheduler.step(value)
        resumed.step(value)
        assert resumed.get_last_lr() == scheduler.get_last_lr()
    assert resumed.get_last_lr()[0] < BASE_LRS[0]


def test_one_cycle_refuses_to_step_past_total_steps():
    scheduler = lr_scheduler.OneCycleLR(make_optimizer(optim, momentum=0.9), max_lr=1.0, total_steps=3)
    for _ in range(3):
        scheduler.step()
    with pytest.raises(ValueError, match="stepped 4 times but total_steps is 3"):
        scheduler.step()


def test_resuming_with_last_epoch_needs_initial_lr():
    opt = make_optimizer(optim)
    with pytest.raises(ValueError, match="initial_lr"):
        lr_scheduler.StepLR(opt, step_size=2, last_epoch=5)
    scheduler = lr_scheduler.ExponentialLR(opt, gamma=0.5)  # sets initial_lr
    resumed = lr_scheduler.ExponentialLR(make_optimizer(optim), gamma=0.5)
    resumed.optimizer.load_state_dict(opt.state_dict())
    assert lr_scheduler.ExponentialLR(resumed.optimizer, gamma=0.5, last_epoch=2).get_last_lr() == pytest.approx(
        [lr * 0.5**3 for lr in BASE_LRS]
    )
    assert scheduler.get_last_lr() == list(BASE_LRS)


BAD_ARGUMENTS = [
    (TypeError, "expected an optim.Optimizer", lambda o: lr_scheduler.StepLR("sgd", step_size=2)),
    (ValueError, "step_size must be a positive integer", lambda o: lr_scheduler.StepLR(o, step_size=0)),
    (ValueError, "T_max must be a positive integer", lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=2.5)),
    (ValueError, "start_factor must be in", lambda o: lr_scheduler.LinearLR(o, start_factor=0.0)),
    (ValueError, "end_factor must be in", lambda o: lr_scheduler.LinearLR(o, end_factor=1.5)),
    (TypeError, "lr_lambda must be callable", lambda o: lr_scheduler.LambdaLR(o, 0.5)),
    (ValueError, "lr_lambda has 1 values but the optimizer has 2", lambda o: lr_scheduler.LambdaLR(o, [abs])),
    (ValueError, "factor must be in", lambda o: lr_scheduler.ReduceLROnPlateau(o, factor=1.0)),
    (ValueError, "mode must be", lambda o: lr_scheduler.ReduceLROnPlateau(o, mode="lowest")),
    (ValueError, "threshold_mode must be", lambda o: lr_scheduler.ReduceLROnPlateau(o, threshold_mode="pct")),
    (ValueError, "patience must be", lambda o: lr_scheduler.ReduceLROnPlateau(o, patience=-1)),
    (ValueError, "total_steps, or both epochs", lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.1)),
    (ValueError, "pct_start must be", lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.1, total_steps=9, pct_start=1.5)),
    (
        ValueError,
        "anneal_strategy must be",
        lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.1, total_steps=9, anneal_strategy="step"),
    ),
    (ValueError, "max_lr has 3 values", lambda o: lr_scheduler.OneCycleLR(o, max_lr=[1, 2, 3], total_steps=9)),
    (
        ValueError,
        "expected 1 increasing milestones",
        lambda o: lr_scheduler.SequentialLR(o, [lr_scheduler.StepLR(o, 2), lr_scheduler.StepLR(o, 3)], milestones=[]),
    ),
    (
        TypeError,
        "not ReduceLROnPlateau",
        lambda o: lr_scheduler.SequentialLR(o, [lr_scheduler.ReduceLROnPlateau(o)], milestones=[]),
    ),
]


@pytest.mark.parametrize("error, message, build", BAD_ARGUMENTS, ids=[m for _, m, _ in BAD_ARGUMENTS])
def test_bad_arguments_raise_clear_errors(error, message, build):
    with pytest.raises(error, match=message):
        build(make_optimizer(optim))


def test_one_cycle_momentum_needs_an_optimizer_with_momentum():
    with pytest.raises(ValueError, match="Adagrad has neither"):
        lr_scheduler.OneCycleLR(make_optimizer(optim, "Adagrad"), max_lr=0.1, total_steps=10)


def test_sequential_lr_rejects_schedulers_of_another_optimizer():
    first, second = make_optimizer(optim), make_optimizer(optim)
    with pytest.raises(ValueError, match="belongs to another optimizer"):
        lr_scheduler.SequentialLR(first, [lr_scheduler.StepLR(first, 2), lr_scheduler.StepLR(second, 2)], [3])


def test_cosine_closed_form_values():
    opt = make_optimizer(optim)
    scheduler = lr_scheduler.CosineAnnealingLR(opt, T_max=4, eta_min=0.01)
    lrs = [scheduler.get_last_lr()[0]]
    for _ in range(8):
        scheduler.step()
        lrs.append(scheduler.get_last_lr()[0])
    expected = [0.01 + 0.09 * (1 + math.cos(math.pi * t / 4)) / 2 for t in range(9)]
    np.testing.assert_allclose(lrs, expected, rtol=1e-14)
    assert lrs[4] == pytest.approx(0.01) and lrs[8] == pytest.approx(0.1)


NON_FINITE_HYPERPARAMETERS = {
    "StepLR": lambda o, v: lr_scheduler.StepLR(o, step_size=2, gamma=v),
    "MultiStepLR-gamma": lambda o, v: lr_scheduler.MultiStepLR(o, milestones=[2], gamma=v),
    "MultiStepLR-milestones": lambda o, v: lr_scheduler.MultiStepLR(o, milestones=[2, v]),
    "ExponentialLR": lambda o, v: lr_scheduler.ExponentialLR(o, gamma=v),
    "CosineAnnealingLR": lambda o, v: lr_scheduler.CosineAnnealingLR(o, T_max=5, eta_min=v),
    "LinearLR-start_factor": lambda o, v: lr_scheduler.LinearLR(o, start_factor=v),
    "LinearLR-end_factor": lambda o, v: lr_scheduler.LinearLR(o, end_factor=v),
    "SequentialLR-milestones": lambda o, v: lr_scheduler.SequentialLR(
        o, [lr_scheduler.StepLR(o, 2), lr_scheduler.StepLR(o, 3)], milestones=[v]
    ),
    "OneCycleLR-max_lr": lambda o, v: lr_scheduler.OneCycleLR(o, max_lr=[0.1, v], total_steps=9),
    "OneCycleLR-base_momentum": lambda o, v: lr_scheduler.OneCycleLR(o, max_lr=0.1, total_steps=9, base_momentum=v),
    "OneCycleLR-max_momentum": lambda o, v: lr_scheduler.OneCycleLR(o, max_lr=0.1, total_steps=9, max_momentum=v),
    "OneCycleLR-div_factor": lambda o, v: lr_scheduler.OneCycleLR(o, max_lr=0.1, total_steps=9, div_factor=v),
    "OneCycleLR-final_div_factor": lambda o, v: lr_scheduler.OneCycleLR(
        o, max_lr=0.1, total_steps=9, final_div_factor=v
    ),
    "OneCycleLR-pct_start": lambda o, v: lr_scheduler.OneCycleLR(o, max_lr=0.1, total_steps=9, pct_start=v),
    "ReduceLROnPlateau-factor": lambda o, v: lr_scheduler.ReduceLROnPlateau(o, factor=v),
    "ReduceLROnPlateau-threshold": lambda o, v: lr_scheduler.ReduceLROnPlateau(o, threshold=v),
    "ReduceLROnPlateau-min_lr": lambda o, v: lr_scheduler.ReduceLROnPlateau(o, min_lr=[0.0, v]),
    "ReduceLROnPlateau-eps": lambda o, v: lr_scheduler.ReduceLROnPlateau(o, eps=v),
}


@pytest.mark.parametrize(
    "value, error",
    [(math.nan, ValueError), (math.inf, ValueError), (-math.inf, ValueError), ("0.5", TypeError), (None, TypeError)],
    ids=repr,
)
@pytest.mark.parametrize("case", NON_FINITE_HYPERPARAMETERS)
def test_hyperparameters_that_are_not_finite_numbers_are_refused_naming_scheduler_and_parameter(case, value, error):
    opt = make_optimizer(optim, momentum=0.9)
    lrs_before = [group["lr"] for group in opt.param_groups]
    scheduler_name, _, parameter = case.partition("-")
    parameter = parameter or {"CosineAnnealingLR": "eta_min"}.get(scheduler_name, "gamma")
    with pytest.raises(error, match=f"^{scheduler_name}: {parameter} must be a finite number, got"):
        NON_FINITE_HYPERPARAMETERS[case](opt, value)
    assert [group["lr"] for group in opt.param_groups] == lrs_before


def test_one_cycle_refuses_a_zero_div_factor():
    with pytest.raises(ValueError, match="div_factor and final_div_factor must be > 0"):
        lr_scheduler.OneCycleLR(make_optimizer(optim, momentum=0.9), max_lr=0.1, total_steps=9, div_factor=0)


@pytest.mark.parametrize("not_a_dict", [None, [], "state"], ids=repr)
def test_load_state_dict_of_something_else_than_a_dict_is_a_type_error(not_a_dict):
    scheduler = lr_scheduler.StepLR(make_optimizer(optim), step_size=2)
    with pytest.raises(TypeError, match=r"StepLR\.load_state_dict: expected a dict, as state_dict\(\) returns, got"):
        scheduler.load_state_dict(not_a_dict)


def _stepped(case, steps=5):
    optimizer_name, options, build = CASES[case]
    scheduler = build(lr_scheduler, make_optimizer(optim, optimizer_name, **options))
    for _ in range(steps):
        scheduler.step()
    return scheduler


def _every_state(scheduler):
    inner = getattr(scheduler, "_schedulers", [])
    return repr([scheduler.state_dict()] + [s.state_dict() for s in inner]), repr(scheduler.optimizer.param_groups)


BAD_SCHEDULER_STATES = [
    ("StepLR", lambda sd: sd.update(gamma=math.nan), ValueError, "StepLR: gamma must be a finite number, got nan"),
    ("StepLR", lambda sd: sd.update(base_lrs=[None, 0.1]), ValueError, "base_lrs is \\[None, 0.1\\], not a value"),
    ("StepLR", lambda sd: sd.update(base_lrs=[0.1]), ValueError, "base_lrs has 1 values but the optimizer has 2"),
    ("StepLR", lambda sd: sd.update(last_epoch="7"), ValueError, "last_epoch is '7'"),
    ("StepLR", lambda sd: sd.pop("gamma"), ValueError, r"missing entries \['gamma'\], unexpected entries \[\]"),
    ("StepLR", lambda sd: sd.update(T_max=3), ValueError, r"unexpected entries \['T_max'\]"),
    ("OneCycleLR", lambda sd: sd.update(anneal_strategy="step"), ValueError, "anneal_strategy must be one of"),
    (
        "SequentialLR-warmup-cosine",
        lambda sd: sd["_schedulers"][1].update(eta_min=math.inf),
        ValueError,
        "CosineAnnealingLR: eta_min must be a finite number, got inf",
    ),
    ("SequentialLR-warmup-cosine", lambda sd: sd["_schedulers"].pop(), ValueError, "holds 1 schedulers"),
]


@pytest.mark.parametrize("case, corrupt, error, match", BAD_SCHEDULER_STATES, ids=[m for *_, m in BAD_SCHEDULER_STATES])
def test_a_failed_scheduler_load_changes_nothing(case, corrupt, error, match):
    scheduler = _stepped(case, steps=2)
    state = _stepped(case, steps=9).state_dict()
    corrupt(state)
    before = _every_state(scheduler)
    with pytest.raises(error, match=match):
        scheduler.load_state_dict(state)
    assert _every_state(scheduler) == before
