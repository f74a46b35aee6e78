"""optim: every optimizer and option against torch.optim step by step, state_dict round trips,
parameter groups, skipping, validation, the fused kernels under both backends, and the
gradient-descent-vs-momentum picture on an ill-conditioned quadratic."""

import numpy as np
import pytest

import autograd_core as ag
import optim
from autograd_core import backend

SHAPES = [(3, 4), (5,), (2, 3, 2)]
STEPS = 25

# (optimizer, options): each optimizer with its defaults, then every option it has.
CASES = [
    ("SGD", {}),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.5)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.1, momentum=0.5, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.5, nesterov=True, weight_decay=0.1, maximize=True)),
    ("Adam", {}),
    ("Adam", dict(lr=0.05, betas=(0.8, 0.99), eps=1e-6)),
    ("Adam", dict(lr=0.05, weight_decay=0.1)),
    ("Adam", dict(lr=0.05, amsgrad=True)),
    ("Adam", dict(lr=0.05, amsgrad=True, weight_decay=0.1, maximize=True)),
    ("Adam", dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True)),
    ("AdamW", {}),
    ("AdamW", dict(lr=0.05, weight_decay=0.1, amsgrad=True)),
    ("Adagrad", {}),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.1, eps=1e-8)),
    ("Adagrad", dict(lr=0.1, maximize=True)),
    ("RMSprop", {}),
    ("RMSprop", dict(lr=0.01, alpha=0.9, weight_decay=0.1, eps=1e-6)),
    ("RMSprop", dict(lr=0.01, momentum=0.9)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5, maximize=True)),
    ("Adadelta", {}),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-5, weight_decay=0.1)),
    ("Adadelta", dict(maximize=True)),
    ("Adamax", {}),
    ("Adamax", dict(lr=0.05, betas=(0.8, 0.9), eps=1e-6, weight_decay=0.1)),
    ("Adamax", dict(lr=0.05, maximize=True)),
    ("NAdam", {}),
    ("NAdam", dict(lr=0.05, betas=(0.8, 0.99), momentum_decay=0.01, weight_decay=0.1)),
    ("NAdam", dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True)),
    ("NAdam", dict(lr=0.05, maximize=True)),
]
OPTIMIZERS = ["SGD", "Adam", "AdamW", "Adagrad", "RMSprop", "Adadelta", "Adamax", "NAdam"]


def case_id(case):
    name, options = case
    return name + "".join(f"-{k}={v}" for k, v in options.items())


@pytest.fixture
def torch():
    """torch, with float64 as its default dtype while the test runs: torch.optim keeps scalar state
    (NAdam's running product of momenta) in the default dtype, and float32 there costs 1e-8 accuracy."""
    torch = pytest.importorskip("torch")
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield torch
    torch.set_default_dtype(previous)


def without_size_minimum(monkeypatch):
    """Let the kernel policy send groups of any size to the optimizers' fused kernels."""
    for name in ("sgd_update", "adam_update"):
        monkeypatch.setitem(backend.POLICY, name, backend.POLICY[name]._replace(min_size=0))


@pytest.fixture(params=["numpy", "numba"])
def each_backend(request, monkeypatch):
    """Run the test under each backend, restoring the previous one afterwards. Under numba the fused
    kernels take even the tiny groups of these tests (normally they go to numpy below a size)."""
    without_size_minimum(monkeypatch)
    previous = backend.get()
    backend.set(request.param)
    yield request.param
    backend.set(previous)


def initial_values(seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=shape).astype(dtype) for shape in SHAPES]


def gradient(values):
    """A deterministic nonlinear gradient field with per-entry curvature, so each step feeds the next:
    the gradient of sum(c/2 * (p - 1)^2 - 0.1 * cos(3p)), c spread over [0.5, 3]."""
    curvature = np.linspace(0.5, 3.0, values.size).reshape(values.shape)
    return curvature * (values - 1.0) + 0.3 * np.sin(3.0 * values)


def make_params(values):
    return [ag.tensor(v.copy(), requires_grad=True) for v in values]


def run_steps(opt, params, steps):
    """`steps` optimizer steps with gradients from `gradient`; the parameter values after each."""
    history = []
    for _ in range(steps):
        for p in params:
            p.grad = ag.tensor(gradient(np.asarray(p)))
        opt.step()
        history.append([np.asarray(p).copy() for p in params])
    return history


