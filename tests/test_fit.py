"""nn.utils.fit: learning with DataLoaders, metrics, early stopping, schedulers, checkpoints and resuming,
History (JSON, plot)."""

import json

import numpy as np
import pytest

import autograd_core as ag
import nn
import optim
from nn.utils import Callback, EarlyStopping, GradientMonitor, History, fit

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _moons(n=240, noise=0.2, seed=0, dtype=np.float32, batch_size=32, shuffle_seed=None):
    X, y = ag.datasets.make_moons(n, noise=noise, seed=seed)
    train, val = ag.data.random_split(ag.data.TensorDataset(X.astype(dtype), y), [0.75, 0.25], seed=seed)
    return (
        ag.data.DataLoader(train, batch_size=batch_size, shuffle=True, seed=shuffle_seed),
        ag.data.DataLoader(val, batch_size=64),
    )


class WeightRecorder(Callback):
    """Copies the model's state dict at the end of every epoch (epoch -> {name: array})."""

    def __init__(self):
        self.weights = {}

    def on_epoch_end(self, state):
        self.weights[state.epoch] = {name: np.array(t) for name, t in state.model.state_dict().items()}


def _state_arrays(model):
    return {name: np.array(t) for name, t in model.state_dict().items()}


def test_fit_learns_moons_from_dataloaders():
    train_loader, val_loader = _moons(noise=0.1)
    model = nn.MLP([2, 32, 32, 2])
    history = fit(
        model,
        nn.CrossEntropyLoss(),
        optim.Adam(model.parameters(), lr=0.02),
        train_loader,
        val_loader,
        epochs=25,
        progress=False,
    )
    assert len(history) == 25
    assert history["epoch"] == list(range(1, 26))
    assert set(history.keys()) >= {"epoch", "lr", "time", "train_loss", "train_accuracy", "val_loss", "val_accuracy"}
    assert history["val_accuracy"][-1] >= 0.95
    assert history["train_loss"][-1] < 0.5 * history["train_loss"][0]
    # The reported validation accuracy is the real one over the whole validation set.
    model.eval()
    correct = sum(int(np.sum(np.argmax(np.asarray(model(x)), axis=1) == np.asarray(y))) for x, y in val_loader)
    assert history["val_accuracy"][-1] == pytest.approx(correct / len(val_loader.dataset))


def test_epoch_values_are_sample_weighted_means_over_the_loader():
    """A last batch smaller than the others counts for its size: epoch means equal the full-data values."""
    X, y = ag.datasets.make_moons(50, noise=0.1, seed=1)
    loader = ag.data.DataLoader(ag.data.TensorDataset(X.astype(np.float64), y), batch_size=16)
    model = nn.MLP([2, 4, 2]).double()
    loss_fn = nn.CrossEntropyLoss()
    history = fit(
        model, loss_fn, optim.SGD(model.parameters(), lr=0.1), loader, val_loader=loader, epochs=1, progress=False
    )
    model.eval()
    with ag.no_grad():
        output = model(ag.tensor(X.astype(np.float64)))
        full_loss = loss_fn(output, ag.tensor(y)).item()
    assert history["val_loss"][0] == pytest.approx(full_loss, rel=1e-12)
    assert history["val_accuracy"][0] == pytest.approx(np.mean(np.argmax(np.asarray(output), 1) == y))


def test_metrics_auto_custom_and_none():
    X = np.linspace(-1, 1, 40).reshape(-1, 1)
    loader = ag.data.DataLoader(ag.data.TensorDataset(X, 3 * X), batch_size=10)
    model = nn.Linear(1, 1).double()

    def max_error(output, target):
        return float(np.max(np.abs(np.asarray(output) - np.asarray(target))))

    regression = fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1), loader, epochs=2, progress=False)
    assert "train_accuracy" not in regression  # auto: outputs are not class scores
    custom = fit(
        model,
        nn.MSELoss(),
        optim.SGD(model.parameters(), lr=0.1),
        loader,
        epochs=1,
        progress=False,
        metrics={"max_error": max_error},
    )
    assert custom["train_max_error"][0] > 0
    named = fit(
        model,
        nn.MSELoss(),
        optim.SGD(model.parameters(), lr=0.1),
        loader,
        epochs=1,
        progress=False,
        metrics=[max_error],
    )
    assert "train_max_error" in named
    with pytest.raises(ValueError, match="unknown metric 'f1'"):
        fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1), loader, epochs=1, metrics=["f1"])


