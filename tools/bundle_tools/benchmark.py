"""Speed of each bundle against a plain PyTorch loop: training throughput, data waiting, inference latency, memory.

Every bundle is measured in its own process (so that its peak RSS is its own) on data generated for the purpose: its
``train.yaml`` runs as configured (handlers, dataset, data loader) with validation switched off, and a reference loop
written here trains the same network with the same loss and optimizer on the same batches, already in memory: after
each measured epoch of the trainer, as many steps as the epoch had, so that machine drift affects both alike.
"""

from __future__ import annotations

import inspect
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from bundle_common.io import atomic_write_json, atomic_write_text
from bundle_common.networks import load_weights

from .bundle_cli import REPO_ROOT
from .registry import TOOLING, bundle_names

__all__ = [
    "device_name",
    "measure_bundle",
    "run_suite",
    "markdown_table",
    "time_to_quality",
    "run_time_to_quality",
]

FIELDS = (
    "train_samples_per_s",
    "reference_samples_per_s",
    "train_ratio",
    "data_wait_fraction",
    "epoch_s_cached",
    "epoch_s_plain",
    "cache_mb",
    "infer_ms_eager",
    "infer_ms_torchscript",
    "infer_ms_eager_1_thread",
    "peak_rss_mb",
)


# the phases of a training step that both the trainer and the reference loop time (``step_ms``)
NETWORK_PHASES = ("forward_and_loss", "backward", "optimizer")


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"cpu: {model}, {os.cpu_count()} cores, torch {torch.get_num_threads()} threads"


def _synchronize() -> None:
    """Wait for the GPU's queued work (CUDA runs asynchronously), so that a host clock read after it counts it."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _timed(fn: Callable[[], object], repeats: int) -> float:
    """Median milliseconds of ``fn`` over ``repeats`` runs after one warm-up run."""
    fn()
    times = []
    for _ in range(repeats):
        _synchronize()
        start = time.perf_counter()
        fn()
        _synchronize()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def _train_parser(bundle: Path, data: Path, work: Path, overrides: dict, epochs: int | None):
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config(bundle / "configs" / "train.yaml")
    settings = {
        "bundle_root": str(bundle),
        "dataset_dir": str(data),
        "output_dir": str(work / "runs"),
        "ckpt_dir": str(work / "models"),
        "epochs": epochs,
        "val_interval": 10**6,  # throughput of training alone
        "progress_bar": False,
        **overrides,
    }
    for key, value in settings.items():
        if value is not None:
            parser[key] = value
    return parser


def _plain(tensor: torch.Tensor) -> torch.Tensor:
    """A copy as a plain tensor (no MetaTensor bookkeeping in the reference loop)."""
    return tensor.as_tensor().clone() if hasattr(tensor, "as_tensor") else tensor.clone()


def _prepared_trainer(parser):
    """The bundle's trainer after ``initialize`` and every ``run`` step but the last (``$@train#trainer.run()``),
    as ``monai.bundle run`` would leave it just before training (e.g. metadata tracking switched off)."""
    parser.get_parsed_content("initialize")
    for index in range(len(parser["run"]) - 1):
        parser.get_parsed_content(f"run#{index}")
    return parser.get_parsed_content("train#trainer")


def _measure_training(
    parser, warmup_epochs: int, keep_batches: int, device: torch.device, compile: bool = False
) -> tuple[object, dict, dict]:
    """Run the bundle's trainer; after ``warmup_epochs``, count samples, time and the time spent waiting for data.
    After each measured epoch (outside its time) the reference loop of :func:`_reference_loop` trains for as many
    steps on the epoch's batches, so that both rates come from the same minutes of the machine and drift cancels.
    Returns the trainer, its clock and the reference's, each clock with a list of per-epoch samples per second."""
    from ignite.engine import Events

    trainer = _prepared_trainer(parser)
    clock = {"samples": 0, "wait": 0.0, "time": 0.0, "iterations": 0, "epoch_rates": [], "phases": None}
    reference_clock = {"samples": 0, "time": 0.0, "epoch_rates": [], "phases": None}
    batches: list = []
    marks: dict = {}
    reference: list = []  # the reference's step function, built after the first measured epoch

    def measuring(engine) -> bool:
        return engine.state.epoch > warmup_epochs

    if device.type == "cpu":  # on a GPU the host clock would time kernel launches, not the work
        clock["phases"] = _time_phases(trainer, measuring)
        reference_clock["phases"] = dict.fromkeys(NETWORK_PHASES, 0.0)

    @trainer.on(Events.EPOCH_STARTED)
    def epoch_started(engine):
        _synchronize()
        marks.update(epoch=time.perf_counter(), samples=0, iterations=0)

    @trainer.on(Events.GET_BATCH_STARTED)
    def get_batch_started(engine):
        marks["batch"] = time.perf_counter()

    @trainer.on(Events.GET_BATCH_COMPLETED)
    def get_batch_completed(engine):
        if measuring(engine):
            clock["wait"] += time.perf_counter() - marks["batch"]
            image, label = engine.state.batch["image"], engine.state.batch["label"]
            marks["samples"] += image.shape[0]
            marks["iterations"] += 1
            if len(batches) < keep_batches:
                batches.append((_plain(image), _plain(label)))

    @trainer.on(Events.EPOCH_COMPLETED)
    def epoch_completed(engine):
        if not measuring(engine):
            return
        _synchronize()
        seconds = time.perf_counter() - marks["epoch"]
        clock["time"] += seconds
        clock["samples"] += marks["samples"]
        clock["iterations"] += marks["iterations"]
        clock["epoch_rates"].append(marks["samples"] / seconds)
        if not reference:
            reference.append(_reference_loop(parser, trainer, device, compile))
            reference[0](*batches[0])  # warm-up (and compilation), not timed
        samples, seconds = _timed_steps(reference[0], batches, marks["iterations"], reference_clock["phases"])
        reference_clock["samples"] += samples
        reference_clock["time"] += seconds
        reference_clock["epoch_rates"].append(samples / seconds)

    trainer.run()
    return trainer, clock, reference_clock


