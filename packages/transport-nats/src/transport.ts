import { randomInt } from 'node:crypto';
import { connect, type Msg, type NatsConnection, type Status, type Subscription } from '@nats-io/transport-node';
import { FrameError, TransportError, decodeBatch, silentLogger, type Logger, type Message, type NodeId, type Transport, type TransportInit } from '@tessera/raft';
import { connectError, connectionOptions } from './connection.js';
import { EnvelopeCodec, PayloadRejectedError, type RejectReason } from './envelope.js';
import type { ResolvedNatsTransportOptions } from './options.js';
import { PayloadPacker, messageSizeBound } from './payloads.js';
import { Reassembler } from './reassembly.js';
import { Counters, type NatsTransportStats } from './stats.js';
import { nodeSubject } from './subjects.js';

/** A warning of one kind is logged at most this often; the count of suppressed ones is reported. */
const LOG_EVERY_MS = 5_000;

interface Peer {
  readonly id: NodeId;
  readonly subject: string;
  /** Messages queued in this event-loop turn, and their size bound. */
  queue: Message[];
  queuedBytes: number;
  /** Bytes published to this peer whose delivery to the server no PING/PONG has confirmed yet. */
  unconfirmedBytes: number;
}

type State = 'new' | 'starting' | 'running' | 'closed';

/**
 * A {@link Transport} over NATS core pub/sub: node `n` of cluster `c` subscribes to
 * `<subjectPrefix>.c.n` and peers publish there. Created by `natsTransport(options)`.
 *
 * Sending: messages to a peer are queued and published once per event-loop turn as one batch
 * (`encodeBatch`), split into several publishes when larger than the server's `max_payload`, and a
 * single oversized message into fragments. Nothing is sent while disconnected, and a peer with more
 * than `maxPendingBytes` queued or unconfirmed gets nothing more until the backlog clears: such
 * messages are dropped and counted, and Raft retransmits.
 *
 * Receiving: each payload is authenticated (when a secret is set), reassembled if fragmented,
 * decoded and checked to be addressed to this node; anything else is dropped with a logged reason.
 */
export class NatsTransport implements Transport {
  readonly nodeId: NodeId;
  /** The subject this node listens on. */
  readonly subject: string;
  private readonly deliver: TransportInit['deliver'];
  private readonly log: Logger;
  private readonly codec: EnvelopeCodec;
  private readonly packer: PayloadPacker;
  private readonly reassembler: Reassembler;
  private readonly counters = new Counters();
  private readonly peers = new Map<NodeId, Peer>();
  private readonly pending = new Set<Peer>();
  private readonly lastWarn = new Map<string, { at: number; suppressed: number }>();
  private state: State = 'new';
  private nc: NatsConnection | undefined;
  private sub: Subscription | undefined;
  private connected = false;
  private flushHandle: NodeJS.Immediate | undefined;
  /** Bytes per peer published since the in-flight confirmation round trip started. */
  private epoch = new Map<Peer, number>();
  private confirming = false;
  private starting: Promise<void> | undefined;

  constructor(
    private readonly opts: ResolvedNatsTransportOptions,
    init: TransportInit,
  ) {
    this.nodeId = init.nodeId;
    this.deliver = init.deliver;
    const base = opts.logger ?? init.logger ?? silentLogger;
    this.log = base.child ? base.child({ component: 'transport-nats', node: init.nodeId }) : base;
    this.subject = nodeSubject(opts.subjectPrefix, opts.clusterId, init.nodeId);
    this.codec = new EnvelopeCodec(opts.secret);
    this.packer = new PayloadPacker(this.codec, randomInt(2 ** 32 - 1));
    this.reassembler = new Reassembler({
      maxBytes: opts.maxReassemblyBytes,
      timeoutMs: opts.fragmentTimeoutMs,
      onDiscard: (reason, from, detail) => this.rejected(reason, `from ${from}: ${detail}`),
    });
  }

  /**
   * Connects to NATS and subscribes to this node's subject; resolves once the server has the
   * subscription. Rejects with a {@link TransportError} if no server is reachable or the server
   * refuses the credentials or the subscription.
   */
  start(): Promise<void> {
    if (this.state === 'closed') return Promise.reject(new TransportError('transport is closed'));
    this.starting ??= this.doStart();
    return this.starting;
  }

