"""Training: the loop `fit`, its `History`, callbacks (`EarlyStopping`), metrics and checkpoints.

One module each: `loop` (fit), `history`, `callbacks` (FitState, Callback,
EarlyStopping), `metrics` (accuracy, METRICS) and `checkpoint` (saving,
checking and restoring a run).
"""

from .callbacks import Callback, EarlyStopping, FitState
from .history import History
from .loop import fit
from .metrics import METRICS, accuracy

__all__ = ["METRICS", "Callback", "EarlyStopping", "FitState", "History", "accuracy", "fit"]
