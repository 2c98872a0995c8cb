/** How times and values read on the page. */

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

/** "14:02:37.236" */
export function clock(iso: string): string {
  return iso.slice(11, 23);
}

/** JSON for people: indented, cut when huge so a big payload cannot freeze the page. */
export function prettyJson(value: unknown, limit = 20_000): string {
  const text = JSON.stringify(value, null, 2) ?? 'undefined';
  return text.length > limit ? `${text.slice(0, limit)}\n… (${text.length - limit} more characters)` : text;
}

export function plural(count: number, word: string): string {
  return `${count.toLocaleString()} ${word}${count === 1 ? '' : 's'}`;
}
