"""A synthetic MSD ``Task03_Liver``-layout dataset: abdominal-CT-like volumes with exact liver and tumour labels.

Each case is drawn from scratch with numpy and scipy on a voxel grid of ``shape`` with anisotropic ``spacing``
(millimetres), in Hounsfield units: air (-1000 HU) around an elliptical body cross-section, slightly irregular and
extruded along z, whose size varies per case; a subcutaneous fat ring (about -100 HU); soft tissue (about 40 HU) with
a smooth variation and a few patches of visceral fat; a vertebral body behind the body's centre (cancellous bone about
400-500 HU in a cortical rim of about 700 HU); a contrast-filled aorta in front of it, a little to the left
(140-190 HU); a spleen on the left and behind (about as bright as the liver) and the liver: an ellipsoid on the
patient's right and front, thinning towards the left, pushed in and out by smooth low-frequency waves and clipped to
the inside of the abdominal wall, enhanced to 100-130 HU. It spans a good part of the slices, but (from a dozen slices
up) never the first or last one. Tumour-bearing cases have one to three hypodense (20-50 HU) ellipsoidal tumours
centred deep in the liver and clipped to it. A mild Gaussian blur (partial volume) and Gaussian noise of 10-20 HU
finish the volume.

The label is exactly the drawn anatomy: 0 background, 1 liver, 2 tumour (the liver label excludes the tumours). The
voxel axes run towards the patient's left, back and head: the affine is ``diag(-sx, -sy, sz)`` with the volume's
centre at the world origin, so ``nibabel.aff2axcodes`` gives ``('L', 'P', 'S')`` and a loader has to reorient (to
RAS, say) to see the liver on the correct side: the patient's right, at larger world x in RAS+ coordinates.

What it is not: real anatomy or pathology. There are no kidneys, pancreas, gallbladder, bowel, vessels inside the
liver, ribs, posterior vertebral elements or table, no arterial/portal/venous phases, no rim-enhancing, calcified or
infiltrative tumours, no streak or beam-hardening artefacts and no correlated CT noise. It is good enough to exercise
a pipeline end to end (loading, reorienting, resampling, cascaded segmentation) and to give a model that finds a
bright organ on the right with darker blobs in it; it is not data to report figures on.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path

import nibabel as nib
import numpy as np
from scipy import ndimage

from bundle_common.io import staged_folder

from .shapes import lumpy_distance

__all__ = ["synthetic_liver_affine", "synthetic_liver_case", "write_synthetic_liver"]

_AIR, _FAT, _SOFT_TISSUE = -1000.0, -100.0, 40.0
_HU_RANGE = (-1024, 3071)  # what a CT scanner stores


def synthetic_liver_affine(shape: Sequence[int], spacing: Sequence[float]) -> np.ndarray:
    """The (4, 4) affine of a synthetic case: ``diag(-sx, -sy, sz)`` (L, P, S axes), the volume's centre at 0 mm."""
    affine = np.diag([-float(spacing[0]), -float(spacing[1]), float(spacing[2]), 1.0])
    affine[:3, 3] = -affine[:3, :3] @ ((np.asarray(shape, dtype=float) - 1) / 2)
    return affine


def _span(coordinate: np.ndarray, centre: float, reach: float) -> slice:
    """The indices of ``coordinate`` (1-D, monotonic) within ``reach`` of ``centre``, as a slice (maybe empty)."""
    where = np.flatnonzero(np.abs(coordinate - centre) <= reach)
    return slice(int(where.min()), int(where.max()) + 1) if where.size else slice(0, 0)


