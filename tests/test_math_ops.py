"""The math ops of autograd_core/math_ops.py as a PyTorch user calls them: every function, method and
operator against torch in float64 (values and gradients), at the edge points where the formulas need care
(zeros in cumprod, 0 ** b, rounding ties, nan and inf), integer and bool semantics of the division,
bitwise and shift ops, the in-place forms, and the errors. The registry rows themselves (gradcheck,
gradgradcheck, torch parity on their samples) are checked by tests/test_ops_registry.py."""

import numpy as np
import pytest

import autograd_core as ag

try:
    import torch
except ImportError:  # torch is an optional oracle: without it the comparisons skip, the rest runs
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")

RNG = np.random.default_rng(0)
X = RNG.uniform(-2.0, 2.0, (3, 4))
Y = RNG.uniform(0.5, 2.0, (3, 4)) * np.sign(RNG.uniform(-1.0, 1.0, (3, 4)))
POSITIVE = RNG.uniform(0.5, 2.0, (3, 4))
UNIT = RNG.uniform(-0.9, 0.9, (3, 4))


def compare(ours, theirs, *arrays, grads=True):
    """`ours` on Tensors and `theirs` on torch tensors of the same float64 arrays: the outputs equal, and
    after one backward pass with a random seed, the gradient of every input too (nan where torch's is)."""
    inputs = [ag.tensor(a, dtype=np.float64, requires_grad=grads) for a in arrays]
    torch_inputs = [torch.tensor(a, dtype=torch.float64, requires_grad=grads) for a in arrays]
    out, expected = ours(*inputs), theirs(*torch_inputs)
    np.testing.assert_allclose(np.asarray(out), expected.detach().numpy(), rtol=1e-12, atol=1e-14)
    assert out.dtype == np.float64
    if not grads:
        return
    seed = np.random.default_rng(1).standard_normal(out.shape)
    out.backward(ag.tensor(seed))
    expected.backward(torch.tensor(seed))
    for x, t in zip(inputs, torch_inputs):
        np.testing.assert_allclose(np.asarray(x.grad), t.grad.numpy(), rtol=1e-10, atol=1e-14)


# ---- elementwise: function, method and torch agree, values and gradients ------------------------------

UNARY = [
    ("log2", POSITIVE),
    ("log10", POSITIVE),
    ("exp2", X),
    ("rsqrt", POSITIVE),
    ("reciprocal", Y),
    ("square", X),
    ("tan", UNIT),
    ("asin", UNIT),
    ("acos", UNIT),
    ("atan", X),
    ("sinh", X),
    ("cosh", X),
    ("asinh", X),
    ("acosh", POSITIVE + 1.0),
    ("atanh", UNIT),
    ("arcsin", UNIT),
    ("arctanh", UNIT),
    ("erf", X),
    ("erfc", X),
    ("frac", X),
    ("floor", X),
    ("ceil", X),
    ("trunc", X),
    ("round", X),
    ("nan_to_num", X),
]


@needs_torch
@pytest.mark.parametrize("name, values", UNARY, ids=[name for name, _ in UNARY])
def test_unary_function_and_method_match_torch(name, values):
    compare(getattr(ag, name), getattr(torch, name), values)
    compare(lambda x: getattr(x, name)(), lambda x: getattr(x, name)(), values)


BINARY = [
    ("atan2", X, Y),
    ("arctan2", X, Y),
    ("hypot", X, Y),
    ("xlogy", X, POSITIVE),
    ("copysign", X, Y),
    ("logaddexp", X, Y),
    ("logaddexp2", X, Y),
    ("remainder", X, Y),
    ("fmod", X, Y),
    ("true_divide", X, Y),
]


@needs_torch
@pytest.mark.parametrize("name, x, y", BINARY, ids=[name for name, _, _ in BINARY])
def test_binary_function_keywords_and_method_match_torch(name, x, y):
    compare(lambda a, b: getattr(ag, name)(input=a, other=b), lambda a, b: getattr(torch, name)(a, b), x, y)
    compare(lambda a, b: getattr(a, name)(b), lambda a, b: getattr(a, name)(b), x, y[0])


