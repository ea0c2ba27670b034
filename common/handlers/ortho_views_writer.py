"""A picture per CT volume: axial, coronal and sagittal slices through the predicted tumour (else the liver), liver and
tumour outlined on the CT in four colours, with a legend."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import nibabel as nib
import numpy as np
import torch

from ..arrays import as_numpy
from ..data.dicom import load_ct
from ..data.task03 import nifti_case_name
from ..io import atomic_save_picture
from ..overlays import outline
from .items import decollated_pairs, merged_item

__all__ = ["OUTLINES", "OrthoViewsWriter", "ortho_views"]

_GAP = 4  # dark grey columns between the panels
_GAP_GREY = 64
_TUMOUR = 2
# outline colours, drawn in this order (the prediction's over the label's where they meet)
OUTLINES = (
    ("label", "liver", (0, 255, 0)),  # green
    ("label", "tumour", (0, 255, 255)),  # cyan
    ("prediction", "liver", (255, 0, 0)),  # red
    ("prediction", "tumour", (255, 0, 255)),  # magenta
)
_LEGEND_ROW = 16  # pixels a legend line


def _label_map(value, what: str) -> np.ndarray:
    """An (X, Y, Z) array from a (1, X, Y, Z) or (X, Y, Z) tensor or array."""
    array = as_numpy(value)
    if array.ndim == 4 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 3:
        raise ValueError(f"the {what} should be a label map (1, X, Y, Z) or (X, Y, Z), not {array.shape}.")
    return array


def _centre(masks: Sequence[np.ndarray | None], shape: tuple[int, ...]) -> tuple[int, int, int]:
    """Voxel index of the centroid of the first non-empty ``mask > 0``; the volume's centre when all are empty."""
    for mask in masks:
        if mask is None:
            continue
        foreground = mask > 0
        count = np.count_nonzero(foreground)
        if count:
            centre = []
            for axis in range(3):
                profile = foreground.sum(axis=tuple(a for a in range(3) if a != axis))
                centre.append(int(round(float(profile @ np.arange(profile.size)) / count)))
            return tuple(centre)
    return tuple(n // 2 for n in shape)


def _ras_slice(volume, ornt: np.ndarray, centre: tuple[int, int, int], ras_axis: int) -> np.ndarray:
    """The slice through ``centre`` across RAS axis ``ras_axis``, its two other axes in RAS order and direction.

    Only that slice is read, so ``volume`` may be a nibabel image's ``dataobj``.
    """
    axis = int(np.flatnonzero(ornt[:, 0] == ras_axis)[0])
    index = [slice(None)] * 3
    index[axis] = slice(centre[axis], centre[axis] + 1)
    thin = np.asarray(volume[tuple(index)])
    return np.squeeze(nib.orientations.apply_orientation(thin, ornt), axis=ras_axis)


def _displayed(ras: np.ndarray) -> np.ndarray:
    """A RAS slice (a, b) as seen by a reader: b (anterior / superior) upwards, a (right / anterior) leftwards."""
    return ras[::-1, ::-1].T


def _resized(picture: np.ndarray, size: tuple[int, int], resample) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(picture).resize(size, resample=resample))


def _panel(
    ct,
    prediction: np.ndarray,
    label: np.ndarray | None,
    ornt: np.ndarray,
    centre: tuple[int, int, int],
    ras_axis: int,
    ras_extent: np.ndarray,
    pixel_mm: float,
    window: Sequence[float],
) -> np.ndarray:
    """One RGB panel: the CT slice in the HU window, square pixels of ``pixel_mm``, outlines drawn.

    ``ras_extent`` is the volume's size in mm along the RAS axes.
    """
    from PIL import Image

    across = [a for a in range(3) if a != ras_axis]  # the displayed panel's columns, then rows
    size = tuple(max(1, round(float(ras_extent[a]) / pixel_mm)) for a in across)
    low, high = float(window[0]), float(window[1])
    hu = _displayed(_ras_slice(ct, ornt, centre, ras_axis)).astype(np.float32)
    grey = (np.clip((hu - low) / (high - low), 0.0, 1.0) * 255).round().astype(np.uint8)
    picture = np.repeat(_resized(grey, size, Image.BILINEAR)[..., None], 3, axis=-1)

    def _map(volume: np.ndarray) -> np.ndarray:
        values = np.clip(_displayed(_ras_slice(volume, ornt, centre, ras_axis)), 0, 255).astype(np.uint8)
        return _resized(values, size, Image.NEAREST)

    maps = {"prediction": _map(prediction), "label": None if label is None else _map(label)}
    for source, part, colour in OUTLINES:
        if maps[source] is not None:
            region = maps[source] > 0 if part == "liver" else maps[source] == _TUMOUR
            picture[outline(region)] = colour
    return picture