def torch_history(torch, name, options, values, steps):
    params = [torch.tensor(v.copy(), requires_grad=True) for v in values]
    opt = getattr(torch.optim, name)(params, **options)
    history = []
    for _ in range(steps):
        for p in params:
            p.grad = torch.from_numpy(gradient(p.detach().numpy()))
        opt.step()
        history.append([p.detach().numpy().copy() for p in params])
    return history


# ---- against torch.optim -------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_trajectory_matches_torch(torch, each_backend, case):
    name, options = case
    values = initial_values()
    params = make_params(values)
    ours = run_steps(getattr(optim, name)(params, **options), params, STEPS)
    theirs = torch_history(torch, name, options, values, STEPS)
    for step, (mine, reference) in enumerate(zip(ours, theirs)):
        for i, (a, b) in enumerate(zip(mine, reference)):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12, err_msg=f"{name} step {step} param {i}")
    assert not np.allclose(ours[-1][0], values[0]), "the parameters did not move"


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_defaults_are_torch_defaults(torch, name):
    p = ag.tensor([1.0], requires_grad=True)
    ours = getattr(optim, name)([p]).defaults
    theirs = getattr(torch.optim, name)([torch.zeros(1, requires_grad=True)]).defaults
    assert ours == {key: theirs[key] for key in ours}


