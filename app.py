"""VideoFlexTok demo: drag k, the tokens kept per timestep, and watch a video reconstruct coarse
to fine. A thin Gradio layer over `demo.models.Models` (the model choices) and their
`demo.service.DemoService`s (the logic).

    python app.py [--model REF] [--models REF,REF] [--device cpu|cuda]
                  [--precision auto|fp32|bf16] [--host 0.0.0.0]
                  [--port 7860] [--share]

The start-up model loads at start-up ($VIDEOFLEXTOK_MODEL works like --model), the others on
first use ($VIDEOFLEXTOK_MODELS like --models). Named API (see the README): /tokenize,
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

import argparse  # noqa: E402
import html  # noqa: E402
import inspect  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402

import gradio as gr  # noqa: E402

from demo.examples import example_sets  # noqa: E402
from demo.models import MODELS_ENV, Models, parse_refs  # noqa: E402
from demo.paths import EXAMPLES  # noqa: E402
from demo.service import DemoService  # noqa: E402
from demo.startup import gpu_task  # noqa: E402
from demo.views import PageSetup, k_line  # noqa: E402
from videoflextok_core.figures import token_figure  # noqa: E402
from videoflextok_core.model.checkpoint import CheckpointError  # noqa: E402
from videoflextok_core.model.precision import PRECISION_HELP, PRECISIONS  # noqa: E402
from videoflextok_core.seeds import MAX_SEEDS, MIN_SEEDS  # noqa: E402

# System fonts only: the page must not fetch anything from the internet.
THEME = gr.themes.Default(
    font=["ui-sans-serif", "system-ui", "Segoe UI", "Roboto", "sans-serif"],
    font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"],
)
CSS = """
#notice {border-left: 4px solid #f59e0b; padding-left: 10px}
.credit {font-size: 0.8em}
#k-tokens {font-size: 1.1em}
@media (max-width: 600px) {  /* phones: full-width columns, tighter padding */
  .gradio-container {padding: 6px !important}
  #stats, #seed-stats {font-size: 0.85em}
}
"""
HEAVY = {"concurrency_limit": 1, "concurrency_id": "device"}  # one model call per device
NO_VIDEO = "Upload a video or pick an example."
K_MAX = 256  # the k slider's range for the API: the largest N offered (the page shows the model's)
PROGRESS = gr.Progress()  # Gradio's progress bar; the event it reports to comes from the context

# Each event's inputs by name, in the order of its API (README "### API"): the page's controls
# (`page` in build_demo), read into one Request by `DemoService.request`, except FILES and
# "model" (which picks the service). Optional ones (the page's defaults) come last.
TOKENIZE = ("video", "start", "length", "model")
RECONSTRUCT = ("video", "k", "guidance", "steps", "seed", "apg", "start", "length", "model")
CURVE = ("video", "guidance", "steps", "seed", "apg", "start", "length", "k", "model")
SEEDS = ("video", "k", "guidance", "steps", "seed", "apg", "seeds", "start", "length", "model")
DECODE_TOKENS = ("tokens_file", "k", "guidance", "steps", "seed", "apg", "model")
FILES = ("tokens_file",)  # handed to the handler as they are


def user_error(e: ValueError) -> gr.Error:
    """A bad video, tokens file or setting: its message on the page, no traceback."""
    return gr.Error(html.escape(" ".join(str(e).split()), quote=False), print_exception=False)


def bar(progress: gr.Progress):
    return lambda fraction, message: progress(fraction, desc=message)


def page_handler(models: Models, names: tuple[str, ...], seconds=None):
    """Decorator: `fn(service, request[, progress])`, or `fn(service, tokens_file, request[,
    progress])`, becomes the Gradio handler of the inputs `names` (in that order, the API's).
    "model" picks the service (`models.service`, loading it on first use); the other values
    are read into one `Request` by it, by name (`service.request`); `progress` is a (fraction,
    message) callback; a ValueError becomes `user_error`. On ZeroGPU the handler is a GPU task
    of `seconds(service, request)` plus the model's load time if it is not loaded (the
    defaults' request if the values are bad: it must never fail)."""
    P = inspect.Parameter

    def wrap(fn):
        takes_progress = "progress" in inspect.signature(fn).parameters
        params = [P(n, P.POSITIONAL_OR_KEYWORD) for n in names]
        if takes_progress:  # Gradio passes its tracker where a parameter defaults to one
            params.append(P("progress", P.POSITIONAL_OR_KEYWORD, default=PROGRESS))
        signature = inspect.Signature(params)

        def values_of(args, kwargs) -> tuple[dict, list]:
            values = signature.bind(*args, **kwargs).arguments
            return values, [bar(values.pop("progress", PROGRESS))] if takes_progress else []

        def call(args, kwargs):
            values, progress = values_of(args, kwargs)
            service = models.service(values.pop("model", None), *progress)
            files = [values.pop(n) for n in names if n in FILES]
            return fn(service, *files, service.request(**values), *progress)

        if inspect.isgeneratorfunction(fn):

            def handler(*args, **kwargs):
                try:
                    yield from call(args, kwargs)
                except ValueError as e:
                    raise user_error(e) from None

        else:

            def handler(*args, **kwargs):
                try:
                    return call(args, kwargs)
                except ValueError as e:
                    raise user_error(e) from None

        handler.__name__ = handler.__qualname__ = fn.__name__
        handler.__signature__ = signature  # what Gradio reads: the API's parameter names

        def duration(*args, **kwargs) -> int:
            values, _ = values_of(args, kwargs)
            name = values.pop("model", None)
            try:
                service = models.loaded(name) or models.first  # a stand-in until it is loaded
            except ValueError:  # an unknown model: the handler answers with the message
                service = models.first
            try:
                request = service.request(**{n: v for n, v in values.items() if n not in FILES})
            except (ValueError, TypeError):
                request = service.request()
            return seconds(service, request) + models.load_seconds(name)

        # outermost: on ZeroGPU the message travels as gr.Error
        return handler if seconds is None else gpu_task(duration)(handler)

    return wrap


def controls(setup: PageSetup) -> list:
    """Updates of the controls that depend on the model (`CONTROLS` in build_demo)."""
    d, s, N = setup.defaults, setup.defaults.sampler, setup.n_registers
    return [
        gr.update(maximum=N, value=d.k, label=f"k: tokens per timestep (1..{N})"),
        k_line(d.k, setup.timesteps[d.frames]),
        gr.update(choices=list(setup.lengths), value=d.frames),
        s.guidance,
        s.steps,
        s.seed,
        s.apg,
        d.seeds,
        setup.info,
        gr.update(value=f"Measure the quality ladder k = {', '.join(map(str, setup.ladder))}"),
    ]


def build_demo(models: Models) -> gr.Blocks:
    service = models.first
    setup = service.page_setup()
    d, N = setup.defaults, setup.n_registers
    s = d.sampler

    @page_handler(models, TOKENIZE, DemoService.tokenize_seconds)
    def tokenize(service, request, progress):
        if request.video is None:
            return None, NO_VIDEO
        path, info = service.tokenize(request, progress)
        return str(path), info

    @page_handler(models, RECONSTRUCT, DemoService.decode_seconds)
    def reconstruct(service, request, progress):
        if request.video is None:
            return None, NO_VIDEO
        r = service.reconstruct(request, progress)
        return str(r.side_by_side), r.stats.line()

    @page_handler(models, RECONSTRUCT, DemoService.decode_seconds)  # decodes only if evicted
    def views(service, request):
        if request.video is None:
            return None, None, None, service.ladder_eta(request)
        v = service.views(request)
        curve = v.curve.figure if v.curve is not None else gr.skip()
        return token_figure(v.tokens, v.k), [str(p) for p in v.downloads], curve, v.eta

    @page_handler(models, CURVE, DemoService.ladder_seconds)
    def curve(service, request, progress):
        for view in service.curve(request, progress):  # the ETA is in the progress messages
            yield (str(view.csv) if view.csv else None), view.figure

    @page_handler(models, CURVE)
    def grid(service, request):
        view = service.finished_curve(request)
        return (str(service.grid(view)), view.eta) if view else (gr.skip(), gr.skip())

    @page_handler(models, SEEDS, DemoService.seeds_seconds)
    def seeds(service, request, progress):
        if request.video is None:
            raise ValueError(NO_VIDEO)
        v = service.seed_view(request, progress)
        return str(v.grid), str(v.image), v.stats.line()

    @page_handler(models, CURVE)
    def spread_curve(service, request):  # the finished ladder, with the spreads measured
        view = service.finished_curve(request)
        return view.figure if view is not None else gr.skip()

    @page_handler(models, DECODE_TOKENS, DemoService.file_seconds)
    def decode_tokens(service, tokens_file, request, progress):
        path, stats = service.decode_file(tokens_file, request, progress)
        return str(path), stats.line()

    @page_handler(models, ("model",), DemoService.tokenize_seconds)
    def select_model(service, request, progress):  # loads on first use; clears the outputs
        note = models.option_of(service).note  # the top notice says which model runs and why
        notice = service.choice.notice + (f" ⚠️ {note}." if note else "")
        return [*controls(service.page_setup()), notice, *[None] * len(CLEARED)]

    def k_tokens(name, k, length):  # light: the slider's k and its token count, as it moves
        setup = models.setup(name)
        if setup is None or length not in setup.timesteps:
            return gr.skip()
        return k_line(int(k), setup.timesteps[length])

    # delete_cache: Gradio's copies of the outputs older than 2 h go, checked every hour.
    with gr.Blocks(title="VideoFlexTok", fill_width=True, delete_cache=(3600, 7200)) as demo:
        gr.Markdown(
            "# VideoFlexTok: coarse-to-fine video tokens\n"
            "Each latent frame (timestep) of a video becomes a sequence of tokens ordered coarse "
            "to fine; any prefix of **k** tokens decodes into a plausible video. Upload a clip, "
            "then drag k. ([paper](https://arxiv.org/abs/2604.12887))"
        )
        notice = gr.Markdown(service.choice.notice, elem_id="notice")
        sbs = gr.Video(
            label="original | reconstruction | error",
            show_label=False,
            loop=True,
            autoplay=True,
            interactive=False,
            elem_id="side-by-side",
            render=False,
        )
        stats = gr.Markdown(elem_id="stats", render=False)
        with gr.Row():
            with gr.Column(scale=2, min_width=320):
                model = gr.Dropdown(
                    models.names,
                    value=models.default,
                    label="Model",
                    interactive=len(models.names) > 1,
                    info=None if len(models.names) > 1 else "the released models need a GPU",
                    elem_id="model",
                )
                video = gr.Video(label="Input video", sources=["upload"], height=260)
                for examples in example_sets():
                    gr.Examples([[str(p)] for p in examples.paths], [video], label=examples.label)
                    if examples.credit:
                        gr.Markdown(examples.credit, elem_classes="credit")
                with gr.Row():
                    start = gr.Number(0, label="Start (s)", minimum=0, step=0.5, min_width=80)
                    length = gr.Dropdown(
                        list(setup.lengths),
                        value=d.frames,
                        label="Clip length (frames)",
                        min_width=160,
                    )
                clip_info = gr.Markdown()
                with gr.Accordion("Model", open=True):
                    model_info = gr.Markdown(setup.info)
            with gr.Column(scale=5, min_width=320):
                k = gr.Slider(
                    1,
                    max(K_MAX, N),  # the API's range; the page shows the model's (demo.load)
                    value=d.k,
                    step=1,
                    label=f"k: tokens per timestep (1..{N})",
                    info="Decodes when you let go.",
                    elem_id="k",
                )
                k_info = gr.Markdown(k_line(d.k, setup.timesteps[d.frames]), elem_id="k-tokens")
                with gr.Accordion("Sampler", open=False), gr.Row():
                    g = s.guidance  # the range holds any tuned default
                    guidance = gr.Slider(
                        min(1.0, g),
                        max(30.0, g),
                        value=g,
                        step=0.25,
                        label="Guidance scale (1 = off)",
                    )
                    steps = gr.Slider(1, 100, value=s.steps, step=1, label="Denoising steps")
                    seed = gr.Number(s.seed, label="Seed", precision=0, minimum=0)
                    apg = gr.Checkbox(s.apg, label="APG (adaptive projected guidance)")
                    decode_btn = gr.Button("Decode", variant="primary")
                sbs.render()
                stats.render()
        with gr.Tabs():
            with gr.Tab("Quality curve"):
                with gr.Row():
                    ladder = ", ".join(map(str, setup.ladder))
                    ladder_btn = gr.Button(f"Measure the quality ladder k = {ladder}", scale=2)
                    ladder_eta = gr.Markdown(elem_id="ladder-eta")
                curve_plot = gr.Plot(label="PSNR / SSIM vs k", elem_id="curve")
                with gr.Row():
                    grid_video = gr.Video(
                        label="Budget grid",
                        show_label=False,
                        autoplay=True,
                        loop=True,
                        interactive=False,
                        elem_id="grid",
                    )
                    csv_file = gr.File(label="Curve CSV")
            with gr.Tab("What the decoder invents"):
                gr.Markdown(
                    "The same tokens decoded from different noise (seeds): what stays fixed is "
                    "what the tokens carry, what changes is invented by the decoder. The heatmap "
                    "is the per-pixel spread (std across seeds); it shrinks as k grows. Its mean "
                    "joins the quality curve as a series."
                )
                with gr.Row():
                    n_seeds = gr.Slider(
                        MIN_SEEDS, MAX_SEEDS, value=d.seeds, step=1, label="Seeds (from Seed on)"
                    )
                    seeds_btn = gr.Button("Decode the seeds at k", variant="primary")
                with gr.Row():
                    seeds_video = gr.Video(
                        label="original | seeds | spread",
                        autoplay=True,
                        loop=True,
                        interactive=False,
                        elem_id="seeds",
                        scale=3,
                    )
                    spread_img = gr.Image(
                        label="Spread across seeds (mean over frames)",
                        interactive=False,
                        elem_id="spread",
                        scale=2,
                    )
                seed_stats = gr.Markdown(elem_id="seed-stats")
            with gr.Tab("Tokens"):
                token_plot = gr.Plot(label="Token ids", elem_id="tokens")
                downloads = gr.File(
                    label="Downloads: tokens (.safetensors), reconstruction", file_count="multiple"
                )
            with gr.Tab("Decode a tokens file"):
                tokens_in = gr.File(
                    label="Tokens (.safetensors from this app or the CLI)",
                    file_types=[".safetensors"],
                )
                decode_file_btn = gr.Button("Decode tokens file (k and sampler from above)")
                decoded = gr.Video(label="Decoded", autoplay=True, loop=True, interactive=False)
                decoded_stats = gr.Markdown()
        tokens_out = gr.File(visible=False)

        page = dict(video=video, start=start, length=length, k=k, guidance=guidance, steps=steps)
        page.update(seed=seed, apg=apg, seeds=n_seeds, tokens_file=tokens_in, model=model)
        CONTROLS = [k, k_info, length, guidance, steps, seed, apg, n_seeds, model_info, ladder_btn]
        CLEARED = [sbs, stats, curve_plot, grid_video, csv_file, token_plot, downloads]
        CLEARED += [seeds_video, spread_img, seed_stats]

        def inputs(names: tuple[str, ...]) -> list:
            return [page[n] for n in names]

        recon_in = inputs(RECONSTRUCT)
        show = dict(
            fn=views,
            inputs=recon_in,
            outputs=[token_plot, downloads, curve_plot, ladder_eta],
            api_visibility="private",
            **HEAVY,
        )
        # The named API first: later (private) events with the same function get suffixed names.
        # The ladder's progress bar covers the grid, so the curve stays visible as it fills in.
        k.release(reconstruct, recon_in, [sbs, stats], api_name="reconstruct", **HEAVY).success(
            **show
        )
        ladder_btn.click(
            curve,
            inputs(CURVE),
            [csv_file, curve_plot],
            api_name="curve",
            show_progress_on=grid_video,
            **HEAVY,
        ).success(grid, inputs(CURVE), [grid_video, ladder_eta], api_visibility="private", **HEAVY)
        seeds_btn.click(
            seeds, inputs(SEEDS), [seeds_video, spread_img, seed_stats], api_name="seeds", **HEAVY
        ).success(spread_curve, inputs(CURVE), curve_plot, api_visibility="private", **HEAVY)
        decode_file_btn.click(
            decode_tokens,
            inputs(DECODE_TOKENS),
            [decoded, decoded_stats],
            api_name="decode_tokens",
            **HEAVY,
        )
        gr.on(
            [video.change, length.change, start.submit, start.blur],
            tokenize,
            inputs(TOKENIZE),
            [tokens_out, clip_info],
            api_name="tokenize",
            **HEAVY,
        ).success(reconstruct, recon_in, [sbs, stats], api_visibility="private", **HEAVY).success(
            **show
        )
        decode_btn.click(
            reconstruct, recon_in, [sbs, stats], api_visibility="private", **HEAVY
        ).success(**show)
        # A new model: load it (progress on the player), set its controls, clear the old
        # model's outputs, then tokenize and decode the clip again at its size.
        model.change(
            select_model,
            [model],
            [*CONTROLS, notice, *CLEARED],
            api_visibility="private",
            show_progress_on=sbs,
            **HEAVY,
        ).success(
            tokenize, inputs(TOKENIZE), [tokens_out, clip_info], api_visibility="private", **HEAVY
        ).success(reconstruct, recon_in, [sbs, stats], api_visibility="private", **HEAVY).success(
            **show
        )
        gr.on(
            [k.change, length.change],
            k_tokens,
            [model, k, length],
            k_info,
            api_visibility="private",
            queue=False,
            show_progress="hidden",
        )
        demo.load(  # the page's k range is the model's (the component's is the API's)
            lambda name: controls(models.setup(name))[0],
            [model],
            [k],
            api_visibility="private",
            queue=False,
            show_progress="hidden",
        )
    return demo


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="VideoFlexTok Gradio demo")
    p.add_argument(
        "--model",
        help="start-up model: checkpoint dir, .safetensors or Hub id (default: the Hub "
        "model on a GPU, else assets/demo-model; env VIDEOFLEXTOK_MODEL)",
    )
    p.add_argument(
        "--models",
        type=parse_refs,
        help="comma-separated refs the model selector offers (default: on a GPU both released "
        f"models and the demo model, on a CPU only the start-up model; env {MODELS_ENV})",
    )
    p.add_argument("--device", help="cpu or cuda (default: cuda if available)")
    p.add_argument("--precision", choices=PRECISIONS, default="auto", help=PRECISION_HELP)
    p.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)))
    p.add_argument(
        "--share",
        action="store_true",
        help="public gradio.live link (off: nothing leaves this machine)",
    )
    p.add_argument(
        "--no-warm-up",
        action="store_true",
        help="do not decode the example clips in the background after start-up",
    )
    return p.parse_args(argv)


if __name__ == "__main__":
    args = parse_args()
    try:  # module level: Spaces / ZeroGPU
        models = Models.start(
            ref=args.model, refs=args.models, device=args.device, precision=args.precision
        )
    except (CheckpointError, ValueError) as e:  # no model, bad --model or --device
        sys.exit(f"error: {' '.join(str(e).split())}")
    demo = build_demo(models)
    service = models.first
    if not args.no_warm_up and service.can_warm_up():
        threading.Thread(target=service.warm_up, args=(EXAMPLES,), daemon=True).start()
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