def _legend(width: int, with_label: bool) -> np.ndarray:
    """A dark strip naming the outline colours, one line per source, as wide as the picture."""
    from PIL import Image, ImageDraw

    rows = [r for r in ("prediction", "label") if r == "prediction" or with_label]
    strip = Image.new("RGB", (width, _LEGEND_ROW * len(rows) + 4), (_GAP_GREY,) * 3)
    draw = ImageDraw.Draw(strip)
    for line, source in enumerate(rows):
        x, y = 4, 2 + line * _LEGEND_ROW
        for entry, part, colour in OUTLINES:
            if entry != source:
                continue
            draw.rectangle([x, y + 3, x + 9, y + 12], outline=colour, width=2)
            text = f"{source} {part}"
            draw.text((x + 14, y + 2), text, fill=(255, 255, 255))
            x += 14 + int(draw.textlength(text)) + 16
    return np.asarray(strip)


def _join(panels: Sequence[np.ndarray], axis: int) -> np.ndarray:
    """Panels in a row (``axis`` 1, top-aligned) or a column (``axis`` 0, left-aligned), ``_GAP`` dark grey pixels
    between them, black beyond the smaller ones."""
    across = 1 - axis
    extent = max(p.shape[across] for p in panels)
    gap_shape = [0, 0, 3]
    gap_shape[axis], gap_shape[across] = _GAP, extent
    parts = []
    for k, panel in enumerate(panels):
        if k:
            parts.append(np.full(gap_shape, _GAP_GREY, np.uint8))
        padding = [(0, 0)] * 3
        padding[across] = (0, extent - panel.shape[across])
        parts.append(np.pad(panel, padding))
    return np.concatenate(parts, axis=axis)


def ortho_views(
    ct,
    affine,
    prediction,
    label=None,
    window: Sequence[float] = (-200, 250),
    min_panel_px: int = 384,
    legend: bool = True,
    layout: str = "stacked",
) -> np.ndarray:
    """Axial, coronal and sagittal panels side by side (H, W, 3) uint8, through the predicted tumour (else liver),
    with a legend strip below.

    Args:
        ct: the CT in Hounsfield units, (X, Y, Z) (or (1, X, Y, Z)); anything sliced like an array, e.g. a nibabel
            image's ``dataobj``, of which only the three slices are read.
        affine: the CT's voxel-to-world (RAS) affine, 4x4: gives the orientation and the voxel spacing.
        prediction, label: label maps (0 background, 1 liver, 2 tumour) on the CT's grid, (1, X, Y, Z) or (X, Y, Z);
            the liver (``> 0``) and the tumour (``== 2``) outlined: prediction red and magenta, label green and cyan
            (:data:`OUTLINES`; the prediction's drawn over the label's where they meet).
        window: the HU range shown from black to white.
        min_panel_px: the longest side of the largest panel is at least this many pixels (a coarse or small CT is
            enlarged); 0 keeps one pixel per finest voxel spacing.
        legend: a strip below the panels naming the colours.
        layout: ``"stacked"``, the axial panel on the left and the coronal above the sagittal on its right (a CT is
            usually shorter than it is wide, so the two fill the axial panel's height); ``"row"``, the three side by
            side.

    The panels cross at the centroid of the predicted tumour, else of the labelled tumour, else of the predicted
    liver, else of the labelled liver, else at the volume's centre. Each is shown as a reader expects (RAS axes from
    the affine): axial with anterior at the top and the patient's right on the left (radiological convention),
    coronal with superior at the top and the patient's right on the left, sagittal with superior at the top and
    anterior on the left. Pixels are square, of the finest voxel spacing or smaller (CT bilinear, outlines nearest);
    the panels are top-aligned, 4 grey pixels apart.

    Raises:
        ValueError: the CT, prediction and label are not on one (X, Y, Z) grid.
    """
    prediction = _label_map(prediction, "prediction")
    label = None if label is None else _label_map(label, "label")
    if isinstance(ct, torch.Tensor) or not hasattr(ct, "shape"):
        ct = as_numpy(ct)
    if isinstance(ct, np.ndarray) and ct.ndim == 4 and ct.shape[0] == 1:
        ct = ct[0]
    if tuple(ct.shape) != prediction.shape or (label is not None and label.shape != prediction.shape):
        shapes = f"CT {tuple(ct.shape)}, prediction {prediction.shape}" + (
            "" if label is None else f", label {label.shape}"
        )
        raise ValueError(f"the arrays are not on one grid: {shapes}.")
    affine = as_numpy(affine).astype(np.float64)
    ornt = nib.orientations.io_orientation(affine)
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    ras_extent = np.empty(3)
    ras_extent[ornt[:, 0].astype(int)] = spacing * np.asarray(prediction.shape)
    tumours = [prediction == _TUMOUR] + ([] if label is None else [label == _TUMOUR])
    centre = _centre([*tumours, prediction, label], prediction.shape)
    pixel_mm = float(spacing.min())
    if min_panel_px:
        pixel_mm = min(pixel_mm, float(ras_extent.max()) / min_panel_px)
    if layout not in ("stacked", "row"):
        raise ValueError(f"layout must be 'stacked' or 'row', got {layout!r}.")
    axial, coronal, sagittal = (
        _panel(ct, prediction, label, ornt, centre, a, ras_extent, pixel_mm, window) for a in (2, 1, 0)
    )
    if layout == "stacked":
        picture = _join([axial, _join([coronal, sagittal], axis=0)], axis=1)
    else:
        picture = _join([axial, coronal, sagittal], axis=1)
    if legend:
        picture = np.concatenate([picture, _legend(picture.shape[1], label is not None)], axis=0)
    return picture


