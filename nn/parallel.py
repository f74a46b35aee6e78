"""`DistributedDataParallel`: data-parallel training over MPI, as `torch.nn.parallel`'s.

    mpiexec -n 4 python train.py

    model = nn.parallel.DistributedDataParallel(nn.MLP([784, 256, 10]))
    optimizer = optim.Adam(model.parameters())
    sampler = ag.data.DistributedSampler(dataset)
    loader = ag.data.DataLoader(dataset, batch_size=32, sampler=sampler)
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        for x, y in loader:
            optimizer.zero_grad()
            loss_fn(model(x), y).backward()     # gradients are averaged over the ranks here
            optimizer.step()

Every rank holds a full copy of the model and trains on its own shard of
each batch. The wrapper keeps the copies identical:

- At construction, rank 0's parameters and buffers are broadcast to every
  rank; at every forward in grad mode, rank 0's buffers again (running
  statistics), as PyTorch's `broadcast_buffers=True`.
- During `backward()`, the gradients are averaged across the ranks, so that
  after it every rank holds the same `.grad`: the mean over ranks of the
  gradient each rank would hold on its own (including what it accumulated
  under `no_sync()`). The optimizer then makes the same step everywhere, and
  any optimizer, gradient clipping or `GradientMonitor` works unchanged.

How the averaging works. The trainable parameters are grouped at
construction into *buckets* of one dtype and at most `bucket_cap_mb` each,
in reverse registration order (roughly the order in which backward produces
the gradients). Each forward in grad mode walks the output's graph to find
the parameters its backward will reach, and hooks the output: a backward
that passes through it (and only such a backward: the bare model called
directly stays local) arms the hooks on the parameters. A hook copies its
parameter's gradient, plus the gradient it already holds, into its bucket;
when the last expected gradient of a bucket has arrived, the bucket goes out
in one `Allreduce` (buckets in a fixed order, the same on every rank) and is
divided by the number of ranks. Each parameter's `.grad` is then its slice of
the bucket (a fresh bucket every step, so a `.grad` kept from an earlier step
never changes). A parameter the forward did not use contributes the gradient
it holds, or zero; it gets the average when some rank had a gradient for it
and keeps `None` otherwise (the bucket carries, after the gradients, one
count per parameter of the ranks that had one, in the same call).

What every rank must do alike: the same sequence of forwards and backwards
(a rank that skips a backward leaves the others waiting: MPI has no timeout).
An exception on one rank aborts the whole job (see `ag.distributed`).
Not supported through the wrapper: `backward(create_graph=True)` and
`ag.grad()` (use `no_sync()` for those; they then average nothing).

Wrapping a model again retires the previous wrapper of its parameters (its
forward then raises): one wrapper averages a parameter's gradient.

Names: the wrapper adds no "module." prefix (PyTorch's DDP does):
`state_dict()`, `named_parameters()` and scopes are the wrapped model's own,
so a checkpoint saved from a distributed run loads into the plain model and
the other way round. The model itself is `.module`.

In a world of one (no MPI launcher) the wrapper only forwards: there is
nothing to average.
"""

from __future__ import annotations

import numbers
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

import autograd_core as ag
from autograd_core import distributed

from .module import Module, Parameter

# id(parameter) -> weak reference to the wrapper whose hooks average its gradient: wrapping the parameters
# again (fit does at every call) retires that wrapper, whose hooks would otherwise average every gradient
# twice. (Keyed by id: a Tensor's == is elementwise, so it cannot be a weak dictionary key.)
_SYNCED_BY: dict[int, weakref.ref[DistributedDataParallel]] = {}


class _Bucket:
    """Parameters of one dtype whose gradients travel in one all-reduce.

    During a backward, `flat` holds the gradients, one slice per parameter, followed by one count
    per parameter of the ranks that have a gradient for it.
    """

    def __init__(self, params):
        self.params = params
        self.dtype = params[0].dtype
        self.offsets = np.cumsum([0] + [p.numel() for p in params])
        self.size = int(self.offsets[-1])
        self.flat = None
        self.views = None
        self.arrived = None  # per parameter: None (not yet), "new" (it had no .grad) or "added" (it had one)
        self.waiting = 0

    def start(self, reached):
        """A fresh buffer for one backward that will reach the parameters with ids in `reached`."""
        self.flat = np.zeros(self.size + len(self.params), dtype=self.dtype)
        self.views = [
            self.flat[lo:hi].reshape(p.shape) for p, lo, hi in zip(self.params, self.offsets[:-1], self.offsets[1:])
        ]
        self.arrived = [None] * len(self.params)
        self.waiting = sum(id(p) in reached for p in self.params)

    def receive(self, slot, grad):
        """Put this step's gradient of parameter `slot`, plus the one it holds, into the bucket; return
        what the engine should accumulate into its `.grad`."""
        param, view = self.params[slot], self.views[slot]
        if grad.shape != view.shape or grad.dtype != self.dtype:
            raise RuntimeError(
                f"DistributedDataParallel: a parameter of shape {view.shape} and dtype {self.dtype} "
                f"when wrapped got a gradient of shape {grad.shape} and dtype {grad.dtype}; wrap "
                "the model after changing its parameters (e.g. after .double())"
            )
        self.flat[self.size + slot] = 1
        self.waiting -= 1
        if param.grad is None:
            np.copyto(view, np.asarray(grad))
            self.arrived[slot] = "new"
            return view  # the engine makes it the .grad: a view, so the all-reduce lands in it
        np.add(np.asarray(param.grad), np.asarray(grad), out=view)
        self.arrived[slot] = "added"
        return np.zeros_like(view)  # the engine adds it to .grad, which gets the average after the all-reduce

    def all_reduce(self, world_size):
        """Average the bucket over the ranks and hand every parameter its share."""
        for slot, param in enumerate(self.params):
            if self.arrived[slot] is None and param.grad is not None:  # unused by this forward
                np.copyto(self.views[slot], np.asarray(param.grad))
                self.flat[self.size + slot] = 1
        distributed.all_reduce_array(self.flat, "sum")
        self.flat[: self.size] /= world_size
        for slot, param in enumerate(self.params):
            arrived, view = self.arrived[slot], self.views[slot]
            if arrived == "added" or (arrived is None and param.grad is not None):
                np.copyto(np.asarray(param.grad), view)
            elif arrived is None and self.flat[self.size + slot] > 0:
                param.grad = ag.Tensor(view)
        self.flat = self.views = self.arrived = None


