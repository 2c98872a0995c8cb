/**
 * A statechart drawn as SVG from its elkjs layout: states as boxes (nested), transitions as
 * arrows labelled with their events, guards and delays. What it highlights comes in as props,
 * so the actor view (one actor's state, the transition that led there) and the fleet chart
 * (counts per state, transitions taken lately) draw the same chart.
 */
import { For, Show, createUniqueId } from 'solid-js';
import { CHART_TEXT, type ChartBox, type ChartEdge, type ChartLine } from './chart-graph.js';
import type { ChartLayout, Point } from './layout.js';

export interface ChartProps {
  layout: ChartLayout;
  /** What the chart shows, for screen readers. */
  label: string;
  /** State ids to highlight (an actor's current states, parents included). */
  active?: ReadonlySet<string>;
  /** Transition and arrow ids (takenMarks) -> times taken: drawn heavier, the more the heavier. */
  taken?: ReadonlyMap<string, number>;
  /** Write "×n" after taken transitions (the fleet chart; one actor's single step needs no number). */
  countTaken?: boolean;
  /** State id -> actors in it: written on each state. */
  counts?: ReadonlyMap<string, number>;
  selected?: string;
  /** Makes states buttons. */
  onSelect?: (stateId: string) => void;
  /** Written on the `<svg>` as data-offset: the view offset the counts were read at. */
  offset?: string;
}

export function Chart(props: ChartProps) {
  const arrow = createUniqueId();
  // One chart, one layout: a page with another version's chart makes another Chart (WithChart).
  const boxes = flatten(props.layout.graph.root);
  const times = (id: string | undefined) => (id === undefined ? 0 : (props.taken?.get(id) ?? 0));
  return (
    <svg
      class="chart-svg"
      viewBox={`0 0 ${props.layout.width} ${props.layout.height}`}
      // As wide as its panel, down to three quarters of its size (text stays readable), scrolled beyond that.
      style={{ width: '100%', 'max-width': `${props.layout.width}px`, 'min-width': `${Math.round(props.layout.width * 0.75)}px` }}
      role="group"
      aria-label={props.label}
      data-offset={props.offset}
    >
      <defs>
        <For each={['', '-taken']}>
          {(variant) => (
            <marker id={`${arrow}${variant}`} viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" markerUnits="userSpaceOnUse" orient="auto-start-reverse">
              <path d="M 0 0 L 10 5 L 0 10 z" class={`arrow-head${variant}`} />
            </marker>
          )}
        </For>
      </defs>
      <For each={boxes}>{({ box, tone }) => <StateBox box={box} tone={tone} layout={props.layout} chart={props} times={times} />}</For>
      <For each={props.layout.graph.edges}>
        {(edge) => <Edge edge={edge} layout={props.layout} arrow={arrow} times={times} countTaken={props.countTaken ?? false} />}
      </For>
    </svg>
  );
}

