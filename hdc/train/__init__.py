"""Training the networks: ``python -m hdc.train RUN_DIR [options] [--resume]``.

One module per concern: `config` (the validated run configuration), `cache` (preprocessed samples on disk),
`batches` (random crops), `trainer` (model, optimizer, checkpoint), `loop` (the training loop, log and plot),
`release` (publishing a run into a weights folder) and `__main__` (the command line).
"""