def _lumpy_ellipsoid(
    rng: np.random.Generator,
    axes: tuple[np.ndarray, np.ndarray, np.ndarray],
    centre: tuple[float, float, float],
    radii: tuple[float, float, float],
    wobble: float,
    taper: float = 0.0,
) -> tuple[tuple[slice, slice, slice], np.ndarray]:
    """A smoothly deformed ellipsoid: ``box`` (slices of the grid) and ``q`` (float32 on the box), below 1 inside.

    ``axes`` are the grid's x, y, z coordinates in mm; the outline is pushed in and out by up to ``wobble`` (a
    fraction) by a few random low-frequency plane waves; ``taper`` thins it in y and z towards -x (the patient's
    left). Nothing beyond ``radii / (1 - wobble)`` is inside, so ``q`` is computed only on that box.
    """
    box = tuple(_span(axis, c, r / (1 - wobble)) for axis, c, r in zip(axes, centre, radii))
    a, b, c = (
        ((axis[s] - c0) / r).astype(np.float32).reshape([-1 if d == i else 1 for d in range(3)])
        for i, (axis, s, c0, r) in enumerate(zip(axes, box, centre, radii))
    )
    if taper:
        thinning = 1 + taper * np.maximum(-a, 0)
        b, c = b * thinning, c * thinning
    return box, lumpy_distance(rng, a, b, c, n_waves=4, frequency=(1.5, 3.0), wobble=wobble)


def _smooth_field(rng: np.random.Generator, shape: Sequence[int], cells: Sequence[int]) -> np.ndarray:
    """A zero-mean random field of ``shape`` (float32, about unit size), smooth over ``1/cells`` of each axis."""
    grid = rng.normal(size=[c + 1 for c in cells]).astype(np.float32)
    field = ndimage.zoom(grid, [n / (c + 1) for n, c in zip(shape, cells)], order=1, mode="nearest", grid_mode=True)
    return field[tuple(slice(0, n) for n in shape)]


def _grid(shape: Sequence[int], spacing: Sequence[float]) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """``shape`` and ``spacing`` as tuples, checked: 3-D, at least 16 x 16 x 8 voxels, positive spacing."""
    shape, spacing = tuple(int(n) for n in shape), tuple(float(s) for s in spacing)
    if len(shape) != 3 or len(spacing) != 3 or min(shape[:2]) < 16 or shape[2] < 8 or min(spacing) <= 0:
        raise ValueError(f"need a 3-D shape of at least (16, 16, 8) and positive spacing, got {shape} and {spacing}")
    return shape, spacing


