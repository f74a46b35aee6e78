"""PyTorch references of the activation registry ops (autograd_core/activation_ops.py), for the TORCH table
of tests/test_ops_registry.py. Importable without torch (the table is built only when torch is installed);
each reference takes torch tensors and the op's attributes."""


def activation_references(torch):
    """{op name: reference} for celu, selu, hardtanh, hardsigmoid, hardswish, mish, softsign, logsigmoid."""
    functional = torch.nn.functional
    return {
        "celu": lambda x, alpha: functional.celu(x, alpha),
        "selu": functional.selu,
        "hardtanh": lambda x, min_val, max_val: functional.hardtanh(x, min_val, max_val),
        # torch's hardsigmoid kernel multiplies the gradient by 1/6 rounded to float32 even in float64
        # (0.1666666716...); the same function written with relu6 has the exact 1/6 and the same kinks
        "hardsigmoid": lambda x: functional.relu6(x + 3.0) / 6.0,
        "hardswish": functional.hardswish,
        "mish": functional.mish,
        "softsign": functional.softsign,
        "logsigmoid": functional.logsigmoid,
    }
