"""Fine-tuning the shipped MNIST weights on a few of scikit-learn's digits (8x8 scans, another source), against the
same training from random weights: writes OUT/finetune_digits.json and OUT/finetune_digits.md.

    python tools/finetune_digits.py --out runs/finetune_digits [--sizes "[50, 200, 1000]"] [--epochs 20]

For each size N, N training digits are drawn (seed 0) from the 1,438 training digits of
tools/make_digits_dataset.py's split; the bundle's own train.yaml trains on them (its defaults, --epochs E) with and
without --finetune True, and its evaluate.yaml scores each run's best weights on the 359 test digits neither saw.
"""

import json
from pathlib import Path

import fire

from bundle_common.io import atomic_write_json, atomic_write_text
from bundle_tools.bundle_cli import REPO_ROOT, run_bundle
from bundle_tools.data.digits import write_digits_dataset

BUNDLE = REPO_ROOT / "bundles" / "mnist_classification"


def _evaluate(data: Path, out: Path, ckpt_path: Path) -> float:
    config = BUNDLE / "configs" / "evaluate.yaml"
    run_bundle("run", config_file=config, bundle_root=BUNDLE, dataset_dir=data, eval_split="test",
               ckpt_path=ckpt_path, output_dir=out)  # fmt: skip
    return json.loads((out / "metrics.json").read_text())["accuracy"]


def main(out: str = "runs/finetune_digits", sizes: list | tuple = (50, 200, 1000), epochs: int = 20) -> dict:
    out = Path(out).resolve()
    results = {"epochs": epochs, "rows": []}
    data = out / "data_all"
    write_digits_dataset(data)
    results["shipped_no_training"] = _evaluate(data, out / "eval_shipped", BUNDLE / "models" / "model.pt")
    for n in sizes:
        data = out / f"data_{n}"
        write_digits_dataset(data, n_train=int(n))
        row = {"n_train": int(n)}
        for start in ("shipped", "random"):
            run = out / f"{start}_{n}"
            run_bundle("run", config_file=BUNDLE / "configs" / "train.yaml", bundle_root=BUNDLE, dataset_dir=data,
                       epochs=epochs, finetune=start == "shipped", ckpt_dir=run / "models", output_dir=run / "logs",
                       progress_bar=False)  # fmt: skip
            row[f"{start}_accuracy"] = _evaluate(data, run / "eval", run / "models" / "model.pt")
        results["rows"].append(row)
        print(json.dumps(row), flush=True)
    lines = [
        f"| training digits | fine-tuned from the shipped weights | from random weights ({epochs} epochs each) |",
        "| ---: | ---: | ---: |",
        *(f"| {r['n_train']} | {r['shipped_accuracy']:.4f} | {r['random_accuracy']:.4f} |" for r in results["rows"]),
        f"| 0 (the shipped weights as they are) | {results['shipped_no_training']:.4f} | |",
    ]
    atomic_write_json(out / "finetune_digits.json", results)
    atomic_write_text(out / "finetune_digits.md", "\n".join(lines) + "\n")
    return results


if __name__ == "__main__":
    fire.Fire(main)
