"""Keras training: losses across replicas, AdamW with PyTorch's arithmetic, the train step, the trainer.

Mirrors `groupvit.pt.training` file for file; the synchronised BatchNorm is an option of
`groupvit.tf.batch_norm` (it turns on by itself under a strategy with more than one replica).
"""
