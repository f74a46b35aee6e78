"""nn.utils.GradientMonitor: recorded norms and update ratios, vanishing/exploding warnings, summary, plot."""

import math
import warnings

import numpy as np
import pytest

import autograd_core as ag
import nn
import optim
from nn.utils import GradientMonitor, GradientWarning

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _deep_mlp(activation, init=None, depth=20, width=32, inputs=16, classes=4):
    model = nn.MLP([inputs, *[width] * depth, classes], activation=activation)
    if init is not None:
        for module in model.modules():
            if isinstance(module, nn.Linear):
                init(module.weight)
                nn.init.zeros_(module.bias)
    return model


def _train_steps(model, monitor, steps=1, lr=0.1, seed=0):
    rng = np.random.default_rng(seed)
    x = ag.tensor(rng.standard_normal((64, model[0].linear.in_features)).astype(np.float32))
    y = ag.tensor(rng.integers(0, 4, size=64))
    optimizer = optim.SGD(model.parameters(), lr=lr)
    for _ in range(steps):
        optimizer.zero_grad()
        nn.CrossEntropyLoss()(model(x), y).backward()
        optimizer.step()
        monitor.step()


def test_warns_that_a_deep_sigmoid_network_vanishes_naming_an_early_layer():
    model = _deep_mlp("sigmoid")
    monitor = GradientMonitor(model)
    with pytest.warns(GradientWarning, match=r"vanish in layer '0\.linear'") as caught:
        _train_steps(model, monitor)
    messages = [str(w.message) for w in caught if issubclass(w.category, GradientWarning)]
    assert len(messages) == 1 and "times the last layer's ('20'" in messages[0]
    assert monitor.diagnose()["0.linear"][0] == "vanishing"
    assert monitor.diagnose()["20"][0] == "ok"


