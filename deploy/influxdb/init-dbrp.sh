#!/bin/bash
# Runs once, after the influxdb image's first-start setup (DOCKER_INFLUXDB_INIT_MODE=setup): maps the
# InfluxQL database "<bucket>" with retention policy "autogen" to the bucket, so Grafana's InfluxQL
# datasource and the v1 /query API see the data (CONTRACT section 7 measurements).
set -euo pipefail
bucket="${DOCKER_INFLUXDB_INIT_BUCKET:?}"
org="${DOCKER_INFLUXDB_INIT_ORG:?}"
bucket_id="${DOCKER_INFLUXDB_INIT_BUCKET_ID:-}"
if [ -z "$bucket_id" ]; then
  bucket_id=$(influx bucket list --org "$org" --name "$bucket" --hide-headers | cut -f1)
fi
if influx v1 dbrp list --org "$org" --db "$bucket" --hide-headers 2>/dev/null | grep -q "$bucket_id"; then
  echo "init-dbrp: mapping for $bucket already exists"
  exit 0
fi
influx v1 dbrp create --org "$org" --bucket-id "$bucket_id" --db "$bucket" --rp autogen --default
echo "init-dbrp: InfluxQL database \"$bucket\" (rp autogen) -> bucket $bucket ($bucket_id)"
