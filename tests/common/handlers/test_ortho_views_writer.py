import nibabel as nib
import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from PIL import Image

from bundle_common.handlers import OrthoViewsWriter, ortho_views
from bundle_common.overlays import outline
from tests.conftest import decollating_engine

SHAPE = (20, 16, 10)  # X, Y, Z
RED, GREEN, MAGENTA, CYAN = [255, 0, 0], [0, 255, 0], [255, 0, 255], [0, 255, 255]
EXACT = {"min_panel_px": 0, "legend": False, "layout": "row"}  # one pixel per finest spacing, in a row, no legend
GREY = 128  # 25 HU in the window (-200, 250)


def _box(x: tuple[int, int], y: tuple[int, int], z: tuple[int, int], value: int = 1) -> np.ndarray:
    volume = np.zeros(SHAPE, np.uint8)
    volume[x[0] : x[1], y[0] : y[1], z[0] : z[1]] = value
    return volume


def _panels(views: np.ndarray, widths: tuple[int, int, int]) -> list[np.ndarray]:
    """The axial, coronal and sagittal panels of a picture, 4 gap columns apart."""
    starts = np.cumsum([0, widths[0] + 4, widths[1] + 4])
    return [views[:, s : s + w] for s, w in zip(starts, widths)]


def _is(panel: np.ndarray, colour) -> np.ndarray:
    return (panel == colour).all(axis=-1)


def _outlined(shape: tuple[int, int], rows: tuple[int, int], cols: tuple[int, int]) -> np.ndarray:
    mask = np.zeros(shape, bool)
    mask[rows[0] : rows[1], cols[0] : cols[1]] = True
    return outline(mask)


def test_anisotropic_spacing_gives_square_millimetre_pixels():
    ct = np.full(SHAPE, 25, np.int16)
    views = ortho_views(ct, np.diag([1.0, 1.0, 4.0, 1.0]), np.zeros((1, *SHAPE)), **EXACT)
    # axial 16 x 20; coronal 10 slices x 4 mm = 40 rows, 20 columns; sagittal 40 x 16; two gaps of 4 columns
    assert views.shape == (40, 20 + 4 + 20 + 4 + 16, 3) and views.dtype == np.uint8
    axial, coronal, sagittal = _panels(views, (20, 20, 16))
    assert (axial[:16] == GREY).all() and (axial[16:] == 0).all()  # top-aligned, padded black below
    assert (coronal == GREY).all() and (sagittal == GREY).all()
    assert (views[:, 20:24] == 64).all()


def test_prediction_outlined_red_through_its_centre():
    """A box x 4..8, y 3..7, z 2..4 (centroid 6, 5, 3)."""
    prediction = _box((4, 9), (3, 8), (2, 5))
    ct = np.full(SHAPE, 25, np.int16)
    axial, coronal, sagittal = _panels(
        ortho_views(ct, np.eye(4), torch.as_tensor(prediction)[None], **EXACT), (20, 20, 16)
    )
    # axial at z 3: rows 15 - y, columns 19 - x; coronal at y 5: rows 9 - z, columns 19 - x; sagittal at x 6:
    # rows 9 - z, columns 15 - y
    np.testing.assert_array_equal(_is(axial, RED), _outlined((16, 20), (8, 13), (11, 16)))
    np.testing.assert_array_equal(_is(coronal, RED)[:10], _outlined((10, 20), (5, 8), (11, 16)))
    np.testing.assert_array_equal(_is(sagittal, RED)[:10], _outlined((10, 16), (5, 8), (8, 13)))
    assert axial[10, 13].tolist() == [GREY] * 3  # the CT shows inside the outline


def test_label_green_tumour_outlined_and_empty_prediction_centres_on_label():
    label = _box((4, 9), (3, 8), (2, 5))
    label[5:8, 4:7, 3] = 2
    ct = np.full(SHAPE, 25, np.int16)
    axial, _, _ = _panels(ortho_views(ct, np.eye(4), np.zeros(SHAPE), label, **EXACT), (20, 20, 16))
    assert not _is(axial, RED).any()
    liver = _outlined((16, 20), (8, 13), (11, 16))
    tumour = _outlined((16, 20), (9, 12), (12, 15))
    np.testing.assert_array_equal(_is(axial, GREEN), liver & ~tumour)
    np.testing.assert_array_equal(_is(axial, CYAN), tumour)


