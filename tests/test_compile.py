"""`ag.compile`: a compiled function gives eager's results, call after call, with fresh data each call.

Every comparison builds the same model and optimizer twice from one seed, runs the same script of
calls once with `fn` eager and once with `ag.compile(fn)`, and checks after every call the returned
values, every parameter, buffer and `.grad`, and the optimizer's state. The scripts change what a
guard watches (shapes, Python arguments, grad mode, module modes) and do what the compiler must
refuse to replay (reading values, hooks, custom Functions...), which makes it run eagerly with one
warning naming the reason and this file's line.
"""

import inspect
import types

import numpy as np
import pytest

import autograd_core as ag
import nn
import optim
from autograd_core import backend

# A fallback nobody asked for fails the test; the tests of fallbacks catch theirs with pytest.warns.
pytestmark = pytest.mark.filterwarnings("error::autograd_core.CompileFallbackWarning")

F32 = {"rtol": 1e-5, "atol": 1e-6}
F64 = {"rtol": 1e-11, "atol": 1e-13}


# ---- comparing a compiled function with eager -----------------------------------------------------


def _array(t):
    return None if t is None else t.detach().numpy().copy()


def as_arrays(obj):
    """A returned structure with its tensors as numpy copies (later calls must not change what is compared)."""
    if isinstance(obj, ag.Tensor):
        return _array(obj)
    if isinstance(obj, (tuple, list)):
        return type(obj)(as_arrays(o) for o in obj)
    if isinstance(obj, dict):
        return {k: as_arrays(v) for k, v in obj.items()}
    return obj


def snapshot(watched):
    """The values, buffers and gradients of the watched modules and tensors, and the optimizers' state."""
    out = {}
    for k, obj in enumerate(watched):
        if isinstance(obj, nn.Module):
            for name, p in obj.named_parameters():
                out[f"{k}:{name}"], out[f"{k}:{name}.grad"] = _array(p), _array(p.grad)
            for name, b in obj.named_buffers():
                out[f"{k}:{name}"] = _array(b)
        elif isinstance(obj, optim.Optimizer):
            for index, group in enumerate(obj.param_groups):
                out[f"{k}:param_groups[{index}].lr"] = group["lr"]
            for index, state in obj.state_dict()["state"].items():
                for key, value in state.items():
                    out[f"{k}:state[{index}].{key}"] = np.array(value)
        else:
            out[f"{k}"], out[f"{k}.grad"] = _array(obj), _array(obj.grad)
    return out


def assert_same(expected, actual, tol, where):
    if isinstance(expected, dict):
        assert expected.keys() == actual.keys(), where
        for key in expected:
            assert_same(expected[key], actual[key], tol, f"{where}[{key!r}]")
    elif isinstance(expected, (tuple, list)):
        assert type(expected) is type(actual) and len(expected) == len(actual), where
        for k, (e, a) in enumerate(zip(expected, actual)):
            assert_same(e, a, tol, f"{where}[{k}]")
    elif expected is None:
        assert actual is None, where
    elif isinstance(expected, np.ndarray):
        assert isinstance(actual, np.ndarray) and actual.dtype == expected.dtype, where
        np.testing.assert_allclose(actual, expected, err_msg=where, **tol)
    elif isinstance(expected, float):
        assert actual == pytest.approx(expected, rel=tol["rtol"], abs=tol["atol"]), where
    else:
        assert actual == expected, where


def against_eager(build, script, *, seed=0, tol=F32, calls=5, **options):
    """Run `script(step, case)` (a generator yielding what each call returned) with `step = case.fn`,
    then with `step = ag.compile(case.fn, **options)`, each on a fresh `build()` made after
    `ag.manual_seed(seed)`; after every call the returned values and `snapshot(case.watched)` must
    agree. Returns the compiled function and the case it ran on."""
    runs = []
    for compiled in (False, True):
        ag.manual_seed(seed)
        case = build()
        step = ag.compile(case.fn, **options) if compiled else case.fn
        runs.append([(as_arrays(out), snapshot(case.watched)) for out in script(step, case)])
    eager, compiled = runs
    assert len(eager) == len(compiled) >= calls
    for call, (e, c) in enumerate(zip(eager, compiled)):
        assert_same(e, c, tol, f"call {call}")
    return step, case