def test_early_stopping_restores_the_best_epochs_weights():
    # 24 noisy training points and a wide network at a high learning rate: validation loss soon rises.
    train_loader, val_loader = _moons(n=96, noise=0.35, seed=3, batch_size=8)
    model = nn.MLP([2, 128, 128, 2])
    recorder = WeightRecorder()
    stopper = EarlyStopping(patience=4)
    history = fit(
        model,
        nn.CrossEntropyLoss(),
        optim.Adam(model.parameters(), lr=0.02),
        train_loader,
        val_loader,
        epochs=60,
        callbacks=[recorder, stopper],
        progress=False,
    )
    best = history.best_epoch("val_loss")
    assert stopper.best_epoch == best
    assert len(history) == best + 4 < 60, "training should stop `patience` epochs after the best one"
    restored = _state_arrays(model)
    for name, array in recorder.weights[best].items():
        np.testing.assert_array_equal(restored[name], array)
    assert any(not np.array_equal(restored[name], a) for name, a in recorder.weights[len(history)].items())


def test_early_stopping_on_accuracy_uses_max_mode():
    stopper = EarlyStopping(patience=2, monitor="val_accuracy")
    assert stopper.mode == "max"
    with pytest.raises(ValueError, match="patience"):
        EarlyStopping(patience=-1)
    with pytest.raises(ValueError, match="mode"):
        EarlyStopping(mode="up")


def test_early_stopping_without_validation_says_what_is_missing():
    train_loader, _ = _moons(n=40)
    model = nn.MLP([2, 4, 2])
    with pytest.raises(ValueError, match=r"'val_loss' is not among .*val_loader"):
        fit(
            model,
            nn.CrossEntropyLoss(),
            optim.SGD(model.parameters(), lr=0.1),
            train_loader,
            epochs=2,
            callbacks=[EarlyStopping()],
            progress=False,
        )


def test_plateau_scheduler_is_fed_the_monitored_value():
    seen = []

    class SpyPlateau(optim.lr_scheduler.ReduceLROnPlateau):
        def step(self, metrics):
            seen.append(metrics)
            super().step(metrics)

    train_loader, val_loader = _moons(n=80)
    model = nn.MLP([2, 8, 2])
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    scheduler = SpyPlateau(optimizer, factor=0.5, patience=0, threshold=10.0)  # never "improves": halve each epoch
    history = fit(
        model, nn.CrossEntropyLoss(), optimizer, train_loader, val_loader, epochs=3, scheduler=scheduler, progress=False
    )
    assert seen == history["val_loss"]
    assert history["lr"] == [0.1, 0.05, 0.025]


def test_epoch_scheduler_and_per_batch_scheduler():
    train_loader, _ = _moons(n=64, batch_size=16)  # 3 batches per epoch
    model = nn.MLP([2, 8, 2])
    optimizer = optim.SGD(model.parameters(), lr=1.0)
    history = fit(
        model,
        nn.CrossEntropyLoss(),
        optimizer,
        train_loader,
        epochs=3,
        progress=False,
        scheduler=optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.1),
    )
    assert history["lr"] == pytest.approx([1.0, 0.1, 0.01])
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    one_cycle = optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.5, total_steps=3 * len(train_loader))
    fit(
        model,
        nn.CrossEntropyLoss(),
        optimizer,
        train_loader,
        epochs=3,
        progress=False,
        scheduler=one_cycle,
        scheduler_interval="batch",
    )
    assert one_cycle.last_epoch == 3 * len(train_loader)


def test_grad_clip_bounds_the_gradient_norm_at_every_step():
    norms = []

    class NormRecorder(Callback):
        def on_batch_end(self, state):
            norms.append(
                np.sqrt(sum(np.sum(np.asarray(p.grad).astype(np.float64) ** 2) for p in state.model.parameters()))
            )

    train_loader, _ = _moons(n=64)
    model = nn.MLP([2, 16, 2])
    fit(
        model,
        nn.CrossEntropyLoss(),
        optim.SGD(model.parameters(), lr=0.1),
        train_loader,
        epochs=2,
        grad_clip=1e-3,
        callbacks=[NormRecorder()],
        progress=False,
    )
    assert len(norms) == 2 * len(train_loader)
    assert max(norms) <= 1e-3 * (1 + 1e-4)


