/**
 * The pages' chart layouts: elkjs in a Web Worker. Its first layout takes most of a second
 * (loading 1.6 MB of elkjs and warming it up), the next ones a quarter: on the page's thread that
 * would freeze the live view meanwhile. Both the API (10 KB) and the worker are fetched on first
 * use, so only the inspector's pages load them. One layout per definition version, kept for the
 * page's life (a version is a content hash: same version, same chart).
 */
import type { ELK } from 'elkjs/lib/elk-api.js';
import { chartGraph } from './chart-graph.js';
import { computeLayout, type ChartLayout } from './layout.js';
import type { Statechart } from './statechart.js';

let elk: Promise<ELK> | undefined;
const layouts = new Map<string, Promise<ChartLayout>>();

/** The chart's layout, computed once per definition version. */
export function layoutChart(chart: Statechart): Promise<ChartLayout> {
  const key = `${chart.root.id}@${chart.version}`;
  let layout = layouts.get(key);
  if (!layout) {
    layout = worker().then((running) => computeLayout(running, chartGraph(chart)));
    // A failed layout is not kept: the next visit tries again.
    layout.catch(() => layouts.delete(key));
    layouts.set(key, layout);
  }
  return layout;
}

function worker(): Promise<ELK> {
  elk ??= Promise.all([import('elkjs/lib/elk-api.js'), import('elkjs/lib/elk-worker.min.js?url')]).then(
    ([{ default: Elk }, { default: workerUrl }]) => new Elk({ workerUrl }),
  );
  return elk;
}
