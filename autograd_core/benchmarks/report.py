"""Turn the runner's results (plain data) into results.json, results.md and results.png."""

import json
from pathlib import Path

from autograd_core.benchmarks.workloads import WORKLOADS

RATIO_BASELINE = "torch"
FALLBACK_BASELINE = "numpy"
"""Ratios are to torch eager; a run without torch falls back to the hand-written numpy."""

BUSY_LOAD_AVERAGE = 0.5
"""A 1-minute load average above this at the start means other processes competed for the CPUs."""

_CELL_FOR_STATUS = {
    "not installed": "not installed",
    "unsupported": "n/a",
    "loss mismatch": "LOSS MISMATCH",
    "error": "error",
}


def write(results, out_dir):
    """Write results.json, results.md and results.png into out_dir; returns their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "results.json", out_dir / "results.md", out_dir / "results.png"]
    paths[0].write_text(json.dumps(results, indent=2, default=_jsonable) + "\n")
    paths[1].write_text(markdown(results))
    plot(results, paths[2])
    return paths


def _jsonable(value):
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return value.tolist()
    raise TypeError(f"results.json: cannot store {type(value).__name__} {value!r}")


def median(results, workload, engine):
    """The engine's median seconds per step on the workload, or None when it was not timed."""
    result = results["workloads"][workload]["results"].get(engine)
    return result.get("median_s") if result else None


def ratio(results, workload, engine, baseline):
    """median(engine) / median(baseline) on the workload, or None when either was not timed."""
    numerator, denominator = median(results, workload, engine), median(results, workload, baseline)
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def baseline_of(results):
    """The engine the ratios are taken to: torch when it was timed anywhere, else numpy."""
    if any(median(results, w, RATIO_BASELINE) for w in results["workloads"]):
        return RATIO_BASELINE
    return FALLBACK_BASELINE


def _number(value):
    return f"{value:.0f}" if value >= 1000 else f"{value:.3g}"


def _times(value):
    """A ratio with two decimals, or two significant digits when it is below 0.1."""
    return f"{value:.2f}x" if value >= 0.1 else f"{value:.2g}x"


def _cell(results, workload, engine, baseline):
    result = results["workloads"][workload]["results"][engine]
    if result["status"] != "ok":
        return _CELL_FOR_STATUS[result["status"]]
    text = _number(WORKLOADS[workload].in_unit(result["median_s"]))
    value = ratio(results, workload, engine, baseline)
    return text if value is None else f"{text} ({_times(value)})"


def _table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def markdown(results):
    """The results as a Markdown report: how they were measured, the timings, first calls, engines,
    the loss check and (when measured) startup."""
    parts = [
        "# autograd-core benchmarks",
        *_method(results),
        _timing_table(results),
        *_blas_lines(results),
        "## Targets\nEach target's ratio of the two engines' median times in this run; n/a when either was not timed.",
        targets_table(results),
        "## First call (seconds)\nThe first step of a freshly built model, including tracing and "
        "JIT compilation; for compiled engines the compile time (first call minus a median step) "
        "is given too.",
        _first_call_table(results),
        "## Engines",
        _engines_table(results["engines"]),
        "## Loss check",
        _loss_check_text(results),
    ]
    if "startup" in results:
        parts += ["## Startup (fresh processes)", startup_text(results)]
    return "\n\n".join(parts) + "\n"


def _method(results):
    """The paragraphs saying where, when and how the results were measured (and whether under load)."""
    meta, machine, engines = results["meta"], results["machine"], results["engines"]
    baseline = baseline_of(results)
    baseline_label = engines.get(baseline, {}).get("label", baseline)
    blas = machine.get("blas") or {}
    parts = [
        f"Measured {meta['created']} on {machine['cpu']} ({machine['logical_cpus']} logical CPUs), "
        f"{meta['threads']} threads per library; Python {machine['python']}, numpy {machine['numpy']} "
        f"({blas.get('name', 'unknown BLAS')} {blas.get('version') or ''}). "
        f"Load average before/after: {_load(meta['load_average']['before'])} / "
        f"{_load(meta['load_average']['after'])}.",
        f"Each cell: median over {meta['timing']['repeats']} interleaved timed blocks (IQR in results.json), "
        f"and in parentheses the ratio to {baseline_label} (lower is faster). Every engine's losses and "
        f"gradients were checked against a float64 reference (numpy by hand; torch eager in float64 for "
        f"the conv and LSTM workloads) before it was timed.",
    ]
    busy = meta["load_average"]["before"][0]
    if busy > BUSY_LOAD_AVERAGE:
        parts.append(
            f"**Measured under load** (1-minute load average {busy:.2f} at the start): other "
            "processes competed for the CPUs, which hurts multi-threaded engines (torch, BLAS) "
            "most, so these ratios are not representative."
        )
    return parts


def _timing_table(results):
    engines = results["engines"]
    baseline = baseline_of(results)
    keys = list(engines)
    header = ["workload", "unit"] + [engines[k]["label"] for k in keys]
    rows = [
        [name, WORKLOADS[name].unit] + [_cell(results, name, k, baseline) for k in keys]
        for name in results["workloads"]
    ]
    return _table(header, rows)


