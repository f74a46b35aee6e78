"""Solutions to the exercises of notebook 9 (convolutional networks): each answer computed and asserted."""

import numpy as np

import autograd_core as ag
import nn.functional as F

rng = np.random.default_rng(0)

# Exercise 1: a dilated kernel is an undilated one of size d(k - 1) + 1, so the usual formula applies with that size.
for n, k, d, p, s in ((8, 3, 2, 0, 1), (11, 3, 3, 2, 2), (16, 5, 2, 1, 3)):
    out = F.conv2d(
        ag.tensor(rng.standard_normal((1, 1, n, n))),
        ag.tensor(rng.standard_normal((1, 1, k, k))),
        stride=s,
        padding=p,
        dilation=d,
    )
    assert out.shape[-1] == (n + 2 * p - d * (k - 1) - 1) // s + 1
print("Exercise 1: output size floor((n + 2p - d(k-1) - 1)/s) + 1, checked three times")

# Exercise 2: a dense layer from 64 inputs to 16*8*8 = 1024 outputs needs 64*1024 + 1024 parameters; both do one
# multiply-add per weight use: conv 16*64 positions * 9 = 9216, dense 65536. For 224x224 the conv's parameters stay
# 160 while its multiply-adds grow with the pixels; the dense layer's parameters grow with pixels squared.
conv_params, dense_params = 16 * 9 + 16, 64 * 1024 + 1024
conv_macs, dense_macs = 16 * 8 * 8 * 9, 64 * 1024
pixels = 224 * 224
assert dense_params == 66_560 and dense_params // conv_params == 416
assert (conv_macs, dense_macs) == (9216, 65536)
dense_224 = pixels * 16 * pixels + 16 * pixels
assert 16 * pixels * 9 == 7_225_344 and dense_224 == 16 * pixels * (pixels + 1) and dense_224 > 4e10
print(f"Exercise 2: {conv_params} against {dense_params} parameters; 224x224 dense: {dense_224:.2e}")

# Exercise 3: r += (k - 1) j, then j *= s.
layers = [("conv11/4", 11, 4), ("pool3/2", 3, 2), ("conv5", 5, 1), ("pool3/2", 3, 2)] + [("conv3", 3, 1)] * 3
r, j, fields = 1, 1, []
for _, k, s in layers:
    r, j = r + (k - 1) * j, j * s
    fields.append((r, j))
assert fields == [(11, 4), (19, 8), (51, 8), (67, 16), (99, 16), (131, 16), (163, 16)]
print("Exercise 3: (receptive field, jump) after each layer:", fields)

# Exercise 4: convolution commutes with shifts (away from the borders); 2x2 pooling does not (a 1-pixel shift
# is half a pooled pixel).
image = np.zeros((1, 1, 12, 12))
image[0, 0, 3:8, 4:7] = rng.uniform(0.5, 1.0, (5, 3))
shifted = np.roll(image, 1, axis=-1)
shifted[..., 0] = 0
weight = ag.tensor(rng.standard_normal((1, 1, 3, 3)))
out, out_shifted = (F.conv2d(ag.tensor(a), weight, padding=1).numpy()[0, 0] for a in (image, shifted))
assert np.allclose(out_shifted[:, 2:-1], out[:, 1:-2])
pooled = F.max_pool2d(ag.tensor(out[None, None]), 2).numpy()[0, 0]
pooled_shifted = F.max_pool2d(ag.tensor(out_shifted[None, None]), 2).numpy()[0, 0]
assert not np.allclose(pooled_shifted[:, 1:], pooled[:, :-1]) and not np.allclose(pooled_shifted, pooled)
print("Exercise 4: the convolution's output shifts with the input; the pooled output does not shift by whole pixels")

# Exercise 5: Y[i, j] = sum_ab X[i + a, j + b] K[a, b], so dL/dX[p, q] = sum_ab G[p - a, q - b] K[a, b]: the full
# correlation of G (padded by k - 1) with the kernel rotated by 180 degrees.
X = ag.tensor(rng.standard_normal((1, 1, 7, 7)), requires_grad=True)
K = rng.standard_normal((1, 1, 3, 3))
G = rng.standard_normal((1, 1, 5, 5))
(F.conv2d(X, ag.tensor(K)) * ag.tensor(G)).sum().backward()
full = F.conv2d(ag.tensor(np.pad(G, ((0, 0), (0, 0), (2, 2), (2, 2)))), ag.tensor(K[..., ::-1, ::-1].copy())).numpy()
assert np.allclose(full, X.grad.numpy()) and np.allclose(F.conv_transpose2d(ag.tensor(G), ag.tensor(K)).numpy(), full)
print("Exercise 5: dL/dX = full correlation with the rotated kernel = conv_transpose2d(G, K)")
