"""Where data sets come from: lookup order, the user cache and verified downloads.

Each folder in these tests holds a small synthetic MNIST whose training-set
size identifies it, so the test can tell which folder a load read from.
Downloads are served by a local ``http.server`` in a thread.
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from vanishing.data import cache_dir, catalog, download, load_arrays, load_dataset, locate
from vanishing.data.catalog import IDX_FILES
from vanishing.data.idx import write_idx
from vanishing.errors import ConfigError, DataError

N_TEST = 10


def make_mnist(folder: Path, n_train: int, seed: int = 0, gz: bool = True) -> dict[str, bytes]:
    """Write a synthetic MNIST of ``n_train`` + 10 examples; returns file name -> bytes written."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        IDX_FILES["train", "images"]: rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        IDX_FILES["train", "labels"]: (np.arange(n_train) % 10).astype(np.uint8),
        IDX_FILES["test", "images"]: rng.integers(0, 256, (N_TEST, 28, 28), dtype=np.uint8),
        IDX_FILES["test", "labels"]: (np.arange(N_TEST) % 10).astype(np.uint8),
    }
    out = {}
    for stem, array in arrays.items():
        path = folder / (f"{stem}.gz" if gz else stem)
        write_idx(path, array)
        out[path.name] = path.read_bytes()
    return out


@pytest.fixture
def env(tmp_path, monkeypatch):
    """Empty VANISHING_DATA and user cache under tmp_path; no mirror override."""
    data = tmp_path / "shared"
    data.mkdir()
    monkeypatch.setenv("VANISHING_DATA", str(data))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("VANISHING_MIRROR", raising=False)
    return tmp_path


def test_cache_dir_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_dir("mnist") == tmp_path / "vanishing" / "mnist"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir("cifar10") == tmp_path / "home" / ".cache" / "vanishing" / "cifar10"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")  # ignored, per the XDG spec
    assert cache_dir("mnist") == tmp_path / "home" / ".cache" / "vanishing" / "mnist"


def test_lookup_order_data_dir_then_env_then_cache(env):
    make_mnist(env / "explicit", n_train=30)
    make_mnist(env / "shared" / "mnist", n_train=40, gz=False)
    make_mnist(cache_dir("mnist"), n_train=50)

    raw = load_arrays("mnist", data_dir=env / "explicit", download=False)
    assert len(raw.x_train) == 30 and str(env / "explicit") in raw.source and "--data-dir" in raw.source
    assert locate("mnist", data_dir=env / "explicit") == env / "explicit"

    raw = load_arrays("mnist", download=False)
    assert len(raw.x_train) == 40 and "$VANISHING_DATA" in raw.source
    assert locate("mnist") == env / "shared" / "mnist"

    (env / "shared" / "mnist" / IDX_FILES["test", "labels"]).unlink()  # incomplete → not a candidate
    raw = load_arrays("mnist", download=False)
    assert len(raw.x_train) == 50 and "user cache" in raw.source
    assert locate("mnist") == cache_dir("mnist")


def test_data_dir_may_be_the_parent_folder(env):
    make_mnist(env / "datasets" / "mnist", n_train=20)
    assert len(load_arrays("mnist", data_dir=env / "datasets", download=False).x_train) == 20


def test_damaged_files_are_an_error_not_a_fallback(env):
    make_mnist(env / "explicit", n_train=30)
    make_mnist(env / "shared" / "mnist", n_train=40)
    bad = env / "explicit" / f"{IDX_FILES['train', 'images']}.gz"
    bad.write_bytes(bad.read_bytes()[:100])
    with pytest.raises(DataError, match=f"^{bad}: "):
        load_arrays("mnist", data_dir=env / "explicit", download=False)


def test_nothing_found_offline_lists_every_place(env):
    with pytest.raises(DataError) as err:
        load_arrays("fashion-mnist", data_dir=env / "mine", download=False)
    message = str(err.value)
    assert "\n" not in message
    for place in (env / "mine", env / "mine" / "fashion-mnist", env / "shared" / "fashion-mnist",
                  cache_dir("fashion-mnist")):
        assert f"{place} (" in message
    assert "downloading is off" in message
    assert "--data-dir" in message and "VANISHING_DATA" in message
    assert catalog.MIRRORS["fashion-mnist"][0] + "{train-images-idx3-ubyte.gz" in message
    assert not cache_dir("fashion-mnist").exists()


def test_unknown_name_is_a_config_error():
    with pytest.raises(ConfigError, match=r"unknown data set 'mnits' \(valid: mnist, mnist-sample, "
                                          r"fashion-mnist, cifar10, npz:PATH\)"):
        load_arrays("mnits")


# --------------------------------------------------------------------------- downloads


