"""The counter stores of the Python Lambda variants, chosen by the same URL as the Rust
function's LATENCY_STORE:

  s3://BUCKET/KEY?endpoint=URL&region=R&mode=atomic|read-modify-write&create=true
  dynamodb://TABLE?endpoint=URL&region=R&mode=...&key=id&key_value=0&attribute=hits&create=true

`atomic` (the default) never loses an update: S3 uses a conditional PUT (If-Match on the
ETag it read, If-None-Match: * for the first write), retried with jittered backoff;
DynamoDB uses one UpdateItem ADD. `read-modify-write` reproduces the original study's
two-step read-then-write, which loses updates under concurrency.

Creating the counter is explicit: with create=true the bucket/table and the counter at 0
are created when the function starts (its init). After that, a counter that disappears is
an error that names it, never a silent restart at 1.
"""

import random
import time
from urllib.parse import parse_qs, urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

MAX_ATTEMPTS = 200


class CounterError(Exception):
    """The store failed or the counter is missing or corrupt. The message names it."""


def open_counter(url: str):
    """Builds the counter a store URL names; raises ValueError for a bad URL."""
    parts = urlsplit(url)
    params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    mode = params.get("mode", "atomic")
    if mode not in ("atomic", "read-modify-write"):
        raise ValueError(f"mode must be atomic or read-modify-write, not {mode!r}")
    create = params.get("create", "false") == "true"
    client_args = {
        "region_name": params.get("region"),
        "endpoint_url": params.get("endpoint"),
        # Short timeouts: Lambda's own timeout is 3 s by default.
        "config": Config(connect_timeout=2, read_timeout=2, retries={"mode": "standard"}),
    }
    if parts.scheme == "s3":
        key = parts.path.lstrip("/")
        if not parts.hostname or not key:
            raise ValueError("an S3 store URL is s3://BUCKET/KEY")
        return S3Counter(boto3.client("s3", **client_args), parts.hostname, key, mode, create)
    if parts.scheme == "dynamodb":
        if not parts.hostname:
            raise ValueError("a DynamoDB store URL is dynamodb://TABLE")
        return DynamoDbCounter(
            boto3.client("dynamodb", **client_args),
            parts.hostname,
            params.get("key", "id"),
            params.get("key_value", "0"),
            params.get("attribute", "hits"),
            mode,
            create,
        )
    raise ValueError(f"unsupported store scheme {parts.scheme!r}: use s3:// or dynamodb://")


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _code(err: ClientError) -> str:
    return err.response.get("Error", {}).get("Code", "")


class S3Counter:
    """The count is the body of one S3 object."""

    def __init__(self, s3, bucket, key, mode, create):
        self.s3, self.bucket, self.key, self.mode = s3, bucket, key, mode
        if create:
            self._create()

    def _create(self):
        try:
            self.s3.head_bucket(Bucket=self.bucket)
        except ClientError:
            region = self.s3.meta.region_name
            extra = {}
            if region and region != "us-east-1":
                extra["CreateBucketConfiguration"] = {"LocationConstraint": region}
            self.s3.create_bucket(Bucket=self.bucket, **extra)
        try:
            self.s3.put_object(Bucket=self.bucket, Key=self.key, Body=b"0", IfNoneMatch="*")
        except ClientError as err:
            if _code(err) not in ("PreconditionFailed", "ConditionalRequestConflict"):
                raise

    def _read(self):
        try:
            obj = self.s3.get_object(Bucket=self.bucket, Key=self.key)
        except ClientError as err:
            if _code(err) in ("NoSuchKey", "NoSuchBucket"):
                raise CounterError(f"counter s3://{self.bucket}/{self.key} is missing") from err
            raise
        body = obj["Body"].read().strip()
        if not body.isdigit():
            raise CounterError(f"counter s3://{self.bucket}/{self.key} does not hold a count")
        return int(body), obj["ETag"]

    def incr(self, deadline=None) -> int:
        """Adds one and returns the new count. `deadline` (a `time.monotonic()` value) stops
        the conditional-PUT retries in time for a clear error: a function killed by Lambda's
        timeout instead is recycled, and its next call is a cold start."""
        if self.mode == "read-modify-write":
            value, _ = self._read()
            self.s3.put_object(Bucket=self.bucket, Key=self.key, Body=str(value + 1).encode())
            return value + 1
        for attempt in range(MAX_ATTEMPTS):
            if deadline is not None and attempt > 0 and time.monotonic() >= deadline:
                raise CounterError(
                    f"counter s3://{self.bucket}/{self.key}: too much contention, "
                    f"gave up after {attempt} attempts to finish before the function's timeout"
                )
            value, etag = self._read()
            try:
                self.s3.put_object(
                    Bucket=self.bucket, Key=self.key, Body=str(value + 1).encode(), IfMatch=etag
                )
                return value + 1
            except ClientError as err:
                if _code(err) not in ("PreconditionFailed", "ConditionalRequestConflict"):
                    raise
            # Another writer won: back off with jitter so contenders spread out.
            time.sleep(random.uniform(0, min(0.05, 0.001 * 2**attempt)))
        raise CounterError(f"counter s3://{self.bucket}/{self.key}: too much contention")


