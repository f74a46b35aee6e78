"""The benchmark runner: a --quick run writes valid outputs, and the loss check keeps
an engine that computes something else out of the timings. No timing thresholds.
Also: the package ships inside autograd_core, importing it changes nothing, and an
installed wheel runs `autograd-core bench`."""

import copy
import importlib.util
import json
import os
import subprocess
import sys
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import autograd_core as ag
from autograd_core.benchmarks import THREAD_ENV_VARS, report, runner, startup
from autograd_core.benchmarks.engines import Engine, all_engines
from autograd_core.benchmarks.engines.autograd_core_compiled import compile_step
from autograd_core.benchmarks.engines.numpy_by_hand import ENGINES as NUMPY_ENGINES
from autograd_core.benchmarks.workloads import WORKLOADS, make_problem

REPO_ROOT = Path(__file__).resolve().parents[1]
HAVE_TORCH = importlib.util.find_spec("torch") is not None
CI_ENGINES = ["numpy", "autograd_core", "autograd_core_compiled"] + (["torch"] if HAVE_TORCH else [])
TINY_WORKLOADS = ["elementwise_1e4", "op_chain"]
NUMPY_ELEMENTWISE = NUMPY_ENGINES[0].workloads["elementwise"]


def _run(tmp_path, *args):
    assert runner.main(["--quick", "--repeats", "2", "--out", str(tmp_path), *args]) == 0
    return json.loads((tmp_path / "results.json").read_text())


def _fake_engine(key, builder=None, load=lambda: "0"):
    return Engine(key=key, label=key, load=load, workloads={"elementwise": builder} if builder else {})


def _with_engines(monkeypatch, *fakes):
    engines = dict(all_engines(), **{fake.key: fake for fake in fakes})
    monkeypatch.setattr(runner, "all_engines", lambda: engines)


def test_quick_run_writes_json_markdown_and_png(tmp_path):
    results = _run(tmp_path, "--only", *TINY_WORKLOADS, "--engines", *CI_ENGINES)

    assert list(results["workloads"]) == TINY_WORKLOADS
    for name in TINY_WORKLOADS:
        entry = results["workloads"][name]
        assert entry["unit"] == WORKLOADS[name].unit
        for key in CI_ENGINES:
            result = entry["results"][key]
            assert result["status"] == "ok", (name, key, result)
            assert result["loss_check"]["ok"]
            assert result["n"] == 2 and result["median_s"] > 0 and result["iqr_s"] >= 0
            assert result["q1_s"] <= result["median_s"] <= result["q3_s"]
            assert result["first_call_s"] > 0
    for key in CI_ENGINES:
        assert results["engines"][key]["status"] == "ok" and results["engines"][key]["version"]
    assert results["machine"]["threads"]["pinned"] == 2
    assert results["machine"]["logical_cpus"] >= 1
    for name in TINY_WORKLOADS:
        targets = results["targets"][name]
        assert [(t["engine"], t["baseline"], t["max_ratio"]) for t in targets] == runner.TARGETS[name]
        for target in targets:
            if not HAVE_TORCH:
                assert target["ratio"] is None and target["verdict"] == "n/a"
                continue
            assert target["verdict"] in ("PASS", "MISS")
            timed = results["workloads"][name]["results"]
            expected = timed[target["engine"]]["median_s"] / timed[target["baseline"]]["median_s"]
            assert target["ratio"] == pytest.approx(expected)

    markdown = (tmp_path / "results.md").read_text()
    table_rows = [line for line in markdown.splitlines() if line.startswith("| ")]
    assert any(row.startswith("| workload | unit |") for row in table_rows)
    for name in TINY_WORKLOADS:
        assert any(row.startswith(f"| {name} | {WORKLOADS[name].unit} |") for row in table_rows)
    target_rows = [row for row in table_rows if " <= " in row]
    assert len(target_rows) == sum(len(runner.TARGETS[name]) for name in TINY_WORKLOADS)
    assert "| elementwise_1e4 | autograd-core compiled <= 0.30x " in markdown

    from matplotlib.image import imread

    image = imread(tmp_path / "results.png")
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100