def _resumable_run(checkpoint, interrupt_at=None, resume=False):
    """A float64 run with shuffling, dropout, a scheduler, early stopping and a gradient monitor."""
    ag.manual_seed(0)
    train_loader, val_loader = _moons(n=160, dtype=np.float64)
    model = nn.MLP([2, 16, 16, 2], dropout=0.2).double()
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)

    class Interrupt(Callback):
        def on_batch_end(self, state):
            if (state.epoch, state.batch) == interrupt_at:
                raise KeyboardInterrupt

    monitor = GradientMonitor(model)
    callbacks = [Interrupt(), EarlyStopping(patience=20), monitor]
    history = fit(
        model,
        nn.CrossEntropyLoss(),
        optimizer,
        train_loader,
        val_loader,
        epochs=5,
        scheduler=scheduler,
        callbacks=callbacks,
        progress=False,
        checkpoint=checkpoint,
        resume=resume,
    )
    return model, optimizer, history, monitor


def _without_time(history):
    return [{k: v for k, v in row.items() if k != "time"} for row in history.rows]


def test_interrupted_fit_resumes_bit_for_bit(tmp_path, capsys):
    model_a, optimizer_a, history_a, monitor_a = _resumable_run(tmp_path / "uninterrupted.ckpt")
    checkpoint = tmp_path / "run.ckpt"
    with pytest.raises(KeyboardInterrupt):
        _resumable_run(checkpoint, interrupt_at=(3, 2))
    assert "resume=True" in capsys.readouterr().err
    assert ag.load(checkpoint)["epoch"] == 2
    model_b, optimizer_b, history_b, monitor_b = _resumable_run(checkpoint, resume=True)
    weights_a, weights_b = _state_arrays(model_a), _state_arrays(model_b)
    assert weights_a.keys() == weights_b.keys()
    for name in weights_a:
        np.testing.assert_array_equal(weights_a[name], weights_b[name], err_msg=name)
    state_a, state_b = optimizer_a.state_dict()["state"], optimizer_b.state_dict()["state"]
    for index in state_a:
        np.testing.assert_array_equal(state_a[index]["exp_avg_sq"], state_b[index]["exp_avg_sq"])
    assert _without_time(history_a) == _without_time(history_b)
    assert monitor_a.steps == monitor_b.steps
    assert monitor_a.records == monitor_b.records
    # A finished run resumed again trains no further.
    model_c, _, history_c, _ = _resumable_run(checkpoint, resume=True)
    assert len(history_c) == 5
    np.testing.assert_array_equal(_state_arrays(model_c)["0.linear.weight"], weights_a["0.linear.weight"])


def test_resume_without_a_checkpoint_file_starts_fresh_and_mismatches_are_refused(tmp_path):
    checkpoint = tmp_path / "new.ckpt"
    train_loader, _ = _moons(n=40)
    model = nn.MLP([2, 4, 2])
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    history = fit(
        model,
        nn.CrossEntropyLoss(),
        optimizer,
        train_loader,
        epochs=1,
        progress=False,
        checkpoint=checkpoint,
        resume=True,
    )
    assert len(history) == 1 and checkpoint.exists()
    with pytest.raises(ValueError, match="callbacks"):
        fit(
            model,
            nn.CrossEntropyLoss(),
            optimizer,
            train_loader,
            epochs=2,
            progress=False,
            checkpoint=checkpoint,
            resume=True,
            callbacks=[EarlyStopping(monitor="train_loss")],
        )
    ag.save({"weights": ag.zeros(2)}, tmp_path / "other.safetensors")
    with pytest.raises(ValueError, match="not a fit checkpoint"):
        fit(
            model,
            nn.CrossEntropyLoss(),
            optimizer,
            train_loader,
            epochs=2,
            progress=False,
            checkpoint=tmp_path / "other.safetensors",
            resume=True,
        )


