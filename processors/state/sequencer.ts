/**
 * Per-device ordering and de-duplication (CONTRACT section 6): events with a `seq` are applied in
 * seq order from a bounded reorder buffer; a gap that does not fill within the bound (count or
 * processing time) is skipped and reported; a duplicate (same `ce-id`, or a `seq` already applied) is
 * dropped. Events without `seq` are applied as they come (the watermark handles their disorder).
 *
 * Pure and synchronous; the caller supplies processing time, so it is replayable and checkpointable.
 */
import type { InputEvent, ProcessorItem } from "./events.ts";

export interface SequencerOptions {
  /** Events held per device waiting for a missing seq, at most. */
  reorderBuffer: number;
  /** How long (processing time, ms) an event may wait for a missing seq. */
  reorderTimeout: number;
  /** Recent `ce-id`s remembered per device for de-duplication (ids of the form `<device>:s<seq>` are covered by seq). */
  dedupeIds: number;
  /** Skipped ranges remembered per device, so a straggler that fills one is still applied. */
  missingRanges: number;
}

export const DEFAULT_SEQUENCER_OPTIONS: SequencerOptions = { reorderBuffer: 1000, reorderTimeout: 5000, dedupeIds: 128, missingRanges: 32 };

/** The checkpointed form. */
export interface SequencerState<D = unknown> {
  next?: number;
  missing: Array<[number, number]>;
  buffer: Array<{ at: number; ev: InputEvent<D> }>;
  ids: string[];
}

export class Sequencer<D = unknown> {
  private next: number | undefined;
  private missing: Array<[number, number]>;
  private readonly buffer = new Map<number, { at: number; ev: InputEvent<D> }>();
  private readonly ids: string[];
  private readonly idSet: Set<string>;

  constructor(
    readonly device: string,
    private readonly opts: SequencerOptions = DEFAULT_SEQUENCER_OPTIONS,
    state?: SequencerState<D>,
  ) {
    this.next = state?.next;
    this.missing = state?.missing.map(([a, b]) => [a, b] as [number, number]) ?? [];
    for (const b of state?.buffer ?? []) this.buffer.set(b.ev.seq!, b);
    this.ids = state?.ids.slice() ?? [];
    this.idSet = new Set(this.ids);
  }

  /** Events waiting for a missing seq. */
  get pending(): number {
    return this.buffer.size;
  }

  /** Offers one event; returns what became applicable, in order (possibly nothing). */
  offer(ev: InputEvent<D>, now: number, out: ProcessorItem<D>[] = []): ProcessorItem<D>[] {
    if (this.idSet.size > 0 && this.idSet.has(this.idKey(ev.id))) {
      out.push({ kind: "duplicate", ev });
      return out;
    }
    const seq = ev.seq;
    if (seq === undefined) {
      this.apply(ev, out);
      return out;
    }
    if (this.next === undefined) {
      // Earlier seqs may still arrive out of order: remember them as fillable, not as a gap.
      if (seq > 0) this.addMissing(0, seq - 1);
      this.next = seq;
    }
    if (seq < this.next) {
      if (this.takeMissing(seq)) this.apply(ev, out);
      else out.push({ kind: "duplicate", ev });
      return out;
    }
    if (seq === this.next) {
      this.apply(ev, out);
      this.next = seq + 1;
      this.drain(out);
      return out;
    }
    if (this.buffer.has(seq)) {
      out.push({ kind: "duplicate", ev });
      return out;
    }
    this.buffer.set(seq, { at: now, ev });
    if (this.buffer.size > this.opts.reorderBuffer) this.skipGap(out);
    return out;
  }

  /** Skips gaps whose followers have waited `reorderTimeout` or longer. */
  expire(now: number, out: ProcessorItem<D>[] = []): ProcessorItem<D>[] {
    while (this.buffer.size > 0) {
      let oldest = Infinity;
      for (const b of this.buffer.values()) if (b.at < oldest) oldest = b.at;
      if (now - oldest < this.opts.reorderTimeout) break;
      this.skipGap(out);
    }
    return out;
  }

