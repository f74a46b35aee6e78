"""Convolution, pooling, normalization and resampling layers for (N, C, L) and (N, C, H, W) inputs.

Signatures, defaults, parameter names (`weight`, `bias`), buffers and initialisation follow PyTorch, so
state dicts are interchangeable with the equivalent `torch.nn` layers. The math lives in
`autograd_core.conv_ops`; a layer holds its hyperparameters and parameters and calls it.
"""

import math

import numpy as np

import autograd_core as ag
from autograd_core import conv_ops

from . import functional as F
from . import init
from .layers import BatchNorm1d
from .module import REQUIRED, FunctionModule, Module, Parameter, check_size

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    """The shared body of Conv1d/2d and ConvTranspose1d/2d: hyperparameter checks, parameters, init.

    Weight (out_channels, in_channels / groups, *kernel_size), or (in_channels, out_channels / groups,
    *kernel_size) when transposed; PyTorch's init: weight ~ kaiming_uniform(a=sqrt(5)), i.e.
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), where
    fan_in = weight.shape[1] * prod(kernel_size).
    """

    spatial = 2
    transposed = False

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride,
        padding,
        dilation,
        groups,
        bias,
        padding_mode,
        output_padding=0,
    ):
        super().__init__()
        who = type(self).__name__
        check_size(who, "in_channels", in_channels)
        check_size(who, "out_channels", out_channels)
        self.groups = conv_ops.int_tuple(who, "groups", groups, 1, 1)[0]
        for name, channels in (("in_channels", in_channels), ("out_channels", out_channels)):
            if channels % self.groups:
                raise ValueError(f"{who}: {name} {channels} is not divisible by groups={self.groups}")
        if padding_mode not in PADDING_MODES or (self.transposed and padding_mode != "zeros"):
            modes = ("zeros",) if self.transposed else PADDING_MODES
            raise ValueError(f"{who}: padding_mode must be one of {', '.join(map(repr, modes))}; got {padding_mode!r}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = conv_ops.int_tuple(who, "kernel_size", kernel_size, self.spatial, 1)
        self.stride = conv_ops.int_tuple(who, "stride", stride, self.spatial, 1)
        self.dilation = conv_ops.int_tuple(who, "dilation", dilation, self.spatial, 1)
        self.output_padding = conv_ops.int_tuple(who, "output_padding", output_padding, self.spatial, 0)
        if isinstance(padding, str) and not self.transposed:
            # checked (and "same" with a stride refused) here rather than at the first forward
            conv_ops.conv_padding(who, padding, self.kernel_size, self.stride, self.dilation)
            self.padding = padding
        else:
            self.padding = conv_ops.int_tuple(who, "padding", padding, self.spatial, 0)
        self.padding_mode = padding_mode
        channels = (
            (in_channels, out_channels // self.groups)
            if self.transposed
            else (out_channels, in_channels // self.groups)
        )
        dtype = ag.get_default_dtype()
        self.weight = Parameter(np.zeros(channels + self.kernel_size, dtype))
        self.register_parameter("bias", Parameter(np.zeros(out_channels, dtype)) if bias else None)
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * math.prod(self.kernel_size)
            bound = 1.0 / math.sqrt(fan_in)
            init.uniform_(self.bias, -bound, bound)

    def extra_repr(self):
        """PyTorch's: the hyperparameters that differ from their defaults, after the sizes and stride."""
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        for name, default in (
            ("padding", (0,) * self.spatial),
            ("dilation", (1,) * self.spatial),
            ("output_padding", (0,) * self.spatial),
            ("groups", 1),
        ):
            if getattr(self, name) != default:
                text += f", {name}={getattr(self, name)}"
        if self.bias is None:
            text += ", bias=False"
        return text + ("" if self.padding_mode == "zeros" else f", padding_mode={self.padding_mode}")


class _Conv(_ConvNd):
    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups=1,
        bias=True,
        padding_mode="zeros",
    ):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode)

    def forward(self, input):
        who = type(self).__name__
        padding = self.padding
        if self.padding_mode != "zeros":  # PyTorch's way: pad in that mode, then convolve without padding
            pairs = conv_ops.conv_padding(who, padding, self.kernel_size, self.stride, self.dilation)
            input = conv_ops.pad(input, [w for pair in reversed(pairs) for w in pair], mode=self.padding_mode)
            padding = 0
        return conv_ops.convolution(
            who, self.spatial, input, self.weight, self.bias, self.stride, padding, self.dilation, self.groups
        )


class Conv1d(_Conv):
    """1-D convolution (cross-correlation) of (N, in_channels, L) inputs; see `conv_ops.conv1d`."""

    spatial = 1


class Conv2d(_Conv):
    """2-D convolution (cross-correlation) of (N, in_channels, H, W) inputs; see `conv_ops.conv2d`."""

    spatial = 2


class _ConvTranspose(_ConvNd):
    transposed = True

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride=1,
        padding=0,
        output_padding=0,
        groups=1,
        bias=True,
        dilation=1,
        padding_mode="zeros",
    ):
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            padding_mode,
            output_padding,
        )

    def _output_padding(self, input, output_size):
        """output_padding, or the one that makes the output `output_size` (spatial sizes, or a full shape)."""
        if output_size is None:
            return self.output_padding
        who = type(self).__name__
        wanted = conv_ops.int_tuple(who, "output_size", tuple(output_size)[-self.spatial :], self.spatial, 1)
        smallest = conv_ops.transposed_output_size(
            tuple(input.shape[-self.spatial :]),
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            (0,) * self.spatial,
        )
        if any(not 0 <= w - m < s for w, m, s in zip(wanted, smallest, self.stride)):
            largest = tuple(m + s - 1 for m, s in zip(smallest, self.stride))
            raise ValueError(
                f"{who}: output_size {wanted} must lie between {smallest} and {largest} for an input "
                f"of shape {tuple(input.shape)}"
            )
        return tuple(w - m for w, m in zip(wanted, smallest))

    def forward(self, input, output_size=None):
        return conv_ops.transposed_convolution(
            type(self).__name__,
            self.spatial,
            input,
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            self._output_padding(input, output_size),
            self.groups,
            self.dilation,
        )


