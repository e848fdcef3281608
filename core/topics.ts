/** MQTT topic filters: matching, and their NATS subject forms (as nats-server's MQTT listener maps them). */

/**
 * True when an MQTT topic matches a filter with `+` and `#` wildcards.
 * @example topicMatches("devices/+/telemetry", "devices/t1/telemetry") // => true
 */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split("/");
  const t = topic.split("/");
  for (let i = 0; i < f.length; i++) {
    const fl = f[i]!;
    if (fl === "#") return true;
    if (i >= t.length) return false;
    if (fl !== "+" && fl !== t[i]) return false;
  }
  return f.length === t.length;
}

/** `devices/+/telemetry` -> `devices.*.telemetry`, `a/#` -> `a.>` (nats-server's MQTT mapping). */
export function mqttFilterToSubject(filter: string): string {
  return filter
    .split("/")
    .map((l) => (l === "+" ? "*" : l === "#" ? ">" : l.replace(/\./g, "//")))
    .join(".");
}

/** The MQTT topic a nats-server MQTT message was published on: `devices.t1.telemetry` -> `devices/t1/telemetry`. */
export function subjectToMqttTopic(subject: string): string {
  // A `.` inside an MQTT level travels as `//` inside one subject token.
  return subject
    .split(".")
    .map((t) => t.replace(/\/\//g, "."))
    .join("/");
}
