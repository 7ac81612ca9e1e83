#!/usr/bin/env python3
"""One-off migration to the sharded expiry index (docs/scale.md, "Migrating a stack").

Records written before the `expShard-sweepAt` index existed carry no `expShard`/`sweepAt`, so the
cleanup cannot find them. This gives every unfinished one (INITIATED or COMPLETING) its entry: the
shard the service computes (FNV-1a of the upload id, modulo the shards) and `sweepAt` = its expiry
(INITIATED) or 0 (COMPLETING: the next sweep looks whether its hold is stale). Each write is
conditional on the record still being unfinished and still without an entry, so it is safe while
the service runs and safe to run twice. Finished records are left out (the index is sparse).

    python3 scripts/backfill-expiry-index.py --table TABLE [--shards 16] [--endpoint-url URL] [--dry-run]

Run it after the new code is deployed and the new index is ACTIVE, before removing the old index.
"""

import argparse

import boto3
from botocore.exceptions import ClientError

FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3


def shard(upload_id: str, shards: int) -> int:
    """shared::ports::expiry_shard, byte for byte."""
    h = FNV_OFFSET
    for byte in upload_id.encode():
        h = ((h ^ byte) * FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
    return h % max(shards, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", required=True)
    parser.add_argument("--shards", type=int, default=16, help="the stack's ExpiryShards")
    parser.add_argument("--endpoint-url", help="a local DynamoDB (moto) instead of AWS")
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args()
    table = boto3.client("dynamodb", endpoint_url=args.endpoint_url)
    names = {"#s": "status"}
    unfinished = {":i": {"S": "INITIATED"}, ":c": {"S": "COMPLETING"}}
    scanned = written = skipped = 0
    for page in table.get_paginator("scan").paginate(
        TableName=args.table,
        FilterExpression="#s IN (:i, :c) AND attribute_not_exists(expShard)",
        ProjectionExpression="uploadId, #s, expiresAt",
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=unfinished,
    ):
        scanned += page.get("ScannedCount", 0)
        for item in page.get("Items", []):
            upload_id = item["uploadId"]["S"]
            at = item["expiresAt"]["N"] if item["status"]["S"] == "INITIATED" else "0"
            if args.dry_run:
                written += 1
                continue
            try:
                table.update_item(
                    TableName=args.table,
                    Key={"uploadId": {"S": upload_id}},
                    UpdateExpression="SET expShard = :shard, sweepAt = :at",
                    ConditionExpression="#s IN (:i, :c) AND attribute_not_exists(expShard)",
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues={
                        **unfinished,
                        ":shard": {"S": f"exp#{shard(upload_id, args.shards)}"},
                        ":at": {"N": at},
                    },
                )
                written += 1
            except ClientError as err:
                if err.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
                skipped += 1  # finished, or given an entry, meanwhile
    verb = "would write" if args.dry_run else "wrote"
    print(f"scanned {scanned} items; {verb} {written} index entries; {skipped} changed meanwhile")


if __name__ == "__main__":
    main()
