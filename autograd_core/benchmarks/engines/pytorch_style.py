"""The workloads written once against PyTorch's API, shared by torch and autograd-core.

autograd-core follows PyTorch's names and semantics, so the same user code runs
on both: `lib.tensor(..., requires_grad=True)`, tensor methods, `nn.Linear`,
`nn.ReLU`, `nn.Sequential`, `nn.Conv2d`, `nn.MaxPool2d`, `nn.Flatten`, `nn.LSTM`,
`F.cross_entropy`, `optim.Adam`, `optim.SGD`.
An engine passes `import_api`, a zero-argument function returning
`(lib, nn, F, optim)`, called when a workload is built (so nothing is imported
before the engine is asked for), and may pass `compile_fn`, which wraps the tensor
part of every step (a function returning the loss tensor; `ag.compile` for the
compiled engine). The step calls `.item()` on the loss outside that function, so
that reading the value is never part of what gets compiled.
"""

from autograd_core.benchmarks.engines.common import chain, flat_params


def workloads(import_api, compile_fn=None):
    """The builders of every workload kind, for the library `import_api()` returns, each step's tensor
    work wrapped in `compile_fn` when given."""

    def stepper(train_step, clear_grads=None):
        """The runner's step: `clear_grads()` when given, then `train_step()` (compiled when asked), its
        loss as a Python float."""
        run = train_step if compile_fn is None else compile_fn(train_step)
        if clear_grads is None:
            return lambda: run().item()

        def step():
            clear_grads()
            return run().item()

        return step

    def with_params(model, arrays):
        """The model with its parameters, in `parameters()` order, set to `arrays` (which fix the dtype)."""
        lib, _, _, _ = import_api()
        params = list(model.parameters())
        model_shapes, given_shapes = [tuple(p.shape) for p in params], [a.shape for a in arrays]
        if model_shapes != given_shapes:
            raise ValueError(f"{type(model).__name__} has parameters of shapes {model_shapes}, given {given_shapes}")
        for param, array in zip(params, arrays):
            param.data = lib.tensor(array)
        return model

    def sequential_mlp(layers):
        _, nn, _, _ = import_api()
        modules = []
        for i, (weight, _) in enumerate(layers):
            modules.append(nn.Linear(weight.shape[1], weight.shape[0]))
            if i < len(layers) - 1:
                modules.append(nn.ReLU())
        return with_params(nn.Sequential(*modules), flat_params(layers))

    def classifier(model, optimizer_name, problem):
        """step/grads of one cross-entropy training step of `model` on (x, y) with optim.<optimizer_name>."""
        lib, _, F, optim = import_api()
        optimizer = getattr(optim, optimizer_name)(model.parameters(), lr=problem["lr"])
        x, y = lib.tensor(problem["x"]), lib.tensor(problem["y"])

        def train_step():
            optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            return loss

        return stepper(train_step), lambda: _grads(model.parameters())

    def mlp(problem):
        return classifier(sequential_mlp(problem["layers"]), "Adam", problem)

    def lenet(problem):
        _, nn, _, _ = import_api()
        fc_sizes = [problem["params"][i].shape[1] for i in (4, 6, 8)] + [problem["params"][8].shape[0]]
        model = nn.Sequential(
            nn.Conv2d(1, 6, 5),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(fc_sizes[0], fc_sizes[1]),
            nn.ReLU(),
            nn.Linear(fc_sizes[1], fc_sizes[2]),
            nn.ReLU(),
            nn.Linear(fc_sizes[2], fc_sizes[3]),
        )
        return classifier(with_params(model, problem["params"]), "SGD", problem)

    def lstm(problem):
        lib, nn, _, optim = import_api()
        weight_hh = problem["params"][1]
        model = with_params(nn.LSTM(problem["x"].shape[-1], weight_hh.shape[1]), problem["params"])
        optimizer = optim.Adam(model.parameters(), lr=problem["lr"])
        x = lib.tensor(problem["x"])

        def train_step():
            optimizer.zero_grad(set_to_none=True)
            output, _ = model(x)
            loss = output.sum()
            loss.backward()
            optimizer.step()
            return loss

        return stepper(train_step), lambda: _grads(model.parameters())

    def micrograd_demo(problem):
        lib, _, _, optim = import_api()
        model = sequential_mlp(problem["layers"])
        optimizer = optim.SGD(model.parameters(), lr=problem["lr"])
        x, y, alpha = lib.tensor(problem["x"]), lib.tensor(problem["y"]), problem["alpha"]

        def train_step():
            optimizer.zero_grad(set_to_none=True)
            score = model(x)[:, 0]
            loss = (1 - y * score).relu().mean() + alpha * sum((p * p).sum() for p in model.parameters())
            loss.backward()
            optimizer.step()
            return loss

        return stepper(train_step), lambda: _grads(model.parameters())

    def loss_and_grads(loss_fn, arrays):
        """step/grads for a workload that is one loss of `arrays` differentiated in all of them."""
        lib, _, _, _ = import_api()
        inputs = [lib.tensor(a, requires_grad=True) for a in arrays]

        def clear_grads():
            # Outside train_step: a compiled function replays tensor work only, so `t.grad = None`
            # inside it would run once, at trace time, and later gradients would accumulate.
            for t in inputs:
                t.grad = None

        def train_step():
            loss = loss_fn(*inputs)
            loss.backward()
            return loss

        return stepper(train_step, clear_grads), lambda: _grads(inputs)

    def elementwise(problem):
        return loss_and_grads(lambda x: (x.sigmoid() * x.tanh() + x.relu()).sum(), [problem["x"]])

    def op_chain(problem):
        n_ops, scale, shift = problem["n_ops"], problem["scale"], problem["shift"]
        return loss_and_grads(lambda x: chain(x, n_ops, scale, shift).sum(), [problem["x"]])

    def matmul(problem):
        return loss_and_grads(lambda a, b: (a @ b).sum(), [problem["a"], problem["b"]])

    return dict(
        mlp=mlp,
        micrograd_demo=micrograd_demo,
        elementwise=elementwise,
        op_chain=op_chain,
        matmul=matmul,
        lenet=lenet,
        lstm=lstm,
    )


def _grads(tensors):
    return [t.grad.numpy() for t in tensors]
