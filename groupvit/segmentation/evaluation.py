"""Zero-shot segmentation mIoU of a checkpoint on a Pascal VOC layout folder (behind `groupvit evaluate`)."""

from __future__ import annotations

from types import SimpleNamespace

from groupvit.segmentation import voc
from groupvit.segmentation.metrics import IoUResult

SETTINGS = ("bg_thresh", "templates", "mode", "short_side", "window", "stride")


def evaluate_folder(checkpoint: str, data: str, *, backend: str = "pt", dtype: str = "float32", split: str = "val",
                    class_names: str | None = None, limit: int | None = None, progress: bool = False,
                    labels_out: list | None = None, **settings) -> tuple[list[str], list[str], IoUResult, dict]:
    """(class names, image ids, IoU, the settings used): `settings` (bg_thresh, templates, mode, short_side,
    window, stride) left out or None take the checkpoint's defaults (`checkpoint_defaults`). `labels_out`, a
    list, receives the predicted label map of every image, in order."""
    from groupvit.images import load_rgb
    from groupvit.segmentation import mean_iou
    from groupvit.segmentation.loading import fill_defaults, load_segmenter
    from groupvit.segmentation.progress import ItemProgress

    voc.check_folder(data)
    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown:
        raise ValueError(f"settings may be {list(SETTINGS)}. Received unknown: {unknown}")
    args = SimpleNamespace(checkpoint=checkpoint, **{k: settings.get(k) for k in SETTINGS})
    fill_defaults(args)
    if limit is not None and not limit >= 1:
        raise ValueError(f"limit must be a number of images >= 1, or None for the whole split. Received: limit={limit}")
    names = voc.class_names(data, class_names)
    ids = voc.split_ids(data, split)[:limit]
    voc.check_split_files(data, ids)  # a missing or RGB label map fails now, not after the images before it
    segmenter = load_segmenter(checkpoint, backend, short_side=args.short_side, dtype=dtype)
    predictions, truths = [], []
    bar = ItemProgress(len(ids), "evaluate") if progress else None
    for image_id in ids:
        image = load_rgb(voc.image_path(data, image_id))
        result = segmenter.segment(image, names[1:], background_threshold=args.bg_thresh, templates=args.templates,
                                   mode=args.mode, window=args.window, stride=args.stride)[0]
        truth = voc.ground_truth(data, image_id)
        if truth.shape != result.labels.shape:
            raise ValueError(f"The label map must match its image's size. Received: {image_id}: "
                             f"label {truth.shape} vs image {result.labels.shape}")
        predictions.append(result.labels)
        truths.append(truth)
        if bar:
            bar.step(image_id)
    if bar:
        bar.close()
    if labels_out is not None:
        labels_out.extend(predictions)
    return names, ids, mean_iou(predictions, truths, num_classes=len(names)), {k: getattr(args, k) for k in SETTINGS}
