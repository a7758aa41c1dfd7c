/** What every tool handler gets besides its arguments. */
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { VtGateway } from '../vt/gateway.js';

export interface ToolContext {
  vt: VtGateway;
  config: Config;
  log: Logger;
  /** Answers come from recorded responses, not live VirusTotal. */
  demo: boolean;
}
