/** simulator: a device fleet over MQTT (sensors, vehicles, OwnTracks, zigbee2mqtt) with reproducible faults. */
export * from "./options.ts";
export * from "./errors.ts";
export * from "./plan.ts";
export * from "./simulator.ts";
export { createRandom, type Random } from "./random.ts";
export { distanceM, bearingDeg, destination, EARTH_RADIUS_M, type LatLon } from "./geo.ts";
export type { Metrics, Fix, DeviceKind } from "./devices.ts";
