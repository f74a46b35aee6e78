"""The fused ops (linear, softmax cross-entropy, layer norm, batch norm): equal to the composition of
the simple ops they replace, under both backends; one graph node each; second order through
create_graph; PyTorch parity; argument errors that name the op and the shapes."""

import numpy as np
import pytest

import autograd_core as ag
from autograd_core import backend
from autograd_core import fused_ops as fused

try:
    import torch
except ImportError:  # torch is an optional oracle: only the comparisons with it are skipped
    torch = None
requires_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")


@pytest.fixture(params=["numpy", "numba"])
def each_backend(request):
    if request.param == "numba":
        pytest.importorskip("numba")
    previous = backend.get()
    backend.set(request.param)
    yield request.param
    backend.set(previous)


def leaves(*shapes, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return [ag.tensor(rng.uniform(-2, 2, shape).astype(dtype), requires_grad=True) for shape in shapes]


def grads(tensors):
    return [t.grad.numpy() for t in tensors]


def backward_with(out, seed=5):
    out.backward(np.random.default_rng(seed).standard_normal(out.shape).astype(out.dtype))


def to_torch(tensors):
    return [torch.tensor(np.asarray(t), requires_grad=True) for t in tensors]


def assert_close(ours, theirs, rtol=1e-10, atol=1e-12):
    np.testing.assert_allclose(
        ours, theirs.detach().numpy() if hasattr(theirs, "detach") else theirs, rtol=rtol, atol=atol
    )


# ---- linear ----------------------------------------------------------------------------------------


def composed_linear(x, weight, bias, activation):
    z = x @ weight.T
    z = z + bias if bias is not None else z
    return z if activation is None else getattr(z, activation)()


@pytest.mark.parametrize("activation", [None, "relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("x_shape, with_bias", [((5, 4), True), ((2, 3, 4), True), ((4,), True), ((5, 4), False)])
def test_linear_equals_composition(each_backend, activation, x_shape, with_bias):
    x, weight, bias = leaves(x_shape, (3, 4), (3,))
    bias = bias if with_bias else None
    inputs = [t for t in (x, weight, bias) if t is not None]
    fused_out = fused.linear(x, weight, bias, activation)
    backward_with(fused_out)
    fused_grads = grads(inputs)
    for t in inputs:
        t.grad = None
    composed = composed_linear(x, weight, bias, activation)
    backward_with(composed)
    assert_close(np.asarray(fused_out), np.asarray(composed))
    for ours, reference in zip(fused_grads, grads(inputs)):
        assert_close(ours, reference)


@requires_torch
@pytest.mark.parametrize("activation", [None, "relu", "sigmoid", "tanh"])
def test_linear_matches_torch_in_float32(each_backend, activation):
    x, weight, bias = leaves((16, 784), (64, 784), (64,), dtype=np.float32)
    out = fused.linear(x, weight, bias, activation)
    backward_with(out)
    tx, tw, tb = to_torch([x, weight, bias])
    expected = torch.nn.functional.linear(tx, tw, tb)
    expected = expected if activation is None else getattr(torch, activation)(expected)
    expected.backward(torch.as_tensor(np.random.default_rng(5).standard_normal(out.shape).astype(np.float32)))
    assert out.dtype == np.float32 and x.grad.dtype == np.float32
    for ours, theirs in ((out, expected), (x.grad, tx.grad), (weight.grad, tw.grad), (bias.grad, tb.grad)):
        assert_close(np.asarray(ours), theirs, rtol=1e-4, atol=1e-4)


def test_linear_is_one_node():
    x, weight, bias = leaves((2, 4), (3, 4), (3,))
    out = fused.linear(x, weight, bias, "relu")
    assert out.grad_fn.name == "linear"
    assert [f.variable for f, _ in out.grad_fn.next_functions] == [x, weight, bias]


def test_linear_second_order(each_backend):
    x, weight, bias = leaves((3, 4), (2, 4), (2,))
    assert ag.gradgradcheck(lambda x, w, b: fused.linear(x, w, b, "tanh"), [x, weight, bias])


@pytest.mark.parametrize(
    "args, message",
    [
        (((5, 4), (3, 5), None), "input of shape (5, 4) does not match weight of shape (3, 5)"),
        (((5, 4), (4,), None), "weight of shape (4,)"),
        (((5, 4), (3, 4), (4,)), "bias of shape (4,) does not match weight of shape (3, 4)"),
    ],
)
def test_linear_shape_errors(args, message):
    tensors = [ag.zeros(*shape) if shape is not None else None for shape in args]
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        fused.linear(*tensors)


def test_linear_rejects_unfused_activation():
    with pytest.raises(ValueError, match="linear: activation must be one of"):
        fused.linear(ag.zeros(2, 3), ag.zeros(4, 3), activation="gelu")


# ---- softmax cross-entropy ---------------------------------------------------------------------------


@requires_torch
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1, 1.0])
def test_cross_entropy_matches_torch(each_backend, label_smoothing):
    (logits,) = leaves((6, 5))
    targets = np.array([0, 4, 2, 2, 1, 3])
    loss = fused.softmax_cross_entropy(logits, targets, label_smoothing).mean()
    loss.backward()
    (t_logits,) = to_torch([logits])
    expected = torch.nn.functional.cross_entropy(t_logits, torch.as_tensor(targets), label_smoothing=label_smoothing)
    expected.backward()
    assert_close(np.asarray(loss), expected)
    assert_close(np.asarray(logits.grad), t_logits.grad)


def test_cross_entropy_equals_composition(each_backend):
    (logits,) = leaves((4, 7))
    targets = np.array([6, 0, 3, 3])
    losses = fused.softmax_cross_entropy(logits, targets)
    backward_with(losses)
    fused_grad = logits.grad.numpy().copy()
    logits.grad = None
    composed = logits.logsumexp(axis=1) - logits[np.arange(4), targets]
    backward_with(composed)
    assert_close(np.asarray(losses), np.asarray(composed))
    assert_close(fused_grad, np.asarray(logits.grad))


def test_cross_entropy_gradient_is_softmax_minus_targets(each_backend):
    logits = ag.tensor(np.array([[2.0, -1.0, 0.5], [0.0, 3.0, -2.0]]), requires_grad=True)
    fused.softmax_cross_entropy(logits, [2, 1], label_smoothing=0.3).sum().backward()
    q = np.full((2, 3), 0.1)
    q[[0, 1], [2, 1]] += 0.7
    assert_close(np.asarray(logits.grad), np.asarray(logits.softmax(axis=1)) - q)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_stable_for_large_logits(each_backend, dtype):
    logits = ag.tensor(np.array([[1e4, 0.0, -1e4], [-5e3, 5e3, 0.0]], dtype=dtype), requires_grad=True)
    losses = fused.softmax_cross_entropy(logits, [0, 0])
    losses.sum().backward()
    assert np.all(np.isfinite(np.asarray(losses))) and np.all(np.isfinite(np.asarray(logits.grad)))
    assert_close(np.asarray(losses), [0.0, 1e4], rtol=1e-6, atol=1e-6)


def test_cross_entropy_second_order(each_backend):
    (logits,) = leaves((3, 4))
    assert ag.gradgradcheck(lambda z: fused.softmax_cross_entropy(z, [1, 0, 3], 0.2), [logits])


@pytest.mark.parametrize(
    "logits_shape, targets, smoothing, error, message",
    [
        ((4,), [0, 1, 2, 3], 0.0, ValueError, r"logits must be \(N, C\), got shape \(4,\)"),
        ((2, 3), [0.0, 1.0], 0.0, TypeError, "targets must be integer class indices, got dtype float64"),
        ((2, 3), [0, 1, 2], 0.0, ValueError, r"targets of shape \(3,\) do not match logits of shape \(2, 3\)"),
        ((2, 3), [0, 3], 0.0, ValueError, r"targets must lie in \[0, 3\), got values from 0 to 3"),
        ((2, 3), [0, -1], 0.0, ValueError, r"targets must lie in \[0, 3\)"),
        ((2, 3), [0, 1], 1.5, ValueError, r"label_smoothing must lie in \[0, 1\], got 1.5"),
    ],
)
def test_cross_entropy_errors(logits_shape, targets, smoothing, error, message):
    with pytest.raises(error, match="softmax_cross_entropy: " + message):
        fused.softmax_cross_entropy(ag.zeros(*logits_shape), targets, smoothing)


# ---- layer norm and batch norm ------------------------------------------------------------------------


@requires_torch
@pytest.mark.parametrize(
    "x_shape, normalized_shape, affine",
    [
        ((4, 6), (6,), "both"),
        ((2, 3, 4), (3, 4), "both"),
        ((3, 5), 5, "weight"),
        ((3, 5), (5,), "none"),
        ((3, 5), (5,), "bias"),
    ],
)
def test_layer_norm_matches_torch(each_backend, x_shape, normalized_shape, affine):
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else normalized_shape
    x, weight, bias = leaves(x_shape, shape, shape)
    weight = weight if affine in ("both", "weight") else None
    bias = bias if affine in ("both", "bias") else None
    out = fused.layer_norm(x, normalized_shape, weight, bias, eps=1e-5)
    backward_with(out)
    given = [t for t in (x, weight, bias) if t is not None]
    t_given = to_torch(given)
    t_x = t_given[0]
    t_weight = t_given[1] if weight is not None else None
    t_bias = t_given[-1] if bias is not None else None
    expected = torch.nn.functional.layer_norm(t_x, shape, t_weight, t_bias, eps=1e-5)
    expected.backward(torch.as_tensor(np.random.default_rng(5).standard_normal(out.shape)))
    assert_close(np.asarray(out), expected)
    for ours, theirs in zip(given, t_given):
        assert_close(np.asarray(ours.grad), theirs.grad, rtol=1e-9)


@requires_torch
@pytest.mark.parametrize("x_shape, affine", [((8, 3), True), ((4, 3, 5), True), ((6, 2), False)])
def test_batch_norm_matches_torch_training(each_backend, x_shape, affine):
    x, weight, bias = leaves(x_shape, x_shape[1:2], x_shape[1:2])
    weight, bias = (weight, bias) if affine else (None, None)
    out = fused.batch_norm(x, weight, bias, eps=1e-5)
    backward_with(out)
    given = [t for t in (x, weight, bias) if t is not None]
    t_given = to_torch(given)
    expected = torch.nn.functional.batch_norm(t_given[0], None, None, *t_given[1:], training=True, eps=1e-5)
    expected.backward(torch.as_tensor(np.random.default_rng(5).standard_normal(out.shape)))
    assert_close(np.asarray(out), expected)
    for ours, theirs in zip(given, t_given):
        assert_close(np.asarray(ours.grad), theirs.grad, rtol=1e-9)


def test_normalization_equals_composition(each_backend):
    x, weight, bias = leaves((5, 4), (4,), (4,))
    fused_out = fused.layer_norm(x, 4, weight, bias)
    backward_with(fused_out)
    fused_grads = grads([x, weight, bias])
    for t in (x, weight, bias):
        t.grad = None
    centered = x - x.mean(axis=1, keepdims=True)
    composed = centered / ((centered * centered).mean(axis=1, keepdims=True) + 1e-5).sqrt() * weight + bias
    backward_with(composed)
    assert_close(np.asarray(fused_out), np.asarray(composed))
    for ours, reference in zip(fused_grads, grads([x, weight, bias])):
        assert_close(ours, reference, rtol=1e-9)


def test_normalization_second_order(each_backend):
    x, weight, bias = leaves((4, 3), (3,), (3,))
    assert ag.gradgradcheck(lambda x, w, b: fused.layer_norm(x, 3, w, b), [x, weight, bias])
    assert ag.gradgradcheck(lambda x, w, b: fused.batch_norm(x, w, b), [x, weight, bias])


def test_normalization_errors():
    with pytest.raises(ValueError, match=r"layer_norm: input of shape \(3, 5\) does not end with normalized_shape"):
        fused.layer_norm(ag.zeros(3, 5), 4)
    with pytest.raises(ValueError, match=r"layer_norm: weight of shape \(4,\) does not match the expected shape"):
        fused.layer_norm(ag.zeros(3, 5), 5, weight=ag.ones(4))
    with pytest.raises(ValueError, match=r"batch_norm: expected an input of shape \(N, C\) or \(N, C, L\), got \(5,\)"):
        fused.batch_norm(ag.zeros(5))
    with pytest.raises(ValueError, match="batch_norm: expected more than 1 value per channel when training"):
        fused.batch_norm(ag.zeros(1, 3))
    with pytest.raises(ValueError, match=r"batch_norm: bias of shape \(2,\) does not match the expected shape \(3,\)"):
        fused.batch_norm(ag.zeros(4, 3), bias=ag.zeros(2))


def test_activation_applies_a_registry_activation_by_name(each_backend):
    x = ag.tensor([-2.0, 0.5, 3.0], dtype=np.float64, requires_grad=True)
    y = fused.activation("leaky_relu", x, negative_slope=0.1)
    np.testing.assert_allclose(np.asarray(y), [-0.2, 0.5, 3.0])
    y.sum().backward()
    np.testing.assert_allclose(np.asarray(x.grad), [0.1, 1.0, 1.0])
    with pytest.raises(ValueError, match="activation: no registry op named 'relux'"):
        fused.activation("relux", x)
