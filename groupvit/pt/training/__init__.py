"""PyTorch training: losses across ranks, synchronised BatchNorm, the optimiser step."""

