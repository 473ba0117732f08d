"""The app's command line (`python app.py --help`): which models, where, in what precision, and
where the page is served.

    from demo.cli import parse_args
    args = parse_args(["--model", "assets/demo-model", "--port", "7861"])
"""

import argparse
import os

from videoflextok_core.model.precision import PRECISION_HELP, PRECISIONS

from .models import MODELS_ENV, parse_refs
from .startup import MODEL_ENV


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="VideoFlexTok Gradio demo")
    p.add_argument(
        "--model",
        help="start-up model: checkpoint dir, .safetensors or Hub id (default: the Hub "
        f"model on a GPU, else assets/demo-model; env {MODEL_ENV})",
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


__all__ = ["parse_args"]