def _time_phases(trainer, measuring: Callable) -> dict:
    """Seconds of the trainer's measured steps in ``prepare_batch``, forward pass and loss, backward pass and
    optimizer step, summed in the returned dict as the trainer runs (host clock: meaningful on a CPU)."""
    from monai.engines.utils import IterationEvents

    seconds = dict.fromkeys(("prepare_batch", *NETWORK_PHASES), 0.0)
    marks: dict = {}
    prepare_batch = trainer.prepare_batch

    def timed_prepare_batch(*args, **kwargs):
        marks["prepare"] = time.perf_counter()
        batch = prepare_batch(*args, **kwargs)
        marks["prepared"] = time.perf_counter()
        return batch

    trainer.prepare_batch = timed_prepare_batch
    for event, name in ((IterationEvents.LOSS_COMPLETED, "loss"), (IterationEvents.BACKWARD_COMPLETED, "backward")):
        trainer.add_event_handler(event, lambda engine, name=name: marks.__setitem__(name, time.perf_counter()))

    @trainer.on(IterationEvents.MODEL_COMPLETED)
    def add_up(engine):
        if measuring(engine):
            now = time.perf_counter()
            seconds["prepare_batch"] += marks["prepared"] - marks["prepare"]
            seconds["forward_and_loss"] += marks["loss"] - marks["prepared"]
            seconds["backward"] += marks["backward"] - marks["loss"]
            seconds["optimizer"] += now - marks["backward"]

    return seconds


def _reference_loop(parser, trainer, device: torch.device, compile: bool = False) -> Callable:
    """One training step of a plain PyTorch loop, as a function of an (image, label) batch: the same network (fresh),
    loss and optimizer as the trainer's, with mixed precision (autocast and a gradient scaler) where the trainer has
    it (its ``amp``, CUDA only); with ``compile``, the network goes through ``torch.compile``."""
    network = parser.get_parsed_content("network_def", lazy=False).to(device)
    model = torch.compile(network) if compile else network
    loss_function = parser.get_parsed_content("loss", lazy=False)
    accepted = inspect.signature(type(trainer.optimizer)).parameters
    settings = {k: v for k, v in trainer.optimizer.defaults.items() if k in accepted}
    optimizer = type(trainer.optimizer)(network.parameters(), **settings)
    amp = bool(trainer.amp) and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    network.train()

    def step(image, label, phases: dict | None = None):
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, enabled=amp):
            loss = loss_function(model(image.to(device)), label.to(device))
        forward = time.perf_counter()
        scaler.scale(loss).backward()
        backward = time.perf_counter()
        scaler.step(optimizer)
        scaler.update()
        if phases is not None:  # host clock: meaningful on a CPU
            phases["forward_and_loss"] += forward - start
            phases["backward"] += backward - forward
            phases["optimizer"] += time.perf_counter() - backward

    return step