def _make_buckets(params, cap_bytes):
    """Group `params` into buckets of one dtype and at most `cap_bytes` (a larger parameter gets its own)."""
    groups = {}
    for param in reversed(params):  # backward produces the last layers' gradients first
        group = groups.setdefault(param.dtype, [[]])
        if group[-1] and sum(np.asarray(p).nbytes for p in group[-1]) + np.asarray(param).nbytes > cap_bytes:
            group.append([])
        group[-1].append(param)
    return [_Bucket(bucket) for group in groups.values() for bucket in group]


def _tensors_in(output):
    """The Tensors in a forward's output: a Tensor, or tuples, lists and dicts of them."""
    stack, found = [output], []
    while stack:
        item = stack.pop()
        if isinstance(item, ag.Tensor):
            found.append(item)
        elif isinstance(item, (tuple, list)):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
    return found


def _reached_leaves(outputs):
    """ids of the leaf tensors that a backward from `outputs` reaches."""
    leaves = {id(t) for t in outputs if t.requires_grad and t.grad_fn is None}
    stack = [t.grad_fn for t in outputs if t.grad_fn is not None]
    seen = set(stack)
    while stack:
        for parent, _ in stack.pop().next_functions:
            if parent is None:
                continue
            if hasattr(parent, "variable"):  # an AccumulateGrad: the leaf itself
                leaves.add(id(parent.variable))
            elif parent not in seen:
                seen.add(parent)
                stack.append(parent)
    return leaves


