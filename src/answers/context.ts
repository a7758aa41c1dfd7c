/** What the server is built with, and what every tool handler and resource gets besides its arguments. */
import type { RequestStateCodec, Server } from '@modelcontextprotocol/server';
import type { Config } from '../config.js';
import type { TriageService } from '../jobs/service.js';
import type { Logger } from '../log.js';
import type { VtApi } from '../vt/api.js';
import type { VtGateway } from '../vt/gateway-contract.js';

/** What a 2026-07-28 client echoes back with its user's answer, signed by the server (requestState below). */
export interface ConfirmState {
  /** A digest of what is to be sent: an answer given for one URL or file never sends another. */
  subject: string;
}

/** What createServer() is given (index.ts and the tests build it the same way). */
export interface ServerContext {
  vt: VtGateway;
  config: Config;
  log: Logger;
  /** Answers come from recorded responses, not live VirusTotal. */
  demo: boolean;
  /** This process's triage jobs (vt_triage); the runtime makes one per process. */
  triage?: TriageService;
  /** Signs what a 2026-07-28 client echoes back with its user's answer (server/request-state.ts). */
  requestState?: RequestStateCodec<ConfirmState>;
}

export interface ToolContext {
  /** VirusTotal's operations (over the gateway: cache, limits, retries). */
  vt: VtApi;
  config: Config;
  log: Logger;
  /** Answers come from recorded responses, not live VirusTotal. */
  demo: boolean;
  triage?: TriageService;
  requestState?: RequestStateCodec<ConfirmState>;
  /**
   * Who is calling: the holder of one HTTP token, or "local" (stdio, and HTTP without tokens, where
   * every caller is one). Jobs belong to it, and the limiter's line and the day are shared between them.
   */
  caller: string;
  /**
   * The client of this connection: what it declared it supports, and elicitation (a question to its
   * user). Set per server by createServer; absent in a context built by hand.
   */
  peer?: Pick<Server, 'getClientCapabilities' | 'elicitInput'>;
}
