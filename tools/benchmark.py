"""Speed of every bundle against a plain PyTorch loop, on generated data; writes OUT/benchmark.json and .md.

    python tools/benchmark.py --quick --out runs/benchmark_quick      # a few minutes: small data, one measured epoch
    python tools/benchmark.py --out runs/benchmark                    # more data, five measured epochs
    python tools/benchmark.py --quick --out O --bundles "['mnist_classification']"
    python tools/benchmark.py --quick --compile --out O                # the same, training through torch.compile
    python tools/benchmark.py --out O --overrides "{'num_workers': 8}"  # a train.yaml setting changed, every bundle
    python tools/benchmark.py --time_to_quality --data_root ../shared/data --max_minutes 30 --out O [--bundles ...]

Per bundle: train_samples_per_s (the bundle's train.yaml, validation off, after one warm-up epoch),
reference_samples_per_s (a plain loop: same network, loss, optimizer and batches, already in memory, run after each
measured epoch for as many steps), train_ratio and train_ratio_per_epoch, data_wait_fraction (share of the measured
epochs spent waiting for the next batch), step_ms (on a CPU, a measured step's milliseconds by phase, the trainer's and
the reference's), epoch_s_cached / epoch_s_plain (one epoch of the bundle's data loader vs a plain Dataset re-running
every transform), cache_mb (what the training cache holds), infer_ms_eager / infer_ms_torchscript /
infer_ms_eager_1_thread (one case through the inference config's inferer with the shipped weights), peak_rss_mb; and the
device. --time_to_quality: wall time of each train.yaml, as configured, to reach a validation figure on the real data
(MNIST 0.99 accuracy, DRIVE 0.78 Dice, LGG 0.85 per-patient DSC, liver 0.90 / 0.75 Dice). Not a test: nothing passes or
fails on speed.
"""

import fire

from bundle_tools.benchmark import run_suite, run_time_to_quality


def main(
    out: str = "runs/benchmark",
    quick: bool = False,
    bundles: list | None = None,
    compile: bool = False,
    overrides: dict | None = None,
    time_to_quality: bool = False,
    data_root: str = "../shared/data",
    max_minutes: float = 30.0,
) -> None:
    """Measure BUNDLES (default: all) and write OUT/benchmark.json and OUT/benchmark.md; with --time_to_quality,
    train each on the real data under DATA_ROOT until its validation figure reaches the target (or MAX_MINUTES) and
    write OUT/time_to_quality.json and .md instead (with the training cache's size). --compile: the trainers and the
    reference loops run their networks through torch.compile (compiled in the warm-up epoch). --overrides: train.yaml
    settings for every bundle (both modes), to measure a change before making it."""
    if time_to_quality:
        run_time_to_quality(out, data_root, bundles=bundles, max_minutes=max_minutes, overrides=overrides)
        print(f"written: {out}/time_to_quality.json, {out}/time_to_quality.md")
        return
    run_suite(out, quick=quick, bundles=bundles, compile=compile, overrides=overrides)
    print(f"written: {out}/benchmark.json, {out}/benchmark.md")


if __name__ == "__main__":
    fire.Fire(main)
