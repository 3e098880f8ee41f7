"""Training on Kaggle GPUs through the official ``kaggle`` client: pack, push, poll, fetch, register.

The round trip (``planet_sentinel.kaggle.roundtrip.train_on_kaggle``):

1. ``packing``: check the chips, build the planet_sentinel wheel, pack chips + wheel + settings
   into one archive with a checksummed ``sentinel-bundle.json`` beside it (``manifest``: the
   typed ``BundleManifest`` artefact);
2. ``remote``: upload it as a Kaggle dataset version, render ``kernel-metadata.json`` from the
   template in ``kernels/siamese-unet`` and push the kernel with its deadline written into it,
   poll with backoff until it finishes (``deadline``: the kernel stops itself at that time),
   download and verify its outputs;
3. ``roundtrip``: log the run to MLflow and register it as ``challenger`` exactly like local
   training (``planet_sentinel.pipeline.register_trained``). ``train_on_kaggle`` reads as its
   steps: check, open_session, render, pack, push, wait, fetch, register_result.

``entry`` is the kernel-side half: the kernel script installs the wheel and calls
``entry.run``, which calls the same ``planet_sentinel.train.train`` as local training.

Only ``client`` imports the kaggle package (absolute imports; this package shares its name).
"""
