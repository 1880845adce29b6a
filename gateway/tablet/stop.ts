// STOP: one press, no question, for every role; it stops everything (`scope: all`). While a stop
// is active a banner says so on every screen; operators release it there, after confirming the
// floor is safe. A press that does not reach the gateway says so plainly: then only the hardware
// emergency stops help.
import { ApiError, type Api, type StopRecord } from './api.ts';
import { h } from './dom.ts';
import { clock } from './words.ts';

export interface StopOptions {
  api: Api;
  button: HTMLButtonElement;
  banner: HTMLElement;
  canRelease: boolean;
  who: string;
  /** A stop that is new to this page (pressed here or anywhere else). */
  onStop(stop: StopRecord): void;
  /** Whether any stop is active, each time this page's view of it may have changed. */
  onActive?(active: boolean): void;
}

export class StopControl {
  private active: StopRecord[] = [];
  private confirming = false;
  private sending = false;
  private failure: string | undefined;
  private releaseError: string | undefined;

  constructor(private readonly o: StopOptions) {
    o.button.hidden = false;
    o.button.addEventListener('click', () => void this.press());
  }

  /** The active stops as the gateway lists them (GET /v1/stop), read after every (re)connect. */
  async refresh(): Promise<void> {
    try {
      const { stops } = await this.o.api.json<{ stops: StopRecord[] }>('GET', '/v1/stop');
      for (const s of stops) if (!this.active.some((a) => a.id === s.id)) this.o.onStop(s);
      this.active = stops;
      if (stops.length === 0) this.confirming = false;
      this.render();
    } catch {
      // The connection banner covers it; the next reconnect reads again.
    }
  }

  stopped(stop: StopRecord): void {
    if (this.active.some((a) => a.id === stop.id)) return;
    this.active.push(stop);
    this.o.onStop(stop);
    this.render();
  }

  released(): void {
    this.active = [];
    this.confirming = false;
    this.releaseError = undefined;
    this.render();
  }

  private async press(): Promise<void> {
    this.sending = true;
    this.failure = undefined;
    this.render();
    try {
      const stop = await this.o.api.json<StopRecord>('POST', '/v1/stop', { scope: 'all', reason: 'STOP button on the tablet' });
      this.stopped(stop);
    } catch (e) {
      this.failure =
        e instanceof ApiError && e.code === 'NETWORK'
          ? 'STOP did not reach the gateway. Use the emergency stop on the machines, then press STOP again.'
          : `STOP was not confirmed by the gateway (${e instanceof Error ? e.message : String(e)}). Use the emergency stop on the machines.`;
    } finally {
      this.sending = false;
      this.render();
    }
  }

  private async release(): Promise<void> {
    this.releaseError = undefined;
    try {
      await this.o.api.json('POST', '/v1/stop/release', { ack: true, note: `released on the tablet by ${this.o.who}` });
      this.released();
    } catch (e) {
      this.releaseError = `Release failed: ${e instanceof Error ? e.message : String(e)}`;
      this.render();
    }
  }

  private render(): void {
    const { banner, button } = this.o;
    button.textContent = this.sending ? 'STOPPING…' : 'STOP';
    button.classList.toggle('sending', this.sending);
    document.body.classList.toggle('stop-active', this.active.length > 0);
    this.o.onActive?.(this.active.length > 0);
    if (this.failure) {
      banner.hidden = false;
      banner.className = 'banner stop failed';
      banner.replaceChildren(h('strong', null, 'STOP NOT CONFIRMED'), h('span', { class: 'what' }, this.failure));
      return;
    }
    banner.hidden = this.active.length === 0;
    banner.className = 'banner stop';
    if (banner.hidden) return banner.replaceChildren();
    const first = this.active[0]!;
    const children: (HTMLElement | string)[] = [
      h('strong', null, 'STOP ACTIVE'),
      h(
        'span',
        { class: 'what' },
        `Robots and machines are stopped. Pressed by ${first.createdBy} at ${clock(first.createdAt)}: ${first.reason}.${this.active.length > 1 ? ` (${this.active.length} stops)` : ''}`,
      ),
    ];
    if (!this.o.canRelease) children.push(h('span', { class: 'who-releases' }, 'An operator releases it.'));
    else if (!this.confirming) children.push(h('button', { type: 'button', class: 'big release', onclick: () => this.setConfirming(true) }, 'Release STOP…'));
    else {
      children.push(
        h(
          'span',
          { class: 'confirm', role: 'group', 'aria-label': 'Confirm release' },
          h('span', { class: 'confirm-question' }, 'Is the floor safe? Robots stay paused until their missions are resumed.'),
          h('button', { type: 'button', class: 'big release', onclick: () => void this.release() }, 'Yes, release STOP'),
          h('button', { type: 'button', class: 'big secondary', onclick: () => this.setConfirming(false) }, 'Cancel'),
        ),
      );
    }
    if (this.releaseError) children.push(h('span', { class: 'error', role: 'alert' }, this.releaseError));
    banner.replaceChildren(...children);
  }

  private setConfirming(on: boolean): void {
    this.confirming = on;
    this.render();
  }
}
