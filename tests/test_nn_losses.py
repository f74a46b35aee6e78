"""Losses: every loss and reduction against torch (values and gradients), gradcheck in float64,
large-logit stability, and clear errors for bad targets and options."""

import numpy as np
import pytest
from nn_helpers import compare_with_torch, requires_torch, to_torch, torch

import autograd_core as ag
import nn
import nn.functional as F

REDUCTIONS = ("mean", "sum", "none")
rng = np.random.default_rng(0)
LOGITS = rng.standard_normal((5, 4))
LABELS = np.array([0, 3, 1, 3, 2])
PROBABILITIES = rng.dirichlet(np.ones(4), size=5)
LOGITS_ND = rng.standard_normal((3, 4, 2, 3))
LABELS_ND = rng.integers(0, 4, size=(3, 2, 3))
CLASS_WEIGHTS = np.array([0.5, 2.0, 1.0, 1.5])
REGRESSION_TARGET = rng.standard_normal((5, 4))
BINARY_TARGET = (rng.random((5, 4)) > 0.5).astype(np.float64)
SOFT_BINARY_TARGET = rng.random((5, 4))
PROBS = rng.uniform(0.05, 0.95, size=(5, 4))


def _tnn():
    return torch.nn


# (name, our module, the torch module, inputs, indices of differentiable inputs)
LOSS_CASES = [
    (
        "MSELoss",
        lambda r: nn.MSELoss(reduction=r),
        lambda r: _tnn().MSELoss(reduction=r),
        (LOGITS, REGRESSION_TARGET),
        (0, 1),
    ),
    (
        "L1Loss",
        lambda r: nn.L1Loss(reduction=r),
        lambda r: _tnn().L1Loss(reduction=r),
        (LOGITS, REGRESSION_TARGET),
        (0, 1),
    ),
    (
        "HuberLoss",
        lambda r: nn.HuberLoss(reduction=r),
        lambda r: _tnn().HuberLoss(reduction=r),
        (2 * LOGITS, REGRESSION_TARGET),
        (0, 1),
    ),
    (
        "HuberLoss-delta",
        lambda r: nn.HuberLoss(reduction=r, delta=0.4),
        lambda r: _tnn().HuberLoss(reduction=r, delta=0.4),
        (LOGITS, REGRESSION_TARGET),
        (0, 1),
    ),
    (
        "CrossEntropy",
        lambda r: nn.CrossEntropyLoss(reduction=r),
        lambda r: _tnn().CrossEntropyLoss(reduction=r),
        (LOGITS, LABELS),
        (0,),
    ),
    (
        "CrossEntropy-smoothing",
        lambda r: nn.CrossEntropyLoss(reduction=r, label_smoothing=0.2),
        lambda r: _tnn().CrossEntropyLoss(reduction=r, label_smoothing=0.2),
        (LOGITS, LABELS),
        (0,),
    ),
    (
        "CrossEntropy-weight-ignore-smoothing",
        lambda r: nn.CrossEntropyLoss(CLASS_WEIGHTS, ignore_index=3, reduction=r, label_smoothing=0.1),
        lambda r: _tnn().CrossEntropyLoss(to_torch(CLASS_WEIGHTS), ignore_index=3, reduction=r, label_smoothing=0.1),
        (LOGITS, LABELS),
        (0,),
    ),
    (
        "CrossEntropy-ignore",
        lambda r: nn.CrossEntropyLoss(ignore_index=3, reduction=r),
        lambda r: _tnn().CrossEntropyLoss(ignore_index=3, reduction=r),
        (LOGITS, LABELS),
        (0,),
    ),
    (
        "CrossEntropy-ND",
        lambda r: nn.CrossEntropyLoss(weight=CLASS_WEIGHTS, reduction=r, label_smoothing=0.3),
        lambda r: _tnn().CrossEntropyLoss(weight=to_torch(CLASS_WEIGHTS), reduction=r, label_smoothing=0.3),
        (LOGITS_ND, LABELS_ND),
        (0,),
    ),
    (
        "CrossEntropy-unbatched",
        lambda r: nn.CrossEntropyLoss(reduction=r),
        lambda r: _tnn().CrossEntropyLoss(reduction=r),
        (LOGITS[0], np.array(2)),
        (0,),
    ),
    (
        "CrossEntropy-probabilities",
        lambda r: nn.CrossEntropyLoss(reduction=r, label_smoothing=0.1),
        lambda r: _tnn().CrossEntropyLoss(reduction=r, label_smoothing=0.1),
        (LOGITS, PROBABILITIES),
        (0, 1),
    ),
    (
        "CrossEntropy-probabilities-weight",
        lambda r: nn.CrossEntropyLoss(weight=CLASS_WEIGHTS, reduction=r),
        lambda r: _tnn().CrossEntropyLoss(weight=to_torch(CLASS_WEIGHTS), reduction=r),
        (LOGITS, PROBABILITIES),
        (0, 1),
    ),
    ("NLLLoss", lambda r: nn.NLLLoss(reduction=r), lambda r: _tnn().NLLLoss(reduction=r), (LOGITS, LABELS), (0,)),
    (
        "NLLLoss-weight-ignore",
        lambda r: nn.NLLLoss(weight=CLASS_WEIGHTS, ignore_index=0, reduction=r),
        lambda r: _tnn().NLLLoss(weight=to_torch(CLASS_WEIGHTS), ignore_index=0, reduction=r),
        (LOGITS, LABELS),
        (0,),
    ),
    (
        "NLLLoss-ND",
        lambda r: nn.NLLLoss(reduction=r),
        lambda r: _tnn().NLLLoss(reduction=r),
        (LOGITS_ND, LABELS_ND),
        (0,),
    ),
    (
        "BCELoss",
        lambda r: nn.BCELoss(reduction=r),
        lambda r: _tnn().BCELoss(reduction=r),
        (PROBS, SOFT_BINARY_TARGET),
        (0, 1),
    ),
    (
        "BCELoss-weight",
        lambda r: nn.BCELoss(weight=CLASS_WEIGHTS, reduction=r),
        lambda r: _tnn().BCELoss(weight=to_torch(CLASS_WEIGHTS), reduction=r),
        (PROBS, BINARY_TARGET),
        (0,),
    ),
    (
        "BCEWithLogits",
        lambda r: nn.BCEWithLogitsLoss(reduction=r),
        lambda r: _tnn().BCEWithLogitsLoss(reduction=r),
        (3 * LOGITS, SOFT_BINARY_TARGET),
        (0, 1),
    ),
    (
        "BCEWithLogits-weights",
        lambda r: nn.BCEWithLogitsLoss(weight=CLASS_WEIGHTS, pos_weight=CLASS_WEIGHTS[::-1].copy(), reduction=r),
        lambda r: _tnn().BCEWithLogitsLoss(
            weight=to_torch(CLASS_WEIGHTS), pos_weight=to_torch(CLASS_WEIGHTS[::-1]), reduction=r
        ),
        (LOGITS, BINARY_TARGET),
        (0, 1),
    ),
]
IDS = [case[0] for case in LOSS_CASES]


