"""`Module`, `Parameter` and the containers `Sequential`, `ModuleList`, `ModuleDict`.

A module registers what is assigned to it: a `Parameter` becomes a parameter,
a `Module` a submodule, and `register_buffer` adds a non-learnable tensor
(running statistics) that still belongs to the state dict. Names follow
PyTorch: a parameter `weight` of the submodule registered as `0` inside the
submodule `layers` is `layers.0.weight`, in `named_parameters()` and in
`state_dict()` alike, so weights load into the equivalent `torch.nn` model.

Registered values also live in the instance `__dict__`, so `self.weight` in a
forward is an ordinary attribute read (PyTorch reaches them through
`__getattr__`, which costs a failed lookup first).

Scopes: every call of a module runs its forward inside
`ag.module_scope(name)`, so each graph node records the modules it was
made in (`Node.scope`, outermost first). `name` is the module's dotted path
from the root of the model (`"layers.2"`), kept up to date as modules are
registered into parents (a module registered in two places, or re-registered
by slicing a container, is named by its latest registration); a module that is
nobody's child uses its class name.
"""

from __future__ import annotations

import inspect
from collections import OrderedDict
from collections.abc import Callable, ItemsView, Iterable, Iterator, KeysView, Mapping, Sequence, ValuesView
from typing import Any, ClassVar, NamedTuple, TypeVar, cast

import numpy as np
import numpy.typing as npt

import autograd_core as ag

from . import functional


