"""The workloads written once against PyTorch's API, shared by torch and autograd-core.

autograd-core follows PyTorch's names and semantics, so the same user code runs
on both: `lib.tensor(..., requires_grad=True)`, tensor methods, `nn.Linear`,
`nn.ReLU`, `nn.Sequential`, `F.cross_entropy`, `optim.Adam`, `optim.SGD`.
An engine passes `import_api`, a zero-argument function returning
`(lib, nn, F, optim)`, called when a workload is built (so nothing is imported
before the engine is asked for).
"""

from autograd_core.benchmarks.engines.common import chain


def workloads(import_api):
    """The builders of every workload kind, for the library `import_api()` returns."""

    def sequential_mlp(layers):
        lib, nn, _, _ = import_api()
        modules = []
        for i, (weight, bias) in enumerate(layers):
            linear = nn.Linear(weight.shape[1], weight.shape[0])
            # `.data` holds a torch Tensor in torch and a numpy array in autograd-core; `lib.tensor(a).data` fits both.
            linear.weight.data, linear.bias.data = lib.tensor(weight).data, lib.tensor(bias).data
            modules.append(linear)
            if i < len(layers) - 1:
                modules.append(nn.ReLU())
        return nn.Sequential(*modules)

    def mlp(problem):
        lib, _, F, optim = import_api()
        model = sequential_mlp(problem["layers"])
        optimizer = optim.Adam(model.parameters(), lr=problem["lr"])
        x, y = lib.tensor(problem["x"]), lib.tensor(problem["y"])

        def step():
            optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            return loss.item()

        return step, lambda: _grads(model.parameters())

    def micrograd_demo(problem):
        lib, _, _, optim = import_api()
        model = sequential_mlp(problem["layers"])
        optimizer = optim.SGD(model.parameters(), lr=problem["lr"])
        x, y, alpha = lib.tensor(problem["x"]), lib.tensor(problem["y"]), problem["alpha"]

        def step():
            optimizer.zero_grad(set_to_none=True)
            score = model(x)[:, 0]
            loss = (1 - y * score).relu().mean() + alpha * sum((p * p).sum() for p in model.parameters())
            loss.backward()
            optimizer.step()
            return loss.item()

        return step, lambda: _grads(model.parameters())

    def loss_and_grads(loss_fn, arrays):
        """step/grads for a workload that is one loss of `arrays` differentiated in all of them."""
        lib, _, _, _ = import_api()
        inputs = [lib.tensor(a, requires_grad=True) for a in arrays]

        def step():
            for t in inputs:
                t.grad = None
            loss = loss_fn(*inputs)
            loss.backward()
            return loss.item()

        return step, lambda: _grads(inputs)

    def elementwise(problem):
        return loss_and_grads(lambda x: (x.sigmoid() * x.tanh() + x.relu()).sum(), [problem["x"]])

    def op_chain(problem):
        n_ops, scale, shift = problem["n_ops"], problem["scale"], problem["shift"]
        return loss_and_grads(lambda x: chain(x, n_ops, scale, shift).sum(), [problem["x"]])

    def matmul(problem):
        return loss_and_grads(lambda a, b: (a @ b).sum(), [problem["a"], problem["b"]])

    return dict(mlp=mlp, micrograd_demo=micrograd_demo, elementwise=elementwise, op_chain=op_chain, matmul=matmul)


def _grads(tensors):
    return [t.grad.numpy() for t in tensors]
