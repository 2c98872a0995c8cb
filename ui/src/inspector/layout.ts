/**
 * Laying a chart out with elkjs, and reading its answer into what the SVG draws. Which elkjs runs
 * it is the caller's: the pages use one in a Web Worker (elk-worker.ts), the tests the bundled one.
 */
import type { ELK, ElkNode } from 'elkjs/lib/elk-api.js';
import { elkGraph, type ChartGraph } from './chart-graph.js';

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

export async function computeLayout(elk: ELK, graph: ChartGraph): Promise<ChartLayout> {
  return readLayout(graph, await elk.layout(elkGraph(graph)));
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
