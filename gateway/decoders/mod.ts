/** The decoders by their config name (`routes[].decoder`). */
import type { DecoderName } from "../../core/config.ts";
import { decodeCanonicalLocation } from "./canonical_location.ts";
import { decodeCanonicalReading } from "./canonical_reading.ts";
import type { Decoder } from "./decoder.ts";
import { decodeOwnTracks } from "./owntracks.ts";
import { decodeZigbee2Mqtt } from "./zigbee2mqtt.ts";

export * from "./decoder.ts";
export { decodeCanonicalLocation, decodeCanonicalReading, decodeOwnTracks, decodeZigbee2Mqtt };

export const DECODERS: Record<DecoderName, Decoder> = {
  canonical_reading: decodeCanonicalReading,
  canonical_location: decodeCanonicalLocation,
  owntracks: decodeOwnTracks,
  zigbee2mqtt: decodeZigbee2Mqtt,
};

/** The event type a decoder produces when the route names none. */
export const DEFAULT_EVENT_TYPE: Record<DecoderName, string> = {
  canonical_reading: "SensorReadingRecorded",
  canonical_location: "LocationUpdated",
  owntracks: "LocationUpdated",
  zigbee2mqtt: "SensorReadingRecorded",
};
