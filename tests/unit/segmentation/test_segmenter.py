"""The Segmenter on tiny random models: both backends, sliding windows, templates, an end-to-end reference."""

import numpy as np
import pytest
from seg_helpers import near_ties, sample_image
from test_zero_shot import reference_labels

from groupvit.segmentation import Segmenter
from groupvit.segmentation.templates import SEVEN_TEMPLATES

CLASSES = ["cat", "dog; hound", "grass", "sky", "house", "sun"]


def _segment(model, tokenizer, transform, images, **kw):
    return Segmenter(model, tokenizer, image_transform=transform).segment(images, CLASSES, **kw)


@pytest.mark.parametrize("mode, bg", [("whole", 0.95), ("whole", 0.3), ("slide", 0.95)])
def test_backends_give_identical_label_maps(pt_model, tf_model, tiny_tokenizer, small_transform, mode, bg):
    images = [sample_image(40, 52), sample_image(36, 30)]
    kw = dict(mode=mode, background_threshold=bg, templates=7, window=30, stride=15, top_k=3)
    ours = _segment(pt_model, tiny_tokenizer, small_transform, images, **kw)
    theirs = _segment(tf_model, tiny_tokenizer, small_transform, images, **kw)
    ties = 0
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.scores, b.scores, atol=1e-4)
        clear = ~(near_ties(a.scores) | near_ties(b.scores))
        ties += int((~clear).sum())
        np.testing.assert_array_equal(a.labels[clear], b.labels[clear])
        assert clear.mean() > 0.9
        for ga, gb in zip(a.group_maps, b.group_maps):
            assert (ga == gb).mean() > 0.95  # group indices may flip only at near-ties of the soft maps
    print(f"{mode} bg={bg}: {ties} near-tie pixel(s) (top-two margin <= 1e-5) left out of the comparison")


def test_labels_at_original_size_and_groups(pt_model, tiny_tokenizer, small_transform):
    result = _segment(pt_model, tiny_tokenizer, small_transform, sample_image(40, 52), background_threshold=0.3)[0]
    assert result.labels.shape == result.confidence.shape == (40, 52)
    assert result.input_hw == (30, 39)
    assert len(result.group_maps) == 2 and all(g.shape == (40, 52) for g in result.group_maps)
    assert result.group_maps[0].max() < 8 and result.group_maps[1].max() < 4
    assert result.group_to_class.shape == (4,) and result.group_affinity.shape == (4, len(CLASSES))
    assert result.labels.min() >= 0 and result.labels.max() <= len(CLASSES)
    summary = result.summary()
    assert abs(sum(s["pixel_fraction"] for s in summary["segments"]) - 1) < 1e-5


