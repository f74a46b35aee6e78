"""Neural-network modules, layers, activations, losses and training utilities built on autograd_core.

    import nn
    import nn.functional as F
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 3))
    loss = nn.CrossEntropyLoss()(model(x), y)

Names and semantics follow `torch.nn`; `__all__` lists every public name.
"""

from . import functional, init, parallel, utils
from .activations import (
    ACTIVATION_MODULES,
    CELU,
    ELU,
    GELU,
    SELU,
    Hardsigmoid,
    Hardswish,
    Hardtanh,
    LeakyReLU,
    LogSigmoid,
    LogSoftmax,
    Mish,
    PReLU,
    ReLU,
    ReLU6,
    Sigmoid,
    SiLU,
    Softmax,
    Softmin,
    Softplus,
    Softsign,
    Swish,
    Tanh,
    get_activation,
)
from .attention import MultiheadAttention
from .conv import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AdaptiveMaxPool1d,
    AdaptiveMaxPool2d,
    AvgPool1d,
    AvgPool2d,
    BatchNorm2d,
    Conv1d,
    Conv2d,
    ConvTranspose1d,
    ConvTranspose2d,
    Dropout2d,
    Fold,
    GroupNorm,
    MaxPool1d,
    MaxPool2d,
    MaxUnpool2d,
    Unfold,
    Upsample,
)
from .layers import MLP, BatchNorm1d, Dropout, Embedding, Flatten, Identity, LayerNorm, Linear, MLPBlock, Residual
from .losses import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, L1Loss, MSELoss, NLLLoss
from .module import FunctionModule, Module, ModuleDict, ModuleList, Parameter, Sequential
from .parallel import DistributedDataParallel
from .recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell

__all__ = [
    # the module system
    "Module",
    "Parameter",
    "Sequential",
    "ModuleList",
    "ModuleDict",
    "FunctionModule",
    # layers
    "Identity",
    "Linear",
    "Dropout",
    "Dropout2d",
    "Embedding",
    "Flatten",
    "Residual",
    "MLPBlock",
    "MLP",
    "BatchNorm1d",
    "BatchNorm2d",
    "LayerNorm",
    "GroupNorm",
    "Conv1d",
    "Conv2d",
    "ConvTranspose1d",
    "ConvTranspose2d",
    "Unfold",
    "Fold",
    "MaxPool1d",
    "MaxPool2d",
    "AvgPool1d",
    "AvgPool2d",
    "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d",
    "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d",
    "MaxUnpool2d",
    "Upsample",
    "RNNCell",
    "LSTMCell",
    "GRUCell",
    "RNN",
    "LSTM",
    "GRU",
    "MultiheadAttention",
    # activations
    "ReLU",
    "LeakyReLU",
    "PReLU",
    "ELU",
    "GELU",
    "SiLU",
    "Swish",
    "Sigmoid",
    "Tanh",
    "Softplus",
    "Softmax",
    "LogSoftmax",
    "Softmin",
    "CELU",
    "SELU",
    "ReLU6",
    "Hardtanh",
    "Hardsigmoid",
    "Hardswish",
    "Mish",
    "Softsign",
    "LogSigmoid",
    "ACTIVATION_MODULES",
    "get_activation",
    # losses
    "MSELoss",
    "L1Loss",
    "HuberLoss",
    "CrossEntropyLoss",
    "NLLLoss",
    "BCELoss",
    "BCEWithLogitsLoss",
    # data parallelism
    "DistributedDataParallel",
    # submodules
    "functional",
    "init",
    "parallel",
    "utils",
]
