/** URLs as logs and records show them: a password given in a URL is never written anywhere. */

/** `url` with its password replaced by `***`; a text that is no URL is returned as it is. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.href;
  } catch {
    return url;
  }
}
