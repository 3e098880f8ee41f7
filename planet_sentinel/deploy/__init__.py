"""Deployment: roll the champion out as the prediction service, verified, with roll-back.

* :mod:`~planet_sentinel.deploy.rollout`: the roll-out (`sentinel deploy`) and its settings;
* :mod:`~planet_sentinel.deploy.runtimes`: where instances run: a `sentinel serve` process or a
  docker/podman container;
* :mod:`~planet_sentinel.deploy.probe`: the HTTP checks (ready, model, smoke prediction);
* :mod:`~planet_sentinel.deploy.state`: the live instance and history on disk, with a lock;
* :mod:`~planet_sentinel.deploy.engine`: the docker/podman CLI, shared with ``tools/container``.
"""