def test_the_prediction_is_drawn_over_the_label_where_they_meet():
    prediction = _box((4, 9), (3, 8), (2, 5))
    label = _box((4, 9), (3, 10), (2, 5))  # two rows further anterior: shares the posterior and side borders
    axial, _, _ = _panels(ortho_views(np.zeros(SHAPE), np.eye(4), prediction, label, **EXACT), (20, 20, 16))
    assert axial[12, 13].tolist() == RED  # posterior border (y 3), both
    assert axial[8, 13].tolist() == RED  # the prediction's anterior border (y 7), inside the label
    assert axial[6, 13].tolist() == GREEN  # the label's anterior border (y 9)


def _markers(affine: np.ndarray) -> np.ndarray:
    """CT -1000 HU with bright voxels at index (1, 2, 5), (1, 8, 8) and (10, 1, 8); no prediction, so the slices
    cross at the volume's centre (10, 8, 5)."""
    ct = np.full(SHAPE, -1000, np.int16)
    ct[1, 2, 5] = ct[1, 8, 8] = ct[10, 1, 8] = 1000
    return ortho_views(ct, affine, np.zeros(SHAPE), **EXACT)


def _bright(panel: np.ndarray) -> list[tuple[int, int]]:
    return [tuple(int(i) for i in p) for p in np.argwhere(panel[..., 0] == 255)]


def test_lps_affine_shows_patient_right_on_the_left():
    """With diag(-1, -1, 1) index 0 is the patient's right-most and anterior-most voxel."""
    axial, coronal, sagittal = _panels(_markers(np.diag([-1.0, -1.0, 1.0, 1.0])), (20, 20, 16))
    assert _bright(axial) == [(2, 1)]  # right on the left, anterior at the top
    assert _bright(coronal) == [(1, 1)]  # superior at the top
    assert _bright(sagittal) == [(1, 1)]  # superior at the top, anterior on the left


def test_ras_affine_shows_patient_left_on_the_right():
    """With the identity index 0 is the patient's left-most and posterior-most voxel."""
    axial, coronal, sagittal = _panels(_markers(np.eye(4)), (20, 20, 16))
    assert _bright(axial) == [(13, 18)]
    assert _bright(coronal) == [(1, 18)]
    assert _bright(sagittal) == [(1, 14)]


def test_the_picture_does_not_depend_on_the_storage_order(rng):
    """The same patient stored with the axes permuted and flipped (and their affine to match) looks the same."""
    ct = rng.integers(-300, 300, SHAPE).astype(np.int16)
    prediction = _box((4, 9), (3, 8), (2, 5))
    prediction[5:8, 4:7, 3] = 2  # odd sizes: the slices cross at whole voxels, whatever the storage order
    affine = np.diag([0.8, 0.8, 2.5, 1.0])
    flip = np.diag([1.0, -1.0, 1.0, 1.0])
    flip[1, 3] = SHAPE[1] - 1
    stored = np.transpose(ct, (2, 0, 1))[:, :, ::-1]  # (Z, X, Y) with Y reversed
    stored_affine = (affine @ flip)[:, [2, 0, 1, 3]]
    expected = ortho_views(ct, affine, prediction, **EXACT)
    again = ortho_views(stored, stored_affine, np.transpose(prediction, (2, 0, 1))[:, :, ::-1], **EXACT)
    np.testing.assert_array_equal(again, expected)


def test_grids_must_match():
    with pytest.raises(ValueError, match=r"CT \(20, 16, 10\), prediction \(20, 16, 9\)"):
        ortho_views(np.zeros(SHAPE), np.eye(4), np.zeros((1, 20, 16, 9)), **EXACT)


def _nifti(folder, ct: np.ndarray, affine: np.ndarray):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "liver_3.nii.gz"
    nib.save(nib.Nifti1Image(ct, affine), path)
    return path


def test_handler_reads_the_original_ct(tmp_path, rng):
    affine = np.diag([-0.8, -0.8, 2.0, 1.0])
    ct = rng.integers(-300, 300, SHAPE).astype(np.int16)
    path = _nifti(tmp_path / "imagesTs", ct, affine)
    prediction = _box((4, 9), (3, 8), (2, 5))
    label = _box((5, 10), (3, 8), (2, 5), 2)
    pred = MetaTensor(torch.as_tensor(prediction)[None].float(), affine=torch.as_tensor(affine))
    pred.meta["filename_or_obj"] = str(path)
    cropped = MetaTensor(torch.zeros(1, 5, 5, 5), meta={"filename_or_obj": "elsewhere.nii.gz"})  # preprocessed
    engine = decollating_engine()
    OrthoViewsWriter(tmp_path / "out", window=(-100, 100)).attach(engine)
    batch = {"items": [{"image": cropped}], "outputs": [{"pred": pred, "label": torch.as_tensor(label)[None]}]}
    engine.run([batch], max_epochs=1)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["liver_3_views.png"]
    written = np.array(Image.open(tmp_path / "out" / "liver_3_views.png"))
    np.testing.assert_array_equal(written, ortho_views(ct, affine, prediction, label, window=(-100, 100)))
    assert _is(written, RED).any() and _is(written, CYAN).any()  # the labelled box is all tumour