class ConvTranspose1d(_ConvTranspose):
    """The transpose of Conv1d (a fractionally strided convolution); weight (in, out / groups, k)."""

    spatial = 1


class ConvTranspose2d(_ConvTranspose):
    """The transpose of Conv2d (a fractionally strided convolution); weight (in, out / groups, kH, kW)."""

    spatial = 2


# ---- layers without parameters: a function of the input and the constructor's arguments -------------


class _ConvOpsLayer(FunctionModule):
    """A layer calling one `conv_ops` function, which validates the arguments itself when called."""

    check_at_construction = False


class _PoolLayer(_ConvOpsLayer):
    """A pooling layer: as PyTorch's, a stride of None is stored as the kernel size."""

    def normalise(self, values):
        if values["stride"] is None:
            values["stride"] = values["kernel_size"]


_MAX_POOL = {
    "kernel_size": REQUIRED,
    "stride": None,
    "padding": 0,
    "dilation": 1,
    "return_indices": False,
    "ceil_mode": False,
}
_AVG_POOL = {"kernel_size": REQUIRED, "stride": None, "padding": 0, "ceil_mode": False, "count_include_pad": True}
_ADAPTIVE_MAX_POOL = {"output_size": REQUIRED, "return_indices": False}


class MaxPool1d(_PoolLayer):
    """The maximum of each window of (N, C, L); see `conv_ops.max_pool1d`."""

    function, defaults = staticmethod(conv_ops.max_pool1d), _MAX_POOL


class MaxPool2d(_PoolLayer):
    """The maximum of each window of (N, C, H, W); see `conv_ops.max_pool2d`."""

    function, defaults = staticmethod(conv_ops.max_pool2d), _MAX_POOL


class AvgPool1d(_PoolLayer):
    """The mean of each window of (N, C, L); see `conv_ops.avg_pool1d`."""

    function, defaults = staticmethod(conv_ops.avg_pool1d), _AVG_POOL


class AvgPool2d(_PoolLayer):
    """The mean of each window of (N, C, H, W); see `conv_ops.avg_pool2d`."""

    function, defaults = staticmethod(conv_ops.avg_pool2d), {**_AVG_POOL, "divisor_override": None}


class AdaptiveAvgPool1d(_ConvOpsLayer):
    """Average (N, C, L) to `output_size` positions; see `conv_ops.adaptive_avg_pool1d`."""

    function, defaults = staticmethod(conv_ops.adaptive_avg_pool1d), {"output_size": REQUIRED}


