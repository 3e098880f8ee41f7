"""The handler base the three emulators share (tools.emulators.server and .routing): routing by method +
path template, error answers, chunked bodies, undeclared methods, an emulator bug answered 500 with the
server still serving, and the exchange recorded before the answer is written."""

from __future__ import annotations

import http.client
import time
from pathlib import Path

import pytest
import requests

from tools.emulators.github import GitHubEmulator
from tools.emulators.kaggle import KaggleEmulator
from tools.emulators.routing import HttpError, Request, Response, Router, compile_template
from tools.emulators.server import EmulatorServer


def test_templates_match_one_segment_unless_wide_or_given_a_pattern() -> None:
    assert compile_template("/repos/{owner}/{repo}").fullmatch("/repos/o/r") is not None
    assert compile_template("/repos/{owner}/{repo}").fullmatch("/repos/o/r/x") is None
    wide = compile_template("/c/{path}", wide=("path",)).fullmatch("/c/a/b.png")
    assert wide is not None and wide.group("path") == "a/b.png"
    assert compile_template(r"/output/{session:\d+}/{name:.+}").fullmatch("/output/x/a") is None
    assert compile_template("/$discovery/rest").fullmatch("/$discovery/rest") is not None  # literals escaped


def test_router_prefers_a_route_serving_the_method_and_reports_a_path_served_otherwise() -> None:
    router: Router[str] = Router()
    router.add("/a/{x}", {"GET": "get-a"})
    router.add("/a/{x}", {"POST": "post-a"})
    post = router.resolve("POST", "/a/1")
    assert post is not None and post.handler == "post-a" and post.params == {"x": "1"}
    put = router.resolve("PUT", "/a/1")
    assert put is not None and put.handler is None and put.route.template == "/a/{x}"
    assert router.resolve("GET", "/b") is None
    assert [template for template, _, _ in router] == ["/a/{x}", "/a/{x}"]


class _Toy(EmulatorServer):
    """A minimal emulator on the base: echo, refuse, crash, and a slow record."""

    METHODS = ("GET", "POST")

    def __init__(self) -> None:
        self.records: list[tuple[str, int]] = []
        self.listen("127.0.0.1", 0)

    def respond(self, request: Request) -> Response:
        if request.path == "/echo":
            return Response.json(200, {"body": request.body.decode(), "query": request.query})
        if request.path == "/refuse":
            raise HttpError(418, "no tea")
        raise RuntimeError("emulator bug")

    def recorded(self, request: Request, response: Response) -> None:
        time.sleep(0.2)  # an answer written before this returns would reach the client first
        self.records.append((request.path, response.status))


def test_base_answers_errors_reads_chunked_bodies_and_keeps_serving_after_a_bug() -> None:
    with _Toy() as toy:
        chunked = requests.post(f"{toy.url}/echo?a=1", data=iter([b"hel", b"lo"]), timeout=10)
        assert chunked.json() == {"body": "hello", "query": {"a": ["1"]}}
        assert toy.records == [("/echo", 200)], "recorded before the answer was written"
        refused = requests.get(f"{toy.url}/refuse", timeout=10)
        assert (refused.status_code, refused.json()) == (418, {"message": "no tea"})
        crashed = requests.get(f"{toy.url}/crash", timeout=10)
        assert crashed.status_code == 500 and "RuntimeError: emulator bug" in crashed.json()["message"]
        assert requests.get(f"{toy.url}/echo", timeout=10).status_code == 200  # still serving
        host, port = toy.url.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        connection.request("DELETE", "/echo")
        assert connection.getresponse().status == 501  # not among METHODS


def test_kaggle_answers_a_body_that_is_not_an_object_with_400(tmp_path: Path) -> None:
    with KaggleEmulator(tmp_path) as emulator:
        url = f"{emulator.url}/api/v1/datasets.DatasetApiService/GetDatasetStatus"
        answer = requests.post(url, data="[]", auth=("sentinel", "emulator-key"), timeout=10)
        assert (answer.status_code, answer.json()["code"]) == (400, 400)
        assert emulator.replies[-1][1] == 400


@pytest.mark.parametrize("start_twice", [True, False])
def test_github_start_is_idempotent_and_returns_the_emulator(start_twice: bool) -> None:
    emulator = GitHubEmulator()
    assert emulator.url == ""
    started = emulator.start()
    if start_twice:
        assert emulator.start() is started
    with started as again:
        assert again.url.startswith("http://127.0.0.1:")
        assert requests.get(f"{again.url}/user", timeout=10).status_code == 401


def test_earth_engine_refuses_a_body_that_is_not_a_json_object_with_googles_400(tmp_path: Path) -> None:
    from tools.emulators.earthengine import EarthEngineEmulator

    with EarthEngineEmulator(tmp_path / "ee", size=256, require_auth=False) as emu:
        for body in (b"{not json", b"[1, 2]"):
            answer = requests.post(f"{emu.url}/v1/projects/p/value:compute", data=body, timeout=10)
            assert answer.status_code == 400, answer.text
            error = answer.json()["error"]
            assert error["status"] == "INVALID_ARGUMENT" and error["message"].startswith("Invalid JSON payload")
        assert requests.get(f"{emu.url}/$discovery/rest?version=v1", timeout=10).status_code == 200
