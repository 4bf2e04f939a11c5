"""hdc-deblur: a step-conditioned deblurring network for the Helsinki Deblur Challenge 2021."""

__version__ = "0.1.0"
