#!/bin/sh
# nats-server for compose.yaml, with the devices' MQTT listener opened only once something keeps what
# it accepts. nats-server PUBACKs a QoS 1 message whether or not a stream stores it, so on a fresh
# volume a device that connected before the gateway-nats service had created the raw capture stream
# would be told "stored" and lose the message. Until the raw stream has a durable consumer (the
# gateway's), nats-server runs without the listener (NATS_CONF, default nats.conf); then it restarts
# with it (NATS_MQTT_CONF, default nats-mqtt.conf), as `fleetstream start` does locally. With the
# stream already on the volume it starts with the listener at once. deploy/compose.cluster.yaml runs
# it with cluster.conf and cluster-mqtt.conf: with three replicas every node holds the consumer.
#
# FLEETSTREAM_RAW_STREAM: the raw stream's name (streams.prefix + MQTT_RAW; default MQTT_RAW).
# NATS_CONF_DIR, NATS_STORE_DIR, NATS_SERVER_BIN: where the configs, the JetStream store (store_dir)
# and nats-server are (the image's paths by default; the tests run this script outside a container).
set -eu
conf_dir="${NATS_CONF_DIR:-/etc/nats}"
store_dir="${NATS_STORE_DIR:-/data/jetstream}"
raw="${FLEETSTREAM_RAW_STREAM:-MQTT_RAW}"
server="${NATS_SERVER_BIN:-nats-server}"
conf="$conf_dir/${NATS_CONF:-nats.conf}"
mqtt_conf="$conf_dir/${NATS_MQTT_CONF:-nats-mqtt.conf}"

# A durable consumer of the raw stream, on disk: <store_dir>/jetstream/<account>/streams/<raw>/obs/<durable>/.
raw_read() {
  [ -n "$(find "$store_dir" -path "*/streams/$raw/obs/*/meta.inf" 2>/dev/null | head -n 1)" ]
}

if ! raw_read; then
  echo "nats entrypoint: no consumer of $raw yet; the MQTT listener opens once gateway-nats has created it" >&2
  "$server" -c "$conf" &
  pid=$!
  trap 'kill -TERM "$pid" 2>/dev/null; wait "$pid" || true; exit 143' TERM INT
  until raw_read; do
    if ! kill -0 "$pid" 2>/dev/null; then
      status=0
      wait "$pid" || status=$?
      echo "nats entrypoint: nats-server exited ($status) before $raw was read" >&2
      exit "$status"
    fi
    sleep 1
  done
  # The gateway is mid-start at this point; a second lets it finish before the restart it reconnects through.
  sleep 1
  kill -TERM "$pid"
  wait "$pid" || true
  trap - TERM INT
  echo "nats entrypoint: $raw has a consumer; restarting with the MQTT listener" >&2
fi
exec "$server" -c "$mqtt_conf"
