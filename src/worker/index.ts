/** `statehub/worker`: embed connectors in your own process and connect them to a hub. */
export { createWorker, type Worker, type WorkerOptions, type WorkerLogFields, type WorkerLogLevel } from './worker.js';
export { ServiceError, PermanentError, connectorLogic, type ConnectorImplementation, type ConnectorActor, type JobRun, type RunContext } from './connector.js';
export { simulationConnector, simulationPayloadSchema, type SimulationOptions, type SimulationPayload } from './connectors/simulation.js';
export { httpConnector, type HttpConnectorOptions } from './connectors/http.js';