@requires_torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name, ours, theirs, inputs, differentiable", LOSS_CASES, ids=IDS)
def test_loss_matches_torch(name, ours, theirs, inputs, differentiable, reduction):
    compare_with_torch(
        ours(reduction), theirs(reduction), list(inputs), differentiable=list(differentiable), rtol=1e-7, atol=1e-10
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name, ours, theirs, inputs, differentiable", LOSS_CASES, ids=IDS)
def test_loss_gradcheck(name, ours, theirs, inputs, differentiable, reduction):
    loss = ours(reduction)
    tensors = [ag.tensor(a, requires_grad=i in differentiable) for i, a in enumerate(inputs)]
    assert ag.gradcheck(loss, tensors)


def test_losses_return_the_input_dtype_and_scalar_for_reductions():
    logits = ag.randn(4, 3, requires_grad=True)
    loss = nn.CrossEntropyLoss()(logits, np.array([0, 1, 2, 1]))
    assert loss.dtype == np.float32 and loss.shape == ()
    assert nn.MSELoss(reduction="none")(logits, np.zeros((4, 3), np.float32)).shape == (4, 3)
    # float64 or list targets do not turn a float32 model's loss into float64
    assert nn.MSELoss()(logits, np.zeros((4, 3))).dtype == np.float32
    assert nn.BCEWithLogitsLoss(pos_weight=np.ones(3))(logits, np.ones((4, 3))).dtype == np.float32
    assert nn.CrossEntropyLoss()(logits, np.full((4, 3), 1 / 3)).dtype == np.float32
    assert nn.L1Loss()(ag.tensor([1.0, 2.0]), [0.0, 1.0]).item() == 1.0


@requires_torch
def test_cross_entropy_is_stable_for_huge_logits():
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 5.0], [3.0, 2.0, 1e4]], dtype=np.float32)
    labels = np.array([0, 0, 1])
    ours = compare_with_torch(
        nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss(), [logits, labels], differentiable=[0], rtol=1e-6, atol=1e-6
    )
    assert np.isfinite(np.asarray(ours)) and ours.item() > 1e3