def data(*shapes, calls=6, dtype=np.float32, classes=None, seed=1):
    """`calls` tuples of fresh arrays: normal values of `shapes`, then class labels for the first shape's
    batch when `classes` is given."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(calls):
        batch = [rng.standard_normal(s).astype(dtype) for s in shapes]
        if classes is not None:
            batch.append(rng.integers(0, classes, shapes[0][0]))
        out.append(batch)
    return out


def feed(batches, before=None):
    """The script calling `step` once per batch (as new tensors), after `before(call, case)` if given."""

    def script(step, case):
        for call, arrays in enumerate(batches):
            if before is not None:
                before(call, case)
            yield step(*(ag.tensor(a) for a in arrays))

    return script


def line_of(fn, marker):
    """'file:line' of the line of `fn`'s source holding `marker`."""
    lines, first = inspect.getsourcelines(fn)
    [offset] = [k for k, line in enumerate(lines) if marker in line]
    return f"{inspect.getsourcefile(fn)}:{first + offset}"


# ---- models ---------------------------------------------------------------------------------------


def mlp(features=4, hidden=8, classes=3):
    return nn.Sequential(
        nn.Linear(features, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, classes)
    )


OPTIMIZERS = {
    "Adam": lambda params: optim.Adam(params, lr=1e-2),
    "SGD momentum": lambda params: optim.SGD(params, lr=0.1, momentum=0.9),
    "AdamW": lambda params: optim.AdamW(params, lr=1e-2, weight_decay=0.1),
}


def training_case(model, make_optimizer=OPTIMIZERS["Adam"], loss_fn=nn.functional.cross_entropy, zero_grad=True):
    """A case whose `fn(x, y)` is one training step of `model` (zero_grad inside when asked), returning the loss."""
    opt = make_optimizer(model.parameters())

    def fn(x, y):
        if zero_grad:
            opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return types.SimpleNamespace(fn=fn, model=model, opt=opt, watched=[model, opt])


# ---- 1. training steps ----------------------------------------------------------------------------


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("zero_grad_inside", [True, False], ids=["zero_grad inside", "zero_grad outside"])
def test_mlp_training_step_matches_eager(optimizer, zero_grad_inside):
    def outside(call, case):
        if not zero_grad_inside:
            case.opt.zero_grad()

    step, _ = against_eager(
        lambda: training_case(mlp(), OPTIMIZERS[optimizer], zero_grad=zero_grad_inside),
        feed(data((6, 4), classes=3), before=outside),
    )
    assert step.traced == 1 and step.traces[0].calls == 5


def test_mlp_training_step_in_float64():
    def build():
        ag.set_default_dtype(np.float64)
        return training_case(mlp())

    step, case = against_eager(build, feed(data((6, 4), classes=3, dtype=np.float64)), tol=F64)
    assert case.model[0].weight.dtype == np.float64 and step.traced == 1


@pytest.fixture(params=["numpy", "numba"])
def each_backend(request):
    """The test under each backend (the program calls the same kernels eager calls)."""
    previous = backend.get()
    backend.set(request.param)
    yield request.param
    backend.set(previous)


def test_mlp_training_step_under_each_backend(each_backend):
    step, _ = against_eager(lambda: training_case(mlp()), feed(data((6, 4), classes=3)))
    assert step.traced == 1 and step.traces[0].calls == 5


# ---- 2. batch norm and dropout, train and eval ----------------------------------------------------


