"""Time every Numba kernel against its numpy reference and against PyTorch.

    .venv/bin/python -m autograd_core.benchmarks.kernels [--only NAME ...] [--sizes 10000 1000000] [--rounds 9]
    .venv/bin/python -m autograd_core.benchmarks.kernels --threads     # serial vs threaded loops, by size

(Import time and the first training step with a cold and a warm cache: `python -m autograd_core.benchmarks.startup`.)

Per kernel and size, the contenders run the same computation on the same inputs: the op's kernel
under the numba backend (which hands a dtype to numpy where numpy measured faster), the compiled
Numba loop itself whatever the dtype, the numpy reference (`kernel.numpy`: the registry's forward,
or its VJP formulas on arrays) and PyTorch. Forward kernels are compared with the torch function;
backward kernels with `torch.autograd.grad` through a graph built once, so torch's time includes
its autograd dispatch (about 10 us), as a torch user pays it. Every contender runs on one thread
(torch, BLAS, and the Numba loops below PARALLEL_MIN_SIZE). Compilation happens before timing.
Rounds are interleaved (one block of each contender in turn) so that load from other processes
falls on all alike; a block repeats a call until it lasts `--block` seconds; the medians over
rounds are printed, in microseconds per call.
"""

import argparse
import math
import statistics
import time
import types

import numpy as np
import threadpoolctl

import autograd_core as ag
import autograd_core.fused_ops
from autograd_core.kernels import (
    BACKWARD_KERNELS,
    FORWARD_KERNELS,
    elementwise,
    softmax,
)

torch: types.ModuleType | None
try:
    import torch
    import torch.nn.functional as TF
except ImportError:
    torch = None

ACTIVATION_ATTRS = {
    "leaky_relu": dict(negative_slope=0.01),
    "elu": dict(alpha=1.0),
    "softplus": dict(beta=1.0, threshold=20.0),
}


def _torch_activation(name, attrs):
    return {
        "relu": torch.relu,
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "erf": torch.erf,
        "silu": TF.silu,
        "gelu": TF.gelu,
        "gelu_tanh": lambda x: TF.gelu(x, approximate="tanh"),
        "leaky_relu": lambda x: TF.leaky_relu(x, attrs.get("negative_slope", 0.01)),
        "elu": lambda x: TF.elu(x, attrs.get("alpha", 1.0)),
        "softplus": lambda x: TF.softplus(x, attrs.get("beta", 1.0), attrs.get("threshold", 20.0)),
    }[name]


class Case:
    """One op at one size: its inputs, attributes, and the torch function computing the same."""

    def __init__(self, op, label, inputs, attrs, torch_fn):
        self.op, self.label, self.inputs, self.attrs, self.torch_fn = op, label, inputs, attrs, torch_fn