class DistributedDataParallel(Module):
    """Wrap `module` for data-parallel training across the ranks of an MPI job (see the module docstring).

    bucket_cap_mb: the largest bucket of gradients sent in one all-reduce, in MiB (PyTorch's default, 25).
    broadcast_buffers: send rank 0's buffers to every rank at each forward in grad mode.
    """

    module: Module
    broadcast_buffers: bool
    world_size: int
    _require_sync: bool
    _reached: set[int] | None  # ids of the parameters the last forward's backward will reach; None: no sync
    _next_bucket: int | None  # the next bucket to all-reduce in the backward under way; None: none under way
    _buckets: list[_Bucket]
    _synced: dict[int, Parameter]  # id -> parameter, for those whose gradients this wrapper averages
    _hook_handles: list[ag.RemovableHandle]
    _retired: bool

    def __init__(self, module: Module, bucket_cap_mb: float = 25, broadcast_buffers: bool = True) -> None:
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: expected an nn.Module, got {type(module).__name__}")
        if isinstance(bucket_cap_mb, bool) or not isinstance(bucket_cap_mb, numbers.Real) or not bucket_cap_mb > 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be a positive number, got {bucket_cap_mb!r}")
        super().__init__()
        path = module._path
        self.module = module  # a registered child, so train()/eval()/repr reach it...
        module._set_path(path)  # ...with its names and scopes left as they were (no "module." prefix)
        self.broadcast_buffers = bool(broadcast_buffers)
        self.world_size = distributed.world_size()
        self._require_sync = True
        self._reached = None
        self._next_bucket = None
        self._buckets = []
        self._synced = {}
        self._hook_handles = []
        self._retired = False
        if self.world_size == 1:
            return
        with ag.no_grad():
            for tensor in list(module.parameters()) + list(module.buffers()):
                distributed.broadcast(tensor, root=0)
        self._buckets = _make_buckets([p for p in module.parameters() if p.requires_grad], bucket_cap_mb * 2**20)
        for bucket in self._buckets:
            for slot, param in enumerate(bucket.params):
                previous = _SYNCED_BY.get(id(param), lambda: None)()
                if previous is not None and previous._synced.get(id(param)) is param:
                    previous._retire()
                _SYNCED_BY[id(param)] = weakref.ref(self)
                self._synced[id(param)] = param
                self._hook_handles.append(param.register_hook(self._gradient_hook(bucket, slot)))

    def _retire(self):
        for handle in self._hook_handles:
            handle.remove()
        self._hook_handles = []
        self._retired = True

    def named_modules(
        self, memo: set[int] | None = None, prefix: str = "", remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Module]]:
        # The wrapped model's names, without a "module." level (see the module docstring).
        yield prefix, self
        yield from self.module.named_modules(memo, prefix, remove_duplicate)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if self._retired:
            raise RuntimeError(
                "DistributedDataParallel: this wrapper was retired because its parameters were "
                "wrapped again (one wrapper averages a parameter's gradients); use the newer one"
            )
        syncing = self.world_size > 1 and ag.is_grad_enabled()
        if syncing and self.broadcast_buffers:
            with ag.no_grad():
                for buffer in self.module.buffers():
                    distributed.broadcast(buffer, root=0)
        output = self.module(*args, **kwargs)
        if syncing:  # a forward under no_grad (evaluation) leaves the pending backward's plan alone
            self._reached = None
            self._next_bucket = None
            if self._require_sync:
                outputs = _tensors_in(output)
                self._reached = _reached_leaves(outputs)
                for tensor in outputs:
                    if tensor.grad_fn is not None:
                        tensor.register_hook(self._start_backward)
        return output

    @contextmanager
    def no_sync(self) -> Iterator[None]:
        """Within this block, forwards (and the backwards through them) only accumulate gradients locally;
        the first backward of a forward outside it averages everything accumulated."""
        previous = self._require_sync
        self._require_sync = False
        try:
            yield
        finally:
            self._require_sync = previous

    def _start_backward(self, grad):
        """Runs when a backward reaches the output of a syncing forward: it arms the parameters' hooks, so a
        backward that does not pass through this wrapper (the bare model called directly) stays local."""
        if self._next_bucket is None:
            for bucket in self._buckets:
                bucket.start(self._reached)
            self._next_bucket = 0
            self._all_reduce_ready_buckets()  # buckets whose parameters this forward did not use at all

    def _gradient_hook(self, bucket, slot):
        def on_gradient(grad):
            if self._next_bucket is None:
                return None
            if grad.requires_grad:
                raise RuntimeError(
                    "DistributedDataParallel: backward(create_graph=True) is not supported through "
                    "the wrapper; run it under no_sync() and average the gradients yourself"
                )
            if id(bucket.params[slot]) not in self._reached:
                raise RuntimeError(
                    f"DistributedDataParallel: a gradient reached a parameter of shape "
                    f"{grad.shape} that the wrapped model's output does not depend on; only "
                    "gradients that flow through the model's output are averaged, so compute "
                    "everything that uses the parameters inside the model's forward"
                )
            accumulate = bucket.receive(slot, grad)
            self._all_reduce_ready_buckets()
            return accumulate

        return on_gradient

    def _all_reduce_ready_buckets(self):
        buckets = self._buckets
        while self._next_bucket < len(buckets) and buckets[self._next_bucket].waiting == 0:
            buckets[self._next_bucket].all_reduce(self.world_size)
            self._next_bucket += 1
        if self._next_bucket == len(buckets):
            self._next_bucket = None  # this backward is done; another one through the same forward arms again

    def extra_repr(self) -> str:
        return f"world_size={self.world_size}, buckets={len(self._buckets)}"


def distribute(model, loader):
    """`(model, loader)` as `nn.utils.fit` trains on them in a job of several ranks; unchanged in a world of one.

    The model is wrapped in `DistributedDataParallel` (unless it already is). A `DataLoader` without a
    sampler is replaced by one over the same dataset that gives this rank its share of every batch: a
    `DistributedSampler` (shuffling when the loader did, with a seed drawn from the loader's generator
    on rank 0) and a batch size of `ceil(batch_size / world_size)`. Since the sampler deals the
    samples out in turn, the ranks' i-th batches together are the i-th batch of one permutation, of
    `batch_size` samples when `world_size` divides it: the job takes the same steps as a single
    process would, each in a fraction of the time. Any other loader is left as it is (every rank then
    trains on all of it).
    """
    world_size = distributed.world_size()
    if world_size == 1:
        return model, loader
    if not isinstance(model, DistributedDataParallel):
        model = DistributedDataParallel(model)
    if isinstance(loader, ag.data.DataLoader) and loader._default_batching:
        seed = ag.tensor(np.array([loader._draw_seed(2**31) if loader.shuffle else 0]))
        distributed.broadcast(seed, root=0)
        sampler = ag.data.DistributedSampler(loader.dataset, shuffle=loader.shuffle, seed=int(seed.item()))
        loader = ag.data.DataLoader(
            loader.dataset,
            batch_size=-(-loader.batch_size // world_size),
            drop_last=loader.drop_last,
            sampler=sampler,
            collate_fn=loader.collate_fn,
        )
    return model, loader
