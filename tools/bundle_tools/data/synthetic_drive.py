"""A synthetic DRIVE-layout dataset: fundus-like colour photographs with exact vessel labels and FOV masks.

Each image is drawn from scratch with numpy and Pillow: an orange-red background inside a circular field of view
(black outside) with illumination falloff and random low-frequency shading, a bright yellowish optic disc on a random
side, a darker fovea about 2.5 disc diameters from it, and vessel trees that branch recursively from the disc along
curved paths, thinning from about 8 px to 1-2 px and darkening the image mostly in the green channel (thin vessels
faintly). Sensor noise, fine texture and a JPEG round trip finish the picture. The vessel label is exactly the set of
pixels drawn as vessel, and it lies inside the FOV.

What it is not: real anatomy or pathology. There are no lesions, exudates, haemorrhages, drusen, camera artefacts,
arteriovenous crossings with real nicking, or the texture of a real retina. It is good enough to exercise a pipeline
end to end and to give a model that finds vessels in a real image at all; it is not data to report figures on.
"""

from __future__ import annotations

import heapq
import io
import os
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

__all__ = ["synthetic_fundus", "write_synthetic_drive"]

# the scale the numbers below are tuned at: DRIVE's FOV radius in pixels (565 x 584 images)
_REFERENCE_RADIUS = 270.0


def _smooth_field(rng: np.random.Generator, height: int, width: int, cells: int) -> np.ndarray:
    """A zero-mean random field (height, width) float32 of about unit size, smooth over ``1/cells`` of the image."""
    grid = rng.normal(size=(cells + 1, cells + 1)).astype(np.float32)
    return np.asarray(Image.fromarray(grid, "F").resize((width, height), Image.BICUBIC), dtype=np.float32)


