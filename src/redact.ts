/** URLs as messages and logs show them: a password in one (redis://:secret@host, https://user:secret@proxy) is not shown. */

/** `url` with its password replaced by `***`; `url` itself when it is not a URL. */
export function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.href;
  } catch {
    return url;
  }
}