class OrthoViewsWriter:
    """For every predicted CT volume, write ``output_dir/<case>_<postfix>.png``: :func:`ortho_views` of the CT.

    Reads from the decollated ``engine.state.output`` and ``engine.state.batch``: ``pred_key``, the label map on the
    original CT's grid (inverted, e.g. by ``Invertd``); ``label_key`` (optional, same grid) outlined too. The CT is
    read again (:func:`~bundle_common.data.dicom.load_ct`) from the NIfTI file or DICOM series folder in the
    prediction's ``meta["filename_or_obj"]`` (else the ``image_key`` item's, or that item itself when it is a path),
    with its affine, since the item's image may have been cropped or resampled; ``<case>`` is that file's name without
    ``.nii.gz``, or the folder's name. Each file is written through a temporary name.
    """

    def __init__(
        self,
        output_dir: str | os.PathLike,
        pred_key: str = "pred",
        label_key: str = "label",
        image_key: str = "image",
        postfix: str = "views",
        window: Sequence[float] = (-200, 250),
    ) -> None:
        self.output_dir = Path(output_dir)
        self.pred_key, self.label_key, self.image_key = pred_key, label_key, image_key
        self.postfix = postfix
        self.window = (float(window[0]), float(window[1]))

    def attach(self, engine) -> None:
        from ignite.engine import Events

        engine.add_event_handler(Events.ITERATION_COMPLETED, self)

    def __call__(self, engine) -> None:
        for batch_item, output_item in decollated_pairs(engine, type(self).__name__):
            self.write(merged_item(batch_item, output_item))

    def _source(self, item: dict) -> Path:
        for value in (item[self.pred_key], item.get(self.image_key)):
            source = getattr(value, "meta", {}).get("filename_or_obj")
            if source:
                return Path(str(source))
        image = item.get(self.image_key)
        if isinstance(image, (str, os.PathLike)):
            return Path(image)
        raise ValueError(
            f"OrthoViewsWriter: no CT file found: neither {self.pred_key!r} nor {self.image_key!r} has "
            "meta['filename_or_obj']."
        )

    def write(self, item: dict) -> Path:
        """Write one volume's picture; returns its path.

        Raises:
            ValueError: no CT file is named, or the CT's shape differs from the prediction's; the message names it.
        """
        from PIL import Image

        source = self._source(item)
        prediction = _label_map(item[self.pred_key], "prediction")
        ct, affine = load_ct(source)
        if tuple(ct.shape) != prediction.shape:
            raise ValueError(
                f"{source}: CT {tuple(ct.shape)} differs from the prediction {prediction.shape}; the prediction "
                "must be on the original CT's grid (inverted)."
            )
        try:
            views = ortho_views(ct, affine, prediction, item.get(self.label_key), self.window)
        except ValueError as error:
            raise ValueError(f"{source}: {error}") from error
        path = self.output_dir / f"{nifti_case_name(source)}_{self.postfix}.png"
        return atomic_save_picture(Image.fromarray(views), path, format="PNG")
