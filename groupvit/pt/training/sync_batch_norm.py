"""BatchNorm1d whose training statistics cover the global batch of all ranks.

`torch.nn.SyncBatchNorm` runs on GPUs only; this one runs on any process group (gloo included)
and computes exactly what a single process computes on the concatenated batch: the mean and
then the centred sum of squares are summed across ranks (two passes, as `BatchNorm1d` does in
one process), with gradients through both sums. Parameter and buffer names are BatchNorm1d's.
"""

from __future__ import annotations

import torch
from torch import nn

from groupvit.pt.training.distributed import all_reduce_sum_with_grad


class GroupViTSyncBatchNorm1d(nn.BatchNorm1d):
    """`nn.BatchNorm1d` on [N, C] with statistics over every rank's rows (training mode)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return super().forward(x)
        local = torch.tensor([float(x.shape[0])], dtype=x.dtype, device=x.device)
        count = all_reduce_sum_with_grad(local)  # (1,)
        if float(count) < 2:
            raise ValueError(f"BatchNorm1d in training needs a global batch >= 2. Received: {int(count)} rows")
        mean = all_reduce_sum_with_grad(x.sum(dim=0)) / count  # (C,)
        centred = x - mean
        var = all_reduce_sum_with_grad((centred * centred).sum(dim=0)) / count  # biased, to normalise
        with torch.no_grad():
            m = self.momentum
            self.running_mean.mul_(1 - m).add_(mean.detach(), alpha=m)
            self.running_var.mul_(1 - m).add_(var.detach() * count / (count - 1), alpha=m)
            self.num_batches_tracked.add_(1)
        out = centred / torch.sqrt(var + self.eps)
        return out * self.weight + self.bias


def convert_sync_batch_norm(module: nn.Module) -> nn.Module:
    """Replace every BatchNorm1d under `module` by the synchronised one, keeping its tensors."""
    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm1d) and not isinstance(child, GroupViTSyncBatchNorm1d):
            sync = GroupViTSyncBatchNorm1d(child.num_features, eps=child.eps, momentum=child.momentum,
                                           device=child.weight.device, dtype=child.weight.dtype)
            sync.load_state_dict(child.state_dict())
            sync.train(child.training)
            setattr(module, name, sync)
        else:
            convert_sync_batch_norm(child)
    return module
