"""The finish stage's choice of the demo sampler (the stage itself runs end to end in
tests/training/test_campaign.py)."""

from training.stage_finish import choose, forwards


def test_the_cheapest_setting_that_holds_the_quality():
    scores = {
        (16, 4.0): 24.00,  # the best: 32 forwards
        (8, 1.0): 23.80,  # 8 forwards, but 0.2 dB off
        (4, 1.0): 23.93,  # 4 forwards, within 0.1 dB
        (2, 2.0): 23.95,  # 4 forwards too (guided), and better: chosen
        (1, 1.0): 20.00,
    }
    assert choose(scores, hold_db=0.1) == (2, 2.0)
    assert choose(scores, hold_db=0.0) == (16, 4.0)
    assert choose(scores, hold_db=5.0) == (1, 1.0)
    assert forwards(8, 1.0) == 8 and forwards(8, 1.5) == 16