def test_param_groups_with_their_own_hyperparameters_match_torch(torch):
    values = initial_values()
    params = make_params(values)
    groups = [{"params": params[:2], "lr": 0.05, "momentum": 0.5}, {"params": params[2:]}]
    ours = run_steps(optim.SGD(groups, lr=0.1, momentum=0.9, nesterov=True), params, STEPS)

    torch_params = [torch.tensor(v.copy(), requires_grad=True) for v in values]
    opt = torch.optim.SGD(
        [{"params": torch_params[:2], "lr": 0.05, "momentum": 0.5}, {"params": torch_params[2:]}],
        lr=0.1,
        momentum=0.9,
        nesterov=True,
    )
    for step in range(STEPS):
        for p in torch_params:
            p.grad = torch.from_numpy(gradient(p.detach().numpy()))
        opt.step()
        for a, b in zip(ours[step], torch_params):
            np.testing.assert_allclose(a, b.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_training_through_backward_matches_torch(torch, each_backend):
    """End to end: gradients from the engine's backward, Adam with amsgrad, lr from a scheduler."""
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(16, 3)), rng.normal(size=(16, 2))
    w0, b0 = rng.normal(size=(3, 2)), np.zeros(2)

    w, b = ag.tensor(w0.copy(), requires_grad=True), ag.tensor(b0.copy(), requires_grad=True)
    opt = optim.Adam([w, b], lr=0.1, amsgrad=True, weight_decay=0.01)
    schedule = optim.lr_scheduler.StepLR(opt, step_size=5, gamma=0.5)
    tw, tb = torch.tensor(w0.copy(), requires_grad=True), torch.tensor(b0.copy(), requires_grad=True)
    topt = torch.optim.Adam([tw, tb], lr=0.1, amsgrad=True, weight_decay=0.01)
    tschedule = torch.optim.lr_scheduler.StepLR(topt, step_size=5, gamma=0.5)
    losses = []
    for _ in range(20):
        opt.zero_grad()
        loss = ((ag.tensor(x) @ w + b - ag.tensor(y)) ** 2).mean()
        loss.backward()
        opt.step()
        schedule.step()
        topt.zero_grad()
        tloss = ((torch.from_numpy(x) @ tw + tb - torch.from_numpy(y)) ** 2).mean()
        tloss.backward()
        topt.step()
        tschedule.step()
        losses.append(loss.item())
        np.testing.assert_allclose(loss.item(), tloss.item(), rtol=1e-10)
        np.testing.assert_allclose(np.asarray(w), tw.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(np.asarray(b), tb.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert losses[-1] < 0.5 * losses[0]


# ---- state dicts ---------------------------------------------------------------------------------

ROUND_TRIP_CASES = [
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("Adam", dict(lr=0.05, amsgrad=True, weight_decay=0.1)),
    ("AdamW", dict(lr=0.05)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5)),
    ("Adadelta", {}),
    ("Adamax", dict(lr=0.05)),
    ("NAdam", dict(lr=0.05)),
]


@pytest.mark.parametrize("through_file", [False, True], ids=["in-memory", "ag.save"])
@pytest.mark.parametrize("case", ROUND_TRIP_CASES, ids=case_id)
def test_state_dict_round_trip_continues_bit_for_bit(tmp_path, each_backend, case, through_file):
    name, options = case
    params = make_params(initial_values())
    opt = getattr(optim, name)(params, **options)
    run_steps(opt, params, 10)

    state = opt.state_dict()
    if through_file:
        ag.save(state, tmp_path / "optimizer.safetensors")
        state = ag.load(tmp_path / "optimizer.safetensors")
    resumed_params = make_params([np.asarray(p) for p in params])
    resumed = getattr(optim, name)(resumed_params, lr=123.0)  # hyperparameters come from the state dict
    resumed.load_state_dict(state)

    expected = run_steps(opt, params, 15)
    got = run_steps(resumed, resumed_params, 15)
    for a, b in zip(expected[-1] + expected[0], got[-1] + got[0]):
        np.testing.assert_array_equal(a, b)
    assert resumed.param_groups[0]["lr"] == opt.param_groups[0]["lr"]


def test_state_dict_is_a_snapshot_and_loading_copies():
    params = make_params(initial_values())
    opt = optim.Adam(params, lr=0.1)
    run_steps(opt, params, 3)
    state = opt.state_dict()
    saved_exp_avg = state["state"][0]["exp_avg"].copy()
    assert state["state"][0]["step"] == 3
    assert state["param_groups"][0]["params"] == [0, 1, 2]
    run_steps(opt, params, 2)
    np.testing.assert_array_equal(state["state"][0]["exp_avg"], saved_exp_avg)

    other = optim.Adam(make_params(initial_values()), lr=0.1)
    other.load_state_dict(state)
    other_state = other.state[other.param_groups[0]["params"][0]]
    assert not np.shares_memory(other_state["exp_avg"], state["state"][0]["exp_avg"])


def test_load_state_dict_rejects_a_mismatched_optimizer():
    params = make_params(initial_values())
    opt = optim.SGD(params, lr=0.1, momentum=0.9)
    run_steps(opt, params, 2)
    state = opt.state_dict()
    with pytest.raises(ValueError, match="parameter groups"):
        optim.SGD([{"params": params[:1]}, {"params": params[1:]}], lr=0.1).load_state_dict(state)
    with pytest.raises(ValueError, match="group 0 has 3 parameters"):
        optim.SGD(params[:2], lr=0.1).load_state_dict(state)
    with pytest.raises(ValueError, match="expected a dict with 'state' and 'param_groups'"):
        opt.load_state_dict({"state": {}})
    transposed = [ag.tensor(np.asarray(p).T.copy(), requires_grad=True) for p in params]
    with pytest.raises(ValueError, match=r"'momentum_buffer' has shape \(3, 4\) but its parameter has shape \(4, 3\)"):
        optim.SGD(transposed, lr=0.1, momentum=0.9).load_state_dict(state)


# ---- groups, skipping, zero_grad, closure --------------------------------------------------------


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_frozen_and_gradless_parameters_are_skipped(name):
    trained, frozen, gradless = make_params(initial_values())
    frozen.requires_grad_(False)
    frozen.grad = ag.tensor(np.ones(frozen.shape))  # a stale gradient must not move a frozen parameter
    before = [np.asarray(t).copy() for t in (trained, frozen, gradless)]
    opt = getattr(optim, name)([trained, frozen, gradless], lr=0.1)
    for _ in range(3):
        trained.grad = ag.tensor(gradient(np.asarray(trained)))
        opt.step()
    assert not np.array_equal(np.asarray(trained), before[0])
    np.testing.assert_array_equal(np.asarray(frozen), before[1])
    np.testing.assert_array_equal(np.asarray(gradless), before[2])
    assert frozen not in opt.state and gradless not in opt.state


def test_step_bumps_the_version_so_stale_saved_values_are_caught():
    w = ag.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    loss = (w * w).sum()  # saves w for backward
    w.grad = ag.tensor([1.0, 1.0])
    opt.step()
    with pytest.raises(RuntimeError):
        loss.backward()


def test_add_param_group_uses_defaults_and_its_own_overrides():
    a, b = make_params(initial_values())[:2]
    opt = optim.Adam([a], lr=0.01)
    opt.add_param_group({"params": b, "betas": (0.5, 0.6)})
    assert opt.param_groups[1]["lr"] == 0.01 and opt.param_groups[1]["betas"] == (0.5, 0.6)
    assert opt.param_groups[1]["params"] == [b]
    with pytest.raises(ValueError, match="more than once"):
        opt.add_param_group({"params": [a]})
    with pytest.raises(ValueError, match="betas"):
        opt.add_param_group({"params": [ag.tensor([1.0], requires_grad=True)], "betas": (0.9, 1.0)})


def test_zero_grad():
    params = make_params(initial_values())
    opt = optim.SGD(params, lr=0.1)
    for p in params:
        p.grad = ag.tensor(np.ones(p.shape))
    grad = params[0].grad
    opt.zero_grad(set_to_none=False)
    assert params[0].grad is grad and not np.asarray(grad).any()
    opt.zero_grad()
    assert all(p.grad is None for p in params)


def test_step_runs_the_closure_with_grad_enabled_and_returns_its_loss():
    w = ag.tensor([3.0, -1.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with ag.no_grad():
        loss = opt.step(closure)
    assert loss.item() == 10.0
    np.testing.assert_allclose(np.asarray(w), [1.5, -0.5])  # w - 0.25 * 2w


def test_gradient_of_another_dtype_is_cast_and_a_wrong_shape_is_refused():
    w = ag.tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    opt = optim.Adam([w], lr=0.1)
    w.grad = ag.tensor(np.ones(3, dtype=np.float64))
    opt.step()
    assert w.dtype == np.float32 and opt.state[w]["exp_avg"].dtype == np.float32
    w.grad = ag.tensor(np.ones(4, dtype=np.float32))
    with pytest.raises(ValueError, match=r"gradient of shape \(4,\) does not match its parameter's shape \(3,\)"):
        opt.step()


# ---- validation ----------------------------------------------------------------------------------

BAD_HYPERPARAMETERS = [
    ("SGD", dict(lr=-0.1), "lr"),
    ("SGD", dict(momentum=-0.5), "momentum"),
    ("SGD", dict(weight_decay=-1e-4), "weight_decay"),
    ("SGD", dict(nesterov=True), "nesterov"),
    ("SGD", dict(momentum=0.9, dampening=0.1, nesterov=True), "nesterov"),
    ("Adam", dict(lr=-1e-3), "lr"),
    ("Adam", dict(betas=(1.0, 0.999)), r"betas\[0\]"),
    ("Adam", dict(betas=(0.9, -0.1)), r"betas\[1\]"),
    ("Adam", dict(eps=0.0), "eps"),
    ("Adam", dict(eps=-1e-8), "eps"),
    ("Adam", dict(weight_decay=-0.1), "weight_decay"),
    ("Adam", dict(lr=float("nan")), "lr"),
    ("Adam", dict(lr=float("inf")), "lr"),
    ("AdamW", dict(weight_decay=-0.01), "weight_decay"),
    ("Adagrad", dict(lr_decay=-0.1), "lr_decay"),
    ("Adagrad", dict(initial_accumulator_value=-1.0), "initial_accumulator_value"),
    ("RMSprop", dict(alpha=1.5), "alpha"),
    ("RMSprop", dict(momentum=-0.1), "momentum"),
    ("Adadelta", dict(rho=1.1), "rho"),
    ("Adamax", dict(betas=(0.9, 1.0)), r"betas\[1\]"),
    ("NAdam", dict(momentum_decay=-4e-3), "momentum_decay"),
]


@pytest.mark.parametrize(
    "name, options, parameter",
    BAD_HYPERPARAMETERS,
    ids=[f"{n}-" + ",".join(f"{k}={v}" for k, v in o.items()) for n, o, _ in BAD_HYPERPARAMETERS],
)
def test_bad_hyperparameters_raise_value_error_naming_them(name, options, parameter):
    with pytest.raises(ValueError, match=f"{name}: .*{parameter}"):
        getattr(optim, name)([ag.tensor([1.0], requires_grad=True)], **options)


def test_bad_params_and_hyperparameter_types():
    w = ag.tensor([1.0], requires_grad=True)
    with pytest.raises(TypeError, match="single Tensor"):
        optim.SGD(w, lr=0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="must be Tensors, got ndarray"):
        optim.SGD([np.ones(2)], lr=0.1)
    with pytest.raises(ValueError, match="more than once"):
        optim.SGD([w, w], lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([w * 2], lr=0.1)
    with pytest.raises(TypeError, match="ordered collection"):
        optim.SGD({w}, lr=0.1)
    with pytest.raises(TypeError, match="Adam: lr must be a finite number >= 0, got str"):
        optim.Adam([w], lr="0.1")
    with pytest.raises(TypeError, match="betas must be a pair"):
        optim.Adam([w], betas=0.9)


# ---- fused kernels: numpy reference vs Numba -----------------------------------------------------

FUSED_CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.2, weight_decay=0.01)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("Adam", dict(lr=0.05, weight_decay=0.01)),
    ("Adam", dict(lr=0.05, amsgrad=True)),
    ("AdamW", dict(lr=0.05, weight_decay=0.1, amsgrad=True)),
]


def fused_steps(t):
    """How many optimizer updates in trace `t` ran a fused kernel."""
    return sum(c.implementation != backend.NUMPY for c in t.calls if c.kernel in ("sgd_update", "adam_update"))


def laid_out(values, layout):
    """The same values as contiguous arrays, or as non-contiguous ones (Fortran order, strided views),
    or converted to alternate float32/float64 (one group holding two dtypes)."""
    if layout == "contiguous":
        return [v.copy() for v in values]
    if layout == "mixed-dtype":
        return [v.astype(np.float32 if i % 2 else np.float64) for i, v in enumerate(values)]
    strided = []
    for v in values:
        holder = np.zeros((2,) + v.shape, dtype=v.dtype, order="F")
        holder[1] = v
        strided.append(holder[1])  # a view with gaps between its elements
    return strided


def fused_run(name, options, values, layout, fused, steps=6):
    arrays = laid_out(values, layout)
    params = [ag.tensor(array, requires_grad=True) for array in arrays]
    for p, array in zip(params, arrays):
        p.data = ag.from_numpy(array)  # shares the array: its strided layout is what is under test
    opt = getattr(optim, name)(params, fused=fused, **options)
    for _ in range(steps):
        for p in params:
            p.grad = ag.tensor(laid_out([gradient(np.asarray(p).astype(np.float64))], layout)[0].astype(p.dtype))
        opt.step()
    assert all(np.asarray(p) is a for p, a in zip(params, arrays)), "parameters must be updated in place"
    states = [opt.state[p][key] for p in params for key in sorted(opt.state[p]) if key != "step"]
    return [np.asarray(p).copy() for p in params] + states


@pytest.mark.parametrize("layout", ["contiguous", "non-contiguous", "mixed-dtype"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", FUSED_CASES, ids=case_id)
def test_fused_and_per_tensor_paths_follow_one_trajectory(numba_backend, case, dtype, layout):
    """fused=True (one Numba call per group) and fused=False (numpy, tensor by tensor) give the same
    parameters and state after six steps; a group of two dtypes cannot be fused, and says why."""
    name, options = case
    values = initial_values(dtype=dtype)
    with backend.trace() as t:
        reference = fused_run(name, options, values, layout, fused=False)
    assert fused_steps(t) == 0 and {c.reason for c in t.calls} == {"fused=False"}
    if layout == "mixed-dtype":
        with pytest.raises(
            RuntimeError, match="fused=True, but the fused kernel cannot run: inputs are not numpy arrays of one dtype"
        ):
            fused_run(name, options, values, layout, fused=True)
        return
    with backend.trace() as t:
        fused = fused_run(name, options, values, layout, fused=True)
    assert fused_steps(t) == 6
    tolerance = 1e-6 if dtype == np.float32 else 1e-13
    assert len(reference) == len(fused)
    for a, b in zip(reference, fused):
        assert a.dtype == b.dtype
        np.testing.assert_allclose(b, a, rtol=tolerance, atol=tolerance)


def test_small_groups_take_the_numpy_reference_under_numba(numba_backend):
    minimum = backend.FUSED_MIN_MEAN_SIZE["adam_update"]
    small = ag.tensor(np.ones(minimum - 1, dtype=np.float32), requires_grad=True)
    large = ag.tensor(np.ones(minimum + 1, dtype=np.float32), requires_grad=True)
    with backend.trace() as t:
        for params in ([small], [small, large]):
            opt = optim.Adam(params, lr=0.1)
            for p in params:
                p.grad = ag.tensor(np.ones(p.shape, dtype=np.float32))
            opt.step()
    # [small] is below the size, [small, large] averages above it
    assert [(c.implementation, c.reason) for c in t.calls] == [
        ("numpy", f"size {minimum - 1} below {minimum}"),
        ("numba", "float32"),
    ]
    np.testing.assert_allclose(np.asarray(small), 0.8, rtol=1e-6)  # two Adam steps of size lr, the first via numpy


def test_adam_step_reports_what_ran_and_why(numba_backend):
    """The policy's answer for a float64 model (small: numpy, by size), a float16 one (not in the
    table), and under the numpy backend, as the trace prints it."""
    params = {dtype: ag.tensor(np.ones(10, dtype=dtype), requires_grad=True) for dtype in (np.float64, np.float16)}
    with backend.trace() as t:
        for p in params.values():
            p.grad = ag.ones_like(p)
            optim.Adam([p]).step()
        backend.set("numpy")
        optim.Adam([params[np.float64]]).step()
    assert [(c.kernel, c.implementation, c.reason) for c in t.calls] == [
        ("adam_update", "numpy", "size 10 below 1024"),
        ("adam_update", "numpy", "float16 inputs are not in the table (compiled for float32, float64)"),
        ("adam_update", "numpy", "numpy backend"),
    ]
    assert "adam_update  numpy  size 10 below 1024" in str(t)


def test_fused_true_refuses_what_it_cannot_fuse(numba_backend):
    p = ag.tensor(np.ones(3, dtype=np.float16), requires_grad=True)
    with pytest.raises(RuntimeError, match="adam_update: fused=True, but the fused kernel cannot run: float16 inputs"):
        optim.Adam([p], fused=True)
    q = ag.tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    opt = optim.SGD([q], lr=0.1, fused=True)  # small groups run fused when asked
    backend.set("numpy")
    q.grad = ag.ones_like(q)
    with pytest.raises(RuntimeError, match="sgd_update: fused=True, but the fused kernel cannot run: numpy backend"):
        opt.step()
    with pytest.raises(TypeError, match="fused must be None, True or False, got 1"):
        optim.Adam([q], fused=1)


def test_fused_is_a_group_option_kept_in_the_state_dict():
    a, b = (ag.tensor(np.ones(3), requires_grad=True) for _ in range(2))
    opt = optim.AdamW([{"params": [a]}, {"params": [b], "fused": False}], fused=None)
    assert [group["fused"] for group in opt.param_groups] == [None, False]
    assert [group["fused"] for group in opt.state_dict()["param_groups"]] == [None, False]
    assert optim.SGD([a], fused=False).defaults["fused"] is False


# ---- the textbook picture ------------------------------------------------------------------------


def test_momentum_beats_oscillating_gradient_descent_on_an_ill_conditioned_quadratic():
    """f(x) = 0.1 x1^2 + 2 x2^2 from (-5, -2). With lr 0.4, plain gradient descent multiplies x2 by
    1 - 0.4 * 4 = -0.6 each step (it zig-zags across the valley) and x1 by 1 - 0.4 * 0.2 = 0.92 (it
    crawls along it); momentum 0.5 contracts x1 by the larger root of z^2 - 1.42 z + 0.5, ~0.774."""
    steps = 40

    def descend(**options):
        x = ag.tensor([-5.0, -2.0], dtype=np.float64, requires_grad=True)
        opt = optim.SGD([x], lr=0.4, **options)
        path = []
        for _ in range(steps):
            opt.zero_grad()
            (0.1 * x[0] ** 2 + 2 * x[1] ** 2).backward()
            opt.step()
            path.append(np.asarray(x).copy())
        return np.array(path)

    plain, heavy_ball = descend(), descend(momentum=0.5)
    assert np.all(np.sign(plain[:, 1]) == [(-1) ** k for k in range(steps)])  # +1.2, -0.72, +0.432, ...
    np.testing.assert_allclose(plain[-1], [-5 * 0.92**steps, -2 * (-0.6) ** steps], rtol=1e-9)
    plain_distance, momentum_distance = np.linalg.norm(plain[-1]), np.linalg.norm(heavy_ball[-1])
    assert plain_distance == pytest.approx(5 * 0.92**steps, rel=1e-6)  # ~0.178
    assert momentum_distance < 1e-3 < plain_distance / 100
