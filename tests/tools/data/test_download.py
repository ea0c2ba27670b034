import gzip
import hashlib
import http.server
import threading
from functools import partial

import pytest

from bundle_tools.data.download import download_verified


@pytest.fixture()
def server(tmp_path):
    """A real HTTP server on 127.0.0.1 serving tmp_path/www."""
    root = tmp_path / "www"
    root.mkdir()
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def test_checks_content_sha256_and_falls_back_to_the_next_mirror(server, tmp_path):
    root, url = server
    content = b"\x00\x00\x08\x01\x00\x00\x00\x02\x05\x07"
    (root / "good").mkdir()
    (root / "good" / "labels.gz").write_bytes(gzip.compress(content))  # a different gzip wrapper each mirror
    (root / "bad").mkdir()
    (root / "bad" / "labels.gz").write_bytes(gzip.compress(b"tampered"))
    dest = tmp_path / "data"
    path = download_verified(
        "labels.gz", [url + "missing/", url + "bad/", url + "good/"], hashlib.sha256(content).hexdigest(), dest
    )
    assert gzip.decompress(path.read_bytes()) == content
    assert sorted(p.name for p in dest.iterdir()) == ["labels.gz"]


def test_no_mirror_with_the_right_content_leaves_nothing(server, tmp_path):
    root, url = server
    (root / "labels.gz").write_bytes(gzip.compress(b"tampered"))
    dest = tmp_path / "data"
    with pytest.raises(RuntimeError, match=r"could not download labels.gz(.|\n)*content sha256 .* != expected"):
        download_verified("labels.gz", [url], "0" * 64, dest)
    assert not dest.exists() or not any(dest.iterdir())