def test_engine_with_wrong_loss_is_reported_and_not_timed(tmp_path, monkeypatch):
    def off_by_one_percent(problem):
        step, grads = NUMPY_ELEMENTWISE(problem)
        return (lambda: step() * 1.01), grads

    def missing():
        raise ImportError("No module named 'imaginary'")

    _with_engines(monkeypatch, _fake_engine("wrong", off_by_one_percent), _fake_engine("absent", load=missing))
    results = _run(tmp_path, "--only", "elementwise_1e4", "--engines", "numpy", "wrong", "absent")

    outcome = results["workloads"]["elementwise_1e4"]["results"]
    assert outcome["numpy"]["status"] == "ok" and outcome["numpy"]["loss_check"]["ok"]
    assert outcome["wrong"]["status"] == "loss mismatch"
    assert not outcome["wrong"]["loss_check"]["ok"]
    assert "loss" in outcome["wrong"]["loss_check"]["detail"]
    assert "median_s" not in outcome["wrong"]
    assert outcome["absent"] == {"status": "not installed"}
    assert results["engines"]["absent"]["status"] == "not installed"
    markdown = (tmp_path / "results.md").read_text()
    assert "LOSS MISMATCH" in markdown and "not installed" in markdown


def test_engine_with_right_loss_but_wrong_gradient_is_caught(tmp_path, monkeypatch):
    def doubled_gradient(problem):
        step, grads = NUMPY_ELEMENTWISE(problem)
        return step, lambda: [2 * g for g in grads()]

    _with_engines(monkeypatch, _fake_engine("wrong_grad", doubled_gradient))
    results = _run(tmp_path, "--only", "elementwise_1e4", "--engines", "wrong_grad")

    outcome = results["workloads"]["elementwise_1e4"]["results"]["wrong_grad"]
    assert outcome["status"] == "loss mismatch"
    assert "gradient 0" in outcome["loss_check"]["detail"]


def test_engine_that_raises_is_reported_as_error(tmp_path, monkeypatch):
    def broken(problem):
        raise ValueError("matmul: shapes (3, 4) and (5, 2) are not aligned")

    _with_engines(monkeypatch, _fake_engine("broken", broken))
    results = _run(tmp_path, "--only", "elementwise_1e4", "--engines", "numpy", "broken")

    outcome = results["workloads"]["elementwise_1e4"]["results"]
    assert outcome["broken"]["status"] == "error"
    assert "not aligned" in outcome["broken"]["error"]
    assert outcome["numpy"]["status"] == "ok"


def test_loss_check_rejects_gradient_of_wrong_shape():
    reference = dict(losses=[1.0], grads=[[np.ones(3)]])
    check = runner.loss_check([1.0], [[np.ones(4)]], reference, loss_rtol=1e-4)
    assert not check["ok"] and "shape" in check["detail"]
    assert runner.loss_check([1.0 + 1e-7], [[np.ones(3) * (1 + 1e-6)]], reference, loss_rtol=1e-4)["ok"]
    assert not runner.loss_check([1.001], [[np.ones(3)]], reference, loss_rtol=1e-4)["ok"]


def test_loss_check_compares_the_gradients_of_every_step():
    """A compiled engine's first step runs eagerly; a wrong gradient in a later (replayed) step is caught."""
    reference = dict(losses=[1.0, 1.0], grads=[[np.ones(3)], [np.ones(3)]])
    assert runner.loss_check([1.0, 1.0], [[np.ones(3)], [np.ones(3)]], reference, loss_rtol=1e-4)["ok"]
    accumulated = runner.loss_check([1.0, 1.0], [[np.ones(3)], [2 * np.ones(3)]], reference, loss_rtol=1e-4)
    assert not accumulated["ok"]
    assert accumulated["detail"] == "step 2 gradient 0 off by 1.73 (norm 1.73)"


def test_bad_arguments_are_rejected():
    with pytest.raises(SystemExit):
        runner.parse_args(["--only", "no_such_workload"])
    with pytest.raises(SystemExit):
        runner.parse_args(["--repeats", "0"])


