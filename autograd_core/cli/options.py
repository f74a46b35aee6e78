"""Option types of the `autograd-core` commands: each parses one argument's text and returns its value, or
raises `argparse.ArgumentTypeError`, which argparse reports as "argument --NAME: ..." with exit status 2."""

import argparse
import math


def _int_at_least(minimum):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    parse.__name__ = "integer"
    return parse


positive_int = _int_at_least(1)
non_negative_int = _int_at_least(0)


def positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def dropout_probability(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def layer_sizes(text):
    """ "128" or "64,32" -> (128,) or (64, 32)."""
    parts = text.split(",")
    try:
        sizes = tuple(int(part) for part in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers such as 128 or 64,32, got {text!r}"
        ) from None
    if any(size < 1 for size in sizes):
        raise argparse.ArgumentTypeError(f"layer sizes must be positive, got {text!r}")
    return sizes


def activation_name(text):
    import nn

    if text not in nn.ACTIVATION_MODULES:
        raise argparse.ArgumentTypeError(f"unknown activation {text!r}; choose from {', '.join(nn.ACTIVATION_MODULES)}")
    return text


def optimizers():
    """Optimizer classes by lower-case name: {"sgd": optim.SGD, "adam": optim.Adam, ...}."""
    import optim

    return {
        name.lower(): getattr(optim, name)
        for name in optim.__all__
        if isinstance(getattr(optim, name), type) and name != "Optimizer"
    }


def optimizer_name(text):
    known = optimizers()
    if text.lower() not in known:
        raise argparse.ArgumentTypeError(f"unknown optimizer {text!r}; choose from {', '.join(known)}")
    return text.lower()


INITS = ("default", "xavier", "he", "normal:STD")


def init_spec(text):
    """ "default" (PyTorch's), "xavier" (Glorot uniform), "he" (Kaiming normal, fan_in) or "normal:STD"."""
    if text in ("default", "xavier", "he"):
        return text
    kind, _, std = text.partition(":")
    if kind == "normal" and std:
        try:
            return f"normal:{positive_float(std)}"
        except argparse.ArgumentTypeError as err:
            raise argparse.ArgumentTypeError(f"in {text!r}, STD {err}") from None
    raise argparse.ArgumentTypeError(f"expected one of {', '.join(INITS)} (e.g. normal:0.5), got {text!r}")


MODEL_KINDS = ("mlp",)


def model_spec(text):
    """ "mlp:4,16,16,1" -> ("mlp", (4, 16, 16, 1)): an MLP through those widths."""
    kind, colon, sizes = text.partition(":")
    if kind not in MODEL_KINDS or not colon:
        raise argparse.ArgumentTypeError(
            f"expected KIND:SIZES with KIND in {MODEL_KINDS}, e.g. mlp:4,16,16,1; got {text!r}"
        )
    sizes = layer_sizes(sizes)
    if len(sizes) < 2:
        raise argparse.ArgumentTypeError(f"an MLP needs at least an input and an output width, got {text!r}")
    return kind, sizes
