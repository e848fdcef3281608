/**
 * PUBACKs in arrival order, each sent only once its message is stored.
 *
 * MQTT requires a receiver to acknowledge QoS 1 PUBLISHes in the order they arrived, not one round
 * trip at a time. Every received message opens a slot; its acknowledgement (if any) is attached to
 * the slot, the slot completes when the message is stored, and acknowledgements leave from the head
 * of the queue only: a stored message waits for every earlier one. When the connection is lost the
 * queue is abandoned: those acknowledgements are never sent (the broker redelivers the messages on the
 * next session, and JetStream's duplicate window drops what was already stored).
 */

/** One received message. */
export interface AckSlot {
  /** Set once the message (all its events or DLQ records) is stored. */
  readonly stored: boolean;
}

interface Slot extends AckSlot {
  stored: boolean;
  expectAck: boolean;
  ack?: () => void;
  abandoned: boolean;
  released: boolean;
}

/**
 * @example
 * const acks = new OrderedAcks(() => wakeReaders());
 * const slot = acks.open();
 * acks.attach(slot, () => sendPuback(id));
 * store(msg).then(() => acks.complete(slot));
 */
export class OrderedAcks {
  private queue: Slot[] = [];
  private head = 0;
  private open_ = 0;

  /** @param onRelease called whenever a slot stops counting as outstanding */
  constructor(private readonly onRelease: () => void = () => {}) {}

  /** Messages received and not yet acknowledged (or, if abandoned, not yet stored). */
  get outstanding(): number {
    return this.open_;
  }

  /**
   * Opens the slot of the next message, in arrival order.
   * @param expectAck false for a QoS 0 message: nothing will be attached
   */
  open(expectAck = true): AckSlot {
    const s: Slot = { stored: false, expectAck, abandoned: false, released: false };
    this.queue.push(s);
    this.open_++;
    return s;
  }

  /** Attaches the function that sends the message's acknowledgement (QoS 1); QoS 0 messages have none. */
  attach(slot: AckSlot, ack: () => void): void {
    const s = slot as Slot;
    if (s.abandoned) return;
    s.ack = ack;
    this.flush();
  }

  /** Marks the message stored; sends every acknowledgement that is now due. */
  complete(slot: AckSlot): void {
    const s = slot as Slot;
    s.stored = true;
    if (s.abandoned) this.release(s);
    else this.flush();
  }

  /** The connection is gone: pending acknowledgements are dropped, never sent on a later connection. */
  abandon(): void {
    for (let i = this.head; i < this.queue.length; i++) {
      const s = this.queue[i]!;
      s.abandoned = true;
      s.ack = undefined;
      if (s.stored) this.release(s);
    }
    this.queue = [];
    this.head = 0;
  }

  private release(s: Slot): void {
    if (s.released) return;
    s.released = true;
    this.open_--;
    this.onRelease();
  }

  private flush(): void {
    while (this.head < this.queue.length) {
      const s = this.queue[this.head]!;
      // QoS 0 slots have no ack; a QoS 1 slot waits until its ack is attached.
      if (!s.stored || (s.expectAck && s.ack === undefined)) break;
      this.head++;
      const ack = s.ack;
      s.ack = undefined;
      ack?.();
      this.release(s);
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }

}