def _timed_steps(step: Callable, batches: list, iterations: int, phases: dict | None = None) -> tuple[int, float]:
    """Samples and seconds of ``iterations`` calls of ``step`` on ``batches`` in turn (``phases``: see ``step``)."""
    _synchronize()
    samples, start = 0, time.perf_counter()
    for i in range(iterations):
        image, label = batches[i % len(batches)]
        step(image, label, phases)
        samples += image.shape[0]
    _synchronize()
    return samples, time.perf_counter() - start


def _step_ms(clock: dict, reference: dict) -> dict | None:
    """Milliseconds a measured step, by phase, of the trainer (``other``: the engine, its handlers, the rest) and of
    the reference loop; None on a GPU (see :func:`_time_phases`)."""
    if clock["phases"] is None:
        return None
    trainer = {"data_wait": clock["wait"], **clock["phases"]}
    trainer["other"] = clock["time"] - sum(trainer.values())
    steps = clock["iterations"]  # the reference took as many
    return {
        "trainer": {k: round(1000 * v / steps, 2) for k, v in trainer.items()},
        "reference": {k: round(1000 * v / steps, 2) for k, v in reference["phases"].items()},
    }


def _cache_mb(dataset) -> float | None:
    """MiB held by a ``CacheDataset``'s cache (the items after the deterministic transforms); None for no cache."""
    from bundle_common.data.cache import nbytes

    cache = getattr(dataset, "_cache", None)
    return None if cache is None else round(sum(nbytes(item) for item in cache) / 2**20, 1)


def _epoch_seconds(loader) -> float:
    start = time.perf_counter()
    for _ in loader:
        pass
    return time.perf_counter() - start


def _data_pipeline(loader) -> tuple[float, float]:
    """Seconds for one epoch of the trainer's data loader (cache filled) and of a plain ``Dataset`` + ``DataLoader``
    that runs every transform again, with MONAI's metadata tracking on (loading and resampling need it)."""
    from monai.data import DataLoader, Dataset, get_track_meta, set_track_meta

    cached = _epoch_seconds(loader)
    plain = DataLoader(
        Dataset(loader.dataset.data, loader.dataset.transform),
        batch_size=loader.batch_size,
        shuffle=True,
        num_workers=loader.num_workers,
        collate_fn=loader.collate_fn,
    )
    tracking = get_track_meta()
    set_track_meta(True)
    try:
        return cached, _epoch_seconds(plain)
    finally:
        set_track_meta(tracking)


def _sliding_window_of(inferer) -> object | None:
    """The ``SlidingWindowInferer`` an inferer is or wraps (flip averaging holds it as ``inferer``), or None; None
    for a ``SliceInferer`` too (a subclass whose window is one whole slice: nothing to sweep)."""
    from monai.inferers import SliceInferer, SlidingWindowInferer

    while inferer is not None and not isinstance(inferer, SlidingWindowInferer):
        inferer = getattr(inferer, "inferer", None)
    return None if isinstance(inferer, SliceInferer) else inferer


