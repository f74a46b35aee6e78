"""`GradientMonitor`: per-layer gradient norms over training, vanishing/exploding warnings, plots.

    monitor = nn.utils.GradientMonitor(model)
    nn.utils.fit(model, loss_fn, optimizer, loader, callbacks=[monitor])     # or, by hand:
    loss.backward(); optimizer.step(); monitor.step()
    print(monitor.summary()); monitor.plot("gradient_flow.png")

Each `step()` (to be called after `optimizer.step()`, while the gradients are
still there) records for every parameter p, in float64:

    grad norm    ||p.grad||_2
    weight norm  ||p||_2
    update ratio ||p - p_before|| / ||p||   (p_before: p at the previous step, or when the monitor
                                             was made; a healthy value is around 1e-3)

(a gradient holding NaN or Inf is recorded as norm inf; NaN in the records means "no gradient").

A *layer* is a module that owns parameters directly (a Linear, a
BatchNorm1d), named by its module path ("layers.0"); its norms are those of
all its parameters as one vector. Each recorded step compares every layer's
gradient norm with the last layer's (the last in module order, normally the
output layer):

    vanishing   norm < vanish_ratio * last (1e-3: three orders of magnitude), or norm <= zero_norm
    exploding   norm > explode_ratio * last (1e3), or norm > explode_norm (1e3, where ag.viz turns
                nodes red: a whole network can explode together), or NaN / Inf in the gradient

and warns with a `GradientWarning` naming the layers (once per layer and kind; one warning per kind
and step, giving the numbers of the layer closest to the input).
With `every=k` only every k-th step is recorded.
"""

from __future__ import annotations

import math
import os
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from autograd_core.figures import new_figure, save_figure
from autograd_core.viz import EXPLODING_FROM

from .training import Callback

if TYPE_CHECKING:
    from ..module import Module, Parameter
    from .training import FitState

_KINDS = ("grad_norm", "weight_norm", "update_ratio")


class GradientWarning(UserWarning):
    """Gradients vanish or explode in some layer (see GradientMonitor)."""


def _norm(array):
    """L2 norm in float64, so a large float32 array does not overflow to inf."""
    flat = np.asarray(array, dtype=np.float64).ravel()
    return math.sqrt(np.dot(flat, flat))


def _grad_norm(grad):
    """The gradient's L2 norm; inf when it holds NaN or Inf (NaN in the records means "no gradient")."""
    norm = _norm(grad)
    return math.inf if math.isnan(norm) else norm


