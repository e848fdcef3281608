#!/bin/sh
# Writes Mosquitto's password file from MQTT_USERNAME / MQTT_PASSWORD (from .env), then starts the broker.
set -eu
: "${MQTT_USERNAME:?set MQTT_USERNAME in .env}"
: "${MQTT_PASSWORD:?set MQTT_PASSWORD in .env}"
mkdir -p /mosquitto/config-runtime
umask 077
: > /mosquitto/config-runtime/passwd
mosquitto_passwd -b /mosquitto/config-runtime/passwd "$MQTT_USERNAME" "$MQTT_PASSWORD"
chown -R mosquitto:mosquitto /mosquitto/config-runtime /mosquitto/data 2>/dev/null || true
exec mosquitto -c /mosquitto/config/mosquitto.conf