class _Handler(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    mode = "ok"  # ok | short (declares more bytes than it sends) | stall

    def do_GET(self):  # noqa: N802 (http.server API)
        name = self.path.rsplit("/", 1)[-1]
        if name not in self.files:
            self.send_error(404)
            return
        body = self.files[name]
        if self.mode == "stall":
            time.sleep(1.5)
        self.send_response(200)
        self.send_header("Content-Length", str(len(body) + (1000 if self.mode == "short" else 0)))
        self.end_headers()
        try:
            self.wfile.write(body)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (the timeout test)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    """A local HTTP mirror; set ``handler.files`` / ``handler.mode``; yields (base URL, handler class)."""
    handler = type("Handler", (_Handler,), {"files": {}, "mode": "ok"})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/mirror/", handler
    httpd.shutdown()
    httpd.server_close()


def serve_mnist(tmp_path, handler, monkeypatch, n_train=20) -> dict[str, bytes]:
    files = make_mnist(tmp_path / "served", n_train=n_train)
    handler.files = files
    for name, data in files.items():
        monkeypatch.setitem(catalog.MD5, ("mnist", name), hashlib.md5(data).hexdigest())
    return files


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*")) if folder.exists() else []


def test_download_into_cache_with_checksums(env, server, monkeypatch):
    url, handler = server
    files = serve_mnist(env, handler, monkeypatch)
    raw = load_arrays("mnist", mirror=url)
    assert len(raw.x_train) == 20 and "user cache" in raw.source
    assert leftovers(cache_dir("mnist")) == sorted(files)
    for name, data in files.items():
        assert (cache_dir("mnist") / name).read_bytes() == data
    expected = np.frombuffer(gzip.decompress(files["train-images-idx3-ubyte.gz"])[16:], np.uint8)
    np.testing.assert_array_equal(raw.x_train.reshape(-1), expected)
    # A second load reads the cache: it works with the server gone.
    handler.files = {}
    assert len(load_dataset("mnist", mirror=url, val_fraction=0).x_train) == 20


def test_mirror_from_environment(env, server, monkeypatch):
    url, handler = server
    serve_mnist(env, handler, monkeypatch)
    monkeypatch.setenv("VANISHING_MIRROR", url.rstrip("/"))  # without the trailing slash
    assert len(load_arrays("mnist").x_train) == 20


def test_checksum_mismatch_leaves_nothing(env, server, monkeypatch):
    url, handler = server
    serve_mnist(env, handler, monkeypatch)
    monkeypatch.setitem(catalog.MD5, ("mnist", "train-images-idx3-ubyte.gz"), "0" * 32)
    with pytest.raises(DataError) as err:
        load_arrays("mnist", mirror=url)
    message = str(err.value)
    assert f"{url}train-images-idx3-ubyte.gz: checksum mismatch: md5 " in message
    assert f"expected {'0' * 32}" in message
    assert leftovers(cache_dir("mnist")) == []  # no file, no temp file (and no empty folder)


def test_mismatch_on_a_later_file_keeps_only_verified_files(env, server, monkeypatch):
    url, handler = server
    serve_mnist(env, handler, monkeypatch)
    monkeypatch.setitem(catalog.MD5, ("mnist", "t10k-images-idx3-ubyte.gz"), "f" * 32)
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.gz: checksum mismatch"):
        load_arrays("mnist", mirror=url)
    assert leftovers(cache_dir("mnist")) == ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]


def test_connection_dropped_mid_file_leaves_nothing(env, server, monkeypatch):
    url, handler = server
    serve_mnist(env, handler, monkeypatch)
    handler.mode = "short"
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz: (connection lost|incomplete)"):
        load_arrays("mnist", mirror=url)
    assert leftovers(cache_dir("mnist")) == []


def test_stalled_server_times_out(env, server, monkeypatch):
    url, handler = server
    serve_mnist(env, handler, monkeypatch)
    handler.mode = "stall"
    monkeypatch.setattr(download, "TIMEOUT", 0.3)
    with pytest.raises(DataError, match=r"timed out|unreachable \(timed out\)"):
        load_arrays("mnist", mirror=url)
    assert leftovers(cache_dir("mnist")) == []


def test_unreachable_mirror_says_where_it_looked(env):
    with socket.socket() as sock:  # a port that nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/"
    with pytest.raises(DataError) as err:
        load_arrays("mnist", mirror=url, data_dir=env / "mine")
    message = str(err.value)
    assert message.startswith("mnist: not found; looked in ")
    for place in (env / "mine", env / "shared" / "mnist", cache_dir("mnist")):
        assert f"{place} (" in message
    assert f"{url}train-images-idx3-ubyte.gz: unreachable" in message
    assert f"download {url}{{train-images-idx3-ubyte.gz, " in message
    assert leftovers(cache_dir("mnist")) == []


def test_missing_file_on_mirror(env, server, monkeypatch):
    url, handler = server
    serve_mnist(env, handler, monkeypatch)
    del handler.files["t10k-labels-idx1-ubyte.gz"]
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte.gz: HTTP 404"):
        load_arrays("mnist", mirror=url)