@pytest.mark.parametrize(
    "overrides, error, message",
    [
        (dict(epochs=0), ValueError, "epochs must be a positive int"),
        (dict(epochs=2.5), ValueError, "epochs must be a positive int"),
        (dict(grad_clip=-1.0), ValueError, "grad_clip"),
        (dict(resume=True), ValueError, "resume=True needs checkpoint="),
        (dict(callbacks=[print]), TypeError, "Callback"),
        (dict(scheduler_interval="step"), ValueError, "scheduler_interval"),
        (dict(loss_fn="mse"), TypeError, "loss_fn must be callable"),
    ],
)
def test_fit_rejects_bad_arguments(overrides, error, message):
    train_loader, _ = _moons(n=40)
    model = nn.MLP([2, 4, 2])
    arguments = dict(
        model=model,
        loss_fn=nn.CrossEntropyLoss(),
        optimizer=optim.SGD(model.parameters(), lr=0.1),
        train_loader=train_loader,
        epochs=1,
        progress=False,
    )
    with pytest.raises(error, match=message):
        fit(**{**arguments, **overrides})


def test_batches_must_hold_inputs_and_targets():
    loader = ag.data.DataLoader(ag.data.TensorDataset(np.zeros((4, 2), dtype=np.float32)), batch_size=2)
    model = nn.Linear(2, 1)
    with pytest.raises(TypeError, match=r"tuple \(\*inputs, target\)"):
        fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1), loader, epochs=1, progress=False)


def test_progress_bar_is_quiet_off_a_terminal(capsys):
    train_loader, _ = _moons(n=40)
    model = nn.MLP([2, 4, 2])
    fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), train_loader, epochs=2, progress=True)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_history_json_round_trip_and_plot(tmp_path):
    train_loader, val_loader = _moons(n=80)
    model = nn.MLP([2, 8, 2])
    history = fit(
        model,
        nn.CrossEntropyLoss(),
        optim.Adam(model.parameters(), lr=0.01),
        train_loader,
        val_loader,
        epochs=3,
        progress=False,
    )
    path = history.save(tmp_path / "history.json")
    document = json.loads(path.read_text())
    assert [row["epoch"] for row in document["epochs"]] == [1, 2, 3]
    assert History.load(path).rows == history.rows
    assert history.plot(tmp_path / "training.png").read_bytes().startswith(PNG_SIGNATURE)
    with pytest.raises(KeyError, match="no column 'val_f1'"):
        history["val_f1"]
    with pytest.raises(ValueError, match="empty"):
        History().plot(tmp_path / "empty.png")


def test_history_saves_non_finite_values_as_null_and_loads_them_as_nan(tmp_path):
    history = History(
        [
            {"epoch": 1, "train_loss": float("nan"), "val_loss": float("inf")},
            {"epoch": 2, "train_loss": 0.5, "val_loss": 0.25},
        ]
    )
    path = history.save(tmp_path / "history.json")

    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")

    document = json.loads(path.read_text(), parse_constant=refuse)  # strict JSON: no NaN or Infinity
    assert document["epochs"][0] == {"epoch": 1, "train_loss": None, "val_loss": None}
    loaded = History.load(path)
    assert np.isnan(loaded["train_loss"][0]) and np.isnan(loaded["val_loss"][0])
    assert loaded.rows[1] == history.rows[1]


def test_an_optimizer_over_another_models_parameters_is_refused():
    train_loader, _ = _moons(n=40)
    model, other = nn.MLP([2, 4, 2]), nn.MLP([2, 4, 2])
    before = _state_arrays(model)
    with pytest.raises(ValueError, match="holds none of the model's 4 parameters"):
        fit(model, nn.CrossEntropyLoss(), optim.SGD(other.parameters(), lr=0.1), train_loader, epochs=1, progress=False)
    for name, value in _state_arrays(model).items():
        np.testing.assert_array_equal(value, before[name])


def test_a_checkpoint_that_cannot_be_written_is_refused_before_the_first_epoch(tmp_path):
    train_loader, _ = _moons(n=40)
    model = nn.MLP([2, 4, 2])
    a_file = tmp_path / "afile"
    a_file.write_text("")
    for path, message in (
        (tmp_path / "missing_dir" / "run.ckpt", "does not exist"),
        (a_file / "run.ckpt", "does not exist"),
        (tmp_path, "a directory"),
    ):
        epochs = []
        with pytest.raises(ValueError, match=message) as error:
            fit(
                model,
                nn.CrossEntropyLoss(),
                optim.SGD(model.parameters(), lr=0.1),
                train_loader,
                epochs=1,
                progress=False,
                checkpoint=path,
                callbacks=[_EpochCounter(epochs)],
            )
        assert str(path) in str(error.value) and epochs == []


