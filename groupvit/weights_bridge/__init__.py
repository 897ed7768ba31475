"""Weight bridge: numpy in the middle, every checkpoint format at the edges.

Canonical form: a `GroupViTConfig` plus `{PyTorch state-dict key: numpy array}` in
PyTorch layouts. Formats: model.safetensors (read/write), pytorch_model.bin (read,
without torch), tf_model.h5 of the old Keras 2 port (read/write), the authors' .pth
training checkpoints (read), our Keras 3 model.weights.h5 (read/write, needs groupvit.tf), and the
sharded forms of the first three (an index and its shards, read).
"""

from groupvit.weights_bridge.checkpoint import load_checkpoint, save_checkpoint
from groupvit.weights_bridge.convert import ConversionResult, convert
from groupvit.weights_bridge.errors import CheckpointFormatError, CheckpointMismatchError
from groupvit.weights_bridge.keys import expected_shapes
from groupvit.weights_bridge.strict import check_weights

__all__ = [
    "CheckpointFormatError",
    "CheckpointMismatchError",
    "ConversionResult",
    "check_weights",
    "convert",
    "expected_shapes",
    "load_checkpoint",
    "save_checkpoint",
]
