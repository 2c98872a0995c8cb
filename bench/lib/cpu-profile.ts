/**
 * Reads a V8 .cpuprofile (what `node --cpu-prof` and the inspector's Profiler.stop write) into
 * where the time went: self time by function and by module (npm package, project file or Node
 * internal), and inclusive time by function (each function counted once per stack).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface TimeShare {
  name: string;
  module: string;
  ms: number;
  /** Of the profile's whole duration (idle included). */
  share: number;
}

export interface ProfileSummary {
  durationMs: number;
  /** Samples in `(idle)`: the event loop waiting (for Redis, sockets, timers). */
  idleMs: number;
  /** Samples in `(garbage collector)`. */
  gcMs: number;
  selfByFunction: TimeShare[];
  selfByModule: TimeShare[];
  /** Inclusive time of functions (each counted once per stack). */
  inclusiveByFunction: TimeShare[];
  /** The same, for the project's own functions only (not node_modules, not Node). */
  inclusiveProject: TimeShare[];
  /** The same, for functions of npm packages only. */
  inclusivePackages: TimeShare[];
}

const ROOT_URL = new URL('../..', import.meta.url).href;
const ROOT_PATH = fileURLToPath(ROOT_URL);

/** Where a frame's code lives: an npm package, a project file, a Node internal, or V8 itself. */
export function moduleOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const inModules = url.lastIndexOf('/node_modules/');
  if (inModules >= 0) {
    const rest = url.slice(inModules + '/node_modules/'.length).split('/');
    return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : (rest[0] ?? url);
  }
  if (url.startsWith('node:')) return url;
  if (url.startsWith(ROOT_URL)) return url.slice(ROOT_URL.length);
  if (url.startsWith(ROOT_PATH)) return url.slice(ROOT_PATH.length);
  return url;
}

function frameName(frame: CallFrame): string {
  const name = frame.functionName || '(anonymous)';
  if (!frame.url) return name;
  const file = moduleOf(frame);
  const short = frame.url.includes('/node_modules/') ? `${file}/${frame.url.slice(frame.url.lastIndexOf('/') + 1)}` : file;
  return `${name} ${short}:${frame.lineNumber + 1}`;
}

export function readProfile(path: string): CpuProfile {
  return JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
}

export function summarizeProfile(profile: CpuProfile, top = 15): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  // Each sample lasts until the next one (the last until the profile's end).
  const self = new Map<number, number>();
  let at = profile.startTime;
  const stamps: number[] = [];
  for (const delta of profile.timeDeltas) stamps.push((at += delta));
  for (let index = 0; index < profile.samples.length; index++) {
    const start = stamps[index] ?? profile.startTime;
    const end = stamps[index + 1] ?? profile.endTime;
    const id = profile.samples[index] as number;
    self.set(id, (self.get(id) ?? 0) + Math.max(0, end - start) / 1000);
  }
  const durationMs = (profile.endTime - profile.startTime) / 1000;

  const selfByFunction = new Map<string, TimeShare>();
  const selfByModule = new Map<string, TimeShare>();
  let idleMs = 0;
  let gcMs = 0;
  for (const [id, ms] of self) {
    const frame = (byId.get(id) as ProfileNode).callFrame;
    if (frame.functionName === '(idle)') idleMs += ms;
    if (frame.functionName === '(garbage collector)') gcMs += ms;
    add(selfByFunction, frameName(frame), moduleOf(frame), ms, durationMs);
    add(selfByModule, moduleOf(frame), moduleOf(frame), ms, durationMs);
  }

  // Inclusive: a subtree's time goes to every distinct function on the path to it, once.
  const total = new Map<number, number>();
  const inclusive = new Map<string, TimeShare>();
  const onPath = new Map<string, number>();
  const projectFiles = new Set<string>();
  for (const node of profile.nodes) {
    const { url } = node.callFrame;
    if ((url.startsWith(ROOT_URL) || url.startsWith(ROOT_PATH)) && !url.includes('/node_modules/')) projectFiles.add(moduleOf(node.callFrame));
  }
  const root = profile.nodes[0];
  if (root) {
    const stack: Array<{ node: ProfileNode; entered: boolean }> = [{ node: root, entered: false }];
    while (stack.length > 0) {
      const item = stack.pop() as { node: ProfileNode; entered: boolean };
      const key = frameName(item.node.callFrame);
      if (!item.entered) {
        item.entered = true;
        stack.push(item);
        onPath.set(key, (onPath.get(key) ?? 0) + 1);
        for (const child of item.node.children ?? []) stack.push({ node: byId.get(child) as ProfileNode, entered: false });
        continue;
      }
      let sum = self.get(item.node.id) ?? 0;
      for (const child of item.node.children ?? []) sum += total.get(child) ?? 0;
      total.set(item.node.id, sum);
      const count = (onPath.get(key) ?? 1) - 1;
      onPath.set(key, count);
      if (count === 0 && item.node.callFrame.url) add(inclusive, key, moduleOf(item.node.callFrame), sum, durationMs);
    }
  }

  const sorted = (map: Map<string, TimeShare>, keep: (entry: TimeShare) => boolean = () => true) =>
    [...map.values()]
      .filter(keep)
      .sort((a, b) => b.ms - a.ms)
      .slice(0, top);
  const isProject = (entry: TimeShare) => projectFiles.has(entry.module);
  return {
    durationMs,
    idleMs,
    gcMs,
    selfByFunction: sorted(selfByFunction),
    selfByModule: sorted(selfByModule),
    inclusiveByFunction: sorted(inclusive),
    inclusiveProject: sorted(inclusive, isProject),
    inclusivePackages: sorted(inclusive, (entry) => !isProject(entry) && !entry.module.startsWith('node:') && !entry.module.startsWith('(')),
  };
}

function add(map: Map<string, TimeShare>, name: string, module: string, ms: number, durationMs: number): void {
  const entry = map.get(name) ?? { name, module, ms: 0, share: 0 };
  entry.ms += ms;
  entry.share = durationMs > 0 ? entry.ms / durationMs : 0;
  map.set(name, entry);
}
