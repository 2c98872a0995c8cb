/**
 * `statehub/testing`: record an actor's or a whole hub's transitions and assert sequences.
 *
 *   const hub = await recordHub('http://127.0.0.1:3000');
 *   await hub.waitFor(jobId, 'completed');
 *   hub.expect(jobId, 'pending > assigned > running > completed');
 */
export { recordActor, type ActorRecording } from './record-actor.js';
export { recordHub, HubRecording, type WaitOptions } from './record-hub.js';
export { expectSequence, collapse, formatSequence, parseSequence, SequenceMismatchError, type SequenceOptions } from './sequence.js';
