"""DataLoader(num_workers > 0): the same batches as in the main process, seeding, get_worker_info,
worker_init_fn, errors raised in the parent, timeouts, and workers cleaned up in every case."""

import gc
import multiprocessing
import os
import time

import numpy as np
import pytest

import autograd_core as ag
from autograd_core.data import DataLoader, Dataset, TensorDataset, get_worker_info


class _Squares(Dataset):
    """Per-sample dataset whose samples also say which worker made them, and what it drew at random."""

    def __init__(self, n, fail_at=None, exit_at=None, sleep=0.0):
        self.n, self.fail_at, self.exit_at, self.sleep = n, fail_at, exit_at, sleep

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if i == self.fail_at:
            raise KeyError(f"no sample {i}")
        if i == self.exit_at:
            os._exit(3)
        time.sleep(self.sleep)
        info = get_worker_info()
        return np.array([i, i * i], dtype=np.float64), i, -1 if info is None else info.id


def _labels(loader):
    return [batch[1].tolist() for batch in loader]


def _no_workers_left():
    deadline = time.monotonic() + 3
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.02)
    return not multiprocessing.active_children()


@pytest.mark.parametrize("num_workers, prefetch_factor", [(1, 1), (2, None), (3, 4)])
@pytest.mark.parametrize("per_sample", [True, False], ids=["per_sample", "tensor_dataset"])
def test_workers_give_the_batches_of_the_main_process(num_workers, prefetch_factor, per_sample):
    dataset = _Squares(29) if per_sample else TensorDataset(np.arange(58.0).reshape(29, 2), np.arange(29))

    def epochs(**workers):
        loader = DataLoader(dataset, batch_size=4, shuffle=True, drop_last=True, seed=5, **workers)
        return [[[b.numpy().tolist() for b in batch[:2]] for batch in loader] for _ in range(2)]

    here = epochs()
    assert epochs(num_workers=num_workers, prefetch_factor=prefetch_factor) == here
    assert epochs(num_workers=num_workers, persistent_workers=True) == here
    assert _no_workers_left()


def test_workers_follow_the_global_seed_like_the_main_process():
    ag.manual_seed(3)
    here = _labels(DataLoader(_Squares(20), batch_size=3, shuffle=True))
    ag.manual_seed(3)
    assert _labels(DataLoader(_Squares(20), batch_size=3, shuffle=True, num_workers=2)) == here


def test_batches_come_from_every_worker_in_turn():
    workers = [batch[2].tolist() for batch in DataLoader(_Squares(12), batch_size=2, num_workers=3)]
    assert workers == [[w, w] for w in [0, 1, 2, 0, 1, 2]]
    assert get_worker_info() is None
    assert next(iter(DataLoader(_Squares(2), batch_size=2)))[2].tolist() == [-1, -1]


class _WorkerFacts(Dataset):
    """Each sample reports the worker's info, what worker_init_fn recorded, and one draw of ag.rand."""

    def __len__(self):
        return 8

    def __getitem__(self, i):
        info = get_worker_info()
        return {
            "id": info.id,
            "num_workers": info.num_workers,
            "seed": info.seed,
            "same_dataset_type": type(info.dataset) is _WorkerFacts,
            "initialized": _initialized_workers.copy(),
            "draw": float(ag.rand(1).item()),
        }


_initialized_workers = []


def _record_init(worker_id):
    _initialized_workers.append(worker_id)


def _facts(seed):
    loader = DataLoader(_WorkerFacts(), batch_size=2, num_workers=2, worker_init_fn=_record_init, seed=seed)
    return list(loader)


def test_worker_info_seeds_and_worker_init_fn():
    batches = _facts(seed=1)
    assert [b["id"].tolist() for b in batches] == [[0, 0], [1, 1], [0, 0], [1, 1]]
    assert all(b["num_workers"].tolist() == [2, 2] and all(b["same_dataset_type"]) for b in batches)
    seeds = {worker: b["seed"][0].item() for worker, b in zip([0, 1], batches)}
    assert seeds[1] == seeds[0] + 1  # base_seed + worker id, as PyTorch
    # Each worker ran worker_init_fn once, on itself (the list it appended to holds only its own id).
    assert [b["initialized"][0].tolist() for b in batches] == [[0, 0], [1, 1], [0, 0], [1, 1]]
    assert all(len(b["initialized"]) == 1 for b in batches)
    assert _initialized_workers == []  # ... in the worker, not here
    draws = [b["draw"].tolist() for b in batches]
    assert draws == [b["draw"].tolist() for b in _facts(seed=1)]  # the loader's seed fixes the workers' draws
    assert draws != [b["draw"].tolist() for b in _facts(seed=2)]
    assert draws[0] != draws[1]  # the two workers draw different numbers


