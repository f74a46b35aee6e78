"""The `autograd-core` command: demo, gradflow, viz, bench pass-through, --help, and every error path."""

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import autograd_core as ag
from autograd_core.cli import main
from autograd_core.cli.checks import UsageError, check_output_file

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="the Graphviz `dot` program is not installed")


def _svg_texts(path):
    return [element.text or "" for element in ET.parse(path).getroot().iter("{http://www.w3.org/2000/svg}text")]


@needs_dot
def test_demo_end_to_end_writes_every_file(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["demo", "--epochs", "2", "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    accuracy = float(printed.split("test accuracy: ")[1].split()[0])
    assert accuracy > 0.8  # two epochs of the default model already beat chance (0.1) by far
    for name in ("graph.svg", "training.png", "gradient_flow.png", "model.safetensors", "history.json"):
        assert f"wrote {out / name}" in printed
    texts = _svg_texts(out / "graph.svg")
    for name in ("0.linear.weight", "0.linear.bias", "1.weight", "1.bias"):
        assert name in texts
    assert any(text.startswith("|grad| = ") for text in texts)
    weights = ag.load(out / "model.safetensors")
    assert {name: t.shape for name, t in weights.items()} == {
        "0.linear.weight": (128, 64),
        "0.linear.bias": (128,),
        "1.weight": (10, 128),
        "1.bias": (10,),
    }
    history = json.loads((out / "history.json").read_text())
    assert [row["epoch"] for row in history["epochs"]] == [1, 2]
    assert history["epochs"][-1]["val_accuracy"] > 0.5
    for name in ("training.png", "gradient_flow.png"):
        assert (out / name).read_bytes().startswith(PNG_SIGNATURE)


@needs_dot
def test_demo_on_a_toy_dataset_with_options(tmp_path, capsys):
    out = tmp_path / "moons"
    argv = [
        "demo",
        "--dataset",
        "moons",
        "--epochs",
        "3",
        "--hidden",
        "8,8",
        "--activation",
        "tanh",
        "--optimizer",
        "SGD",
        "--lr",
        "0.1",
        "--batch-size",
        "32",
        "--seed",
        "3",
        "--dropout",
        "0",
        "--out",
        str(out),
        "--no-progress",
    ]
    assert main(argv) == 0
    assert "model MLP(2, 8, 8, 2) (tanh, dropout 0.0), sgd lr=0.1" in capsys.readouterr().out
    assert set(ag.load(out / "model.safetensors")) == {
        "0.linear.weight",
        "0.linear.bias",
        "1.linear.weight",
        "1.linear.bias",
        "2.weight",
        "2.bias",
    }


@needs_dot
def test_demo_cnn_trains_on_the_digits_as_images_and_draws_each_layer_as_a_cluster(tmp_path, capsys):
    out = tmp_path / "cnn"
    assert main(["demo", "--model", "cnn", "--epochs", "3", "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "model CNN conv16-pool-conv32-pool-MLP(64, 10) (relu, dropout 0.2), adam lr=0.003" in printed
    accuracy = float(printed.split("test accuracy: ")[1].split()[0])
    assert accuracy > 0.6  # chance is 0.1; three epochs reach about 0.88
    for name in ("graph.svg", "training.png", "gradient_flow.png", "model.safetensors", "history.json"):
        assert f"wrote {out / name}" in printed
    texts = _svg_texts(out / "graph.svg")
    for cluster in ("conv1", "pool1", "conv2", "pool2", "head"):
        assert cluster in texts  # each layer's cluster label
    for name in ("conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias"):
        assert name in texts
    weights = ag.load(out / "model.safetensors")
    assert {name: t.shape for name, t in weights.items()} == {
        "conv1.weight": (16, 1, 3, 3),
        "conv1.bias": (16,),
        "conv2.weight": (32, 16, 3, 3),
        "conv2.bias": (32,),
        "head.0.linear.weight": (64, 128),
        "head.0.linear.bias": (64,),
        "head.1.weight": (10, 64),
        "head.1.bias": (10,),
    }
    history = json.loads((out / "history.json").read_text())
    assert [row["epoch"] for row in history["epochs"]] == [1, 2, 3]


def _table_rows(printed):
    """The gradflow table's rows as {label: cells}; cells are separated by two or more spaces."""
    lines = printed.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("network"))
    rows = [re.split(r"\s{2,}", line) for line in lines[start + 1 :] if line and not line.startswith("wrote")]
    return rows


def test_gradflow_shows_vanishing_sigmoid_and_healthy_relu_he(tmp_path, capsys):
    argv = [
        "gradflow",
        "--depth",
        "20",
        "--width",
        "16",
        "--steps",
        "2",
        "--activation",
        "sigmoid",
        "relu",
        "--init",
        "he",
        "--out",
        str(tmp_path),
    ]
    assert main(argv) == 0
    rows = {row[0]: row for row in _table_rows(capsys.readouterr().out)}
    sigmoid, relu = rows["sigmoid, he init"], rows["relu, he init"]
    assert sigmoid[1] == relu[1] == "20"
    assert float(sigmoid[4]) < 1e-3 and sigmoid[5].startswith("vanishing in")  # first/last layer gradient norms
    assert 1e-2 < float(relu[4]) < 1e2 and relu[5] == "ok"
    assert (tmp_path / "gradient_flow.png").read_bytes().startswith(PNG_SIGNATURE)


def test_gradflow_default_grid_at_small_size(tmp_path, capsys):
    assert main(["gradflow", "--depth", "4", "--width", "8", "--steps", "2", "--out", str(tmp_path)]) == 0
    rows = _table_rows(capsys.readouterr().out)
    assert [(row[0], row[1]) for row in rows] == [
        ("sigmoid, xavier", "3"),
        ("sigmoid, xavier", "4"),
        ("relu, default init", "4"),
        ("relu, he init", "4"),
        ("sigmoid + batchnorm", "4"),
        ("relu + layernorm", "4"),
        ("sigmoid + residual", "4"),
        ("relu, normal:1 init", "4"),
    ]
    assert all(len(row) == 9 for row in rows)


@needs_dot
@pytest.mark.parametrize("grads", [False, True])
def test_viz_writes_the_graph(tmp_path, capsys, grads):
    path = tmp_path / "sub" / "graph.svg"
    assert main(["viz", "--model", "mlp:4,16,16,1", "--out", str(path)] + (["--grads"] if grads else [])) == 0
    assert f"wrote {path}" in capsys.readouterr().out
    texts = _svg_texts(path)
    for name in ("0.linear.weight", "1.linear.bias", "2.weight"):
        assert name in texts
    assert any(text.startswith("|grad| = ") for text in texts) == grads


def test_bench_passes_its_arguments_to_the_runner(monkeypatch):
    from autograd_core.benchmarks import runner

    received = []
    monkeypatch.setattr(runner, "main", lambda argv, prog: received.append((argv, prog)) or 7)
    assert main(["bench", "--quick", "--only", "mlp_small"]) == 7
    assert received == [(["--quick", "--only", "mlp_small"], "autograd-core bench")]


@pytest.mark.parametrize("command", ["demo", "gradflow", "viz"])
def test_help_of_each_command(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert f"usage: autograd-core {command}" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        ([], "the following arguments are required: COMMAND"),
        (["train"], "invalid choice: 'train'"),
        (["demo", "--dataset", "mnist"], "argument --dataset: invalid choice: 'mnist'"),
        (["demo", "--epochs", "-1"], "argument --epochs: must be >= 1, got -1"),
        (["demo", "--epochs", "0"], "argument --epochs: must be >= 1, got 0"),
        (["demo", "--epochs", "two"], "argument --epochs: expected an integer, got 'two'"),
        (["demo", "--hidden", "0"], "argument --hidden: layer sizes must be positive"),
        (["demo", "--hidden", "64,x"], "argument --hidden: expected comma-separated integers"),
        (["demo", "--activation", "swishy"], "argument --activation: unknown activation 'swishy'; choose from relu"),
        (["demo", "--optimizer", "lbfgs"], "argument --optimizer: unknown optimizer 'lbfgs'; choose from sgd"),
        (["demo", "--lr", "0"], "argument --lr: must be a finite number > 0"),
        (["demo", "--lr", "nan"], "argument --lr: must be a finite number > 0"),
        (["demo", "--dropout", "1"], "argument --dropout: must be in [0, 1)"),
        (["demo", "--batch-size", "0"], "argument --batch-size: must be >= 1"),
        (["demo", "--seed", "-3"], "argument --seed: must be >= 0"),
        (["demo", "--model", "rnn"], "argument --model: invalid choice: 'rnn'"),
        (
            ["demo", "--model", "cnn", "--dataset", "moons"],
            "--model cnn trains on 8x8 images and needs --dataset digits",
        ),
        (["gradflow", "--init", "glorot"], "argument --init: expected one of default, xavier, he, normal:STD"),
        (["gradflow", "--init", "normal:-1"], "argument --init: in 'normal:-1', STD must be a finite number > 0"),
        (["gradflow", "--init", "normal:"], "argument --init: expected one of"),
        (["gradflow", "--norm", "group"], "argument --norm: invalid choice: 'group'"),
        (["gradflow", "--depth", "0"], "argument --depth: must be >= 1"),
        (["gradflow", "--activation", "relu", "softmax"], "argument --activation: unknown activation 'softmax'"),
        (["viz"], "the following arguments are required: --model"),
        (["viz", "--model", "cnn:4,3"], "argument --model: expected KIND:SIZES with KIND in ('mlp',)"),
        (["viz", "--model", "mlp"], "argument --model: expected KIND:SIZES"),
        (["viz", "--model", "mlp:4"], "argument --model: an MLP needs at least an input and an output width"),
        (["viz", "--model", "mlp:4,-2,1"], "argument --model: layer sizes must be positive"),
    ],
)
def test_bad_options_exit_with_status_2_and_a_clear_message(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_out_of_the_wrong_kind_is_refused(tmp_path, capsys):
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")
    for argv, message in (
        (["demo", "--out", str(not_a_directory)], "exists and is not a directory"),
        (["gradflow", "--out", str(not_a_directory)], "exists and is not a directory"),
        (["viz", "--model", "mlp:2,1", "--out", str(tmp_path)], "is a directory; give the SVG"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err


def test_python_dash_m_runs_the_command_and_autograd_core_does_not_import_nn_optim_or_matplotlib():
    result = subprocess.run(
        [sys.executable, "-m", "autograd_core", "viz", "--help"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0 and "usage: autograd-core viz" in result.stdout
    probe = (
        "import sys, autograd_core, autograd_core.cli, autograd_core.benchmarks.runner; "
        "print(sorted({'nn', 'optim', 'matplotlib'} & set(sys.modules)))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "[]", result.stderr


def test_seeded_runs_are_reproducible(tmp_path):
    for name in ("a", "b"):
        assert (
            main(
                [
                    "demo",
                    "--dataset",
                    "circles",
                    "--epochs",
                    "2",
                    "--hidden",
                    "4",
                    "--out",
                    str(tmp_path / name),
                    "--no-progress",
                ]
            )
            == 0
        )
    first, second = (ag.load(tmp_path / name / "model.safetensors") for name in ("a", "b"))
    for key in first:
        np.testing.assert_array_equal(first[key].numpy(), second[key].numpy())


def _refused(argv, capsys):
    """The stderr of a command line refused with exit status 2 before any work (nothing on stdout)."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1, captured.err
    return captured.err.strip()


def test_outputs_that_cannot_be_written_are_refused_before_any_work(tmp_path, capsys):
    a_file = tmp_path / "afile"
    a_file.write_text("")
    for argv, message in (
        (["viz", "--model", "mlp:2,1", "--out", str(a_file / "g.svg")], f"{str(a_file)!r} is a file"),
        (["viz", "--model", "mlp:2,1", "--out", ""], "argument --out: expected the SVG file to write"),
        (["demo", "--out", str(a_file / "run")], f"{str(a_file)!r} is a file"),
        (["gradflow", "--out", str(a_file / "deeper" / "run")], f"{str(a_file)!r} is a file"),
        (["demo", "--out", ""], "argument --out: expected a directory, got an empty path"),
    ):
        error = _refused(argv, capsys)
        assert error.startswith(f"autograd-core {argv[0]}: error: ") and message in error, error
    assert a_file.read_text() == ""


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_an_out_that_is_a_pipe_or_a_link_to_one_is_refused_not_replaced(tmp_path, capsys):
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    link = tmp_path / "link"
    link.symlink_to(pipe)
    for argv, message in (
        (["viz", "--model", "mlp:2,1", "--out", str(pipe)], "exists and is not a regular file"),
        (["viz", "--model", "mlp:2,1", "--out", str(link)], "exists and is not a regular file"),
        (["demo", "--out", str(pipe)], "exists and is not a directory"),
        (["demo", "--out", str(link)], "exists and is not a directory"),
    ):
        error = _refused(argv, capsys)
        assert error.startswith(f"autograd-core {argv[0]}: error: argument --out: ") and message in error, error
    assert stat.S_ISFIFO(os.stat(pipe).st_mode) and os.readlink(link) == str(pipe)


@pytest.mark.skipif(not os.path.exists("/dev/null") or not os.path.isdir("/proc/self/fd"), reason="Linux paths")
def test_an_out_that_is_a_device_or_a_stream_is_refused(tmp_path):
    # The check alone (never the command): were it to let these through, the command would replace them.
    link = tmp_path / "stdout"
    link.symlink_to("/proc/self/fd/1")
    for path, message in (
        ("/dev/null", "exists and is not a regular file"),
        ("/dev/stdout", "is a link to a file descriptor"),
        (str(link), "is a link to a file descriptor"),
    ):
        with pytest.raises(UsageError, match=message):
            check_output_file(path, "SVG", "graph.svg")


@pytest.mark.parametrize(
    "argv, sizes",
    [
        (["viz", "--model", "mlp:10000000000,10000000000,1"], "(10000000000, 10000000000, 1) on 8 rows"),
        (["viz", "--model", "mlp:4,16,1", "--batch-size", "1000000000000"], "(4, 16, 1) on 1,000,000,000,000 rows"),
        (["demo", "--hidden", "100000000000"], "(64, 100000000000, 10)"),
        (["gradflow", "--width", "10000000000"], "(64, 10000000000, ... (22 widths))"),
    ],
)
def test_models_too_large_for_the_memory_are_refused_before_any_work(argv, sizes, tmp_path, capsys):
    error = _refused([*argv, "--out", str(tmp_path / "out")], capsys)
    assert f"an MLP {sizes}" in error and "needs at least" in error and "this machine has" in error, error
    assert not (tmp_path / "out").exists()


def test_a_model_that_fits_passes_the_memory_check():
    from autograd_core.cli import checks

    checks.check_mlp_fits([64, 128, 10], 512, "--hidden")
    assert checks.mlp_training_bytes([2, 3], 5) == 4 * (4 * (2 * 3 + 3) + 4 * 5 * (2 + 3))
