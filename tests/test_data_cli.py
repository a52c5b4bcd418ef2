"""``vanishing data list|fetch|verify`` through ``add_parser`` on a fresh argparse parser."""

from __future__ import annotations

import argparse
import gzip
import hashlib
import http.server
import shutil
import threading

import numpy as np
import pytest

from vanishing.data import cache_dir, catalog
from vanishing.data.catalog import IDX_FILES
from vanishing.data.commands import add_parser
from vanishing.data.idx import write_idx


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="vanishing")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return args.func(args)


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("VANISHING_DATA", str(tmp_path / "shared"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("VANISHING_MIRROR", raising=False)
    return tmp_path


def test_list_shows_every_data_set(env, capsys):
    assert run("data", "list") == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert "bundled" in lines["mnist-sample"] and "10,000 + 2,000 examples" in lines["mnist-sample"]
    for name in ("mnist", "fashion-mnist", "cifar10"):
        assert "not found" in lines[name] and str(cache_dir(name)) in lines[name]
    assert f"user cache: {cache_dir('mnist').parent}" in out


def test_list_reports_cached_data(env, capsys):
    folder = cache_dir("fashion-mnist")
    folder.mkdir(parents=True)
    for stem in IDX_FILES.values():
        (folder / stem).write_bytes(b"")
    assert run("data", "list") == 0
    line = next(row for row in capsys.readouterr().out.splitlines() if row.startswith("fashion-mnist"))
    assert "cached" in line and str(folder) in line


@pytest.mark.full_data
def test_verify_good_and_corrupt_mnist(env, shared_data, capsys):
    good = env / "good"
    shutil.copytree(shared_data / "mnist", good)
    assert run("data", "verify", "mnist", "--data-dir", str(good)) == 0
    out = capsys.readouterr().out
    assert out.count("OK  ") == 4 and "FAIL" not in out
    assert "content sha256 matches the original (the .gz was re-compressed" in out  # train-images
    assert out.count("md5 matches the mirror's") == 3

    labels = good / "t10k-labels-idx1-ubyte.gz"
    labels.chmod(0o644)
    content = bytearray(gzip.decompress(labels.read_bytes()))
    content[100] = (content[100] + 1) % 10  # one wrong label: structure fine, checksum not
    labels.write_bytes(gzip.compress(bytes(content)))
    images = good / "train-images-idx3-ubyte.gz"
    images.chmod(0o644)
    images.write_bytes(images.read_bytes()[:1000])  # truncated
    assert run("data", "verify", "mnist", "--data-dir", str(good)) == 1
    out = capsys.readouterr().out
    assert f"FAIL  {labels}: 10,000 labels in 0..9; content sha256 " in out
    assert f"FAIL  {images}: " in out and out.count("OK  ") == 2


def test_verify_synthetic_folder_with_non_canonical_sizes_fails(env, capsys):
    folder = env / "mine"
    folder.mkdir()
    write_idx(folder / IDX_FILES["train", "images"], np.zeros((5, 28, 28), np.uint8))
    write_idx(folder / IDX_FILES["train", "labels"], np.arange(5, dtype=np.uint8))
    write_idx(folder / IDX_FILES["test", "images"], np.zeros((2, 28, 28), np.uint8))
    write_idx(folder / IDX_FILES["test", "labels"], np.arange(2, dtype=np.uint8))
    assert run("data", "verify", "fashion-mnist", "--data-dir", str(folder)) == 1
    out = capsys.readouterr().out
    assert "5 images, expected 60,000" in out and "2 labels, expected 10,000" in out


def test_verify_bundled_sample_and_missing(env, capsys):
    assert run("data", "verify", "mnist-sample") == 0
    assert capsys.readouterr().out.count("content sha256 matches SHA256SUMS") == 4
    assert run("data", "verify", "cifar10") == 1
    assert "cifar10: not found (looked in" in capsys.readouterr().out
    assert run("data", "verify") == 0  # data sets that are absent are listed, not failures


class _Files(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}

    def do_GET(self):  # noqa: N802
        body = self.files.get(self.path.rsplit("/", 1)[-1])
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_fetch_downloads_into_the_cache(env, monkeypatch, capsys):
    served = env / "served"
    served.mkdir()
    files = {}
    arrays = {"train-images-idx3-ubyte": np.ones((10, 28, 28), np.uint8),
              "train-labels-idx1-ubyte": np.arange(10, dtype=np.uint8),
              "t10k-images-idx3-ubyte": np.ones((3, 28, 28), np.uint8),
              "t10k-labels-idx1-ubyte": np.arange(3, dtype=np.uint8)}
    for stem, array in arrays.items():
        write_idx(served / f"{stem}.gz", array)
        files[f"{stem}.gz"] = (served / f"{stem}.gz").read_bytes()
        monkeypatch.setitem(catalog.MD5, ("fashion-mnist", f"{stem}.gz"), hashlib.md5(files[f"{stem}.gz"]).hexdigest())
    handler = type("Handler", (_Files,), {"files": files})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/"
        assert run("data", "fetch", "fashion-mnist", "--mirror", url) == 0
        ready = f"fashion-mnist: 10 train + 3 test examples ready in {cache_dir('fashion-mnist')}"
        assert ready in capsys.readouterr().out
        assert sorted(p.name for p in cache_dir("fashion-mnist").iterdir()) == sorted(files)

        assert run("data", "fetch", "fashion-mnist", "--mirror", url, "--data-dir", str(env / "mine")) == 0
        assert sorted(p.name for p in (env / "mine" / "fashion-mnist").iterdir()) == sorted(files)

        handler.files = {}
        assert run("data", "fetch", "mnist", "--mirror", url) == 1
        assert "HTTP 404" in capsys.readouterr().err
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_fetch_sample_needs_nothing(env, capsys):
    assert run("data", "fetch", "mnist-sample") == 0
    assert "bundled" in capsys.readouterr().out


def test_unknown_name_is_an_argparse_error(env):
    with pytest.raises(SystemExit) as exc:
        run("data", "verify", "mnits")
    assert exc.value.code == 2
