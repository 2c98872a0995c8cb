/**
 * A statechart as boxes and arrows, before layout: what is drawn and how big each piece is, and
 * the same as the ELK graph elkjs lays out. Kept apart from elkjs and from Solid so the tests can
 * check it (every state a box inside its parent's, every transition on an arrow or inside its
 * state) without a browser.
 *
 * - A state is a box titled with its key; an atomic state lists its invoked actors and the
 *   transitions that stay in it (`PROGRESS`), a compound state does so under its title.
 * - Transitions between the same two states share one arrow, one label line each.
 * - A compound state (and the machine) marks its initial child with a dot and an arrow.
 * - Transitions of the machine itself (taken from whatever state) leave an "any state" box.
 */
import type { ElkExtendedEdge, ElkNode } from 'elkjs/lib/elk-api.js';
import type { StateDefinition } from '../../../src/protocol/machine-definition.js';
import type { ChartTransition, Statechart } from './statechart.js';

export interface ChartLine {
  text: string;
  /** The transition the line names, if it names one (not for `invoke:` lines). */
  transition?: string;
}

export interface ChartBox {
  /** A state's id, or `<state id>#initial`, `<root id>#any` for the markers. */
  id: string;
  kind: 'state' | 'initial' | 'any';
  /** For `state` boxes. */
  state?: StateDefinition;
  title: string;
  /** Drawn under the title. */
  lines: ChartLine[];
  children: ChartBox[];
  /** Leaves only: a compound box is as big as what it holds. */
  width: number;
  height: number;
}

export interface ChartEdge {
  /** `<from box id>-><to box id>`. */
  id: string;
  source: string;
  target: string;
  /** One label line each, in definition order. */
  lines: ChartLine[];
  /** The box both ends lie in (ELK's containment rule): where the edge is declared. */
  container: string;
}

export interface ChartGraph {
  root: ChartBox;
  edges: ChartEdge[];
}

/**
 * What one change lit on the chart: its transitions and the arrows they are drawn on, each once.
 * A change with several explanations (no event known) counts once on an arrow carrying more than
 * one of them, so an arrow's number is the number of changes that went along it.
 */
export function takenMarks(graph: ChartGraph, transitions: readonly string[]): string[] {
  const wanted = new Set(transitions);
  const arrows = graph.edges.filter((edge) => edge.lines.some((line) => line.transition !== undefined && wanted.has(line.transition))).map((edge) => edge.id);
  return [...wanted, ...arrows];
}

/** Text metrics of the chart's monospace font (styles: `.chart-svg`), so sizes need no DOM. */
export const CHART_TEXT = { charWidth: 6.8, lineHeight: 15, titleCharWidth: 7.6, titleHeight: 24, padding: 8 } as const;

const INITIAL_SIZE = 12;

export function chartGraph(chart: Statechart): ChartGraph {
  const rootId = chart.root.id;
  const anyId = `${rootId}#any`;
  const parentOf = new Map<string, string>(chart.parent);
  const edges = new Map<string, ChartEdge>();
  const addEdge = (source: string, target: string, line: ChartLine | undefined) => {
    const id = `${source}->${target}`;
    let edge = edges.get(id);
    if (!edge) edges.set(id, (edge = { id, source, target, lines: [], container: container(source, target) }));
    if (line) edge.lines.push(line);
  };
  const container = (source: string, target: string): string => {
    if (source !== target && within(target, source)) return source;
    if (source !== target && within(source, target)) return target;
    for (let current = parentOf.get(source); current !== undefined; current = parentOf.get(current)) {
      if (within(target, current)) return current;
    }
    return rootId;
  };
  const within = (id: string, ancestor: string): boolean => {
    for (let current: string | undefined = id; current !== undefined; current = parentOf.get(current)) if (current === ancestor) return true;
    return false;
  };

  const box = (state: StateDefinition): ChartBox => {
    const lines: ChartLine[] = [
      ...state.invoke.map((source) => ({ text: `invoke: ${source}` })),
      ...(chart.outOf.get(state.id) ?? []).filter((transition) => transition.targets.length === 0).map(lineOf),
    ];
    const children = state.states.map(box);
    if (state.initial !== undefined) {
      const marker = `${state.id}#initial`;
      parentOf.set(marker, state.id);
      children.unshift({ id: marker, kind: 'initial', title: '', lines: [], children: [], width: INITIAL_SIZE, height: INITIAL_SIZE });
    }
    return { id: state.id, kind: 'state', state, title: state.key, lines, children, ...leafSize(state.key, lines) };
  };
  const root = box(chart.root);
  // The machine's own transitions and its lines (stays) belong to no state box: an "any state" box holds them.
  const rootTransitions = (chart.outOf.get(rootId) ?? []).filter((transition) => transition.targets.length > 0);
  if (rootTransitions.length > 0 || root.lines.length > 0) {
    parentOf.set(anyId, rootId);
    // First in the model order (after the initial dot), so its arrows run forwards, into the states.
    const first = chart.root.initial === undefined ? 0 : 1;
    root.children.splice(first, 0, { id: anyId, kind: 'any', title: 'any state', lines: root.lines, children: [], ...leafSize('any state', root.lines) });
    root.lines = [];
  }

  for (const state of chart.states.values()) {
    if (state.initial === undefined) continue;
    const initial = state.states.find((child) => child.key === state.initial);
    if (initial) addEdge(`${state.id}#initial`, initial.id, undefined);
  }
  for (const transition of chart.transitions) {
    const source = transition.source === rootId ? anyId : transition.source;
    for (const target of transition.targets) addEdge(source, target, lineOf(transition));
  }
  return { root, edges: [...edges.values()] };
}