class DynamoDbCounter:
    """The count is one number attribute of one DynamoDB item."""

    def __init__(self, ddb, table, key, key_value, attribute, mode, create):
        self.ddb, self.table, self.mode = ddb, table, mode
        self.key_name, self.attribute = key, attribute
        if create:
            self._create(key_value)
        # The key's type (the study's tables have a number key `id`) is the table's, read
        # once at init as the Rust store does: a string sent to a number key is a
        # ValidationException on every call.
        key_type = self._key_type()
        if key_type == "N" and not _is_number(key_value):
            raise ValueError(f"table {table} has a number key, but key_value is {key_value!r}")
        self.key = {key: {key_type: key_value}}
        if create:
            self._put_zero()

    def _key_type(self):
        table = self.ddb.describe_table(TableName=self.table)["Table"]
        hash_key = next(k["AttributeName"] for k in table["KeySchema"] if k["KeyType"] == "HASH")
        if hash_key != self.key_name:
            raise ValueError(f"table {self.table} is keyed by {hash_key!r}, not {self.key_name!r}")
        types = {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]}
        return types[hash_key]

    def _create(self, key_value):
        try:
            self.ddb.describe_table(TableName=self.table)
        except ClientError as err:
            if _code(err) != "ResourceNotFoundException":
                raise
            key_type = "N" if _is_number(key_value) else "S"
            self.ddb.create_table(
                TableName=self.table,
                AttributeDefinitions=[{"AttributeName": self.key_name, "AttributeType": key_type}],
                KeySchema=[{"AttributeName": self.key_name, "KeyType": "HASH"}],
                BillingMode="PAY_PER_REQUEST",
            )
            self.ddb.get_waiter("table_exists").wait(TableName=self.table)

    def _put_zero(self):
        try:
            self.ddb.put_item(
                TableName=self.table,
                Item={**self.key, self.attribute: {"N": "0"}},
                ConditionExpression="attribute_not_exists(#k)",
                ExpressionAttributeNames={"#k": self.key_name},
            )
        except ClientError as err:
            if _code(err) != "ConditionalCheckFailedException":
                raise

    def _missing(self, err):
        return CounterError(f"counter item {self.key} in table {self.table} is missing")

    def incr(self, deadline=None) -> int:
        """Adds one and returns the new count; one request with nothing to retry, so the
        `deadline` (see S3Counter.incr) is not needed."""
        names = {"#c": self.attribute, "#k": self.key_name}
        if self.mode == "read-modify-write":
            item = self.ddb.get_item(TableName=self.table, Key=self.key, ConsistentRead=True)
            if "Item" not in item:
                raise self._missing(None)
            value = int(item["Item"].get(self.attribute, {"N": "0"})["N"]) + 1
            self.ddb.put_item(TableName=self.table, Item={**self.key, self.attribute: {"N": str(value)}})
            return value
        try:
            out = self.ddb.update_item(
                TableName=self.table,
                Key=self.key,
                UpdateExpression="ADD #c :one",
                ConditionExpression="attribute_exists(#k)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={":one": {"N": "1"}},
                ReturnValues="UPDATED_NEW",
            )
        except ClientError as err:
            if _code(err) == "ConditionalCheckFailedException":
                raise self._missing(err) from err
            raise
        return int(out["Attributes"][self.attribute]["N"])
