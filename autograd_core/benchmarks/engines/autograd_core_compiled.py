"""autograd-core with `ag.compile` around the tensor part of every step: the same PyTorch-style user code
as the eager row, compiled on its first call (which the runner reports as compile time).

The step is compiled with `fullgraph=True`: where `ag.compile` would fall back to eager execution
(with a `CompileFallbackWarning`), the step raises `ag.CompileError` instead, so the runner reports
this row as an error rather than timing eager code as a compiled figure. It also covers a fallback
on a later retrace, at no cost per call.
"""

from autograd_core.benchmarks.engines import Engine, pytorch_style
from autograd_core.benchmarks.engines.autograd_core_eager import activate_under, autograd_core_api, load_under


def compile_step(train_step):
    """`ag.compile(train_step)` that raises where it would fall back to eager."""
    import autograd_core as ag

    return ag.compile(train_step, fullgraph=True)


ENGINES = [
    Engine(
        key="autograd_core_compiled",
        label="autograd-core compiled",
        load=load_under(None),
        activate=activate_under(None),
        compiled=True,
        workloads=pytorch_style.workloads(autograd_core_api, compile_step),
    )
]
