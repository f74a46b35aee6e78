"""nn.utils clipping and parameter vectors, against torch.nn.utils."""

import numpy as np
import pytest

import autograd_core as ag
from nn.utils import clip_grad_norm_, clip_grad_value_, parameters_to_vector, vector_to_parameters

SHAPES = [(3, 4), (5,), (2, 2, 3)]


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def gradient_values(dtype, scale=1.0, seed=0):
    rng = np.random.default_rng(seed)
    return [(scale * rng.normal(size=shape)).astype(dtype) for shape in SHAPES]


def ours_with_grads(grads):
    """Parameters holding `grads`, plus one without a gradient (it must be skipped)."""
    params = [ag.tensor(np.zeros_like(g), requires_grad=True) for g in grads]
    for p, g in zip(params, grads):
        p.grad = ag.tensor(g.copy())
    return params + [ag.tensor(np.zeros(2, dtype=grads[0].dtype), requires_grad=True)]


def torch_with_grads(torch, grads):
    params = [torch.zeros(g.shape, dtype=torch.from_numpy(g).dtype, requires_grad=True) for g in grads]
    for p, g in zip(params, grads):
        p.grad = torch.from_numpy(g.copy())
    return params + [torch.zeros(2, requires_grad=True)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("max_norm", [0.5, 1e3], ids=["clipped", "unclipped"])
@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf"), 3.0])
def test_clip_grad_norm_matches_torch(torch, norm_type, max_norm, dtype):
    grads = gradient_values(dtype)
    ours, theirs = ours_with_grads(grads), torch_with_grads(torch, grads)
    total = clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    torch_total = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    tolerance = 1e-6 if dtype == np.float32 else 1e-12
    assert isinstance(total, ag.Tensor) and total.dtype == dtype
    np.testing.assert_allclose(total.item(), torch_total.item(), rtol=tolerance)
    for p, tp in zip(ours[:-1], theirs[:-1]):
        assert p.grad.dtype == dtype
        np.testing.assert_allclose(np.asarray(p.grad), tp.grad.numpy(), rtol=tolerance, atol=tolerance)
    assert ours[-1].grad is None
    clipped_total = np.linalg.norm(np.concatenate([np.asarray(p.grad).ravel() for p in ours[:-1]]), ord=norm_type)
    assert clipped_total == pytest.approx(min(max_norm, total.item()), rel=1e-4)


def test_clip_grad_norm_edge_cases():
    assert clip_grad_norm_([ag.tensor([1.0], requires_grad=True)], 1.0).item() == 0.0  # no gradients at all
    w = ag.tensor([0.0, 0.0], requires_grad=True)
    w.grad = ag.tensor([3.0, 4.0])
    assert clip_grad_norm_(w, 1.0).item() == pytest.approx(5.0)  # a single Tensor is accepted
    np.testing.assert_allclose(np.asarray(w.grad), [0.6, 0.8], rtol=1e-5)

    w.grad = ag.tensor([np.nan, 1.0])
    with pytest.raises(RuntimeError, match=r"total norm of order 2\.0 of the gradients is nan"):
        clip_grad_norm_([w], 1.0, error_if_nonfinite=True)
    assert np.isnan(clip_grad_norm_([w], 1.0).item())
    with pytest.raises(ValueError, match="norm_type must be > 0"):
        clip_grad_norm_([w], 1.0, norm_type=0)
    with pytest.raises(ValueError, match="max_norm must be >= 0"):
        clip_grad_norm_([w], -1.0)
    with pytest.raises(TypeError, match="expected Tensors, got ndarray"):
        clip_grad_norm_([np.ones(2)], 1.0)


def test_clipping_bumps_the_gradient_version():
    w = ag.tensor([1.0, 2.0], requires_grad=True)
    w.grad = ag.tensor([30.0, 40.0], requires_grad=True)
    saved = (w.grad * w.grad).sum()  # a graph that saved the gradient (as create_graph would)
    clip_grad_norm_([w], 1.0)
    with pytest.raises(RuntimeError):
        saved.backward()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_clip_grad_value_matches_torch(torch, dtype):
    grads = gradient_values(dtype, scale=2.0)
    ours, theirs = ours_with_grads(grads), torch_with_grads(torch, grads)
    assert clip_grad_value_(ours, 1.5) is None
    torch.nn.utils.clip_grad_value_(theirs, 1.5)
    for p, tp in zip(ours[:-1], theirs[:-1]):
        np.testing.assert_array_equal(np.asarray(p.grad), tp.grad.numpy())
        assert np.abs(np.asarray(p.grad)).max() == pytest.approx(1.5)
    with pytest.raises(ValueError, match="clip_value must be >= 0"):
        clip_grad_value_(ours, -1.0)


def test_parameters_to_vector_and_back_match_torch(torch):
    values = gradient_values(np.float64, seed=1)
    ours = [ag.tensor(v, requires_grad=True) for v in values]
    theirs = [torch.tensor(v, requires_grad=True) for v in values]
    vector = parameters_to_vector(ours)
    np.testing.assert_array_equal(np.asarray(vector), torch.nn.utils.parameters_to_vector(theirs).detach().numpy())

    replacement = np.arange(vector.shape[0], dtype=np.float64)
    vector_to_parameters(ag.tensor(replacement), ours)
    torch.nn.utils.vector_to_parameters(torch.from_numpy(replacement), theirs)
    for p, tp in zip(ours, theirs):
        np.testing.assert_array_equal(np.asarray(p), tp.detach().numpy())
        assert p.requires_grad and p.is_leaf


def test_parameters_to_vector_is_differentiable():
    a, b = (ag.tensor(v, requires_grad=True) for v in gradient_values(np.float64)[:2])
    assert ag.gradcheck(lambda x, y: parameters_to_vector([x, y]) ** 2, [a, b])


def test_vector_to_parameters_errors():
    params = [ag.tensor(np.zeros((2, 3)), requires_grad=True), ag.tensor(np.zeros(4), requires_grad=True)]
    with pytest.raises(TypeError, match="expected vec to be a Tensor, got ndarray"):
        vector_to_parameters(np.zeros(10), params)
    with pytest.raises(ValueError, match=r"vec must be 1-D, got shape \(2, 5\)"):
        vector_to_parameters(ag.zeros(2, 5), params)
    with pytest.raises(ValueError, match=r"vec has 9 elements but the parameters hold 10 \(\(2, 3\), \(4,\)\)"):
        vector_to_parameters(ag.zeros(9), params)