def _inference(
    bundle: Path, case_shape: Sequence[int], repeats: int, device: torch.device, sweep: bool = False
) -> dict:
    """Milliseconds for one case through the inference config's inferer with the shipped weights: eager, TorchScript,
    and eager on one thread; with ``sweep``, the plain sliding window (no flips) at overlaps 0.25 / 0.5 and
    ``sw_batch_size`` 1 / 4 around the configured ROI."""
    from monai.bundle import ConfigParser
    from monai.inferers import SimpleInferer

    parser = ConfigParser()
    parser.read_config(bundle / "configs" / "inference.yaml")
    parser["bundle_root"] = str(bundle)
    network = load_weights(parser.get_parsed_content("network_def"), bundle / "models" / "model.pt").to(device).eval()
    inferer = parser.get_parsed_content("inferer") if "inferer" in parser else SimpleInferer()  # MNIST: the default
    scripted = torch.jit.script(network)
    case = torch.rand(*case_shape, device=device)
    with torch.no_grad():
        result = {
            "infer_ms_eager": _timed(lambda: inferer(case, network), repeats),
            "infer_ms_torchscript": _timed(lambda: inferer(case, scripted), repeats),
        }
        if device.type == "cpu":
            threads = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                result["infer_ms_eager_1_thread"] = _timed(lambda: inferer(case, network), max(1, repeats // 2))
            finally:
                torch.set_num_threads(threads)
        window = _sliding_window_of(inferer) if sweep else None
        if window is not None:
            from monai.inferers import SlidingWindowInferer

            roi, sweep_ms = tuple(window.roi_size), {}
            for overlap in (0.25, 0.5):
                for batch in (1, 4):
                    plain = SlidingWindowInferer(roi, batch, overlap, mode=window.mode)
                    ms = _timed(lambda plain=plain: plain(case, network), 1)
                    sweep_ms[f"roi={roi} overlap={overlap} sw_batch_size={batch}"] = round(ms, 1)
            result["infer_ms_sliding_window"] = sweep_ms
    return result


def _cascade_full_ct(work: Path) -> dict:
    """Seconds and peak memory of the liver cascade (fine bundle's inference.yaml) on one generated full-size CT
    (512 x 512 x 200 at 0.78 x 0.78 x 1.6 mm), in a child process, as a user runs it."""
    from .bundle_cli import bundle_args
    from .data.synthetic_liver import write_synthetic_liver

    data = work / "full_ct"
    write_synthetic_liver(data, n_cases=1, shape=(512, 512, 200), spacing=(0.78, 0.78, 1.6), seed=0)
    bundle = REPO_ROOT / "bundles" / "liver_ct_fine_segmentation"
    words = bundle_args(
        "run",
        config_file=bundle / "configs" / "inference.yaml",
        bundle_root=bundle,
        input_dir=data / "imagesTr",
        output_dir=work / "full_ct_out",
    )
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "monai.bundle", *words], check=True, capture_output=True)
    return {
        "cascade_full_ct_s": round(time.perf_counter() - start, 1),
        "cascade_full_ct_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
    }


def measure_bundle(
    name: str,
    quick: bool = True,
    work: str | os.PathLike | None = None,
    compile: bool = False,
    overrides: dict | None = None,
) -> dict:
    """All figures of one bundle, measured in this process (see the module docstring). With ``compile``, the
    bundle's trainer runs with ``compile: true`` (MONAI's ``SupervisedTrainer`` wraps the network in
    ``torch.compile``) and the reference loop compiles its network too; compiling happens in the warm-up epoch.
    ``overrides``: more train.yaml settings (``{"num_workers": 8}``), to measure a change before making it."""
    spec = TOOLING[name]
    bundle = REPO_ROOT / "bundles" / name
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        tmp = Path(tmp)
        data = spec.make_data(tmp / "data", quick)
        sizes = spec.quick if quick else (spec.full if device.type == "cpu" else {})  # a GPU: the defaults
        settings = {**sizes, **({"train#trainer#compile": True} if compile else {}), **(overrides or {})}
        warmup, measured = (1, 1) if quick else (1, 5)
        parser = _train_parser(bundle, data, tmp, settings, warmup + measured)
        trainer, clock, reference = _measure_training(parser, warmup, 8 if quick else 32, device, compile)
        train_rate = round(clock["samples"] / clock["time"], 2)
        reference_rate = round(reference["samples"] / reference["time"], 2)
        cached, plain = _data_pipeline(trainer.data_loader)
    shape = spec.quick_case_shape if quick and spec.quick_case_shape else spec.case_shape
    result = {
        "train_samples_per_s": train_rate,
        "reference_samples_per_s": reference_rate,
        "train_ratio": round(train_rate / reference_rate, 3),  # of the two figures as written
        "train_ratio_per_epoch": [round(t / r, 3) for t, r in zip(clock["epoch_rates"], reference["epoch_rates"])],
        "data_wait_fraction": round(clock["wait"] / clock["time"], 4),
        "step_ms": _step_ms(clock, reference),
        "measured_iterations": clock["iterations"],
        "measured_samples": clock["samples"],
        "amp": bool(trainer.amp),  # the bundle's trainer (and so the reference loop) in mixed precision
        "epoch_s_cached": round(cached, 3),
        "epoch_s_plain": round(plain, 3),
        "cache_mb": _cache_mb(trainer.data_loader.dataset),
        "infer_case_shape": list(shape),
    }
    figures = _inference(bundle, shape, 2 if quick else 5, device, sweep=not quick)
    result.update({k: round(v, 1) if isinstance(v, float) else v for k, v in figures.items()})
    if name == "liver_ct_fine_segmentation" and not quick:
        with tempfile.TemporaryDirectory(dir=work) as tmp:
            result.update(_cascade_full_ct(Path(tmp)))
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    result["device"] = device_name(device)
    result["torch_compile"] = compile
    result["overrides"] = overrides or {}
    return result