def test_a_worker_exception_is_raised_here_naming_worker_batch_and_traceback():
    loader = DataLoader(_Squares(12, fail_at=7), batch_size=2, num_workers=2)
    with pytest.raises(KeyError) as raised:
        list(loader)
    message = str(raised.value)
    assert message.startswith("DataLoader worker 1 failed on batch 3 (dataset indices 6, 7): KeyError: 'no sample 7'")
    assert "The worker's traceback:" in message and "in __getitem__" in message
    assert 'raise KeyError(f"no sample {i}")' in message
    assert _no_workers_left()


def test_an_exception_class_the_parent_cannot_rebuild_becomes_runtime_error():
    class Local(Exception):
        pass

    class Failing(Dataset):
        def __len__(self):
            return 2

        def __getitem__(self, i):
            raise Local("local trouble")

    with pytest.raises(RuntimeError, match=r"worker 0 failed on batch 0 .* Local: local trouble"):
        list(DataLoader(Failing(), batch_size=2, num_workers=1))
    assert _no_workers_left()


def _failing_init(worker_id):
    raise ValueError(f"cannot start worker {worker_id}")


def test_a_failing_worker_init_fn_is_reported():
    with pytest.raises(
        ValueError, match="DataLoader worker 0 failed in worker_init_fn: ValueError: cannot start worker 0"
    ):
        list(DataLoader(_Squares(4), batch_size=2, num_workers=2, worker_init_fn=_failing_init))
    assert _no_workers_left()


def test_ragged_samples_in_a_worker_name_the_batch():
    class Ragged(Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return np.zeros(1 + i // 2)

    with pytest.raises(ValueError) as raised:
        list(DataLoader(Ragged(), batch_size=3, num_workers=2))
    assert str(raised.value).startswith(
        "DataLoader worker 0 failed on batch 0 (dataset indices 0, 1, 2): ValueError: DataLoader over Ragged: "
        "batch 0 (dataset indices 0, 1, 2) cannot be stacked: its samples have different shapes: (1,) x2, (2,) x1."
    )


def test_a_worker_that_dies_is_reported():
    started = time.perf_counter()
    with pytest.raises(RuntimeError, match=r"DataLoader worker 1 \(pid \d+\) exited unexpectedly with exit code 3"):
        list(DataLoader(_Squares(6, exit_at=3), batch_size=2, num_workers=2))
    assert time.perf_counter() - started < 3
    assert _no_workers_left()


def test_timeout_bounds_the_wait_for_a_batch():
    started = time.perf_counter()
    with pytest.raises(RuntimeError, match=r"DataLoader timed out after 0\.3 seconds waiting for batch 0"):
        list(DataLoader(_Squares(1, sleep=1.0), batch_size=1, num_workers=1, timeout=0.3))
    assert time.perf_counter() - started < 2
    assert _no_workers_left()


def test_workers_stop_when_the_iterator_is_exhausted_or_dropped():
    loader = DataLoader(_Squares(10), batch_size=2, num_workers=2)
    assert len(_labels(loader)) == 5
    assert _no_workers_left()
    batches = iter(loader)
    next(batches)
    assert len(multiprocessing.active_children()) == 2
    del batches
    gc.collect()
    assert _no_workers_left()


def test_persistent_workers_live_across_epochs_and_survive_an_abandoned_one():
    loader = DataLoader(_Squares(10), batch_size=2, shuffle=True, seed=0, num_workers=2, persistent_workers=True)
    reference = DataLoader(_Squares(10), batch_size=2, shuffle=True, seed=0)
    assert _labels(loader) == _labels(reference)
    pids = {p.pid for p in multiprocessing.active_children()}
    assert len(pids) == 2
    for _ in loader:  # leave an epoch midway: its batches still in flight must not leak into the next
        break
    for _ in reference:
        break
    assert _labels(loader) == _labels(reference)
    assert {p.pid for p in multiprocessing.active_children()} == pids
    del loader
    gc.collect()
    assert _no_workers_left()


def test_spawn_start_method():
    loader = DataLoader(
        TensorDataset(np.arange(10.0)),
        batch_size=3,
        shuffle=True,
        seed=2,
        num_workers=2,
        multiprocessing_context="spawn",
    )
    here = DataLoader(TensorDataset(np.arange(10.0)), batch_size=3, shuffle=True, seed=2)
    assert [b[0].tolist() for b in loader] == [b[0].tolist() for b in here]
    assert _no_workers_left()
