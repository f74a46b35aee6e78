"""Figures without pyplot: the shared helpers behind `History.plot`, `GradientMonitor.plot` and the CLI.

    figure = new_figure(ncols=2, width_per_panel=6.0)
    left, right = figure.axes
    ...
    save_figure(figure, "curves.png")

matplotlib is imported inside the functions, so importing this module (and
`autograd_core`) does not load it.
"""

import io
import os

from .serialization import atomic_write

__all__ = ["new_figure", "save_figure"]


def new_figure(ncols, width_per_panel, height=4.0):
    """A matplotlib Figure with `ncols` panels side by side on an Agg canvas: no pyplot, so no window
    and no global backend change."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width_per_panel * ncols, height), layout="constrained")
    FigureCanvasAgg(figure)
    figure.subplots(1, ncols, squeeze=False)
    return figure


def save_figure(figure, path):
    """Render `figure` in the format named by `path`'s extension (PNG without one), atomically;
    returns `path`."""
    extension = os.path.splitext(os.fspath(path))[1].lstrip(".").lower() or "png"
    buffer = io.BytesIO()
    figure.savefig(buffer, format=extension, dpi=120)
    atomic_write(path, buffer.getvalue())
    return path
