"""VideoFlexTok demo: drag k, the tokens kept per timestep, and watch a video reconstruct coarse
to fine. The Gradio app over `demo/`: `wire` holds the handlers (one per event; an endpoint's
parameters are its API's, in order) and connects them to the page's components (`layout.Page`);
then the command line (`python app.py --help`). Named API, see the README: /tokenize,
/reconstruct, /curve, /seeds, /decode_tokens.
"""

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # read when gradio is imported
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
if os.environ.get("SPACES_ZERO_GPU"):
    try:  # ZeroGPU: `spaces` patches torch's CUDA before anything asks for a device
        import spaces  # noqa: F401
    except ImportError:
        pass

import contextlib
import functools
import html
import inspect
import sys
import threading

import gradio as gr

from demo import zerogpu
from demo.cli import parse_args
from demo.models import Models
from demo.paths import EXAMPLES
from demo.views import NO_VIDEO, Shown, k_line
from demo.warm_up import warm_up
from layout import CSS, THEME, Page
from videoflextok_core.figures import token_figure
from videoflextok_core.model.checkpoint import CheckpointError

HEAVY = {"concurrency_limit": 1, "concurrency_id": "device"}  # one model call per device
LIGHT = {"api_visibility": "private", "queue": False, "show_progress": "hidden"}  # page only
PROGRESS = gr.Progress()  # a handler's `progress=PROGRESS`: Gradio passes the event's bar


def shows_errors(handler):
    """A bad video, tokens file or setting (ValueError): its message on the page, no traceback.
    For a plain handler and for a generator (the ladder)."""

    @contextlib.contextmanager
    def messages():
        try:
            yield
        except ValueError as e:
            text = html.escape(" ".join(str(e).split()), quote=False)
            raise gr.Error(text, print_exception=False) from None

    @functools.wraps(handler)
    def call(*args, **kwargs):
        with messages():
            return handler(*args, **kwargs)

    @functools.wraps(handler)
    def generate(*args, **kwargs):
        with messages():
            yield from handler(*args, **kwargs)

    return generate if inspect.isgeneratorfunction(handler) else call


