/**
 * Laying a chart out with elkjs, and reading its answer into what the SVG draws. elkjs (1.6 MB)
 * is imported on first use, so only the inspector's pages load it; one layout per definition
 * version is computed once per page load (a version is a content hash: same version, same chart).
 */
import type { ELK, ElkNode } from 'elkjs/lib/elk-api.js';
import { chartGraph, elkGraph, type ChartGraph } from './chart-graph.js';
import type { Statechart } from './statechart.js';

export interface Point {
  x: number;
  y: number;
}

export interface Box extends Point {
  width: number;
  height: number;
}

export interface EdgeRoute {
  /** Start, bends, end: one polyline (orthogonal routing). */
  points: Point[];
  label?: Box;
}

export interface ChartLayout {
  graph: ChartGraph;
  width: number;
  height: number;
  /** By box id, in the root's frame. */
  boxes: ReadonlyMap<string, Box>;
  /** By edge id, in the root's frame. */
  routes: ReadonlyMap<string, EdgeRoute>;
}

const layouts = new Map<string, Promise<ChartLayout>>();

/** The chart's layout, computed once per definition version. */
export function layoutChart(chart: Statechart): Promise<ChartLayout> {
  const key = `${chart.root.id}@${chart.version}`;
  let layout = layouts.get(key);
  if (!layout) {
    layout = computeLayout(chartGraph(chart));
    // A failed layout is not kept: the next visit tries again.
    layout.catch(() => layouts.delete(key));
    layouts.set(key, layout);
  }
  return layout;
}

export async function computeLayout(graph: ChartGraph): Promise<ChartLayout> {
  // elkjs is CommonJS: Vite and Node both hand its module.exports, the constructor, over as
  // `default`; its typings say so only to bundler resolution (NodeNext, the tests', nests it again).
  const loaded: unknown = await import('elkjs/lib/elk.bundled.js');
  const Elk = (loaded as { default: new () => ELK }).default;
  // The bundled build lays out on this thread: a chart of tens of states takes milliseconds.
  const result = await new Elk().layout(elkGraph(graph));
  return readLayout(graph, result);
}

/** ELK's answer (root-frame coordinates, as elkGraph asks) as boxes and routes by id. */
export function readLayout(graph: ChartGraph, result: ElkNode): ChartLayout {
  const boxes = new Map<string, Box>();
  const routes = new Map<string, EdgeRoute>();
  const visit = (node: ElkNode) => {
    boxes.set(node.id, { x: node.x ?? 0, y: node.y ?? 0, width: node.width ?? 0, height: node.height ?? 0 });
    for (const edge of node.edges ?? []) {
      const points = (edge.sections ?? []).flatMap((section) => [section.startPoint, ...(section.bendPoints ?? []), section.endPoint]);
      const label = edge.labels?.[0];
      routes.set(edge.id, {
        points,
        ...(label ? { label: { x: label.x ?? 0, y: label.y ?? 0, width: label.width ?? 0, height: label.height ?? 0 } } : {}),
      });
    }
    for (const child of node.children ?? []) visit(child);
  };
  visit(result);
  return { graph, width: result.width ?? 0, height: result.height ?? 0, boxes, routes };
}
