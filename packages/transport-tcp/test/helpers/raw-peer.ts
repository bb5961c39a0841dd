/**
 * A hand-driven peer speaking the wire protocol over a plain socket, for feeding a transport
 * malformed or hostile input. It uses the package's own frame and handshake helpers.
 */
import { connect, type Socket } from 'node:net';
import { FrameDecoder, FrameType, frame, preamble, PROTOCOL_VERSION } from '../../src/frame.js';
import { decodeHello, encodeJson, newInstanceId, newNonce, proof, type Hello } from '../../src/handshake.js';
import type { Logger } from '@tessera/raft';

export interface RawPeerOptions {
  nodeId: string;
  /** The node id the peer claims to dial. */
  to: string;
  clusterId?: string;
  secret?: string;
  version?: number;
  /** Override the proof (to send a wrong one). */
  badProof?: boolean;
}

export class RawPeer {
  readonly socket: Socket;
  readonly frames: { type: number; body: Buffer }[] = [];
  peerHello: Hello | undefined;
  /** Resolves when the socket closes. */
  readonly closed: Promise<void>;
  private readonly decoder: FrameDecoder;
  private ourHello: Buffer | undefined;
  private decodeError: Error | undefined;

  private constructor(socket: Socket) {
    this.socket = socket;
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => {});
    this.decoder = new FrameDecoder({ preamble: () => {}, frame: (type, body) => this.frames.push({ type, body: Buffer.from(body) }) }, 1 << 30);
    socket.on('data', (chunk) => {
      try {
        this.decoder.push(chunk);
      } catch (e) {
        this.decodeError = e as Error;
      }
    });
  }

  static async connect(port: number): Promise<RawPeer> {
    const socket = connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawPeer(socket);
  }

  write(bytes: Uint8Array): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  /** Sends the preamble and a dialer hello. */
  hello(o: RawPeerOptions): void {
    const hello: Hello = {
      cluster: o.clusterId ?? 'test-cluster',
      node: o.nodeId,
      instance: newInstanceId(),
      nonce: newNonce(),
      role: 'dial',
      to: o.to,
      auth: o.secret ? 'hmac-sha256' : 'none',
      maxFrameBytes: 64 * 1024 * 1024,
    };
    this.ourHello = encodeJson(hello);
    this.write(preamble(o.version ?? PROTOCOL_VERSION));
    this.write(frame(FrameType.Hello, this.ourHello));
  }

  /** Waits for the transport's hello, answers the auth challenge if any, waits for Select. */
  async handshake(o: RawPeerOptions): Promise<number> {
    this.hello(o);
    const h = await this.waitFrame(FrameType.Hello);
    this.peerHello = decodeHello(h.body);
    if (o.secret) {
      const p = proof(Buffer.from(o.secret), 'dial', this.ourHello!, h.body);
      if (o.badProof) p[0]! ^= 1;
      this.write(frame(FrameType.Auth, p));
    }
    // Higher node ids wait for the transport to select the connection.
    if (o.nodeId > o.to) {
      const s = await this.waitFrame(FrameType.Select);
      return s.body.readUInt32BE(0);
    }
    return 0;
  }

  async waitFrame(type: number, timeoutMs = 5_000): Promise<{ type: number; body: Buffer }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const f = this.frames.find((x) => x.type === type);
      if (f) return f;
      if (this.decodeError) throw this.decodeError;
      if (this.socket.destroyed && this.frames.every((x) => x.type !== type)) throw new Error(`socket closed before frame type ${type} arrived (got ${this.frames.map((x) => x.type).join(',') || 'nothing'})`);
      if (Date.now() > deadline) throw new Error(`frame type ${type} did not arrive`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** The Reject the transport sent, if any. */
  reject(): { code: string; reason: string } | undefined {
    const f = this.frames.find((x) => x.type === FrameType.Reject);
    return f ? JSON.parse(f.body.toString('utf8')) : undefined;
  }

  /** Waits until the transport closed the connection; fails after `timeoutMs`. */
  async waitClosed(timeoutMs = 5_000): Promise<void> {
    let t: NodeJS.Timeout | undefined;
    await Promise.race([
      this.closed,
      new Promise((_, reject) => {
        t = setTimeout(() => reject(new Error('connection was not closed by the transport')), timeoutMs);
      }),
    ]);
    clearTimeout(t);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** A logger that records lines, for asserting that a refusal reason was logged. */
export function recordingLogger(): Logger & { lines: { level: string; msg: string; fields: Record<string, unknown> }[]; has(level: string, re: RegExp): boolean } {
  const lines: { level: string; msg: string; fields: Record<string, unknown> }[] = [];
  const rec = (level: string) => (fields: object, msg?: string) => {
    lines.push({ level, msg: msg ?? '', fields: fields as Record<string, unknown> });
  };
  return {
    lines,
    debug: rec('debug'),
    info: rec('info'),
    warn: rec('warn'),
    error: rec('error'),
    has(level, re) {
      return lines.some((l) => l.level === level && re.test(l.msg));
    },
  };
}
