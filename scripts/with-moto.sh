#!/usr/bin/env bash
# Runs a command with two local AWS stand-ins (moto_server on free loopback ports) and stops them
# afterwards, also when the command fails:
#   CONVICTION_TEST_MOTO_ENDPOINT       plain server (no signature checks)
#   CONVICTION_TEST_MOTO_AUTH_ENDPOINT  server that checks signatures, with an IAM user whose key is in
#   CONVICTION_TEST_MOTO_AUTH_KEY_ID / CONVICTION_TEST_MOTO_AUTH_SECRET
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
MOTO=.venv/bin/moto_server
[ -x "$MOTO" ] || { echo "with-moto: $MOTO missing; run make setup" >&2; exit 1; }

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_up() {
  for _ in $(seq 1 100); do
    if "$PY" -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$1/moto-api/data.json', timeout=1)" 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  echo "with-moto: moto_server on port $1 did not start" >&2; return 1
}

logdir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$logdir"; }
trap cleanup EXIT INT TERM

plain=$(free_port)
"$MOTO" -H 127.0.0.1 -p "$plain" >"$logdir/plain.log" 2>&1 & pids+=($!)
auth=$(free_port)
"$MOTO" -H 127.0.0.1 -p "$auth" >"$logdir/auth.log" 2>&1 & pids+=($!)
wait_up "$plain"; wait_up "$auth"

# An IAM user with full access on the checking server, created while checks are still off.
keys=$(AWS_ACCESS_KEY_ID=bootstrap AWS_SECRET_ACCESS_KEY=bootstrap "$PY" - "$auth" <<'PYEOF'
import sys, json, boto3
iam = boto3.client("iam", endpoint_url=f"http://127.0.0.1:{sys.argv[1]}", region_name="us-east-1")
iam.create_user(UserName="conviction-test")
iam.put_user_policy(UserName="conviction-test", PolicyName="all", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
key = iam.create_access_key(UserName="conviction-test")["AccessKey"]
print(key["AccessKeyId"], key["SecretAccessKey"])
PYEOF
)
"$PY" -c "import urllib.request; urllib.request.urlopen(urllib.request.Request('http://127.0.0.1:$auth/moto-api/reset-auth', data=b'0', headers={'Content-Type': 'text/plain'}, method='POST'))"

export CONVICTION_TEST_MOTO_ENDPOINT="http://127.0.0.1:$plain"
export CONVICTION_TEST_MOTO_AUTH_ENDPOINT="http://127.0.0.1:$auth"
export CONVICTION_TEST_MOTO_AUTH_KEY_ID="${keys% *}"
export CONVICTION_TEST_MOTO_AUTH_SECRET="${keys#* }"
echo "with-moto: moto_server on 127.0.0.1:$plain (plain) and 127.0.0.1:$auth (signature checks on)" >&2
"$@"
