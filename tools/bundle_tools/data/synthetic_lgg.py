"""A synthetic LGG-layout dataset: axial brain-MRI-like slices with exact tumour (FLAIR abnormality) masks.

Each patient is a stack of slices drawn from scratch with numpy and Pillow, as in the Kaggle ``lgg-mri-segmentation``
``kaggle_3m`` folder: 256 x 256 RGB images whose channels stand for pre-contrast T1, FLAIR and post-contrast T1, on a
near-black background. The head is an ellipse with a slightly irregular outline, a little off centre and tilted, whose
cross-section is largest a little below the middle of the stack and shrinks towards the first slices and, to nothing
or almost, towards the last ones (slice 1 is the lowest, as in the real data). Going in from the outline there is a
bright scalp, a dark skull, a thin dark rim of CSF and the brain: white matter, brighter in T1 and darker in FLAIR than
the grey-matter band under the surface, whose depth wanders like gyri and which thin dark sulci cross, with two
lateral ventricles (dark in every channel, CSF being suppressed in FLAIR) in the middle slices and a dark midline
fissure front and back. A gain and a smooth bias field per patient and channel, a finer texture per slice and noise
(taken as the magnitude of a noisy signal, as in MR magnitude images) finish the picture. A patient with a tumour has
one or two smooth, randomly lumpy ellipsoids spanning a run of neighbouring slices (about a quarter to a half of
them), clipped to the brain, hyperintense in FLAIR and iso- to mildly hypo- or hyperintense in the T1 channels, with a
softer edge and some texture inside. The mask is exactly the set of tumour pixels; a tumour-free patient has all-zero
masks.

The intensities follow the real data (31 patients of ``kaggle_3m``; slices in the upper two thirds of each stack, brain
12 px in from the head's outline, tumour ring 10 px wide), measured the same way on 20 synthetic patients:

=====================  ========================  ========================
per channel (0-255)    real (pre, FLAIR, post)   synthetic
=====================  ========================  ========================
brain without tumour   57, 52, 54                60, 53, 58
tumour                 56, 86, 55                57, 79, 57
tumour / ring around   0.94, 1.52, 0.94          0.94, 1.56, 0.99
outer 6 px of head     68, 62, 74                73, 64, 82
background             a few grey levels         about 3
=====================  ========================  ========================

The head covers a median 37 % of such a slice in both, the tumour a median 5.6 % (real) and 4.7 % (synthetic) of the
head on slices that show it; the real brain varies more within a slice (standard deviation about 19 against 10).

What it is not: real anatomy or pathology. There are no eyes, sinuses, cerebellum, brainstem or skull base in the low
slices, no vessels, deep grey nuclei, choroid plexus or real gyral pattern, no enhancing rims, cysts, necrosis, oedema
or mass effect, no motion or ghosting artefacts, and the channels are not registered sequences of a real scanner. It is
good enough to exercise a pipeline end to end and to give a model that finds FLAIR-bright blobs inside a brain; it is
not data to report figures on.
"""

from __future__ import annotations

import math
import os

import numpy as np
from PIL import Image

from bundle_common.io import staged_folder

from .shapes import lumpy_distance

__all__ = ["synthetic_patient", "write_synthetic_lgg"]

# mean intensities (pre-contrast, FLAIR, post-contrast) before each patient's gain, at the scale of the real data
_WHITE = np.array([60.0, 50.0, 54.0], dtype=np.float32)
_GREY = np.array([48.0, 63.0, 47.0], dtype=np.float32)
_CSF = np.array([18.0, 13.0, 20.0], dtype=np.float32)
_SCALP = np.array([75.0, 66.0, 80.0], dtype=np.float32)
_SKULL = np.array([14.0, 11.0, 16.0], dtype=np.float32)


