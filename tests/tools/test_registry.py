"""Every bundle folder is found, and has its entry in the tooling's registry."""

from bundle_tools.registry import BUNDLES_DIR, TOOLING, bundle_dirs, bundle_names


def test_bundles_are_the_folders_with_metadata(tmp_path):
    for name in ("b_bundle", "a_bundle"):
        (tmp_path / name / "configs").mkdir(parents=True)
        (tmp_path / name / "configs" / "metadata.json").write_text("{}")
    (tmp_path / "notes").mkdir()  # no metadata: not a bundle
    assert bundle_names(tmp_path) == ["a_bundle", "b_bundle"]
    assert bundle_dirs(tmp_path) == [tmp_path / "a_bundle", tmp_path / "b_bundle"]


def test_every_bundle_folder_has_its_tooling_entry():
    """A new bundle folder fails here until it has an entry (docs/adding_a_bundle.md); the benchmark, the
    time-to-quality runs and the tests then pick it up."""
    assert sorted(TOOLING) == bundle_names() == sorted(p.name for p in BUNDLES_DIR.iterdir() if p.is_dir())


def test_every_entry_makes_data_where_its_bundle_reads_it(tmp_path):
    written = TOOLING["brain_mri_lgg_segmentation"].make_data(tmp_path, True)
    assert written == tmp_path / "kaggle_3m" and any(written.glob("*/*_mask.tif"))


def test_every_bundle_folder_is_in_a_demo():
    from bundle_tools.demo import DEMOS

    assert sorted(name for _, names, _ in DEMOS for name in names) == bundle_names()