def normalized_mlp():
    # no bias before batch norm: its true gradient is 0, and Adam would turn float noise into steps of lr
    return nn.Sequential(nn.Linear(4, 8, bias=False), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.3), nn.Linear(8, 3))


def test_dropout_and_batch_norm_in_train_mode_draw_fresh_masks_and_update_statistics():
    step, case = against_eager(lambda: training_case(normalized_mlp()), feed(data((6, 4), classes=3)))
    assert step.traced == 1
    assert case.model[1].num_batches_tracked.item() == 6


def test_switching_train_and_eval_retraces_once_per_mode_and_keeps_both_programs():
    modes = [True, True, False, False, True, False, True, False]

    def switch(call, case):
        case.model.train(modes[call])

    step, case = against_eager(
        lambda: training_case(normalized_mlp()), feed(data((6, 4), classes=3, calls=len(modes)), before=switch)
    )
    assert step.traced == 2 and len(step.traces) == 2
    assert [t.calls for t in step.traces] == [modes.count(True) - 1, modes.count(False) - 1]
    assert case.model[1].num_batches_tracked.item() == modes.count(True)


def test_an_inference_function_in_eval_mode():
    def build():
        model = normalized_mlp()
        for _ in range(2):  # running statistics that are not the initial ones
            model(ag.randn(8, 4))
        model.eval()

        def fn(x):
            with ag.no_grad():
                return model(x).softmax(-1)

        return types.SimpleNamespace(fn=fn, watched=[model])

    step, _ = against_eager(build, feed(data((5, 4))))
    assert step.traced == 1


# ---- 3. recurrent and convolutional steps -------------------------------------------------------------


class SummedRecurrent(nn.Module):
    def __init__(self, cell):
        super().__init__()
        self.rnn = cell(3, 5, batch_first=True)

    def forward(self, x):
        out, _ = self.rnn(x)
        return out


@pytest.mark.parametrize("cell", [nn.LSTM, nn.GRU])
def test_recurrent_training_step(cell):
    def build():
        return training_case(SummedRecurrent(cell), loss_fn=lambda out, y: (out * y).sum())

    step, _ = against_eager(build, feed(data((2, 4, 3), (2, 4, 5))))
    assert step.traced == 1


def test_recurrent_state_carried_from_call_to_call():
    def build():
        lstm, head = nn.LSTM(3, 5, batch_first=True), nn.Linear(5, 2)
        opt = optim.Adam([*lstm.parameters(), *head.parameters()], lr=1e-2)

        def fn(x, y, state):
            opt.zero_grad()
            out, (h, c) = lstm(x, state)
            loss = nn.functional.mse_loss(head(out), y)
            loss.backward()
            opt.step()
            return loss, (h.detach(), c.detach())

        return types.SimpleNamespace(fn=fn, watched=[lstm, head, opt])

    def script(step, case):
        state = (ag.zeros(1, 2, 5), ag.zeros(1, 2, 5))
        for x, y in data((2, 4, 3), (2, 4, 2)):
            loss, state = step(ag.tensor(x), ag.tensor(y), state)
            yield loss, state

    step, _ = against_eager(build, script)
    assert step.traced == 1


@pytest.mark.parametrize(
    "pool",
    [
        nn.AvgPool2d,
        nn.MaxPool2d,
    ],
)
def test_conv_training_step(pool):
    def build():
        model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), pool(2), nn.Flatten(), nn.Linear(8, 3))
        return training_case(model, OPTIMIZERS["SGD momentum"])

    step, _ = against_eager(build, feed(data((3, 1, 4, 4), classes=3)))
    assert step.traced == 1


# ---- 4. hand-written updates, accumulation, tensors made inside ---------------------------------------


def _subtract(p, lr):
    p -= lr * p.grad


def _subtract_from_data(p, lr):
    p.data -= lr * p.grad


def _add_(p, lr):
    p.add_(p.grad, alpha=-lr)


def _set_to_none(p):
    p.grad = None


def _zero_(p):
    p.grad.zero_()


