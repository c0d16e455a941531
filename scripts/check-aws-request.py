#!/usr/bin/env python3
"""Checks a request body against the AWS service model botocore ships (shapes, required members, enums,
ranges): stronger than moto, which only stubs some services. With --endpoint, also sends it there
(moto_server) through boto3 and prints the answer as JSON.

    conviction batch job-definition --stage score --image IMG | scripts/check-aws-request.py batch RegisterJobDefinition
"""
import argparse, json, re, sys

import boto3
from botocore.validate import validate_parameters


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("service")
    parser.add_argument("operation", help="e.g. RegisterJobDefinition")
    parser.add_argument("--endpoint", help="send it to this endpoint too (moto_server)")
    args = parser.parse_args()
    params = json.load(sys.stdin)
    client = boto3.client(args.service, region_name="us-east-1", endpoint_url=args.endpoint,
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    validate_parameters(params, client.meta.service_model.operation_model(args.operation).input_shape)
    print(f"valid: {args.service} {args.operation}", file=sys.stderr)
    if args.endpoint:
        method = re.sub(r"(?<!^)(?=[A-Z])", "_", args.operation).lower()
        answer = getattr(client, method)(**params)
        answer.pop("ResponseMetadata", None)
        print(json.dumps(answer, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
