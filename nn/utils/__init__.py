"""Training utilities: gradient clipping, parameter vectors, gradient-flow monitoring, the fit loop."""

from . import rnn
from .clip import (
    clip_grad_norm_,
    clip_grad_value_,
    parameters_to_vector,
    vector_to_parameters,
)
from .monitor import GradientMonitor, GradientWarning
from .training import METRICS, Callback, EarlyStopping, FitState, History, accuracy, fit

__all__ = [
    "METRICS",
    "Callback",
    "EarlyStopping",
    "FitState",
    "GradientMonitor",
    "GradientWarning",
    "History",
    "accuracy",
    "clip_grad_norm_",
    "clip_grad_value_",
    "fit",
    "parameters_to_vector",
    "rnn",
    "vector_to_parameters",
]