UPDATES = {
    "p -= lr * p.grad": _subtract,
    "p.data -= lr * p.grad": _subtract_from_data,
    "p.add_(p.grad, alpha=-lr)": _add_,
}
RESETS = {"p.grad = None": _set_to_none, "p.grad.zero_()": _zero_}


def manual_sgd_case(update, reset):
    model = mlp()

    def fn(x, y, lr=0.1):
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        with ag.no_grad():
            for p in model.parameters():
                update(p, lr)
                reset(p)
        return loss

    return types.SimpleNamespace(fn=fn, model=model, watched=[model])


@pytest.mark.parametrize("update", UPDATES)
@pytest.mark.parametrize("reset", RESETS)
def test_hand_written_sgd(update, reset):
    step, _ = against_eager(lambda: manual_sgd_case(UPDATES[update], RESETS[reset]), feed(data((6, 4), classes=3)))
    assert step.traced == 1


def test_gradients_accumulate_over_calls_without_zero_grad():
    model_steps = [False, True, False, False, True, True]  # zero_grad and step every so often, outside

    def build():
        model = mlp()

        def fn(x, y):
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            return loss

        opt = optim.SGD(model.parameters(), lr=0.1)
        return types.SimpleNamespace(fn=fn, model=model, opt=opt, watched=[model, opt])

    def outside(call, case):
        if model_steps[call]:
            case.opt.step()
            case.opt.zero_grad()

    step, _ = against_eager(build, feed(data((6, 4), classes=3, calls=len(model_steps)), before=outside))
    assert step.traced == 1


def test_a_tensor_made_inside_from_python_data_starts_fresh_every_call():
    def build():
        model = mlp()
        opt = optim.SGD(model.parameters(), lr=0.1)

        def fn(x, y):
            opt.zero_grad()
            acc = ag.zeros(())
            counts = ag.tensor([0.0, 0.0])
            for half in (slice(0, 3), slice(3, 6)):
                acc += nn.functional.cross_entropy(model(x[half]), y[half])
                counts[0] += 1
            counts[1:].add_(acc.detach())  # a write through a view
            acc.backward()
            opt.step()
            return acc, counts

        return types.SimpleNamespace(fn=fn, watched=[model, opt])

    step, _ = against_eager(build, feed(data((6, 4), classes=3)))
    assert step.traced == 1


def test_gradients_assigned_in_python_before_the_optimizer_step():
    """`p.grad = p.grad * 0.5` and `p.grad = None` between backward and step: the step sees what eager's sees."""

    def build():
        model = mlp()
        opt = optim.Adam(model.parameters(), lr=1e-2)
        first, *rest = model.parameters()

        def fn(x, y):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            first.grad = None  # frozen for this step: Adam skips it
            for p in rest:
                p.grad = p.grad * 0.5
            opt.step()
            return loss

        return types.SimpleNamespace(fn=fn, model=model, watched=[model, opt])

    step, case = against_eager(build, feed(data((6, 4), classes=3)))
    assert step.traced == 1 and case.model[0].weight.grad is None


def test_gradient_clipping_inside():
    """clip_grad_norm_'s factor comes from each call's gradients, not from the first call's."""

    def build():
        case = training_case(mlp())
        model, opt = case.model, case.opt

        def fn(x, y):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            norm = nn.utils.clip_grad_norm_(model.parameters(), 0.1)
            opt.step()
            return loss, norm

        case.fn = fn
        return case

    step, _ = against_eager(build, feed(data((6, 4), classes=3)))
    assert step.traced == 1


def test_a_scheduler_step_inside():
    def build():
        case = training_case(mlp(), OPTIMIZERS["SGD momentum"])
        scheduler = optim.lr_scheduler.StepLR(case.opt, step_size=2, gamma=0.5)
        inner = case.fn

        def fn(x, y):
            loss = inner(x, y)
            scheduler.step()
            return loss

        case.fn = fn
        return case

    step, case = against_eager(build, feed(data((6, 4), classes=3)))
    assert step.traced == 1 and case.opt.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5**3)


