"""Where the scheduled function finds its input files and writes its outputs.

The storage is S3 in AWS (`s3://bucket/prefix`) and a local directory otherwise (a path or
`file://` URL): both sit behind the small `Storage` protocol, and boto3 is used only by
`S3Storage`. Each write is whole or absent: readers never see a partial file.
"""

from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse

import boto3


class Storage(Protocol):
    """The few operations scoring needs, on keys relative to the data URL."""

    def keys(self, prefix: str) -> list[str]: ...

    def read(self, key: str) -> bytes: ...

    def write(self, key: str, data: bytes) -> None: ...


class LocalStorage:
    """A local directory; writes are atomic (a temporary file renamed into place)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def keys(self, prefix: str) -> list[str]:
        directory = self.root / prefix
        if not directory.is_dir():
            return []
        return sorted(prefix + path.name for path in directory.iterdir() if path.is_file())

    def read(self, key: str) -> bytes:
        return (self.root / key).read_bytes()

    def write(self, key: str, data: bytes) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        partial.write_bytes(data)
        partial.replace(path)


class S3Storage:
    """A prefix in an S3 bucket, through boto3 (a PUT is atomic: readers see all or nothing)."""

    def __init__(self, bucket: str, prefix: str, endpoint_url: str | None = None) -> None:
        self.client = boto3.client("s3", endpoint_url=endpoint_url)
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""

    def keys(self, prefix: str) -> list[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        pages = paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix)
        return sorted(
            item["Key"].removeprefix(self.prefix)
            for page in pages
            for item in page.get("Contents", [])
        )

    def read(self, key: str) -> bytes:
        body: bytes = self.client.get_object(Bucket=self.bucket, Key=self.prefix + key)[
            "Body"
        ].read()
        return body

    def write(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data)


def open_storage(data_url: str, endpoint_url: str | None = None) -> Storage:
    """The storage a data URL names: `s3://bucket/prefix` (at `endpoint_url`, an emulator,
    when it is set), `file:///path` or a path."""
    url = urlparse(data_url)
    if url.scheme == "s3":
        return S3Storage(url.netloc, url.path, endpoint_url)
    if url.scheme == "file":
        return LocalStorage(Path(url.path))
    if url.scheme:
        raise ValueError(f"unsupported data URL {data_url!r}: use s3://, file:// or a path")
    return LocalStorage(Path(data_url))
