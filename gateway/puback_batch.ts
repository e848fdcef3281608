/**
 * PUBACKs of one connection: those released in the same tick leave as one buffer.
 *
 * mqtt-packet writes each PUBACK in three or four `stream.write` calls. The gateway releases PUBACKs
 * in bursts (when a batch of JetStream acks arrives). If the socket is still busy with an earlier
 * write, Node queues every piece as a write request with its own object. At 10k msgs/s a heap snapshot
 * held 356k of them.
 *
 * A success PUBACK without properties is the same four bytes in MQTT 3.1.1 and 5: `0x40 0x02 <id>`
 * (MQTT 5 lets a sender omit reason code 0 when there are no properties). So these PUBACKs are
 * encoded here and written together.
 */

/** Packet fields that decide whether a PUBACK can be batched. */
export interface PubackLike {
  cmd: string;
  messageId?: number;
  reasonCode?: number;
  properties?: unknown;
}

export interface PubackBatch {
  /** Queues the PUBACK of `messageId`; it leaves with the rest of this tick's PUBACKs, in order. */
  add(messageId: number): void;
  /** Writes the queued PUBACKs now (before a PUBACK that cannot be batched, to keep the order). */
  flush(): void;
  /** Forgets PUBACKs not yet written (the connection is gone; the broker redelivers those messages). */
  discard(): void;
}

/** Whether `packet` is a success PUBACK with no properties (the only kind batched). */
export function isPlainPuback(packet: PubackLike): packet is PubackLike & { messageId: number } {
  return (
    packet.cmd === "puback" &&
    typeof packet.messageId === "number" &&
    (packet.reasonCode === undefined || packet.reasonCode === 0) &&
    (packet.properties === undefined || packet.properties === null)
  );
}

/** The wire bytes of plain PUBACKs for `ids`, in order. */
export function encodePubacks(ids: readonly number[]): Buffer {
  const buf = Buffer.allocUnsafe(4 * ids.length);
  for (let i = 0, o = 0; i < ids.length; i++, o += 4) {
    const id = ids[i]!;
    buf[o] = 0x40;
    buf[o + 1] = 0x02;
    buf[o + 2] = id >>> 8;
    buf[o + 3] = id & 0xff;
  }
  return buf;
}

/**
 * @param write sends the bytes (e.g. to the client's stream, if still connected)
 * @example
 * const pubacks = createPubackBatch((b) => client.connected && client.stream.write(b));
 * pubacks.add(packet.messageId);
 */
export function createPubackBatch(write: (bytes: Buffer) => void): PubackBatch {
  let ids: number[] = [];
  const flush = () => {
    if (ids.length === 0) return;
    const bytes = encodePubacks(ids);
    ids = [];
    write(bytes);
  };
  return {
    add(messageId) {
      if (ids.push(messageId) === 1) process.nextTick(flush);
    },
    flush,
    discard() {
      ids = [];
    },
  };
}
