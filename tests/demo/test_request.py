"""`demo.request`: the page's raw values (floats from sliders, None for the page's default) read
once into a checked `Request` and `Sampler`, with a message for a person when they are bad."""

import pytest
from paths import EXAMPLE, ROOT

from demo.defaults import Defaults
from demo.request import Request, page_request, page_sampler
from videoflextok_core.model.sampling import Sampler

DEFAULTS = Defaults(
    k=4,
    frames=17,
    frame_choices=(17, 33, 49, 65),
    sampler=Sampler(steps=25, guidance=20.0, apg=True),
    ladder=(1, 2, 4, 8, 16),
)
N = 16  # tokens per latent frame


@pytest.mark.parametrize(
    "call, fragment",
    [
        (
            lambda: page_request(DEFAULTS, N, video=EXAMPLE, k=0),
            "k (tokens per timestep) must be in 1..16",
        ),
        (lambda: page_request(DEFAULTS, N, video=EXAMPLE, k=2.5), "whole number"),
        (lambda: page_request(DEFAULTS, N, video=EXAMPLE, k=float("inf")), "whole number"),
        (lambda: page_request(DEFAULTS, N, video=EXAMPLE, length=18), "one of [17, 33, 49, 65]"),
        (lambda: page_request(DEFAULTS, N, video=EXAMPLE, start=-1), "start time"),
        (lambda: page_request(DEFAULTS, N, video=ROOT / "nope.mp4"), "nope.mp4: no such file"),
        (lambda: page_request(DEFAULTS, N, seeds=9), "number of seeds must be in 2..8, got 9"),
        (lambda: page_request(DEFAULTS, N, seeds=1.0), "number of seeds must be in 2..8, got 1"),
        (lambda: page_sampler(DEFAULTS, steps=0), "denoising steps must be in 1..100"),
        (lambda: page_sampler(DEFAULTS, seed=-1), "seed"),
        (lambda: page_sampler(DEFAULTS, guidance=float("nan")), "guidance scale"),
        (lambda: page_sampler(DEFAULTS, guidance=True), "guidance scale"),
    ],
)
def test_bad_values(call, fragment):
    with pytest.raises(ValueError) as e:
        call()
    assert fragment in str(e.value), str(e.value)


def test_seeds_beyond_the_last_seed():
    sampler = page_sampler(DEFAULTS, seed=2**63 - 2)
    with pytest.raises(ValueError, match="seeds 9223372036854775806..9223372036854775809 go"):
        page_request(DEFAULTS, N, sampler=sampler, seeds=4)


def test_page_values_as_floats():
    """Gradio sends sliders and numbers as floats: whole numbers become ints, once."""
    sampler = page_sampler(DEFAULTS, guidance=2.0, steps=2.0, seed=0.0, apg=True)
    page = dict(video=str(EXAMPLE), k=4.0, start=0.0, length=17.0)
    request = page_request(DEFAULTS, N, **page, sampler=sampler)
    assert request == Request(EXAMPLE, 0.0, 17, 4, Sampler(steps=2, guidance=2.0, apg=True))
    assert isinstance(request.k, int) and isinstance(request.sampler.steps, int)


def test_none_is_the_pages_default():
    assert page_request(DEFAULTS, N) == Request(None, 0.0, 17, 4, DEFAULTS.sampler, seeds=4)
    assert page_sampler(DEFAULTS) == DEFAULTS.sampler


def test_tokens_file_settings():
    """What a tokens file records to decode as the page did: upstream's names."""
    meta = page_request(DEFAULTS, N, k=8).metadata()
    assert meta == {
        "decode_k": 8,
        "decode_timesteps": 25,
        "decode_guidance_scale": 20.0,
        "decode_perform_norm_guidance": True,
        "decode_seed": 0,
    }