def wire(demo: gr.Blocks, page: Page, models: Models) -> None:
    """The handlers, one per event, and the events that run them. `@on_gpu` names a handler's
    ZeroGPU duration (`demo.zerogpu`); a follow-up reads what the event before it showed."""
    p, on_gpu = page, models.on_gpu

    @on_gpu(zerogpu.tokenize)
    @shows_errors
    def tokenize(video, start, length, model, progress=PROGRESS):
        service = models.service(model, progress)
        request = service.request(video=video, start=start, length=length)
        if request.video is None:
            return None, NO_VIDEO
        path, summary = service.tokenize(request, progress)
        return str(path), summary

    @on_gpu(zerogpu.reconstruct)
    @shows_errors
    def reconstruct(video, k, guidance, steps, seed, apg, start, length, model, progress=PROGRESS):
        service = models.service(model, progress)
        sampler = service.sampler(guidance=guidance, steps=steps, seed=seed, apg=apg)
        request = service.request(video=video, start=start, length=length, k=k, sampler=sampler)
        if request.video is None:
            return None, NO_VIDEO, None
        r = service.reconstruct(request, progress)
        return str(r.side_by_side), r.stats.line(), Shown(model, request, reconstruction=r)

    @on_gpu(zerogpu.curve)
    @shows_errors
    def curve(video, guidance, steps, seed, apg, start, length, k, model, progress=PROGRESS):
        service = models.service(model, progress)
        sampler = service.sampler(guidance=guidance, steps=steps, seed=seed, apg=apg)
        request = service.request(video=video, start=start, length=length, k=k, sampler=sampler)
        for view in service.curve(request, progress):  # the ETA: in the progress messages
            csv = str(view.csv) if view.csv else None
            yield csv, view.figure, Shown(model, request, curve=view)

    @on_gpu(zerogpu.seeds)
    @shows_errors
    def seeds(video, k, guidance, steps, seed, apg, seeds, start, length, model, progress=PROGRESS):
        service = models.service(model, progress)
        sampler = service.sampler(guidance=guidance, steps=steps, seed=seed, apg=apg)
        request = service.request(
            video=video, start=start, length=length, k=k, sampler=sampler, seeds=seeds
        )
        if request.video is None:
            raise ValueError(NO_VIDEO)
        v = service.seed_view(request, progress)
        return str(v.grid), str(v.image), v.stats.line(), Shown(model, request)

    @on_gpu(zerogpu.decode_tokens)
    @shows_errors
    def decode_tokens(tokens_file, k, guidance, steps, seed, apg, model, progress=PROGRESS):
        service = models.service(model, progress)
        sampler = service.sampler(guidance=guidance, steps=steps, seed=seed, apg=apg)
        path, stats = service.decode_file(tokens_file, service.request(k=k, sampler=sampler))
        return str(path), stats.line()

    @on_gpu(zerogpu.tokenize)
    @shows_errors
    def select_model(model, progress=PROGRESS):  # loads it on first use, clears the outputs
        service = models.service(model, progress)
        controls = p.controls(service.page_setup())
        return {**controls, p.notice: service.choice.notice, **dict.fromkeys(cleared)}

    def views(shown: Shown | None):  # after a reconstruction: tokens, downloads, curve, ETA
        service = models.loaded(shown.model) if shown else None
        if service is None:  # nothing decoded (no video), or its model is gone since
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        v = service.views(shown.request, shown.reconstruction)
        curve = v.curve.figure if v.curve is not None else gr.skip()
        return token_figure(v.tokens, v.k), [str(f) for f in v.downloads], curve, v.eta

    def grid(ladder: Shown | None):  # after the ladder: its budget grid
        service = models.loaded(ladder.model) if ladder else None
        if service is None or not ladder.curve.result.complete:
            return gr.skip(), gr.skip()
        return str(service.grid(ladder.curve)), ladder.curve.eta

    def spread_curve(seeded: Shown | None):  # after a seed view: the curve with the spreads
        service = models.loaded(seeded.model) if seeded else None
        view = service.finished_curve(seeded.request) if service is not None else None
        return view.figure if view is not None else gr.skip()

    def k_tokens(model, k, length):  # the slider's k and its token count, as it moves
        setup = models.setup(model)
        if setup is None or length not in setup.timesteps:
            return gr.skip()
        return k_line(int(k), setup.timesteps[length])

    def k_range(model):  # the page's k range is the model's (the component's is the API's)
        return p.controls(models.setup(model))[p.k]

    def run(event, handler, outputs, api_name=None, **options):  # on the device's queue
        named = {"api_name": api_name} if api_name else {"api_visibility": "private"}
        return event(
            handler, inputs_kwargs=p.inputs(handler), outputs=outputs, **named, **options, **HEAVY
        )

    def decode(event, api_name=None):  # a reconstruction, then what the page shows around it
        shown = run(event, reconstruct, [p.sbs, p.stats, p.shown], api_name)
        run(shown.success, views, [p.token_plot, p.downloads, p.curve_plot, p.ladder_eta])

    # The named API first: later (private) events with the same function get suffixed names.
    decode(p.k.release, "reconstruct")
    # The ladder's progress bar covers the grid, so the curve stays visible as it fills in.
    outputs = [p.csv_file, p.curve_plot, p.ladder]
    ladder = run(p.ladder_btn.click, curve, outputs, "curve", show_progress_on=p.grid_video)
    run(ladder.success, grid, [p.grid_video, p.ladder_eta])
    outputs = [p.seeds_video, p.spread_img, p.seed_stats, p.seeded]
    run(run(p.seeds_btn.click, seeds, outputs, "seeds").success, spread_curve, p.curve_plot)
    run(p.decode_file_btn.click, decode_tokens, [p.decoded, p.decoded_stats], "decode_tokens")
    clip = functools.partial(gr.on, [p.video.change, p.length.change, p.start.submit, p.start.blur])
    decode(run(clip, tokenize, [p.tokens_out, p.clip_info], "tokenize").success)
    decode(p.decode_btn.click)
    # A new model: load it (progress on the player), set its controls, clear the old model's
    # outputs, then tokenize and decode the clip again at its size.
    cleared = [p.sbs, p.stats, p.curve_plot, p.grid_video, p.csv_file, p.token_plot, p.downloads]
    cleared += [p.seeds_video, p.spread_img, p.seed_stats]
    outputs = [*p.controls(models.first.page_setup()), p.notice, *cleared]
    switched = run(p.model.change, select_model, outputs, show_progress_on=p.sbs)
    decode(run(switched.success, tokenize, [p.tokens_out, p.clip_info]).success)
    gr.on(
        [p.k.change, p.length.change],
        k_tokens,
        inputs_kwargs=p.inputs(k_tokens),
        outputs=p.k_info,
        **LIGHT,
    )
    demo.load(k_range, inputs_kwargs=p.inputs(k_range), outputs=p.k, **LIGHT)


def build_demo(models: Models) -> gr.Blocks:
    """The page for `models`, not launched (Spaces and the tests import it)."""
    # delete_cache: Gradio's copies of the outputs older than 2 h go, checked every hour.
    with gr.Blocks(title="VideoFlexTok", fill_width=True, delete_cache=(3600, 7200)) as demo:
        wire(demo, Page(models), models)
    return demo


if __name__ == "__main__":
    args = parse_args()
    try:  # module level: Spaces / ZeroGPU
        models = Models.start(args.model, args.models, args.device, args.precision)
    except (CheckpointError, ValueError) as e:  # no model, bad --model or --device
        sys.exit(f"error: {' '.join(str(e).split())}")
    demo = build_demo(models)
    if not args.no_warm_up and not zerogpu.on_zero_gpu():  # the warm-up needs the model here
        threading.Thread(target=warm_up, args=(models.first, EXAMPLES), daemon=True).start()
    demo.queue(default_concurrency_limit=1).launch(
        server_name=args.host,
        server_port=args.port,
        share=args.share,
        theme=THEME,
        css=CSS,
        footer_links=["api", "gradio", "settings"],
        run_history=False,
        show_error=False,
    )