function lineOf(transition: ChartTransition): ChartLine {
  return { text: transition.text, transition: transition.id };
}

function leafSize(title: string, lines: ChartLine[]): { width: number; height: number } {
  const { charWidth, lineHeight, titleCharWidth, titleHeight, padding } = CHART_TEXT;
  const widest = Math.max(title.length * titleCharWidth, ...lines.map((line) => line.text.length * charWidth));
  return { width: Math.ceil(Math.max(64, widest + 2 * padding)), height: titleHeight + lines.length * lineHeight + (lines.length > 0 ? padding : 4) };
}

/** The width and height of an edge's label. */
export function labelSize(lines: readonly ChartLine[]): { width: number; height: number } {
  return { width: Math.ceil(Math.max(...lines.map((line) => line.text.length * CHART_TEXT.charWidth))), height: lines.length * CHART_TEXT.lineHeight };
}

/** The ELK graph of a chart: nested boxes, edges in their containers, coordinates asked for from the root. */
export function elkGraph(graph: ChartGraph): ElkNode {
  const byContainer = new Map<string, ElkExtendedEdge[]>();
  for (const edge of graph.edges) {
    let list = byContainer.get(edge.container);
    if (!list) byContainer.set(edge.container, (list = []));
    list.push({
      id: edge.id,
      sources: [edge.source],
      targets: [edge.target],
      ...(edge.lines.length > 0 ? { labels: [{ id: `${edge.id}:label`, text: edge.lines.map((line) => line.text).join('\n'), ...labelSize(edge.lines) }] } : {}),
    });
  }
  const node = (item: ChartBox, isRoot: boolean): ElkNode => {
    const edges = byContainer.get(item.id) ?? [];
    if (item.children.length === 0) return { id: item.id, width: item.width, height: item.height, ...(edges.length > 0 ? { edges } : {}) };
    const top = CHART_TEXT.titleHeight + item.lines.length * CHART_TEXT.lineHeight + 8;
    return {
      id: item.id,
      layoutOptions: isRoot
        ? ROOT_OPTIONS
        : {
            'elk.padding': `[top=${top},left=12,bottom=12,right=12]`,
            // Wide enough for its own title and lines, whatever its children need.
            'elk.nodeSize.constraints': '[MINIMUM_SIZE]',
            'elk.nodeSize.minimum': `(${item.width}, ${top + 20})`,
          },
      children: item.children.map((child) => node(child, false)),
      edges,
    };
  };
  return node(graph.root, true);
}

const ROOT_OPTIONS: Record<string, string> = {
  'elk.algorithm': 'layered',
  'elk.direction': 'DOWN',
  // Edges cross compound borders (connector.idle.checking -> connector.error): lay out all levels together.
  'elk.hierarchyHandling': 'INCLUDE_CHILDREN',
  'elk.edgeRouting': 'ORTHOGONAL',
  'elk.edgeLabels.placement': 'CENTER',
  // The definition's order is the author's reading order: keep it where the layout allows.
  'elk.layered.considerModelOrder.strategy': 'NODES_AND_EDGES',
  // Back edges (retrying -> pending) are the ones against the definition's order, not whichever ELK picks.
  'elk.layered.cycleBreaking.strategy': 'MODEL_ORDER',
  // Narrower charts than the default placement (job: 1,025 px wide instead of 1,285), to sit beside a history.
  'elk.layered.nodePlacement.strategy': 'NETWORK_SIMPLEX',
  'elk.layered.spacing.nodeNodeBetweenLayers': '36',
  'elk.spacing.nodeNode': '16',
  'elk.spacing.edgeLabel': '3',
  'elk.spacing.edgeNode': '10',
  'elk.spacing.edgeEdge': '6',
  'elk.padding': '[top=12,left=12,bottom=12,right=12]',
  // Every position in one frame, the root's: the SVG needs no nesting arithmetic.
  'org.eclipse.elk.json.shapeCoords': 'ROOT',
  'org.eclipse.elk.json.edgeCoords': 'ROOT',
};
