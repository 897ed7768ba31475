"""Framework-neutral training: data, schedule, Gumbel noise, checkpoints and the run loop.

`train(TrainRun(...))` runs what `groupvit train` runs; the backends' trainers live in
`groupvit.pt.training` and `groupvit.tf.training`.
"""
