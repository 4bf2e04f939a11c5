"""Reading input images and writing output PNGs.

Dtypes are converted here and nowhere else: reading gives float32 in [0, 1],
writing takes float in [0, 1] and clips and casts to uint8 once.

The rules for inputs: integer images are scaled by their dtype's maximum; float images must hold finite values
in [0, 1] (up to `FLOAT_TOLERANCE` outside, which is clipped), else they are refused, never rescaled by a guess;
a TIFF must hold one page (gray, RGB or RGBA), so a multi-page stack of any page count is refused; compressed
TIFFs (LZW, deflate, JPEG, ...) are decoded through imagecodecs; a broken symbolic link is a failure, not skipped.
Outputs are written to a hidden temporary beside the target, `.NAME.png.PID.part`, and renamed onto it, so an
interrupted run never leaves a partial PNG; `remove_stale_temporaries` clears those a killed run left.
"""

import contextlib
import os
import re
from pathlib import Path

import numpy as np
import tifffile
from PIL import Image

TIFF_SUFFIXES = (".tif", ".tiff")
MINIMUM_SIZE = 64
FLOAT_TOLERANCE = 1e-3
TEMPORARY_NAME = re.compile(r"^\.(?P<name>.+\.png)\.(?P<pid>\d+)\.part$")


class ImageError(ValueError):
    """An input image cannot be read or has an unusable shape."""


def list_tiffs(folder):
    """Return the sorted TIFF files of `folder`, matching the suffix in any letter case; symbolic links count,
    broken ones too (reading them fails with a message), folders do not."""
    folder = Path(folder)
    return sorted(p for p in folder.iterdir()
                  if p.suffix.lower() in TIFF_SUFFIXES and (p.is_symlink() or p.is_file()))


def to_gray_float(array):
    """Convert an image array to a gray float32 image in [0, 1].

    Parameters
    ----------
    array : (H, W), (H, W, 3) or (H, W, 4) array of uint8, uint16, bool or float.
        Integer images are scaled by their dtype's maximum; float images must
        hold finite values in [0, 1] (`ImageError` otherwise; values within
        `FLOAT_TOLERANCE` outside are clipped). RGB(A) becomes gray with the
        ITU-R 601 luma weights (alpha ignored), as Pillow's ``convert('L')`` does.

    Returns
    -------
    (H, W) float32 in [0, 1].
    """
    array = np.asarray(array)
    if array.ndim == 3 and array.shape[-1] in (3, 4):
        return to_gray_float(array[..., 0]) * np.float32(0.299) + \
            to_gray_float(array[..., 1]) * np.float32(0.587) + \
            to_gray_float(array[..., 2]) * np.float32(0.114)
    if array.ndim != 2:
        raise ImageError(f"expected a single-channel or RGB(A) image, got shape {array.shape}")
    if array.dtype == bool:
        return array.astype(np.float32)
    if np.issubdtype(array.dtype, np.integer):
        return (array.astype(np.float32) / np.float32(np.iinfo(array.dtype).max))
    if not np.issubdtype(array.dtype, np.floating):
        raise ImageError(f"unsupported pixel type {array.dtype}")
    array = array.astype(np.float32)
    finite = np.isfinite(array)
    if not finite.all():
        raise ImageError(f"float image with {int((~finite).sum())} NaN or infinite pixel(s)")
    low, high = float(array.min()), float(array.max())
    if low < -FLOAT_TOLERANCE or high > 1.0 + FLOAT_TOLERANCE:
        raise ImageError(f"float pixel values must lie in [0, 1], found {low:.4g} to {high:.4g}")
    return np.clip(array, 0.0, 1.0)


