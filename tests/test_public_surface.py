"""The package's public surface: `__all__` is explicit and complete, every op function is a real definition
(visible to readers, IDEs and type checkers), and the `F` namespaces answer attribute lookups as objects do."""

import inspect

import numpy as np
import pytest

import autograd_core as ag
from autograd_core import engine, kernels, tensor_functions
from autograd_core.tensor import Tensor


def test_every_name_in_all_exists_once():
    assert len(ag.__all__) == len(set(ag.__all__))
    missing = [name for name in ag.__all__ if not hasattr(ag, name)]
    assert missing == []


def test_public_functions_and_classes_are_listed_in_all():
    public = {
        name
        for name, value in vars(ag).items()
        if not name.startswith("_") and (inspect.isfunction(value) or inspect.isclass(value))
    }
    assert sorted(public - set(ag.__all__)) == []


@pytest.mark.parametrize("name", ["exp", "sum", "max", "sort", "topk", "reshape", "pad", "log_softmax"])
def test_op_functions_are_defined_in_tensor_functions(name):
    function = getattr(ag, name)
    assert inspect.isfunction(function)
    assert function.__module__ == tensor_functions.__name__
    assert function.__name__ == name  # a def of its own, not a wrapper made in a loop
    method_parameters = list(inspect.signature(getattr(Tensor, name)).parameters)[1:]
    assert list(inspect.signature(function).parameters)[1:] == method_parameters


def test_op_functions_agree_with_the_methods():
    x = ag.tensor([[3.0, 1.0, 2.0], [0.5, 4.0, -1.0]])
    np.testing.assert_allclose(np.asarray(ag.exp(x)), np.asarray(x.exp()))
    np.testing.assert_allclose(np.asarray(ag.sum(x, dim=1, keepdim=True)), np.asarray(x.sum(axis=1, keepdims=True)))
    values, indices = ag.max(x, dim=1)
    np.testing.assert_allclose(np.asarray(values), [3.0, 4.0])
    np.testing.assert_array_equal(np.asarray(indices), [0, 1])
    result = ag.sort([3.0, 1.0, 2.0], descending=True)
    assert isinstance(result, ag.ValuesIndices)
    np.testing.assert_allclose(np.asarray(result.values), [3.0, 2.0, 1.0])
    np.testing.assert_array_equal(np.asarray(result.indices), [0, 2, 1])


@pytest.mark.parametrize("namespace", [engine.TENSOR_F, kernels.REFERENCE_F], ids=["TENSOR_F", "REFERENCE_F"])
def test_namespaces_raise_attribute_error_for_unknown_names(namespace):
    assert hasattr(namespace, "exp")
    assert not hasattr(namespace, "no_such_op")
    with pytest.raises(AttributeError, match="no_such_op"):
        namespace.no_such_op  # noqa: B018