function StateBox(props: { box: ChartBox; tone: string; layout: ChartLayout; chart: ChartProps; times: (id: string | undefined) => number }) {
  const at = props.layout.boxes.get(props.box.id) ?? { x: 0, y: 0, width: 0, height: 0 };
  const stateId = props.box.kind === 'state' ? props.box.id : undefined;
  const active = () => stateId !== undefined && (props.chart.active?.has(stateId) ?? false);
  const count = () => (stateId === undefined ? undefined : props.chart.counts?.get(stateId) ?? 0);
  const select = () => stateId !== undefined && props.chart.onSelect?.(stateId);
  if (props.box.kind === 'initial') return <circle class="initial" cx={at.x + at.width / 2} cy={at.y + at.height / 2} r={at.width / 2} />;
  const compound = props.box.children.length > 0;
  const clickable = () => stateId !== undefined && props.chart.onSelect !== undefined;
  return (
    <g
      class={`box box-${props.box.kind} state-${props.tone}`}
      classList={{ active: active(), compound, final: props.box.state?.type === 'final', selected: stateId !== undefined && props.chart.selected === stateId, clickable: clickable() }}
      data-state-id={stateId}
      data-active={stateId === undefined ? undefined : String(active())}
      data-count={props.chart.counts ? count() : undefined}
      role={clickable() ? 'button' : undefined}
      tabindex={clickable() ? 0 : undefined}
      aria-label={stateId === undefined ? props.box.title : `${props.box.title}${active() ? ', current' : ''}${props.chart.counts ? `, ${count()} actors` : ''}`}
      aria-pressed={clickable() ? props.chart.selected === stateId : undefined}
      onClick={select}
      onKeyDown={(event) => {
        if (event.key === 'Enter' || event.key === ' ') {
          event.preventDefault();
          select();
        }
      }}
    >
      <rect x={at.x} y={at.y} width={at.width} height={at.height} rx={compound ? 10 : 7} />
      <Show when={props.box.state?.type === 'final'}>
        <rect class="inner" x={at.x + 3} y={at.y + 3} width={at.width - 6} height={at.height - 6} rx={5} />
      </Show>
      <text class="title" x={at.x + CHART_TEXT.padding} y={at.y + 16}>
        {props.box.title}
      </text>
      <For each={props.box.lines}>
        {(line, index) => (
          <Line
            line={line}
            x={at.x + CHART_TEXT.padding}
            y={at.y + CHART_TEXT.titleHeight + 11 + index() * CHART_TEXT.lineHeight}
            times={props.times(line.transition)}
            countTaken={props.chart.countTaken ?? false}
          />
        )}
      </For>
      <Show when={props.chart.counts && stateId !== undefined}>
        <g class="count" classList={{ zero: count() === 0 }}>
          <rect x={at.x + at.width - countWidth(count() ?? 0) - 4} y={at.y - 9} width={countWidth(count() ?? 0)} height={17} rx={8.5} />
          <text x={at.x + at.width - countWidth(count() ?? 0) / 2 - 4} y={at.y + 3.5} text-anchor="middle">
            {count()}
          </text>
        </g>
      </Show>
    </g>
  );
}

function Edge(props: { edge: ChartEdge; layout: ChartLayout; arrow: string; times: (id: string | undefined) => number; countTaken: boolean }) {
  const route = props.layout.routes.get(props.edge.id);
  /** Changes that went along this arrow. */
  const heat = () => props.times(props.edge.id);
  const width = () => (heat() > 0 ? Math.min(6, 2 + Math.log2(heat())) : 1.2);
  return (
    <Show when={route}>
      {(drawn) => (
        <g class="edge" classList={{ taken: heat() > 0 }} data-edge={props.edge.id} data-taken={heat()}>
          <path d={pathOf(drawn().points)} stroke-width={width()} marker-end={`url(#${props.arrow}${heat() > 0 ? '-taken' : ''})`} />
          <Show when={drawn().label}>
            {(label) => (
              <For each={props.edge.lines}>
                {(line, index) => <Line line={line} x={label().x} y={label().y + 11 + index() * CHART_TEXT.lineHeight} times={props.times(line.transition)} countTaken={props.countTaken} />}
              </For>
            )}
          </Show>
        </g>
      )}
    </Show>
  );
}

/**
 * Parents before children: drawn in that order, a child's box lies on its parent's. The root is
 * the canvas, not a box. Each box takes the colour of its top-level state (`idle` for
 * `idle.ready`), the one the monitor's badges use.
 */
function flatten(root: ChartBox): Array<{ box: ChartBox; tone: string }> {
  const boxes: Array<{ box: ChartBox; tone: string }> = [];
  const visit = (box: ChartBox, tone: string | undefined) => {
    for (const child of box.children) {
      const childTone = tone ?? (child.kind === 'state' ? child.title : 'none');
      boxes.push({ box: child, tone: childTone });
      visit(child, childTone);
    }
  };
  visit(root, undefined);
  return boxes;
}

/** A transition's line (an arrow's label, or inside the state it stays in), bold when taken. */
function Line(props: { line: ChartLine; x: number; y: number; times: number; countTaken: boolean }) {
  return (
    <text class="line" classList={{ taken: props.times > 0 }} data-transition={props.line.transition} x={props.x} y={props.y}>
      {props.countTaken && props.times > 0 ? `${props.line.text} ×${props.times}` : props.line.text}
    </text>
  );
}

function countWidth(count: number): number {
  return 12 + String(count).length * 7;
}

function pathOf(points: readonly Point[]): string {
  return points.map((point, index) => `${index === 0 ? 'M' : 'L'} ${point.x} ${point.y}`).join(' ');
}
