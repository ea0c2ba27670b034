import csv
import json

import pytest
import torch
from ignite.engine import Engine, Events

from bundle_common.handlers import CaseTableWriter, MetricsJSONWriter, classification_row


def _engine(batches):
    """An engine whose batches and outputs look like a decollating MONAI evaluator's."""

    def step(engine, batch):
        engine.state.batch = batch["items"]
        return batch["outputs"]

    engine = Engine(step)

    @engine.on(Events.EPOCH_COMPLETED)
    def _metrics(engine):
        engine.state.metrics["val_accuracy"] = torch.tensor(0.75)

    return engine


def _batch(labels, predicted):
    items = [{"file": "f.png", "index": i} for i in range(len(labels))]
    outputs = []
    for label, p in zip(labels, predicted):
        probabilities = torch.full((10,), 0.02)
        probabilities[p] = 0.82
        outputs.append({"pred": probabilities, "label": torch.tensor(label)})
    return {"items": items, "outputs": outputs}


def test_case_table_and_metrics_json(tmp_path):
    batches = [_batch([1, 2], [1, 3]), _batch([4], [4])]
    engine = _engine(batches)
    CaseTableWriter(tmp_path, "per_case.csv", classification_row).attach(engine)
    MetricsJSONWriter(tmp_path, {"accuracy": "val_accuracy"}).attach(engine)
    engine.run(batches)
    with open(tmp_path / "per_case.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["label"], r["prediction"], r["correct"]) for r in rows] == [
        ("1", "1", "1"),
        ("2", "3", "0"),
        ("4", "4", "1"),
    ]
    assert float(rows[0]["probability"]) == pytest.approx(0.82)
    assert json.loads((tmp_path / "metrics.json").read_text()) == {"accuracy": 0.75, "n_cases": 3}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json", "per_case.csv"]  # no temporary files left
    engine.run(batches[:1])  # a second run starts a fresh table
    with open(tmp_path / "per_case.csv") as f:
        assert len(list(csv.DictReader(f))) == 2


def test_rows_without_labels_and_a_named_class_column():
    row = classification_row(
        {"file": "x.png", "index": torch.tensor(3)}, {"pred": torch.eye(10)[7], "label": None}, class_column="digit"
    )
    assert row == {"file": "x.png", "index": 3, "digit": 7, "probability": 1.0}


def test_missing_metric_is_named(tmp_path):
    batches = [_batch([1], [1])]
    engine = _engine(batches)
    MetricsJSONWriter(tmp_path, ["dice"]).attach(engine)
    with pytest.raises(KeyError, match=r"\['dice'\] were not computed"):
        engine.run(batches)
    assert not (tmp_path / "metrics.json").exists()
