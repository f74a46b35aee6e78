"""API.md section 10: shape mismatches, wrong types and autograd misuse raise clear errors naming the op."""

import numpy as np
import pytest

import autograd_core as ag


@pytest.mark.parametrize(
    "op, pattern",
    [
        (lambda a, b: a + b, r"add: .*\(3, 4\) and \(5, 2\)"),
        (lambda a, b: a - b, r"sub: .*\(3, 4\) and \(5, 2\)"),
        (lambda a, b: a * b, r"mul: .*\(3, 4\) and \(5, 2\)"),
        (lambda a, b: a / b, r"div: .*\(3, 4\) and \(5, 2\)"),
        (lambda a, b: a**b, r"pow: .*\(3, 4\) and \(5, 2\)"),
        (lambda a, b: ag.maximum(a, b), r"maximum: .*\(3, 4\) and \(5, 2\)"),
        (lambda a, b: ag.where(a > 0, a, b), r"where: .*\(3, 4\) and \(5, 2\)"),
        (lambda a, b: a @ b, r"matmul: shapes \(3, 4\) and \(5, 2\) are not aligned \(4 != 5\)"),
        (lambda a, b: ag.cat([a, b], axis=0), r"concatenate: shapes \(3, 4\), \(5, 2\) differ outside axis 0"),
        (lambda a, b: ag.stack([a, b]), r"stack: all tensors must have the same shape, got \(3, 4\), \(5, 2\)"),
    ],
)
def test_shape_mismatch_names_the_op_and_both_shapes(op, pattern):
    a, b = ag.ones(3, 4, requires_grad=True), ag.ones(5, 2)
    with pytest.raises(ValueError, match=pattern):
        op(a, b)


def test_matmul_of_scalars_is_a_value_error():
    with pytest.raises(ValueError, match="matmul: both operands need at least one dimension"):
        ag.tensor(2.0) @ ag.tensor(3.0)


@pytest.mark.parametrize(
    "call, pattern",
    [
        (lambda t: t.reshape(5, 5), r"reshape: .*shape \(3, 4\).*cannot reshape"),
        (lambda t: t.sum(axis=2), r"sum: axis 2 is out of range for a tensor with 2 dimensions"),
        (lambda t: t.softmax(axis=3), r"softmax: axis 3 is out of range"),
        (lambda t: t.permute(0, 0), r"permute: \(0, 0\) is not a permutation of the 2 axes of shape \(3, 4\)"),
        (lambda t: t.broadcast_to(2, 5), r"broadcast_to: .*\(3, 4\)"),
        (lambda t: t.unsqueeze(5), r"unsqueeze: axis 5 is out of range for shape \(3, 4\)"),
        (lambda t: t.norm(p=0.5), r"norm: p must be a number >= 1"),
        (lambda t: t.clip(), r"clip: at least one of min and max"),
        (lambda t: ag.split(t, [1, 1]), r"split: sizes \[1, 1\] do not add up to 3"),
        (lambda t: ag.cat([]), r"concatenate: expected a non-empty sequence"),
        (lambda t: ag.zeros(0).max(), r"max: cannot reduce an empty tensor of shape \(0,\)"),
        (lambda t: t.add_(ag.ones(5, 4)), r"add_: cannot update a tensor of shape \(3, 4\)"),
    ],
)
def test_bad_arguments_are_value_errors_naming_the_op(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call(ag.ones(3, 4))


def test_index_out_of_range_is_an_index_error_naming_the_shape():
    with pytest.raises(IndexError, match=r"getitem: .*shape \(3, 4\)"):
        ag.ones(3, 4)[7]


@pytest.mark.parametrize(
    "call, pattern",
    [
        (lambda: ag.ones(2) + "a", r"add: expected a Tensor, numpy array or number, got str"),
        (lambda: ag.ones(2) * [1, 2], r"mul: expected a Tensor, numpy array or number, got list"),
        (lambda: ag.tensor(["a"]), r"tensor: expected numbers"),
        (lambda: ag.tensor([1, 2], requires_grad=True), r"only floating tensors can require grad"),
        (lambda: ag.ones(3)[ag.tensor([0.5])], r"getitem: index arrays must be integer or boolean"),
        (lambda: ag.ones(3).sum(axis=1.5), r"sum: axis must be an int"),
        (lambda: ag.ones(3).reshape(1.5), r"reshape: shape entries must be ints"),
        (lambda: ag.set_default_dtype(np.int32), r"set_default_dtype: expected a floating dtype"),
        (lambda: ag.arange(3).add_(0.5), r"add_: cannot update a tensor of shape \(3,\) and dtype int64"),
        (lambda: ag.grad(ag.ones(1, requires_grad=True).sum(), [3]), r"grad: every input must be a Tensor"),
    ],
)
def test_wrong_types_are_type_errors_saying_what_was_expected(call, pattern):
    with pytest.raises((TypeError, RuntimeError), match=pattern):
        call()


def test_type_errors_are_type_errors():
    with pytest.raises(TypeError):
        ag.ones(2) + "a"
    with pytest.raises(TypeError):
        ag.tensor([1, 2], requires_grad=True)


@pytest.mark.parametrize(
    "misuse, pattern",
    [
        ("freed", "retain_graph=True"),
        ("in_place", "modified by an in-place operation"),
        ("non_scalar", "grad can be implicitly created only for scalar outputs"),
        ("no_grad_tensor", "does not require grad and has no grad_fn"),
        ("leaf_in_place", "leaf tensor that requires grad cannot be modified in place"),
        ("non_leaf_requires_grad_false", "use .detach"),
        ("hook_on_constant", "cannot register a hook on a tensor that does not require grad"),
    ],
)
def test_autograd_misuse_says_what_to_do_instead(misuse, pattern):
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=pattern):
        if misuse == "freed":
            y = (x * x).sum()
            y.backward()
            y.backward()
        elif misuse == "in_place":
            h = x * 1
            y = (h * h).sum()
            h.mul_(2)
            y.backward()
        elif misuse == "non_scalar":
            (x * 2).backward()
        elif misuse == "no_grad_tensor":
            ag.ones(2).sum().backward()
        elif misuse == "leaf_in_place":
            x.mul_(2)
        elif misuse == "non_leaf_requires_grad_false":
            (x * 2).requires_grad_(False)
        elif misuse == "hook_on_constant":
            ag.ones(2).register_hook(lambda g: g)


def test_hook_returning_the_wrong_shape_is_caught():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.register_hook(lambda g: ag.ones(5))
    with pytest.raises(RuntimeError, match=r"hook has changed the size of value: expected shape \(2,\), got \(5,\)"):
        y.sum().backward()


def test_gradcheck_reports_the_worst_mismatch():
    class Wrong(ag.Function):
        @staticmethod
        def forward(ctx, x):
            return x * x

        @staticmethod
        def backward(ctx, g):
            return g  # should be 2x * g

    x = ag.tensor([1.0, 3.0], dtype=np.float64, requires_grad=True)
    with pytest.raises(ag.GradcheckError, match=r"input 0 at element \(1,\).*analytic 1\.0.*numerical 6\.0"):
        ag.gradcheck(Wrong.apply, [x])
    assert ag.gradcheck(Wrong.apply, [x], raise_exception=False) is False
    with pytest.raises(ValueError, match="float64"):
        ag.gradcheck(lambda t: t * 2, [ag.tensor([1.0], requires_grad=True)])
