import { isIP, createServer as createNetServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { checkServerIdentity, connect as tlsConnect, createSecureContext, createServer as createTlsServer, type SecureContext, type TLSSocket } from 'node:tls';
import { batchBound, encodeBatchInto, silentLogger, TransportError, type Logger, type Message, type NodeId, type Transport, type TransportInit } from '@tessera/raft';
import { decodeInboundBatch } from './batch.js';
import { Connection, type ConnectionHost } from './connection.js';
import { newInstanceId } from './handshake.js';
import { parseTcpOptions, splitAddress, type PeerResolver, type ResolvedTcpOptions, type TcpTransportOptions } from './options.js';
import { HEADER_BYTES } from './frame.js';
import { Peer } from './peer.js';
import { WriteBuffers } from './write-buffers.js';
import { emptyCloses, emptyDrops, WarnLimiter, type CloseReason, type TcpTransportStats } from './stats.js';

/** The address a transport listens on. */
export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** A {@link Transport} over TCP, with its bound address and counters. */
export interface TcpTransport extends Transport {
  /** The bound address once `start()` resolved (the real port when `listen.port` was 0); undefined before. */
  readonly address: ListenAddress | undefined;
  /** A snapshot of the counters. */
  stats(): TcpTransportStats;
}

/** What {@link tcpTransport} returns; assignable to `TransportFactory`. */
export type TcpTransportFactory = (init: TransportInit) => TcpTransport;

/**
 * Creates a TCP transport factory. Options are validated now (a ConfigError names the bad field);
 * each call of the factory creates an independent transport for one node.
 *
 * ```ts
 * const host = new RaftHost({ nodeId: 'n1', transport: tcpTransport({ listen: { host: '127.0.0.1', port: 7001 }, peers: { n2: '127.0.0.1:7002' }, clusterId: 'demo' }) });
 * ```
 */
export function tcpTransport(options: TcpTransportOptions): TcpTransportFactory {
  const opts = parseTcpOptions(options);
  return (init) => new TcpTransportImpl(opts, init);
}

const NO_MESSAGES: readonly Message[] = [];

class TcpTransportImpl implements TcpTransport, ConnectionHost {
  readonly nodeId: NodeId;
  readonly instance = newInstanceId();
  readonly secret: Uint8Array | undefined;
  readonly counters: TcpTransportStats;
  readonly log: Logger;
  readonly warn: WarnLimiter;
  private readonly deliver: TransportInit['deliver'];
  private readonly resolve: PeerResolver;
  private readonly clientTls: SecureContext | undefined;
  private server: Server | undefined;
  private bound: ListenAddress | undefined;
  private readonly peers = new Map<NodeId, Peer>();
  private readonly conns = new Set<Connection>();
  private readonly sockets = new Set<Socket>();
  /** Inbound TLS connections between TCP accept and TLS completion, by remote address. */
  private readonly tlsPending = new Map<string, { release: () => void; timer: NodeJS.Timeout; raw: Socket }>();
  private pendingInbound = 0;
  private selectSeq = 0;
  private dirty = new Set<Peer>();
  private readonly writeBuffers = new WriteBuffers();
  private flushScheduled: NodeJS.Immediate | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private started = false;
  private closing: Promise<void> | undefined;

  constructor(
    readonly opts: ResolvedTcpOptions,
    init: TransportInit,
  ) {
    this.nodeId = init.nodeId;
    this.deliver = init.deliver;
    const base = opts.logger ?? init.logger ?? silentLogger;
    this.log = base.child ? base.child({ transport: 'tcp', node: init.nodeId }) : base;
    this.warn = new WarnLimiter(this.log);
    this.secret = opts.secret === undefined ? undefined : typeof opts.secret === 'string' ? Buffer.from(opts.secret, 'utf8') : opts.secret;
    const peers = opts.peers;
    this.resolve = typeof peers === 'function' ? peers : (id) => (Object.hasOwn(peers, id) ? peers[id] : undefined);
    if (opts.tls) {
      const t = opts.tls;
      this.clientTls = createSecureContext({ cert: t.cert as string | Buffer, key: t.key as string | Buffer, passphrase: t.passphrase, ca: t.ca as string | Buffer | (string | Buffer)[] | undefined, minVersion: 'TLSv1.2' });
    }
    this.counters = {
      messagesSent: 0,
      messagesReceived: 0,
      bytesSent: 0,
      bytesReceived: 0,
      framesSent: 0,
      framesReceived: 0,
      dropped: emptyDrops(),
      droppedTotal: 0,
      connections: { established: 0, pendingInbound: 0, dials: 0, dialFailures: 0, accepted: 0, handshakes: 0 },
      closed: emptyCloses(),
      authFailures: 0,
      refusedByPeers: 0,
      peers: {},
    };
  }

  get address(): ListenAddress | undefined {
    return this.bound;
  }

  async start(): Promise<void> {
    if (this.started || this.closing) return;
    const { opts } = this;
    const server: Server = opts.tls
      ? createTlsServer({
          cert: opts.tls.cert as string | Buffer,
          key: opts.tls.key as string | Buffer,
          passphrase: opts.tls.passphrase,
          ca: opts.tls.ca as string | Buffer | (string | Buffer)[] | undefined,
          minVersion: 'TLSv1.2',
          requestCert: opts.tls.mutual,
          // Verified below, so that the refusal reason can be logged and sent.
          rejectUnauthorized: false,
          // Our own timer (from TCP accept) fires first and is the one counted; this is a backstop.
          handshakeTimeout: opts.handshakeTimeoutMs + 1_000,
        })
      : createNetServer();
    server.on('connection', this.onRawConnection);
    if (opts.tls) {
      server.on('secureConnection', this.onSecureConnection);
      server.on('tlsClientError', this.onTlsClientError);
    }
    server.on('error', (err) => this.log.error({ err }, 'listener error'));
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(new TransportError(`cannot listen on ${opts.listen.host}:${opts.listen.port}: ${err.message}`, { cause: err }));
      server.once('error', onError);
      server.listen({ host: opts.listen.host, port: opts.listen.port, exclusive: true }, () => {
        server.off('error', onError);
        resolve();
      });
    });
    this.server = server;
    const a = server.address();
    this.bound = typeof a === 'object' && a ? { host: a.address, port: a.port } : { host: opts.listen.host, port: opts.listen.port };
    this.started = true;
    const every = Math.max(25, Math.min(1_000, Math.floor(opts.idleTimeoutMs / 4)));
    this.sweepTimer = setInterval(this.sweep, every);
    this.log.info({ address: `${this.bound.host}:${this.bound.port}`, tls: !!opts.tls, auth: this.secret ? 'hmac-sha256' : 'none' }, 'tcp transport listening');
  }

  // ---- sending -------------------------------------------------------------------------------

  send(to: NodeId, messages: Message[]): void {
    if (!this.started || this.closing || messages.length === 0) return;
    if (to === this.nodeId) {
      this.drop('self', messages.length);
      return;
    }
    let peer = this.peers.get(to);
    if (!peer) {
      if (this.lookup(to) === undefined) {
        this.drop('unknownPeer', messages.length);
        this.log.debug({ peer: to }, 'dropping messages for a peer with no known address');
        return;
      }
      peer = new Peer(to);
      this.peers.set(to, peer);
    }
    if (!peer.active && peer.retryTimer) {
      peer.wanted = true;
      this.drop('unreachable', messages.length);
      return;
    }
    const rejected = peer.enqueue(messages, this.opts.maxQueueBytes);
    if (rejected > 0) {
      this.drop('queueFull', rejected);
      this.warn.warn('queueFull', { peer: to, queuedBytes: peer.queuedBytes, dropped: rejected }, 'send queue full: dropping messages (Raft will retransmit)');
    }
    if (peer.active) this.markDirty(peer);
    else this.ensureDial(peer);
  }

  private drop(reason: keyof TcpTransportStats['dropped'], n: number): void {
    this.counters.dropped[reason] += n;
    this.counters.droppedTotal += n;
  }

  private lookup(id: NodeId): string | undefined {
    try {
      return this.resolve(id);
    } catch (err) {
      this.log.warn({ peer: id, err }, 'peer resolver threw');
      return undefined;
    }
  }

  private markDirty(peer: Peer): void {
    this.dirty.add(peer);
    // Flushing on the next turn packs everything sent during this one into as few frames as possible.
    if (!this.flushScheduled) this.flushScheduled = setImmediate(this.flushAll);
  }

  private readonly flushAll = (): void => {
    this.flushScheduled = undefined;
    const dirty = this.dirty;
    this.dirty = new Set();
    for (const peer of dirty) this.flush(peer);
  };

  private flush(peer: Peer): void {
    const conn = peer.active;
    if (!conn || conn.waitingDrain || this.closing) return;
    const limit = Math.min(conn.peerMaxFrame, this.opts.maxFrameBytes) - 1;
    const target = Math.min(this.opts.maxBatchBytes, limit);
    for (;;) {
      const next = peer.take(target);
      if (!next) return;
      // Encoded in place after room for the frame header: one buffer, one write, no copy. The
      // queue's estimate (wireSize) bounds each message's share of the codec's bound, so only the
      // batch header is sized here, not every message a second time.
      const buf = this.writeBuffers.acquire(HEADER_BYTES + batchBound(this.nodeId, peer.id, NO_MESSAGES) + next.bytes);
      const end = encodeBatchInto(buf, HEADER_BYTES, this.nodeId, peer.id, next.messages);
      if (end - HEADER_BYTES > limit) {
        // Only a single message can get here (estimates are upper bounds).
        this.writeBuffers.release(buf);
        this.drop('oversize', next.messages.length);
        this.warn.warn('oversize', { peer: peer.id, bytes: end - HEADER_BYTES, limit }, 'dropping a message larger than the frame limit');
        continue;
      }
      if (!conn.writeBatch(buf, end, next.messages.length, this.written)) return;
    }
  }

  private readonly written = (buf: Buffer): void => this.writeBuffers.release(buf);

  drained(conn: Connection): void {
    const peer = conn.peerId ? this.peers.get(conn.peerId) : undefined;
    if (peer && peer.active === conn) this.flush(peer);
  }

  // ---- dialing -------------------------------------------------------------------------------

  private ensureDial(peer: Peer): void {
    if (!this.started || this.closing || peer.active || peer.dialing || peer.retryTimer || peer.others.size > 0) return;
    const address = this.lookup(peer.id);
    const hp = address === undefined ? undefined : splitAddress(address);
    if (!hp) {
      if (address !== undefined) this.warn.warn('bad-address', { peer: peer.id, address }, 'peer resolver returned an invalid address');
      this.drop('unknownPeer', peer.clear());
      return;
    }
    this.counters.connections.dials++;
    const { opts } = this;
    let socket: Socket;
    if (opts.tls) {
      socket = tlsConnect({
        host: hp.host,
        port: hp.port,
        secureContext: this.clientTls,
        servername: isIP(hp.host) ? undefined : hp.host,
        checkServerIdentity: opts.tls.checkServerIdentity ? checkServerIdentity : () => undefined,
        minVersion: 'TLSv1.2',
      });
    } else {
      socket = netConnect({ host: hp.host, port: hp.port });
    }
    this.track(socket);
    const conn = new Connection(this, socket, 'out', peer.id, address!, { connected: false, deadlineMs: opts.connectTimeoutMs });
    this.conns.add(conn);
    peer.dialing = conn;
    socket.once(opts.tls ? 'secureConnect' : 'connect', () => conn.begin());
  }

  private dialFailed(peer: Peer, reason: string): void {
    this.counters.connections.dialFailures++;
    peer.failedDials++;
    const { initialMs, maxMs } = this.opts.reconnect;
    const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(peer.failedDials - 1, 30));
    // Jitter spreads redials of many nodes after a shared failure.
    const delay = Math.max(1, Math.round(ceiling / 2 + Math.random() * (ceiling / 2)));
    const discarded = peer.clear();
    this.drop('unreachable', discarded);
    const fields = { peer: peer.id, reason, attempt: peer.failedDials, retryInMs: delay, discardedMessages: discarded };
    if (peer.failedDials === 1) this.log.warn(fields, 'cannot reach peer; retrying with backoff');
    else this.log.debug(fields, 'cannot reach peer; retrying with backoff');
    peer.wanted = false;
    peer.retryTimer = setTimeout(() => {
      peer.retryTimer = undefined;
      if (peer.wanted || peer.queued > 0) this.ensureDial(peer);
    }, delay);
  }

  // ---- accepting -----------------------------------------------------------------------------

  private readonly onRawConnection = (raw: Socket): void => {
    if (this.closing) {
      raw.destroy();
      return;
    }
    this.counters.connections.accepted++;
    const remote = `${raw.remoteAddress}:${raw.remotePort}`;
    if (this.pendingInbound >= this.opts.maxPendingConnections) {
      this.counters.closed.pendingLimit++;
      this.warn.warn('pendingLimit', { remote, limit: this.opts.maxPendingConnections }, 'refusing connection: too many connections are still handshaking');
      raw.destroy();
      return;
    }
    this.track(raw);
    this.pendingInbound++;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.pendingInbound--;
      const p = this.tlsPending.get(remote);
      if (p && p.raw === raw) {
        clearTimeout(p.timer);
        this.tlsPending.delete(remote);
      }
    };
    raw.once('close', release);
    if (!this.opts.tls) {
      const conn = new Connection(this, raw, 'in', undefined, remote, { connected: true, deadlineMs: this.opts.handshakeTimeoutMs, releasePending: release });
      this.conns.add(conn);
      conn.begin();
      return;
    }
    // TLS: the handshake clock runs from TCP accept, covering the TLS handshake too.
    const timer = setTimeout(() => {
      this.counters.closed.handshakeTimeout++;
      this.warn.warn('handshakeTimeout', { remote, direction: 'in' }, `closing connection: TLS handshake did not complete within ${this.opts.handshakeTimeoutMs} ms`);
      raw.destroy();
      release();
    }, this.opts.handshakeTimeoutMs);
    this.tlsPending.set(remote, { release, timer, raw });
  };

  private readonly onSecureConnection = (socket: TLSSocket): void => {
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    const pending = this.tlsPending.get(remote);
    if (!pending || this.closing) {
      socket.destroy();
      return;
    }
    clearTimeout(pending.timer);
    this.tlsPending.delete(remote);
    this.track(socket);
    const conn = new Connection(this, socket, 'in', undefined, remote, { connected: true, deadlineMs: this.opts.handshakeTimeoutMs, releasePending: pending.release });
    this.conns.add(conn);
    socket.once('close', pending.release);
    if (this.opts.tls!.mutual && !socket.authorized) {
      const cert = socket.getPeerCertificate();
      const why = !cert || Object.keys(cert).length === 0 ? 'peer presented no client certificate' : `peer certificate rejected: ${String(socket.authorizationError)}`;
      conn.refuse('tls', why);
      return;
    }
    conn.begin();
  };

  private readonly onTlsClientError = (err: Error & { code?: string }, socket: TLSSocket): void => {
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    socket.destroy();
    const pending = this.tlsPending.get(remote);
    // Not pending any more: our own handshake timer already closed (and counted) it.
    if (this.closing || !pending) return;
    this.counters.closed.tls++;
    this.warn.warn('tls', { remote, code: err.code }, `closing connection: TLS handshake failed: ${err.message.split('\n')[0]}`);
    pending.raw.destroy();
    pending.release();
  };

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  // ---- connection callbacks ------------------------------------------------------------------

  lastSelect(peer: NodeId): number | undefined {
    return this.peers.get(peer)?.lastSelect;
  }

  private peerOf(id: NodeId): Peer {
    let peer = this.peers.get(id);
    if (!peer) {
      peer = new Peer(id);
      this.peers.set(id, peer);
    }
    return peer;
  }

  authenticated(conn: Connection): void {
    const peer = this.peerOf(conn.peerId!);
    if (peer.dialing !== conn) peer.others.add(conn);
    // The lower node id decides which connection of a pair carries traffic, so both sides agree
    // without a race; the higher one waits for its Select.
    if (this.nodeId > conn.peerId!) return;
    const cur = peer.active;
    if (!cur) {
      this.select(peer, conn);
    } else if (cur.peerHello!.instance !== conn.peerHello!.instance) {
      this.select(peer, conn);
      cur.close('replaced', 'peer restarted: its new connection replaces the old one');
    } else if (conn.direction === 'in' && conn.peerHello!.lastSelect === cur.selectId) {
      // The peer gave up on the current connection (we have not noticed it die yet).
      this.select(peer, conn);
      cur.close('replaced', 'peer reconnected: its new connection replaces the old one');
    } else {
      conn.refuse('duplicate', 'a connection between these nodes is already established', 'debug');
    }
  }

  private select(peer: Peer, conn: Connection): void {
    this.selectSeq = this.selectSeq >= 0xffffffff ? 1 : this.selectSeq + 1;
    conn.sendSelect(this.selectSeq);
    this.activate(peer, conn, this.selectSeq);
  }

  selected(conn: Connection, id: number): void {
    const peer = this.peerOf(conn.peerId!);
    peer.lastSelect = id;
    if (peer.active === conn) {
      conn.markActive(id);
      return;
    }
    const old = peer.active;
    this.activate(peer, conn, id);
    old?.close('replaced', 'peer selected a newer connection');
  }

  private activate(peer: Peer, conn: Connection, id: number): void {
    conn.markActive(id);
    peer.others.delete(conn);
    if (peer.dialing === conn) peer.dialing = undefined;
    peer.active = conn;
    peer.failedDials = 0;
    peer.wanted = false;
    if (peer.retryTimer) clearTimeout(peer.retryTimer);
    peer.retryTimer = undefined;
    this.log.info({ peer: peer.id, remote: conn.remote, direction: conn.direction }, 'connected to peer');
    if (peer.queued > 0) this.markDirty(peer);
  }

  batch(conn: Connection, body: Uint8Array): void {
    const messages = decodeInboundBatch(body, conn.peerId!, this.nodeId);
    this.counters.messagesReceived += messages.length;
    if (messages.length === 0) return;
    try {
      this.deliver(messages, conn.peerId!);
    } catch (err) {
      this.log.error({ err, peer: conn.peerId }, 'deliver callback threw; messages dropped');
    }
  }

  closed(conn: Connection, reason: CloseReason | 'shutdown' | 'refused' | 'ended'): void {
    this.conns.delete(conn);
    const id = conn.peerId;
    const peer = id === undefined ? undefined : this.peers.get(id);
    if (!peer || this.closing) return;
    peer.others.delete(conn);
    const wasActive = peer.active === conn;
    if (wasActive) {
      peer.active = undefined;
      this.log.info({ peer: peer.id, reason }, 'connection to peer lost');
    }
    if (peer.dialing === conn) {
      peer.dialing = undefined;
      if (!peer.active) this.dialFailed(peer, reason);
    }
    if (!peer.active && (peer.queued > 0 || wasActive)) this.ensureDial(peer);
  }

  // ---- keep-alive ----------------------------------------------------------------------------

  private readonly sweep = (): void => {
    const now = Date.now();
    const idle = this.opts.idleTimeoutMs;
    for (const peer of this.peers.values()) {
      const conn = peer.active;
      if (!conn) continue;
      if (now - conn.lastRecvAt > idle) conn.fail('idleTimeout', `nothing received for ${now - conn.lastRecvAt} ms (idle timeout ${idle} ms)`);
      else if (now - conn.lastSentAt >= idle / 3 && !conn.waitingDrain) conn.ping();
    }
  };

  // ---- stats and shutdown --------------------------------------------------------------------

  stats(): TcpTransportStats {
    const c = this.counters;
    const peers: TcpTransportStats['peers'] = {};
    let established = 0;
    for (const p of this.peers.values()) {
      if (p.active) established++;
      peers[p.id] = { connected: !!p.active, queuedMessages: p.queued, queuedBytes: p.queuedBytes, failedDials: p.failedDials };
    }
    return {
      ...c,
      dropped: { ...c.dropped },
      connections: { ...c.connections, established, pendingInbound: this.pendingInbound },
      closed: { ...c.closed },
      peers,
    };
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    if (this.flushScheduled) clearImmediate(this.flushScheduled);
    this.flushScheduled = undefined;
    for (const p of this.tlsPending.values()) clearTimeout(p.timer);
    this.tlsPending.clear();
    for (const peer of this.peers.values()) {
      if (peer.retryTimer) clearTimeout(peer.retryTimer);
      peer.retryTimer = undefined;
      this.drop('closed', peer.clear());
    }
    for (const conn of [...this.conns]) conn.close('shutdown');
    const sockets = [...this.sockets];
    for (const s of sockets) s.destroy();
    const server = this.server;
    await Promise.all([
      server ? new Promise<void>((resolve) => server.close(() => resolve())) : undefined,
      ...sockets.map((s) => (s.closed ? undefined : new Promise<void>((resolve) => s.once('close', () => resolve())))),
    ]);
    if (this.started) this.log.info({}, 'tcp transport closed');
  }
}