class AdaptiveAvgPool2d(_ConvOpsLayer):
    """Average (N, C, H, W) to `output_size`; see `conv_ops.adaptive_avg_pool2d`."""

    function, defaults = staticmethod(conv_ops.adaptive_avg_pool2d), {"output_size": REQUIRED}


class AdaptiveMaxPool1d(_ConvOpsLayer):
    """The maximum of (N, C, L) over adaptive windows; see `conv_ops.adaptive_max_pool1d`."""

    function, defaults = staticmethod(conv_ops.adaptive_max_pool1d), _ADAPTIVE_MAX_POOL


class AdaptiveMaxPool2d(_ConvOpsLayer):
    """The maximum of (N, C, H, W) over adaptive windows; see `conv_ops.adaptive_max_pool2d`."""

    function, defaults = staticmethod(conv_ops.adaptive_max_pool2d), _ADAPTIVE_MAX_POOL


class MaxUnpool2d(_PoolLayer):
    """The partial inverse of MaxPool2d; see `conv_ops.max_unpool2d`."""

    function, defaults = staticmethod(conv_ops.max_unpool2d), {"kernel_size": REQUIRED, "stride": None, "padding": 0}

    def forward(self, input, indices, output_size=None):
        return self.function(input, indices, output_size=output_size, **self.hyperparameters)


class Unfold(_ConvOpsLayer):
    """Sliding windows of (N, C, H, W) as columns (N, C * kH * kW, L); see `conv_ops.unfold`."""

    function, defaults = (
        staticmethod(conv_ops.unfold),
        {"kernel_size": REQUIRED, "dilation": 1, "padding": 0, "stride": 1},
    )


class Fold(_ConvOpsLayer):
    """Columns (N, C * kH * kW, L) summed back into (N, C, *output_size); see `conv_ops.fold`."""

    function, defaults = (
        staticmethod(conv_ops.fold),
        {"output_size": REQUIRED, "kernel_size": REQUIRED, "dilation": 1, "padding": 0, "stride": 1},
    )


class Upsample(_ConvOpsLayer):
    """Resize the spatial axes by `size` or `scale_factor`; see `conv_ops.interpolate`."""

    function, defaults = (
        staticmethod(conv_ops.interpolate),
        {
            "size": None,
            "scale_factor": None,
            "mode": "nearest",
            "align_corners": None,
            "recompute_scale_factor": None,
        },
    )


# ---- normalization and dropout -----------------------------------------------------------------------


class BatchNorm2d(BatchNorm1d):
    """Batch normalization of (N, C, H, W) inputs per channel, over N, H and W: BatchNorm1d's statistics,
    running statistics (unbiased running variance, momentum), eval mode and buffers, on the input seen as
    (N, C, H * W)."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True):
        check_size("BatchNorm2d", "num_features", num_features)
        super().__init__(num_features, eps, momentum, affine, track_running_stats)

    def forward(self, x):
        if x.ndim != 4 or x.shape[1] != self.num_features:
            raise ValueError(
                f"BatchNorm2d: expected a 4-D input (N, {self.num_features}, H, W), got shape {tuple(x.shape)}"
            )
        return super().forward(x.reshape(x.shape[0], x.shape[1], -1)).reshape(x.shape)


class GroupNorm(Module):
    """Normalization of each sample over groups of channels (see `conv_ops.group_norm`), then a per-channel
    affine map (weight ones, bias zeros) when `affine`."""

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True):
        super().__init__()
        check_size("GroupNorm", "num_groups", num_groups)
        check_size("GroupNorm", "num_channels", num_channels)
        if num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels {num_channels} is not divisible by num_groups {num_groups}")
        F.check_arguments("GroupNorm", {"eps": eps})
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        if affine:
            self.weight = Parameter(np.ones(num_channels, dtype=ag.get_default_dtype()))
            self.bias = Parameter(np.zeros(num_channels, dtype=ag.get_default_dtype()))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x):
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ValueError(f"GroupNorm: expected an input (N, {self.num_channels}, *), got shape {tuple(x.shape)}")
        return conv_ops.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"


class Dropout2d(Module):
    """Zero whole channels of (N, C, H, W) with probability p in training (kept ones scaled by 1 / (1 - p));
    the identity in eval mode. Masks come from `ag.default_generator.rng`."""

    def __init__(self, p=0.5):
        super().__init__()
        F.check_arguments("Dropout2d", {"p": p})
        self.p = p

    def forward(self, x):
        return conv_ops.dropout2d(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"