def markdown_table(results: dict) -> str:
    """``benchmark.md``: one row a bundle, the figures of :data:`FIELDS` as columns."""
    rows = ["| bundle | " + " | ".join(FIELDS) + " |", "|---" * (len(FIELDS) + 1) + "|"]
    for name, figures in results["bundles"].items():
        if "error" in figures:
            rows.append(f"| {name} | " + f"failed: {figures['error']} |")
            continue
        rows.append(f"| {name} | " + " | ".join(str(figures.get(k, "")) for k in FIELDS) + " |")
    extra = []
    for name, figures in results["bundles"].items():
        for setting, ms in figures.get("infer_ms_sliding_window", {}).items():
            extra.append(f"| {name} | sliding window, no flips, {setting} | {ms} ms |")
        if "cascade_full_ct_s" in figures:
            extra.append(
                f"| {name} | cascade on a 512 x 512 x 200 CT (inference.yaml, child process) | "
                f"{figures['cascade_full_ct_s']} s, peak RSS {figures['cascade_full_ct_peak_rss_mb']} MB |"
            )
    if extra:
        rows += ["", "| bundle | inference setting | time |", "|---|---|---|", *extra]
    header = f"Device: {results['device']}. Command: `{results['command']}`.\n\n"
    return header + "\n".join(rows) + "\n"


