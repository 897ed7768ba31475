"""mean_iou on a generated VOC-layout dataset with a prediction function of known errors."""

import numpy as np
import pytest

from groupvit.segmentation import mean_iou, voc

import PIL  # noqa: F401 - on purpose: this test needs Pillow (it used to importorskip it)
from PIL import Image  # noqa: E402

NAMES = ["background", "cat", "dog", "tv; monitor"]


def make_voc(root, masks):
    """JPEGImages/, SegmentationClass/ (palette PNGs), ImageSets/Segmentation/val.txt, classes.txt."""
    for sub in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    ids = []
    for i, mask in enumerate(masks):
        image_id = f"2007_{i:06d}"
        ids.append(image_id)
        rgb = np.stack([mask * 40 % 256] * 3, axis=-1).astype(np.uint8)
        Image.fromarray(rgb).save(root / "JPEGImages" / f"{image_id}.jpg")
        label = Image.fromarray(mask.astype(np.uint8), mode="P")
        label.putpalette([0, 0, 0, 128, 0, 0, 0, 128, 0, 128, 128, 0] + [224, 224, 192] * 252)
        label.save(root / "SegmentationClass" / f"{image_id}.png")
    (root / "ImageSets/Segmentation/val.txt").write_text("\n".join(ids) + "\n")
    (root / "classes.txt").write_text("\n".join(NAMES) + "\n")
    return ids


def masks():
    a = np.zeros((6, 8), np.int64)
    a[1:4, 1:5] = 1          # 12 cat pixels
    a[0, :] = 255            # 8 ignored pixels
    b = np.zeros((5, 5), np.int64)
    b[:, 3:] = 2             # 10 dog pixels
    b[0, 0] = 255
    return [a, b]


def predict_with_known_errors(gt):
    """Cat: one column of 3 cat pixels predicted as background; dog: the whole dog area called cat,
    except 4 pixels; every ignored pixel predicted as class 3 (must not count)."""
    pred = np.where(gt == 255, 3, gt)
    if (gt == 1).any():
        pred[1:4, 4] = 0
    if (gt == 2).any():
        pred[gt == 2] = 1
        pred[0:2, 3:5] = 2
    return pred


def test_mean_iou_by_hand(tmp_path):
    make_voc(tmp_path, masks())
    ids = voc.split_ids(str(tmp_path), "val")
    gts = [voc.ground_truth(str(tmp_path), i) for i in ids]
    for gt, mask in zip(gts, masks()):
        np.testing.assert_array_equal(gt, mask)  # palette indices read back, 255 kept
    preds = [predict_with_known_errors(gt) for gt in gts]
    result = mean_iou(preds, gts, num_classes=len(NAMES))
    # background: image a 48 - 8 ign - 12 cat = 28 bg gt, +3 predicted bg -> I 28, U 31;
    #             image b 25 - 1 ign - 10 dog = 14 bg gt, all right -> I 14, U 14.  IoU = 42 / 45
    # cat: a I 9, U 12; b: 6 dog pixels predicted cat -> U + 6. IoU = 9 / 18
    # dog: b gt 10, pred 4, I 4 -> 4 / 10. class 3: no gt, predicted only on ignored pixels -> nan
    expected = [42 / 45, 9 / 18, 4 / 10, np.nan]
    np.testing.assert_allclose(result.per_class, expected, rtol=1e-12)
    assert result.mean == pytest.approx(np.mean(expected[:3]), rel=1e-12)
    assert voc.class_names(str(tmp_path)) == NAMES


def test_false_positive_class_counts_as_zero():
    gt = np.array([[0, 0], [1, 1]])
    pred = np.array([[2, 0], [1, 1]])
    result = mean_iou([pred], [gt], num_classes=3)
    np.testing.assert_allclose(result.per_class, [0.5, 1.0, 0.0])


def test_mean_iou_errors():
    with pytest.raises(ValueError, match="same shape"):
        mean_iou([np.zeros((2, 2))], [np.zeros((2, 3))], 2)
    with pytest.raises(ValueError, match=r"lie in \[0, 2\)"):
        mean_iou([np.full((2, 2), 5)], [np.zeros((2, 2))], 2)
    with pytest.raises(ValueError, match="at least one pair"):
        mean_iou([], [], 2)


def test_built_in_class_lists_for_datasets_without_a_class_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    names = voc.class_names(str(tmp_path), "voc")
    assert len(names) == 21 and names[0] == "background" and names[11] == "table" and names[20] == "monitor"
    assert voc.class_names(str(tmp_path), "voc-original")[16] == "pottedplant"
    with pytest.raises(FileNotFoundError, match="--class-names voc"):
        voc.class_names(str(tmp_path))
    (tmp_path / "voc").write_text("background\nthing\n")  # a file of that name is read, as before
    assert voc.class_names(str(tmp_path), "voc") == ["background", "thing"]
