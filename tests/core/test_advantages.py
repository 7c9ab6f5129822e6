"""group_advantages: hand-computed groups and input errors."""

import math

import pytest
import torch

from gtpo.core import group_advantages


def test_group_scale_hand_computed():
    # group 0: rewards 1,2,3,4 -> mean 2.5, centred -1.5,-0.5,0.5,1.5
    #   sample std = sqrt((2.25+0.25+0.25+2.25)/3) = sqrt(5/3) = 1.290994
    #   A = centred / (1.290994 + 1e-4)
    # group 1: all 5 -> A = 0 exactly
    rewards = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0, 5.0, 5.0, 5.0])
    adv = group_advantages(rewards, 4)
    std = math.sqrt(5 / 3) + 1e-4
    expected = torch.tensor([-1.5 / std, -0.5 / std, 0.5 / std, 1.5 / std, 0, 0, 0, 0])
    torch.testing.assert_close(adv, expected)
    assert adv.shape == (8,)


def test_scale_none_is_mean_centred():
    # reference code: A = R - mean; group 0 mean (0+10)/2 = 5 -> -5, 5; group 1 mean 10 -> 0, 0
    adv = group_advantages(torch.tensor([0.0, 10.0, 10.0, 10.0]), 2, scale="none")
    torch.testing.assert_close(adv, torch.tensor([-5.0, 5.0, 0.0, 0.0]))


def test_constant_group_is_exactly_zero():
    # 0.1 three times: mean = 0.3/3 may round away from 0.1; the rule says A = 0 exactly
    rewards = torch.tensor([0.1, 0.1, 0.1], dtype=torch.float32)
    for scale in ("group", "none"):
        assert torch.equal(group_advantages(rewards, 3, scale=scale), torch.zeros(3))


def test_group_size_one_is_zero():
    # a group of one completion has nothing to compare with
    assert torch.equal(group_advantages(torch.tensor([3.0, 7.0]), 1), torch.zeros(2))


def test_groups_are_consecutive_rows():
    # rows 0,1 are group 0 (mean 1), rows 2,3 group 1 (mean 10)
    adv = group_advantages(torch.tensor([0.0, 2.0, 9.0, 11.0]), 2, scale="none")
    torch.testing.assert_close(adv, torch.tensor([-1.0, 1.0, -1.0, 1.0]))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"rewards": torch.ones(5), "group_size": 2}, "multiple of group_size"),
        ({"rewards": torch.ones(4), "group_size": 0}, "group_size must be a positive int"),
        ({"rewards": torch.ones(2, 2), "group_size": 2}, "rewards must have 1 dimension"),
        ({"rewards": torch.ones(4, dtype=torch.long), "group_size": 2}, "floating"),
        ({"rewards": torch.ones(4), "group_size": 2, "scale": "batch"}, "scale must be one of"),
        ({"rewards": torch.ones(4), "group_size": 2, "eps": -1.0}, "eps must be >= 0"),
    ],
)
def test_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        group_advantages(**kwargs)
