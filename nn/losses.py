"""Loss modules: each is a row of one table, a `FunctionModule` calling its `nn.functional` loss with
the options given at construction (`reduction` is "mean", "sum" or "none" for all of them).

    criterion = nn.CrossEntropyLoss(label_smoothing=0.1)
    loss = criterion(logits, labels)
"""

from collections.abc import Callable
from typing import Any

from . import functional as F
from .module import FunctionModule, function_module


def _loss(name: str, function: Callable[..., Any], doc: str, **defaults: Any) -> type[FunctionModule]:
    return function_module(name, function, doc, show_hyperparameters=False, **defaults)


MSELoss = _loss("MSELoss", F.mse_loss, "Mean squared error: (input - target)^2.", reduction="mean")
L1Loss = _loss("L1Loss", F.l1_loss, "Mean absolute error: |input - target|.", reduction="mean")
HuberLoss = _loss(
    "HuberLoss", F.huber_loss, "Quadratic within `delta` of the target, linear beyond.", reduction="mean", delta=1.0
)
CrossEntropyLoss = _loss(
    "CrossEntropyLoss",
    F.cross_entropy,
    "Cross entropy of logits against class indices or class probabilities.",
    weight=None,
    ignore_index=-100,
    reduction="mean",
    label_smoothing=0.0,
)
NLLLoss = _loss(
    "NLLLoss",
    F.nll_loss,
    "Negative log-likelihood of log-probabilities and class indices.",
    weight=None,
    ignore_index=-100,
    reduction="mean",
)
BCELoss = _loss(
    "BCELoss",
    F.binary_cross_entropy,
    "Binary cross entropy of probabilities (logs clamped at -100).",
    weight=None,
    reduction="mean",
)
BCEWithLogitsLoss = _loss(
    "BCEWithLogitsLoss",
    F.binary_cross_entropy_with_logits,
    "Binary cross entropy of logits, stable for any logit.",
    weight=None,
    reduction="mean",
    pos_weight=None,
)