# ---- 5. guards --------------------------------------------------------------------------------------


def shapes_script(sizes):
    """One call per batch size in `sizes`, each with fresh data."""

    def script(step, case):
        rng = np.random.default_rng(2)
        for n in sizes:
            x = rng.standard_normal((n, 4)).astype(np.float32)
            yield step(ag.tensor(x), ag.tensor(rng.integers(0, 3, n)))

    return script


def test_a_new_batch_size_retraces_and_the_old_program_still_serves_the_old_shape():
    step, _ = against_eager(lambda: training_case(mlp()), shapes_script([6, 6, 4, 4, 6, 4, 6]))
    assert step.traced == 2
    assert [t.calls for t in step.traces] == [3, 2]
    assert [t.input_specs[0][0] for t in step.traces] == [(6, 4), (4, 4)]


def test_cache_size_evicts_the_oldest_program():
    step, _ = against_eager(lambda: training_case(mlp()), shapes_script([2, 3, 4, 4, 2, 3]), cache_size=2)
    assert step.traced == 5  # 2, 3, 4, then 2 and 3 again: each evicted before it came back
    assert [t.input_specs[0][0] for t in step.traces] == [(2, 4), (3, 4)]


def test_a_python_number_argument_that_changes_retraces():
    lrs = [0.1, 0.1, 0.05, 0.05, 0.1, 0.05]

    def script(step, case):
        for lr, (x, y) in zip(lrs, data((6, 4), classes=3, calls=len(lrs))):
            yield step(ag.tensor(x), ag.tensor(y), lr)

    step, _ = against_eager(lambda: manual_sgd_case(UPDATES["p -= lr * p.grad"], RESETS["p.grad = None"]), script)
    assert step.traced == 2 and [t.calls for t in step.traces] == [2, 2]


def test_arguments_passed_twice_then_apart_retrace():
    """An autoencoder's step(x, x): the program read one array for both; step(x, y) must not reuse it."""

    def build():
        model = nn.Sequential(nn.Linear(4, 4))
        opt = optim.SGD(model.parameters(), lr=0.1)

        def fn(x, target):
            opt.zero_grad()
            loss = nn.functional.mse_loss(model(x), target)
            loss.backward()
            opt.step()
            return loss

        return types.SimpleNamespace(fn=fn, watched=[model, opt])

    def script(step, case):
        for call, (x, y) in enumerate(data((5, 4), (5, 4))):
            x = ag.tensor(x)
            yield step(x, x if call % 2 == 0 else ag.tensor(y))

    step, _ = against_eager(build, script)
    assert step.traced == 2


def test_a_parameter_given_new_values_between_calls():
    """`w.data = ...` between calls: the program reads w as it is now; a new shape retraces."""
    replacements = {2: (4, 3), 3: (4, 5), 5: (4, 3)}

    def build():
        w = ag.randn(4, 3, requires_grad=True)

        def fn(x):
            loss = (x @ w).tanh().sum()
            loss.backward()
            with ag.no_grad():
                w.sub_(0.1 * w.grad)
            w.grad = None
            return loss

        return types.SimpleNamespace(fn=fn, w=w, watched=[w])

    def replace(call, case):
        if call in replacements:
            case.w.data = ag.randn(*replacements[call])

    step, _ = against_eager(build, feed(data((2, 4)), before=replace))
    assert step.traced == 2 and [t.calls for t in step.traces] == [3, 1]  # traced at calls 0 (4, 3) and 3 (4, 5)