  private async doStart(): Promise<void> {
    this.state = 'starting';
    let nc: NatsConnection;
    try {
      nc = await connect(await connectionOptions(this.opts, this.nodeId));
    } catch (err) {
      if (!this.isClosed()) this.state = 'new';
      this.starting = undefined;
      throw TransportError.isInstance(err) ? err : connectError(err, this.opts.servers);
    }
    if (this.isClosed()) {
      await nc.close();
      throw new TransportError('transport closed while starting');
    }
    this.nc = nc;
    this.sub = nc.subscribe(this.subject, { callback: this.onMessage });
    try {
      // The PONG comes after the server processed the SUB (or refused it).
      await nc.flush();
    } catch (err) {
      const closedMeanwhile = this.isClosed();
      await this.shutdownAfterFailedStart(nc);
      if (closedMeanwhile) throw new TransportError('transport closed while starting');
      throw new TransportError(`NATS connection lost while subscribing to ${this.subject}: ${(err as Error).message}`, { cause: err });
    }
    if (this.sub.isClosed()) {
      await this.shutdownAfterFailedStart(nc);
      throw new TransportError(`NATS server refused the subscription to ${this.subject}; check this user's subscribe permissions`);
    }
    if (this.isClosed()) {
      await this.shutdownAfterFailedStart(nc);
      throw new TransportError('transport closed while starting');
    }
    this.connected = true;
    this.state = 'running';
    void this.watchStatus(nc);
    void nc.closed().then((err) => this.onConnectionClosed(err));
    this.log.info({ subject: this.subject, server: nc.getServer(), maxPayload: nc.info?.max_payload }, 'NATS transport started');
  }

  /** A method, not an inline comparison, because close() can change the state across an await. */
  private isClosed(): boolean {
    return this.state === 'closed';
  }

  private async shutdownAfterFailedStart(nc: NatsConnection): Promise<void> {
    this.nc = undefined;
    this.sub = undefined;
    if (!this.isClosed()) this.state = 'new';
    this.starting = undefined;
    await nc.close().catch(() => {});
  }

  /** Queues messages for `to`; they are published at the end of this event-loop turn. Never throws. */
  send(to: NodeId, messages: Message[]): void {
    if (messages.length === 0) return;
    if (this.state !== 'running') {
      this.counters.drop(this.state === 'closed' ? 'closed' : 'not-started', messages.length);
      return;
    }
    if (!this.connected) {
      this.counters.drop('disconnected', messages.length);
      return;
    }
    const peer = this.peer(to);
    let bytes = 0;
    for (let i = 0; i < messages.length; i++) bytes += messageSizeBound(messages[i]!);
    if (peer.queuedBytes + peer.unconfirmedBytes + bytes > this.opts.maxPendingBytes) {
      this.counters.drop('peer-backlog', messages.length);
      this.warn('peer-backlog', { peer: to, queuedBytes: peer.queuedBytes, unconfirmedBytes: peer.unconfirmedBytes, maxPendingBytes: this.opts.maxPendingBytes }, 'peer backlog over maxPendingBytes: dropping messages');
      return;
    }
    if (peer.queue.length === 0) peer.queue = messages;
    else for (let i = 0; i < messages.length; i++) peer.queue.push(messages[i]!);
    peer.queuedBytes += bytes;
    this.pending.add(peer);
    this.flushHandle ??= setImmediate(this.flush);
  }

  /** Counters since creation. */
  stats(): NatsTransportStats {
    return this.counters.snapshot(this.connected, this.connected ? this.maxPayload() : 0);
  }

