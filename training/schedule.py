"""Warmup-stable-decay learning rates: the schedule a stage can be extended on.

    lr(step) = peak * (step + 1) / warmup                    step < warmup
             = peak                                          warmup <= step < total - decay
             = peak * (floor + (1 - floor) * (total - step) / decay)   the last `decay` steps

Up to the decay's start, lr(step) does not depend on `total`: a stage that needs more steps is
extended by raising `total` (and its decay start with it) any time before the decay begins, and
follows exactly the schedule of a run that was planned longer from the start. A run already in
its decay is extended from the snapshot taken where the decay began (`stable.safetensors`).
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class WSD:
    peak: float  # learning rate of the stable phase
    warmup: int  # steps of linear warm-up from peak / warmup
    total: int  # steps in the stage
    decay: int  # the last `decay` steps fall linearly to floor * peak
    floor: float = 0.0  # fraction of peak at the last step

    def __post_init__(self):
        if not (0 <= self.warmup and 0 < self.decay <= self.total - self.warmup):
            raise ValueError(f"need 0 <= warmup and 0 < decay <= total - warmup: {self}")

    @property
    def decay_start(self) -> int:
        return self.total - self.decay

    def lr(self, step: int) -> float:
        if step < self.warmup:
            return self.peak * (step + 1) / self.warmup
        if step < self.decay_start:
            return self.peak
        left = max(0, self.total - step) / self.decay
        return self.peak * (self.floor + (1 - self.floor) * left)

    def extended(self, total: int, decay: int | None = None) -> "WSD":
        """The same schedule, longer; the decay keeps its length unless given."""
        return WSD(
            self.peak, self.warmup, total, self.decay if decay is None else decay, self.floor
        )
