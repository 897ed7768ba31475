"""Generated datasets with true masks (numpy + Pillow only, no deep-learning framework).

`groupvit.datasets.shapes`: a seeded world of shapes on textured backgrounds, written as caption
data for `groupvit train` and as a Pascal VOC layout for `groupvit evaluate`.
"""
