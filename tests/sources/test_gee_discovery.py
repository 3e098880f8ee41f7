"""The emulator's discovery document builds the client's methods on ``/v1/``, as real use does."""

from __future__ import annotations

import os

from tools.emulators.ee_discovery import API_VERSION, discovery_document


def test_client_default_version_is_the_one_served() -> None:
    from ee import _cloud_api_utils

    if "EE_CLOUD_API_VERSION" not in os.environ:
        assert _cloud_api_utils.VERSION == API_VERSION == "v1"


def test_document_builds_every_method_ingest_calls_on_v1() -> None:
    from googleapiclient import discovery

    doc = discovery_document("http://127.0.0.1:9/")
    assert doc["version"] == "v1" and doc["id"] == "earthengine:v1"
    api = discovery.build_from_document(doc)
    projects = api.projects()
    # earthengine-api calls algorithms().list(parent=...) first (ee/data.py getAlgorithms).
    requests = {
        "algorithms.list": projects.algorithms().list(parent="projects/p", prettyPrint=False),
        "value.compute": projects.value().compute(project="projects/p", body={}),
        "image.computePixels": projects.image().computePixels(project="projects/p", body={}),
        "image.export": projects.image().export(project="projects/p", body={}),
        "operations.get": projects.operations().get(name="projects/p/operations/ABC"),
    }
    paths = {name: r.uri.split("?")[0] for name, r in requests.items()}
    assert paths == {
        "algorithms.list": "http://127.0.0.1:9/v1/projects/p/algorithms",
        "value.compute": "http://127.0.0.1:9/v1/projects/p/value:compute",
        "image.computePixels": "http://127.0.0.1:9/v1/projects/p/image:computePixels",
        "image.export": "http://127.0.0.1:9/v1/projects/p/image:export",
        "operations.get": "http://127.0.0.1:9/v1/projects/p/operations/ABC",
    }
    assert requests["value.compute"].method == "POST" and requests["operations.get"].method == "GET"