def _rows_for(size, columns):
    return max(1, size // columns)


def cases(size, rng, dtype):
    """Every accelerated op at about `size` elements of `dtype`."""
    x = rng.standard_normal(size).astype(dtype)
    for name in elementwise.ACTIVATION_KINDS:
        attrs = ACTIVATION_ATTRS.get(name, {})
        yield Case(name, f"{name}", [x], attrs, _torch_activation(name, attrs))
    rows = rng.standard_normal((_rows_for(size, 100), 100)).astype(dtype)
    for name in ("softmax", "log_softmax"):
        yield Case(name, f"{name} {rows.shape}", [rows], dict(axis=1), lambda x, name=name: getattr(torch, name)(x, 1))
    logits = rng.standard_normal((_rows_for(size, 10), 10)).astype(dtype)
    targets = rng.integers(0, 10, logits.shape[0])
    yield Case(
        "softmax_cross_entropy",
        f"cross_entropy {logits.shape}",
        [logits, targets],
        dict(label_smoothing=0.1),
        lambda x, t: TF.cross_entropy(x, t, reduction="none", label_smoothing=0.1),
    )
    features = rows.shape[1]
    yield Case(
        "layer_norm",
        f"layer_norm {rows.shape}",
        [rows, np.ones(features, dtype), np.zeros(features, dtype)],
        dict(normalized_shape=(features,), eps=1e-5),
        lambda x, w, b: TF.layer_norm(x, (features,), w, b, eps=1e-5),
    )
    yield Case(
        "batch_norm",
        f"batch_norm {rows.shape}",
        [rows, np.ones(features, dtype), np.zeros(features, dtype)],
        dict(eps=1e-5),
        lambda x, w, b: TF.batch_norm(x, None, None, w, b, training=True, eps=1e-5),
    )
    repeated = rng.integers(0, 1000, _rows_for(size, 16))
    embedding = rng.standard_normal((1000, 16)).astype(dtype)
    yield Case(
        "getitem",
        f"x[rows] backward {embedding.shape}, {repeated.size} rows",
        [embedding],
        dict(index=(repeated,)),
        lambda e: e[torch.as_tensor(repeated)],
    )


def linear_cases(rng, dtype):
    """The linear layer at the sizes of the benchmark MLPs."""
    for batch, n_in, n_out in ((128, 784, 256), (16, 784, 64)):
        x = rng.standard_normal((batch, n_in)).astype(dtype)
        w = (rng.standard_normal((n_out, n_in)) / math.sqrt(n_in)).astype(dtype)
        b = rng.standard_normal(n_out).astype(dtype)
        yield Case(
            "linear",
            f"linear relu {batch}x{n_in}@{n_in}x{n_out}",
            [x, w, b],
            dict(activation="relu"),
            lambda x, w, b: torch.relu(TF.linear(x, w, b)),
        )


# ---- the contenders ----------------------------------------------------------------------------
# "numba backend": the op's kernel as wired (it hands a dtype to the numpy reference where that
# measured faster, see backend.POLICY); "compiled": the Numba loop itself,
# whatever the dtype; "numpy": the reference; "torch".


def _activation_loops(case):
    kind, attr_names = elementwise.ACTIVATION_KINDS[case.op]
    return elementwise.compiled(kind), elementwise.parameter_reader(attr_names)(case.attrs)


def _forward_calls(case):
    """label -> callable computing the op's forward, or None where the op has no forward kernel."""
    kernel = FORWARD_KERNELS.get(case.op)
    if kernel is None or case.op == "getitem":
        return None
    calls = {"numba backend": lambda: kernel.numba()(*case.inputs, **case.attrs)}
    x = case.inputs[0]
    if case.op in elementwise.ACTIVATION_KINDS:
        loops, parameters = _activation_loops(case)
        calls["compiled"] = lambda: loops.forward(x.reshape(-1), np.empty(x.size, x.dtype), *parameters)
    elif case.op in ("softmax", "log_softmax"):
        rows = softmax.compiled(case.op == "log_softmax").softmax_rows
        calls["compiled"] = lambda: rows(x, np.empty_like(x))
    else:
        calls["compiled"] = calls["numba backend"]
    calls["numpy"] = lambda: kernel.numpy(*case.inputs, **case.attrs)
    if torch is not None:
        torch_inputs = [torch.as_tensor(a) for a in case.inputs]
        calls["torch"] = lambda: case.torch_fn(*torch_inputs)
    return calls


def _backward_calls(case, rng):
    """label -> callable computing the op's input gradients from a fixed output gradient, or None."""
    if case.op == "getitem":  # its backward is the scatter-add forward
        kernel = FORWARD_KERNELS["scatter_add"]
        index, shape = case.attrs["index"], case.inputs[0].shape
        g = rng.standard_normal((index[0].size,) + shape[1:]).astype(case.inputs[0].dtype)
        attrs = dict(index=index, shape=shape)
        calls = {"numba backend": lambda: kernel.numba()(g, **attrs)}
        calls["compiled"] = calls["numba backend"]
        calls["numpy"] = lambda: kernel.numpy(g, **attrs)
    else:
        kernel = BACKWARD_KERNELS.get(case.op)
        if kernel is None:
            return None
        op = ag.ops.REGISTRY[case.op]
        out = (FORWARD_KERNELS[case.op].numpy if case.op in FORWARD_KERNELS else op.forward)(*case.inputs, **case.attrs)
        g = rng.standard_normal(out.shape).astype(out.dtype)
        saved_out = out if any(op.reads_of(i, len(case.inputs))[1] for i in range(len(case.inputs))) else None
        needs = [True if isinstance(a, np.ndarray) and a.dtype.kind == "f" else None for a in case.inputs]
        calls = {"numba backend": lambda: kernel.numba()(g, case.inputs, saved_out, case.attrs, needs)}
        x = case.inputs[0]
        if case.op in elementwise.ACTIVATION_KINDS:
            loops, parameters = _activation_loops(case)
            x_or_y = x if 0 in op.reads_of(0)[0] else out
            calls["compiled"] = lambda: loops.backward(g, x_or_y, out, np.empty_like(x), *parameters)
        elif case.op in ("softmax", "log_softmax"):
            grad_rows = softmax.compiled(case.op == "log_softmax").softmax_grad_rows
            calls["compiled"] = lambda: grad_rows(g, out, np.empty_like(out))
        else:
            calls["compiled"] = calls["numba backend"]
        calls["numpy"] = lambda: kernel.numpy(g, case.inputs, saved_out, case.attrs, needs)
    if torch is not None:
        leaves = [torch.tensor(a, requires_grad=a.dtype.kind == "f") for a in case.inputs]
        result = case.torch_fn(*leaves)
        wanted = [t for t in leaves if t.requires_grad]
        torch_g = torch.as_tensor(g)
        calls["torch"] = lambda: torch.autograd.grad(result, wanted, torch_g, retain_graph=True)
    return calls


def median_times(calls, rounds, block_s):
    """Median seconds per call of each callable, over interleaved rounds."""
    for call in calls:
        call()  # compile, warm caches
    repeats = []
    for call in calls:
        start, n = time.perf_counter(), 0
        while time.perf_counter() - start < block_s / 4:
            call()
            n += 1
        repeats.append(max(1, 4 * n))
    samples = [[] for _ in calls]
    for _ in range(rounds):
        for call, n, times in zip(calls, repeats, samples):
            start = time.perf_counter()
            for _ in range(n):
                call()
            times.append((time.perf_counter() - start) / n)
    return [statistics.median(t) for t in samples]


def run_kernels(args):
    # the compiled loops run on one thread below PARALLEL_MIN_SIZE: so do torch and BLAS here
    if torch is not None:
        torch.set_num_threads(1)
    threadpoolctl.threadpool_limits(1)
    rng = np.random.default_rng(0)
    labels = ("numba backend", "compiled", "numpy", "torch")
    dtype = np.dtype(args.dtype)
    print(f"median microseconds per call, {dtype}; torch with {torch.get_num_threads() if torch else 0} thread(s)")
    print(f"{'kernel':52s}" + "".join(f"{label:>14s}" for label in labels) + f"{'numpy/compiled':>16s}")
    groups = [(f"{size} elements", list(cases(size, rng, dtype))) for size in args.sizes]
    groups.append(("MLP sizes", list(linear_cases(rng, dtype))))
    for title, group in groups:
        print(f"-- {title} --")
        for case in group:
            if args.only and case.op not in args.only:
                continue
            for direction, calls in (("forward", _forward_calls(case)), ("backward", _backward_calls(case, rng))):
                if calls is None:
                    continue
                times = dict(zip(calls, median_times(list(calls.values()), args.rounds, args.block)))
                us = [times.get(label, math.nan) * 1e6 for label in labels]
                print(
                    f"{case.label + ' ' + direction:52s}" + "".join(f"{t:14.1f}" for t in us) + f"{us[2] / us[1]:16.2f}"
                )


# ---- serial vs threaded loops -------------------------------------------------------------------


def run_threads(args):
    """The time of serial and threaded loops over sizes, to place PARALLEL_MIN_SIZE."""
    gelu, sigmoid = elementwise.compiled(elementwise.GELU), elementwise.compiled(elementwise.SIGMOID)
    softmax_loops = softmax.compiled()
    rng = np.random.default_rng(0)
    import numba

    print(f"threads: {numba.get_num_threads()}; median microseconds per call (serial, threaded)")
    for size in (1 << 12, 1 << 14, 1 << 16, 1 << 18, 1 << 20, 1 << 22):
        x = rng.standard_normal(size).astype(np.float32)
        out = np.empty_like(x)
        rows, row_out = x.reshape(-1, 128), out.reshape(-1, 128)
        contenders = {
            "gelu forward": [
                lambda f=f, x=x, out=out: f(x, out, 0.0, 0.0) for f in (gelu.forward, gelu.forward_parallel)
            ],
            "sigmoid backward": [
                lambda f=f, x=x, out=out: f(x, x, x, out, 0.0, 0.0)
                for f in (sigmoid.backward, sigmoid.backward_parallel)
            ],
            "softmax rows": [
                lambda f=f, rows=rows, row_out=row_out: f(rows, row_out)
                for f in (softmax_loops.softmax_rows, softmax_loops.softmax_rows_parallel)
            ],
        }
        for name, calls in contenders.items():
            serial, threaded = median_times(calls, args.rounds, args.block)
            print(
                f"{name:22s} {size:>9d}  {serial * 1e6:10.1f} {threaded * 1e6:10.1f}  "
                f"{'threads win' if threaded < serial else ''}"
            )


# ---- import time and the first training step --------------------------------------------------


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="op names to time (default: all)")
    parser.add_argument("--sizes", nargs="*", type=int, default=[10_000, 1_000_000])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--block", type=float, default=0.02, help="seconds per timed block")
    parser.add_argument("--threads", action="store_true", help="serial vs threaded loops by size")
    args = parser.parse_args(argv)
    ag.backend.set("numba")
    if args.threads:
        run_threads(args)
    else:
        run_kernels(args)


if __name__ == "__main__":
    main()
