"""The demo app's logic without the UI; this package imports the library, never gradio.

    startup.py    which model runs at start-up, and why
    defaults.py   what the page starts with for a model (k, clip lengths, sampler)
    request.py    what the page sends, read once into a checked Request
    models.py     the model selector's choices and their loaded services (lazy, LRU of 2)
    service.py    DemoService: everything the page does with one model
    store.py      what a service keeps: clips, decodes, seed views, curves, and their files
    views.py      every text the page shows, and the payloads handed to it
    zerogpu.py    how long a ZeroGPU Space reserves a GPU per handler
    examples.py   the example clips

`app.py` is the Gradio page over it.
"""
