"""Pascal VOC layout reading: JPEGImages/, SegmentationClass/, ImageSets/Segmentation/<split>.txt."""

from __future__ import annotations

import os

import numpy as np

CLASS_FILE_NAMES = ("classes.txt", "class_names.txt", "labels.txt")
# Built-in class lists for datasets that ship none, by name (`--class-names voc`). "voc": Pascal VOC 2012's 21
# labels as the GroupViT authors name them for zero-shot prompts (segmentation/datasets/pascal_voc.py of their
# repository); "voc-original": the dataset's own spellings.
BUILT_IN_CLASSES = {
    "voc": ("background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
            "table", "dog", "horse", "motorbike", "person", "plant", "sheep", "sofa", "train", "monitor"),
    "voc-original": ("background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair",
                     "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
                     "train", "tvmonitor"),
}


LAYOUT = ("a Pascal VOC layout folder (JPEGImages/, SegmentationClass/, ImageSets/Segmentation/<split>.txt and a "
          "class-name file)")


def check_folder(root: str, name: str = "data") -> None:
    """A clear error when `root` (the option `name`) is not a folder at all."""
    if not os.path.isdir(root):
        found = "not a folder" if os.path.exists(root) else "not found"
        raise ValueError(f"{name} must be {LAYOUT}. Received: {root!r} ({found})")


def split_ids(root: str, split: str = "val") -> list[str]:
    """Image ids listed in ImageSets/Segmentation/<split>.txt."""
    path = os.path.join(root, "ImageSets", "Segmentation", f"{split}.txt")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"The dataset must hold {path} (Pascal VOC layout). Received: data={root!r}")
    with open(path, encoding="utf-8") as f:
        ids = [line.strip().split()[0] for line in f if line.strip()]
    if not ids:
        raise ValueError(f"The split file must list at least one image id. Received: empty {path}")
    return ids


def class_names(root: str, path: str | None = None) -> list[str]:
    """One class name per line, the first being background (synonyms allowed: "tv; monitor"); `path` may also
    name a built-in list (BUILT_IN_CLASSES: "voc", "voc-original") when no file of that name exists."""
    if path in BUILT_IN_CLASSES and not os.path.exists(path):
        return list(BUILT_IN_CLASSES[path])
    candidates = [path] if path else [os.path.join(root, n) for n in CLASS_FILE_NAMES]
    for candidate in candidates:
        if candidate and os.path.isfile(candidate):
            with open(candidate, encoding="utf-8") as f:
                names = [line.strip() for line in f if line.strip()]
            if len(names) < 2:
                raise ValueError(f"The class-name file must list background and at least one class. "
                                 f"Received: {len(names)} name(s) in {candidate}")
            return names
    if path:
        raise FileNotFoundError(f"The class-name file must exist. Received: class_names={path!r}")
    raise FileNotFoundError(f"A class-name file must exist (one of {list(CLASS_FILE_NAMES)} or --class-names; for "
                            f"Pascal VOC 2012 itself, --class-names voc). Received: data={root!r}")


def check_not_an_input(path: str, root: str, class_names_path: str | None = None) -> None:
    """Refuse an output path that is one of the dataset's files: its class names, images, labels or splits."""
    target = os.path.realpath(path)
    inputs = [os.path.realpath(p) for p in (class_names_path, *(os.path.join(root, n) for n in CLASS_FILE_NAMES))
              if p]
    folders = [os.path.realpath(os.path.join(root, n)) for n in ("JPEGImages", "SegmentationClass", "ImageSets")]
    if target in inputs or any(target.startswith(folder + os.sep) for folder in folders):
        raise FileExistsError(f"An output must not replace a file of the dataset. Received: {path!r} in {root!r}")


def image_path(root: str, image_id: str) -> str:
    folder = os.path.join(root, "JPEGImages")
    for ext in (".jpg", ".jpeg", ".png"):
        path = os.path.join(folder, image_id + ext)
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(f"The image of id {image_id!r} must exist in {folder}. Received: no .jpg/.jpeg/.png")


def read_label_png(path: str) -> np.ndarray:
    """Palette PNG -> its indices (255 = ignore), int64 [H, W]; grey PNGs are read as values."""
    from PIL import Image

    with Image.open(path) as image:
        if image.mode not in ("P", "L"):
            raise ValueError(f"A VOC label map must be a palette or grey PNG. Received: mode={image.mode} in {path}")
        return np.asarray(image, dtype=np.int64)


def label_path(root: str, image_id: str) -> str:
    path = os.path.join(root, "SegmentationClass", image_id + ".png")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"The label map of id {image_id!r} must exist. Received: no {path}")
    return path


def check_split_files(root: str, ids: list[str]) -> None:
    """Before any work: every id of the split has its image and a palette or grey label PNG (headers only)."""
    from PIL import Image

    for image_id in ids:
        image_path(root, image_id)
        path = label_path(root, image_id)
        try:
            with Image.open(path) as image:
                mode = image.mode
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
            raise ValueError(f"A VOC label map must be a readable PNG. Received: {path} ({err})") from err
        if mode not in ("P", "L"):
            raise ValueError(f"A VOC label map must be a palette or grey PNG. Received: mode={mode} in {path}")


def ground_truth(root: str, image_id: str) -> np.ndarray:
    return read_label_png(label_path(root, image_id))