class _EpochCounter(Callback):
    def __init__(self, epochs):
        self.epochs = epochs

    def on_epoch_begin(self, state):
        self.epochs.append(state.epoch)


def _checkpointed_sgd_run(checkpoint):
    """One epoch of SGD with momentum, a scheduler and early stopping, checkpointed; the loader shuffles with its
    own generator."""
    train_loader, val_loader = _moons(n=80, shuffle_seed=5)
    model = nn.MLP([2, 8, 2])
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    fit(
        model,
        nn.CrossEntropyLoss(),
        optimizer,
        train_loader,
        val_loader,
        epochs=1,
        progress=False,
        scheduler=optim.lr_scheduler.StepLR(optimizer, step_size=1),
        callbacks=[EarlyStopping()],
        checkpoint=checkpoint,
    )


def _numpy_global_keys():
    return np.random.get_state()[1].copy()  # noqa: NPY002  (fit's checkpoints save the legacy global state)


def _resume_is_refused(checkpoint, optimizer_class, message):
    """Resume from `checkpoint` with a fresh run and `optimizer_class`; check that it raises ValueError
    matching `message` and that nothing of the run was touched."""
    ag.manual_seed(1)
    train_loader, val_loader = _moons(n=80, seed=1, shuffle_seed=6)
    model = nn.MLP([2, 8, 2])
    optimizer = optimizer_class(model.parameters(), lr=0.05)
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=1)
    stopper = EarlyStopping()
    before = (
        _state_arrays(model),
        optimizer.state_dict(),
        scheduler.state_dict(),
        stopper.state_dict(),
        ag.default_generator.rng.bit_generator.state,
        _numpy_global_keys(),
        train_loader.state_dict(),
    )
    with pytest.raises(ValueError, match=message) as error:
        fit(
            model,
            nn.CrossEntropyLoss(),
            optimizer,
            train_loader,
            val_loader,
            epochs=3,
            progress=False,
            scheduler=scheduler,
            callbacks=[stopper],
            checkpoint=checkpoint,
            resume=True,
        )
    assert "Nothing was restored" in str(error.value)
    weights, optimizer_state, scheduler_state, stopper_state, generator, numpy_keys, loader_generator = before
    for name, value in _state_arrays(model).items():
        np.testing.assert_array_equal(value, weights[name])
    assert optimizer.state_dict() == optimizer_state and scheduler.state_dict() == scheduler_state
    assert stopper.state_dict() == stopper_state
    assert ag.default_generator.rng.bit_generator.state == generator
    np.testing.assert_array_equal(_numpy_global_keys(), numpy_keys)
    assert train_loader.state_dict() == loader_generator


def test_resuming_with_another_optimizer_is_refused_before_anything_is_restored(tmp_path):
    checkpoint = tmp_path / "sgd.ckpt"
    _checkpointed_sgd_run(checkpoint)
    _resume_is_refused(checkpoint, optim.Adam, "written with optimizer SGD and this call trains with Adam")


def _rewritten(saved, field, value):
    """`saved` with one field (a path of keys joined by "/") replaced, or removed when value is ...."""
    *parents, last = field.split("/")
    node = saved
    for key in parents:
        node = node[_key(node, key)]
    if value is ...:
        del node[_key(node, last)]
    else:
        node[_key(node, last)] = value
    return saved