def _smooth_field(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """A zero-mean random field (size, size) float32 of about unit size, smooth over ``1/cells`` of the image."""
    grid = rng.normal(size=(cells + 1, cells + 1)).astype(np.float32)
    return np.asarray(Image.fromarray(grid).resize((size, size), Image.BICUBIC), dtype=np.float32)


def _ramp(x: np.ndarray) -> np.ndarray:
    """A one-pixel-wide soft step: 0 below -0.5, 1 above 0.5 (anti-aliased edges for distances in pixels)."""
    return np.clip(x + 0.5, 0.0, 1.0)


def _blob(
    rng: np.random.Generator,
    u: np.ndarray,
    v: np.ndarray,
    k: np.ndarray,
    centre: tuple[float, float, float],
    radii: tuple[float, float, float],
) -> np.ndarray:
    """A lumpy ellipsoid: ``q`` (len(k), H, W) float32, below 1 inside, about the normalised distance from its centre.

    ``u, v`` (H, W) are in-plane coordinates in pixels, ``k`` (len(k), 1, 1) slice indices; the outline is an
    ellipsoid of ``radii`` (pixels, pixels, slices) turned by a random angle in the plane, pushed in and out by up to
    30 % by a sum of a few random low-frequency plane waves in the normalised coordinates, so that it is smooth and
    continuous across slices. Nothing beyond 1.43 times the radii is inside.
    """
    angle = float(rng.uniform(0, math.pi))
    du, dv = u - centre[0], v - centre[1]
    a = (du * math.cos(angle) + dv * math.sin(angle)) / radii[0]
    b = (-du * math.sin(angle) + dv * math.cos(angle)) / radii[1]
    c = (k - centre[2]) / radii[2]
    return lumpy_distance(rng, a, b, c, n_waves=5, frequency=(1.5, 3.5), wobble=0.3)


def synthetic_patient(
    rng: np.random.Generator, n_slices: int, size: int = 256, tumour: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """One synthetic patient: ``images`` (n_slices, size, size, 3) uint8 and ``masks`` (n_slices, size, size) uint8.

    Channels are pre-contrast, FLAIR and post-contrast; masks are 255 on tumour pixels and 0 elsewhere, all 0 when
    ``tumour`` is false. With a tumour and at least four slices, the tumour is redrawn (up to 50 times, which has been
    enough at the sizes tried, 64 px and up) until it shows on at least two and at most 60 % of them, with no slice
    alone in its run.
    """
    if n_slices < 1 or size < 32:
        raise ValueError(f"need n_slices >= 1 and size >= 32, got n_slices={n_slices}, size={size}")
    n = n_slices
    px = size / 256.0  # lengths below are in pixels of a 256-pixel image

    def uniform(low: float, high: float) -> float:
        return float(rng.uniform(low, high))  # a Python float keeps float32 arrays float32

    # head: a tilted, slightly irregular ellipse whose size follows a flattened half-ellipse along the slices
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    cx, cy = ((size - 1) / 2 + uniform(-0.03, 0.03) * size for _ in range(2))
    tilt = uniform(-0.12, 0.12)
    u = (xx - cx) * math.cos(tilt) + (yy - cy) * math.sin(tilt)  # left-right
    v = (yy - cy) * math.cos(tilt) - (xx - cx) * math.sin(tilt)  # front-back, front up
    semi_u, semi_v = uniform(0.30, 0.35) * size, uniform(0.37, 0.42) * size
    phi = np.arctan2(v, u)
    radius = 1 / np.sqrt((np.cos(phi) / semi_u) ** 2 + (np.sin(phi) / semi_v) ** 2)
    for order in (1, 2, 3):
        radius *= 1 + uniform(0, 0.025) * np.cos(order * phi + uniform(0, 2 * math.pi))
    r = np.hypot(u, v)
    z = (np.arange(n) + 0.5) / n  # height in the stack, slice 1 lowest
    widest = uniform(0.35, 0.45)
    reach = np.where(z < widest, widest * uniform(1.0, 1.1), (1 - widest) * uniform(0.92, 1.02))
    power = uniform(2.5, 3.0)
    scale = (np.clip(1 - np.abs((z - widest) / reach) ** power, 0, 1) ** (1 / power)).astype(np.float32)
    depth = scale[:, None, None] * radius - r  # (n, H, W): pixels below the head's outline, negative outside
    scalp, skull, rim = uniform(4.0, 7.0) * px, uniform(3.0, 5.0) * px, uniform(1.0, 2.5) * px
    margin = scalp + skull + rim
    brain_depth = depth - margin
    inside = [_ramp(depth - t) for t in (0.0, scalp, scalp + skull, margin)]

    # brain: a grey-matter band of wandering depth with sulci over white matter, ventricles and a midline fissure
    gyri = np.stack([_smooth_field(rng, size, max(4, size // 16)) for _ in range(n)])
    folds = np.stack([_smooth_field(rng, size, max(4, size // 10)) for _ in range(n)])
    cortex = uniform(7.0, 10.0) * px * (1 + 0.45 * gyri)
    grey = 1 / (1 + np.exp((brain_depth - cortex) / (1.5 * px)))
    csf = 0.7 * np.exp(-((folds / 0.12) ** 2)) * grey  # sulci: thin dark lines where the folds field crosses zero
    ventricle_z = widest + uniform(0.0, 0.08)
    ventricle_scale = np.sqrt(np.clip(1 - ((z - ventricle_z) / uniform(0.14, 0.2)) ** 2, 0, 1)).astype(np.float32)
    ventricle_size = uniform(0.75, 1.25)
    for side in (-1.0, 1.0):
        spread = side * uniform(0.15, 0.3)  # the front horns diverge
        du, dv = u - side * 0.11 * semi_u, v + 0.04 * semi_v
        a = (du * math.cos(spread) + dv * math.sin(spread)) / (0.085 * semi_u * ventricle_size)
        b = (dv * math.cos(spread) - du * math.sin(spread)) / (0.24 * semi_v * ventricle_size)
        distance = np.hypot(a, b)
        for k in np.nonzero(ventricle_scale)[0]:
            csf[k] = np.maximum(csf[k], np.clip((1 - distance / ventricle_scale[k]) / 0.15, 0, 1))
    fissure = np.exp(-0.5 * (u / (1.2 * px)) ** 2) * np.clip((np.abs(v) - 0.3 * semi_v) / (0.1 * semi_v), 0, 1)
    csf = np.maximum(csf, 0.7 * fissure) * _ramp(brain_depth - 2 * px)
    layers = [inside[0] - inside[1], inside[1] - inside[2], inside[2] - inside[3]]  # scalp, skull, CSF rim

    # a gain and a smooth bias field per patient and channel, a finer texture per slice
    gain = uniform(0.75, 1.3) * rng.uniform(0.85, 1.15, 3)
    bias = [1 + 0.08 * _smooth_field(rng, size, 2) for _ in range(3)]
    texture = np.stack([_smooth_field(rng, size, max(4, size // 10)) for _ in range(n)])
    channels = []  # pre-contrast, FLAIR, post-contrast as (n, H, W) float32: faster than one (n, H, W, 3) array
    for c in range(3):
        channel = float(_WHITE[c]) + float(_GREY[c] - _WHITE[c]) * grey
        channel += (float(_CSF[c]) - channel) * csf
        channel *= inside[3]
        for layer, colour in zip(layers, (_SCALP, _SKULL, _CSF)):
            channel += float(colour[c]) * layer
        channel *= float(gain[c]) * bias[c]
        channel *= 1 + uniform(0.06, 0.1) * texture
        channels.append(channel)

    # tumour: one or two lumpy ellipsoids in the brain, redrawn until they show on a plausible run of slices
    masks = np.zeros((n, size, size), dtype=bool)
    if tumour:
        brain_radius = max(math.sqrt(semi_u * semi_v) - margin, 4.0)
        fewest, most = (2, int(0.6 * n)) if n >= 4 else (1, n)
        for _ in range(50):
            q = np.full((n, size, size), np.inf, dtype=np.float32)
            first = None
            for count in range(1 if rng.random() < 0.65 else 2):
                extent = uniform(0.18, 0.4) * brain_radius * (1.0 if count == 0 else uniform(0.5, 0.8))
                stretch = uniform(0.75, 1.3)
                through = max(1.5, n * uniform(0.1, 0.2)) * (1.0 if count == 0 else uniform(0.6, 1.0))
                radii = (extent * stretch, extent / stretch, through)
                if first is None or rng.random() < 0.5:  # anywhere in the middle of the brain
                    level = n * (widest + uniform(-0.12, 0.18)) - 0.5
                    s = float(scale[int(np.clip(round(level), 0, n - 1))])
                    at, off = uniform(0, 2 * math.pi), uniform(0.1, 0.6)
                    spot = (
                        off * math.cos(at) * (s * semi_u - margin),
                        off * math.sin(at) * (s * semi_v - margin),
                        level,
                    )
                else:  # a satellite next to the first
                    spot = tuple(first[i] + uniform(-1.2, 1.2) * (extent, extent, through)[i] for i in range(3))
                first = first or spot
                # evaluate the blob only in the box that can hold it
                x0 = cx + spot[0] * math.cos(tilt) - spot[1] * math.sin(tilt)
                y0 = cy + spot[0] * math.sin(tilt) + spot[1] * math.cos(tilt)
                box, deep = 1.45 * max(radii[:2]), 1.45 * radii[2]
                rows = slice(max(0, math.floor(y0 - box)), max(0, min(size, math.ceil(y0 + box) + 1)))
                cols = slice(max(0, math.floor(x0 - box)), max(0, min(size, math.ceil(x0 + box) + 1)))
                ks = slice(max(0, math.floor(spot[2] - deep)), max(0, min(n, math.ceil(spot[2] + deep) + 1)))
                k = np.arange(ks.start, ks.stop, dtype=np.float32)[:, None, None]
                blob = _blob(rng, u[rows, cols], v[rows, cols], k, spot, radii)
                q[ks, rows, cols] = np.minimum(q[ks, rows, cols], blob)
            masks = (q < 1) & (brain_depth > 0.5)
            shown = masks.any(axis=(1, 2))
            lonely = shown & ~np.r_[False, shown[:-1]] & ~np.r_[shown[1:], False]
            if fewest <= shown.sum() <= most and not (n >= 4 and lonely.any()):
                break
        # hyperintense in FLAIR, about iso-intense in the others, with a softer edge and some texture inside
        heterogeneity = 1 + 0.08 * _smooth_field(rng, size, max(4, size // 12))
        contrast = (uniform(0.8, 1.15), uniform(1.25, 1.75), uniform(0.8, 1.15))
        at = np.nonzero(masks)
        weight = 0.4 + 0.6 * np.clip((1 - q[at]) / 0.3, 0, 1)
        for c, channel in enumerate(channels):
            level = float(gain[c] * contrast[c] * (_WHITE[c] + _GREY[c]) / 2)
            target = level * bias[c][at[1:]] * heterogeneity[at[1:]]
            channel[at] += (target - channel[at]) * weight

    # noise, as the magnitude of a noisy signal, and a small offset per channel
    sigma = uniform(2.0, 3.5)
    images = np.empty((n, size, size, 3), dtype=np.uint8)
    for c, channel in enumerate(channels):
        channel += sigma * rng.standard_normal(channel.shape, dtype=np.float32)
        np.abs(channel, out=channel)
        channel += uniform(0.0, 2.0)
        images[..., c] = np.rint(np.clip(channel, 0, 255, out=channel))
    return images, masks.astype(np.uint8) * 255


def write_synthetic_lgg(
    out_dir: str | os.PathLike,
    n_patients: int = 4,
    n_slices: int = 12,
    size: int = 256,
    seed: int = 0,
    n_without_tumour: int = 0,
) -> list[str]:
    """Write synthetic patients in the ``kaggle_3m`` layout under ``out_dir`` and return their names.

    Patient ``i`` is ``TCGA_SY_<i:04d>_20000101`` (institution code SY: synthetic), with slices
    ``<PATIENT>/<PATIENT>_<n>.tif`` (RGB) and ``<PATIENT>/<PATIENT>_<n>_mask.tif`` (mode "L", 0/255), n = 1..n_slices,
    as uncompressed TIFFs. ``n_without_tumour`` patients, picked at random by ``seed``, have no tumour (all-zero masks).
    Each patient has its own generator seeded by ``(seed, i)``, so the output depends only on the arguments.

    Everything is written into a fresh folder beside ``out_dir`` and renamed into place at the end, so an exception
    leaves no partial dataset behind. ``out_dir`` may be missing or an empty folder; anything else is refused with
    ``FileExistsError``.
    """
    if n_patients < 1 or n_slices < 1:
        raise ValueError(f"need n_patients >= 1 and n_slices >= 1, got {n_patients} and {n_slices}")
    if not 0 <= n_without_tumour <= n_patients:
        raise ValueError(f"n_without_tumour must be between 0 and n_patients ({n_patients}), got {n_without_tumour}")
    names = [f"TCGA_SY_{i:04d}_20000101" for i in range(n_patients)]
    without = set(np.random.default_rng((seed, 1_000_003)).permutation(n_patients)[:n_without_tumour].tolist())

    with staged_folder(out_dir, "the synthetic LGG data") as staging:
        for i, name in enumerate(names):
            images, masks = synthetic_patient(np.random.default_rng((seed, i)), n_slices, size, i not in without)
            folder = staging / name
            folder.mkdir()
            for number, (image, mask) in enumerate(zip(images, masks), start=1):
                Image.fromarray(image).save(folder / f"{name}_{number}.tif", compression="raw")
                Image.fromarray(mask).save(folder / f"{name}_{number}_mask.tif", compression="raw")
    return names
