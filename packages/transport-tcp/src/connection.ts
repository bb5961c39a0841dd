/**
 * One TCP (or TLS) connection to a peer: the handshake state machine, frame dispatch, keep-alive
 * bookkeeping and writes. What the connection is used for (which one of a pair carries traffic, what
 * happens to queued messages) is decided by the transport through {@link ConnectionHost}.
 */
import type { Socket } from 'node:net';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import { FrameError, TesseraError, type Logger, type NodeId } from '@tessera/raft';
import { FrameDecoder, FrameType, HEADER_BYTES, PROTOCOL_VERSION, frame, preamble, type FrameSink } from './frame.js';
import { decodeHello, decodeReject, encodeJson, newNonce, proof, verifyProof, type Hello } from './handshake.js';
import type { ResolvedTcpOptions } from './options.js';
import type { CloseReason, TcpTransportStats, WarnLimiter } from './stats.js';

/** What a connection needs from its transport. */
export interface ConnectionHost {
  readonly nodeId: NodeId;
  readonly instance: string;
  readonly opts: ResolvedTcpOptions;
  readonly secret: Uint8Array | undefined;
  readonly counters: TcpTransportStats;
  readonly log: Logger;
  readonly warn: WarnLimiter;
  /** Dialer side: selection id of the connection last used with `peer` (see Select). */
  lastSelect(peer: NodeId): number | undefined;
  /** The handshake (and authentication) completed. */
  authenticated(conn: Connection): void;
  /** The lower-id peer chose this connection. */
  selected(conn: Connection, id: number): void;
  /** A batch frame arrived on an active connection. */
  batch(conn: Connection, body: Uint8Array): void;
  /** The socket can take more data. */
  drained(conn: Connection): void;
  /** The connection is finished (whatever the reason). Called once. */
  closed(conn: Connection, reason: CloseReason | 'shutdown' | 'refused' | 'ended'): void;
}

export type ConnectionState = 'connecting' | 'handshake' | 'authenticated' | 'active' | 'closed';

/** Grace period for a Reject frame to reach the peer before the socket is destroyed. */
const REJECT_LINGER_MS = 500;

export class Connection implements FrameSink {
  state: ConnectionState;
  /** Node id of the peer, once its hello arrived (dialer: the node we meant to reach). */
  peerId: NodeId | undefined;
  peerHello: Hello | undefined;
  /** Largest frame body the peer accepts. */
  peerMaxFrame = 0;
  /** Set when the connection became the selected one of its pair. */
  selectId = 0;
  waitingDrain = false;
  lastRecvAt = Date.now();
  lastSentAt = Date.now();
  private readonly decoder: FrameDecoder;
  private readonly ourHello: Buffer;
  private peerHelloBytes: Uint8Array | undefined;
  private timer: NodeJS.Timeout | undefined;
  private releasePending: (() => void) | undefined;

  constructor(
    private readonly host: ConnectionHost,
    readonly socket: Socket,
    readonly direction: 'in' | 'out',
    /** Dialer: the node this connection is meant to reach. */
    readonly target: NodeId | undefined,
    /** For logs: the peer's address. */
    readonly remote: string,
    opts: { connected: boolean; deadlineMs: number; releasePending?: () => void },
  ) {
    this.peerId = target;
    this.state = opts.connected ? 'handshake' : 'connecting';
    this.releasePending = opts.releasePending;
    this.decoder = new FrameDecoder(this);
    const hello: Hello = {
      cluster: host.opts.clusterId,
      node: host.nodeId,
      instance: host.instance,
      nonce: newNonce(),
      role: direction === 'out' ? 'dial' : 'accept',
      auth: host.secret ? 'hmac-sha256' : 'none',
      maxFrameBytes: host.opts.maxFrameBytes,
    };
    if (direction === 'out') {
      hello.to = target;
      const last = host.lastSelect(target!);
      if (last !== undefined) hello.lastSelect = last;
    }
    this.ourHello = encodeJson(hello);
    this.armTimer(opts.deadlineMs, opts.connected ? 'handshakeTimeout' : 'connectTimeout');
    socket.on('data', this.onData);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
    socket.on('end', this.onEnd);
    socket.on('drain', this.onDrain);
  }

