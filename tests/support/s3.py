"""A real S3 API on 127.0.0.1 (moto's server, spoken to over HTTP by s3fs/botocore as any S3 would be)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

BUCKET = "curation-tests"
# credentials and region moto accepts; set before botocore reads them, in this process and its children
S3_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@contextmanager
def s3_server() -> Iterator[str]:
    """Start the server; yield its endpoint URL, exported as ``AWS_ENDPOINT_URL`` for every S3 client started after."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request otherwise
    saved = {name: os.environ.get(name) for name in (*S3_ENV, "AWS_ENDPOINT_URL")}
    os.environ.update(S3_ENV)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    os.environ["AWS_ENDPOINT_URL"] = f"http://{host}:{port}"
    try:
        yield os.environ["AWS_ENDPOINT_URL"]
    finally:
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def s3() -> Any:
    """A fresh s3fs filesystem (no cached listings) on the running server."""
    import s3fs

    return s3fs.S3FileSystem(skip_instance_cache=True)