class GradientMonitor(Callback):
    """Record per-parameter gradient norm, weight norm and update-to-weight ratio; see the module docstring."""

    def __init__(
        self,
        model: Module,
        every: int = 1,
        vanish_ratio: float = 1e-3,
        explode_ratio: float = 1e3,
        zero_norm: float = 1e-12,
        explode_norm: float = EXPLODING_FROM,
        warn: bool = True,
    ) -> None:
        if not hasattr(model, "named_modules"):
            raise TypeError(f"GradientMonitor: expected an nn.Module, got {type(model).__name__}")
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"GradientMonitor: every must be a positive int, got {every!r}")
        if not 0 < vanish_ratio < 1 < explode_ratio:
            raise ValueError(
                f"GradientMonitor: need 0 < vanish_ratio < 1 < explode_ratio, got "
                f"vanish_ratio={vanish_ratio!r}, explode_ratio={explode_ratio!r}"
            )
        self.model = model
        self.every, self.vanish_ratio, self.explode_ratio = every, vanish_ratio, explode_ratio
        self.zero_norm, self.explode_norm = zero_norm, explode_norm
        self.warn = warn
        # layer name -> [(parameter name, parameter)], in module order
        self.layers: dict[str, list[tuple[str, Parameter]]] = {}
        for path, module in model.named_modules():
            owned = [(f"{path}.{name}" if path else name, p) for name, p in module.named_parameters(recurse=False)]
            if owned:
                self.layers[path or type(module).__name__] = owned
        if not self.layers:
            raise ValueError(f"GradientMonitor: {type(model).__name__} has no parameters to monitor")
        self.parameters = [pair for owned in self.layers.values() for pair in owned]
        self.steps: list[int] = []
        # parameter name -> kind -> its value at each recorded step
        self.records: dict[str, dict[str, list[float]]] = {
            name: {kind: [] for kind in _KINDS} for name, _ in self.parameters
        }
        self.warned: set[tuple[str, str]] = set()
        self._count = 0
        self._snapshot()

    def _snapshot(self):
        self._previous = {name: np.array(p) for name, p in self.parameters}

    # ---- recording ----

    def step(self) -> None:
        """Record the current gradients and weights (call after optimizer.step()); may warn."""
        count = self._count
        self._count += 1
        if count % self.every == 0:
            self.steps.append(count)
            for name, p in self.parameters:
                record = self.records[name]
                weight_norm = _norm(np.asarray(p))
                record["grad_norm"].append(math.nan if p.grad is None else _grad_norm(np.asarray(p.grad)))
                record["weight_norm"].append(weight_norm)
                update = _norm(np.asarray(p) - self._previous[name])
                record["update_ratio"].append(update / weight_norm if weight_norm > 0 else math.nan)
            if self.warn:
                self._warn(self.diagnose())
        if (count + 1) % self.every == 0:  # the next step is recorded: keep the weights it starts from
            for name, p in self.parameters:
                np.copyto(self._previous[name], np.asarray(p))

    def on_train_begin(self, state: FitState) -> None:
        self._snapshot()

    def on_batch_end(self, state: FitState) -> None:
        self.step()

    # ---- per-layer views ----

    def layer_norms(self, kind: str = "grad_norm") -> dict[str, np.ndarray]:
        """{layer: array over the recorded steps} of the layer's gradient or weight norm, or update ratio."""
        if kind not in _KINDS:
            raise ValueError(f"GradientMonitor.layer_norms: kind must be one of {_KINDS}, got {kind!r}")
        return {layer: self._layer_value(owned, kind, slice(None)) for layer, owned in self.layers.items()}

    def _layer_value(self, owned, kind, step):
        """A layer's value at a recorded step (an index) or steps (a slice): the norm of its parameters as one
        vector (NaN where none had a gradient), or for "update_ratio" ||update|| / ||weights|| of that vector."""

        def values(of):
            return np.array([self.records[name][of][step] for name, _ in owned], dtype=np.float64)

        def combined(norms):
            total = np.sqrt(np.nansum(np.square(norms), axis=0))
            return np.where(np.all(np.isnan(norms), axis=0), np.nan, total)

        if kind != "update_ratio":
            return combined(values(kind))
        weights = values("weight_norm")
        return combined(values("update_ratio") * weights) / combined(weights)

    def diagnose(self, step: int = -1) -> dict[str, tuple[str, str]]:
        """{layer: (status, reason)} at a recorded step (default the last): status "ok", "vanishing" or
        "exploding"."""
        if not self.steps:
            raise RuntimeError("GradientMonitor: nothing recorded yet; call step() after optimizer.step()")
        norms = {layer: float(self._layer_value(owned, "grad_norm", step)) for layer, owned in self.layers.items()}
        measured = [layer for layer, norm in norms.items() if not np.isnan(norm)]
        if not measured:
            return {layer: ("ok", "no gradient") for layer in norms}
        last = measured[-1]
        reference = norms[last]
        verdicts = {}
        for layer, norm in norms.items():
            relative = norm / reference if 0 < reference < math.inf else math.nan
            if np.isnan(norm):
                verdict = ("ok", "no gradient")
            elif norm == math.inf:
                verdict = ("exploding", f"its gradient holds NaN or Inf (norm {norm:.3g})")
            elif layer != last and relative < self.vanish_ratio:
                verdict = (
                    "vanishing",
                    f"its gradient norm {norm:.3g} is {relative:.2g} times the last layer's "
                    f"({last!r}, {reference:.3g})",
                )
            elif layer != last and relative > self.explode_ratio:
                verdict = (
                    "exploding",
                    f"its gradient norm {norm:.3g} is {relative:.2g} times the last layer's "
                    f"({last!r}, {reference:.3g})",
                )
            elif norm <= self.zero_norm:
                verdict = ("vanishing", f"its gradient norm is {norm:.3g}, effectively zero")
            elif norm > self.explode_norm:
                verdict = ("exploding", f"its gradient norm {norm:.3g} exceeds {self.explode_norm:.3g}")
            else:
                verdict = ("ok", "")
            verdicts[layer] = verdict
        return verdicts

    def _warn(self, verdicts):
        """One warning per kind for the layers newly found vanishing or exploding: the first of them (the
        closest to the input) with its numbers, then the others by name."""
        for status, verb in (("vanishing", "vanish"), ("exploding", "explode")):
            new = [layer for layer, (s, _) in verdicts.items() if s == status and (layer, status) not in self.warned]
            if not new:
                continue
            self.warned.update((layer, status) for layer in new)
            others = (
                ""
                if len(new) == 1
                else (
                    f"; also in {len(new) - 1} more: {', '.join(map(repr, new[1:6]))}{', ...' if len(new) > 6 else ''}"
                )
            )
            warnings.warn(
                f"GradientMonitor: gradients {verb} in layer {new[0]!r} (step {self.steps[-1]}): "
                f"{verdicts[new[0]][1]}{others}",
                GradientWarning,
                stacklevel=3,
            )

    # ---- reports ----

    def layer_stats(self) -> list[dict[str, Any]]:
        """One dict per layer, at the last recorded step: layer, params (count), grad_norm, grad_norm_mean
        (over all recorded steps), weight_norm, update_ratio, relative (grad norm / last layer's), status."""
        verdicts = self.diagnose()
        grads = self.layer_norms("grad_norm")
        weights = self.layer_norms("weight_norm")
        updates = self.layer_norms("update_ratio")
        reference = [grads[layer][-1] for layer in grads if not np.isnan(grads[layer][-1])]
        rows: list[dict[str, Any]] = []
        for layer, owned in self.layers.items():
            grad = grads[layer][-1]
            rows.append(
                {
                    "layer": layer,
                    "params": int(sum(p.numel() for _, p in owned)),
                    "grad_norm": float(grad),
                    "grad_norm_mean": float(np.nanmean(grads[layer]))
                    if not np.all(np.isnan(grads[layer]))
                    else math.nan,
                    "weight_norm": float(weights[layer][-1]),
                    "update_ratio": float(updates[layer][-1]),
                    "relative": float(grad / reference[-1]) if reference and reference[-1] > 0 else math.nan,
                    "status": verdicts[layer][0],
                }
            )
        return rows

    def summary(self) -> str:
        """The per-layer table of `layer_stats()` as text."""
        rows = self.layer_stats()
        header = ("layer", "params", "grad norm", "mean grad", "weight norm", "update/weight", "vs last", "status")
        lines = [
            [
                row["layer"],
                f"{row['params']:,}",
                f"{row['grad_norm']:.3e}",
                f"{row['grad_norm_mean']:.3e}",
                f"{row['weight_norm']:.3e}",
                f"{row['update_ratio']:.2e}",
                f"{row['relative']:.2e}",
                row["status"],
            ]
            for row in rows
        ]
        widths = [max(len(str(cell)) for cell in column) for column in zip(header, *lines)]
        text = [f"GradientMonitor: {len(self.steps)} recorded steps (last: step {self.steps[-1]})"]
        for cells in [header, *lines]:
            text.append(
                "  ".join(
                    cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(cells, widths))
                ).rstrip()
            )
        return "\n".join(text)

    def plot(self, path: str | os.PathLike[str]) -> str | os.PathLike[str]:
        """Per-layer gradient norms and update/weight ratios over the recorded steps (log scale), to a file."""
        if not self.steps:
            raise RuntimeError("GradientMonitor.plot: nothing recorded yet; call step() after optimizer.step()")
        from matplotlib import colormaps

        figure = new_figure(ncols=2, width_per_panel=6.0, height=4.5)
        colours = colormaps["viridis"](np.linspace(0, 0.9, len(self.layers)))
        marker = "o" if len(self.steps) < 20 else None
        for ax, kind, title in zip(
            figure.axes, ("grad_norm", "update_ratio"), ("gradient norm per layer", "update / weight ratio per layer")
        ):
            for (layer, values), colour in zip(self.layer_norms(kind).items(), colours):
                positive = np.where(values > 0, values, np.nan)  # a log axis cannot show 0
                ax.plot(self.steps, positive, color=colour, marker=marker, markersize=3, label=layer)
            ax.set_yscale("log")
            ax.set_xlabel("step")
            ax.set_title(title)
            ax.grid(alpha=0.3, which="both")
        figure.axes[0].legend(fontsize="x-small", ncol=max(1, math.ceil(len(self.layers) / 12)), title="layer")
        return save_figure(figure, path)

    # ---- checkpoints ----

    def state_dict(self) -> dict[str, Any]:
        """The recorded history as arrays (tensors in a checkpoint, so its JSON header stays small however
        long the run), the step counter and the warnings already given."""
        return {
            "count": self._count,
            "steps": np.array(self.steps, dtype=np.int64),
            "records": {
                name: {kind: np.array(values, dtype=np.float64) for kind, values in record.items()}
                for name, record in self.records.items()
            },
            "warned": [f"{layer}|{status}" for layer, status in sorted(self.warned)],
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._count = state_dict["count"]
        self.steps = np.asarray(state_dict["steps"], dtype=np.int64).tolist()
        self.records = {
            name: {kind: np.asarray(values).tolist() for kind, values in record.items()}
            for name, record in state_dict["records"].items()
        }
        self.warned = {tuple(entry.rsplit("|", 1)) for entry in state_dict["warned"]}
