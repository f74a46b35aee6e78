"""Optimizers and learning-rate schedulers, with PyTorch's names, defaults and update rules."""

from . import lr_scheduler
from .optimizer import Optimizer
from .optimizers import SGD, Adadelta, Adagrad, Adam, Adamax, AdamW, NAdam, RMSprop

__all__ = ["Optimizer", "SGD", "Adagrad", "RMSprop", "Adadelta", "Adam", "AdamW", "Adamax", "NAdam", "lr_scheduler"]
