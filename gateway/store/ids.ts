// Time-sortable ids (ULID layout: 48-bit millisecond time + 80 random bits, Crockford base32),
// so ordering rows by id orders them by creation and an id can serve as a paging cursor.
import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const TIME_CHARS = 10;
const RANDOM_CHARS = 16;

let lastTime = -1;
let lastRandom: number[] = [];

function randomDigits(): number[] {
  const bytes = randomBytes(RANDOM_CHARS);
  return Array.from(bytes, (b) => b & 31);
}

/** Adds one to the random part; false when it is all 'Z' already. */
function increment(digits: number[]): boolean {
  for (let i = digits.length - 1; i >= 0; i--) {
    if (digits[i]! < 31) {
      digits[i]!++;
      return true;
    }
    digits[i] = 0;
  }
  return false;
}

function encodeTime(ms: number): string {
  let out = '';
  for (let i = 0; i < TIME_CHARS; i++) {
    out = ALPHABET[ms % 32]! + out;
    ms = Math.floor(ms / 32);
  }
  return out;
}

/**
 * `prefix` + 26 characters. Within one process ids strictly increase even when several are
 * made in the same millisecond or the wall clock steps back.
 */
export function newId(prefix: string): string {
  const now = Math.max(Date.now(), lastTime);
  // Same millisecond: count up from the previous id. Running out of 80 bits in one
  // millisecond cannot happen in practice, so a fresh draw there is fine.
  if (now > lastTime || !increment(lastRandom)) lastRandom = randomDigits();
  lastTime = now;
  return prefix + encodeTime(now) + lastRandom.map((d) => ALPHABET[d]).join('');
}
