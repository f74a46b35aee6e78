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
Joining is collective, as `init_process_group`: a rank's first call of this
module returns once every rank has made its own first call.

A rank ending early never leaves the others waiting forever:

- an exception that escapes any rank aborts the whole job (`MPI_Abort`) after
  printing its traceback;
- a rank whose script ends, normally or by `sys.exit(n)` (SystemExit never
  reaches the exception hook), tells the other ranks that it has left, then
  waits for them to finish too (as `MPI_Finalize` would). A rank that then
  waits in a collective this module runs for a rank that has left, and is
  still waiting `DEPARTURE_GRACE_SECONDS` later, aborts the job with exit
  status 1, saying which rank left. Ranks that finish their own work without
  another collective are not disturbed, so rank 0 may go on alone (evaluate,
  write files) after the others have finished; the job's exit status is then
  the highest of the ranks' (e.g. 3 after `sys.exit(3)` on one rank).

Only the collectives of this module (and what is built on them:
DistributedDataParallel, `nn.parallel.distribute`) watch for departed ranks:
a collective called through mpi4py directly still waits forever.
"""

import atexit
import os
import sys
import time

import numpy as np

from .tensor import Tensor, increment_version

# Set in every process started by: MPICH's and Intel MPI's Hydra (PMI_SIZE), Open MPI's mpirun
# (OMPI_COMM_WORLD_SIZE), PMIx launchers such as Open MPI 5 and Slurm's `srun --mpi=pmix` (PMIX_RANK).
_LAUNCHER_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK")

_OPS = ("sum", "mean", "max", "min")

# How long a collective keeps waiting after learning that a rank it needs has left: the rank's last
# messages may still be in flight (notices travel on another communicator, with no ordering between them).
DEPARTURE_GRACE_SECONDS = 3.0
_DEPARTURE_TAG = 1
_POLLS_BEFORE_SLEEPING = 1000  # a collective spins this long (microseconds) before polling every millisecond


class _World:
    comm = None  # mpi4py's COMM_WORLD once joined; None in a world of one
    control = None  # a duplicate of comm carrying only departure notices, so they never mix with user messages
    departed = ()  # ranks known to have left
    rank = 0
    size = 1
    initialized = False


_world = _World()


def launched_by_mpi():
    """Whether this process was started by an MPI launcher (mpiexec, mpirun, srun)."""
    return any(name in os.environ for name in _LAUNCHER_VARIABLES)


def init():
    """Join the MPI job this process belongs to; a process started without a launcher is a world of one.

    Idempotent. Every function of this module calls it on first use. In a job of several ranks it is
    collective (it creates the communicator that carries the departure notices): it returns once every
    rank has called it.
    """
    if _world.initialized:
        return
    if launched_by_mpi():
        try:
            from mpi4py import MPI
        except ImportError:
            raise RuntimeError(
                "ag.distributed.init: this process was started by an MPI launcher, but mpi4py is "
                "not installed; install it with `pip install mpi4py mpich` (see "
                "docs/distributed.md)"
            ) from None
        _world.comm = MPI.COMM_WORLD
        _world.rank = _world.comm.Get_rank()
        _world.size = _world.comm.Get_size()
        if _world.size > 1:
            _abort_job_on_uncaught_exception()
            _world.control, _world.departed = _world.comm.Dup(), set()
            atexit.register(_leave)  # after mpi4py's own atexit (registered on import): runs before MPI_Finalize
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


_FORWARD_OUTPUT_SECONDS = 0.5


def _abort_job_on_uncaught_exception():
    previous = sys.excepthook

    def abort(kind, value, traceback):
        previous(kind, value, traceback)
        _abort(f"failed with {kind.__name__}: {value}")

    sys.excepthook = abort


def _abort(message):
    sys.stderr.write(
        f"ag.distributed: rank {_world.rank} of {_world.size} {message}; aborting the MPI job so that "
        "the other ranks do not wait forever\n"
    )
    sys.stdout.flush()
    sys.stderr.flush()
    # MPI_Abort makes the launcher kill every rank at once, and what the ranks printed just before (the
    # traceback, this message) may still sit in the launcher's pipes: give it a moment to forward them.
    time.sleep(_FORWARD_OUTPUT_SECONDS)
    _world.comm.Abort(1)


def _leave():
    """At this rank's exit: tell every other rank, then wait until all have left (their notices received)."""
    from mpi4py import MPI

    notice = np.array([_world.rank], dtype=np.int64)
    sends = [
        _world.control.Isend(notice, dest=other, tag=_DEPARTURE_TAG)
        for other in range(_world.size)
        if other != _world.rank
    ]
    _world.control.Barrier()  # every rank has sent its notices; a rank stuck in a collective aborts us all instead
    for other in range(_world.size):
        if other != _world.rank and other not in _world.departed:
            _world.control.Recv(np.empty(1, dtype=np.int64), source=other, tag=_DEPARTURE_TAG)
    MPI.Request.Waitall(sends)


def _receive_departures():
    """Record the ranks whose departure notices have arrived."""
    from mpi4py import MPI

    status = MPI.Status()
    while _world.control.Iprobe(source=MPI.ANY_SOURCE, tag=_DEPARTURE_TAG, status=status):
        _world.control.Recv(np.empty(1, dtype=np.int64), source=status.Get_source(), tag=_DEPARTURE_TAG)
        _world.departed.add(status.Get_source())


def _wait(request, what):
    """Wait for the non-blocking collective `request`, aborting the job if a rank it needs has left."""
    polls, deadline = 0, None
    while not request.Test():
        polls += 1
        if polls > _POLLS_BEFORE_SLEEPING:
            time.sleep(0.001)
        _receive_departures()
        if _world.departed and deadline is None:
            deadline = time.monotonic() + DEPARTURE_GRACE_SECONDS
        if deadline is not None and time.monotonic() > deadline:
            left = ", ".join(map(str, sorted(_world.departed)))
            _abort(f"waits in {what} for rank(s) {left}, which left the job (the script ended there, e.g. by sys.exit)")


def _check_tensor(tensor, who):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{who}: expected a Tensor, got {type(tensor).__name__}")


def _in_place(tensor, collective):
    """Run `collective(buffer)` on a contiguous buffer holding `tensor`'s data, then record the edit."""
    data = tensor._data
    buffer = data if data.flags.c_contiguous else np.ascontiguousarray(data)
    collective(buffer)
    if buffer is not data:
        np.copyto(data, buffer)
    increment_version(tensor)


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

    _wait(
        _world.comm.Iallreduce(MPI.IN_PLACE, array, op={"max": MPI.MAX, "min": MPI.MIN}.get(op, MPI.SUM)), "all_reduce"
    )
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
        _in_place(tensor, lambda buffer: _wait(_world.comm.Ibcast(buffer, root=int(root)), "broadcast"))


def barrier():
    """Wait until every rank has reached this call."""
    init()
    if _world.size > 1:
        _wait(_world.comm.Ibarrier(), "barrier")
