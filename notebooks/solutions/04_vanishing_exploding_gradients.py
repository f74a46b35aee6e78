"""Solutions to the exercises of notebook 4 (vanishing and exploding gradients): each answer computed and asserted."""

import math

import numpy as np

import autograd_core as ag
import nn
import nn.functional as F
from autograd_core.cli import gradflow
from autograd_core.cli.gradflow import Network

digits, labels = ag.datasets.load_digits()
batch_x, batch_y = ag.tensor(digits[:256]), ag.tensor(labels[:256])


def backward_factor(model, depth):
    """The geometric-mean factor per layer of ||dL/da|| from the last hidden block back to the first."""
    outputs = []
    handles = [
        model[block].register_forward_hook(
            lambda module, inputs, output: outputs.append(output) or output.retain_grad()
        )
        for block in range(depth)
    ]
    F.cross_entropy(model(batch_x), batch_y).backward()
    for handle in handles:
        handle.remove()
    norms = [np.linalg.norm(output.grad.numpy()) for output in outputs]
    return (norms[0] / norms[-1]) ** (1 / (depth - 1))


# Exercise 1: sigma' = sigma (1 - sigma) is a product of two numbers summing to 1, at most (1/2)^2 = 1/4 (at z = 0).
# 4^-L < 1e-6 needs L > 6 / log10(4) = 9.97, so 10 layers; the measured factor (0.23 with Xavier weights) is close.
z = ag.tensor(np.linspace(-8, 8, 1601), requires_grad=True)
z.sigmoid().sum().backward()
assert np.isclose(z.grad.numpy().max(), 0.25) and z.grad.numpy().argmax() == 800
layers = math.ceil(6 / math.log10(4))
assert layers == 10 and 4.0**-layers < 1e-6 < 4.0 ** -(layers - 1)
sigmoid_factor = backward_factor(gradflow.build(Network("s", "sigmoid", "xavier"), 64, 10), 20)
assert 0.15 < sigmoid_factor <= 0.25
print(f"Exercise 1: max sigma' = 1/4; {layers} layers; measured factor per layer {sigmoid_factor:.2f}")

# Exercise 2: each ReLU layer multiplies the back-propagated gradient by about s * sqrt(width / 2).
for std in (0.1, math.sqrt(2 / 64), 0.3):
    predicted = std * math.sqrt(64 / 2)
    measured = backward_factor(gradflow.build(Network("r", "relu", f"normal:{std}"), 64, 10), 20)
    assert abs(measured / predicted - 1) < 0.15, (std, measured, predicted)
    print(f"Exercise 2: s = {std:.3f}: predicted factor {predicted:.2f}, measured {measured:.2f}")

# Exercise 3: clip_grad_norm_ scales every entry by c / ||g||: cosine 1, norm c. clip_grad_value_ clamps entries.
exploding = Network("e", "relu", "normal:0.3", depth=10)
cosines = {}
for clip in ("norm", "value"):
    model = gradflow.build(exploding, 64, 10)
    F.cross_entropy(model(batch_x), batch_y).backward()
    original = np.concatenate([p.grad.numpy().ravel() for p in model.parameters()])
    if clip == "norm":
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
    else:
        nn.utils.clip_grad_value_(model.parameters(), 0.1)
    clipped = np.concatenate([p.grad.numpy().ravel() for p in model.parameters()])
    cosines[clip] = original @ clipped / (np.linalg.norm(original) * np.linalg.norm(clipped))
    if clip == "norm":
        assert np.isclose(np.linalg.norm(clipped), 5.0, rtol=1e-5)
assert np.isclose(cosines["norm"], 1.0, atol=1e-6) and cosines["value"] < 0.99
print(f"Exercise 3: cosine with the original gradient: by norm {cosines['norm']:.6f}, by value {cosines['value']:.3f}")


# Exercise 4: each block adds about 0.5 / 20 to the stream, so after 20 blocks the offset is about 0.5, plus the
# input's own mean (the first block's residual adds the input digits).
class ScaledSigmoid(nn.Module):
    def __init__(self, scale):
        super().__init__()
        self.scale = scale

    def forward(self, x):
        return F.sigmoid(x) * self.scale


def stream_mean_and_loss(model):
    means = []
    handle = model[-2].register_forward_hook(
        lambda module, inputs, output: means.append(output.detach().numpy().mean())
    )
    with ag.no_grad():
        loss = F.cross_entropy(model(batch_x), batch_y).item()
    handle.remove()
    return float(means[0]), loss


input_mean = float(digits[:256].mean())
model = gradflow.build(Network("res", "sigmoid", "xavier", residual=True), 64, 10)
for block in model[:-1]:
    block.activation = ScaledSigmoid(1 / 20)
mean, loss = stream_mean_and_loss(model)
assert abs(mean - (input_mean + 0.5)) < 0.1 and loss < 3
print(f"Exercise 4: stream mean {mean:.2f} (predicted {input_mean + 0.5:.2f}), initial loss {loss:.2f}")

# Exercise 5: the stream's mean is the input's mean plus about 0.5 per block: linear in depth.
for depth in (5, 10, 20):
    mean, _ = stream_mean_and_loss(
        gradflow.build(Network("res", "sigmoid", "xavier", residual=True, depth=depth), 64, 10)
    )
    predicted = input_mean + 0.5 * depth
    assert abs(mean - predicted) < 0.1 * depth, (depth, mean, predicted)
    print(f"Exercise 5: depth {depth:2}: stream mean {mean:.2f}, predicted {predicted:.2f}")
