"""The demo page's layout: which components the visitor sees, where, and what they start with
(`Page`); `app.py` gives them their handlers. No handler and no event here.

    with gr.Blocks() as demo:
        page = Page(models)          # the components, set for the start-up model
        page.k, page.sbs             # the k slider, the side-by-side player
        page.inputs(handler)         # {"video": page.video, "k": page.k, ...} by its parameters
"""

import inspect

import gradio as gr

from demo.examples import example_sets
from demo.models import Models
from demo.views import INTRO, ONE_CHOICE, SEEDS_EXPLAINED, PageSetup, k_line
from videoflextok_core.seeds import MAX_SEEDS, MIN_SEEDS

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
K_MAX = 256  # the k slider's range for the API: the largest N offered (the page shows the model's)
PLAYER = {"autoplay": True, "loop": True, "interactive": False}  # every video the page plays


class Page:
    """The page's components, placed (inside a `gr.Blocks`) as the start-up model sets them.
    An input is named like the handler parameters it fills (the API's), so that `wire` connects
    them by name; a `gr.State` keeps what an event showed for the events that follow it."""

    def __init__(self, models: Models):
        setup = models.first.page_setup()
        d, s, N = setup.defaults, setup.defaults.sampler, setup.n_registers
        choices = len(models.names) > 1
        gr.Markdown(INTRO)
        self.notice = gr.Markdown(models.first.choice.notice, elem_id="notice")
        with gr.Row():
            with gr.Column(scale=2, min_width=320):
                info = None if choices else ONE_CHOICE
                self.model = gr.Dropdown(
                    models.names,
                    value=models.default,
                    label="Model",
                    interactive=choices,
                    info=info,
                    elem_id="model",
                )
                self.video = gr.Video(label="Input video", sources=["upload"], height=260)
                for examples in example_sets():
                    gr.Examples([[str(p)] for p in examples.paths], [self.video], examples.label)
                    if examples.credit:
                        gr.Markdown(examples.credit, elem_classes="credit")
                with gr.Row():
                    self.start = gr.Number(0, label="Start (s)", minimum=0, step=0.5, min_width=80)
                    label, lengths = "Clip length (frames)", list(setup.lengths)
                    self.length = gr.Dropdown(lengths, value=d.frames, label=label, min_width=160)
                self.clip_info = gr.Markdown()
                with gr.Accordion("Model", open=True):
                    self.model_info = gr.Markdown(setup.info)
            with gr.Column(scale=5, min_width=320):
                # the API's range; the page shows the model's (`k_range`, on load)
                self.k = gr.Slider(
                    1,
                    max(K_MAX, N),
                    value=d.k,
                    step=1,
                    label=k_label(N),
                    info="Decodes when you let go.",
                    elem_id="k",
                )
                self.k_info = gr.Markdown(
                    k_line(d.k, setup.timesteps[d.frames]), elem_id="k-tokens"
                )
                with gr.Accordion("Sampler", open=False), gr.Row():
                    g = s.guidance  # the range holds any tuned default
                    label = "Guidance scale (1 = off)"
                    self.guidance = gr.Slider(
                        min(1.0, g), max(30.0, g), value=g, step=0.25, label=label
                    )
                    self.steps = gr.Slider(1, 100, value=s.steps, step=1, label="Denoising steps")
                    self.seed = gr.Number(s.seed, label="Seed", precision=0, minimum=0)
                    self.apg = gr.Checkbox(s.apg, label="APG (adaptive projected guidance)")
                    self.decode_btn = gr.Button("Decode", variant="primary")
                label = "original | reconstruction | error"
                self.sbs = gr.Video(label=label, show_label=False, elem_id="side-by-side", **PLAYER)
                self.stats = gr.Markdown(elem_id="stats")
        with gr.Tabs():
            with gr.Tab("Quality curve"):
                with gr.Row():
                    self.ladder_btn = gr.Button(ladder_label(setup), scale=2)
                    self.ladder_eta = gr.Markdown(elem_id="ladder-eta")
                self.curve_plot = gr.Plot(label="PSNR / SSIM vs k", elem_id="curve")
                with gr.Row():
                    label = "Budget grid"
                    self.grid_video = gr.Video(
                        label=label, show_label=False, elem_id="grid", **PLAYER
                    )
                    self.csv_file = gr.File(label="Curve CSV")
            with gr.Tab("What the decoder invents"):
                gr.Markdown(SEEDS_EXPLAINED)
                with gr.Row():
                    label = "Seeds (from Seed on)"
                    self.seeds = gr.Slider(MIN_SEEDS, MAX_SEEDS, value=d.seeds, step=1, label=label)
                    self.seeds_btn = gr.Button("Decode the seeds at k", variant="primary")
                with gr.Row():
                    label = "original | seeds | spread"
                    self.seeds_video = gr.Video(label=label, elem_id="seeds", scale=3, **PLAYER)
                    label = "Spread across seeds (mean over frames)"
                    self.spread_img = gr.Image(
                        label=label, interactive=False, elem_id="spread", scale=2
                    )
                self.seed_stats = gr.Markdown(elem_id="seed-stats")
            with gr.Tab("Tokens"):
                self.token_plot = gr.Plot(label="Token ids", elem_id="tokens")
                label = "Downloads: tokens (.safetensors), reconstruction"
                self.downloads = gr.File(label=label, file_count="multiple")
            with gr.Tab("Decode a tokens file"):
                label = "Tokens (.safetensors from this app or the CLI)"
                self.tokens_file = gr.File(label=label, file_types=[".safetensors"])
                self.decode_file_btn = gr.Button("Decode tokens file (k and sampler from above)")
                self.decoded = gr.Video(label="Decoded", **PLAYER)
                self.decoded_stats = gr.Markdown()
        self.tokens_out = gr.File(visible=False)  # /tokenize's file (offered among downloads)
        self.shown, self.ladder, self.seeded = gr.State(), gr.State(), gr.State()  # `Shown`s

    def inputs(self, handler) -> dict:
        """The components a handler reads, by its own parameter names, in its order (the
        API's): Gradio passes their values as keywords (`inputs_kwargs`)."""
        names = inspect.signature(handler).parameters
        return {name: getattr(self, name) for name in names if name != "progress"}

    def controls(self, setup: PageSetup) -> dict:
        """What the controls that depend on the model become for one: {component: value}."""
        d, s, N = setup.defaults, setup.defaults.sampler, setup.n_registers
        return {
            self.k: gr.update(maximum=N, value=d.k, label=k_label(N)),
            self.k_info: k_line(d.k, setup.timesteps[d.frames]),
            self.length: gr.update(choices=list(setup.lengths), value=d.frames),
            self.guidance: s.guidance,
            self.steps: s.steps,
            self.seed: s.seed,
            self.apg: s.apg,
            self.seeds: d.seeds,
            self.model_info: setup.info,
            self.ladder_btn: gr.update(value=ladder_label(setup)),
        }


def k_label(N: int) -> str:
    return f"k: tokens per timestep (1..{N})"


def ladder_label(setup: PageSetup) -> str:
    return f"Measure the quality ladder k = {', '.join(map(str, setup.ladder))}"


__all__ = ["CSS", "THEME", "Page"]
