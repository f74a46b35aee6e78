"""PyTorch references of the math registry ops (autograd_core/math_ops.py), for the TORCH table of
tests/test_ops_registry.py. Importable without torch (the table is built only when torch is installed);
each reference takes torch tensors and the op's attributes."""


def math_references(torch):
    """{op name: reference} for every row of math_ops."""
    return {
        "log2": torch.log2,
        "log10": torch.log10,
        "exp2": torch.exp2,
        "rsqrt": torch.rsqrt,
        "reciprocal": torch.reciprocal,
        "square": torch.square,
        "tan": torch.tan,
        "asin": torch.asin,
        "acos": torch.acos,
        "atan": torch.atan,
        "sinh": torch.sinh,
        "cosh": torch.cosh,
        "asinh": torch.asinh,
        "acosh": torch.acosh,
        "atanh": torch.atanh,
        "erfc": torch.erfc,
        "frac": torch.frac,
        "floor": torch.floor,
        "ceil": torch.ceil,
        "trunc": torch.trunc,
        "round": lambda x, decimals: torch.round(x, decimals=decimals),
        "nan_to_num": lambda x, nan, posinf, neginf: torch.nan_to_num(x, nan, posinf, neginf),
        "atan2": torch.atan2,
        "hypot": torch.hypot,
        "xlogy": torch.xlogy,
        "copysign": torch.copysign,
        "logaddexp": torch.logaddexp,
        "logaddexp2": torch.logaddexp2,
        "lerp": torch.lerp,
        "remainder": torch.remainder,
        "fmod": torch.fmod,
        # torch has no derivative for floor_divide; div with a rounding mode is the same op with a zero one
        "floor_divide": lambda x, y: torch.div(x, y, rounding_mode="floor"),
        "trunc_divide": lambda x, y: torch.div(x, y, rounding_mode="trunc"),
        "cumsum": lambda x, axis: torch.cumsum(x, axis),
        "cumprod": lambda x, axis: torch.cumprod(x, axis),
        "logcumsumexp": lambda x, axis: torch.logcumsumexp(x, axis),
        "cummax": lambda x, axis: tuple(torch.cummax(x, axis)),
        "cummin": lambda x, axis: tuple(torch.cummin(x, axis)),
    }
