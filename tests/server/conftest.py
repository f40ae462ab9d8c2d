"""A run store written by the real SDK, and clients of the real app on it (in process)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from runlab.server import create_app
from server.server_helpers import BASE, make_store


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("store")
    return root, make_store(root)


@pytest.fixture(scope="module")
def app(store: tuple[Path, dict[str, str]]) -> FastAPI:
    return create_app(store[0])


@pytest.fixture(scope="module")
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url=BASE) as c:
        yield c


@pytest.fixture
def ids(store: tuple[Path, dict[str, str]]) -> dict[str, str]:
    return store[1]


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[tuple[TestClient, Path, dict[str, str]]]:
    """A client on a store of its own (for tests that change it)."""
    ids = make_store(tmp_path)
    with TestClient(create_app(tmp_path), base_url=BASE) as c:
        yield c, tmp_path, ids