def _key(node, key):
    """`key` as it indexes `node`: a position in a list, or an optimizer's integer parameter index."""
    return int(key) if key.isdigit() and (isinstance(node, list) or int(key) in node) else key


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("epoch", "2", "epoch must be an int >= 0, got '2'"),
        ("epoch", -5, "epoch must be an int >= 0, got -5"),
        ("epoch", True, "epoch must be an int >= 0"),
        ("epoch", 3, "history has 1 epochs but its epoch is 3"),
        ("stop_training", "no", "stop_training must be True or False"),
        ("optimizer_type", "Adam", "written with optimizer Adam and this call trains with SGD"),
        ("optimizer/param_groups", [], r"parameter groups of \[\] parameters, this one \[4\]"),
        ("scheduler_type", None, "written with scheduler None and this call has StepLR"),
        ("model/0.linear.weight", ag.zeros(3, 2), r"other shapes: 0.linear.weight \(3, 2\) \(here \(8, 2\)\)"),
        ("model/1.bias", ..., r"lacks \['1.bias'\]"),
        ("history", {"epochs": "one"}, "history is malformed"),
        ("callbacks", [], r"written with callbacks \[\] and this call has \['EarlyStopping'\]"),
        ("random/loaders", [None], "shuffling state of 1 loaders, this call has 2"),
        ("random/python", [3], "random states are malformed"),
        ("format", "autograd_core.fit/1", "its format is 'autograd_core.fit/1'"),
        ("history", ..., r"lacks the fields \['history'\]"),
        # Malformed in ways only the part's own load_state_dict detects, after the model (and more) has loaded:
        # what was loaded is rolled back.
        ("optimizer/state/0/momentum_buffer", ag.zeros(3), r"its optimizer state does not load \(ValueError: .*shape"),
        ("scheduler/base_lrs", "fast", "its scheduler state does not load"),
        ("callbacks/0/state/wait", "long", "its EarlyStopping callback state does not load"),
        ("random/numpy", ["MT19937", [1, 2], 0, 0, 0.0], "its random generators state does not load"),
        ("random/loaders/0/generators", [], "random generators state does not load .*holds 0 generators.* from 1"),
        ("random/loaders/1", 3, "its loader state 3 does not fit a DataLoader"),
    ],
)
def test_a_malformed_checkpoint_is_refused_before_anything_is_restored(tmp_path, field, value, message):
    checkpoint = tmp_path / "run.ckpt"
    _checkpointed_sgd_run(checkpoint)
    ag.save(_rewritten(ag.load(checkpoint), field, value), checkpoint)
    _resume_is_refused(checkpoint, optim.SGD, message)


class _LoggedMoons(ag.data.Dataset):
    """Moons that log every index they are asked for, so a test can read the order of the batches."""

    def __init__(self, n):
        self.X, self.y = ag.datasets.make_moons(n, noise=0.2, seed=3)
        self.log = []

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        self.log.append(i)
        return self.X[i], self.y[i]


_SHUFFLES = {
    "global generator": {},
    "seed": {"seed": 7},
    "generator": {"generator": "numpy"},
}


def _logged_run(checkpoint, epochs, shuffle, resume=False, scramble_global=False):
    """(batch order, weights) of a fit over a logged, shuffled loader, checkpointed at `checkpoint`."""
    ag.manual_seed(0)
    dataset = _LoggedMoons(48)
    options = {
        key: np.random.default_rng(7) if value == "numpy" else value for key, value in _SHUFFLES[shuffle].items()
    }
    loader = ag.data.DataLoader(dataset, batch_size=10, shuffle=True, **options)
    model = nn.MLP([2, 8, 2]).double()
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    if scramble_global:  # a restart's global generator is wherever it is: the checkpoint must put it back
        ag.manual_seed(12345)
    fit(
        model,
        nn.CrossEntropyLoss(),
        optimizer,
        loader,
        epochs=epochs,
        progress=False,
        checkpoint=checkpoint,
        resume=resume,
    )
    return dataset.log, _state_arrays(model)


@pytest.mark.parametrize("shuffle", list(_SHUFFLES))
def test_a_resumed_fit_shuffles_its_next_epochs_as_the_uninterrupted_one(tmp_path, shuffle):
    order, weights = _logged_run(tmp_path / "straight.ckpt", 4, shuffle)
    assert len(order) == 4 * 48
    first_half, _ = _logged_run(tmp_path / "resumed.ckpt", 2, shuffle)
    second_half, resumed_weights = _logged_run(tmp_path / "resumed.ckpt", 4, shuffle, resume=True, scramble_global=True)
    assert first_half + second_half == order
    assert order[2 * 48 : 3 * 48] != order[:48]  # the epochs differ: the test would see a replayed epoch
    for name in weights:
        np.testing.assert_array_equal(resumed_weights[name], weights[name], err_msg=name)