  /** Applies everything buffered, reporting the gaps (end of input). */
  flush(out: ProcessorItem<D>[] = []): ProcessorItem<D>[] {
    while (this.buffer.size > 0) this.skipGap(out);
    return out;
  }

  /**
   * Un-applies an event whose processing failed after it left here (it went to the DLQ as
   * `processing_failed`): a later copy of it, such as a DLQ redrive, is then applied rather than
   * dropped as a duplicate. Its seq becomes a missing range (so at most `missingRanges` of them are
   * remembered); an event without one loses its remembered id.
   */
  forget(ev: InputEvent<D>): void {
    const seq = ev.seq;
    if (seq !== undefined && this.next !== undefined && seq < this.next && !this.buffer.has(seq)) {
      if (this.missingIndex(seq) < 0) this.addMissing(seq, seq);
      if (this.isSeqId(ev.id, seq)) return;
    }
    const key = this.idKey(ev.id);
    if (!this.idSet.delete(key)) return;
    const i = this.ids.lastIndexOf(key);
    if (i >= 0) this.ids.splice(i, 1);
  }

  toJSON(): SequencerState<D> {
    return {
      next: this.next,
      missing: this.missing,
      // `raw` is left for the caller to encode (it holds bytes and headers).
      buffer: [...this.buffer.values()].map(({ at, ev }) => ({ at, ev })),
      ids: this.ids,
    };
  }

  private skipGap(out: ProcessorItem<D>[]): void {
    let min = Infinity;
    for (const s of this.buffer.keys()) if (s < min) min = s;
    const from = this.next!;
    const to = min - 1;
    this.addMissing(from, to);
    out.push({
      kind: "gap",
      gap: { device: this.device, from, to, missing: to - from + 1 },
      time: this.buffer.get(min)!.ev.time,
    });
    this.next = min;
    this.drain(out);
  }

  private drain(out: ProcessorItem<D>[]): void {
    for (;;) {
      const b = this.buffer.get(this.next!);
      if (!b) return;
      this.buffer.delete(this.next!);
      this.apply(b.ev, out);
      this.next! += 1;
    }
  }

  private apply(ev: InputEvent<D>, out: ProcessorItem<D>[]): void {
    if (ev.seq === undefined || !this.isSeqId(ev.id, ev.seq)) {
      // A fresh copy: the id is a slice of the message's whole header block, which it would keep alive.
      const key = Buffer.from(this.idKey(ev.id)).toString();
      this.ids.push(key);
      this.idSet.add(key);
      if (this.ids.length > this.opts.dedupeIds) this.idSet.delete(this.ids.shift()!);
    }
    out.push({ kind: "event", ev });
  }

  /** True for the id `<device>:s<seq>` (checked without building strings: this runs per event). */
  private isSeqId(id: string, seq: number): boolean {
    const d = this.device.length;
    if (id.length < d + 3 || id.charCodeAt(d) !== 58 /* : */ || id.charCodeAt(d + 1) !== 115 /* s */ || !id.startsWith(this.device)) return false;
    let n = 0;
    for (let i = d + 2; i < id.length; i++) {
      const c = id.charCodeAt(i) - 48;
      if (c < 0 || c > 9 || (c === 0 && i === d + 2 && id.length > d + 3)) return false;
      n = n * 10 + c;
    }
    return n === seq;
  }

  /** Ids are kept without the `<device>` prefix: shorter checkpoints. */
  private idKey(id: string): string {
    return id.startsWith(this.device) ? id.slice(this.device.length) : id;
  }

  private addMissing(from: number, to: number): void {
    this.missing.push([from, to]);
    if (this.missing.length > this.opts.missingRanges) this.missing.shift();
  }

  /** The missing range holding `seq`, or -1. */
  private missingIndex(seq: number): number {
    return this.missing.findIndex(([a, b]) => seq >= a && seq <= b);
  }

  private takeMissing(seq: number): boolean {
    const i = this.missingIndex(seq);
    if (i < 0) return false;
    const [a, b] = this.missing[i]!;
    const parts: Array<[number, number]> = [];
    if (a <= seq - 1) parts.push([a, seq - 1]);
    if (seq + 1 <= b) parts.push([seq + 1, b]);
    this.missing.splice(i, 1, ...parts);
    return true;
  }
}
