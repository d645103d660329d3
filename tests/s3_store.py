"""An S3-compatible store for the end-to-end tests: moto's server, with authentication enforced.

Run inside the pod's network (the sandbox) as a script:
  s3_store.py setup ENDPOINT BUCKET   -> {"accessKey", "secretKey"} of a user allowed on BUCKET; auth then on
  s3_store.py keys ENDPOINT BUCKET ACCESS SECRET -> the object keys in BUCKET
"""

from __future__ import annotations

import json
import sys
import urllib.request
from typing import Any

import boto3

SETUP_CREDENTIALS = {"aws_access_key_id": "setup", "aws_secret_access_key": "setup"}


def _client(service: str, endpoint: str, **credentials: str) -> Any:
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1", **credentials)


def setup(endpoint: str, bucket: str) -> dict[str, str]:
    iam = _client("iam", endpoint, **SETUP_CREDENTIALS)
    iam.create_user(UserName="registry")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:*", "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]}
        ],
    }
    iam.put_user_policy(UserName="registry", PolicyName="registry", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="registry")["AccessKey"]
    _client("s3", endpoint, **SETUP_CREDENTIALS).create_bucket(Bucket=bucket)
    # From here on, every request must be signed by a known key with the right policy.
    request = urllib.request.Request(
        f"{endpoint}/moto-api/reset-auth", data=b"0", headers={"Content-Type": "text/plain"}, method="POST"
    )
    urllib.request.urlopen(request).read()
    return {"accessKey": key["AccessKeyId"], "secretKey": key["SecretAccessKey"]}


def keys(endpoint: str, bucket: str, access: str, secret: str) -> list[str]:
    s3 = _client("s3", endpoint, aws_access_key_id=access, aws_secret_access_key=secret)
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


if __name__ == "__main__":
    command, *arguments = sys.argv[1:]
    result = setup(*arguments) if command == "setup" else keys(*arguments)
    sys.stdout.write(json.dumps(result))
