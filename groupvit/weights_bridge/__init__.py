"""Weight bridge: numpy in the middle, every checkpoint format at the edges."""

from groupvit.weights_bridge.keys import expected_shapes

__all__ = ["expected_shapes"]
