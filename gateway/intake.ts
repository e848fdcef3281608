/** What both intakes share: the message handler they feed and the lifecycle the gateway drives. */

/**
 * Normalizes and stores one MQTT message; resolves once everything it produced is stored in
 * JetStream. Rejects only when storing failed for now (the intake must then not acknowledge).
 */
export type MessageHandler = (topic: string, payload: Uint8Array, receivedAt: number) => Promise<void>;

export interface Intake {
  /** Connects and starts receiving; resolves once subscribed / consuming. */
  start(): Promise<void>;
  /** Stops receiving, lets in-flight messages finish and acknowledges them; unfinished ones stay unacknowledged. */
  stop(timeoutMs?: number): Promise<void>;
  /** A reason when not ready, else undefined. */
  notReady(): string | undefined;
  /** Messages received and not yet acknowledged. */
  readonly inFlight: number;
}