def test_grad_mode_is_a_guard():
    def build():
        model = mlp()

        def fn(x):
            return model(x).detach().softmax(-1)

        return types.SimpleNamespace(fn=fn, watched=[model])

    def script(step, case):
        for call, (x,) in enumerate(data((5, 4))):
            if call % 2:
                with ag.no_grad():
                    yield step(ag.tensor(x))
            else:
                yield step(ag.tensor(x))

    step, _ = against_eager(build, script)
    assert step.traced == 2 and [t.others[0] for t in step.traces] == [True, False]


def test_targets_computed_inside_keep_the_fused_path_while_their_values_allow_it():
    """cross_entropy takes its fused path only for in-range targets with none ignored: the program
    checks the targets (computed again from the arguments) before it runs; a batch with an ignored
    target traces again, takes the general path, which reads the targets in numpy, and runs eagerly."""
    batches = data((6, 4), (6,), classes=3, calls=7)
    for call in (4, 6):
        batches[call][2][0] = -100

    def build():
        model = mlp()
        opt = optim.Adam(model.parameters(), lr=1e-2)

        def fn(x, y):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x).view(-1, 3), y.view(-1))
            loss.backward()
            opt.step()
            return loss

        return types.SimpleNamespace(fn=fn, watched=[model, opt])

    def script(step, case):
        for x, _, y in batches:
            yield step(ag.tensor(x), ag.tensor(y))

    with pytest.warns(ag.CompileFallbackWarning, match="after a tensor's values were taken with np.asarray"):
        step, _ = against_eager(build, script)
    assert step.traced == 2 and step.fallback is not None


def test_a_boolean_mask_retraces_for_each_count_it_selects():
    masks = [[1, 0, 1, 1, 0, 1], [0, 1, 1, 0, 1, 1], [1, 0, 0, 0, 0, 1], [0, 0, 1, 1, 1, 1], [0, 1, 0, 1, 0, 0]]
    batches = [(*b, np.array(m, bool)) for b, m in zip(data((6, 4), classes=3, calls=len(masks)), masks)]

    def build():
        case = training_case(mlp())
        inner = case.fn
        case.fn = lambda x, y, keep: inner(x[keep], y[keep])
        return case

    step, _ = against_eager(build, feed(batches))
    assert step.traced == 2  # 4 rows, then 2; the masks of 4 rows share the first program
    assert [t.calls for t in step.traces] == [2, 1]


# ---- 6. what runs eagerly -----------------------------------------------------------------------------