# The smallest workload of each kind (the kind decides the code that runs).
ONE_PER_KIND = ["mlp_small", "micrograd_demo", "elementwise_1e4", "op_chain", "matmul_1024", "lenet5", "lstm"]
TORCH_REFERENCED = ["lenet5", "lstm"]


def test_one_per_kind_covers_every_kind():
    assert {WORKLOADS[name].kind for name in ONE_PER_KIND} == {w.kind for w in WORKLOADS.values()}


@pytest.mark.parametrize("name", ONE_PER_KIND)
def test_float64_reference_agrees_with_torch(name):
    """The oracle every engine is checked against is itself checked against PyTorch."""
    pytest.importorskip("torch")
    workload = WORKLOADS[name]
    problem = make_problem(workload, seed=1)
    reference = runner.reference(workload, problem)
    torch_engine = all_engines()["torch"]
    torch_engine.load()
    _, _, check = runner.checked_step(torch_engine, workload, problem, reference)
    assert check["ok"], check["detail"]


@pytest.mark.parametrize("name", TORCH_REFERENCED)
def test_conv_and_lstm_workloads_pass_the_quick_check_on_autograd_core_and_torch(name, tmp_path):
    pytest.importorskip("torch")
    results = _run(tmp_path, "--only", name, "--engines", "autograd_core", "torch", "numpy")

    entry = results["workloads"][name]
    assert entry["reference"] == "torch, float64"
    assert entry["results"]["numpy"] == {"status": "unsupported"}
    for key in ("autograd_core", "torch"):
        result = entry["results"][key]
        assert result["status"] == "ok", (key, result)
        assert result["loss_check"]["max_grad_rel_error"] < 1e-4
        assert result["n"] == 2 and result["median_s"] > 0
    [target] = results["targets"][name]
    assert target["engine"] == "autograd_core" and target["max_ratio"] == 1.0
    assert target["verdict"] in ("PASS", "MISS")


@pytest.mark.parametrize("name", ONE_PER_KIND)
def test_the_compiled_engine_matches_the_eager_engine_step_by_step(name):
    """Losses and gradients of every check step; from the second on they come from the compiled program."""
    workload = WORKLOADS[name]
    problem = make_problem(workload, seed=1)
    engines = all_engines()
    eager, compiled = engines["autograd_core"], engines["autograd_core_compiled"]
    eager.load()
    eager.activate()
    expected_losses, expected_grads, _ = runner.check_steps(*eager.workloads[workload.kind](copy.deepcopy(problem)))
    compiled.activate()
    step, grads = compiled.workloads[workload.kind](copy.deepcopy(problem))
    losses, step_grads, _ = runner.check_steps(step, grads)

    np.testing.assert_allclose(losses, expected_losses, rtol=1e-5)
    for s, (got, want) in enumerate(zip(step_grads, expected_grads), start=1):
        assert len(got) == len(want) > 0
        for i, (g, w) in enumerate(zip(got, want)):
            # by norm, as the runner checks: fused float32 loops round differently from op-by-op numpy
            assert g.shape == w.shape
            assert np.linalg.norm(g - w) <= 1e-5 * np.linalg.norm(w), f"step {s} gradient {i}"


def test_a_compiled_step_that_would_fall_back_to_eager_is_an_error_not_a_timing(tmp_path, monkeypatch):
    def reads_its_loss_inside(problem):
        x = ag.tensor(problem["x"], requires_grad=True)

        def train_step():
            x.grad = None
            loss = (x.sigmoid() * x.tanh() + x.relu()).sum()
            loss.backward()
            return loss.item()  # plain ag.compile would warn and run this eagerly from now on

        return compile_step(train_step), lambda: [x.grad.numpy()]

    _with_engines(monkeypatch, replace(_fake_engine("reads_item", reads_its_loss_inside), compiled=True))
    results = _run(tmp_path, "--only", "elementwise_1e4", "--engines", "numpy", "reads_item")

    outcome = results["workloads"]["elementwise_1e4"]["results"]["reads_item"]
    assert outcome["status"] == "error"
    assert outcome["error"].startswith("CompileError: ag.compile(fullgraph=True): .item() reads a tensor's values")
    assert "median_s" not in outcome and "compile_s" not in outcome
    assert results["workloads"]["elementwise_1e4"]["results"]["numpy"]["status"] == "ok"


