"""The storage of the scheduled function's files: a local directory (`LocalStorage`) and S3
(`S3Storage`, against moto's S3 server over HTTP)."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from {{ cookiecutter.__package_name }}.storage import LocalStorage, S3Storage, open_storage

from aws_testing import moto_server, own_bucket


@pytest.fixture(scope="module")
def aws_endpoint() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def bucket(aws_endpoint: str) -> Iterator[str]:
    with own_bucket(aws_endpoint) as name:
        yield name


def test_writes_leave_no_partial_files(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    storage.write("predictions/a.csv", b"x\n")
    storage.write("predictions/a.csv", b"y\n")
    assert storage.keys("predictions/") == ["predictions/a.csv"]
    assert storage.read("predictions/a.csv") == b"y\n"


def test_data_urls_name_a_local_directory_or_are_refused(tmp_path: Path) -> None:
    for url in (str(tmp_path), f"file://{tmp_path}"):
        storage = open_storage(url)
        assert isinstance(storage, LocalStorage)
        assert storage.root == tmp_path
    with pytest.raises(ValueError, match="unsupported data URL"):
        open_storage("ftp://example.com/data")


def test_s3_storage_lists_reads_and_writes_under_its_prefix_only(
    aws_endpoint: str, bucket: str
) -> None:
    storage = open_storage(f"s3://{bucket}/team/scores", aws_endpoint)
    assert isinstance(storage, S3Storage)
    storage.write("incoming/a.csv", b"a\n")
    storage.write("incoming/b.csv", b"b\n")
    open_storage(f"s3://{bucket}/other", aws_endpoint).write("incoming/c.csv", b"c\n")
    assert storage.keys("incoming/") == ["incoming/a.csv", "incoming/b.csv"]
    assert storage.keys("predictions/") == []
    assert storage.read("incoming/b.csv") == b"b\n"
    s3: Any = boto3.client("s3", endpoint_url=aws_endpoint)
    assert s3.get_object(Bucket=bucket, Key="team/scores/incoming/a.csv")["Body"].read() == b"a\n"


def test_s3_storage_at_the_bucket_root_pages_through_many_keys(
    aws_endpoint: str, bucket: str
) -> None:
    storage = open_storage(f"s3://{bucket}", aws_endpoint)
    names = sorted(f"incoming/{i:04}.csv" for i in range(1005))  # more than one page of 1000
    for name in names:
        storage.write(name, b"x\n")
    assert storage.keys("incoming/") == names