@needs_torch
def test_operators_match_torch():
    compare(lambda a, b: a % b, lambda a, b: a % b, X, Y)
    # torch has no derivative for a number % a tensor; the tensor form is the same function
    compare(lambda a: 1.5 % a, lambda a: torch.remainder(torch.tensor(1.5, dtype=torch.float64), a), Y)
    compare(lambda a, b: a // b, lambda a, b: torch.div(a, b, rounding_mode="floor"), X, Y)
    compare(lambda a: 3.0 // a, lambda a: torch.div(3.0, a, rounding_mode="floor"), Y)


@needs_torch
@pytest.mark.parametrize("weight", [0.3, 0.8, "tensor"])
def test_lerp_with_a_number_or_a_tensor_weight(weight):
    if weight == "tensor":
        compare(lambda a, b, w: ag.lerp(a, b, w), torch.lerp, X, Y, POSITIVE / 2)
    else:
        compare(lambda a, b: ag.lerp(input=a, end=b, weight=weight), lambda a, b: torch.lerp(a, b, weight), X, Y)


@needs_torch
@pytest.mark.parametrize("mode", [None, "trunc", "floor"])
def test_div_rounding_modes_on_floats_and_integers(mode):
    compare(lambda a, b: ag.div(a, b, rounding_mode=mode), lambda a, b: torch.div(a, b, rounding_mode=mode), X, Y)
    a, b = np.array([7, -7, 7, -7, 6, 0]), np.array([2, 2, -2, -2, 3, 5])
    ours = ag.tensor(a).div(ag.tensor(b), rounding_mode=mode)
    theirs = torch.div(torch.tensor(a), torch.tensor(b), rounding_mode=mode)
    assert np.asarray(ours).dtype == np.dtype(str(theirs.dtype).removeprefix("torch."))  # true division: float32
    np.testing.assert_array_equal(np.asarray(ours), theirs.numpy())


@needs_torch
def test_integer_division_and_remainder_keep_integers_with_pythons_signs():
    a, b = np.array([7, -7, 7, -7, 0]), np.array([3, 3, -3, -3, 4])
    for ours, theirs in [
        (ag.tensor(a) // ag.tensor(b), torch.tensor(a) // torch.tensor(b)),
        (ag.tensor(a) % ag.tensor(b), torch.tensor(a) % torch.tensor(b)),
        (ag.tensor(a).fmod(ag.tensor(b)), torch.tensor(a).fmod(torch.tensor(b))),
        (ag.tensor(a) // 2, torch.tensor(a) // 2),
        (-9 // ag.tensor(b), -9 // torch.tensor(b)),
        (ag.tensor(a, dtype=np.int32) % 4, torch.tensor(a, dtype=torch.int32) % 4),
    ]:
        assert np.asarray(ours).dtype == np.dtype(str(theirs.dtype).removeprefix("torch."))
        np.testing.assert_array_equal(np.asarray(ours), theirs.numpy())


@needs_torch
def test_float_division_by_zero_gives_inf_and_nan_as_torch():
    a = np.array([5.0, -5.0, 0.0])
    for op in [
        lambda x: x // 0.0,
        lambda x: x % 0.0,
        lambda x: x.fmod(0.0),
        lambda x: x.div(0.0, rounding_mode="trunc"),
    ]:
        np.testing.assert_array_equal(np.asarray(op(ag.tensor(a, dtype=np.float64))), op(torch.tensor(a)).numpy())


@pytest.mark.parametrize(
    "op", [lambda x: x // 0, lambda x: x % 0, lambda x: ag.fmod(x, 0), lambda x: x.div(0, rounding_mode="trunc")]
)
def test_integer_division_by_zero_raises(op):
    with pytest.raises(ZeroDivisionError, match="integer division by zero"):
        op(ag.tensor([4, 5]))


def test_div_refuses_an_unknown_rounding_mode():
    with pytest.raises(ValueError, match="div: rounding_mode must be None, 'trunc' or 'floor', got 'round'"):
        ag.div(ag.tensor([1.0]), 2.0, rounding_mode="round")


# ---- edge points --------------------------------------------------------------------------------------


@needs_torch
@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")  # numpy warns where 0 ** -1 is inf
def test_pow_gradients_at_a_zero_base_and_a_zero_exponent():
    base = np.zeros(5)
    exponent = np.array([-1.0, 0.0, 2.0, -0.5, 1.0])
    x, b = ag.tensor(base, requires_grad=True), ag.tensor(exponent, requires_grad=True)
    tx, tb = torch.tensor(base, requires_grad=True), torch.tensor(exponent, requires_grad=True)
    (x**b).sum().backward()
    (tx**tb).sum().backward()
    np.testing.assert_array_equal(np.asarray(x.grad), tx.grad.numpy())  # -inf, 0, 0, -inf, 1
    np.testing.assert_array_equal(np.asarray(b.grad), tb.grad.numpy())  # -inf, 0, 0, -inf, 0
    assert not np.isnan(np.asarray(x.grad)).any()


@needs_torch
@pytest.mark.parametrize("exponent", [0, 0.0, "tensor"])
def test_the_gradient_of_x_to_the_zero_is_zero_even_at_zero(exponent):
    values = np.array([0.0, 2.0, -3.0])
    x, tx = ag.tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)
    if exponent == "tensor":
        y = x ** ag.tensor(np.zeros(3))
        ty = tx ** torch.zeros(3, dtype=torch.float64)
    else:
        y, ty = x**exponent, tx**exponent
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_array_equal(np.asarray(x.grad), tx.grad.numpy())
    np.testing.assert_array_equal(np.asarray(x.grad), [0.0, 0.0, 0.0])


def test_pow_second_derivative_stays_finite_at_a_zero_base():
    x = ag.tensor([0.0, 1.5], dtype=np.float64, requires_grad=True)
    (first,) = ag.grad((x**2.0).sum(), x, create_graph=True)
    first.sum().backward()
    np.testing.assert_allclose(np.asarray(x.grad), [2.0, 2.0])
    b = ag.tensor([2.0, 0.0], dtype=np.float64, requires_grad=True)
    base = ag.tensor([0.0, 0.0], dtype=np.float64, requires_grad=True)
    (grad_b,) = ag.grad((base**b).sum(), b, create_graph=True)
    grad_b.sum().backward()
    assert np.isfinite(np.asarray(base.grad)).all() and np.isfinite(np.asarray(b.grad)).all()


@needs_torch
def test_rounding_is_half_to_even_with_decimals_as_torch():
    values = np.array([0.5, 1.5, 2.5, -0.5, -1.5, 1.25, 1.35, 123.456, 1250.0, 1350.0, -0.0])
    for decimals in [0, 1, 2, -1, -2]:
        ours = ag.tensor(values, dtype=np.float64).round(decimals=decimals)
        np.testing.assert_array_equal(np.asarray(ours), torch.round(torch.tensor(values), decimals=decimals).numpy())
    np.testing.assert_array_equal(
        np.asarray(ag.round(ag.tensor(values, dtype=np.float64))), [0, 2, 2, 0, -2, 1, 1, 123, 1250, 1350, 0]
    )


@needs_torch
@pytest.mark.parametrize("name", ["round", "floor", "ceil", "trunc", "frac", "sign"])
def test_rounding_gradients_at_integers_and_halves(name):
    compare(getattr(ag, name), getattr(torch, name), np.array([-2.0, -1.5, -0.5, 0.0, 0.5, 1.0, 2.5]))


def test_rounding_keeps_integer_tensors_integer():
    t = ag.tensor([3, -4])
    for name in ["round", "floor", "ceil", "trunc"]:
        out = getattr(t, name)()
        assert out.dtype == np.int64
        np.testing.assert_array_equal(np.asarray(out), [3, -4])


@needs_torch
def test_copysign_gradient_at_zero_and_negative_zero():
    compare(ag.copysign, torch.copysign, np.array([0.0, -0.0, 2.0, -3.0]), np.array([-1.0, 1.0, -0.0, 0.0]))


@needs_torch
@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # x / y at 0 / 0 is nan, as torch
def test_xlogy_at_zero_and_nan():
    x, y = np.array([0.0, 0.0, 1.0, 2.0]), np.array([0.0, np.nan, 0.5, 3.0])
    ours = ag.xlogy(ag.tensor(x, requires_grad=True), ag.tensor(y, requires_grad=True))
    theirs = torch.xlogy(torch.tensor(x), torch.tensor(y))
    np.testing.assert_array_equal(np.asarray(ours), theirs.numpy())  # 0, nan, log 0.5, 2 log 3
    compare(ag.xlogy, torch.xlogy, np.array([0.0, 1.0, 2.0, 0.0]), np.array([2.0, 0.5, 3.0, 0.0]))


@needs_torch
def test_nan_to_num_values_and_no_gradient_to_replaced_elements():
    values = np.array([np.nan, np.inf, -np.inf, 1.5])
    compare(ag.nan_to_num, torch.nan_to_num, values)
    compare(
        lambda x: x.nan_to_num(nan=2.0, posinf=9.0, neginf=-9.0),
        lambda x: x.nan_to_num(nan=2.0, posinf=9.0, neginf=-9.0),
        values,
    )


@needs_torch
def test_logaddexp_far_apart_and_at_minus_infinity():
    compare(ag.logaddexp, torch.logaddexp, np.array([1000.0, -1000.0, 0.0]), np.array([-1000.0, 1000.0, -np.inf]))
    compare(ag.logaddexp2, torch.logaddexp2, np.array([1000.0, -1000.0, 0.0]), np.array([-1000.0, 1000.0, -np.inf]))


@needs_torch
def test_clamp_min_and_clamp_max():
    compare(lambda x: ag.clamp_min(x, 0.1), lambda x: torch.clamp_min(x, 0.1), X)
    compare(lambda x: x.clamp_max(-0.2), lambda x: x.clamp_max(-0.2), X)


# ---- cumulative -----------------------------------------------------------------------------------------


@needs_torch
@pytest.mark.parametrize("name", ["cumsum", "cumprod", "logcumsumexp"])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cumulative_ops_along_each_dim(name, dim):
    compare(lambda x: getattr(ag, name)(x, dim=dim), lambda x: getattr(torch, name)(x, dim=dim), X)
    compare(lambda x: getattr(x, name)(dim), lambda x: getattr(x, name)(dim), X)


@needs_torch
@pytest.mark.parametrize(
    "values",
    [
        [1.5, 0.0, 2.0, -3.0],
        [0.0, 2.0, 3.0, 4.0],
        [2.0, 3.0, 4.0, 0.0],
        [1.5, 0.0, 2.0, 0.0, 3.0],
        [0.0, 0.0, 0.0],
    ],
)
def test_cumprod_gradient_is_exact_at_zeros(values):
    compare(lambda x: x.cumprod(0), lambda x: x.cumprod(0), np.array(values))


@needs_torch
def test_cumprod_gradient_with_zeros_along_a_middle_dim():
    values = RNG.uniform(0.5, 1.5, (2, 4, 3))
    values[0, 1, 0] = values[1, 0, 2] = values[1, 2, 2] = values[0, 3, 1] = 0.0
    compare(lambda x: x.cumprod(1), lambda x: x.cumprod(1), values)


@needs_torch
def test_logcumsumexp_is_stable_for_large_and_small_values():
    values = np.array([[1000.0, -1000.0, 999.0, 2000.0], [-1e4, -1e4, 0.0, -np.inf]])
    compare(lambda x: x.logcumsumexp(1), lambda x: x.logcumsumexp(1), values)


@needs_torch
@pytest.mark.parametrize("name", ["cummax", "cummin"])
def test_cummax_and_cummin_values_indices_and_gradient_with_ties_and_nan(name):
    values = np.array([1.0, 1.0, 3.0, 0.0, 3.0, np.nan, 2.0, np.nan, 5.0])
    x, tx = ag.tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)
    result, expected = getattr(ag, name)(x, dim=0), getattr(torch, name)(tx, dim=0)
    assert isinstance(result, ag.ValuesIndices)
    np.testing.assert_array_equal(np.asarray(result.values), expected.values.detach().numpy())
    np.testing.assert_array_equal(np.asarray(result.indices), expected.indices.numpy())
    seed = np.arange(1.0, 10.0)
    result.values.backward(ag.tensor(seed))
    expected.values.backward(torch.tensor(seed))
    np.testing.assert_array_equal(np.asarray(x.grad), tx.grad.numpy())


@needs_torch
def test_cummax_along_a_dim_of_a_matrix():
    values = np.array([[1.0, 5.0, 2.0], [4.0, 1.0, 6.0], [4.0, 7.0, 0.0]])
    result, expected = ag.tensor(values).cummax(0), torch.tensor(values).cummax(0)
    np.testing.assert_array_equal(np.asarray(result.values), expected.values.numpy())
    np.testing.assert_array_equal(np.asarray(result.indices), expected.indices.numpy())
    compare(lambda x: x.cummin(1).values, lambda x: x.cummin(1).values, values)


@needs_torch
def test_cumulative_ops_on_integers_and_bools_count_in_int64():
    for values in [np.array([1, 2, 3], np.int32), np.array([True, True, False])]:
        ours, theirs = ag.tensor(values).cumsum(0), torch.tensor(values).cumsum(0)
        assert ours.dtype == np.int64 and theirs.dtype == torch.int64
        np.testing.assert_array_equal(np.asarray(ours), theirs.numpy())
    np.testing.assert_array_equal(np.asarray(ag.cumsum(ag.tensor([1, 2]), 0, dtype=np.float64)), [1.0, 3.0])


def test_cumulative_ops_on_a_zero_dim_tensor():
    x = ag.tensor(2.5, dtype=np.float64, requires_grad=True)
    assert x.cumsum(0).shape == () and float(x.cumprod(-1)) == 2.5
    values, indices = x.cummax(0)
    assert values.shape == () and int(indices) == 0
    x.logcumsumexp(0).backward()
    assert float(x.grad) == 1.0


@pytest.mark.parametrize("name", ["cumsum", "cumprod", "logcumsumexp", "cummax", "cummin"])
def test_cumulative_ops_refuse_a_dim_out_of_range(name):
    with pytest.raises(ValueError, match=f"{name}: axis 2 is out of range for a tensor with 2 dimensions"):
        getattr(ag, name)(ag.zeros(3, 4), dim=2)


# ---- predicates and reductions to bool ------------------------------------------------------------------

SPECIAL = np.array([np.nan, np.inf, -np.inf, 0.0, -1.5])


@needs_torch
@pytest.mark.parametrize("name", ["isnan", "isinf", "isposinf", "isneginf", "isfinite"])
def test_predicates_give_bool_tensors_as_torch(name):
    for values in [SPECIAL, np.array([3, -2])]:
        ours, theirs = getattr(ag, name)(ag.tensor(values)), getattr(torch, name)(torch.tensor(values))
        assert ours.dtype == np.bool_
        np.testing.assert_array_equal(np.asarray(ours), theirs.numpy())
        np.testing.assert_array_equal(np.asarray(getattr(ag.tensor(values), name)()), theirs.numpy())


@needs_torch
def test_isclose_allclose_and_equal():
    a, b = np.array([1.0, np.inf, np.nan, 1e-9, 1.0]), np.array([1.0 + 1e-6, np.inf, np.nan, 0.0, 1.1])
    for equal_nan in [False, True]:
        ours = ag.isclose(ag.tensor(a), ag.tensor(b), equal_nan=equal_nan)
        theirs = torch.isclose(torch.tensor(a), torch.tensor(b), equal_nan=equal_nan)
        np.testing.assert_array_equal(np.asarray(ours), theirs.numpy())
    assert ag.tensor(a).isclose(b, rtol=0.2, equal_nan=True).all().item()
    assert ag.allclose(ag.tensor([1.0, 2.0]), ag.tensor([1.0, 2.0 + 1e-9])) is True
    assert ag.tensor([1.0, 2.0]).allclose(ag.tensor([1.0, 2.1])) is False
    assert ag.equal(ag.tensor([1, 2]), ag.tensor([1.0, 2.0])) is torch.equal(
        torch.tensor([1, 2]), torch.tensor([1.0, 2.0])
    )
    assert ag.tensor([1.0, 2.0]).equal(ag.tensor([1.0, 2.0, 3.0])) is False
    assert ag.tensor([np.nan]).equal(ag.tensor([np.nan])) is False


@needs_torch
@pytest.mark.parametrize("name", ["any", "all"])
def test_any_and_all_over_everything_and_along_dims(name):
    values = np.array([[1.0, 0.0, 2.0], [0.0, 0.0, 3.0]])
    t, tt = ag.tensor(values), torch.tensor(values)
    cases = [({}, {}), ({"dim": 0}, {"dim": 0}), ({"dim": 1, "keepdim": True}, {"dim": 1, "keepdim": True})]
    for ours_kwargs, torch_kwargs in cases:
        ours = getattr(ag, name)(t, **ours_kwargs)
        assert ours.dtype == np.bool_
        np.testing.assert_array_equal(np.asarray(ours), getattr(torch, name)(tt, **torch_kwargs).numpy())
        np.testing.assert_array_equal(np.asarray(getattr(t, name)(**ours_kwargs)), np.asarray(ours))
    np.testing.assert_array_equal(np.asarray(getattr(t, name)(dim=(0, 1))), getattr(tt, name)(dim=(0, 1)).numpy())


# ---- bitwise, logical and shifts ----------------------------------------------------------------------

INTS = np.array([12, -7, 0, 5, 255])
MORE_INTS = np.array([10, 3, -1, 6, 1])
BOOLS = np.array([True, False, True, False, True])
MORE_BOOLS = np.array([True, True, False, False, True])


def test_bitwise_operators_are_bitwise_on_integers_and_logical_on_bools():
    a, b = ag.tensor([12, 10]), ag.tensor([10, 6])
    np.testing.assert_array_equal(np.asarray(a & b), [8, 2])
    np.testing.assert_array_equal(np.asarray(a | b), [14, 14])
    np.testing.assert_array_equal(np.asarray(a ^ b), [6, 12])
    np.testing.assert_array_equal(np.asarray(~a), [-13, -11])
    p, q = ag.tensor([True, True, False]), ag.tensor([True, False, False])
    for result, expected in [(p & q, [1, 0, 0]), (p | q, [1, 1, 0]), (p ^ q, [0, 1, 0]), (~p, [0, 0, 1])]:
        assert result.dtype == np.bool_
        np.testing.assert_array_equal(np.asarray(result), expected)


@needs_torch
@pytest.mark.parametrize(
    "a, b", [(INTS, MORE_INTS), (BOOLS, MORE_BOOLS), (INTS, MORE_BOOLS), (INTS.astype(np.uint8), 7), (BOOLS, True)]
)
def test_bitwise_ops_match_torch(a, b):
    ta, tb = torch.tensor(a), torch.tensor(b) if isinstance(b, np.ndarray) else b
    ours_b = ag.tensor(b) if isinstance(b, np.ndarray) else b
    for op in [
        lambda x, y: x & y,
        lambda x, y: x | y,
        lambda x, y: x ^ y,
        lambda x, y: y & x,
        lambda x, y: y | x,
        lambda x, y: y ^ x,
        lambda x, y: ~x,
    ]:
        ours, theirs = op(ag.tensor(a), ours_b), op(ta, tb)
        assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch.")
        np.testing.assert_array_equal(np.asarray(ours), theirs.numpy())
    for name in ["bitwise_and", "bitwise_or", "bitwise_xor", "logical_and", "logical_or", "logical_xor"]:
        ours, theirs = (
            getattr(ag, name)(input=ag.tensor(a), other=ours_b),
            getattr(torch, name)(ta, torch.as_tensor(tb)),
        )
        np.testing.assert_array_equal(np.asarray(ours), theirs.numpy())


@needs_torch
def test_logical_ops_take_any_dtype():
    a, b = np.array([2.0, 0.0, -1.5, 0.0]), np.array([1, 1, 0, 0])
    for name in ["logical_and", "logical_or", "logical_xor"]:
        ours = getattr(ag.tensor(a), name)(ag.tensor(b))
        assert ours.dtype == np.bool_
        np.testing.assert_array_equal(np.asarray(ours), getattr(torch, name)(torch.tensor(a), torch.tensor(b)).numpy())
    np.testing.assert_array_equal(np.asarray(ag.logical_not(ag.tensor(a))), torch.logical_not(torch.tensor(a)).numpy())


@needs_torch
@pytest.mark.parametrize("shift", [0, 1, 3, 63, 64, 70, -1])
def test_shifts_match_torch_including_past_the_width(shift):
    a = np.array([5, -5, 1, 0, 2**40])
    for ours, theirs in [
        (ag.tensor(a) << shift, torch.tensor(a) << shift),
        (ag.tensor(a) >> shift, torch.tensor(a) >> shift),
        (ag.bitwise_left_shift(ag.tensor(a, dtype=np.int32), shift), torch.tensor(a).int() << shift),
        (ag.tensor(a).bitwise_right_shift(ag.tensor([shift] * 5)), torch.tensor(a) >> torch.tensor([shift] * 5)),
    ]:
        np.testing.assert_array_equal(np.asarray(ours), theirs.numpy())


@needs_torch
def test_reflected_shifts_and_shifts_of_bools():
    np.testing.assert_array_equal(np.asarray(1 << ag.tensor([0, 3])), (1 << torch.tensor([0, 3])).numpy())
    np.testing.assert_array_equal(np.asarray(64 >> ag.tensor([0, 3])), (64 >> torch.tensor([0, 3])).numpy())
    np.testing.assert_array_equal(np.asarray(ag.tensor([True, False]) << 1), (torch.tensor([True, False]) << 1).numpy())


@pytest.mark.parametrize(
    "op, name",
    [
        (lambda x: x & 1, "bitwise_and"),
        (lambda x: 1 | x, "bitwise_or"),
        (lambda x: ag.tensor([1]) ^ x, "bitwise_xor"),
        (lambda x: ~x, "bitwise_not"),
        (lambda x: x << 1, "bitwise_left_shift"),
        (lambda x: ag.tensor([1]) >> x, "bitwise_right_shift"),
        (lambda x: ag.bitwise_and(ag.tensor([1]), 1.5), "bitwise_and"),
    ],
)
def test_bitwise_and_shift_ops_refuse_floats(op, name):
    with pytest.raises(TypeError, match=f"{name}: expected integer or bool tensors, got dtype float"):
        op(ag.tensor([1.0, 2.0]))


def test_a_bitwise_error_points_to_the_logical_op():
    with pytest.raises(TypeError, match="logical_and takes any dtype"):
        ag.tensor([1.0]) & ag.tensor([0.0])


def test_non_differentiable_ops_name_themselves_on_a_shape_mismatch():
    with pytest.raises(ValueError, match=r"logical_or: shapes \(2,\) and \(3,\) cannot be broadcast"):
        ag.logical_or(ag.tensor([1, 0]), ag.tensor([1, 0, 1]))
    with pytest.raises(ValueError, match=r"isclose: shapes \(2,\) and \(3,\) cannot be broadcast"):
        ag.isclose(ag.tensor([1.0, 0.0]), ag.tensor([1.0, 0.0, 1.0]))
    with pytest.raises(ValueError, match=r"allclose: shapes \(2,\) and \(3,\) cannot be broadcast"):
        ag.allclose(ag.tensor([1.0, 0.0]), ag.tensor([1.0, 0.0, 1.0]))


# ---- in-place forms ----------------------------------------------------------------------------------------

INPLACE = [
    ("//=", lambda t, o: t.__ifloordiv__(o), INTS, 3),
    ("%=", lambda t, o: t.__imod__(o), INTS, 4),
    ("&=", lambda t, o: t.__iand__(o), INTS, MORE_INTS),
    ("|=", lambda t, o: t.__ior__(o), INTS, MORE_INTS),
    ("^=", lambda t, o: t.__ixor__(o), INTS, MORE_INTS),
    ("<<=", lambda t, o: t.__ilshift__(o), INTS, 2),
    (">>=", lambda t, o: t.__irshift__(o), INTS, 1),
    ("&= bool", lambda t, o: t.__iand__(o), BOOLS, MORE_BOOLS),
    ("//= float", lambda t, o: t.__ifloordiv__(o), X[0], Y[0]),
    ("%= float", lambda t, o: t.__imod__(o), X[0], Y[0]),
]


@needs_torch
@pytest.mark.parametrize("symbol, op, a, b", INPLACE, ids=[case[0] for case in INPLACE])
def test_augmented_assignment_edits_in_place_as_torch(symbol, op, a, b):
    t = ag.tensor(a)
    version = t._version_counter[0]
    other = ag.tensor(b) if isinstance(b, np.ndarray) else b
    result = op(t, other)
    assert result is t and t._version_counter[0] == version + 1
    expected = op(torch.tensor(a), torch.tensor(b) if isinstance(b, np.ndarray) else b)
    assert t.dtype == np.dtype(str(expected.dtype).removeprefix("torch."))
    np.testing.assert_allclose(np.asarray(t), expected.numpy(), rtol=1e-15)


def test_augmented_assignment_statements_keep_the_object():
    t = ag.tensor([12, 7])
    same = t
    t //= 5
    t %= 2
    t |= 4
    t &= 6
    t ^= 1
    t <<= 2
    t >>= 1
    assert t is same
    np.testing.assert_array_equal(np.asarray(t), [10, 10])


@needs_torch
def test_in_place_remainder_on_a_non_leaf_is_recorded():
    x, tx = ag.tensor(X[0], requires_grad=True), torch.tensor(X[0], requires_grad=True)
    y, ty = x * 3.0, tx * 3.0
    y %= 1.25
    ty %= 1.25
    (y * y).sum().backward()
    (ty * ty).sum().backward()
    np.testing.assert_allclose(np.asarray(x.grad), tx.grad.numpy(), rtol=1e-12)


def test_in_place_floor_divide_of_a_leaf_that_requires_grad_raises():
    x = ag.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="floor_divide_: a leaf tensor that requires grad"):
        x //= 2.0


@pytest.mark.parametrize(
    "op, name",
    [(lambda t: t.__ifloordiv__(2.5), "floor_divide_"), (lambda t: t.__iand__(ag.tensor([1, 2])), "bitwise_and_")],
)
def test_in_place_results_that_do_not_fit_the_dtype_raise(op, name):
    with pytest.raises(TypeError, match=f"{name}: cannot update a tensor"):
        op(ag.tensor([True, False]) if name == "bitwise_and_" else ag.tensor([4, 5]))


def test_in_place_bitwise_on_floats_raises():
    with pytest.raises(TypeError, match="bitwise_or: expected integer or bool tensors"):
        t = ag.tensor([1.0])
        t |= 1