def test_every_target_of_a_workload_gets_its_verdict_and_its_row():
    results = dict(
        engines=dict(
            torch=dict(label="torch eager"),
            autograd_core=dict(label="autograd-core"),
            autograd_core_compiled=dict(label="autograd-core compiled"),
        ),
        workloads=dict(
            mlp_small=dict(
                results=dict(
                    torch=dict(median_s=2.0),
                    autograd_core=dict(median_s=0.6),
                    autograd_core_compiled=dict(median_s=0.8),
                )
            )
        ),
    )
    [eager, compiled, versus_jax] = runner.target_verdicts(results)["mlp_small"]
    assert (eager["engine"], eager["baseline"], eager["ratio"], eager["verdict"]) == (
        "autograd_core",
        "torch",
        pytest.approx(0.3),
        "PASS",
    )
    assert (compiled["engine"], compiled["ratio"], compiled["verdict"]) == (
        "autograd_core_compiled",
        pytest.approx(0.4),
        "MISS",
    )
    assert (versus_jax["baseline"], versus_jax["ratio"], versus_jax["verdict"]) == ("jax", None, "n/a")

    results["targets"] = runner.target_verdicts(results)
    assert report.targets_table(results).splitlines()[2:] == [
        "| mlp_small | autograd-core <= 0.35x torch eager | 0.30x | PASS |",
        "| mlp_small | autograd-core compiled <= 0.30x torch eager | 0.40x | MISS |",
        "| mlp_small | autograd-core compiled <= 1.00x jax | n/a | n/a |",
    ]


def test_startup_measures_the_compiled_first_step_with_a_cold_and_a_warm_cache():
    measured = startup.measure_startup(runs=1, pairs=1, workload="elementwise_1e4", engines=["autograd_core_compiled"])

    assert measured["workload"] == "elementwise_1e4" and measured["backend"] == ag.backend.get()
    assert measured["import_s"]["n"] == 1 and measured["import_s"]["median"] > 0
    entry = measured["engines"]["autograd_core_compiled"]
    for cache in ("cold", "warm"):
        assert entry["first_step_s"][cache]["n"] == 1 and entry["first_step_s"][cache]["median"] > 0
    assert entry["second_step_s"]["n"] == 2
    assert runner.startup_verdicts(measured) == []  # the first-call targets are mlp_small's


def test_startup_verdicts_and_their_lines():
    def first_step(cold, warm):
        return dict(first_step_s=dict(cold=dict(median=cold, n=1), warm=dict(median=warm, n=1)))

    measured = dict(
        workload="mlp_small",
        backend="numba",
        import_s=dict(median=0.2, n=1),
        engines=dict(autograd_core_compiled=dict(first_step(4.0, 0.6), second_step_s=dict(median=0.001, n=2))),
    )
    verdicts = runner.startup_verdicts(measured)
    assert [(v["cache"], v["max_s"], v["seconds"], v["verdict"]) for v in verdicts] == [
        ("cold", 5.0, 4.0, "PASS"),
        ("warm", 0.5, 0.6, "MISS"),
    ]
    measured["targets"] = verdicts
    measured["engines"]["autograd_core"] = dict(error="ValueError: no such op")
    text = report.startup_text(dict(startup=measured, engines=dict(autograd_core_compiled=dict(label="compiled"))))
    assert "| compiled: first mlp_small step, warm Numba cache | 0.600 | 1 |" in text
    assert "| autograd_core: first mlp_small step | error: ValueError: no such op | 0 |" in text
    assert "- compiled, first mlp_small step with a warm Numba cache under 0.5 s: MISS (0.600 s)" in text


