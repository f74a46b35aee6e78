"""Solutions to the exercises of notebook 8 (transfer learning): each answer computed and asserted."""

import numpy as np

import autograd_core as ag
import nn
import nn.functional as F
import optim

digits, labels = ag.datasets.load_digits()
x, y = ag.tensor(digits[:100]), ag.tensor(labels[:100])

# Exercise 1: only the head trains: 256 * 10 weights + 10 biases = 2570 (of 64 * 256 + 256 + 2570 = 19210).
model = nn.MLP([64, 256, 10])
model[0].requires_grad_(False)
trained = sum(p.numel() for p in model.parameters() if p.requires_grad)
total = sum(p.numel() for p in model.parameters())
assert trained == 256 * 10 + 10 and total == 64 * 256 + 256 + trained
print(f"Exercise 1: {trained} of {total} parameters are trained")

# Exercise 2: the frozen layer is a fixed function, so the head sees the same features at every step.
ag.manual_seed(0)
full = nn.MLP([64, 256, 10])
full[0].requires_grad_(False)
head = nn.Linear(256, 10)
head.load_state_dict(full[1].state_dict())
with ag.no_grad():
    features = full[0](x)
for module, inputs in ((full, x), (head, features)):
    optimizer = optim.Adam([p for p in module.parameters() if p.requires_grad], lr=1e-2)
    for _ in range(30):
        optimizer.zero_grad()
        F.cross_entropy(module(inputs), y).backward()
        optimizer.step()
with ag.no_grad():
    assert np.allclose(full(x).numpy(), head(features).numpy(), atol=1e-4)
print("Exercise 2: the head trained inside the network equals logistic regression on the frozen features")

# Exercise 3: each training-mode pass sets mu <- 0.9 mu + 0.1 * batch mean, a geometric blend.
norm = nn.BatchNorm1d(64)
batch_mean = digits[:100].mean(axis=0)
for _ in range(10):
    norm(x)
expected = 0.9**10 * np.zeros(64) + (1 - 0.9**10) * batch_mean
assert np.allclose(norm.running_mean.numpy(), expected, atol=1e-5)
print(f"Exercise 3: after 10 passes the running mean is {1 - 0.9**10:.4f} of the batch mean")

# Exercise 4: buffers are part of the state dict; eval mode uses them, so outputs match after reloading.
ag.manual_seed(0)
source = nn.MLP([64, 32, 10], norm="batch")
with ag.no_grad():
    source(x)  # moves the running statistics away from their initial values
state = source.state_dict()
assert {"0.norm.running_mean", "0.norm.running_var", "0.norm.num_batches_tracked"} <= set(state)
copy = nn.MLP([64, 32, 10], norm="batch")
copy.load_state_dict(state)
source.eval()
copy.eval()
with ag.no_grad():
    assert np.array_equal(source(x).numpy(), copy(x).numpy())
print("Exercise 4: running statistics travel in the state dict; the reloaded model matches in eval mode")