class Parameter(ag.Tensor):
    """A Tensor that a Module registers as a learnable parameter; it requires grad unless told otherwise.

    `Parameter(t)` shares `t`'s array (as PyTorch shares storage); a numpy array is used as is.
    """

    __slots__ = ()

    def __init__(
        self, data: ag.Tensor | np.ndarray | float | Sequence[Any] | None = None, requires_grad: bool = True
    ) -> None:
        if data is None:
            array = np.empty(0, dtype=ag.get_default_dtype())
        elif isinstance(data, ag.Tensor):
            array = np.asarray(data)
        elif type(data) is np.ndarray:
            array = data
        else:
            array = np.asarray(ag.tensor(data))
        super().__init__(array)
        self.requires_grad_(requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class IncompatibleKeys(NamedTuple):
    """What `Module.load_state_dict` returns: the keys the state dict lacked and those it had in excess."""

    missing_keys: list[str]
    unexpected_keys: list[str]


ModuleT = TypeVar("ModuleT", bound="Module")
# hook(module, inputs, output) -> a replacement output, or None to keep it
ForwardHook = Callable[["Module", tuple[Any, ...], Any], Any]


def check_size(who: str, name: str, value: object) -> None:
    """Layer sizes (features, channels, embeddings) must be positive ints (API.md section 10)."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        raise TypeError(f"{who}: {name} must be an int, got {type(value).__name__} {value!r}")
    if value <= 0:
        raise ValueError(f"{who}: {name} must be positive, got {value}")


def _join(prefix, name):
    return f"{prefix}.{name}" if prefix else name


def _indent(text, spaces=2):
    """Indent every line of `text` but the first (nested reprs, as PyTorch's)."""
    lines = text.split("\n")
    return "\n".join(lines[:1] + [" " * spaces + line for line in lines[1:]])


def _forward_unimplemented(self: Module, *args: Any, **kwargs: Any) -> Any:
    raise NotImplementedError(f"{type(self).__name__}: subclasses of Module must define forward()")


class Module:
    """Base class of every layer and model: subclasses set attributes in `__init__` and define `forward`."""

    training: bool
    _parameters: dict[str, Parameter | None]
    _buffers: dict[str, ag.Tensor | None]
    _non_persistent_buffers: set[str]
    _modules: dict[str, Module | None]
    _forward_hooks: list[ForwardHook]
    _path: str
    _scope: str

    def __init__(self) -> None:
        set_attribute = object.__setattr__
        set_attribute(self, "_parameters", {})
        set_attribute(self, "_buffers", {})
        set_attribute(self, "_non_persistent_buffers", set())
        set_attribute(self, "_modules", {})
        set_attribute(self, "_forward_hooks", [])
        set_attribute(self, "_path", "")
        set_attribute(self, "_scope", type(self).__name__)
        set_attribute(self, "training", True)

    # An attribute, as in PyTorch, so that each subclass's forward may take its own arguments.
    forward: Callable[..., Any] = _forward_unimplemented

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with ag.module_scope(self._scope, self):
            output = self.forward(*args, **kwargs)
        if self._forward_hooks:
            ag.compiler.report(f"a forward hook of {type(self).__name__} runs Python code")
            for hook in tuple(self._forward_hooks):
                replaced = hook(self, args, output)
                if replaced is not None:
                    output = replaced
        return output

    def register_forward_hook(self, hook: ForwardHook) -> ag.RemovableHandle:
        """Run `hook(module, inputs, output)` after every forward; a non-None return replaces the output.
        Returns a handle whose `.remove()` unregisters the hook."""
        self._forward_hooks.append(hook)
        return ag.RemovableHandle(self._forward_hooks, hook)

    # ---- registration ----

    def _check_initialized(self, what):
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"{type(self).__name__}: cannot assign {what} before Module.__init__() is called; "
                "call super().__init__() first"
            )

    def _check_name(self, name, what):
        if not isinstance(name, str):
            raise TypeError(f"{type(self).__name__}: {what} name must be a str, got {type(name).__name__}")
        if not name or "." in name:
            raise ValueError(f"{type(self).__name__}: {what} name must be non-empty and contain no '.', got {name!r}")

    def _forget(self, name, keep=None):
        """Drop `name` from every registry but `keep` (re-registering in the same one keeps its position)."""
        for registry in (self._parameters, self._buffers, self._modules):
            if registry is not keep:
                registry.pop(name, None)
        self._non_persistent_buffers.discard(name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register `param` (a Parameter, or None for an absent one such as `bias=False`) as `name`."""
        self._check_initialized("parameters")
        self._check_name(name, "parameter")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"{type(self).__name__}: cannot register a {type(param).__name__} as parameter "
                f"{name!r} (nn.Parameter or None expected)"
            )
        self._forget(name, keep=self._parameters)
        self._parameters[name] = param
        object.__setattr__(self, name, param)

    def register_buffer(self, name: str, tensor: ag.Tensor | None, persistent: bool = True) -> None:
        """Register a tensor that is state but not a parameter (e.g. running statistics); persistent buffers
        belong to the state dict."""
        self._check_initialized("buffers")
        self._check_name(name, "buffer")
        if tensor is not None and not isinstance(tensor, ag.Tensor):
            raise TypeError(
                f"{type(self).__name__}: cannot register a {type(tensor).__name__} as buffer {name!r} "
                "(Tensor or None expected)"
            )
        self._forget(name, keep=self._buffers)
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent_buffers.add(name)
        object.__setattr__(self, name, tensor)

    def add_module(self, name: str, module: Module | None) -> None:
        """Register `module` (or None) as the submodule `name`."""
        self._check_initialized("submodules")
        self._check_name(name, "module")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(self).__name__}: {type(module).__name__} is not a Module subclass")
        self._forget(name, keep=self._modules)
        self._modules[name] = module
        if module is not None:
            module._set_path(_join(self._path, name))
        object.__setattr__(self, name, module)

    register_module = add_module

    def _set_path(self, path):
        """Record this module's dotted path from the root (its scope name), and its descendants'."""
        object.__setattr__(self, "_path", path)
        object.__setattr__(self, "_scope", path or type(self).__name__)
        for name, child in self._modules.items():
            if child is not None:
                child._set_path(_join(path, name))

    def __setattr__(self, name, value):
        if isinstance(value, Parameter):
            self.register_parameter(name, value)
        elif isinstance(value, Module):
            self.add_module(name, value)
        elif name in self.__dict__.get("_parameters", ()):
            if value is not None:
                raise TypeError(
                    f"{type(self).__name__}: cannot assign a {type(value).__name__} as parameter "
                    f"{name!r} (nn.Parameter or None expected)"
                )
            self._parameters[name] = None
            object.__setattr__(self, name, None)
        elif name in self.__dict__.get("_modules", ()):
            if value is not None:
                raise TypeError(
                    f"{type(self).__name__}: cannot assign a {type(value).__name__} as submodule "
                    f"{name!r} (nn.Module or None expected)"
                )
            self._modules[name] = None
            object.__setattr__(self, name, None)
        elif name in self.__dict__.get("_buffers", ()):
            self.register_buffer(name, value, persistent=name not in self._non_persistent_buffers)
        else:
            object.__setattr__(self, name, value)

    def __delattr__(self, name):
        self._forget(name)
        object.__delattr__(self, name)

    # ---- traversal ----

    def named_modules(
        self, memo: set[int] | None = None, prefix: str = "", remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Module]]:
        """(dotted name, module) for this module (name `prefix`) and every descendant, depth first."""
        stack: list[tuple[str, Module]] = [(prefix, self)]
        seen: set[int] = set() if memo is None else memo
        while stack:
            name, module = stack.pop()
            if remove_duplicate:
                if id(module) in seen:
                    continue
                seen.add(id(module))
            yield name, module
            children = [(_join(name, n), m) for n, m in module._modules.items() if m is not None]
            stack.extend(reversed(children))

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def named_children(self) -> Iterator[tuple[str, Module]]:
        seen: set[int] = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self) -> Iterator[Module]:
        for _, module in self.named_children():
            yield module

    def _named_members(self, registry, prefix, recurse, remove_duplicate):
        seen = set()
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        for module_name, module in modules:
            for name, value in getattr(module, registry).items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield _join(module_name, name), value

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, Parameter) pairs, PyTorch's names and order; a shared parameter appears once."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, ag.Tensor]]:
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[ag.Tensor]:
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    def apply(self: ModuleT, fn: Callable[[Module], object]) -> ModuleT:
        """Call `fn(module)` on every submodule (children first) and then on this module; returns self."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # ---- modes and gradients ----

    def train(self: ModuleT, mode: bool = True) -> ModuleT:
        """Set training mode (dropout active, batch statistics) on this module and all descendants."""
        if not isinstance(mode, bool):
            raise TypeError(f"{type(self).__name__}.train: mode must be a bool, got {type(mode).__name__}")
        for module in self.modules():
            module.training = mode
        return self

    def eval(self: ModuleT) -> ModuleT:
        """Evaluation mode: dropout off, running statistics used. Same as `train(False)`."""
        return self.train(False)

    def requires_grad_(self: ModuleT, requires_grad: bool = True) -> ModuleT:
        """Set `requires_grad` on every parameter; `requires_grad_(False)` freezes the module, so its
        parameters get no gradient and optimizers leave them unchanged."""
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    @ag.compiler.replayed_call
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset every parameter's gradient: to None (default), or to zeros in place."""
        for param in self.parameters():
            if param.grad is None:
                continue
            if set_to_none:
                param.grad = None
            else:
                param.grad = param.grad.detach()  # a create_graph gradient keeps no graph alive
                with ag.no_grad():
                    param.grad.zero_()

    def astype(self: ModuleT, dtype: npt.DTypeLike) -> ModuleT:
        """Cast every floating parameter (and its gradient) and buffer to `dtype` in place: the tensor objects
        stay the same, so optimizers built on them keep working."""
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(
                f"{type(self).__name__}.to/astype: only floating dtypes can be given to a module, got {dtype}"
            )
        for tensor in list(self.parameters()) + list(self.buffers()):
            if tensor.dtype.kind == "f" and tensor.dtype != dtype:
                tensor.data = ag.from_numpy(np.asarray(tensor).astype(dtype))
                ag.increment_version(tensor)
                if tensor.grad is not None:
                    tensor.grad = ag.Tensor(np.asarray(tensor.grad).astype(dtype))
        return self

    def double(self: ModuleT) -> ModuleT:
        return self.astype(np.float64)

    def float(self: ModuleT) -> ModuleT:
        return self.astype(np.float32)

    def half(self: ModuleT) -> ModuleT:
        return self.astype(np.float16)

    def to(self: ModuleT, *args: Any, dtype: npt.DTypeLike | None = None, device: Any = None, **_: Any) -> ModuleT:
        """PyTorch's `Module.to`: `to(dtype)`, `to("cpu")`, `to(device, dtype)`, `to(tensor)` (its dtype), or by
        keyword; casts the floating parameters and buffers in place (see `astype`) and returns the module.
        A device other than the CPU raises; `non_blocking=` is accepted and ignored."""
        for arg in args:
            if isinstance(arg, ag.Tensor):
                dtype = arg.dtype
            elif isinstance(arg, (str, ag.device)):
                device = arg
            else:
                dtype = arg
        if device is not None:
            ag.device(device)  # raises for anything but the CPU
        return self if dtype is None else self.astype(dtype)

    def cpu(self: ModuleT) -> ModuleT:
        return self

    def cuda(self: ModuleT, device: Any = None) -> ModuleT:
        ag.device("cuda")  # raises: autograd-core runs on the CPU only
        return self

    # ---- state dict ----

    def state_dict(self, prefix: str = "", keep_vars: bool = False) -> OrderedDict[str, ag.Tensor]:
        """Parameters and persistent buffers by dotted name, in PyTorch's order (each module's parameters,
        then its buffers, then its children). Values share memory with the module; without `keep_vars`
        parameters come detached."""
        state: OrderedDict[str, ag.Tensor] = OrderedDict()
        for module_name, module in self.named_modules(prefix=prefix):
            for name, param in module._parameters.items():
                if param is not None:
                    state[_join(module_name, name)] = param if keep_vars else param.detach()
            for name, buffer in module._buffers.items():
                if buffer is not None and name not in module._non_persistent_buffers:
                    state[_join(module_name, name)] = buffer
        return state

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True) -> IncompatibleKeys:
        """Copy values from `state_dict` (name -> Tensor or array) into the parameters and buffers.

        Every entry is checked first and every problem reported in one RuntimeError; nothing is copied
        unless the whole load can succeed. Shape mismatches and values that are not numbers (None,
        strings, object arrays; inf and nan are numbers) always fail; missing and unexpected keys fail
        when `strict`. Returns `(missing_keys, unexpected_keys)`.
        """
        if not hasattr(state_dict, "items"):
            raise TypeError(
                f"{type(self).__name__}.load_state_dict: expected a dict of name -> tensor, "
                f"got {type(state_dict).__name__}"
            )
        own = self.state_dict(keep_vars=True)
        missing = [key for key in own if key not in state_dict]
        unexpected = [key for key in state_dict if key not in own]
        arrays: dict[str, Any] = {}
        not_numbers: list[str] = []
        mismatched: list[str] = []
        for key, value in state_dict.items():
            if key not in own:
                continue
            array = arrays[key] = _numeric_array(value)
            if isinstance(array, str):
                not_numbers.append(f"{key}: {array}")
            elif array.shape != own[key].shape:
                mismatched.append(f"{key}: checkpoint shape {array.shape}, model shape {own[key].shape}")
        problems = []
        if not_numbers:
            problems.append("values that are not real numbers for " + "; ".join(not_numbers))
        if mismatched:
            problems.append("size mismatch for " + "; ".join(mismatched))
        if strict and missing:
            problems.append("missing keys: " + ", ".join(missing))
        if strict and unexpected:
            problems.append("unexpected keys: " + ", ".join(unexpected))
        if problems:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n  " + "\n  ".join(problems))
        with ag.no_grad():
            for key, array in arrays.items():
                own[key].copy_(array.astype(own[key].dtype, copy=False))
        return IncompatibleKeys(missing, unexpected)

    # ---- repr ----

    def extra_repr(self) -> str:
        """The text inside this module's parentheses in its repr (subclasses list their settings)."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        children = [f"({name}): {_indent(repr(module))}" for name, module in self._modules.items()]
        if not children:
            return f"{type(self).__name__}({extra})"
        lines = (extra.split("\n") if extra else []) + children
        return f"{type(self).__name__}(\n  " + "\n  ".join(lines) + "\n)"


# ---- containers ----------------------------------------------------------------------------

# Array kinds a parameter or buffer can take its values from: bool, signed and unsigned ints, floats.
_NUMERIC_KINDS = "biuf"


def _numeric_array(value):
    """`value` (a Tensor, array or nested list) as a numeric numpy array, or a string saying why it is not one."""
    raw = np.asarray(value) if isinstance(value, ag.Tensor) else value
    try:
        array = np.asarray(raw)
    except (TypeError, ValueError) as error:  # e.g. a ragged nested list
        return f"cannot be read as an array ({error})"
    if array.dtype.kind not in _NUMERIC_KINDS:
        objects = " (None or other objects)" if array.dtype.kind == "O" else ""
        return f"expected a Tensor or numeric array, got {type(raw).__name__} of dtype {array.dtype}{objects}"
    return array


def _members(container: Module) -> list[Module]:
    """A container's modules in order (a container never holds None, unlike a module's optional children)."""
    return cast("list[Module]", list(container._modules.values()))


def _check_modules(who, modules):
    for module in modules:
        if not isinstance(module, Module):
            raise TypeError(f"{who}: expected Modules, got {type(module).__name__}")
    return modules


def _position(who, index, length):
    """A non-negative position for `index` in a container of `length`, or IndexError naming both."""
    if not isinstance(index, (int, np.integer)) or isinstance(index, bool):
        raise TypeError(f"{who}: indices must be ints or slices, got {type(index).__name__}")
    if not -length <= index < length:
        raise IndexError(f"{who}: index {index} is out of range for {length} modules")
    return int(index) % length


class Sequential(Module):
    """Modules applied one after the other: `Sequential(a, b, c)(x) == c(b(a(x)))`.

    Children are named "0", "1", ... (or by the keys of an OrderedDict given as the one argument).
    Indexing with an int gives a module; a slice gives a Sequential that keeps the original names.
    """

    def __init__(self, *modules: Module | OrderedDict[str, Module]) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, module in modules[0].items():
                self.add_module(name, _check_modules("Sequential", [module])[0])
        else:
            for i, module in enumerate(_check_modules("Sequential", modules)):
                self.add_module(str(i), module)

    def forward(self, x: Any) -> Any:
        for module in self:
            x = module(x)
        return x

    def __getitem__(self, index: int | slice) -> Module:
        items = cast("list[tuple[str, Module]]", list(self._modules.items()))
        if isinstance(index, slice):
            return Sequential(OrderedDict(items[index]))
        return items[_position("Sequential", index, len(items))][1]

    def __setitem__(self, index: int, module: Module) -> None:
        names = list(self._modules)
        self.add_module(names[_position("Sequential", index, len(names))], _check_modules("Sequential", [module])[0])

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(_members(self))

    def append(self, module: Module) -> Sequential:
        self.add_module(str(len(self)), _check_modules("Sequential.append", [module])[0])
        return self


class ModuleList(Module):
    """A list of modules that registers them (children "0", "1", ...); it has no forward of its own."""

    def __init__(self, modules: Iterable[Module] = ()) -> None:
        super().__init__()
        self.extend(modules)

    def _renumber(self, modules):
        for name in list(self._modules):
            self._forget(name)
            object.__delattr__(self, name)
        for i, module in enumerate(modules):
            self.add_module(str(i), module)

    def __getitem__(self, index: int | slice) -> Module:
        modules = _members(self)
        if isinstance(index, slice):
            return ModuleList(modules[index])
        return modules[_position("ModuleList", index, len(modules))]

    def __setitem__(self, index: int, module: Module) -> None:
        self.add_module(str(_position("ModuleList", index, len(self))), _check_modules("ModuleList", [module])[0])

    def __delitem__(self, index: int | slice) -> None:
        modules = _members(self)
        if isinstance(index, slice):
            del modules[index]
        else:
            del modules[_position("ModuleList", index, len(modules))]
        self._renumber(modules)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(_members(self))

    def append(self, module: Module) -> ModuleList:
        self.add_module(str(len(self)), _check_modules("ModuleList.append", [module])[0])
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        for module in _check_modules("ModuleList.extend", list(modules)):
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> None:
        modules = _members(self)
        modules.insert(index, _check_modules("ModuleList.insert", [module])[0])
        self._renumber(modules)


class ModuleDict(Module):
    """A dict of modules that registers them under their keys; it has no forward of its own."""

    def __init__(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        if key not in self._modules:
            raise KeyError(f"ModuleDict: no module named {key!r}; keys are {list(self._modules)}")
        return cast(Module, self._modules[key])

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, _check_modules("ModuleDict", [module])[0])

    def __delitem__(self, key: str) -> None:
        self[key]  # a clear KeyError for an unknown key
        delattr(self, key)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __contains__(self, key: object) -> bool:
        return key in self._modules

    # A ModuleDict never holds None, so its views are of Modules.
    def keys(self) -> KeysView[str]:
        return self._modules.keys()

    def items(self) -> ItemsView[str, Module]:
        return cast("ItemsView[str, Module]", self._modules.items())

    def values(self) -> ValuesView[Module]:
        return cast("ValuesView[Module]", self._modules.values())

    def pop(self, key: str) -> Module:
        module = self[key]
        del self[key]
        return module

    def update(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]]) -> None:
        pairs = modules.items() if hasattr(modules, "items") else modules
        for key, module in pairs:
            self[key] = module


# The default of a FunctionModule argument that has none: the caller must give it.
REQUIRED: Any = inspect.Parameter.empty


def _alias(name: str) -> property:
    """An attribute that reads and writes the hyperparameter `name` (PyTorch's spelling of it)."""
    return property(lambda self: getattr(self, name), lambda self, value: setattr(self, name, value))


class FunctionModule(Module):
    """A module whose forward is one function with hyperparameters given when it is built:
    `forward(*inputs) = function(*inputs, **hyperparameters)`.

    Activations and losses are rows of a table (`function_module(...)`); pooling, folding and resizing
    layers are small subclasses setting `function` and `defaults`. Arguments bind positionally in the
    order of `defaults` (PyTorch's constructor order) or by keyword (`aliases` maps PyTorch spellings such
    as `dim` to ours, and the alias is an attribute too); a default of `REQUIRED` makes an argument
    required. They are validated by `functional.check_arguments` where `check_at_construction` (else the
    function validates them when called), passed through `normalise`, and kept as plain attributes, as
    PyTorch's: `nn.LeakyReLU(0.2).negative_slope == 0.2`, and assigning one changes what forward uses.
    They are never parameters; one given as a Tensor (a loss's `weight` or `pos_weight`) is a buffer, so it
    is in the state dict and follows `.to(dtype)`, as in PyTorch.
    """

    function: ClassVar[Callable[..., Any] | None] = None
    defaults: ClassVar[dict[str, Any]] = {}
    aliases: ClassVar[dict[str, str]] = {}
    show_hyperparameters: ClassVar[bool] = True
    check_at_construction: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # A hyperparameter stored under the name of a Module method or attribute would hide it.
        reserved = set(dir(FunctionModule)) | set(vars(Module()))
        clashes = [name for name in (*cls.defaults, *cls.aliases) if name in reserved]
        if clashes:
            raise TypeError(f"{cls.__name__}: hyperparameter names {clashes} clash with Module attributes")
        for alias, name in cls.aliases.items():
            setattr(cls, alias, _alias(name))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        values = self._bind(args, kwargs)
        if self.check_at_construction:
            functional.check_arguments(type(self).__name__, values)
        self.normalise(values)
        for name, value in values.items():
            if isinstance(value, ag.Tensor):  # a loss's class weights: state, as PyTorch's buffers
                self.register_buffer(name, value)
            else:
                object.__setattr__(self, name, value)

    def _bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """The arguments by name, in the order of `defaults`, defaults filled in."""
        who = type(self).__name__
        names = tuple(self.defaults)
        if len(args) > len(names):
            raise TypeError(
                f"{who}: takes at most {len(names)} positional arguments ({', '.join(names) or 'none'}), "
                f"got {len(args)}"
            )
        values = dict(self.defaults)
        values.update(zip(names, args))
        given = set(names[: len(args)])
        for key, value in kwargs.items():
            key = self.aliases.get(key, key)
            if key not in values:
                raise TypeError(f"{who}: unexpected argument {key!r}; it takes {', '.join(names) or 'no arguments'}")
            if key in given:
                raise TypeError(f"{who}: got multiple values for argument {key!r}")
            given.add(key)
            values[key] = value
        missing = [name for name, value in values.items() if value is REQUIRED]
        if missing:
            raise TypeError(f"{who}: missing required argument {', '.join(map(repr, missing))}")
        return values

    def normalise(self, values: dict[str, Any]) -> None:
        """Adjust the bound, checked arguments in place before they are stored; a subclass's hook (pooling
        stores a stride of None as the kernel size, as PyTorch does)."""

    @property
    def hyperparameters(self) -> dict[str, Any]:
        """The current value of each argument, by name, in the order of `defaults`."""
        return {name: getattr(self, name) for name in self.defaults}

    def forward(self, *inputs: Any) -> Any:
        if self.function is None:
            raise NotImplementedError(f"{type(self).__name__}: a FunctionModule needs a function")
        return self.function(*inputs, **self.hyperparameters)

    def extra_repr(self) -> str:
        if not self.show_hyperparameters:
            return ""
        return ", ".join(f"{name}={value!r}" for name, value in self.hyperparameters.items())


def function_module(
    name: str,
    function: Callable[..., Any],
    doc: str,
    show_hyperparameters: bool = True,
    aliases: dict[str, str] | None = None,
    **defaults: Any,
) -> type[FunctionModule]:
    """A FunctionModule subclass called `name` running `function` with hyperparameters `defaults`."""
    return type(
        name,
        (FunctionModule,),
        {
            "function": staticmethod(function),
            "defaults": defaults,
            "aliases": aliases or {},
            "show_hyperparameters": show_hyperparameters,
            "__doc__": doc,
            "__module__": "nn",
            "__qualname__": name,
        },
    )
