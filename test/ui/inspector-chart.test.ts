/**
 * A definition as boxes and arrows (what the chart draws and what elkjs lays out), and the layout
 * elkjs makes of it: every state a box inside its parent's, every transition on an arrow between
 * its states or written inside the state it stays in, and every arrow routed from box to box.
 */
import { describe, expect, it } from 'vitest';
import { chartGraph, elkGraph, type ChartBox } from '../../ui/src/inspector/chart-graph.js';
import { computeLayout, type Box, type Point } from '../../ui/src/inspector/layout.js';
import { bundledElk, statechartOf } from './inspector-support.js';

const KINDS = ['job', 'connector', 'worker', 'machine'] as const;

function boxes(root: ChartBox): Map<string, { box: ChartBox; parent: string }> {
  const all = new Map<string, { box: ChartBox; parent: string }>();
  const visit = (box: ChartBox) => {
    for (const child of box.children) {
      all.set(child.id, { box: child, parent: box.id });
      visit(child);
    }
  };
  visit(root);
  return all;
}

function inside(inner: Box, outer: Box): boolean {
  return inner.x >= outer.x && inner.y >= outer.y && inner.x + inner.width <= outer.x + outer.width + 0.01 && inner.y + inner.height <= outer.y + outer.height + 0.01;
}

/** Distance from a point to a box's outline (0 on it). */
function offOutline(point: Point, box: Box): number {
  const dx = Math.max(box.x - point.x, 0, point.x - (box.x + box.width));
  const dy = Math.max(box.y - point.y, 0, point.y - (box.y + box.height));
  const outside = Math.hypot(dx, dy);
  if (outside > 0) return outside;
  return Math.min(point.x - box.x, box.x + box.width - point.x, point.y - box.y, box.y + box.height - point.y);
}

describe('chartGraph', () => {
  it.each(KINDS)('%s: one box per state, nested as the states are, and each transition drawn once per target or inside its state', (kind) => {
    const chart = statechartOf(kind);
    const graph = chartGraph(chart);
    const all = boxes(graph.root);
    for (const state of chart.states.values()) {
      if (state.id === chart.root.id) continue;
      expect(all.get(state.id)?.parent, state.id).toBe(chart.parent.get(state.id));
      expect(all.get(state.id)?.box.title).toBe(state.key);
    }
    for (const transition of chart.transitions) {
      const source = transition.source === chart.root.id ? `${chart.root.id}#any` : transition.source;
      if (transition.targets.length === 0) {
        expect(all.get(source)?.box.lines.filter((line) => line.transition === transition.id), transition.id).toHaveLength(1);
        continue;
      }
      for (const target of transition.targets) {
        const edges = graph.edges.filter((edge) => edge.source === source && edge.target === target && edge.lines.some((line) => line.transition === transition.id));
        expect(edges, `${transition.id} -> ${target}`).toHaveLength(1);
      }
    }
    // Each compound state (and the machine) points at its initial child.
    for (const state of chart.states.values()) {
      if (state.initial === undefined) continue;
      expect(graph.edges.some((edge) => edge.source === `${state.id}#initial` && edge.target === `${state.id}.${state.initial}`), state.id).toBe(true);
    }
  });

  it('labels transitions with their events, guards and delays, several to an arrow between the same states', () => {
    const graph = chartGraph(statechartOf('job'));
    const texts = (from: string, to: string) => graph.edges.find((edge) => edge.id === `job.${from}->job.${to}`)?.lines.map((line) => line.text);
    expect(texts('running', 'attemptFailed')).toEqual(['FAIL', 'after jobTimeout']);
    expect(texts('running', 'failed')).toEqual(['FAIL [isPermanent]']);
    expect(texts('attemptFailed', 'retrying')).toEqual(['always [hasAttemptsLeft]']);
    expect(boxes(graph.root).get('job.running')?.box.lines.map((line) => line.text)).toEqual(['PROGRESS']);
  });

  it('puts the machine’s own transitions on an "any state" box, and an edge in the box holding both its ends', () => {
    const graph = chartGraph(statechartOf('connector'));
    expect(graph.edges.find((edge) => edge.id === 'connector#any->connector.offline')?.lines.map((line) => line.text)).toEqual(['WORKER_LOST']);
    const container = (id: string) => graph.edges.find((edge) => edge.id === id)?.container;
    expect(container('connector.idle.ready->connector.idle.checking')).toBe('connector.idle');
    expect(container('connector.idle#initial->connector.idle.ready')).toBe('connector.idle');
    expect(container('connector.idle.checking->connector.error')).toBe('connector');
    expect(container('connector.active->connector.idle')).toBe('connector');
    const elk = elkGraph(graph);
    const idle = elk.children?.find((child) => child.id === 'connector.idle');
    expect(idle?.edges?.map((edge) => edge.id).sort()).toEqual(['connector.idle#initial->connector.idle.ready', 'connector.idle.checking->connector.idle.ready', 'connector.idle.ready->connector.idle.checking']);
    expect(elk.layoutOptions?.['elk.hierarchyHandling']).toBe('INCLUDE_CHILDREN');
  });
});

describe('computeLayout (elkjs)', () => {
  it.each(KINDS)('%s: children lie inside their parents, arrows run from the outline of one box to the outline of the other, labels get room', async (kind) => {
    const layout = await computeLayout(await bundledElk(), chartGraph(statechartOf(kind)));
    const all = boxes(layout.graph.root);
    for (const [id, { parent }] of all) {
      const box = layout.boxes.get(id);
      const outer = layout.boxes.get(parent);
      expect(box && box.width > 0 && box.height > 0, id).toBe(true);
      if (parent !== layout.graph.root.id) expect(inside(box as Box, outer as Box), `${id} inside ${parent}`).toBe(true);
      expect(inside(box as Box, { x: 0, y: 0, width: layout.width, height: layout.height }), `${id} on the canvas`).toBe(true);
    }
    for (const edge of layout.graph.edges) {
      const route = layout.routes.get(edge.id);
      expect(route?.points.length, edge.id).toBeGreaterThanOrEqual(2);
      const points = route?.points ?? [];
      expect(offOutline(points[0] as Point, layout.boxes.get(edge.source) as Box), `${edge.id} starts on ${edge.source}`).toBeLessThan(2);
      expect(offOutline(points.at(-1) as Point, layout.boxes.get(edge.target) as Box), `${edge.id} ends on ${edge.target}`).toBeLessThan(2);
      if (edge.lines.length > 0) expect(route?.label?.height, edge.id).toBeGreaterThan(0);
    }
  });
});
