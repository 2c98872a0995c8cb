/** JSON files named on the command line (`--tokens`, `--probes`). */
import { readFileSync } from 'node:fs';

/** The parsed content of `path`; throws an Error naming the file (`what`, e.g. "tokens file") and why it cannot be read. */
export function readJsonFile(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`cannot read ${what} ${path}: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`${what} ${path} is not JSON: ${(error as Error).message}`);
  }
}