def test_no_warning_for_relu_with_he_initialization():
    model = _deep_mlp("relu", init=lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu"))
    monitor = GradientMonitor(model)
    with warnings.catch_warnings():
        warnings.simplefilter("error", GradientWarning)
        _train_steps(model, monitor, steps=3)
    assert {status for status, _ in monitor.diagnose().values()} == {"ok"}
    norms = monitor.layer_norms()
    assert 1e-2 < norms["0.linear"][0] / norms["20"][0] < 1e2


def test_warns_that_a_too_large_initialization_explodes():
    model = _deep_mlp("relu", init=lambda w: nn.init.normal_(w, 0.0, 1.0), depth=10)
    monitor = GradientMonitor(model)
    with pytest.warns(GradientWarning, match=r"explode in layer '0\.linear'.*exceeds"):
        _train_steps(model, monitor, lr=0.0)


def test_non_finite_gradients_are_exploding():
    model = nn.MLP([3, 4, 2])
    monitor = GradientMonitor(model)
    model(ag.ones(1, 3)).sum().backward()
    np.asarray(model[0].linear.weight.grad)[0, 0] = np.nan
    with pytest.warns(GradientWarning, match=r"explode in layer '0\.linear'.*NaN or Inf"):
        monitor.step()
    assert monitor.records["0.linear.weight"]["grad_norm"][-1] == math.inf


def test_layers_are_reported_once_per_kind_in_one_warning_per_step():
    model = _deep_mlp("sigmoid", depth=8)
    monitor = GradientMonitor(model)
    with pytest.warns(GradientWarning) as caught:
        _train_steps(model, monitor, steps=3)
    messages = [str(w.message) for w in caught if issubclass(w.category, GradientWarning)]
    assert len(messages) == 1, messages
    flagged = sorted(layer for layer, status in monitor.warned)
    assert all(layer in messages[0] for layer in flagged[:6])
    assert messages[0].count("'") // 2 >= min(len(flagged), 6)


def test_records_match_norms_computed_by_hand():
    model = nn.MLP([3, 5, 2]).double()
    monitor = GradientMonitor(model)
    rng = np.random.default_rng(1)
    x, y = ag.tensor(rng.standard_normal((6, 3))), ag.tensor(rng.integers(0, 2, 6))
    optimizer = optim.SGD(model.parameters(), lr=0.5)
    for _ in range(2):
        before = {name: np.array(p) for name, p in model.named_parameters()}
        optimizer.zero_grad()
        nn.CrossEntropyLoss()(model(x), y).backward()
        optimizer.step()
        monitor.step()
    assert monitor.steps == [0, 1]
    for name, p in model.named_parameters():
        record = monitor.records[name]
        assert record["grad_norm"][-1] == pytest.approx(np.linalg.norm(np.asarray(p.grad)), rel=1e-12)
        assert record["weight_norm"][-1] == pytest.approx(np.linalg.norm(np.asarray(p)), rel=1e-12)
        expected_ratio = np.linalg.norm(np.asarray(p) - before[name]) / np.linalg.norm(np.asarray(p))
        assert record["update_ratio"][-1] == pytest.approx(expected_ratio, rel=1e-9)
        # SGD's update is lr * grad
        assert expected_ratio == pytest.approx(
            0.5 * np.linalg.norm(np.asarray(p.grad)) / np.linalg.norm(np.asarray(p)), rel=1e-9
        )
    layer_grad = np.sqrt(
        np.linalg.norm(np.asarray(model[0].linear.weight.grad)) ** 2
        + np.linalg.norm(np.asarray(model[0].linear.bias.grad)) ** 2
    )
    assert monitor.layer_norms()["0.linear"][-1] == pytest.approx(layer_grad, rel=1e-12)


def test_every_k_steps_records_the_update_of_the_recorded_step():
    model = nn.MLP([3, 4, 2]).double()
    monitor = GradientMonitor(model, every=3)
    x, y = ag.randn(5, 3, dtype=np.float64), ag.tensor([0, 1, 0, 1, 1])
    optimizer = optim.SGD(model.parameters(), lr=0.3)
    expected = []
    for step in range(7):
        before = np.array(np.asarray(model[1].weight))
        optimizer.zero_grad()
        nn.CrossEntropyLoss()(model(x), y).backward()
        optimizer.step()
        monitor.step()
        if step % 3 == 0:
            expected.append(
                np.linalg.norm(np.asarray(model[1].weight) - before) / np.linalg.norm(np.asarray(model[1].weight))
            )
    assert monitor.steps == [0, 3, 6]
    np.testing.assert_allclose(monitor.records["1.weight"]["update_ratio"], expected, rtol=1e-9)


def test_parameters_without_gradients_are_skipped_not_flagged():
    model = nn.MLP([3, 4, 2])
    model[0].requires_grad_(False)
    monitor = GradientMonitor(model)
    model(ag.ones(2, 3)).sum().backward()
    with warnings.catch_warnings():
        warnings.simplefilter("error", GradientWarning)
        monitor.step()
    assert monitor.diagnose()["0.linear"] == ("ok", "no gradient")
    assert math.isnan(monitor.layer_norms()["0.linear"][0])


def test_summary_table_and_data():
    model = _deep_mlp("sigmoid", depth=6)
    monitor = GradientMonitor(model, warn=False)
    _train_steps(model, monitor, steps=2)
    rows = monitor.layer_stats()
    assert [row["layer"] for row in rows] == [f"{i}.linear" for i in range(6)] + ["6"]
    assert rows[0]["params"] == 16 * 32 + 32
    assert rows[-1]["relative"] == pytest.approx(1.0)
    assert rows[0]["grad_norm"] == pytest.approx(monitor.layer_norms()["0.linear"][-1])
    text = monitor.summary()
    assert "2 recorded steps" in text
    for row in rows:
        assert row["layer"] in text and row["status"] in text


def test_plot_writes_a_png(tmp_path):
    model = nn.MLP([3, 4, 4, 2])
    monitor = GradientMonitor(model)
    with pytest.raises(RuntimeError, match="nothing recorded"):
        monitor.plot(tmp_path / "none.png")
    x, y = ag.randn(8, 3), ag.randint(0, 2, (8,))
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    for _ in range(3):
        optimizer.zero_grad()
        nn.CrossEntropyLoss()(model(x), y).backward()
        optimizer.step()
        monitor.step()
    path = monitor.plot(tmp_path / "gradient_flow.png")
    assert path.read_bytes().startswith(PNG_SIGNATURE)


def test_as_a_fit_callback_it_records_every_batch():
    X, y = ag.datasets.make_moons(60, noise=0.1, seed=0)
    loader = ag.data.DataLoader(ag.data.TensorDataset(X, y), batch_size=16)
    model = nn.MLP([2, 8, 2])
    monitor = GradientMonitor(model)
    nn.utils.fit(
        model,
        nn.CrossEntropyLoss(),
        optim.Adam(model.parameters(), lr=0.01),
        loader,
        epochs=2,
        callbacks=[monitor],
        progress=False,
    )
    assert monitor.steps == list(range(2 * len(loader)))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(every=0), "every must be a positive int"),
        (dict(vanish_ratio=2.0), "vanish_ratio"),
        (dict(explode_ratio=0.5), "explode_ratio"),
    ],
)
def test_bad_settings_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GradientMonitor(nn.MLP([2, 2]), **kwargs)


def test_a_model_without_parameters_is_rejected():
    with pytest.raises(ValueError, match="no parameters"):
        GradientMonitor(nn.ReLU())
    with pytest.raises(TypeError, match=r"nn\.Module"):
        GradientMonitor([ag.zeros(2, requires_grad=True)])


def _header_bytes(path):
    """The length of a safetensors file's JSON header (its first 8 bytes, little-endian)."""
    with open(path, "rb") as handle:
        return int.from_bytes(handle.read(8), "little")


def test_a_long_history_keeps_the_checkpoint_header_small(tmp_path):
    """safetensors refuses headers over 100 MB: the recorded steps go into the checkpoint as tensors, so
    the header does not grow with the run (as JSON, 4.5 million steps passed the limit)."""
    sizes = {}
    for steps in (10, 1_000_000):
        monitor = GradientMonitor(nn.Linear(2, 1), warn=False)
        monitor.steps = list(range(0, 3 * steps, 3))
        monitor._count = 3 * steps
        for record in monitor.records.values():
            for kind in record:
                record[kind] = [0.5] * steps
        path = tmp_path / f"{steps}.safetensors"
        ag.save(monitor.state_dict(), path)
        sizes[steps] = _header_bytes(path)
        restored = GradientMonitor(nn.Linear(2, 1), warn=False)
        restored.load_state_dict(ag.load(path))
        assert restored.steps == monitor.steps and restored._count == monitor._count
        assert restored.records == monitor.records
    assert sizes[1_000_000] < sizes[10] + 200 < 10_000
