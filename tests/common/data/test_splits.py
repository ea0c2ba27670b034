import numpy as np
import pytest

from bundle_common.data.splits import fold_mask, fold_of_groups, holdout_mask, split_items, validation_mask
from bundle_common.errors import BundleInputError

PATIENTS = [f"TCGA_{i:02d}" for i in range(31)]


def test_folds_are_disjoint_cover_every_case_once_and_differ_in_size_by_one():
    folds = fold_of_groups(PATIENTS, 5)
    assert sorted(folds) == sorted(PATIENTS)
    sizes = np.bincount(list(folds.values()), minlength=5)
    assert sizes.sum() == 31 and sizes.max() - sizes.min() <= 1
    masks = np.stack([fold_mask(PATIENTS, k, 5) for k in range(5)])
    assert (masks.sum(axis=0) == 1).all()  # every case in exactly one fold's validation


def test_folds_do_not_depend_on_the_listing_order():
    shuffled = list(np.random.default_rng(7).permutation(PATIENTS))
    assert fold_of_groups(shuffled, 5) == fold_of_groups(PATIENTS, 5)
    assert fold_of_groups(PATIENTS, 5, seed=1) != fold_of_groups(PATIENTS, 5)


def test_items_of_one_group_share_a_fold_and_never_train_and_validate_at_once():
    slices = [p for p in PATIENTS for _ in range(3)]  # three slices a patient
    for k in range(5):
        held_out = fold_mask(slices, k, 5)
        validation = {g for g, v in zip(slices, held_out) if v}
        training = {g for g, v in zip(slices, held_out) if not v}
        assert validation and not validation & training


def test_no_fold_means_the_usual_holdout():
    assert (validation_mask(PATIENTS, 0.2, 0) == holdout_mask(PATIENTS, 0.2, 0)).all()
    assert (validation_mask(PATIENTS, 0.2, 0, fold=2) == fold_mask(PATIENTS, 2, 5)).all()


@pytest.mark.parametrize(
    "fold, num_folds, message",
    [(5, 5, "--fold"), (-1, 5, "--fold"), ("1", 5, "--fold"), (0, 1, "--num_folds"), (0, 32, "more folds than cases")],
)
def test_bad_folds_are_one_clear_error(fold, num_folds, message):
    with pytest.raises(BundleInputError, match=message):
        fold_mask(PATIENTS, fold, num_folds)


def test_split_items_gives_the_train_validation_and_out_of_fold_parts():
    items = [{"patient": p, "slice": s} for p in PATIENTS for s in range(2)]
    validation = split_items(items, "patient", "validation", 0.2, fold=3)
    train = split_items(items, "patient", "train", 0.2, fold=3)
    assert validation == [i for i, v in zip(items, fold_mask([i["patient"] for i in items], 3, 5)) if v]
    assert len(train) + len(validation) == len(items) and not {i["patient"] for i in train} & {
        i["patient"] for i in validation
    }
    folds = fold_of_groups(PATIENTS, 5)
    assert split_items(items, "patient", "oof", 0.2) == [{**i, "fold": folds[i["patient"]]} for i in items]
    with pytest.raises(ValueError, match="'all'"):
        split_items(items, "patient", "all", 0.2)
