"""The committed tf_model.h5 written by the old Keras 2 port (transformers 4.57), read with numpy only.

Expected values come from the port's own TF->PT rules (see tests/fixtures/scripts/make_legacy_tf.py).
"""

import hashlib
import json
from pathlib import Path

import h5py
import numpy as np

from groupvit.weights_bridge import load_checkpoint, save_checkpoint

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "legacy_tf"
PORT_PREFIX = "groupvit."


def digest(value: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(value, dtype=np.float32).tobytes()).hexdigest()[:16]


def test_port_file_reads_to_the_ports_own_pytorch_layout():
    config, weights = load_checkpoint(FIXTURE)
    assert config.vision_config.hidden_size == 16 and config.text_config.num_hidden_layers == 1
    port = {k[len(PORT_PREFIX):]: v for k, v in json.loads((FIXTURE / "pt_digests.json").read_text()).items()}
    ours = {k for k in weights if not k.endswith("num_batches_tracked")}
    assert ours == set(port)
    for key in sorted(ours):
        assert digest(weights[key]) == port[key], key
    assert weights["logit_scale"].shape == ()


def test_our_h5_matches_the_ports_file_dataset_for_dataset(tmp_path):
    config, weights = load_checkpoint(FIXTURE)
    save_checkpoint(config, weights, tmp_path / "tf_model.h5")
    with h5py.File(FIXTURE / "tf_model.h5", "r") as theirs, h5py.File(tmp_path / "tf_model.h5", "r") as ours:
        assert list(theirs.attrs["layer_names"]) == list(ours.attrs["layer_names"])
        names_theirs = list(theirs["groupvit"].attrs["weight_names"])
        names_ours = list(ours["groupvit"].attrs["weight_names"])
        assert sorted(names_theirs) == sorted(names_ours)
        for name in names_theirs:
            a, b = theirs["groupvit"][name], ours["groupvit"][name]
            assert a.shape == b.shape and a.dtype == b.dtype, name
            assert a[()].tobytes() == b[()].tobytes(), name