def test_handler_falls_back_to_the_image_file_and_checks_the_grid(tmp_path):
    path = _nifti(tmp_path, np.zeros(SHAPE, np.int16), np.eye(4))
    image = MetaTensor(torch.zeros(1, 5, 5, 5), meta={"filename_or_obj": str(path)})
    writer = OrthoViewsWriter(tmp_path / "out", postfix="ortho")
    written = writer.write({"image": image, "pred": torch.as_tensor(_box((4, 9), (3, 8), (2, 5)))[None]})
    assert written == tmp_path / "out" / "liver_3_ortho.png"
    assert _is(np.array(Image.open(written)), RED).any() and not _is(np.array(Image.open(written)), GREEN).any()
    with pytest.raises(ValueError, match=r"liver_3\.nii\.gz: CT \(20, 16, 10\) differs from the prediction"):
        writer.write({"image": image, "pred": torch.zeros(1, 5, 5, 5)})
    with pytest.raises(ValueError, match=r"liver_3\.nii\.gz: .*label \(5, 5, 5\)"):
        writer.write({"image": image, "pred": torch.zeros(1, *SHAPE), "label": torch.zeros(1, 5, 5, 5)})


def test_small_or_coarse_cts_are_enlarged_and_a_legend_names_the_colours():
    prediction = _box((4, 9), (3, 8), (2, 5))
    label = _box((4, 9), (3, 8), (2, 5))
    bare = ortho_views(np.zeros(SHAPE), np.eye(4), prediction, **EXACT)
    views = ortho_views(np.zeros(SHAPE), np.eye(4), prediction, label, min_panel_px=100, layout="row")
    panels = views[: -(2 * 16 + 4)]  # the legend: a line for the prediction, one for the label
    assert panels.shape == (80, 100 + 4 + 100 + 4 + 80, 3)  # 20 mm (the longest side) across 100 pixels
    legend = views[-(2 * 16 + 4) :]
    for colour in (RED, MAGENTA, GREEN, CYAN):
        assert _is(legend, colour).any()
    assert views.shape[0] > bare.shape[0] and (legend[..., 0] == 255).any()
    without_label = ortho_views(np.zeros(SHAPE), np.eye(4), prediction, min_panel_px=100, layout="row")
    assert without_label.shape[0] == 80 + 16 + 4 and not _is(without_label[80:], GREEN).any()


def test_the_slices_cross_at_the_tumour_when_there_is_one():
    prediction = _box((4, 9), (3, 8), (2, 8))
    prediction[5:7, 4:6, 6:8] = 2  # a tumour in the upper slices of the liver
    ct = np.full(SHAPE, 25, np.int16)
    axial, _, _ = _panels(ortho_views(ct, np.eye(4), prediction, **EXACT), (20, 20, 16))
    assert _is(axial, MAGENTA).any()  # the axial slice is one through the tumour (z 6 or 7), not the liver's centre


def test_stacked_layout_puts_coronal_over_sagittal_beside_the_axial_panel():
    """The default: the coronal panel above the sagittal one, on the axial panel's right (a real CT, shorter than it
    is wide, then fills about the axial panel's height)."""
    ct = np.full(SHAPE, 25, np.int16)
    prediction = _box((4, 9), (3, 8), (2, 5))
    row = ortho_views(ct, np.eye(4), prediction, **EXACT)
    axial, coronal, sagittal = _panels(row, (20, 20, 16))
    stacked = ortho_views(ct, np.eye(4), prediction, min_panel_px=0, legend=False)
    assert stacked.shape == (10 + 4 + 10, 20 + 4 + 20, 3)  # the column: coronal 10, a grey row, sagittal 10
    np.testing.assert_array_equal(stacked[:16, :20], axial[:16])
    assert (stacked[16:, :20] == 0).all()  # black below the axial panel
    np.testing.assert_array_equal(stacked[:10, 24:44], coronal[:10])
    assert (stacked[10:14, 24:44] == 64).all()  # the grey row between
    np.testing.assert_array_equal(stacked[14:24, 24:40], sagittal[:10])
    assert (stacked[14:24, 40:44] == 0).all()  # black right of the narrower sagittal panel
    with pytest.raises(ValueError, match="layout"):
        ortho_views(ct, np.eye(4), prediction, layout="grid")
