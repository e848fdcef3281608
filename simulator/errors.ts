/** Errors of the simulator area: each sets `name` and keeps `cause`. */
import { FleetstreamError } from "../core/errors.ts";

/** A simulator option is invalid; the message names the option and the fix. */
export class SimulatorOptionError extends FleetstreamError {
  constructor(
    message: string,
    readonly option: string,
  ) {
    super(message);
  }
}

/** The MQTT broker could not be reached or refused the connection. */
export class SimulatorConnectError extends FleetstreamError {}
