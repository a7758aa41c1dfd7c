/** What every tool handler gets besides its arguments. */
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { VtGateway } from '../vt/gateway.js';

export interface ToolContext {
  vt: VtGateway;
  config: Config;
  log: Logger;
  /** Answers come from recorded responses, not live VirusTotal. */
  demo: boolean;
  /**
   * The client of this connection: what it declared it supports, and elicitation (a question to its
   * user). Set per server by createServer; absent in a context built by hand.
   */
  peer?: Pick<Server, 'getClientCapabilities' | 'elicitInput'>;
}