def test_slide_equals_whole_when_one_window_covers_the_image(pt_model, tiny_tokenizer, small_transform):
    image = sample_image(30, 30)
    segmenter = Segmenter(pt_model, tiny_tokenizer, image_transform=small_transform)
    whole = segmenter.segment(image, CLASSES, mode="whole", background_threshold=0.3)[0]
    slide = segmenter.segment(image, CLASSES, mode="slide", window=30, stride=15, background_threshold=0.3)[0]
    np.testing.assert_allclose(slide.scores, whole.scores, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(slide.labels, whole.labels)


def test_class_embeddings_average_templates_and_synonyms(pt_model, tiny_tokenizer):
    import torch

    segmenter = Segmenter(pt_model, tiny_tokenizer)
    ours = segmenter.text_embeddings(["cat", "dog; hound"], templates=7)
    for row, synonyms in zip(ours, [["cat"], ["dog", "hound"]]):
        prompts = [t.format(s) for s in synonyms for t in SEVEN_TEMPLATES]
        ids, mask = tiny_tokenizer(prompts)
        with torch.no_grad():
            features = pt_model.text_features(torch.from_numpy(ids), attention_mask=torch.from_numpy(mask))
        features = features.double().mean(0)  # the authors': average the projections, then normalize
        np.testing.assert_allclose(row, (features / features.norm()).numpy(), atol=1e-6)


def test_one_template_of_ones_own(pt_model, tiny_tokenizer):
    """A template string is the set of that one template ("{}": the bare class name); the CLI's parser
    reads built-in sets as numbers and refuses a template without exactly one "{}"."""
    from groupvit.segmentation.templates import parse_templates

    segmenter = Segmenter(pt_model, tiny_tokenizer)
    np.testing.assert_array_equal(segmenter.text_embeddings(["cat", "dog"], templates="{}"),
                                  segmenter.text_embeddings(["cat", "dog"], templates=["{}"]))
    assert not np.allclose(segmenter.text_embeddings(["cat", "dog"], templates="{}"),
                           segmenter.text_embeddings(["cat", "dog"], templates=1))
    assert parse_templates("80") == 80 and parse_templates("{}") == "{}"
    assert parse_templates("a photo of a {}.") == "a photo of a {}."
    for bad in ("a photo", "{} and {}", "3",
                "a {} {x}", "a {} }", "a photo of {{}}", "{0}", "a {:>9}", "{!r}"):  # late KeyError / silent
        with pytest.raises(ValueError, match="templates must"):
            parse_templates(bad)
    assert parse_templates("{{a}} {}") == "{{a}} {}"  # doubled braces are literal braces, as str.format reads them


@pytest.mark.parametrize("bg, top_k", [(0.95, 5), (0.3, 2), (0.2, 6)])
def test_end_to_end_against_loop_reference(pt_model, tiny_tokenizer, small_transform, bg, top_k):
    """Model outputs from torch, then the loops of docs/computation.md (test_zero_shot.reference_labels)."""
    import torch

    from groupvit.pt.segmentation import pixel_grouping

    image = sample_image(30, 30)  # already the model input size: no final resize
    result = _segment(pt_model, tiny_tokenizer, small_transform, image, background_threshold=bg, top_k=top_k)[0]
    pixels = torch.from_numpy(small_transform(image))
    with torch.no_grad():
        out = pt_model.vision_model(pixels, output_attentions=True)
        last = out.last_hidden_state[0]
        groups = torch.nn.functional.normalize(pt_model.visual_projection(last).double(), dim=-1).numpy()
        z = torch.nn.functional.normalize(pt_model.visual_projection(out.pooler_output).double(), dim=-1)[0].numpy()
        group_of_pixel = pixel_grouping(out.attentions, 30, 30)[0].argmax(0).numpy()
    text = Segmenter(pt_model, tiny_tokenizer).text_embeddings(CLASSES, 1)
    scale = min(float(pt_model.logit_scale.detach().exp()), 100.0)
    expected, _ = reference_labels(group_of_pixel.tolist(), groups.tolist(), z.tolist(), text.tolist(), scale, bg,
                                   top_k)
    np.testing.assert_array_equal(result.labels, np.array(expected))


def test_errors_are_clear(pt_model, tiny_tokenizer, small_transform):
    segmenter = Segmenter(pt_model, tiny_tokenizer, image_transform=small_transform)
    with pytest.raises(ValueError, match="class_names must name at least one class"):
        segmenter.segment(sample_image(), [" ", ""])
    with pytest.raises(ValueError, match="mode must be one of"):
        segmenter.segment(sample_image(), CLASSES, mode="tiles")
    with pytest.raises(ValueError, match="templates must be one of"):
        segmenter.segment(sample_image(), CLASSES, templates=3)
    with pytest.raises(ValueError, match="window"):
        segmenter.segment(sample_image(), CLASSES, mode="slide", window=31)
    with pytest.raises(ValueError, match="uint8 RGB"):
        segmenter.segment(np.zeros((5, 5, 3), np.float32), CLASSES)
    with pytest.raises(ValueError, match="GroupViTModel"):
        Segmenter(object(), tiny_tokenizer)


def test_a_batch_equals_one_image_at_a_time(pt_model, tiny_tokenizer, small_transform):
    images = [sample_image(40, 52), sample_image(36, 30), sample_image(40, 52)[::-1].copy()]
    segmenter = Segmenter(pt_model, tiny_tokenizer, image_transform=small_transform, batch_size=2)
    together = segmenter.segment(images, CLASSES, background_threshold=0.3)
    for image, batched in zip(images, together):
        alone = segmenter.segment(image, CLASSES, background_threshold=0.3)[0]
        np.testing.assert_allclose(batched.scores, alone.scores, atol=1e-5)
        clear = ~near_ties(alone.scores)
        np.testing.assert_array_equal(batched.labels[clear], alone.labels[clear])


def test_a_grey_array_or_a_pil_image_is_one_image(pt_model, tiny_tokenizer, small_transform):
    from PIL import Image

    segmenter = Segmenter(pt_model, tiny_tokenizer, image_transform=small_transform)
    rgb = sample_image(40, 52)
    grey = rgb[:, :, 1].copy()
    from_grey = segmenter.segment(grey, CLASSES, background_threshold=0.3)
    as_rgb = segmenter.segment(np.repeat(grey[:, :, None], 3, axis=2), CLASSES, background_threshold=0.3)
    assert len(from_grey) == 1 and from_grey[0].labels.shape == (40, 52)
    np.testing.assert_array_equal(from_grey[0].scores, as_rgb[0].scores)
    from_pil = segmenter.segment(Image.fromarray(rgb), CLASSES, background_threshold=0.3)[0]
    from_array = segmenter.segment(rgb, CLASSES, background_threshold=0.3)[0]
    np.testing.assert_array_equal(from_pil.scores, from_array.scores)


def test_whole_mode_refuses_more_patches_than_it_can_attend_over(pt_model, tiny_tokenizer):
    from groupvit.images import segmentation_preprocess

    segmenter = Segmenter(pt_model, tiny_tokenizer,  # no cap on the longer side (the authors' would be 137 px)
                          image_transform=lambda image: segmentation_preprocess(image, short_side=30, long_side=10**6))
    limit = segmenter.max_whole_patches  # 16 x the config's 100 patches
    thin = sample_image(3, 560)  # resized to 30 x 5600: 10 x 1867 patches
    with pytest.raises(ValueError, match=rf"at most {limit} patches .*Received: 3x560 px resized to 30x5600"):
        segmenter.segment(thin, CLASSES)
    assert segmenter.segment(sample_image(3, 40), CLASSES)[0].labels.shape == (3, 40)  # 10 x 134 patches
    slid = segmenter.segment(thin, CLASSES, mode="slide", window=30, stride=30)  # linear in the area
    assert slid[0].labels.shape == (3, 560)


def test_defaults_follow_the_model_and_load_segmenter_takes_the_checkpoints(pt_model, tiny_tokenizer, tiny_checkpoint):
    """A small model's segmenter works out of the box: shorter side, window and stride from its image size (30 px
    here; 448 / 448 / 224 for the released 224-px models), and `load_segmenter` the settings of `groupvit segment`."""
    import functools

    from groupvit.images import segmentation_preprocess
    from groupvit.segmentation.loading import checkpoint_defaults, load_segmenter

    image = sample_image(50, 70)
    plain = Segmenter(pt_model, tiny_tokenizer)
    assert plain.defaults == {"bg_thresh": 0.95, "templates": 1, "mode": "whole", "window": 60, "stride": 30}
    explicit = Segmenter(pt_model, tiny_tokenizer, image_transform=functools.partial(segmentation_preprocess,
                                                                                       short_side=60))
    ours = plain.segment(image, CLASSES)[0]
    np.testing.assert_array_equal(ours.labels, explicit.segment(image, CLASSES, background_threshold=0.95,
                                                                templates=1, mode="whole")[0].labels)
    settings = checkpoint_defaults(tiny_checkpoint)
    assert settings["mode"] == "slide" and settings["short_side"] == 60
    loaded = load_segmenter(tiny_checkpoint, "pt")
    np.testing.assert_array_equal(
        loaded.segment(image, CLASSES)[0].scores,
        explicit.segment(image, CLASSES, background_threshold=settings["bg_thresh"], templates=settings["templates"],
                         mode="slide", window=settings["window"], stride=settings["stride"])[0].scores)
    with pytest.raises(ValueError, match=r"defaults may set .* Received unknown keys: \['windw'\]"):
        Segmenter(pt_model, tiny_tokenizer, defaults={"windw": 3})


def test_checkpoint_defaults_of_a_weight_file_without_config_json(tmp_path):
    """The authors' .pth carries no config: the model loads with the default config, and so do its settings."""
    from groupvit.segmentation.loading import checkpoint_defaults

    (tmp_path / "group_vit_gcc_yfcc_30e.pth").write_bytes(b"")
    assert checkpoint_defaults(str(tmp_path / "group_vit_gcc_yfcc_30e.pth"))["short_side"] == 448


def test_default_sizes_give_a_window_of_whole_patches():
    """Twice the image size, floored to a multiple of both patch sides: a 31-px model of patch 4 slid 62-px windows
    and every slide (evaluate's default) refused the checkpoint."""
    from groupvit.configs import GroupViTVisionConfig
    from groupvit.segmentation.segmenter import default_sizes

    assert default_sizes(GroupViTVisionConfig()) == (448, 448, 224)  # the authors' settings at 224 px
    assert default_sizes(GroupViTVisionConfig(image_size=[31, 32], patch_size=4)) == (62, 60, 31)
    assert default_sizes(GroupViTVisionConfig(image_size=[12, 32], patch_size=[4, 16])) == (24, 16, 12)


def test_a_tokenizer_longer_than_the_model_is_cut_to_it(pt_model, tiny_tokenizer):
    """`Segmenter(model, load_tokenizer(ckpt))` (77 tokens by default) on a model of fewer positions: prompts are
    cut as the model's own limit (they raised "sequence length must be between 1 and max_position_embeddings")."""
    import copy

    limit = pt_model.config.text_config.max_position_embeddings
    long = copy.copy(tiny_tokenizer)
    long.max_length = 77
    names = ["cat " * 20, "dog"]
    got = Segmenter(pt_model, long).text_embeddings(names, templates=1)
    cut = copy.copy(tiny_tokenizer)
    cut.max_length = limit
    np.testing.assert_array_equal(got, Segmenter(pt_model, cut).text_embeddings(names, templates=1))
    assert long.max_length == 77  # the caller's tokenizer is left as it was
    with pytest.raises(ValueError, match="top_k must be an integer >= 1"):
        Segmenter(pt_model, cut).segment([], ["cat"], top_k=0)
