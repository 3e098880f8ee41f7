"""Every bad input gets a 4xx with a reason, and the service keeps serving."""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from fastapi.testclient import TestClient
from rasterio.crs import CRS

from planet_sentinel.raster import Grid
from tests.conftest import utm_grid
from tests.serving.test_app import pair, stack
from tests.test_predict import land_pair, write_pair


def tiny_tiff(width: int, height: int, bands: int = 6) -> bytes:
    """A 100-byte TIFF whose header declares ``width`` x ``height`` x ``bands`` uint16 (deflate)."""
    entries = [
        (256, 4, width),
        (257, 4, height),
        (258, 3, 16),
        (259, 3, 8),
        (262, 3, 1),
        (273, 4, 0),
        (277, 3, bands),
        (278, 4, max(height, 1)),
        (279, 4, 16),
        (284, 3, 1),
        (339, 3, 1),
    ]
    data_at = 8 + 2 + len(entries) * 12 + 4
    out = bytearray(b"II*\x00" + struct.pack("<IH", 8, len(entries)))
    for tag, kind, value in entries:
        value = data_at if tag == 273 else value
        out += struct.pack("<HHI", tag, kind, 1) + struct.pack(
            "<HH" if kind == 3 else "<I", *((value, 0) if kind == 3 else (value,))
        )
    return bytes(out + struct.pack("<I", 0) + b"\x78\x9c" + bytes(14))


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_pair(tmp_path_factory.mktemp("good"), *land_pair(64, 64))


def check(response, status: int, kind: str, *words: str) -> None:  # noqa: ANN001
    assert response.status_code == status, response.text
    body = response.json()
    assert body["kind"] == kind, body
    for word in words:
        assert word in body["detail"], body["detail"]


def tiffs(before: bytes, after: bytes) -> dict[str, tuple[str, bytes, str]]:
    return {"before": ("b.tif", before, "image/tiff"), "after": ("a.tif", after, "image/tiff")}


@pytest.fixture
def client(client_for: Callable[..., TestClient], good: tuple[Path, Path]) -> Iterator[TestClient]:
    client = client_for(max_request_mb=0.25)
    yield client
    # whatever came before, the service still answers a good request
    assert client.get("/health").status_code == 200
    assert client.post("/predict", files=pair(*good)).status_code == 200


def test_not_a_tiff_and_empty_files(client: TestClient, good: tuple[Path, Path]) -> None:
    before = good[0].read_bytes()
    check(client.post("/predict", files=tiffs(before, b"\x89PNG\r\n\x1a\n....")), 415, "not_tiff", "'after'", "PNG")
    check(client.post("/predict", files=tiffs(b"", before)), 415, "not_tiff", "'before' is empty")
    check(client.post("/predict", files={"file": ("s.tif", b"%PDF-1.4", "image/tiff")}), 415, "not_tiff", "'file'")


