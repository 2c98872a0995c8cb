/** Addresses of the inspector's pages, for links from anywhere in the monitor. */

/** `/actors/<id>`, or `/actors/<id>?at=<offset>` for one past change of it. */
export function actorPath(id: string, at?: string): string {
  return `/actors/${encodeURIComponent(id)}${at === undefined ? '' : `?at=${encodeURIComponent(at)}`}`;
}