class Square(ag.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 2 * x * g


class Scale(ag.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 0.5

    @staticmethod
    def backward(ctx, g):
        return g * 0.5


def _with_item(case, x, y):
    loss = case.loss(x, y)
    loss.backward()
    return loss.item()  # falls back


def _with_bool(case, x, y):
    loss = case.loss(x, y)
    if loss > 1:  # falls back
        loss = loss * 0.5
    loss.backward()
    return loss


def _with_print(case, x, y):
    loss = case.loss(x, y)
    print(loss)  # falls back
    loss.backward()
    return loss


def _with_tensor_hook(case, x, y):
    hidden = case.model[0](x)
    hidden.register_hook(lambda g: g * 0.5)
    loss = nn.functional.cross_entropy(case.model[1:](hidden), y)
    loss.backward()  # falls back
    return loss


def _with_forward_hook(case, x, y):
    loss = nn.functional.cross_entropy(case.model(x), y)  # falls back
    loss.backward()
    return loss


def _with_create_graph(case, x, y):
    loss = case.loss(x, y)
    grads = ag.grad(loss, list(case.model.parameters()), create_graph=True)  # falls back
    penalty = sum((g * g).sum() for g in grads)
    (loss + penalty).backward()
    return loss, penalty


def _with_autograd_function(case, x, y):
    loss = Square.apply(case.loss(x, y))  # falls back
    loss.backward()
    return loss


def _with_function(case, x, y):
    loss = Scale.apply(case.loss(x, y))  # falls back
    loss.backward()
    return loss


def _returning_a_graph(case, x, y):
    return case.model(x)


def _with_a_numpy_argument(case, x, y):
    loss = case.loss(ag.as_tensor(x), y)
    loss.backward()
    return loss


def _a_numpy_script(step, case):
    for x, y in data((6, 4), classes=3):
        yield step(x, ag.tensor(y))  # falls back


FALLBACKS = {
    ".item()": (_with_item, ".item() reads a tensor's values"),
    "if loss > 1": (_with_bool, "bool(tensor)"),
    "print(loss)": (_with_print, "printing a tensor"),
    "tensor hook": (_with_tensor_hook, "a gradient hook runs Python code"),
    "forward hook": (_with_forward_hook, "a forward hook of Linear runs Python code"),
    "create_graph": (_with_create_graph, "create_graph=True"),
    "autograd.Function": (_with_autograd_function, "the custom autograd.Function Square"),
    "ag.Function": (_with_function, "the custom autograd.Function Scale"),
    "graph returned": (_returning_a_graph, "returns a tensor that requires grad without calling backward"),
    "numpy argument": (_with_a_numpy_argument, "a numpy array is among the arguments"),
}


def fallback_case(body):
    model = mlp()
    case = types.SimpleNamespace(model=model, watched=[model])
    case.loss = lambda x, y: nn.functional.cross_entropy(model(x), y)
    case.fn = lambda x, y: body(case, x, y)
    if body is _with_forward_hook:
        model[2].register_forward_hook(lambda module, inputs, output: output * 2)
    return case


def _script_and_line(body):
    """The script to run `body` with, and the line the fallback names: the line in `body` marked, or the
    call of the compiled function for what is seen before or after `body` runs."""
    if body is _with_a_numpy_argument:
        return _a_numpy_script, line_of(_a_numpy_script, "# falls back")
    script = feed(data((6, 4), classes=3))
    if body is _returning_a_graph:
        return script, line_of(feed, "yield step(")
    return script, line_of(body, "# falls back")


@pytest.mark.parametrize("name", FALLBACKS)
def test_what_cannot_be_replayed_runs_eagerly_with_one_warning(name, capsys):
    body, reason = FALLBACKS[name]
    script, line = _script_and_line(body)
    with pytest.warns(ag.CompileFallbackWarning) as warned:
        step, _ = against_eager(lambda: fallback_case(body), script)
    [warning] = [w for w in warned if issubclass(w.category, ag.CompileFallbackWarning)]
    message = str(warning.message)
    assert reason in message and f"(at {line})" in message
    assert warning.filename == __file__  # attributed to the call of the compiled function
    assert step.traced == 1 and step.traces == []
    explained = step.explain()
    assert "runs eagerly: " in explained and reason in explained


@pytest.mark.parametrize("name", FALLBACKS)
def test_fullgraph_raises_instead(name):
    body, reason = FALLBACKS[name]
    script, line = _script_and_line(body)
    ag.manual_seed(0)
    case = fallback_case(body)
    with pytest.raises(ag.CompileError, match="fullgraph=True") as error:
        next(iter(script(ag.compile(case.fn, fullgraph=True), case)))
    assert reason in str(error.value) and f"(at {line})" in str(error.value)


# ---- 7. randomness ----------------------------------------------------------------------------------


def test_random_draws_inside_are_fresh_every_call_and_follow_manual_seed():
    def build():
        model = mlp()
        opt = optim.SGD(model.parameters(), lr=0.1)

        def fn(x, y):
            opt.zero_grad()
            noise = ag.randn(x.shape) * 0.1 + ag.rand(x.shape[0], 1)
            loss = nn.functional.cross_entropy(model(x + noise), y)
            loss.backward()
            opt.step()
            return loss, noise

        return types.SimpleNamespace(fn=fn, watched=[model, opt])

    def reseed(call, case):
        if call == 3:
            ag.manual_seed(7)

    step, _ = against_eager(build, feed(data((6, 4), classes=3), before=reseed))
    assert step.traced == 1


# ---- 8. gradients in other forms, several outputs, inputs that require grad ------------------------------


def test_ag_grad_inside():
    def build():
        model = mlp()
        params = list(model.parameters())

        def fn(x, y):
            loss = nn.functional.cross_entropy(model(x), y)
            grads = ag.grad(loss, params)
            with ag.no_grad():
                for p, g in zip(params, grads):
                    p -= 0.1 * g
            return loss, grads[0]

        return types.SimpleNamespace(fn=fn, watched=[model])

    step, _ = against_eager(build, feed(data((6, 4), classes=3)))
    assert step.traced == 1


def test_backward_with_a_gradient_and_several_outputs():
    def build():
        model = mlp()
        opt = optim.Adam(model.parameters(), lr=1e-2)

        def fn(x, weights):
            opt.zero_grad()
            out = model(x)
            out.backward(gradient=weights * 0.5)
            opt.step()
            return {"out": out.detach(), "pair": (out.sum().detach(), weights)}

        return types.SimpleNamespace(fn=fn, watched=[model, opt])

    step, _ = against_eager(build, feed(data((6, 4), (6, 3))))
    assert step.traced == 1


def test_inputs_that_require_grad_get_their_grad_every_call():
    def build():
        model = mlp()

        def fn(x, y):
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            return loss

        return types.SimpleNamespace(fn=fn, watched=[model])

    def script(step, case):
        for x, y in data((6, 4), classes=3):
            x = ag.tensor(x, requires_grad=True)
            loss = step(x, ag.tensor(y))
            yield loss, x.grad

    step, _ = against_eager(build, script)
    assert step.traced == 1


def test_an_argument_written_in_place_inside():
    def build():
        model = mlp()

        def fn(x, y):
            x.mul_(2.0)
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            return loss

        return types.SimpleNamespace(fn=fn, watched=[model])

    def script(step, case):
        for x, y in data((6, 4), classes=3):
            x = ag.tensor(x)
            yield step(x, ag.tensor(y)), x

    step, _ = against_eager(build, script)
    assert step.traced == 1


# ---- 9. explain, decorator forms, arguments ---------------------------------------------------------


def test_explain_lists_the_instructions(capsys):
    step, _ = against_eager(lambda: training_case(mlp()), feed(data((6, 4), classes=3)))
    text = step.explain()
    assert capsys.readouterr().out.strip() == text
    assert text.startswith("ag.compile(training_case.<locals>.fn): traced 1 time(s), 1 program(s) cached")
    assert "run 5 time(s)" in text
    for name in ("linear(", "softmax_cross_entropy(", "call Adam.zero_grad()", "call Adam.step()", ".grad += "):
        assert name in text, name
    assert "A[0]._data.shape == (6, 4)" in text


def test_compile_as_a_decorator_with_and_without_arguments():
    @ag.compile
    def double(x):
        return x * 2

    @ag.compile(fullgraph=True, cache_size=1)
    def halve(x):
        return x / 2

    for k in range(3):
        x = ag.tensor(np.arange(3.0, dtype=np.float32) + k)
        np.testing.assert_array_equal(double(x).numpy(), x.numpy() * 2)
        np.testing.assert_array_equal(halve(x).numpy(), x.numpy() / 2)
    assert double.__name__ == "double" and halve.fullgraph and halve.cache_size == 1
    assert [t.calls for t in double.traces] == [2] and [t.calls for t in halve.traces] == [2]


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: ag.compile(lambda x: x, cache_size=0), ValueError, "cache_size must be a positive int, got 0"),
        (lambda: ag.compile(lambda x: x, cache_size=True), ValueError, "cache_size must be a positive int"),
        (lambda: ag.compile(3), TypeError, "expected a function, got int"),
        (lambda: ag.compile(fullgraph=True)("step"), TypeError, "expected a function, got str"),
    ],
)
def test_bad_arguments(call, error, message):
    with pytest.raises(error, match=message):
        call()
