/**
 * The HTTP transport's connection accounting: which peer (an IPv4 address, an IPv6 /64) a connection
 * counts against, and the table of open connections behind the caps (per address, then overall).
 */
import type { Socket } from 'node:net';

/**
 * The peer a connection is counted against: its IPv4 address (also when it arrives IPv4-mapped on an
 * IPv6 socket), or the /64 of its IPv6 address, the block one subscriber usually holds whole: counting
 * single IPv6 addresses would give such a peer billions of allowances.
 */
export function peerOf(address: string): string {
  const a = address.toLowerCase().replace(/%.*$/, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a)?.[1];
  if (mapped !== undefined) return mapped;
  if (!a.includes(':')) return a;
  const groups = (part: string) =>
    (part === '' ? [] : part.split(':')).flatMap((g) => (g.includes('.') ? ['0', '0'] : [g]));
  const [head = '', tail] = a.split('::');
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  const all =
    tail === undefined ? h : [...h, ...Array<string>(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t];
  return `${all
    .slice(0, 4)
    .map((g) => (Number.parseInt(g, 16) || 0).toString(16))
    .join(':')}::/64`;
}

/** 127.0.0.0/8 (also IPv4-mapped), or ::1's /64 as peerOf names it. */
function isLoopbackPeer(peer: string): boolean {
  return peer.startsWith('127.') || peer === '0:0:0:0::/64';
}

interface Tracked {
  peer: string;
  /** A request on it passed authentication (or, without tokens, every check before /mcp's work). */
  authenticated: boolean;
  /** Requests received and not yet answered. */
  inFlight: number;
}

/**
 * The open connections: how many each peer holds, which have proved themselves, and which are idle.
 * `#spare` holds the idle connections that have carried no authenticated request, longest idle first
 * (a Set keeps insertion order), so the one to close for room is found at once even under a flood.
 *
 * Loopback peers are not held to the per-address cap (unless capLoopback): a local process can send
 * from any of 127.0.0.0/8, so the cap would bind only the honest ones, among them a reverse proxy on
 * this machine (the README's TLS setup), through which every client arrives from one address. Room for
 * authenticated clients at the overall cap holds for them as for everyone.
 */
export class ConnectionTable {
  readonly #open = new Map<Socket, Tracked>();
  readonly #perPeer = new Map<string, number>();
  readonly #spare = new Set<Socket>();
  constructor(
    private readonly max: number,
    private readonly perAddress: number,
    private readonly capLoopback: boolean,
  ) {}

  /** Takes a new connection in, or says why not; may name a spare connection to close for room. */
  admit(socket: Socket, remote: string): { refused?: string; evicted?: Socket } {
    const peer = peerOf(remote);
    const held = this.#perPeer.get(peer) ?? 0;
    const capped = this.capLoopback || !isLoopbackPeer(peer);
    // A per-address cap as large as the overall one is the overall one, refused in its words below.
    if (capped && held >= this.perAddress && this.perAddress < this.max) {
      const from = peer.endsWith('/64') ? `its /64 (${peer})` : 'this address';
      return {
        refused: `${held} connections from ${from} are open (VT_MCP_MAX_CONNECTIONS_PER_ADDRESS)`,
      };
    }
    let evicted: Socket | undefined;
    if (this.#open.size >= this.max) {
      evicted = this.#spare.values().next().value;
      if (evicted === undefined) return { refused: `${this.max} connections are open (the cap)` };
      this.#forget(evicted);
    }
    this.#open.set(socket, { peer, authenticated: false, inFlight: 0 });
    // Read again: the connection closed for room may have been this peer's.
    this.#perPeer.set(peer, (this.#perPeer.get(peer) ?? 0) + 1);
    this.#spare.add(socket);
    socket.once('close', () => this.#forget(socket));
    return evicted ? { evicted } : {};
  }

  busy(socket: Socket): void {
    const t = this.#open.get(socket);
    if (!t) return;
    t.inFlight++;
    this.#spare.delete(socket);
  }

  idle(socket: Socket): void {
    const t = this.#open.get(socket);
    if (!t) return;
    t.inFlight = Math.max(0, t.inFlight - 1);
    // Re-added at the end: idle from now on.
    if (t.inFlight === 0 && !t.authenticated && !socket.destroyed) this.#spare.add(socket);
  }

  authenticated(socket: Socket): void {
    const t = this.#open.get(socket);
    if (!t) return;
    t.authenticated = true;
    this.#spare.delete(socket);
  }

  /** Counts a connection out once, whether it closed or is being closed for room. */
  #forget(socket: Socket): void {
    const t = this.#open.get(socket);
    if (!t) return;
    this.#open.delete(socket);
    this.#spare.delete(socket);
    const left = (this.#perPeer.get(t.peer) ?? 1) - 1;
    if (left > 0) this.#perPeer.set(t.peer, left);
    else this.#perPeer.delete(t.peer);
  }
}