def run_suite(
    out: str | os.PathLike,
    quick: bool = False,
    bundles: Sequence[str] | None = None,
    compile: bool = False,
    overrides: dict | None = None,
) -> dict:
    """Measure each bundle in a subprocess; write ``out/benchmark.json`` and ``out/benchmark.md``; return the JSON.
    ``compile``: training through ``torch.compile``; ``overrides``: train.yaml settings for every bundle (see
    :func:`measure_bundle`)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    names = list(bundles) if bundles else bundle_names()
    unknown = sorted(set(names) - set(TOOLING))
    if unknown:
        raise ValueError(f"unknown bundle(s) {unknown}; known: {sorted(TOOLING)}")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    command = "python tools/benchmark.py" + (" --quick" if quick else "") + (" --compile" if compile else "")
    command += f" --out {out}"
    if bundles:
        command += f' --bundles "{list(names)}"'
    if overrides:
        command += f' --overrides "{overrides}"'
    results = {
        "device": device_name(device),
        "quick": quick,
        "torch_compile": compile,
        "overrides": overrides or {},
        "command": command,
        "bundles": {},
    }
    settings = json.dumps(overrides or {})
    for name in names:
        with tempfile.TemporaryDirectory() as tmp:
            result_file = Path(tmp) / "result.json"
            code = (
                "import json, sys; from bundle_tools.benchmark import measure_bundle; "
                "json.dump(measure_bundle(sys.argv[1], sys.argv[2] == 'True', compile=sys.argv[4] == 'True', "
                "overrides=json.loads(sys.argv[5])), open(sys.argv[3], 'w'))"
            )
            start = time.perf_counter()
            run = subprocess.run(
                [sys.executable, "-c", code, name, str(quick), str(result_file), str(compile), settings],
                capture_output=True,
                text=True,
            )
            if run.returncode == 0:
                figures = json.loads(result_file.read_text())
            else:
                figures = {"error": (run.stderr.strip().splitlines() or ["exit status " + str(run.returncode)])[-1]}
            figures["wall_s"] = round(time.perf_counter() - start, 1)
        results["bundles"][name] = figures
        print(f"{name}: {json.dumps(figures)}", flush=True)
    atomic_write_json(out / "benchmark.json", results)
    atomic_write_text(out / "benchmark.md", markdown_table(results))
    return results


def time_to_quality(
    name: str, data_root: str | os.PathLike, max_minutes: float = 30.0, val_interval: int | None = None, **overrides
) -> dict:
    """Wall time for the bundle's train.yaml (its defaults; validation every ``val_interval`` epochs, by default the
    config's own) to reach the validation figure of its :data:`~bundle_tools.registry.TOOLING` entry on the real data
    under ``data_root``; it stops there, or after ``max_minutes`` of training with the best figure so far. MONAI's
    metadata tracking, which a bundle may switch off, is as before afterwards, for the next bundle."""
    from ignite.engine import Events
    from monai.data import get_track_meta, set_track_meta

    folder, target = TOOLING[name].shared_data, TOOLING[name].quality
    bundle = REPO_ROOT / "bundles" / name
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    track_meta = get_track_meta()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            settings = {"val_interval": val_interval, **overrides}
            parser = _train_parser(bundle, Path(data_root) / folder, Path(tmp), settings, epochs=None)
            trainer = _prepared_trainer(parser)
            validator = parser.get_parsed_content("validate#evaluator")
            marks = {"setup_s": time.perf_counter() - start, "reached": False, "best": -1.0, "epochs": 0}
            trained_from = time.perf_counter()

            @validator.on(Events.COMPLETED)
            def check_figure(engine):
                figure = float(engine.state.metrics[engine.state.key_metric_name])
                marks["best"] = max(marks["best"], figure)
                if figure >= target and not marks["reached"]:
                    marks.update(reached=True, epochs=trainer.state.epoch, train_s=time.perf_counter() - trained_from)
                    trainer.terminate()

            @trainer.on(Events.EPOCH_COMPLETED)
            def out_of_time(engine):
                marks["epochs"] = engine.state.epoch
                if time.perf_counter() - trained_from > 60 * max_minutes:
                    engine.terminate()

            trainer.run()
            marks.setdefault("train_s", time.perf_counter() - trained_from)
            cache_mb = _cache_mb(trainer.data_loader.dataset)
    finally:
        set_track_meta(track_meta)
    return {
        "target": target,
        "reached": marks["reached"],
        "best_figure": round(marks["best"], 4),
        "epochs": marks["epochs"],
        "seconds_to_target": round(marks["train_s"], 1) if marks["reached"] else None,
        "seconds_trained": round(marks["train_s"], 1),
        "setup_s": round(marks["setup_s"], 1),
        "cache_mb": cache_mb,  # the training cache
        "settings": {"val_interval": parser["val_interval"], **overrides},
        "device": device_name(device),
    }


def run_time_to_quality(
    out: str | os.PathLike,
    data_root: str | os.PathLike,
    bundles: Sequence[str] | None = None,
    max_minutes: float = 30.0,
    overrides: dict | None = None,
) -> dict:
    """:func:`time_to_quality` for each bundle (``overrides``: train.yaml settings for every bundle); writes
    ``out/time_to_quality.json`` and ``.md``; returns the JSON."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    names = list(bundles) if bundles else bundle_names()
    command = f"python tools/benchmark.py --time_to_quality --data_root {data_root} --max_minutes {max_minutes:g} "
    command += f"--out {out}" + (f' --bundles "{names}"' if bundles else "")
    command += f' --overrides "{overrides}"' if overrides else ""
    results = {"command": command, "bundles": {}}
    columns = [
        "target",
        "reached",
        "seconds to target",
        "epochs",
        "best figure",
        "seconds trained",
        "cache MiB",
        "device",
    ]
    rows = ["| bundle | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for name in names:
        figures = time_to_quality(name, data_root, max_minutes, **(overrides or {}))
        results["bundles"][name] = figures
        print(f"{name}: {json.dumps(figures)}", flush=True)
        cells = [figures[k] for k in ("target", "reached", "seconds_to_target", "epochs", "best_figure")]
        cells += [figures["seconds_trained"], figures["cache_mb"], figures["device"]]
        rows.append(f"| {name} | " + " | ".join("-" if c is None else str(c) for c in cells) + " |")
    atomic_write_json(out / "time_to_quality.json", results)
    atomic_write_text(out / "time_to_quality.md", f"Command: `{command}`.\n\n" + "\n".join(rows) + "\n")
    return results
