"""The atomic NIfTI writer behind the liver bundles' SaveImaged."""

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from monai.transforms import SaveImaged


def _prediction(tmp_path):
    affine = torch.diag(torch.tensor([-0.8, -0.8, 2.5, 1.0], dtype=torch.float64))
    values = torch.zeros(1, 6, 5, 4)
    values[0, 1:3, 2:4, 1:3] = 2
    return MetaTensor(values, affine=affine, meta={"filename_or_obj": str(tmp_path / "liver_3.nii.gz")})


def _save(tmp_path):
    return SaveImaged(
        "pred",
        output_dir=tmp_path / "out",
        output_postfix="seg",
        output_dtype=np.uint8,
        resample=False,
        separate_folder=False,
        print_log=False,
        writer="bundle_common.writers.AtomicNibabelWriter",  # as the configs name it
    )


def test_writes_the_nifti_with_its_affine_and_nothing_else(tmp_path):
    prediction = _prediction(tmp_path)
    _save(tmp_path)({"pred": prediction})
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["liver_3_seg.nii.gz"]
    written = nib.load(tmp_path / "out" / "liver_3_seg.nii.gz")
    assert written.get_data_dtype() == np.uint8
    np.testing.assert_allclose(written.affine, prediction.affine.numpy())
    np.testing.assert_array_equal(np.asanyarray(written.dataobj), prediction[0].numpy().astype(np.uint8))


def test_a_failed_write_leaves_the_folder_as_it_was(tmp_path, monkeypatch):
    import monai.data.image_writer as image_writer

    out = tmp_path / "out"
    out.mkdir()
    (out / "liver_3_seg.nii.gz").write_bytes(b"earlier result")

    def broken_save(obj, filename):
        with open(filename, "wb") as f:
            f.write(b"half a fi")
        raise OSError("disk full")

    monkeypatch.setattr(image_writer.nib, "save", broken_save)
    with pytest.raises(Exception, match="disk full"):
        _save(tmp_path)({"pred": _prediction(tmp_path)})
    assert sorted(p.name for p in out.iterdir()) == ["liver_3_seg.nii.gz"]
    assert (out / "liver_3_seg.nii.gz").read_bytes() == b"earlier result"


@pytest.mark.parametrize(
    ("source", "written"),
    [("liver_3.nii.gz", "liver_3_seg.nii.gz"), ("ct.nii", "ct_seg.nii.gz"), ("1.2.840.5", "1.2.840.5_seg.nii.gz")],
)
def test_output_names_keep_the_case_name_of_a_file_or_series_folder(tmp_path, source, written):
    from bundle_common.writers import case_name_formatter

    save = SaveImaged(
        "pred",
        output_dir=tmp_path / "out",
        output_postfix="seg",
        output_ext=".nii.gz",
        resample=False,
        separate_folder=False,
        print_log=False,
        writer="bundle_common.writers.AtomicNibabelWriter",
        output_name_formatter=case_name_formatter,
    )
    prediction = _prediction(tmp_path)
    prediction.meta["filename_or_obj"] = str(tmp_path / source)
    save({"pred": prediction})
    assert [p.name for p in (tmp_path / "out").iterdir()] == [written]
    default = SaveImaged("pred", output_dir=tmp_path / "default", output_postfix="seg", separate_folder=False)
    default.set_options(init_kwargs={"output_dtype": np.uint8})
    if source == "1.2.840.5":  # what MONAI's default formatter does with a dotted folder name
        default({"pred": prediction})
        assert [p.name for p in (tmp_path / "default").iterdir()] == ["1.2.840_seg.nii.gz"]
