"""VideoFlexTok demo: drag k, the tokens kept per timestep, and watch a video reconstruct coarse
to fine. A thin Gradio layer over `videoflextok_core.demo.DemoService` (the logic is in the core).

    python app.py [--model REF] [--device cpu|cuda] [--precision auto|fp32|bf16] [--host 0.0.0.0]
                  [--port 7860] [--share]

The model loads once, at start-up ($VIDEOFLEXTOK_MODEL works like --model). Named API (see the
README): /tokenize, /reconstruct, /curve, /decode_tokens.
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

from demo.request import Request  # noqa: E402
from demo.service import DemoService  # noqa: E402
from demo.startup import gpu_task  # noqa: E402
from videoflextok_core.figures import token_figure  # noqa: E402
from videoflextok_core.model.checkpoint import CheckpointError  # noqa: E402
from videoflextok_core.model.precision import PRECISIONS  # noqa: E402
from videoflextok_core.paths import EXAMPLES  # noqa: E402

# System fonts only: the page must not fetch anything from the internet.
THEME = gr.themes.Default(
    font=["ui-sans-serif", "system-ui", "Segoe UI", "Roboto", "sans-serif"],
    font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"],
)
CSS = "#notice {border-left: 4px solid #f59e0b; padding-left: 10px}"
HEAVY = {"concurrency_limit": 1, "concurrency_id": "device"}  # one model call per device
NO_VIDEO = "Upload a video or pick an example."
PROGRESS = gr.Progress()  # Gradio's progress bar; the event it reports to comes from the context

# Each event's inputs by name, in the order of its API (README "### API"): the page's controls
# (`page` in build_demo), read into one Request by `DemoService.request`, except FILES.
TOKENIZE = ("video", "start", "length")
RECONSTRUCT = ("video", "k", "guidance", "steps", "seed", "apg", "start", "length")
CURVE = ("video", "guidance", "steps", "seed", "apg", "start", "length", "k")
GRID = CURVE[:-1]
DECODE_TOKENS = ("tokens_file", "k", "guidance", "steps", "seed", "apg")
FILES = ("tokens_file",)  # handed to the handler as they are


def user_error(e: ValueError) -> gr.Error:
    """A bad video, tokens file or setting: its message on the page, no traceback."""
    return gr.Error(html.escape(" ".join(str(e).split()), quote=False), print_exception=False)


def bar(progress: gr.Progress):
    return lambda fraction, message: progress(fraction, desc=message)


def page_handler(service: DemoService, names: tuple[str, ...], seconds=None):
    """Decorator: `fn(request[, progress])`, or `fn(tokens_file, request[, progress])`, becomes
    the Gradio handler of the inputs `names` (in that order, the API's). Their values are read
    into one `Request` here, by name (`service.request`); `progress` is a (fraction, message)
    callback; a ValueError becomes `user_error`. On ZeroGPU the handler is a GPU task of
    `seconds(request)` (the defaults' request if the values are bad: it must never fail)."""
    P = inspect.Parameter

    def wrap(fn):
        takes_progress = "progress" in inspect.signature(fn).parameters
        params = [P(n, P.POSITIONAL_OR_KEYWORD) for n in names]
        if takes_progress:  # Gradio passes its tracker where a parameter defaults to one
            params.append(P("progress", P.POSITIONAL_OR_KEYWORD, default=PROGRESS))
        signature = inspect.Signature(params)

        def read(args, kwargs) -> tuple[list, Request, list]:
            """Gradio's values -> (the files, one Request, [the progress bar] or [])."""
            values = signature.bind(*args, **kwargs).arguments
            progress = [bar(values.pop("progress", PROGRESS))] if takes_progress else []
            files = [values.pop(n) for n in names if n in FILES]
            return files, service.request(**values), progress

        def call(args, kwargs):
            files, request, progress = read(args, kwargs)
            return fn(*files, request, *progress)

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
            try:
                request = read(args, kwargs)[1]
            except (ValueError, TypeError):
                request = service.request()
            return seconds(request)

        # outermost: on ZeroGPU the message travels as gr.Error
        return handler if seconds is None else gpu_task(duration)(handler)

    return wrap


def build_demo(service: DemoService) -> gr.Blocks:
    d, N = service.defaults, service.model.n_registers
    s = d.sampler

    @page_handler(service, TOKENIZE, service.tokenize_seconds)
    def tokenize(request, progress):
        if request.video is None:
            return None, NO_VIDEO
        path, info = service.tokenize(request, progress)
        return str(path), info

    @page_handler(service, RECONSTRUCT, service.decode_seconds)
    def reconstruct(request, progress):
        if request.video is None:
            return None, NO_VIDEO
        r = service.reconstruct(request, progress)
        return str(r.side_by_side), r.stats.line()

    @page_handler(service, ("video",), service.decode_seconds)
    def example(request, progress):  # an example clip at the page's defaults
        r = service.reconstruct(request, progress)
        return str(r.side_by_side), r.stats.line()

    @page_handler(service, RECONSTRUCT, service.decode_seconds)  # decodes only if evicted
    def views(request):
        if request.video is None:
            return None, None, None
        v = service.views(request)
        curve = v.curve.figure if v.curve is not None else gr.skip()
        return token_figure(v.tokens, v.k), [str(p) for p in v.downloads], curve

    @page_handler(service, CURVE, service.ladder_seconds)
    def curve(request, progress):
        for view in service.curve(request, progress):
            yield (str(view.csv) if view.csv else None), view.figure

    @page_handler(service, GRID)
    def grid(request):
        path = service.grid_for(request)
        return str(path) if path else gr.skip()

    @page_handler(service, DECODE_TOKENS, service.file_seconds)
    def decode_tokens(tokens_file, request, progress):
        path, stats = service.decode_file(tokens_file, request, progress)
        return str(path), stats.line()

    # delete_cache: Gradio's copies of the outputs older than 2 h go, checked every hour.
    with gr.Blocks(title="VideoFlexTok", fill_width=True, delete_cache=(3600, 7200)) as demo:
        gr.Markdown(
            "# VideoFlexTok: coarse-to-fine video tokens\n"
            "Each latent frame (timestep) of a video becomes a sequence of tokens ordered coarse "
            "to fine; any prefix of **k** tokens decodes into a plausible video. Upload a clip, "
            "then drag k. ([paper](https://arxiv.org/abs/2604.12887))"
        )
        gr.Markdown(service.choice.notice, elem_id="notice")
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
            with gr.Column(scale=2, min_width=340):
                video = gr.Video(label="Input video", sources=["upload"], height=260)
                gr.Examples(
                    [[str(p)] for p in sorted(EXAMPLES.glob("*.mp4"))],
                    [video],
                    [sbs, stats],
                    example,
                    cache_examples=True,
                    cache_mode="lazy",
                    label="Example clips (procedural, made by our generator)",
                )
                with gr.Row():
                    start = gr.Number(0, label="Start (s)", minimum=0, step=0.5, min_width=80)
                    length = gr.Dropdown(
                        service.length_choices(),
                        value=d.frames,
                        label="Clip length (frames)",
                        min_width=160,
                    )
                clip_info = gr.Markdown()
                with gr.Accordion("Model", open=True):
                    gr.Markdown(service.model_info())
            with gr.Column(scale=5):
                k = gr.Slider(
                    1,
                    N,
                    value=d.k,
                    step=1,
                    label=f"k: tokens per timestep (1..{N})",
                    info="Decodes when you let go.",
                    elem_id="k",
                )
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
                ladder = ", ".join(map(str, service.ladder_budgets()))
                ladder_btn = gr.Button(f"Measure the quality ladder k = {ladder}")
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
        page.update(seed=seed, apg=apg, tokens_file=tokens_in)

        def inputs(names: tuple[str, ...]) -> list:
            return [page[n] for n in names]

        recon_in = inputs(RECONSTRUCT)
        show = dict(
            fn=views,
            inputs=recon_in,
            outputs=[token_plot, downloads, curve_plot],
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
        ).success(grid, inputs(GRID), grid_video, api_visibility="private", **HEAVY)
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
    return demo


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="VideoFlexTok Gradio demo")
    p.add_argument(
        "--model",
        help="checkpoint dir, .safetensors or Hub id (default: the Hub "
        "model on a GPU, else assets/demo-model; env VIDEOFLEXTOK_MODEL)",
    )
    p.add_argument("--device", help="cpu or cuda (default: cuda if available)")
    p.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="auto",
        help="auto (default): bf16 autocast on CUDA and on CPUs with bf16 matmul units (AMX, "
        "AVX-512-BF16), else float32; tokenize always runs float32",
    )
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
    try:
        # module level: Spaces / ZeroGPU
        service = DemoService.start(args.model, args.device, precision=args.precision)
    except (CheckpointError, ValueError) as e:  # no model, bad --model or --device
        sys.exit(f"error: {' '.join(str(e).split())}")
    os.environ.setdefault("GRADIO_EXAMPLES_CACHE", str(service.examples_cache()))
    demo = build_demo(service)
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