def read_image(path):
    """Read a TIFF (or any image Pillow reads) as gray float32 in [0, 1].

    Returns
    -------
    (H, W) float32 in [0, 1]; the real HDC2021 captures are 1460 x 2360.

    Raises
    ------
    ImageError
        When the file is empty, truncated, not an image, or smaller than
        ``MINIMUM_SIZE`` pixels on a side.
    """
    path = Path(path)
    if path.is_symlink() and not path.exists():
        raise ImageError(f"{path.name}: broken symbolic link")
    if path.stat().st_size == 0:
        raise ImageError(f"{path.name}: empty file")
    try:
        if path.suffix.lower() in TIFF_SUFFIXES:
            array = read_tiff_page(path)
        else:
            with Image.open(path) as image:
                array = np.asarray(image.convert("L") if image.mode in ("P", "LA", "1") else image)
    except ImageError:
        raise
    except Exception as error:  # tifffile and Pillow raise many types for a bad file
        raise ImageError(f"{path.name}: cannot read image ({type(error).__name__}: {error})") from None
    try:
        image = to_gray_float(array)
    except ImageError as error:
        raise ImageError(f"{path.name}: {error}") from None
    if min(image.shape) < MINIMUM_SIZE:
        raise ImageError(f"{path.name}: image {image.shape[1]}x{image.shape[0]} is smaller than "
                         f"{MINIMUM_SIZE} pixels on a side")
    return image


def read_tiff_page(path):
    """The one page of a TIFF as an (H, W), (H, W, 3) or (H, W, 4) array; `ImageError` for several pages."""
    with tifffile.TiffFile(path) as tiff:
        pages = len(tiff.pages)
        if pages == 0:
            raise ImageError(f"{Path(path).name}: cannot read image (a TIFF without an image)")
        if pages != 1:
            raise ImageError(f"{Path(path).name}: a TIFF of {pages} pages; a capture is a single-page TIFF")
        array = np.squeeze(tiff.pages[0].asarray())
    if array.ndim == 3 and array.shape[0] in (3, 4) and array.shape[-1] not in (3, 4):
        array = np.moveaxis(array, 0, -1)  # planar RGB
    return array


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def remove_stale_temporaries(folder):
    """Remove the temporaries (`.NAME.png.PID.part`) that runs killed before they could clean up left in
    `folder`: those whose process is gone. A running process's own are kept. Returns the names removed."""
    removed = []
    for path in Path(folder).iterdir():
        match = TEMPORARY_NAME.match(path.name)
        if match and path.is_file() and not process_alive(int(match["pid"])):
            path.unlink(missing_ok=True)
            removed.append(path.name)
    return sorted(removed)


def process_alive(pid):
    """True when a process `pid` exists (ours, or another user's)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def to_uint8(image):
    """Map a float image in [0, 1] to uint8, rounding and clipping once."""
    return np.clip(np.rint(np.asarray(image, dtype=np.float32) * 255.0), 0, 255).astype(np.uint8)


def write_png(path, image, compress_level=1):
    """Write `image` as an 8-bit grayscale PNG, atomically.

    The PNG is written to a temporary file in the destination folder and then
    renamed over `path`, so an interrupted run never leaves a partial PNG.

    Parameters
    ----------
    path : path of the PNG to write.
    image : (H, W) float in [0, 1] or uint8.
    compress_level : zlib level 0-9. Level 1 encodes a near-binary output about
        3x faster than Pillow's default 6 for files about 20 % larger
        (docs/benchmark); the pixels are the same at every level.
    """
    pixels = image if image.dtype == np.uint8 else to_uint8(image)
    with atomic_path(path) as temporary:
        Image.fromarray(pixels, mode="L").save(temporary, format="PNG", compress_level=compress_level)


def write_tiff16(path, image):
    """Write `image` (float in [0, 1]) as a 16-bit single-channel TIFF, atomically."""
    pixels = np.clip(np.rint(np.asarray(image, dtype=np.float64) * 65535.0), 0, 65535).astype(np.uint16)
    with atomic_path(path) as temporary:
        tifffile.imwrite(temporary, pixels, compression="zlib")

