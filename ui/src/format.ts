/** How times and values read on the page. */
import { createSignal } from 'solid-js';

/** Clock times read in the browser's zone or in UTC; either way the zone is named. */
export type TimeZoneChoice = 'local' | 'utc';

const ZONE_KEY = 'statehub.timeZone';
const [zone, setZone] = createSignal<TimeZoneChoice>(localStorage.getItem(ZONE_KEY) === 'utc' ? 'utc' : 'local');

export const timeZone = zone;

export function setTimeZone(choice: TimeZoneChoice): void {
  localStorage.setItem(ZONE_KEY, choice);
  setZone(choice);
}

/** "3 s ago", "5 min ago", "2 h ago". */
export function ago(iso: string | undefined, now = Date.now()): string {
  if (!iso) return '';
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  return hours < 48 ? `${hours} h ago` : `${Math.round(hours / 24)} d ago`;
}

/** "14:02:37.236 GMT+1" (or "… UTC"), in the chosen zone. */
export function clock(iso: string): string {
  const parts = timeParts(iso);
  return parts ? `${parts.hour}:${parts.minute}:${parts.second}.${parts.fractionalSecond} ${parts.timeZoneName}` : iso;
}

/** "2026-11-30 14:02:37.236 GMT+1" (or "… UTC"), in the chosen zone. */
export function dateTime(iso: string): string {
  const parts = timeParts(iso);
  return parts ? `${parts.year}-${parts.month}-${parts.day} ${clock(iso)}` : iso;
}

const formats = new Map<TimeZoneChoice, Intl.DateTimeFormat>();

function timeParts(iso: string): Partial<Record<Intl.DateTimeFormatPartTypes, string>> | undefined {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return undefined;
  const choice = zone();
  let format = formats.get(choice);
  if (!format) {
    // en-US for the digits and the zone's short name ("GMT+5:30", "EST", "UTC"); the layout is ours.
    format = new Intl.DateTimeFormat('en-US', {
      ...(choice === 'utc' ? { timeZone: 'UTC' } : {}),
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      fractionalSecondDigits: 3,
      hourCycle: 'h23',
      timeZoneName: 'short',
    });
    formats.set(choice, format);
  }
  return Object.fromEntries(format.formatToParts(date).map((part) => [part.type, part.value]));
}

/** JSON for people: indented, cut when huge so a big payload cannot freeze the page. */
export function prettyJson(value: unknown, limit = 20_000): string {
  const text = JSON.stringify(value, null, 2) ?? 'undefined';
  return text.length > limit ? `${text.slice(0, limit)}\n… (${text.length - limit} more characters)` : text;
}

export function plural(count: number, word: string): string {
  return `${count.toLocaleString()} ${word}${count === 1 ? '' : 's'}`;
}
