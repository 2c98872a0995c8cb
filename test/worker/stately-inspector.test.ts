import { describe, expect, it } from 'vitest';
import type { StatelyActorEvent, StatelyEventEvent, StatelyInspectionEvent, StatelySnapshotEvent } from '@statelyai/inspect';
import { about, inspectorReceiver } from '../helpers/inspector-receiver.js';
import { submit, testHub, testRecording, testWorker } from '../helpers/hub.js';

const isActor = (message: StatelyInspectionEvent): message is StatelyActorEvent => message.type === '@xstate.actor';

describe("a worker's connectors in Stately's inspector", () => {
  it('are inspected as the actors they are: their events, their snapshots and the actors they invoke, under session ids scoped by the worker', async () => {
    const receiver = await inspectorReceiver();
    const hub = await testHub();
    const worker = await testWorker(hub, { id: 'inspected-worker', inspect: receiver.url });
    const recording = await testRecording(hub);
    const [connectorId] = [...worker.connectors.keys()] as [string];
    const named = () => receiver.messages.filter(isActor).find((message) => message.name === connectorId);
    await receiver.until(() => named() !== undefined, `the connector ${connectorId} announced`);
    const session = (named() as StatelyActorEvent).sessionId;
    expect(session).toMatch(/^inspected-worker:x:\d+$/);
    expect(JSON.parse((named() as StatelyActorEvent).definition ?? '')).toMatchObject({ id: 'connector', initial: 'starting' });

    const job = await submit(hub, { type: 'simulation', payload: { durationMs: 60, steps: 3 } });
    await recording.waitFor(job.id, 'completed');
    // The connector's return to idle is sent a turn after it happened.
    const backToIdle = () => about(receiver.messages, session).filter((message): message is StatelySnapshotEvent => message.type === '@xstate.snapshot' && message.event.type === 'JOB_DONE');
    await receiver.until(() => backToIdle().length === 1, 'the connector back to idle');

    const mine = about(receiver.messages, session);
    const events = mine.filter((message): message is StatelyEventEvent => message.type === '@xstate.event').map((message) => message.event);
    expect(events).toContainEqual({ type: 'ASSIGN', jobId: job.id });
    expect(events).toContainEqual(expect.objectContaining({ type: 'JOB_DONE' }));
    expect(backToIdle()[0]?.snapshot).toMatchObject({ value: { idle: 'ready' }, context: { jobId: null, jobsDone: 1 } });
    // The job ran in an actor the connector invoked: its child, in the same scope.
    const children = receiver.messages.filter(isActor).filter((message) => message.parentId === session);
    expect(children.length).toBeGreaterThan(0);
    for (const child of children) expect(child.sessionId).toMatch(/^inspected-worker:x:\d+$/);
  });
});
