"""Metrics for `fit`: functions `metric(output, target) -> float`, the mean over the batch.

`metrics` (fit's argument) is "auto" (accuracy when the output holds class
scores, shape (..., classes), and the targets are integers of shape (...);
nothing otherwise), a dict name -> function, or a list of functions and names
from `METRICS`.
"""

import numpy as np

from autograd_core import Tensor


def accuracy(output: Tensor, target: Tensor) -> float:
    """Fraction of samples whose highest score is the target class: mean(argmax(output, -1) == target)."""
    return float(np.mean(np.argmax(np.asarray(output), axis=-1) == np.asarray(target)))


METRICS = {"accuracy": accuracy}


def is_classification(output, target):
    """Whether `output` holds class scores for integer `target`: shapes (..., classes) and (...)."""
    return (
        target.dtype.kind in "iu"
        and output.ndim == target.ndim + 1
        and output.shape[:-1] == target.shape
        and output.shape[-1] >= 2
    )


def resolve_metrics(metrics):
    """{name: function} for `metrics`, or None for "auto" (decided on the first batch)."""
    if isinstance(metrics, str):
        if metrics == "auto":
            return None
        metrics = [metrics]
    if metrics is None:
        return {}
    pairs = metrics.items() if isinstance(metrics, dict) else ((None, m) for m in metrics)
    resolved = {}
    for name, metric in pairs:
        if isinstance(metric, str):
            if metric not in METRICS:
                raise ValueError(
                    f"fit: unknown metric {metric!r}; known metrics are {sorted(METRICS)}, "
                    "or pass a function metric(output, target) -> float"
                )
            name, metric = name or metric, METRICS[metric]
        if not callable(metric):
            raise TypeError(
                f"fit: a metric must be a name or a function metric(output, target) -> float, "
                f"got {type(metric).__name__}"
            )
        resolved[name or getattr(metric, "__name__", f"metric{len(resolved)}")] = metric
    return resolved