def _label(results, engine):
    return results["engines"].get(engine, {}).get("label", engine)


def targets_table(results):
    rows = [
        [
            name,
            f"{_label(results, target['engine'])} <= {target['max_ratio']:.2f}x {_label(results, target['baseline'])}",
            "n/a" if target["ratio"] is None else _times(target["ratio"]),
            target["verdict"],
        ]
        for name, targets in results["targets"].items()
        for target in targets
    ]
    return _table(["workload", "target", "ratio", "verdict"], rows)


def _blas_lines(results):
    return [
        f"Raw BLAS on this machine ({name}'s inputs, numpy float32 matmul alone): "
        f"{entry['blas']['gflops']:.1f} GFLOP/s, {entry['blas']['matmul_s'] * 1e3:.2f} ms per "
        f"matmul; forward + backward is 3 matmuls."
        for name, entry in results["workloads"].items()
        if "blas" in entry
    ]


def _first_call_table(results):
    engines = results["engines"]
    rows = [
        [name] + [_first_call_cell(entry["results"][k]) for k in engines]
        for name, entry in results["workloads"].items()
    ]
    return _table(["workload"] + [engines[k]["label"] for k in engines], rows)


def _engines_table(engines):
    return _table(
        ["engine", "version", "whole step compiled", "status"],
        [
            [info["label"], info["version"] or "", "yes" if info["compiled"] else "no", info["status"]]
            for info in engines.values()
        ],
    )


def _load(triple):
    return ", ".join(f"{x:.2f}" for x in triple)


def _first_call_cell(result):
    if "first_call_s" not in result:
        return _CELL_FOR_STATUS.get(result["status"], "")
    text = f"{result['first_call_s']:.3g}"
    return f"{text} (compile {result['compile_s']:.3g})" if "compile_s" in result else text


def _loss_check_text(results):
    lines, worst = [], 0.0
    for name, entry in results["workloads"].items():
        for key, result in entry["results"].items():
            label = results["engines"][key]["label"]
            check = result.get("loss_check")
            if result["status"] == "error":
                lines.append(f"- {name} / {label}: error, not timed: {result['error']}")
            elif check and not check["ok"]:
                lines.append(f"- {name} / {label}: mismatch, not timed: {check['detail']}")
            elif check:
                worst = max(worst, check["max_loss_rel_error"])
    return "\n".join([f"Largest relative loss difference among engines that passed: {worst:.2g}."] + lines)


def startup_text(results):
    startup = results["startup"]
    workload = startup["workload"]
    rows = [["import autograd_core", f"{startup['import_s']['median']:.3f}", str(startup["import_s"]["n"])]]
    for engine, entry in startup["engines"].items():
        label = _label(results, engine)
        if "error" in entry:
            rows.append([f"{label}: first {workload} step", f"error: {entry['error']}", "0"])
            continue
        for cache in ("cold", "warm"):
            stats = entry["first_step_s"][cache]
            rows.append(
                [f"{label}: first {workload} step, {cache} Numba cache", f"{stats['median']:.3f}", str(stats["n"])]
            )
        stats = entry["second_step_s"]
        rows.append([f"{label}: second {workload} step (for scale)", f"{stats['median']:.3f}", str(stats["n"])])
    targets = [
        f"- {_label(results, t['engine'])}, first {workload} step with a {t['cache']} Numba cache under "
        f"{t['max_s']:g} s: {t['verdict']}" + ("" if t["seconds"] is None else f" ({t['seconds']:.3f} s)")
        for t in startup.get("targets", [])
    ]
    return "\n\n".join(
        [
            f"Backend: {startup['backend']}. Medians in seconds over fresh processes.",
            _table(["measure", "median (s)", "n"], rows),
            *(["\n".join(targets)] if targets else []),
        ]
    )


def plot(results, path):
    """Grouped bars of each engine's ratio to the baseline per workload, log scale, a line at 1."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    baseline = baseline_of(results)
    engines = [k for k in results["engines"] if k != baseline]
    workloads = list(results["workloads"])
    figure = Figure(figsize=(max(6, 1.6 * len(workloads) + 3), 5), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    width = 0.8 / max(len(engines), 1)
    for i, key in enumerate(engines):
        positions, heights = [], []
        for j, name in enumerate(workloads):
            value = ratio(results, name, key, baseline)
            if value is not None:
                positions.append(j + (i - (len(engines) - 1) / 2) * width)
                heights.append(value)
        axes.bar(positions, heights, width, label=results["engines"][key]["label"])
    baseline_label = results["engines"].get(baseline, {}).get("label", baseline)
    axes.axhline(1.0, color="black", linewidth=1, label=baseline_label)
    axes.set_yscale("log")
    axes.set_xticks(range(len(workloads)), workloads, rotation=20)
    axes.set_ylabel(f"time / {baseline_label} time (log; lower is faster)")
    axes.set_title(f"autograd-core and peers, time relative to {baseline_label}")
    axes.legend(fontsize="small", ncols=2)
    figure.savefig(path, dpi=120)
