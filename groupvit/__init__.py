"""GroupViT in PyTorch and Keras 3 from one set of config classes.

Import the backend you use: `groupvit.pt` (PyTorch) or `groupvit.tf` (Keras 3 / TensorFlow).
"""

__version__ = "0.1.0"