@requires_torch
def test_bce_with_logits_is_stable_for_huge_logits():
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 3.0]], dtype=np.float32)
    targets = np.array([[1.0, 0.0, 1.0], [1.0, 0.0, 0.0]], dtype=np.float32)
    x = ag.tensor(logits, requires_grad=True)
    loss = nn.BCEWithLogitsLoss()(x, targets)
    loss.backward()
    tx = to_torch(logits, requires_grad=True)
    torch_loss = torch.nn.BCEWithLogitsLoss()(tx, to_torch(targets))
    torch_loss.backward()
    assert np.isfinite(loss.item()) and np.all(np.isfinite(np.asarray(x.grad)))
    np.testing.assert_allclose(loss.item(), torch_loss.item(), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(x.grad), tx.grad.numpy(), rtol=1e-6, atol=1e-7)


def test_bce_with_logits_gradient_at_zero_is_sigmoid_minus_target():
    # The stable form has no kink at 0: the gradient there is sigmoid(0) - y = 0.5 - y.
    x = ag.zeros(3, dtype=np.float64, requires_grad=True)
    F.binary_cross_entropy_with_logits(x, np.array([1.0, 0.0, 0.25]), reduction="sum").backward()
    np.testing.assert_allclose(np.asarray(x.grad), [-0.5, 0.5, 0.25])


def test_bce_clamps_the_log_so_certain_mistakes_stay_finite():
    p = ag.tensor([0.0, 1.0, 0.5], dtype=np.float64, requires_grad=True)
    loss = F.binary_cross_entropy(p, np.array([1.0, 0.0, 1.0]), reduction="none")
    np.testing.assert_allclose(np.asarray(loss), [100.0, 100.0, np.log(2.0)])
    loss.sum().backward()
    assert np.all(np.isfinite(np.asarray(p.grad)))


