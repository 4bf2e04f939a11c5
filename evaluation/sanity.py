"""The sanity check: does the method deconvolve natural images, or does it only draw text?

For each natural image, the output and the blurred input are compared with
the sharp capture by PSNR and SSIM (at half resolution, after a least-squares
gain and offset match to the sharp image, since the two cameras differ in
exposure). A step passes when the output's mean PSNR is above the input's:
some deconvolution effect, as the rules ask.
"""

import json
from pathlib import Path

import numpy as np


def matched(image, reference):
    """`image` mapped by the least-squares a·image + b onto `reference` (both (H, W) float), clipped to
    [0, 1]."""
    design = np.stack([image.ravel(), np.ones(image.size)], axis=1)
    coefficients = np.linalg.lstsq(design, reference.ravel(), rcond=None)[0]
    return np.clip((design @ coefficients).reshape(image.shape), 0.0, 1.0)


def psnr(image, reference):
    """PSNR in dB of `image` against `reference`, both (H, W) float in [0, 1], after the gain and offset match."""
    from skimage.metrics import peak_signal_noise_ratio

    return float(peak_signal_noise_ratio(reference, matched(image, reference), data_range=1.0))


def quality(image, reference):
    """(PSNR in dB, SSIM) of `image` against `reference`, both (H, W) float in [0, 1], after the gain and
    offset match (made once for both)."""
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    image = matched(image, reference)
    return (float(peak_signal_noise_ratio(reference, image, data_range=1.0)),
            float(structural_similarity(reference, image, data_range=1.0)))


def sanity_check(samples, outputs_dir, report_dir, name="method"):
    """PSNR/SSIM of outputs vs. blurred inputs for natural-image `samples`; writes sanity.md and sanity.json.

    outputs_dir : folder with step{N}/<stem>.png (as written by `evaluation.run`), or the PNGs directly.
    Returns {step: {"output_psnr", "input_psnr", "output_ssim", "input_ssim", "count", "passed"}}.
    """
    from hdc.io import read_image
    from hdc.preprocessing import downscale

    rows = {}
    for sample in samples:
        candidates = [Path(outputs_dir) / f"step{sample.step}" / f"{sample.stem}.png",
                      Path(outputs_dir) / f"{sample.stem}.png"]
        output_path = next((p for p in candidates if p.is_file()), None)
        if output_path is None:
            continue
        sharp = downscale(read_image(sample.sharp), 2)
        output = downscale(read_image(output_path), 2)
        blurred = downscale(read_image(sample.blurred), 2)
        rows.setdefault(sample.step, []).append(quality(output, sharp) + quality(blurred, sharp))
    summary = {}
    for step, values in sorted(rows.items()):
        values = np.array(values)
        summary[step] = {"output_psnr": float(values[:, 0].mean()), "output_ssim": float(values[:, 1].mean()),
                         "input_psnr": float(values[:, 2].mean()), "input_ssim": float(values[:, 3].mean()),
                         "count": len(values)}
        summary[step]["passed"] = summary[step]["output_psnr"] > summary[step]["input_psnr"]
    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / "sanity.json").write_text(json.dumps({str(k): v for k, v in summary.items()}, indent=1))
    (report_dir / "sanity.md").write_text(sanity_table(summary, name))
    return summary


def sanity_table(summary, name):
    lines = [f"### Sanity check (natural images): {name}", "",
             "| step | n | PSNR output | PSNR input | SSIM output | SSIM input | deconvolution effect |",
             "|---:|---:|---:|---:|---:|---:|:---:|"]
    for step, row in summary.items():
        lines.append(f"| {step} | {row['count']} | {row['output_psnr']:.2f} | {row['input_psnr']:.2f} | "
                     f"{row['output_ssim']:.3f} | {row['input_ssim']:.3f} | {'yes' if row['passed'] else 'no'} |")
    return "\n".join(lines) + "\n"
