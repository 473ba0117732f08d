"""The demo app's logic without the UI: which model runs and the page's defaults (`startup`),
what the page shows (`views`), and the service behind every handler (`service.DemoService`).

`app.py` is the Gradio page over it; this package imports the library, never gradio.
"""
