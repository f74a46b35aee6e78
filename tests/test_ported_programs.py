"""Real PyTorch programs, ported by renaming `torch` to `autograd_core`: each runs unchanged on both
libraries from the same initial weights and batches, and the losses agree step by step.

The programs are written once against `lib` (torch, or this library under PyTorch's names: `nn`, `F`),
in PyTorch's idioms: `.data` updates, augmented assignment under `no_grad`, `var`'s default correction,
`torch.Generator`, integer-tensor indexing, `view`, `keepdim`, `p.grad = None`. Randomness the two
libraries draw differently (initial weights, batch indices) comes from numpy and is handed to both."""

import types

import numpy as np
import pytest

import autograd_core as ag
import nn
import nn.functional as ag_F

torch = pytest.importorskip("torch", reason="the ported programs compare against PyTorch")

TORCH = types.SimpleNamespace(lib=torch, nn=torch.nn, F=torch.nn.functional)
OURS = types.SimpleNamespace(lib=ag, nn=nn, F=ag_F)


def makemore_mlp_with_batchnorm(api, words, weights, batches, steps):
    """Karpathy's makemore part 3: a character-level MLP with a hand-written BatchNorm, trained with
    `p.data += -lr * p.grad`."""
    torch, F = api.lib, api.F
    X, Y = torch.tensor(words[0]), torch.tensor(words[1])
    C, W1, W2, b2, bngain, bnbias = (torch.tensor(w) for w in weights)
    bnmean_running = torch.zeros((1, W1.shape[1]))
    bnstd_running = torch.ones((1, W1.shape[1]))
    parameters = [C, W1, W2, b2, bngain, bnbias]
    for p in parameters:
        p.requires_grad = True
    losses = []
    for i in range(steps):
        ix = torch.tensor(batches[i])
        Xb, Yb = X[ix], Y[ix]
        emb = C[Xb]
        embcat = emb.view(emb.shape[0], -1)
        hpreact = embcat @ W1
        bnmeani = hpreact.mean(0, keepdim=True)
        bnstdi = hpreact.std(0, keepdim=True)
        hpreact = bngain * (hpreact - bnmeani) / bnstdi + bnbias
        with torch.no_grad():
            bnmean_running = 0.999 * bnmean_running + 0.001 * bnmeani
            bnstd_running = 0.999 * bnstd_running + 0.001 * bnstdi
        h = torch.tanh(hpreact)
        logits = h @ W2 + b2
        loss = F.cross_entropy(logits, Yb)
        for p in parameters:
            p.grad = None
        loss.backward()
        lr = 0.1 if i < steps // 2 else 0.01
        for p in parameters:
            p.data += -lr * p.grad
        losses.append(loss.item())
    return losses, bnstd_running.numpy()


def polynomial_fit_with_in_place_updates(api, steps):
    """ "Learning PyTorch with examples": fit a cubic to sin(x) with tensors and autograd, updating the
    weights with `a -= learning_rate * a.grad` under `no_grad`."""
    torch = api.lib
    dtype = torch.float
    x = torch.linspace(-np.pi, np.pi, 2000, dtype=dtype)
    y = torch.sin(x)
    a, b, c, d = (torch.tensor(v, dtype=dtype, requires_grad=True) for v in (0.1, -0.2, 0.3, 0.05))
    learning_rate = 1e-6
    losses = []
    for _ in range(steps):
        y_pred = a + b * x + c * x**2 + d * x**3
        loss = (y_pred - y).pow(2).sum()
        losses.append(loss.item())
        loss.backward()
        with torch.no_grad():
            a -= learning_rate * a.grad
            b -= learning_rate * b.grad
            c -= learning_rate * c.grad
            d -= learning_rate * d.grad
            a.grad = None
            b.grad = None
            c.grad = None
            d.grad = None
    return losses, [a.item(), b.item(), c.item(), d.item()]


