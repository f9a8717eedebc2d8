#!/usr/bin/python3
"""onnx_resize_ref: ONNX Resize (opsets 11-19) computed with numpy, for the goldens of
tools/gen_onnx_tests.py.

Debian's onnx 1.12 has no onnx.reference (it came with 1.13) but ships the backend tests'
reference of Resize-13 (onnx.backend.test.case.node.resize: interpolate_1d_with_x, the
coordinate transformations, the edge-padded neighbours, exclude_outside, nearest/linear/cubic
coefficients). This module uses it for each 1-D line, one resized axis after the other (the
reference's N-D interpolation is that product of 1-D ones), and adds what opsets 18 and 19
define on top, as their specification and onnx's later reference do:
  - axes: scales / sizes given for the listed axes only, the others keep scale 1;
  - keep_aspect_ratio_policy (with sizes): not_larger / not_smaller use the min / max of
    out / in over the axes for all of them, output size round_half_up(scale * in);
  - antialias (linear, cubic): when downscaling, the filter is stretched by 1 / scale and its
    weights normalized (linear: max(0, 1 - |t * s|), cubic: Keys' kernel at t * s, taps at the
    integers around the coordinate, t = tap - coordinate);
  - half_pixel_symmetric (19): half_pixel shifted so that the input's centre maps onto the
    output's centre: x = in/2 * (1 - out / (scale * in)) + (o + 0.5) / scale - 0.5.
"""

import math

import numpy as np
from onnx.backend.test.case.node.resize import (cubic_coeffs, interpolate_1d_with_x,
                                                linear_coeffs, nearest_coeffs)


def _keys(t, a):
    t = abs(t)
    if t <= 1:
        return (a + 2) * t ** 3 - (a + 3) * t ** 2 + 1
    if t < 2:
        return a * t ** 3 - 5 * a * t ** 2 + 8 * a * t - 4 * a
    return 0.0


def _coeffs(mode, scale, antialias, cubic_a, nearest_mode):
    """get_coeffs(ratio) of the reference for one axis (ratio in (0, 1])."""
    if mode == "nearest":
        return lambda r: nearest_coeffs(r, mode=nearest_mode)
    if not antialias:
        if mode == "cubic":
            return lambda r: cubic_coeffs(r, A=cubic_a)
        return linear_coeffs
    s = min(scale, 1.0)
    half = 2 if mode == "cubic" else 1
    start = int(math.floor(-half / s) + 1)
    taps = np.arange(start, 2 - start)

    def aa(r):
        w = np.array([_keys((j - r) * s, cubic_a) if mode == "cubic" else max(0.0, 1 - abs((j - r) * s))
                      for j in taps])
        return w / w.sum()
    return aa


def resize(x, mode="nearest", scales=None, sizes=None, axes=None, keep_aspect_ratio_policy="stretch",
           antialias=0, coordinate_transformation_mode="half_pixel", cubic_coeff_a=-0.75,
           exclude_outside=0, nearest_mode="round_prefer_floor"):
    """ONNX Resize of x (numpy float32 or any dtype for nearest); scales (float32 list) or sizes
    (int list), one per axis of `axes` (all axes when None). Returns an array of x's dtype."""
    r = x.ndim
    axes = list(range(r)) if axes is None else [a % r for a in axes]
    sc = [1.0] * r
    out = list(x.shape)
    if sizes is not None:
        for a, z in zip(axes, sizes):
            sc[a], out[a] = z / x.shape[a], int(z)
        if keep_aspect_ratio_policy != "stretch":
            pick = min if keep_aspect_ratio_policy == "not_larger" else max
            one = pick(sc[a] for a in axes)
            for a in axes:
                sc[a], out[a] = one, int(one * x.shape[a] + 0.5)
    else:
        for a, s in zip(axes, scales):
            sc[a] = float(np.float32(s))
            out[a] = int(math.floor(x.shape[a] * sc[a]))
    y = x.astype(np.float64)
    ctm = coordinate_transformation_mode
    for a in axes:
        if sc[a] == 1.0 and out[a] == x.shape[a]:
            continue
        get = _coeffs(mode, sc[a], antialias, cubic_coeff_a, nearest_mode)
        shift = 0.0
        if ctm == "half_pixel_symmetric":  # as half_pixel at o + shift * scale
            shift = x.shape[a] / 2 * (1 - out[a] / (sc[a] * x.shape[a])) * sc[a]
        moved = np.moveaxis(y, a, -1)
        res = np.empty(moved.shape[:-1] + (out[a],))
        for idx in np.ndindex(*moved.shape[:-1]):
            line = moved[idx]
            for o in range(out[a]):
                res[idx + (o,)] = interpolate_1d_with_x(
                    line, sc[a], o + shift, get,
                    coordinate_transformation_mode="half_pixel" if shift or ctm == "half_pixel_symmetric" else ctm,
                    exclude_outside=bool(exclude_outside))
        y = np.moveaxis(res, -1, a)
    return y.astype(x.dtype)
