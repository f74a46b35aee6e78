"""Collective communication between the processes of an MPI job (the essentials of `torch.distributed`).

    mpiexec -n 2 python train.py

Each process (a *rank*) runs the same script on its own share of the data;
`all_reduce` and `broadcast` combine tensors across ranks, in place, as
PyTorch's do. `nn.parallel.DistributedDataParallel` builds data-parallel
training on them.

A process started without an MPI launcher is a world of one: `rank()` is 0,
`world_size()` is 1, the collectives leave their tensor as it is, and mpi4py
is never imported, so the library works where MPI is not installed. Under a
launcher (recognised by the variables it sets, `_LAUNCHER_VARIABLES`) the
process joins the job through mpi4py on first use; calling `init()` first is
allowed but optional (unlike PyTorch, where `init_process_group` is required).

In a job of several ranks, an exception that escapes any rank aborts the whole
job (`MPI_Abort`) after printing its traceback: the other ranks would
otherwise wait forever in their next collective.
"""
import os
import sys

import numpy as np

from .tensor import Tensor

# Set in every process started by: MPICH's and Intel MPI's Hydra (PMI_SIZE), Open MPI's mpirun
# (OMPI_COMM_WORLD_SIZE), PMIx launchers such as Open MPI 5 and Slurm's `srun --mpi=pmix` (PMIX_RANK).
_LAUNCHER_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK")

_OPS = ("sum", "mean", "max", "min")


class _World:
    comm = None  # mpi4py's COMM_WORLD once joined; None in a world of one
    rank = 0
    size = 1
    initialized = False


_world = _World()


def launched_by_mpi():
    """Whether this process was started by an MPI launcher (mpiexec, mpirun, srun)."""
    return any(name in os.environ for name in _LAUNCHER_VARIABLES)


def init():
    """Join the MPI job this process belongs to; a process started without a launcher is a world of one.

    Idempotent. Every function of this module calls it on first use.
    """
    if _world.initialized:
        return
    if launched_by_mpi():
        try:
            from mpi4py import MPI
        except ImportError:
            raise RuntimeError("ag.distributed.init: this process was started by an MPI launcher, but mpi4py is "
                               "not installed; install it with `pip install mpi4py mpich` (see "
                               "docs/distributed.md)") from None
        _world.comm = MPI.COMM_WORLD
        _world.rank = _world.comm.Get_rank()
        _world.size = _world.comm.Get_size()
        if _world.size > 1:
            _abort_job_on_uncaught_exception()
    _world.initialized = True


def is_initialized():
    return _world.initialized


def rank():
    """This process's index in the job, 0 to world_size() - 1 (0 without a launcher)."""
    init()
    return _world.rank


def world_size():
    """The number of processes in the job (1 without a launcher)."""
    init()
    return _world.size


def _abort_job_on_uncaught_exception():
    previous = sys.excepthook

    def abort(kind, value, traceback):
        previous(kind, value, traceback)
        sys.stderr.write(f"ag.distributed: rank {_world.rank} of {_world.size} failed with {kind.__name__}: "
                         f"{value}; aborting the MPI job so that the other ranks do not wait for it forever\n")
        sys.stderr.flush()
        _world.comm.Abort(1)

    sys.excepthook = abort


def _check_tensor(tensor, who):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{who}: expected a Tensor, got {type(tensor).__name__}")


def _in_place(tensor, collective):
    """Run `collective(buffer)` on a contiguous buffer holding `tensor`'s data, then record the edit."""
    data = tensor.data
    buffer = data if data.flags.c_contiguous else np.ascontiguousarray(data)
    collective(buffer)
    if buffer is not data:
        np.copyto(data, buffer)
    tensor._bump_version()


def _check_op(op, dtype):
    if op not in _OPS:
        raise ValueError(f"all_reduce: op must be one of {', '.join(map(repr, _OPS))}, got {op!r}")
    if op == "mean" and dtype.kind != "f":
        raise TypeError(f"all_reduce: op='mean' needs a floating tensor, got dtype {dtype}")


def all_reduce_array(array, op="sum"):
    """`all_reduce` on a contiguous numpy array (DistributedDataParallel reduces its flat buckets with it)."""
    _check_op(op, array.dtype)
    init()
    if _world.size == 1:
        return
    from mpi4py import MPI
    _world.comm.Allreduce(MPI.IN_PLACE, array, op={"max": MPI.MAX, "min": MPI.MIN}.get(op, MPI.SUM))
    if op == "mean":
        array /= _world.size


def all_reduce(tensor, op="sum"):
    """Replace `tensor`'s data, on every rank, by its sum (or mean, max, min) over all ranks.

    In place, as `torch.distributed.all_reduce`; every rank must call it with a tensor of the same
    shape and dtype, in the same order as the other collectives.
    """
    _check_tensor(tensor, "all_reduce")
    _check_op(op, tensor.dtype)
    init()
    if _world.size > 1:
        _in_place(tensor, lambda buffer: all_reduce_array(buffer, op))


def broadcast(tensor, root=0):
    """Copy `tensor`'s data on rank `root` into `tensor` on every other rank (in place)."""
    _check_tensor(tensor, "broadcast")
    init()
    if isinstance(root, bool) or not isinstance(root, (int, np.integer)) or not 0 <= root < _world.size:
        raise ValueError(f"broadcast: root must be a rank in [0, {_world.size - 1}], got {root!r}")
    if _world.size > 1:
        _in_place(tensor, lambda buffer: _world.comm.Bcast(buffer, root=int(root)))


def barrier():
    """Wait until every rank has reached this call."""
    init()
    if _world.size > 1:
        _world.comm.Barrier()
