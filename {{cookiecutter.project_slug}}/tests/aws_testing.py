"""AWS for the tests: moto's server on a free local port, reached over real HTTP by boto3
through the endpoint URL settings (`aws_endpoint_url`), as S3 and DynamoDB are in AWS. Each
test gets a bucket or table of its own, removed with what it holds afterwards."""

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
"""What boto3 needs to sign a request; moto accepts any."""


@contextmanager
def moto_server() -> Iterator[str]:
    """moto's server, with fake credentials in the environment; yields its endpoint URL."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    previous = {name: os.environ.get(name) for name in CREDENTIALS}
    os.environ.update(CREDENTIALS)
    try:
        yield f"http://{host}:{port}"
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        server.stop()


@contextmanager
def own_bucket(endpoint: str) -> Iterator[str]:
    """A new S3 bucket; emptied and deleted afterwards."""
    s3: Any = boto3.client("s3", endpoint_url=endpoint)
    name = f"test-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    try:
        yield name
    finally:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
            if keys := [{"Key": item["Key"]} for item in page.get("Contents", [])]:
                s3.delete_objects(Bucket=name, Delete={"Objects": keys})
        s3.delete_bucket(Bucket=name)
