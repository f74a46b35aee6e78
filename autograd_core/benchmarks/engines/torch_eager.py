"""PyTorch eager (CPU), written as a PyTorch user would (the shared PyTorch-style workloads)."""

from autograd_core.benchmarks import THREADS
from autograd_core.benchmarks.engines import Engine, pytorch_style


def load():
    import torch

    torch.set_num_threads(THREADS)
    return torch.__version__


def _torch_api():
    import torch

    return torch, torch.nn, torch.nn.functional, torch.optim


ENGINES = [Engine(key="torch", label="torch eager", load=load, workloads=pytorch_style.workloads(_torch_api))]
