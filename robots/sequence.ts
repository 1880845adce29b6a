// The numbering a device puts on its messages (a VDA 5050 headerId per topic, a machine state's
// seq), and the rule the gateway takes them by. A message is taken when its number is above the
// last one taken and at most `maxJump` above it; the first message, and the first after a reset,
// is taken whatever its number. Anything else is dropped and NOT adopted:
// - a number at or below the last (a redelivery, an old retained message, or someone replaying or
//   forging a device's messages with small numbers) cannot take the device back in time;
// - a number far above the last cannot make the real device's next messages look old: adopting
//   one forged `seq: 1e9` used to mute the real device until it reconnected.
// The masters reset the guard where a device's numbering may rightly start again: its connection
// message (it may have restarted and counts from the start), the gateway's own reconnect to the
// broker, and a device put offline because nothing of it was taken for its silence time — so a
// device whose numbering jumped for a reason the gateway missed is muted for that long at most.
export type SequenceVerdict = 'taken' | 'backwards' | 'jump';

export class SequenceGuard {
  private last: number | undefined;

  constructor(readonly maxJump: number) {}

  /** Takes `n` (it becomes the last) or says why not. */
  take(n: number): SequenceVerdict {
    const last = this.last;
    if (last !== undefined) {
      if (n <= last) return 'backwards';
      if (n - last > this.maxJump) return 'jump';
    }
    this.last = n;
    return 'taken';
  }

  /** The next number is taken whatever it is. */
  reset(): void {
    this.last = undefined;
  }

  /** The last number taken, if any since the last reset. */
  get lastTaken(): number | undefined {
    return this.last;
  }
}