def weight_decay_by_hand(api, data, weights, steps, wd):
    """A weight-decay chapter's loop: SGD with L2 added by hand, in-place `sub_` with `alpha=`, and the
    model's `state_dict` copied into a second, eval-mode model."""
    torch, nn = api.lib, api.nn
    X, y = torch.tensor(data[0]), torch.tensor(data[1])
    model = nn.Sequential(nn.Linear(X.shape[1], 16), nn.ReLU(), nn.Linear(16, 1))
    with torch.no_grad():
        for p, w in zip(model.parameters(), weights):
            p.copy_(torch.tensor(w))
    losses = []
    for _ in range(steps):
        loss = ((model(X).squeeze(-1) - y) ** 2).mean()
        loss = loss + wd / 2 * sum((p**2).sum() for p in model.parameters())
        model.zero_grad()
        loss.backward()
        with torch.no_grad():
            for p in model.parameters():
                p.sub_(p.grad, alpha=0.05)
        losses.append(loss.item())
    copy = nn.Sequential(nn.Linear(X.shape[1], 16), nn.ReLU(), nn.Linear(16, 1))
    copy.load_state_dict(model.state_dict())
    copy.eval()
    with torch.no_grad():
        final = copy(X).squeeze(-1).numpy()
    return losses, final


def test_makemore_mlp_with_batchnorm():
    rng = np.random.default_rng(0)
    vocab, block, embed, hidden, n = 27, 3, 10, 64, 500
    words = (rng.integers(0, vocab, (n, block)), rng.integers(0, vocab, n))
    weights = [
        rng.standard_normal((vocab, embed)).astype(np.float32),
        (rng.standard_normal((block * embed, hidden)) * (5 / 3) / (block * embed) ** 0.5).astype(np.float32),
        (rng.standard_normal((hidden, vocab)) * 0.01).astype(np.float32),
        np.zeros(vocab, np.float32),
        np.ones((1, hidden), np.float32),
        np.zeros((1, hidden), np.float32),
    ]
    batches = [rng.integers(0, n, 32) for _ in range(40)]
    ours, ours_std = makemore_mlp_with_batchnorm(OURS, words, weights, batches, 40)
    theirs, theirs_std = makemore_mlp_with_batchnorm(TORCH, words, weights, batches, 40)
    np.testing.assert_allclose(ours, theirs, rtol=1e-4)
    np.testing.assert_allclose(ours_std, theirs_std, rtol=1e-4)  # std's Bessel correction, as PyTorch's
    assert ours[-1] < ours[0]


def test_polynomial_fit_with_in_place_updates():
    ours, ours_coefficients = polynomial_fit_with_in_place_updates(OURS, 300)
    theirs, theirs_coefficients = polynomial_fit_with_in_place_updates(TORCH, 300)
    np.testing.assert_allclose(ours, theirs, rtol=1e-4)
    np.testing.assert_allclose(ours_coefficients, theirs_coefficients, rtol=1e-4, atol=1e-6)
    assert ours[-1] < 0.1 * ours[0]  # the in-place updates train (they once rebound the names and did nothing)


def test_weight_decay_by_hand():
    rng = np.random.default_rng(1)
    data = (rng.standard_normal((64, 5)).astype(np.float32), rng.standard_normal(64).astype(np.float32))
    weights = [
        (rng.standard_normal((16, 5)) * 0.3).astype(np.float32),
        np.zeros(16, np.float32),
        (rng.standard_normal((1, 16)) * 0.3).astype(np.float32),
        np.zeros(1, np.float32),
    ]
    ours, ours_final = weight_decay_by_hand(OURS, data, weights, 50, wd=1e-2)
    theirs, theirs_final = weight_decay_by_hand(TORCH, data, weights, 50, wd=1e-2)
    np.testing.assert_allclose(ours, theirs, rtol=1e-4)
    np.testing.assert_allclose(ours_final, theirs_final, rtol=1e-4, atol=1e-6)