  /** The transport/TLS connection is up: start the handshake. */
  begin(): void {
    if (this.state === 'closed') return;
    if (this.state === 'connecting') {
      this.state = 'handshake';
      this.armTimer(this.host.opts.handshakeTimeoutMs, 'handshakeTimeout');
    }
    this.socket.setNoDelay(true);
    this.socket.setKeepAlive(true, Math.max(1000, this.host.opts.idleTimeoutMs));
    this.socket.cork();
    this.rawWrite(preamble(), false);
    this.rawWrite(frame(FrameType.Hello, this.ourHello));
    this.socket.uncork();
  }

  private armTimer(ms: number, reason: 'handshakeTimeout' | 'connectTimeout'): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const phase = reason === 'connectTimeout' ? 'connecting' : 'handshake';
      this.fail(reason, `${phase} did not complete within ${ms} ms`);
    }, ms);
  }

  // ---- inbound -------------------------------------------------------------------------------

  private readonly onData = (chunk: Buffer): void => {
    const c = this.host.counters;
    c.bytesReceived += chunk.byteLength;
    // Large partial frames count as progress, so a big snapshot chunk on a slow link is not "idle";
    // a trickle of bytes is not.
    if (chunk.byteLength >= 1024) this.lastRecvAt = Date.now();
    try {
      this.decoder.push(chunk);
    } catch (e) {
      if (this.state === 'closed') return;
      if (e instanceof FrameError || (TesseraError.isInstance(e) && e.code === 'FRAME_INVALID')) this.fail('protocol', (e as Error).message);
      else this.fail('protocol', `internal error handling a frame: ${(e as Error)?.message ?? String(e)}`, 'error');
    }
  };

  /** FrameSink: the peer's preamble. */
  preamble(version: number): void {
    if (version !== PROTOCOL_VERSION) this.refuse('version', `peer speaks protocol version ${version}; this node speaks ${PROTOCOL_VERSION}`);
  }

  /** FrameSink: one complete frame. */
  frame(type: FrameType, body: Uint8Array): void {
    if (this.state === 'closed') return;
    const c = this.host.counters;
    c.framesReceived++;
    this.lastRecvAt = Date.now();
    switch (type) {
      case FrameType.Batch:
        if (this.state === 'active') this.host.batch(this, body);
        else throw new FrameError(`batch frame before the connection was selected (state ${this.state})`);
        return;
      case FrameType.Ping:
      case FrameType.Pong:
        if (this.state !== 'active' && this.state !== 'authenticated') throw new FrameError('keep-alive before authentication');
        if (type === FrameType.Ping) this.rawWrite(frame(FrameType.Pong));
        return;
      case FrameType.Hello:
        this.onHello(body);
        return;
      case FrameType.Auth:
        this.onAuth(body);
        return;
      case FrameType.Select:
        this.onSelect(body);
        return;
      case FrameType.Reject:
        this.onReject(body);
        return;
    }
  }

  private onHello(body: Uint8Array): void {
    if (this.peerHello) throw new FrameError('second hello');
    const hello = decodeHello(body);
    this.peerHelloBytes = Uint8Array.prototype.slice.call(body);
    const { opts, nodeId } = this.host;
    if (hello.cluster !== opts.clusterId) return this.refuse('cluster', `peer ${JSON.stringify(hello.node)} belongs to cluster ${JSON.stringify(hello.cluster)}, this node to ${JSON.stringify(opts.clusterId)}`);
    if (hello.node === nodeId) return this.refuse('identity', `peer claims this node's own id ${JSON.stringify(nodeId)}`);
    if (this.direction === 'in') {
      if (hello.role !== 'dial') throw new FrameError('accepted connection received an accept-side hello');
      if (hello.to !== undefined && hello.to !== nodeId) return this.refuse('identity', `peer ${JSON.stringify(hello.node)} dialed node ${JSON.stringify(hello.to)}, but this is ${JSON.stringify(nodeId)} (stale address?)`);
    } else {
      if (hello.role !== 'accept') throw new FrameError('dialed connection received a dial-side hello');
      if (hello.node !== this.target) return this.refuse('identity', `dialed ${JSON.stringify(this.target)} at ${this.remote} but reached ${JSON.stringify(hello.node)} (stale address?)`);
    }
    const ours = this.host.secret ? 'hmac-sha256' : 'none';
    if (hello.auth !== ours) {
      return this.refuse('auth', ours === 'none' ? `peer ${JSON.stringify(hello.node)} requires shared-secret authentication, which this node is not configured for` : `peer ${JSON.stringify(hello.node)} does not authenticate with the cluster's shared secret`);
    }
    if (opts.tls?.requireNodeIdInCert) {
      const cert = (this.socket as TLSSocket).getPeerCertificate?.();
      const names = certNames(cert);
      if (names.length > 0 || this.direction === 'out' || opts.tls.mutual) {
        if (!names.includes(hello.node)) return this.refuse('identity', `peer claims node id ${JSON.stringify(hello.node)} but its certificate names ${names.map((n) => JSON.stringify(n)).join(', ') || 'nothing'}`);
      }
    }
    this.peerHello = hello;
    this.peerId = hello.node;
    this.peerMaxFrame = hello.maxFrameBytes;
    if (this.host.secret) {
      this.rawWrite(frame(FrameType.Auth, proof(this.host.secret, this.direction === 'out' ? 'dial' : 'accept', this.ourHello, this.peerHelloBytes)));
    } else {
      this.authenticatedNow();
    }
  }

  private onAuth(body: Uint8Array): void {
    if (!this.peerHello || !this.host.secret || this.state !== 'handshake') throw new FrameError('unexpected auth frame');
    if (!verifyProof(this.host.secret, body, this.peerHello.role, this.peerHelloBytes!, this.ourHello)) {
      return this.refuse('auth', `peer ${JSON.stringify(this.peerHello.node)} failed shared-secret authentication (wrong secret)`);
    }
    this.authenticatedNow();
  }

  private authenticatedNow(): void {
    this.state = 'authenticated';
    this.decoder.limit = this.host.opts.maxFrameBytes;
    this.host.counters.connections.handshakes++;
    this.releasePending?.();
    this.releasePending = undefined;
    this.host.authenticated(this);
  }

  private onSelect(body: Uint8Array): void {
    if (this.state !== 'authenticated' && this.state !== 'active') throw new FrameError(`select frame in state ${this.state}`);
    if (this.host.nodeId < this.peerId!) throw new FrameError('select frame from the higher node id');
    if (body.byteLength !== 4) throw new FrameError(`select frame of ${body.byteLength} bytes`);
    const id = Buffer.from(body.buffer, body.byteOffset, 4).readUInt32BE(0);
    if (id === 0) throw new FrameError('select id 0');
    this.host.selected(this, id);
  }

  private onReject(body: Uint8Array): void {
    const r = decodeReject(body);
    this.host.counters.refusedByPeers++;
    const fields = { peer: this.peerId, remote: this.remote, code: r.code, reason: r.reason };
    if (r.code === 'duplicate') this.host.log.debug(fields, 'peer kept another connection');
    else this.host.warn.warn(`refused:${r.code}`, fields, `refused by peer: ${r.reason}`);
    this.close('refused');
  }

  private readonly onError = (err: Error & { code?: string }): void => {
    if (this.state === 'closed') return;
    const tlsFailure = typeof err.code === 'string' && (err.code.startsWith('ERR_SSL') || err.code.startsWith('ERR_TLS') || TLS_VERIFY_CODES.has(err.code));
    if (tlsFailure) this.fail('tls', `TLS failure: ${err.code}: ${err.message.split('\n')[0]}`);
    else this.fail('error', `socket error: ${err.code ?? ''} ${err.message}`.trim(), this.state === 'active' ? 'info' : 'debug');
  };

  private readonly onEnd = (): void => {
    if (this.state !== 'closed') this.close('ended', `peer closed the connection`);
  };

  private readonly onClose = (): void => {
    if (this.state !== 'closed') this.close('ended', 'connection closed');
  };

  private readonly onDrain = (): void => {
    if (!this.waitingDrain) return;
    this.waitingDrain = false;
    this.host.drained(this);
  };

  // ---- outbound ------------------------------------------------------------------------------

  /** Makes this the selected connection of its pair (stops the handshake clock). */
  markActive(selectId: number): void {
    this.selectId = selectId;
    this.state = 'active';
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Lower node id: tells the peer this connection carries traffic. */
  sendSelect(id: number): void {
    const body = Buffer.allocUnsafe(4);
    body.writeUInt32BE(id, 0);
    this.rawWrite(frame(FrameType.Select, body));
  }

  ping(): void {
    this.rawWrite(frame(FrameType.Ping));
  }

  /**
   * Writes one batch frame: `buf[5, end)` holds the encoded batch; the header is written into
   * `buf[0, 5)` here. `written` gets `buf` back once the socket is done with it (not after an error).
   * Returns false if the caller must wait for `drained`.
   */
  writeBatch(buf: Buffer, end: number, messages: number, written: (buf: Buffer) => void): boolean {
    const c = this.host.counters;
    c.messagesSent += messages;
    buf.writeUInt32BE(end - HEADER_BYTES + 1, 0);
    buf[4] = FrameType.Batch;
    const ok = this.rawWrite(buf.subarray(0, end), true, (err) => {
      if (!err) written(buf);
    });
    if (!ok) this.waitingDrain = true;
    return ok;
  }

  private rawWrite(buf: Uint8Array, countFrame = true, done?: (err?: Error | null) => void): boolean {
    if (this.socket.destroyed) return false;
    const c = this.host.counters;
    if (countFrame) c.framesSent++;
    c.bytesSent += buf.byteLength;
    this.lastSentAt = Date.now();
    return this.socket.write(buf, done);
  }

  // ---- closing -------------------------------------------------------------------------------

  /** Refuses the peer: counts and logs `reason`, tells the peer why, closes. */
  refuse(code: CloseReason, reason: string, level: 'warn' | 'info' | 'debug' = 'warn'): void {
    if (this.state === 'closed') return;
    this.count(code);
    this.logClose(code, reason, level);
    this.rawWrite(frame(FrameType.Reject, encodeJson({ code, reason })));
    this.finish('refused');
    this.socket.end();
    // Give the Reject a moment to leave, then make sure the socket goes away even if the peer stalls.
    const t = setTimeout(() => this.socket.destroy(), REJECT_LINGER_MS);
    this.socket.once('close', () => clearTimeout(t));
  }

  /** Closes for a counted, logged reason (no Reject frame: the peer misbehaved or went away). */
  fail(code: CloseReason, reason: string, level: 'warn' | 'info' | 'debug' | 'error' = 'warn'): void {
    if (this.state === 'closed') return;
    this.count(code);
    this.logClose(code, reason, level);
    this.finish(code);
    this.socket.destroy();
  }

  /** Closes without counting (shutdown, replaced by the transport's choice, peer went away). */
  close(reason: 'shutdown' | 'refused' | 'ended' | 'replaced', detail?: string): void {
    if (this.state === 'closed') return;
    if (reason === 'replaced') this.count('replaced');
    if (detail && reason !== 'shutdown') {
      this.host.log[this.selectId !== 0 ? 'info' : 'debug']({ peer: this.peerId, remote: this.remote, direction: this.direction, reason }, detail);
    }
    this.finish(reason === 'replaced' ? 'replaced' : reason);
    this.socket.destroy();
  }

  private count(code: CloseReason): void {
    const c = this.host.counters;
    c.closed[code]++;
    if (code === 'auth' || code === 'tls' || code === 'identity') c.authFailures++;
  }

  private logClose(code: CloseReason, reason: string, level: 'warn' | 'info' | 'debug' | 'error'): void {
    const fields = { peer: this.peerId, remote: this.remote, direction: this.direction, code };
    const msg = `closing connection: ${reason}`;
    if (level === 'warn') this.host.warn.warn(code, fields, msg);
    else this.host.log[level](fields, msg);
  }

  private finish(reason: CloseReason | 'shutdown' | 'refused' | 'ended'): void {
    this.state = 'closed';
    this.decoder.halt();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.releasePending?.();
    this.releasePending = undefined;
    this.host.closed(this, reason);
  }
}

/** OpenSSL verification codes Node reports as `err.code` on TLS sockets. */
const TLS_VERIFY_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'HOSTNAME_MISMATCH',
  'ECONNRESET_TLS',
]);

/** Common name and DNS subject-alt-names of a certificate. */
export function certNames(cert: PeerCertificate | undefined): string[] {
  if (!cert || Object.keys(cert).length === 0) return [];
  const names: string[] = [];
  const cn = cert.subject?.CN;
  if (typeof cn === 'string') names.push(cn);
  else if (Array.isArray(cn)) names.push(...(cn as string[]));
  for (const part of (cert.subjectaltname ?? '').split(',')) {
    const p = part.trim();
    if (p.startsWith('DNS:')) names.push(p.slice(4));
  }
  return names;
}