def test_a_torch_referenced_workload_without_torch_is_reported_not_timed(tmp_path, monkeypatch):
    def missing():
        raise ImportError("No module named 'torch'")

    _with_engines(monkeypatch, replace(all_engines()["torch"], load=missing))
    results = _run(tmp_path, "--only", "lstm", "--engines", "autograd_core")

    outcome = results["workloads"]["lstm"]["results"]["autograd_core"]
    assert outcome["status"] == "error"
    assert "no float64 reference (torch, float64)" in outcome["error"] and "torch" in outcome["error"]
    assert "median_s" not in outcome


def test_importing_the_benchmarks_changes_no_environment_variable():
    probe = (
        "import os; before = dict(os.environ); import autograd_core.benchmarks.runner, "
        "autograd_core.benchmarks.kernels; print(dict(os.environ) == before)"
    )
    env = {key: value for key, value in os.environ.items() if key not in THREAD_ENV_VARS}
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120)
    assert result.stdout.strip() == "True", result.stderr


def test_a_run_pins_the_threads_and_then_restores_the_environment(tmp_path, monkeypatch):
    for var in THREAD_ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    results = _run(tmp_path, "--only", "elementwise_1e4", "--engines", "numpy")
    assert results["machine"]["threads"]["env"] == {var: "2" for var in THREAD_ENV_VARS}
    assert os.environ["OMP_NUM_THREADS"] == "7"
    assert not any(var in os.environ for var in THREAD_ENV_VARS if var != "OMP_NUM_THREADS")


def _pip_or_skip(*arguments):
    done = subprocess.run([sys.executable, "-m", "pip", *arguments, "-q"], capture_output=True, text=True, timeout=300)
    if done.returncode != 0:  # no pip or no setuptools here: nothing to say about the package
        pytest.skip(f"pip {arguments[0]} failed: {done.stderr[-500:]}")


@pytest.fixture(scope="module")
def installed_wheel(tmp_path_factory):
    """The project built as a wheel and installed into a folder of its own (no dependencies)."""
    pytest.importorskip("setuptools")
    wheels, site = tmp_path_factory.mktemp("wheel"), tmp_path_factory.mktemp("site")
    _pip_or_skip("wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(REPO_ROOT))
    _pip_or_skip("install", "--no-deps", "--target", str(site), *map(str, wheels.glob("*.whl")))
    return next(wheels.glob("*.whl")), site


def test_the_wheel_ships_the_benchmarks_inside_autograd_core(installed_wheel):
    wheel, _ = installed_wheel
    top_level = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert {"autograd_core", "nn", "optim"} <= top_level
    assert "benchmarks" not in top_level


def test_bench_runs_from_the_installed_wheel_outside_the_repository(installed_wheel, tmp_path):
    _, site = installed_wheel
    env = {**os.environ, "PYTHONPATH": str(site), "AUTOGRAD_CORE_BACKEND": "numpy"}
    where = subprocess.run(
        [sys.executable, "-c", "import autograd_core; print(autograd_core.__file__)"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert where.stdout.startswith(str(site)), where.stdout + where.stderr  # the installed copy, not the checkout
    command = [sys.executable, "-m", "autograd_core", "bench"]
    shown = subprocess.run(command + ["--help"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert shown.returncode == 0 and "usage: autograd-core bench" in shown.stdout, shown.stderr
    ran = subprocess.run(
        command + ["--quick", "--repeats", "1", "--only", "elementwise_1e4", "--engines", "numpy", "--out", "results"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert ran.returncode == 0, ran.stderr
    results = json.loads((tmp_path / "results" / "results.json").read_text())
    assert results["workloads"]["elementwise_1e4"]["results"]["numpy"]["status"] == "ok"


def test_the_lstm_gemm_floor_prints_every_shape_and_the_totals(capsys):
    pytest.importorskip("torch")
    from autograd_core.benchmarks import lstm_gemms

    assert lstm_gemms.main(["--repeats", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(lstm_gemms.step_gemms(np.random.default_rng(0))) + 1
    assert lines[-1].startswith("every GEMM of a step") and "numpy" in lines[-1] and "torch" in lines[-1]