def _blur(array: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of a 2-D float array, edges mirrored, the kernel cut at ``ceil(3 sigma)`` pixels."""
    return ndimage.gaussian_filter(array, sigma, mode="mirror", truncate=np.ceil(3 * sigma) / sigma)


def _branch_path(
    rng: np.random.Generator, start: np.ndarray, heading: float, turn: float, fade: float, wiggle: float, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """A curved path of ``n`` unit steps: positions (n + 1, 2) as (x, y) and headings (n,) in radians.

    The heading turns by ``turn`` radians in all, mostly within the first ``fade`` px, wanders slowly, and wiggles
    (about ``wiggle`` radians) on a scale of 10-20 px.
    """
    s = np.arange(n, dtype=np.float64)
    steer = turn * (1 - np.exp(-s / fade))
    wander = np.cumsum(np.convolve(rng.normal(0, 0.01, n + 40), np.ones(40) / 40, "valid")[:n])
    window = np.hanning(int(rng.integers(10, 20)))
    bends = np.convolve(rng.normal(0, 1, n + len(window)), window / np.sqrt(np.sum(window**2)), "valid")[:n]
    theta = heading + steer + wander + wiggle * bends
    steps = np.stack([np.cos(theta), np.sin(theta)], axis=1)
    return start + np.concatenate([np.zeros((1, 2)), np.cumsum(steps, axis=0)]), theta


def _vessel_segments(
    rng: np.random.Generator, centre: np.ndarray, radius: float, disc: np.ndarray, disc_radius: float, fovea: np.ndarray
) -> np.ndarray:
    """Unit-length vessel segments (N, 6): x0, y0, x1, y1, half-width (px), green-channel contrast in [0, 1].

    Trees grow from the optic disc, widest branches first, until their area reaches a random share (about 10-15%) of
    the FOV. Each branch tapers and sheds thinner children (Murray's law), which turn off towards the emptier side;
    a branch stops outside the FOV, in the foveal avascular zone, at its random length, or (thin ones) where it runs
    into a vessel drawn before. Should the trees end early, thin twigs sprout from random points of them.
    """
    scale = radius / _REFERENCE_RADIUS
    width_scale = max(scale, 0.3)
    budget = rng.uniform(0.105, 0.14) * np.pi * radius**2 * 1.1  # drawn area before overlaps, as a share of the FOV
    temporal = np.sign(fovea[0] - disc[0]) or 1.0
    avascular = rng.uniform(0.5, 0.75) * disc_radius
    cell = radius / 6  # coarse cells counting drawn vessel area, to send children where there is room
    density = np.zeros((int(2 * radius / cell) + 3,) * 2)
    size = int(radius + 4)  # a 2-px grid marking where vessels run, to stop branches that meet one
    taken = np.zeros((size + 2, size + 2), dtype=bool)

    def grid(points: np.ndarray, pitch: float) -> tuple[np.ndarray, np.ndarray]:
        i, j = (((points - centre) + radius) / pitch).astype(int).T + 1
        return j, i

    def crowding(point: np.ndarray) -> float:
        return np.inf if np.hypot(*(point - centre)) > radius else float(density[grid(point[None], cell)][0])

    queue: list = []

    def push(width, start, headings, *, turn, fade, contrast, length, wiggle, skip=None) -> None:
        """Queue a branch; ``headings`` holds one direction, or two (either side of the parent) to choose from later."""
        item = (width, start, headings, turn, fade, contrast, length, wiggle, skip)
        heapq.heappush(queue, (-width, rng.random(), item))

    # four arcades (up and down, temporal and nasal), each a vein and a thinner, fainter artery side by side
    for vertical in (-1.0, 1.0):
        for side, tilt, turn, fade in ((temporal, 0.2, 1.3, 0.45), (-temporal, 0.5, 0.6, 0.3)):
            heading = np.arctan2(vertical, side * tilt * rng.uniform(0.7, 1.3))
            bend = -side * vertical * turn * rng.uniform(0.8, 1.05)
            for kind_width, kind_contrast, offset in ((1.0, 1.0, 0.0), (0.75, 0.7, rng.uniform(0.1, 0.3))):
                width = kind_width * rng.uniform(7.0, 9.0) * width_scale * (1.0 if side == temporal else 0.85)
                start = disc + rng.uniform(-0.25, 0.25, 2) * disc_radius
                contrast = kind_contrast * rng.uniform(0.3, 0.42)
                headings = (heading + side * vertical * offset,)
                fade_px = fade * radius * rng.uniform(0.8, 1.2)
                push(width, start, headings, turn=bend, fade=fade_px, contrast=contrast, length=3 * radius, wiggle=0.12)
    # a few smaller vessels straight from the disc, towards the macula and the nasal side
    for _ in range(rng.integers(2, 5)):
        direction = temporal if rng.random() < 0.6 else -temporal
        headings = (np.arctan2(rng.uniform(-0.5, 0.5), direction),)
        width = rng.uniform(3.0, 4.5) * width_scale
        contrast = rng.uniform(0.2, 0.3)
        push(
            width,
            disc.copy(),
            headings,
            turn=rng.normal(0, 0.3),
            fade=0.3 * radius,
            contrast=contrast,
            length=radius,
            wiggle=0.2,
        )

    segments = []
    drawn: list = []  # (points, headings, widths) of every branch, to sprout more twigs from when the queue runs dry
    spent = 0.0
    for _ in range(10_000):  # a bound, never reached at the sizes tried
        if spent >= budget:
            break
        if not queue:
            points, theta, widths = drawn[int(rng.integers(len(drawn)))]
            fork = int(rng.integers(len(theta)))
            spread = rng.uniform(0.6, 1.4)
            headings = (theta[fork] + spread, theta[fork] - spread)
            push(
                rng.uniform(1.0, 2.0) * width_scale,
                points[fork].copy(),
                headings,
                turn=rng.normal(0, 0.4),
                fade=0.3 * radius,
                contrast=rng.uniform(0.15, 0.3),
                length=rng.uniform(0.15, 0.5) * radius,
                wiggle=rng.uniform(0.2, 0.35),
                skip=int(widths[fork] / 2 + 5),
            )
        width, start, headings, turn, fade, contrast, length, wiggle, skip = heapq.heappop(queue)[2]
        if len(headings) > 1:  # a child: turn off towards the less crowded side, mostly
            probe = [crowding(start + 0.25 * radius * np.array([np.cos(h), np.sin(h)])) for h in headings]
            heading = headings[int(np.argmin(probe))] if rng.random() < 0.85 else headings[int(rng.integers(2))]
        else:
            heading = headings[0]
        n = max(2, int(length))
        points, theta = _branch_path(rng, start, heading, turn, fade, wiggle, n)
        s = np.arange(n, dtype=np.float64)
        widths = width * np.exp(-s / (rng.uniform(3.0, 5.0) * radius))
        forks = np.cumsum(rng.uniform(15, 45, size=n // 8 + 2) * width_scale).astype(int)
        forks = forks[forks < n - 5]
        children = []
        for fork in forks:
            parent = widths[fork]
            child = parent * (rng.uniform(0.55, 0.8) if rng.random() < 0.3 else rng.uniform(0.25, 0.5))
            widths[fork:] *= np.cbrt(max(1.0 - (child / parent) ** 3, 0.2))  # Murray: parent^3 = child^3 + rest^3
            children.append((fork, child))
        widths = np.maximum(widths, rng.uniform(1.0, 1.5))
        mid = 0.5 * (points[:-1] + points[1:])
        stop = (np.hypot(*(mid - centre).T) > radius + 1) | (np.hypot(*(mid - fovea).T) < avascular)
        if skip is not None:
            rows, cols = grid(mid, 2.0)
            ok = (rows >= 0) & (rows < taken.shape[0]) & (cols >= 0) & (cols < taken.shape[1])
            met = np.zeros(n, dtype=bool)
            met[ok] = taken[rows[ok], cols[ok]]
            met[:skip] = False
            stop |= met
        end = int(np.argmax(stop)) if stop.any() else n
        if end < 2:
            continue
        half = widths[:end] / 2
        shade = contrast * (0.35 + 0.65 * np.clip(widths[:end] / (7.0 * width_scale), 0, 1)) ** 0.7
        segments.append(np.column_stack([points[:end], points[1 : end + 1], half, shade]))
        drawn.append((points[:end], theta[:end], widths[:end]))
        inside = np.hypot(*(mid[:end] - centre).T) <= radius
        spent += float(np.sum(2 * half * inside))
        np.add.at(density, grid(mid[:end][inside], cell), 2 * half[inside])
        rows, cols = grid(mid[:end][inside], 2.0)
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                taken[rows + dy, cols + dx] = True  # inside the FOV, so within the grid's margin
        for fork, child in children:
            if fork >= end:
                break
            child = max(child, 1.0)
            spread = rng.uniform(0.45, 1.2)
            headings = (theta[fork] + spread, theta[fork] - spread)
            thick = child > 2.5 * width_scale
            push(
                child,
                points[fork].copy(),
                headings,
                turn=rng.normal(0, 0.4),
                fade=0.3 * radius,
                contrast=contrast * rng.uniform(0.8, 1.05),
                length=rng.uniform(0.4, 1.5) * radius if thick else rng.uniform(0.15, 0.5) * radius,
                wiggle=0.15 if thick else rng.uniform(0.2, 0.35),
                skip=None if thick else int(widths[fork] / 2 + 5),  # thin ones stop where they meet another vessel
            )
    return np.concatenate(segments) if segments else np.zeros((0, 6))


def _draw_capsules(segments: np.ndarray, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Rasterise segments as capsules: the covered pixels (height, width) bool and their darkening, float32.

    A pixel is covered when its centre lies within the half-width of a segment; its darkening is the segment's
    contrast, a little less towards the vessel's edge, the strongest over all segments covering it.
    """
    covered = np.zeros(height * width, dtype=bool)
    darkening = np.zeros(height * width, dtype=np.float32)
    box = np.ceil(segments[:, 4] + 1.5).astype(int)
    for k in np.unique(box):
        seg = segments[box == k]
        dy, dx = np.mgrid[-k : k + 1, -k : k + 1].reshape(2, 1, -1)
        x0, y0, x1, y1, half, shade = (c[:, None] for c in seg.T)
        px = np.round(x0) + dx
        py = np.round(y0) + dy
        ux, uy = x1 - x0, y1 - y0
        t = np.clip(((px - x0) * ux + (py - y0) * uy) / np.maximum(ux**2 + uy**2, 1e-9), 0, 1)
        distance = np.hypot(px - x0 - t * ux, py - y0 - t * uy)
        hit = (distance <= half) & (px >= 0) & (px < width) & (py >= 0) & (py < height)
        index = (py * width + px)[hit].astype(np.int64)
        covered[index] = True
        value = (shade * (1 - 0.3 * (distance / half) ** 2))[hit].astype(np.float32)
        np.maximum.at(darkening, index, value)
    return covered.reshape(height, width), darkening.reshape(height, width)


def synthetic_fundus(
    rng: np.random.Generator, height: int = 584, width: int = 565
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One synthetic fundus photograph: ``rgb`` (H, W, 3) uint8, ``vessels`` (H, W) bool, ``fov`` (H, W) bool."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    centre = np.array([(width - 1) / 2 + rng.uniform(-0.01, 0.01) * width, (height - 1) / 2], dtype=np.float64)
    radius = min(rng.uniform(0.45, 0.48) * width, 0.5 * min(height, width) - 1)
    from_centre = np.hypot(xx - centre[0], yy - centre[1])
    fov = from_centre <= radius

    # optic disc on a random side, fovea about 2.5 disc diameters from it towards the centre
    side = rng.choice((-1.0, 1.0))
    disc_radius = radius * rng.uniform(0.13, 0.16)
    disc = centre + np.array([side * radius * rng.uniform(0.6, 0.7), radius * rng.uniform(-0.08, 0.08)])
    fovea = disc + np.array([-side * 5.0 * disc_radius * rng.uniform(0.95, 1.05), disc_radius * rng.uniform(0, 0.5)])

    # background: base colour, off-centre vignetting per channel, low-frequency shading and fine texture
    base = np.array([rng.uniform(220, 255), rng.uniform(105, 135), rng.uniform(55, 85)], dtype=np.float32)
    light = centre + rng.uniform(-0.2, 0.2, 2) * radius
    falloff = (np.hypot(xx - light[0], yy - light[1]) / radius) ** rng.uniform(2.0, 3.5)
    strength = rng.uniform(0.3, 0.45) * np.array(
        [1.0, rng.uniform(0.85, 1.0), rng.uniform(0.85, 1.0)], dtype=np.float32
    )
    shading = 0.07 * _smooth_field(rng, height, width, 3) + 0.03 * _smooth_field(rng, height, width, 8)
    texture = _smooth_field(rng, height, width, max(4, width // 6))
    rgb = base * (1 - strength * falloff[..., None]) * (1 + shading[..., None])
    rgb *= 1 + np.array([0.006, 0.015, 0.01], dtype=np.float32) * texture[..., None]

    # fovea: a darker, slightly browner spot
    to_fovea = np.hypot(xx - fovea[0], yy - fovea[1]) / (disc_radius * rng.uniform(0.9, 1.3))
    depth = np.array([0.12, 0.25, 0.2], dtype=np.float32) * rng.uniform(0.7, 1.2)
    rgb *= 1 - depth * np.exp(-0.5 * to_fovea**2)[..., None]

    # vessels: darker mostly in green, edges softened a little, labels exactly the drawn pixels inside the FOV
    segments = _vessel_segments(rng, centre, radius, disc, disc_radius, fovea)
    vessels, darkening = _draw_capsules(segments, height, width)
    vessels &= fov
    darkening = _blur(darkening, rng.uniform(0.5, 0.8))
    channel = np.array([rng.uniform(0.3, 0.5), 1.0, rng.uniform(0.4, 0.6)], dtype=np.float32)
    rgb *= 1 - np.clip(darkening[..., None] * channel, 0, 0.9)

    # optic disc: a soft, slightly tall ellipse blended towards yellow-white, with a brighter cup, behind the vessels
    to_disc = np.hypot((xx - disc[0]) / disc_radius, (yy - disc[1]) / (disc_radius * rng.uniform(1.03, 1.15)))
    behind = (1 - 0.9 * np.clip(darkening / 0.25, 0, 1))[..., None]
    rim = rng.uniform(0.7, 0.9) / (1 + np.exp((to_disc - 1) / 0.08))
    disc_colour = np.array([255, rng.uniform(225, 245), rng.uniform(125, 170)], dtype=np.float32)
    rgb += (disc_colour - rgb) * rim[..., None] * behind
    cup = np.hypot(xx - disc[0] + side * 0.2 * disc_radius, yy - disc[1]) / (disc_radius * rng.uniform(0.3, 0.5))
    cup_colour = np.array([255, 250, 215], dtype=np.float32)
    rgb += (cup_colour - rgb) * (0.6 / (1 + np.exp((cup - 1) / 0.15)))[..., None] * behind
    rgb *= 1 + 0.08 * np.exp(-0.5 * ((to_disc - 1.1) / 0.3) ** 2)[..., None]

    # near-black outside a slightly soft FOV edge, sensor noise, and a JPEG round trip
    edge = np.clip(radius - from_centre + 0.5, 0, 1)[..., None]
    rgb = rgb * edge + rng.uniform(2, 8) * (1 - edge)
    rgb += rng.normal(0, rng.uniform(2.0, 3.5), rgb.shape).astype(np.float32)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(rgb, 0, 255).round().astype(np.uint8)).save(
        buffer, "JPEG", quality=int(rng.integers(80, 95))
    )
    rgb = np.asarray(Image.open(buffer).convert("RGB"))
    return np.ascontiguousarray(rgb), vessels, fov


def write_synthetic_drive(
    out_dir: str | os.PathLike, n_training: int = 4, n_test: int = 2, seed: int = 0, height: int = 584, width: int = 565
) -> dict:
    """Write synthetic cases in the DRIVE layout under ``out_dir`` and return ``{"training": n, "test": n}``.

    Training images are numbered 21, 22, ... and test images 01, 02, ..., as in DRIVE: ``<split>/images/NN_<split>.tif``
    (RGB), ``<split>/1st_manual/NN_manual1.gif`` and ``<split>/mask/NN_<split>_mask.gif`` (one channel, 0/255). Each
    image has its own generator seeded by ``(seed, NN)``, so the output depends only on the arguments.
    """
    out_dir = Path(out_dir)
    for split, count, first in (("training", n_training, 21), ("test", n_test, 1)):
        for folder in ("images", "1st_manual", "mask"):
            (out_dir / split / folder).mkdir(parents=True, exist_ok=True)
        for number in range(first, first + count):
            rgb, vessels, fov = synthetic_fundus(np.random.default_rng((seed, number)), height, width)
            root = out_dir / split
            Image.fromarray(rgb).save(root / "images" / f"{number:02d}_{split}.tif", compression="tiff_lzw")
            # optimize=False keeps the grey palette, so the GIFs read back as mode "L" in 0/255 like DRIVE's own
            label = Image.fromarray(vessels.astype(np.uint8) * 255)
            label.save(root / "1st_manual" / f"{number:02d}_manual1.gif", optimize=False)
            mask = Image.fromarray(fov.astype(np.uint8) * 255)
            mask.save(root / "mask" / f"{number:02d}_{split}_mask.gif", optimize=False)
    return {"training": n_training, "test": n_test}
