// Plain counters kept on the hot path; metrics and the `$stats` channel read them.

/** Counters of one server. Increments are plain integer additions: cheap enough for every frame. */
export class Stats {
  connections = 0;
  connectionsTotal = 0;
  messagesIn = 0;
  messagesOut = 0;
  bytesIn = 0;
  bytesOut = 0;
  slowConsumers = 0;
  /** Fan-out writes made by the write helper thread (see transport/write-helper.ts). */
  helperWrites = 0;
  readonly messagesInByType = new Map<string, number>();
  readonly messagesOutByType = new Map<string, number>();
  readonly errorsByCode = new Map<string, number>();
  readonly closesByCode = new Map<number, number>();

  countIn(type: string, bytes: number): void {
    this.messagesIn++;
    this.bytesIn += bytes;
    this.messagesInByType.set(type, (this.messagesInByType.get(type) ?? 0) + 1);
  }

  /** `count` copies of a `type` message went out (totals are counted per write by the transport). */
  countOutType(type: string, count: number): void {
    this.messagesOutByType.set(type, (this.messagesOutByType.get(type) ?? 0) + count);
  }

  countError(code: string): void {
    this.errorsByCode.set(code, (this.errorsByCode.get(code) ?? 0) + 1);
  }

  countClose(code: number): void {
    this.closesByCode.set(code, (this.closesByCode.get(code) ?? 0) + 1);
  }
}
