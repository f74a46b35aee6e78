"""Autograd semantics: accumulation, retain_graph, hooks, grad modes, in-place safety, deep graphs,
freeing, custom Functions, anomaly mode, and the seeds' worked examples."""

import gc
import threading
import weakref

import numpy as np
import pytest

import autograd_core as ag


def test_hadamard_product_worked_example():
    a = ag.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    b = ag.tensor([[5.0, 6.0], [7.0, 8.0]], requires_grad=True)
    c = a * b
    np.testing.assert_array_equal(np.asarray(c), [[5, 12], [21, 32]])
    c.sum().backward()
    np.testing.assert_array_equal(np.asarray(a.grad), np.asarray(b))
    np.testing.assert_array_equal(np.asarray(b.grad), np.asarray(a))


def test_sigmoid_neuron_worked_example():
    """f(x; w, b) = 1 / (exp(-(w*x + b)) + 1) at x = 1, w = 0, b = 0: df/dw = 0.25 (the seed's h1..h6 chain)."""
    x = ag.tensor(1.0)
    w = ag.tensor(0.0, requires_grad=True)
    b = ag.tensor(0.0, requires_grad=True)
    h1 = w * x
    h2 = h1 + b
    h3 = -h2
    h4 = h3.exp()
    h5 = h4 + 1
    f = 1 / h5
    assert f.item() == 0.5
    f.backward()
    assert w.grad.item() == 0.25
    assert b.grad.item() == 0.25


def test_gradients_sum_over_paths():
    x = ag.tensor(3.0, requires_grad=True)
    y = x * x + x * 2 + x.exp()  # dy/dx = 2x + 2 + e^x
    y.backward()
    assert np.isclose(x.grad.item(), 2 * 3 + 2 + np.exp(3.0))


def test_reused_intermediate_sums_gradients():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    (h * h + h).sum().backward()  # d/dx = (2h + 1) * 3
    np.testing.assert_allclose(np.asarray(x.grad), (2 * 3 * np.asarray(x) + 1) * 3)


def test_leaf_gradients_accumulate_across_backward_calls():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(np.asarray(x.grad), 4 * np.asarray(x))


def test_broadcast_gradients_are_reduced_to_input_shapes():
    x = ag.tensor(np.ones((2, 3, 4)), requires_grad=True)
    b = ag.tensor(np.ones((3, 1)), requires_grad=True)
    s = ag.tensor(2.0, requires_grad=True)
    (x * b + s).sum().backward()
    assert b.grad.shape == (3, 1) and np.all(np.asarray(b.grad) == 8)
    assert s.grad.shape == () and s.grad.item() == 24


def test_second_backward_without_retain_graph_raises_and_says_what_to_do():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(np.asarray(x.grad), 2 * (np.exp(np.asarray(x)) * (np.asarray(x) + 1)), rtol=1e-6)


def test_non_scalar_backward_needs_a_gradient():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="scalar outputs"):
        (x * 2).backward()


def test_gradient_argument_weights_the_backward():
    x = ag.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).backward(gradient=np.array([1.0, 0.5, -1.0], dtype=np.float32))
    np.testing.assert_allclose(np.asarray(x.grad), [2.0, 2.0, -6.0])


def test_gradient_argument_of_the_wrong_shape_is_an_error():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"gradient has shape \(3,\) but the output has shape \(2,\)"):
        (x * x).backward(gradient=np.ones(3))


def test_backward_of_a_tensor_without_grad_says_what_to_do():
    with pytest.raises(RuntimeError, match="requires_grad=True"):
        ag.tensor([1.0]).sum().backward()


def test_leaf_and_tensor_hooks():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    handle = x.register_hook(lambda g: seen.append(np.asarray(g).copy()))
    y = x * 2
    y.register_hook(lambda g: g * 10)  # replaces the gradient flowing into y's op
    y.sum().backward()
    np.testing.assert_allclose(np.asarray(x.grad), [20.0, 20.0])
    np.testing.assert_allclose(seen[0], [20.0, 20.0])
    handle.remove()
    x.grad = None
    (x * 2).sum().backward()
    assert len(seen) == 1


def test_retain_grad_keeps_non_leaf_gradients():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    h.retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(np.asarray(h.grad), 2 * np.asarray(h))
    assert (x * 1).grad is None


def test_no_grad_and_enable_grad_and_decorator():
    x = ag.tensor([1.0], requires_grad=True)
    with ag.no_grad():
        y = x * 2
        with ag.enable_grad():
            z = x * 2
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad and z.grad_fn.name == "mul"

    @ag.no_grad()
    def double(t):
        return t * 2

    assert not double(x).requires_grad
    assert ag.is_grad_enabled()


def test_set_grad_enabled_as_call_and_context():
    x = ag.tensor([1.0], requires_grad=True)
    with ag.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad
    ag.set_grad_enabled(False)
    assert not ag.is_grad_enabled()
    ag.set_grad_enabled(True)


