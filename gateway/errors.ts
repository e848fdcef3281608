/** Errors of the gateway area: each sets `name` and keeps `cause`. Input rejects use core's `RejectError`. */
import { FleetstreamError } from "../core/errors.ts";

export { RejectError } from "../core/errors.ts";

/** The MQTT intake could not connect, subscribe or was refused by the broker. */
export class IntakeError extends FleetstreamError {}

/** The gateway was used in a state that does not allow it (e.g. `start()` twice). */
export class GatewayStateError extends FleetstreamError {}
