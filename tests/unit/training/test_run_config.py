"""TrainRun's check of the prompt templates: a built-in set or one template of one's own, nothing else."""

import re

import pytest

from groupvit.training.run_config import TrainRun


def _run(templates):
    return TrainRun(backend="pt", data="d", out="o", steps=1, prompt_templates=templates)


@pytest.mark.parametrize("templates", [1, 7, 80, "{}", "a photo of a {}."])
def test_built_in_sets_and_one_template_of_ones_own_pass(templates):
    _run(templates).validate()


@pytest.mark.parametrize("templates", [3, True, "a photo", "{} {}", ["{}"], None])
def test_anything_else_is_refused_with_the_value(templates):
    with pytest.raises(ValueError, match=r"prompt_templates must name a built-in template set .* Received: "
                                         r"prompt_templates=" + re.escape(repr(templates))):
        _run(templates).validate()