def test_grad_mode_is_thread_local():
    results = {}
    barrier = threading.Barrier(2)

    def worker():
        barrier.wait()
        results["other_thread"] = ag.is_grad_enabled()

    with ag.no_grad():
        t = threading.Thread(target=worker)
        t.start()
        barrier.wait()
        t.join()
        assert not ag.is_grad_enabled()
    assert results["other_thread"] is True


def test_detach_cuts_the_graph():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    y = (x * 2).detach()
    assert not y.requires_grad and y.grad_fn is None
    (x * y).sum().backward()
    np.testing.assert_allclose(np.asarray(x.grad), [2.0, 4.0])


def test_in_place_edit_of_a_saved_tensor_raises_at_backward():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    y = (h * h).sum()  # mul saves h
    h.add_(1)
    with pytest.raises(RuntimeError, match=r"mul: an input .* modified by an in-place operation"):
        y.backward()


def test_in_place_edit_of_a_saved_output_raises_at_backward():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    h = x.exp()  # exp saves its output
    y = h.sum()
    with ag.no_grad():
        h.mul_(2)
    with pytest.raises(RuntimeError, match="exp: its output"):
        y.backward()


def test_in_place_ops_on_non_leaves_are_differentiable():
    x = ag.tensor([1.0, 2.0, 3.0], requires_grad=True)
    h = x * 1
    h.mul_(x)  # h = x^2
    h.add_(1)
    h[0] = 0.0
    h.clamp_(max=5.0)
    h.sum().backward()  # d/dx of [0, min(x^2+1, 5)...]: x=2 -> 2x=4 ; x=3 -> clamped -> 0
    np.testing.assert_allclose(np.asarray(x.grad), [0.0, 4.0, 0.0])


def test_setitem_gradient_flows_to_the_value():
    base = ag.zeros(4, dtype=np.float64) * 1
    v = ag.tensor([2.0, 3.0], dtype=np.float64, requires_grad=True)
    base[np.array([1, 3])] = v
    (base * ag.tensor([1.0, 10.0, 100.0, 1000.0], dtype=np.float64)).sum().backward()
    np.testing.assert_allclose(np.asarray(v.grad), [10.0, 1000.0])


def test_in_place_on_a_leaf_that_requires_grad_raises_outside_no_grad():
    w = ag.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        w.add_(1)
    with ag.no_grad():
        w.add_(1)
    np.testing.assert_allclose(np.asarray(w), [2.0, 3.0])


def test_in_place_on_a_view_in_a_recorded_graph_raises():
    x = ag.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    h = x * 1
    row = h[0]
    with pytest.raises(RuntimeError, match="view"):
        row.mul_(2)


def test_stale_view_after_recorded_in_place_on_its_base_raises():
    x = ag.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    h = x * 1
    row = h[0]
    h.mul_(3)
    with pytest.raises(RuntimeError, match="stale"):
        row * 2


def test_version_counter_counts_in_place_edits():
    t = ag.zeros(3)
    assert t._version_counter[0] == 0
    t.add_(1)
    t[0] = 5
    t.zero_()
    assert t._version_counter[0] == 3


def test_a_million_op_chain_backwards_without_recursion():
    x = ag.tensor(1.0, dtype=np.float64, requires_grad=True)
    y = x
    for _ in range(1_000_000):
        y = y + 1e-6
    y.backward()
    assert x.grad.item() == 1.0
    assert np.isclose(y.item(), 2.0)


def test_graph_is_freed_by_reference_counting_alone():
    gc.disable()
    try:
        x = ag.tensor(np.ones(3), requires_grad=True)
        h = (x * 2).exp()
        loss = (h * h).sum()
        node = weakref.ref(loss.grad_fn)
        inner = weakref.ref(h.grad_fn)
        del h
        assert inner() is not None
        del loss
        assert node() is None and inner() is None
    finally:
        gc.enable()


def test_backward_frees_saved_buffers():
    x = ag.tensor(np.ones(3), requires_grad=True)
    h = x.exp()
    loss = (h * 2).sum()
    loss.backward()
    assert h.grad_fn.out is None and h.grad_fn.saved == "freed"


def test_grad_fn_names_and_next_functions():
    w = ag.tensor(np.ones((2, 2)), requires_grad=True)
    x = ag.tensor(np.ones(2))
    y = (w @ x).relu()
    assert y.grad_fn.name == "relu"
    ((parent, _),) = y.grad_fn.next_functions
    assert parent.name == "matmul"
    leaf, constant = parent.next_functions
    assert leaf[0].name == "AccumulateGrad" and leaf[0].variable is w
    assert constant[0] is None
    assert y.is_leaf is False and w.is_leaf


def test_create_graph_gives_second_derivatives():
    x = ag.tensor(2.0, dtype=np.float64, requires_grad=True)
    y = x**3
    (g,) = ag.grad(y, x, create_graph=True)
    assert g.item() == 12.0
    (h,) = ag.grad(g, x)
    assert h.item() == 12.0  # 6x


