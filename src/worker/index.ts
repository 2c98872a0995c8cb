/** `statehub/worker`: embed connectors in your own process and connect them to a hub. */
export { createWorker, type Worker, type WorkerOptions, type WorkerLogFields, type WorkerLogLevel } from './worker.js';
export { ServiceError, PermanentError, connectorLogic, type ConnectorImplementation, type ConnectorActor, type JobRun, type RunContext } from './connector.js';
export { simulationConnector, simulationPayloadSchema, type SimulationOptions, type SimulationPayload } from './connectors/simulation.js';
export { httpConnector, type HttpConnectorOptions } from './connectors/http.js';
export { comfyuiConnector, comfyuiPayloadSchema, type ComfyuiConnectorOptions, type ComfyuiPayload, type ComfyuiTimeouts } from './connectors/comfyui.js';
export { a1111Connector, a1111PayloadSchema, type A1111ConnectorOptions, type A1111Payload } from './connectors/a1111.js';
export { openaiConnector, DEFAULT_OPENAI_URL, type OpenAIConnectorOptions } from './connectors/openai.js';
export { ollamaConnector, DEFAULT_OLLAMA_URL, type OllamaConnectorOptions } from './connectors/ollama.js';
export type { RateLimitOptions, ServiceConnectorOptions, ServiceTimeouts } from './connectors/service-http.js';