def test_cross_entropy_with_everything_ignored_is_nan_as_in_pytorch():
    with np.errstate(invalid="ignore"):  # the 0 / 0 of an empty mean
        loss = F.cross_entropy(ag.randn(2, 3), np.array([-100, -100]))
    assert np.isnan(loss.item())


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: nn.MSELoss(reduction="avg"), ValueError, "MSELoss: reduction must be one of 'mean', 'sum', 'none'"),
        (
            lambda: F.l1_loss(ag.zeros(2), ag.zeros(2), reduction="total"),
            ValueError,
            "l1_loss: reduction must be one of",
        ),
        (lambda: nn.HuberLoss(delta=0.0), ValueError, "HuberLoss: delta must be > 0"),
        (lambda: nn.CrossEntropyLoss(label_smoothing=1.5), ValueError, r"label_smoothing must be in \[0, 1\]"),
        (lambda: nn.CrossEntropyLoss(ignore_index=0.5), TypeError, "ignore_index must be an int"),
        (
            lambda: F.mse_loss(ag.zeros(3, 2), ag.zeros(2, 3)),
            ValueError,
            r"mse_loss: target shape \(2, 3\) does not match input shape \(3, 2\)",
        ),
        (
            lambda: F.cross_entropy(ag.zeros(4, 3), np.array([0, 1, 2])),
            ValueError,
            r"cross_entropy: target shape \(3,\) does not match input shape \(4, 3\); "
            r"class-index targets need shape \(4,\)",
        ),
        (
            lambda: F.cross_entropy(ag.zeros(4, 3), np.zeros((4, 2))),
            ValueError,
            r"cross_entropy: target shape \(4, 2\) does not match input shape \(4, 3\)",
        ),
        (
            lambda: F.cross_entropy(ag.zeros(2, 3), np.array([0, 3])),
            ValueError,
            "cross_entropy: target class 3 is out of range for 3 classes",
        ),
        (
            lambda: F.cross_entropy(ag.zeros(2, 3), np.array([True, False])),
            TypeError,
            "cross_entropy: target must hold class indices",
        ),
        (
            lambda: F.cross_entropy(ag.zeros(2, 3), np.array([0, 1]), weight=np.ones(2)),
            ValueError,
            r"cross_entropy: weight must have shape \(3,\)",
        ),
        (lambda: F.nll_loss(ag.zeros(2, 3), np.array([0.0, 1.0])), TypeError, "nll_loss: class-index targets must be"),
        (
            lambda: F.binary_cross_entropy(ag.tensor([0.5, 1.5]), np.array([0.0, 1.0])),
            ValueError,
            r"binary_cross_entropy: every element of input must be a probability in \[0, 1\]",
        ),
        (
            lambda: F.binary_cross_entropy_with_logits(ag.zeros(4), np.zeros((4, 1))),
            ValueError,
            r"binary_cross_entropy_with_logits: target shape \(4, 1\) does not match input shape \(4,\)",
        ),
        (lambda: F.cross_entropy(ag.tensor(1.0), np.array(0)), ValueError, "cross_entropy: input must have a class"),
    ],
)
def test_bad_loss_input_raises_clear_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_loss_repr_is_like_pytorch():
    assert repr(nn.CrossEntropyLoss(label_smoothing=0.1)) == "CrossEntropyLoss()"
    assert repr(nn.HuberLoss(delta=2.0)) == "HuberLoss()"


def test_loss_options_are_attributes_as_in_pytorch_and_assignment_changes_the_loss():
    weight = ag.tensor(CLASS_WEIGHTS)
    criterion = nn.CrossEntropyLoss(weight=weight, label_smoothing=0.1)
    assert (criterion.reduction, criterion.ignore_index, criterion.label_smoothing) == ("mean", -100, 0.1)
    assert criterion.weight is weight
    assert list(criterion.state_dict()) == ["weight"]  # a weight tensor is a buffer, as in PyTorch
    logits, labels = ag.tensor(LOGITS), ag.tensor(LABELS)
    criterion.reduction = "sum"
    expected = F.cross_entropy(logits, labels, weight=weight, reduction="sum", label_smoothing=0.1)
    np.testing.assert_allclose(np.asarray(criterion(logits, labels)), np.asarray(expected))
    if torch is not None:
        twin = torch.nn.CrossEntropyLoss(weight=to_torch(CLASS_WEIGHTS), label_smoothing=0.1)
        assert (twin.reduction, twin.ignore_index, twin.label_smoothing) == ("mean", -100, 0.1)
        twin.reduction = "sum"
        np.testing.assert_allclose(
            np.asarray(criterion(logits, labels)), twin(to_torch(LOGITS), to_torch(LABELS)).item()
        )