def test_backward_with_create_graph_leaves_differentiable_grads():
    x = ag.tensor([1.0, 2.0], dtype=np.float64, requires_grad=True)
    (x.sin() * x).sum().backward(create_graph=True)
    assert x.grad.requires_grad
    gx = x.grad
    x.grad = None
    gx.sum().backward()  # d/dx (sin x + x cos x) = 2 cos x - x sin x
    np.testing.assert_allclose(np.asarray(x.grad), 2 * np.cos(np.asarray(x)) - np.asarray(x) * np.sin(np.asarray(x)))


def test_third_order_derivative():
    x = ag.tensor(0.5, dtype=np.float64, requires_grad=True)
    y = x.tanh()
    (d1,) = ag.grad(y, x, create_graph=True)
    (d2,) = ag.grad(d1, x, create_graph=True)
    (d3,) = ag.grad(d2, x)
    t = np.tanh(0.5)
    assert np.isclose(d3.item(), -2 * (1 - t * t) * (1 - 3 * t * t))


def test_grad_does_not_touch_dot_grad_and_handles_unused_inputs():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    unused = ag.tensor([1.0], requires_grad=True)
    y = (x * x).sum()
    (gx,) = ag.grad(y, x, retain_graph=True)
    np.testing.assert_allclose(np.asarray(gx), [2.0, 4.0])
    assert x.grad is None
    with pytest.raises(RuntimeError, match="allow_unused=True"):
        ag.grad(y, [x, unused], retain_graph=True)
    gx, gu = ag.grad(y, [x, unused], allow_unused=True)
    assert gu is None


def test_grad_with_respect_to_an_intermediate():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    y = (h * h).sum()
    (gh,) = ag.grad(y, h)
    np.testing.assert_allclose(np.asarray(gh), 2 * np.asarray(h))


def test_grad_rejects_inputs_that_do_not_require_grad():
    x = ag.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="does not"):
        ag.grad((x * 2).sum(), ag.tensor([1.0]))


class Cube(ag.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return ag.tensor(np.asarray(x) ** 3)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * 3 * x * x


class MulAdd(ag.Function):
    """Two inputs and a non-tensor argument; two outputs."""

    @staticmethod
    def forward(ctx, x, y, scale):
        ctx.save_for_backward(x, y)
        ctx.scale = scale
        return x * y * scale, x + y

    @staticmethod
    def backward(ctx, g_prod, g_sum):
        x, y = ctx.saved_tensors
        return g_prod * y * ctx.scale + g_sum, g_prod * x * ctx.scale + g_sum, None


def test_custom_function_gradcheck_and_double_backward():
    x = ag.tensor([0.5, -1.5, 2.0], dtype=np.float64, requires_grad=True)
    assert ag.gradcheck(Cube.apply, [x])
    assert ag.gradgradcheck(Cube.apply, [x])
    y = Cube.apply(x)
    assert y.grad_fn.name == "Cube"


def test_custom_function_with_several_inputs_and_outputs():
    x = ag.tensor([1.0, 2.0], dtype=np.float64, requires_grad=True)
    y = ag.tensor([3.0, -1.0], dtype=np.float64, requires_grad=True)
    assert ag.gradcheck(lambda a, b: MulAdd.apply(a, b, 2.0), [x, y])
    p, s = MulAdd.apply(x, y, 2.0)
    np.testing.assert_allclose(np.asarray(p), [6.0, -4.0])
    np.testing.assert_allclose(np.asarray(s), [4.0, 1.0])


def test_custom_function_needs_input_grad_and_saved_version_check():
    seen = {}

    class Probe(ag.Function):
        @staticmethod
        def forward(ctx, a, b):
            seen["needs"] = ctx.needs_input_grad
            ctx.save_for_backward(b)
            return a * b

        @staticmethod
        def backward(ctx, g):
            (b,) = ctx.saved_tensors
            return g * b, None

    a = ag.tensor([1.0], requires_grad=True)
    b = ag.tensor([2.0])
    out = Probe.apply(a, b)
    assert seen["needs"] == (True, False)
    b.add_(1)
    with pytest.raises(RuntimeError, match="modified in place"):
        out.sum().backward()


def test_anomaly_mode_names_the_op_and_the_forward_line():
    x = ag.tensor([0.0, 1.0], requires_grad=True)
    with ag.detect_anomaly():
        y = x.sqrt()  # d sqrt / dx = inf at 0
        with pytest.raises(RuntimeError, match=r"(?s)Function 'sqrt' returned nan or inf.*y = x.sqrt\(\)"):
            y.sum().backward()


def test_without_anomaly_mode_inf_gradients_pass_silently():
    x = ag.tensor([0.0, 1.0], requires_grad=True)
    with np.errstate(divide="ignore"):
        x.sqrt().sum().backward()
    assert np.isinf(np.asarray(x.grad)[0])