  /**
   * Publishes what is queued, drains the connection (bounded by `drainTimeoutMs`) and closes it.
   * Afterwards nothing is delivered, and no timer or socket is left.
   */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    const wasRunning = this.state === 'running';
    // Draining a connection that is down would only wait out the timeout.
    const drain = wasRunning && this.connected && this.opts.drainTimeoutMs > 0;
    if (wasRunning) this.flush();
    this.state = 'closed';
    this.connected = false;
    if (this.flushHandle) clearImmediate(this.flushHandle);
    this.flushHandle = undefined;
    for (const p of this.pending) this.counters.drop('closed', p.queue.length);
    this.pending.clear();
    this.reassembler.close();
    const nc = this.nc;
    this.nc = undefined;
    if (!nc) {
      // A start() in progress sees the state and closes its connection itself.
      await this.starting?.catch(() => {});
      return;
    }
    if (drain && !nc.isClosed()) {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.opts.drainTimeoutMs)));
      await Promise.race([nc.drain().catch(() => {}), timedOut]);
      clearTimeout(timer);
    }
    if (!nc.isClosed()) await nc.close().catch(() => {});
    await nc.closed();
    this.log.info({ subject: this.subject }, 'NATS transport closed');
  }

  private peer(id: NodeId): Peer {
    let p = this.peers.get(id);
    if (!p) {
      p = { id, subject: nodeSubject(this.opts.subjectPrefix, this.opts.clusterId, id), queue: [], queuedBytes: 0, unconfirmedBytes: 0 };
      this.peers.set(id, p);
    }
    return p;
  }

  private maxPayload(): number {
    const server = this.nc?.info?.max_payload ?? 0;
    return this.opts.maxPayloadBytes !== undefined ? Math.min(server, this.opts.maxPayloadBytes) : server;
  }

  private readonly flush = (): void => {
    this.flushHandle = undefined;
    if (this.pending.size === 0) return;
    const peers = [...this.pending];
    this.pending.clear();
    const nc = this.nc;
    const maxPayload = this.maxPayload();
    for (const peer of peers) {
      const messages = peer.queue;
      peer.queue = [];
      peer.queuedBytes = 0;
      if (!nc || !this.connected || maxPayload <= 0) {
        this.counters.drop('disconnected', messages.length);
        continue;
      }
      this.publish(nc, peer, messages, maxPayload);
    }
    this.confirm();
  };

  private publish(nc: NatsConnection, peer: Peer, messages: Message[], maxPayload: number): void {
    let payloads;
    try {
      payloads = this.packer.pack(this.nodeId, peer.id, messages, maxPayload);
    } catch (err) {
      this.counters.drop('too-large', messages.length);
      this.warn('too-large', { peer: peer.id, maxPayload, err: (err as Error).message }, 'cannot fit messages into NATS publishes: dropping them');
      return;
    }
    let bytes = 0;
    for (let i = 0; i < payloads.length; i++) {
      const p = payloads[i]!;
      try {
        nc.publish(peer.subject, p.data);
      } catch (err) {
        // Closed, draining, or max_payload shrank under us: the rest of this flush is lost.
        let lost = 0;
        for (let j = i; j < payloads.length; j++) lost += payloads[j]!.messages;
        this.counters.drop('publish-failed', lost);
        this.warn('publish-failed', { peer: peer.id, err: (err as Error).message }, 'NATS publish failed: dropping messages');
        break;
      }
      bytes += p.data.byteLength;
      this.counters.published += p.messages;
      this.counters.payloadsPublished++;
      if (p.fragment) this.counters.fragmentsPublished++;
    }
    this.counters.bytesPublished += bytes;
    peer.unconfirmedBytes += bytes;
    this.epoch.set(peer, (this.epoch.get(peer) ?? 0) + bytes);
  }

  /**
   * Bounds what sits in the client's and the socket's buffers: a PING/PONG round trip after a burst
   * of publishes proves the server has read everything before it, so those bytes stop counting
   * against their peers' `maxPendingBytes`. One round trip is in flight at a time.
   */
  private confirm(): void {
    const nc = this.nc;
    if (this.confirming || this.epoch.size === 0 || !nc) return;
    this.confirming = true;
    const sealed = this.epoch;
    this.epoch = new Map();
    // A failed flush (disconnect, close) means those bytes are gone: they stop counting either way.
    void nc
      .flush()
      .catch(() => {})
      .then(() => {
        for (const [peer, bytes] of sealed) peer.unconfirmedBytes -= bytes;
        this.confirming = false;
        if (this.state === 'running') this.confirm();
      });
  }

  private readonly onMessage = (err: Error | null, msg: Msg): void => {
    // Never throw from here: an exception in a NATS callback stops the client's reader.
    if (err) {
      this.warn('subscription', { err: err.message }, 'NATS subscription error');
      return;
    }
    // 'starting' too: peers may already publish between our SUB and the server's PONG.
    if (this.state !== 'running' && this.state !== 'starting') return;
    const data = msg.data;
    this.counters.payloadsReceived++;
    this.counters.bytesReceived += data.byteLength;
    let from: NodeId;
    let messages: Message[];
    try {
      const env = this.codec.unwrap(data);
      let body: Uint8Array;
      if (env.fragment) {
        const whole = this.reassembler.add(env.fragment, env.body);
        if (!whole) return;
        body = whole;
      } else {
        body = env.body;
        // Decoded entries are views into the body, and entries can live long in a log. A small
        // payload shares its buffer with the rest of a socket read: copy it so it pins only itself.
        // A large one already has a buffer of its own (the client assembled it), so keep it.
        if (body.byteLength < body.buffer.byteLength / 2) body = body.slice();
      }
      let batch;
      try {
        batch = decodeBatch(body);
      } catch (e) {
        throw new PayloadRejectedError('malformed-batch', (e as Error).message);
      }
      if (batch.to !== this.nodeId) throw new PayloadRejectedError('misaddressed', `batch for ${JSON.stringify(batch.to)} on ${this.subject}`);
      if (env.fragment && env.fragment.from !== batch.from) throw new PayloadRejectedError('sender-mismatch', `fragments from ${env.fragment.from} carry a batch from ${batch.from}`);
      from = batch.from;
      messages = batch.messages;
    } catch (e) {
      if (e instanceof PayloadRejectedError) this.rejected(e.reason, e.message);
      else if (e instanceof FrameError) this.rejected('malformed-envelope', e.message);
      else this.rejected('malformed-envelope', `unexpected ${(e as Error)?.message ?? String(e)}`);
      return;
    }
    this.counters.received += messages.length;
    try {
      this.deliver(messages, from);
    } catch (e) {
      this.log.error({ err: e, from }, 'deliver threw; messages lost');
    }
  };

  private rejected(reason: RejectReason, detail: string): void {
    this.counters.reject(reason);
    this.warn(`rejected:${reason}`, { reason, detail, subject: this.subject }, 'dropped an inbound NATS payload');
  }

  private async watchStatus(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) this.onStatus(s);
  }

  private onStatus(s: Status): void {
    switch (s.type) {
      case 'disconnect':
        this.connected = false;
        this.log.warn({ server: s.server }, 'NATS connection lost; dropping outbound messages until reconnected');
        break;
      case 'reconnect':
        if (this.state !== 'running') break;
        this.connected = true;
        this.counters.reconnects++;
        this.log.info({ server: s.server, maxPayload: this.nc?.info?.max_payload }, 'NATS connection re-established');
        break;
      case 'error':
        this.warn('server-error', { err: s.error.message }, 'NATS server reported an error');
        break;
      case 'slowConsumer':
        this.warn('slow-consumer', { pending: s.pending }, 'NATS slow consumer');
        break;
      case 'ldm':
        this.log.info({ server: s.server }, 'NATS server entering lame duck mode; the client will move');
        break;
      case 'staleConnection':
        this.log.warn({}, 'NATS connection stale (no PONGs); reconnecting');
        break;
      default:
        break;
    }
  }

  private onConnectionClosed(err: void | Error): void {
    if (this.state === 'closed') return;
    // Only reached when the client gave up (reconnect attempts exhausted, credentials refused twice).
    this.connected = false;
    this.log.error({ err: err ? err.message : undefined }, 'NATS connection closed for good; this node can no longer send or receive');
  }

  /** Logs a warning at most once per LOG_EVERY_MS per key, noting how many were suppressed. */
  private warn(key: string, fields: Record<string, unknown>, msg: string): void {
    const now = performance.now();
    const w = this.lastWarn.get(key);
    if (w && now - w.at < LOG_EVERY_MS) {
      w.suppressed++;
      return;
    }
    this.log.warn(w && w.suppressed > 0 ? { ...fields, suppressed: w.suppressed } : fields, msg);
    this.lastWarn.set(key, { at: now, suppressed: 0 });
  }
}
