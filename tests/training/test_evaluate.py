"""The demo-model issue's table of targets, as training/evaluate.py fills it in."""

from training.evaluate import targets


def _table(psnr, ssim_full):
    ks = [1 << i for i in range(len(psnr))]
    return {k: {"psnr": p, "ssim": ssim_full if k == ks[-1] else 0.5} for k, p in zip(ks, psnr)}


def test_every_target_row_and_its_verdict():
    table = _table([18.0, 19.0, 18.9, 24.5], ssim_full=0.81)
    real = {"porsche.mp4": {1: {"psnr": 12.0}, 64: {"psnr": 22.5}},
            "bbb_3_pan.mp4": {1: {"psnr": 11.0}, 64: {"psnr": 21.0}}}  # fmt: skip
    rows = {r.figure: r for r in targets(28.3, table, real, 1.9, 41.0)}
    assert list(rows) == [
        "VAE alone, held-out procedural",
        "PSNR at full k, procedural",
        "gain, full k minus k=1",
        "SSIM at full k",
        "real clip porsche.mp4 at full k",
        "real clip bbb_3_pan.mp4 at full k",
        "curve over powers of two: worst dip",
        "one 33-frame reconstruction, defaults",
        "checkpoint",
    ]
    met = {name: r.met for name, r in rows.items()}
    assert met == {
        "VAE alone, held-out procedural": True,  # 28.3 >= 28
        "PSNR at full k, procedural": False,  # 24.5 < 25
        "gain, full k minus k=1": True,  # 6.5 >= 6
        "SSIM at full k": True,
        "real clip porsche.mp4 at full k": True,  # the last budget's PSNR
        "real clip bbb_3_pan.mp4 at full k": False,
        "curve over powers of two: worst dip": True,  # 0.1 dB <= 0.2
        "one 33-frame reconstruction, defaults": True,
        "checkpoint": False,  # 41 MB > 40
    }
    assert abs(rows["curve over powers of two: worst dip"].value - 0.1) < 1e-9
    gain = rows["gain, full k minus k=1"]
    assert gain.as_row() == "| gain, full k minus k=1 | 6.50 dB | >= 6 dB | yes |"
    assert rows["SSIM at full k"].as_row() == "| SSIM at full k | 0.81 | >= 0.8 | yes |"
    rising = {r.figure: r for r in targets(20, _table([18, 19, 20], 0.5), {}, 1, 1)}
    assert rising["curve over powers of two: worst dip"].value == 0.0


def test_the_curves_figure_draws_both_models(tmp_path):
    """PSNR against k, the new model solid and the one it replaces dashed: a real PNG whose
    two panels carry ink (a curve), read back with Pillow."""
    import numpy as np
    from PIL import Image

    from training.evaluate import curves_figure

    def summary(name, shift):
        rows = {str(1 << i): {"psnr": 18 + i + shift} for i in range(7)}
        real = {"porsche.mp4": {str(1 << i): {"psnr": 12 + i + shift} for i in range(7)}}
        return {"model": name, "clips": 16, "frames": 33, "table": rows, "real_clips": real}

    path = tmp_path / "curves.png"
    curves_figure(summary("assets/demo-model", 1.0), path, baseline=summary("v1", 0.0))
    image = np.asarray(Image.open(path).convert("L"))
    assert image.shape == (420, 1100)
    left, right = image[:, :550], image[:, 550:]
    assert (left < 128).mean() > 0.01 and (right < 128).mean() > 0.01
