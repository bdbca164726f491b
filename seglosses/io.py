"""Reading and writing label images and volumes (NIfTI through nibabel, PNG/TIF/GIF through scikit-image), and
result tables (CSV)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["IMAGE_SUFFIXES", "case_name", "read_image", "write_csv", "write_nifti", "write_png"]

IMAGE_SUFFIXES = (".nii.gz", ".nii", ".png", ".tif", ".tiff", ".gif")


def case_name(path: str | Path) -> str | None:
    """The file name without its image suffix (``case_001.nii.gz`` -> ``case_001``), None for other files."""
    name = Path(path).name
    for suffix in IMAGE_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return None


def read_image(
    path: str | Path, *, colour: bool = False
) -> tuple[np.ndarray, tuple[float, ...] | None, np.ndarray | None]:
    """Read a 2D image or 3D volume: ``(array, spacing or None, affine or None)``.

    NIfTI (.nii, .nii.gz): the data array as stored (nibabel's array axes), the voxel spacing from the header and
    the affine. PNG/TIF/GIF: a 2D array; a GIF's leading frame axis of length 1 is dropped (DRIVE's labels come as
    (1, H, W)); an RGB(A) label whose colour channels are equal is read as one channel; with ``colour`` (input
    images, not labels) (H, W, 3) colour images are returned as they are. No spacing or affine.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: an unsupported suffix, a file that cannot be decoded, or a colour image whose channels differ.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Expected an image file at {str(path)!r}, but nothing is there.")
    name = path.name.lower()
    if name.endswith((".nii", ".nii.gz")):
        import nibabel as nib

        try:
            image: Any = nib.load(str(path))  # a NIfTI image; nibabel types it as any file-based image
            data = np.asarray(image.dataobj)
        except Exception as error:  # nibabel raises several types for corrupt files
            raise ValueError(f"Could not read {str(path)!r} as NIfTI: {error}") from error
        spacing = tuple(float(z) for z in image.header.get_zooms()[: data.ndim])
        return data, spacing, np.asarray(image.affine)
    if not name.endswith((".png", ".tif", ".tiff", ".gif")):
        raise ValueError(f"Expected an image with a suffix in {IMAGE_SUFFIXES}, but got {path.name!r}.")
    from skimage.io import imread

    try:
        data = np.asarray(imread(str(path)))
    except Exception as error:  # imageio/PIL/tifffile raise many types for corrupt files
        fallback = _read_with_pillow(path) if name.endswith((".tif", ".tiff")) else None
        if fallback is None:
            raise ValueError(f"Could not read {str(path)!r} as an image: {error}") from error
        data = fallback
    if name.endswith(".gif") and data.ndim >= 3 and data.shape[0] == 1:
        data = data[0]
    if data.ndim == 3 and data.shape[-1] in (3, 4) and not colour:
        colours = data[..., :3]
        if not (np.array_equal(colours[..., 0], colours[..., 1]) and np.array_equal(colours[..., 0], colours[..., 2])):
            raise ValueError(
                f"Expected a grey-level label image at {str(path)!r}, but got colour channels that differ "
                f"(shape {data.shape}): save labels as one channel."
            )
        data = colours[..., 0]
    return data, None, None


def _read_with_pillow(path: Path) -> np.ndarray | None:
    """Single-page TIFFs that tifffile cannot decode without the optional imagecodecs package (LZW-compressed
    files such as DRIVE's images) are read by Pillow, which scikit-image already depends on; None if it fails."""
    try:
        from PIL import Image

        with Image.open(path) as image:
            return np.asarray(image)
    except Exception:
        return None


def write_nifti(path: str | Path, array: np.ndarray, affine: np.ndarray | None = None) -> None:
    """Write ``array`` as NIfTI with ``affine`` (identity when None)."""
    import nibabel as nib

    nib.save(nib.Nifti1Image(np.asarray(array), np.eye(4) if affine is None else np.asarray(affine)), str(path))


def write_png(path: str | Path, array: np.ndarray) -> None:
    """Write a 2D mask or uint8 image as PNG; a bool mask becomes {0, 255}."""
    from skimage.io import imsave

    array = np.asarray(array)
    if array.dtype == bool:
        array = array.astype(np.uint8) * 255
    imsave(str(path), array, check_contrast=False)


def write_csv(path: Path, rows: list[dict], columns: list[str] | None = None) -> Path:
    """Write ``rows`` (dicts) as CSV: ``columns`` (default: every key, in first-seen order) as the header, floats
    to 6 significant digits (NaN as ``nan``), missing values empty, keys outside ``columns`` left out. The one
    writer of ``seglosses evaluate``, the demo and the examples; returns the path.

    Example:
        >>> import tempfile, pathlib
        >>> path = write_csv(pathlib.Path(tempfile.mkdtemp()) / "r.csv", [{"case": "a", "dice": 2 / 3}])
        >>> path.read_text().splitlines()
        ['case,dice', 'a,0.666667']
    """
    import csv
    import math

    if columns is None:
        columns = []
        for row in rows:
            columns += [key for key in row if key not in columns]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, restval="", extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) and not math.isnan(v) else v) for k, v in row.items()})
    return path
