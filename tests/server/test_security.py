"""Host-header guard, bearer token beyond loopback, and file paths that try to escape."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from runlab.server import create_app
from runlab.server._security import allowed_hosts, is_loopback
from server.server_helpers import BASE


@pytest.mark.parametrize("host", ["evil.example:8765", "127.0.0.1:9999", "localhost", ""])
def test_foreign_host_header_is_403(client: TestClient, host: str) -> None:
    response = client.get("/api/info", headers={"host": host})
    assert response.status_code == 403
    assert "host" in response.json()["message"]


@pytest.mark.parametrize(
    "host", ["127.0.0.1:8765", "localhost:8765", "[::1]:8765", "LOCALHOST:8765"]
)
def test_loopback_names_are_accepted(client: TestClient, host: str) -> None:
    assert client.get("/api/info", headers={"host": host}).status_code == 200


def test_allowed_hosts() -> None:
    assert allowed_hosts("10.0.0.5", 80) == {"10.0.0.5:80", "10.0.0.5"}
    assert "[::1]:1" in allowed_hosts("::1", 1)
    wildcard = allowed_hosts("0.0.0.0", 5, ["box.lan:5"])
    assert {"0.0.0.0:5", "box.lan:5", "127.0.0.1:5", "localhost:5"} <= wildcard
    assert f"{socket.gethostname().lower()}:5" in wildcard  # the name the printed URL uses
    assert "evil.example:5" not in wildcard
    assert is_loopback("127.0.0.2") and is_loopback("::1") and not is_loopback("0.0.0.0")


def test_token_required_beyond_loopback(tmp_path: Path) -> None:
    from server.server_helpers import make_store

    ids = make_store(tmp_path)
    app = create_app(tmp_path, host="10.1.2.3", port=8000)
    token = app.state.token
    assert isinstance(token, str) and len(token) >= 32
    with TestClient(app, base_url="http://10.1.2.3:8000") as client:
        assert client.get("/api/info").json()["auth_required"] is True
        assert client.get("/api/projects").status_code == 200  # reading needs no token
        body = {"ids": [ids["run-0"]], "add": ["t"]}
        for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": token}):
            response = client.post("/api/runs/tags", json=body, headers=headers)
            assert response.status_code == 401
            assert "Bearer" in response.json()["message"]
        assert client.patch(f"/api/runs/{ids['run-0']}", json={"notes": "x"}).status_code == 401
        ok = client.post("/api/runs/tags", json=body, headers={"authorization": f"Bearer {token}"})
        assert ok.status_code == 200
        assert client.get("/api/info", headers={"host": "127.0.0.1:8000"}).status_code == 403


def test_explicit_token_on_loopback(store: tuple[Path, dict[str, str]]) -> None:
    app = create_app(store[0], token="s3cret")
    with TestClient(app, base_url=BASE) as client:
        assert client.get("/api/info").json()["auth_required"] is True
        assert client.post("/api/runs/delete", json={"ids": ["x"]}).status_code == 401


@pytest.fixture
def run_with_files(fresh: tuple[TestClient, Path, dict[str, str]]) -> tuple[TestClient, Path, str]:
    client, root, ids = fresh
    run_id = ids["run-0"]
    files = root / "runs" / run_id / "files"
    files.mkdir(exist_ok=True)
    (files / "notes.txt").write_text("hello")
    (files / "sub").mkdir()
    (files / "sub" / "plot.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (files / "page.html").write_text("<script>alert(1)</script>")
    (files / "weights.bin").write_bytes(b"\x00\x01")
    secret = root / "secret.txt"
    secret.write_text("top secret")
    os.symlink(secret, files / "link-out")
    os.symlink(files / "notes.txt", files / "link-in.txt")
    return client, root, run_id


def test_file_listing(run_with_files: tuple[TestClient, Path, str]) -> None:
    client, _, run_id = run_with_files
    listed = client.get(f"/api/runs/{run_id}/files").json()["files"]
    kinds = {f["path"]: f["kind"] for f in listed}
    assert kinds == {
        "link-in.txt": "text",
        "notes.txt": "text",
        "page.html": "text",
        "sub/plot.png": "image",
        "weights.bin": "binary",
    }
    assert all(f["size"] >= 0 and f["mtime"] > 0 for f in listed)
    assert client.get(f"/api/runs/{run_id}/files?root=artifacts").json() == {"files": []}
    assert client.get(f"/api/runs/{run_id}/files?root=..").status_code == 422


def test_file_download(run_with_files: tuple[TestClient, Path, str]) -> None:
    client, _, run_id = run_with_files
    url = f"/api/runs/{run_id}/file"
    text = client.get(url, params={"path": "notes.txt"})
    assert text.status_code == 200 and text.text == "hello"
    assert text.headers["content-type"].startswith("text/plain")
    image = client.get(url, params={"path": "sub/plot.png"})
    assert image.headers["content-type"] == "image/png"
    html = client.get(url, params={"path": "page.html"})
    assert html.headers["content-type"].startswith("text/plain")
    assert html.headers["content-security-policy"] == "sandbox"
    attached = client.get(url, params={"path": "weights.bin", "download": 1})
    assert attached.headers["content-disposition"].startswith("attachment")
    assert client.get(url, params={"path": "link-in.txt"}).text == "hello"


@pytest.mark.parametrize(
    "path",
    [
        "../run.json",
        "../../catalog.sqlite",
        "sub/../../run.json",
        "/etc/passwd",
        "%2e%2e/run.json",
        "..%2frun.json",
        "link-out",
        "sub\\..\\..\\run.json",
        "~/x",
        "a\x00b",
    ],
)
def test_traversal_is_refused(run_with_files: tuple[TestClient, Path, str], path: str) -> None:
    client, _, run_id = run_with_files
    response = client.get(f"/api/runs/{run_id}/file", params={"path": path})
    assert response.status_code in (400, 404), path
    assert "secret" not in response.text and "message" in response.json()


def test_raw_encoded_traversal_in_the_url(run_with_files: tuple[TestClient, Path, str]) -> None:
    client, _, run_id = run_with_files
    for raw in (
        "path=..%2F..%2Fsecret.txt",
        "path=%2E%2E/%2E%2E/secret.txt",
        "path=%252e%252e/run.json",
    ):
        response = client.get(f"/api/runs/{run_id}/file?{raw}")
        assert response.status_code in (400, 404), raw
        assert "top secret" not in response.text
    assert client.get(f"/api/runs/..%2F{run_id}/files").status_code in (400, 404)


def test_bound_to_every_interface_the_machines_names_are_served(tmp_path: Path) -> None:
    app = create_app(tmp_path, host="0.0.0.0", port=8000)
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        for host in ("127.0.0.1:8000", f"{socket.gethostname()}:8000"):
            assert client.get("/api/info", headers={"host": host}).status_code == 200, host
        assert client.get("/api/info", headers={"host": "rebind.example:8000"}).status_code == 403
        assert client.get("/api/info").json()["auth_required"] is True