def synthetic_liver_case(
    rng: np.random.Generator,
    shape: Sequence[int] = (64, 64, 40),
    spacing: Sequence[float] = (1.5, 1.5, 4.0),
    n_tumours: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """One synthetic case on the grid of :func:`synthetic_liver_affine`: ``image`` int16 (HU) and ``label`` uint8.

    Both have ``shape`` (at least 16 x 16 x 8); the label is 0 background, 1 liver, 2 tumour, with ``n_tumours``
    tumours (0 for none), each at least one voxel. Sizes are fractions of the field of view, so any grid shows the
    whole body; on grids much coarser than the default, partial volume blurs the tumours into the liver.
    """
    shape, spacing = _grid(shape, spacing)
    if n_tumours < 0:
        raise ValueError(f"need n_tumours >= 0, got {n_tumours}")

    def uniform(low: float, high: float) -> float:
        return float(rng.uniform(low, high))  # a Python float keeps float32 arrays float32

    affine = synthetic_liver_affine(shape, spacing)
    axes = tuple(affine[d, d] * np.arange(shape[d]) + affine[d, 3] for d in range(3))  # RAS mm, centre at 0
    x, y = axes[0][:, None], axes[1][None, :]
    half = [n * s / 2 for n, s in zip(shape, spacing)]
    voxel = max(spacing[:2])

    # body: a slightly irregular ellipse, wider than deep, a little off centre; fat under the skin, then soft tissue
    rx, ry = uniform(0.72, 0.9) * half[0], uniform(0.55, 0.72) * half[1]
    cx, cy = uniform(-0.04, 0.04) * half[0], uniform(-0.04, 0.04) * half[1]
    phi = np.arctan2((y - cy) / ry, (x - cx) / rx)
    outline = 1 / np.sqrt((np.cos(phi) / rx) ** 2 + (np.sin(phi) / ry) ** 2)
    for order in (2, 3):
        outline *= 1 + uniform(0, 0.03) * np.cos(order * phi + uniform(0, 2 * math.pi))
    depth = outline - np.hypot(x - cx, y - cy)  # mm inside the skin, negative outside
    fat = max(uniform(0.06, 0.12) * min(rx, ry), 1.5 * voxel)
    wall = fat + max(uniform(0.04, 0.08) * min(rx, ry), voxel)  # the liver and spleen stay inside the muscle wall
    body, interior, cavity = depth > 0, depth > fat, depth > wall

    # spine: a vertebral body behind the centre (cortical rim, cancellous core); the aorta in front of it, to the left
    spine_radius = max(uniform(0.13, 0.17) * ry, 2 * voxel)
    spine = (cx + uniform(-0.03, 0.03) * rx, cy - uniform(0.5, 0.58) * ry)
    spine_r = np.hypot(x - spine[0], y - spine[1])
    aorta_radius = max(uniform(0.4, 0.5) * spine_radius, voxel)
    aorta = (spine[0] - uniform(0.2, 0.5) * spine_radius, spine[1] + spine_radius + aorta_radius + 0.5 * voxel)
    vessel = np.hypot(x - aorta[0], y - aorta[1]) < aorta_radius
    bone = spine_r < spine_radius
    cortex = bone & (spine_r > spine_radius - max(0.2 * spine_radius, 0.8 * voxel))

    slab = np.full(shape[:2], _AIR, dtype=np.float32)
    slab[body] = _FAT + uniform(-15, 15)
    slab[interior] = _SOFT_TISSUE + uniform(-10, 10)
    image = np.repeat(slab[:, :, None], shape[2], axis=2)
    cells = [max(2, round(n * s / 40)) for n, s in zip(shape, spacing)]  # texture on a ~4 cm scale
    texture = _smooth_field(rng, shape, cells)
    visceral = cavity[:, :, None] & (texture > uniform(1.0, 1.3))
    image += np.where(interior[:, :, None], 8 * texture, 0)
    image[visceral] = _FAT + uniform(0, 20)
    image[np.broadcast_to(bone[:, :, None], shape)] = uniform(400, 500)
    image[np.broadcast_to(cortex[:, :, None], shape)] = uniform(650, 750)
    image[np.broadcast_to(vessel[:, :, None], shape)] = uniform(140, 190)
    solid = (cavity & ~ndimage.binary_dilation(bone | vessel))[:, :, None]  # where organs may lie

    # liver: right and front, thinning to the left, over a good part of the slices but never the first or last
    radii = (uniform(0.48, 0.58) * rx, uniform(0.58, 0.72) * ry, uniform(0.5, 0.6) * half[2])
    centre = (cx + uniform(0.3, 0.42) * rx, cy + uniform(0.05, 0.2) * ry, uniform(0.0, 0.1) * half[2])
    box, q = _lumpy_ellipsoid(rng, axes, centre, radii, wobble=0.25, taper=uniform(0.3, 0.6))
    liver = np.zeros(shape, dtype=bool)
    liver[box] = (q < 1) & solid[box[:2]]
    liver[tuple(int(np.argmin(np.abs(axis - c))) for axis, c in zip(axes, centre))] = True  # never empty
    liver_hu = uniform(100, 130)
    image[liver] = liver_hu + 4 * texture[liver]

    # spleen: left and back, upper slices, about as bright as the liver
    radii_s = (uniform(0.14, 0.2) * rx, uniform(0.25, 0.35) * ry, uniform(0.25, 0.35) * half[2])
    centre_s = (cx - uniform(0.5, 0.6) * rx, cy - uniform(0.1, 0.3) * ry, uniform(0.1, 0.3) * half[2])
    box_s, q_s = _lumpy_ellipsoid(rng, axes, centre_s, radii_s, wobble=0.2)
    spleen = np.zeros(shape, dtype=bool)
    spleen[box_s] = (q_s < 1) & solid[box_s[:2]] & ~liver[box_s]
    image[spleen] = liver_hu + uniform(-5, 15) + 4 * texture[spleen]

    # tumours: hypodense ellipsoids centred deep in the liver, clipped to it
    label = liver.astype(np.uint8)
    deep = np.zeros(shape, dtype=bool)
    deep[box] = liver[box] & (q < 0.7)
    candidates = np.flatnonzero(deep) if deep.any() else np.flatnonzero(liver)
    for _ in range(n_tumours):
        at = np.unravel_index(candidates[rng.integers(candidates.size)], shape)
        size = uniform(0.15, 0.35) * min(radii[:2])
        tumour_radii = tuple(max(size * uniform(0.8, 1.25), s) for s in spacing)
        tumour_centre = tuple(float(axes[d][at[d]]) for d in range(3))
        tumour_box, tumour_q = _lumpy_ellipsoid(rng, axes, tumour_centre, tumour_radii, wobble=0.1)
        tumour = (tumour_q < 1) & liver[tumour_box]
        tumour[tuple(int(at[d]) - tumour_box[d].start for d in range(3))] = True  # at least its centre voxel
        image[tumour_box][tumour] = uniform(20, 50) + 4 * texture[tumour_box][tumour]
        label[tumour_box][tumour] = 2

    # partial volume, then noise
    image = ndimage.gaussian_filter(image, sigma=(0.7, 0.7, 0.5), mode="nearest")
    image += uniform(10, 20) * rng.standard_normal(shape, dtype=np.float32)
    return np.clip(np.rint(image), *_HU_RANGE).astype(np.int16), label


def _dataset_json(names: list[str]) -> dict:
    """``dataset.json`` in the style of the Medical Segmentation Decathlon's ``Task03_Liver``."""
    return {
        "name": "Liver",
        "description": "Synthetic liver and tumour segmentation (bundle_tools.data.synthetic_liver; not real data)",
        "tensorImageSize": "3D",
        "modality": {"0": "CT"},
        "labels": {"0": "background", "1": "liver", "2": "cancer"},
        "numTraining": len(names),
        "numTest": 0,
        "training": [{"image": f"./imagesTr/{n}.nii.gz", "label": f"./labelsTr/{n}.nii.gz"} for n in names],
        "test": [],
    }


def _save(array: np.ndarray, affine: np.ndarray, path: Path) -> None:
    image = nib.Nifti1Image(array, affine)
    image.set_qform(affine, code=1)
    image.set_sform(affine, code=1)
    image.header.set_xyzt_units("mm", "sec")
    nib.save(image, path)


def write_synthetic_liver(
    out_dir: str | os.PathLike,
    n_cases: int = 4,
    shape: Sequence[int] = (64, 64, 40),
    spacing: Sequence[float] = (1.5, 1.5, 4.0),
    seed: int = 0,
) -> list[str]:
    """Write synthetic cases in the MSD ``Task03_Liver`` layout under ``out_dir`` and return their names.

    Case ``i`` (0 .. n_cases - 1) is ``liver_<i>``: ``imagesTr/liver_<i>.nii.gz`` (int16 HU) and
    ``labelsTr/liver_<i>.nii.gz`` (uint8; 0 background, 1 liver, 2 tumour) with the same shape and affine
    (:func:`synthetic_liver_affine`), listed in ``dataset.json``. ``(n_cases + 1) // 4`` cases, picked at random by
    ``seed``, have no tumour (one of the default four); the others have one to three. Each case has its own
    generator seeded by ``(seed, i)``, so the output depends only on the arguments.

    Everything is written into a fresh folder beside ``out_dir`` and renamed into place at the end, so an exception
    leaves no partial dataset behind. ``out_dir`` may be missing or an empty folder; anything else is refused with
    ``FileExistsError``.
    """
    shape, spacing = _grid(shape, spacing)
    if n_cases < 1:
        raise ValueError(f"need n_cases >= 1, got {n_cases}")
    names = [f"liver_{i}" for i in range(n_cases)]
    dataset_rng = np.random.default_rng((seed, 1_000_003))
    n_tumours = dataset_rng.integers(1, 4, n_cases)
    n_tumours[dataset_rng.permutation(n_cases)[: (n_cases + 1) // 4]] = 0
    affine = synthetic_liver_affine(shape, spacing)

    with staged_folder(out_dir, "the synthetic liver data") as staging:
        (staging / "imagesTr").mkdir()
        (staging / "labelsTr").mkdir()
        for i, name in enumerate(names):
            image, label = synthetic_liver_case(np.random.default_rng((seed, i)), shape, spacing, int(n_tumours[i]))
            _save(image, affine, staging / "imagesTr" / f"{name}.nii.gz")
            _save(label, affine, staging / "labelsTr" / f"{name}.nii.gz")
        (staging / "dataset.json").write_text(json.dumps(_dataset_json(names), indent=4) + "\n")
    return names
