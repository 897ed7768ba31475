"""A checkpoint written by `groupvit train` loads in the transformers 5 port with equal outputs."""

import numpy as np
import torch
import transformers

from groupvit.cli import main
from groupvit.equivalence.tolerances import ACTIVATION, LOGITS, SEGMENTATION_LOGITS
from groupvit.pt import GroupViTModel
from groupvit.tokenizer import load_tokenizer
from train_data import tiny_train_config, write_colour_dataset


def test_trained_checkpoint_loads_in_the_port(tmp_path):
    data, config = write_colour_dataset(tmp_path / "data"), tiny_train_config(tmp_path / "config.json")
    out = tmp_path / "run"
    assert main(["train", "--backend", "pt", "--data", data, "--config", config, "--out", str(out),
                 "--tokenizer-vocab", "600", "--steps", "8", "--batch-size", "4", "--lr", "1e-3",
                 "--multi-label", "2", "--save-every", "4", "--no-progress"]) == 0
    for folder in (out, out / "checkpoints" / "step-000004"):
        port = transformers.GroupViTModel.from_pretrained(folder).eval()
        ours = GroupViTModel.from_pretrained(folder)
        ids, mask = load_tokenizer(folder, max_length=12)(["a red picture", "a blue picture", "a green one"])
        pixels = torch.randn(2, 3, 30, 30, generator=torch.Generator().manual_seed(0))
        inputs = dict(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask), pixel_values=pixels)
        with torch.no_grad():
            expected, got = port(**inputs, output_segmentation=True), ours(**inputs, output_segmentation=True)
        scale = float(port.logit_scale.exp())
        for name, tolerance, floor in (("logits_per_image", LOGITS, scale), ("text_embeds", ACTIVATION, 0.0),
                                       ("image_embeds", ACTIVATION, 0.0),
                                       ("segmentation_logits", SEGMENTATION_LOGITS, scale)):
            reference = expected[name].numpy()
            bound = tolerance.bound(max(float(np.abs(reference).max()), floor))
            assert float(np.abs(got[name].numpy() - reference).max()) <= bound, name
        # training moved the weights away from the initial temperature
        assert float(port.logit_scale) != float(np.log(1 / 0.07))