def test_corrupt_tiffs(client: TestClient, good: tuple[Path, Path]) -> None:
    before = good[0].read_bytes()
    garbage = b"II*\x00" + np.random.default_rng(0).bytes(2000)
    check(client.post("/predict", files=tiffs(before, garbage)), 422, "corrupt_tiff", "'after'")
    truncated = good[1].read_bytes()[: len(before) // 3]  # header intact, pixel data cut off
    response = client.post("/predict", files=tiffs(before, truncated))
    check(response, 422, "corrupt_tiff")
    assert "/tmp" not in response.json()["detail"]  # server paths are not leaked


def test_zero_size_and_decompression_bombs(client: TestClient, good: tuple[Path, Path]) -> None:
    before = good[0].read_bytes()
    check(client.post("/predict", files=tiffs(before, tiny_tiff(0, 64))), 422, "empty_raster", "no pixels")
    bomb = tiny_tiff(100_000, 100_000)
    assert len(bomb) < 200
    check(
        client.post("/predict", files=tiffs(bomb, before)),
        413,
        "too_many_pixels",
        "100000x100000 px x 6 bands = 60,000,000,000 samples",
    )
    check(
        client.post("/predict", files={"file": ("s.tif", tiny_tiff(65_536, 65_536, 12), "image/tiff")}),
        413,
        "too_many_pixels",
    )


def test_bands_grids_and_crs(client: TestClient, tmp_path: Path) -> None:
    before, after = land_pair(64, 64)
    three = write_pair(tmp_path, before[:3], after[:3], bands=("B02", "B03", "B04"), name="three")
    check(client.post("/predict", files=pair(*three)), 422, "band_mismatch", "missing ['B08', 'B11', 'B12']")
    six = write_pair(tmp_path, before, after, name="six")
    five = write_pair(tmp_path, before[:5], after[:5], bands=("B02", "B03", "B04", "B08", "B11"), name="five")
    check(client.post("/predict", files=pair(six[0], five[1])), 422, "band_mismatch", "'after' has")
    small = write_pair(tmp_path, before[:, :48], after[:, :48], name="small")
    check(client.post("/predict", files=pair(six[0], small[1])), 422, "grid_mismatch", "size 64x64 vs 64x48")
    grid = utm_grid(64)
    other_crs = Grid(CRS.from_epsg(32721), grid.transform, 64, 64)
    moved = write_pair(tmp_path, before, after, grid=other_crs, name="crs")
    check(client.post("/predict", files=pair(six[0], moved[1])), 422, "grid_mismatch", "CRS EPSG:32720 vs EPSG:32721")
    geographic = Grid(CRS.from_epsg(4326), Affine(0.0001, 0, -63, 0, -0.0001, -9), 64, 64)
    lonlat = write_pair(tmp_path, before, after, grid=geographic, name="lonlat")
    check(client.post("/predict", files=pair(*lonlat)), 422, "invalid_scene", "projected CRS", "'before'")
    odd = write_pair(tmp_path, before[:5], after[:5], bands=("B02", "B03", "B04", "B08", "B11"), name="odd")
    odd_stack = stack(odd[0], six[1], tmp_path / "odd.tif")  # 11 bands cannot be split in two dates
    check(client.post("/predict", files=stacked(odd_stack)), 422, "bad_stack", "11 bands")
    shuffled = write_pair(tmp_path, before, after, bands=("B12", "B03", "B04", "B08", "B11", "B02"), name="shuffled")
    mixed = stack(six[0], shuffled[1], tmp_path / "mixed.tif")
    check(client.post("/predict", files=stacked(mixed)), 422, "bad_stack", "differ")
    unnamed = stack(odd[0], odd[1], tmp_path / "unnamed.tif", descriptions=False)  # 10 bands, no names
    check(client.post("/predict", files=stacked(unnamed)), 422, "bad_bands", "12 bands")


def stacked(path: Path) -> dict[str, tuple[str, bytes, str]]:
    return {"file": ("stack.tif", path.read_bytes(), "image/tiff")}


def test_size_limit_while_reading(client: TestClient, tmp_path: Path) -> None:
    big = write_pair(tmp_path, *land_pair(160, 160), name="big")  # ~2 x 300 kB > 0.25 MiB
    check(client.post("/predict", files=pair(*big)), 413, "too_large", "0.25 MiB")
    # no Content-Length (chunked): counted as the bytes arrive (test_serve.py shows, over a real socket,
    # that the answer comes before the client has sent everything)
    chunks = iter([b"x" * 65_536] * 64)
    response = client.post("/predict", content=chunks, headers={"Content-Type": "multipart/form-data; boundary=zzz"})
    check(response, 413, "too_large", "0.25 MiB")


def test_missing_and_ambiguous_fields(client: TestClient, good: tuple[Path, Path]) -> None:
    files = pair(*good)
    check(client.post("/predict", files={"before": files["before"]}), 422, "missing_field", "'after'")
    check(client.post("/predict", data={"format": "json"}), 422, "missing_field", "'before' and 'after'")
    both = {**files, "file": ("s.tif", good[0].read_bytes(), "image/tiff")}
    check(client.post("/predict", files=both), 422, "ambiguous_input")


def raw_multipart(fields: dict[str, tuple[bytes, bytes]]) -> tuple[bytes, dict[str, str]]:
    """A multipart body with the filenames' bytes exactly as given (httpx would escape a NUL as %00)."""
    body = b""
    for name, (filename, data) in fields.items():
        disposition = b'form-data; name="' + name.encode() + b'"; filename="' + filename + b'"'
        body += b"--zzz\r\nContent-Disposition: " + disposition + b"\r\nContent-Type: image/tiff\r\n\r\n"
        body += data + b"\r\n"
    return body + b"--zzz--\r\n", {"Content-Type": "multipart/form-data; boundary=zzz"}


def test_client_filenames_are_never_paths(
    client: TestClient, good: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cwd = tmp_path / "a" / "b"
    cwd.mkdir(parents=True)
    monkeypatch.chdir(cwd)
    before, after = good[0].read_bytes(), good[1].read_bytes()
    refused = {
        "../../evil_before.tif": "contains '/'",
        str(tmp_path / "evil_after.tif"): "contains '/'",
        "..\\evil.tif": "contains '\\'",
        "..": "is '..'",
        ".": "is '.'",
    }
    for name, why in refused.items():
        files = {"before": (name, before, "image/tiff"), "after": ("after.tif", after, "image/tiff")}
        check(client.post("/predict", files=files), 422, "bad_filename", "'before'", why, "base name")
    content, headers = raw_multipart({"before": (b"b.tif", before), "after": (b"evil\x00.tif", after)})
    check(client.post("/predict", content=content, headers=headers), 422, "bad_filename", "'after'", "NUL")
    stacked_name = {"file": ("x/stack.tif", before, "image/tiff")}
    check(client.post("/predict", files=stacked_name), 422, "bad_filename", "'file'")
    # nothing was written anywhere near the working directory, and the answers name no server path
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a", "b"]
    # plain base names (what curl and browsers send) are fine
    plain = {"before": ("b.tif", before, "image/tiff"), "after": ("a b.tif", after, "")}
    response = client.post("/predict", files=plain)
    assert response.status_code == 200, response.text
