/**
 * The client protocol server of a node: length-prefixed MessagePack frames over TCP (or TLS),
 * requests validated with zod, answers and events of one event-loop turn written as one frame.
 * A malformed frame closes that connection only.
 */
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TlsOptions } from 'node:tls';
import { errorToWire, FrameDecoder, encodeFrame, isCommandRequest, isCommandRunRequest, requestSchemas, ResponseKind, type CommandRequest, type CommandRunRequest, type RequestKind } from '@tessera/client/protocol';
import { FrameError, type Logger } from '@tessera/raft';

/** What the server asks of the node for each request kind. Handlers answer `[value, index]`. */
export interface RequestHandler {
  handle(kind: RequestKind, request: unknown[], conn: ClientConnection): Promise<[unknown, number]> | [unknown, number];
  /** The `cmd` hot path: queues the command; its answer is sent on `conn` later. Throws to refuse it at once. */
  submitCommand(request: CommandRequest, conn: AnswerSink): void;
  /** The same for a `cmds` run; throws to refuse the whole run at once. */
  submitCommands(request: CommandRunRequest, conn: AnswerSink): void;
  /** Extra wire fields for an error (e.g. the leader's client address). */
  describeError(err: unknown, request: unknown[]): { leaderAddress?: string; partition?: number };
  connectionClosed(conn: ClientConnection): void;
}

export interface ClientServerOptions {
  readonly listen: { readonly host: string; readonly port: number };
  readonly maxFrameBytes: number;
  readonly tls?: TlsOptions;
  readonly logger: Logger;
}

/** Where answers of a request go: `send` queues one protocol message. */
export interface AnswerSink {
  send(msg: unknown[]): void;
}

/** One client's connection, as handlers see it. */
export class ClientConnection implements AnswerSink {
  private outbox: unknown[] = [];
  private scheduled = false;
  closed = false;

  constructor(readonly socket: Socket) {}

  /** Queues a message; everything queued in one turn is written as one frame. */
  send(msg: unknown[]): void {
    if (this.closed) return;
    this.outbox.push(msg);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  /** Pushes an event of subscription `subId`. */
  event(subId: number, event: unknown, index: number): void {
    this.send([0, ResponseKind.Event, subId, event, index]);
  }

  /** Tells the client that subscription `subId` ended here and must be made again. */
  subscriptionEnded(subId: number, reason: string): void {
    this.send([0, ResponseKind.SubscriptionEnded, subId, reason]);
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    if (this.closed || this.outbox.length === 0) return;
    const msgs = this.outbox;
    this.outbox = [];
    this.socket.write(encodeFrame(msgs));
  };
}

export class ClientServer {
  private server: Server | undefined;
  private readonly conns = new Set<ClientConnection>();
  address: { host: string; port: number } | undefined;
  /** Connections closed because they sent malformed frames. */
  malformed = 0;

  constructor(
    private readonly handler: RequestHandler,
    private readonly opts: ClientServerOptions,
  ) {}

  async start(): Promise<{ host: string; port: number }> {
    const onSocket = (socket: Socket) => this.accept(socket);
    const server = this.opts.tls ? createTlsServer(this.opts.tls, onSocket) : createTcpServer({ noDelay: true }, onSocket);
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: this.opts.listen.host, port: this.opts.listen.port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const a = server.address();
    this.address = typeof a === 'object' && a ? { host: a.address, port: a.port } : { ...this.opts.listen };
    return this.address;
  }

  private accept(socket: Socket): void {
    socket.setNoDelay(true);
    const conn = new ClientConnection(socket);
    this.conns.add(conn);
    const decoder = new FrameDecoder(this.opts.maxFrameBytes);
    socket.on('data', (d: Buffer) => {
      try {
        decoder.push(d, (msgs) => this.onMessages(conn, msgs));
      } catch (err) {
        this.malformed++;
        this.opts.logger.warn({ err: (err as Error).message, remote: socket.remoteAddress }, 'closing client connection after a malformed frame');
        socket.destroy();
      }
    });
    const done = () => {
      if (conn.closed) return;
      conn.closed = true;
      this.conns.delete(conn);
      this.handler.connectionClosed(conn);
    };
    socket.on('error', done);
    socket.on('close', done);
  }

  private onMessages(conn: ClientConnection, msgs: unknown[]): void {
    for (const m of msgs) {
      if (!Array.isArray(m) || typeof m[0] !== 'number' || !Number.isSafeInteger(m[0]) || m[0] < 1) throw new FrameError('a request must be an array starting with a positive integer id');
      const id = m[0];
      const kind = m[1] as RequestKind;
      if (kind === 'cmd' || kind === 'cmds') {
        this.onCommand(conn, kind, m);
        continue;
      }
      // Every other kind: validated with its zod schema.
      const schema = typeof kind === 'string' && Object.prototype.hasOwnProperty.call(requestSchemas, kind) ? requestSchemas[kind] : undefined;
      if (!schema) {
        conn.send([id, ResponseKind.Error, { code: 'INVALID_REQUEST', message: `unknown request kind ${JSON.stringify(kind)}`, retryable: false }]);
        continue;
      }
      const parsed = schema.safeParse(m);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        conn.send([id, ResponseKind.Error, { code: 'INVALID_REQUEST', message: `${kind}[${issue.path.join('.')}]: ${issue.message}`, retryable: false }]);
        continue;
      }
      const req = parsed.data as unknown[];
      let r: Promise<[unknown, number]> | [unknown, number];
      try {
        r = this.handler.handle(kind, req, conn);
      } catch (err) {
        conn.send([id, ResponseKind.Error, errorToWire(err, this.handler.describeError(err, req))]);
        continue;
      }
      if (Array.isArray(r)) conn.send([id, ResponseKind.Ok, r[0], r[1]]);
      else
        r.then(
          ([value, index]) => conn.send([id, ResponseKind.Ok, value, index]),
          (err) => conn.send([id, ResponseKind.Error, errorToWire(err, this.handler.describeError(err, req))]),
        );
    }
  }

  /**
   * The hot path: `cmd` and `cmds` requests are checked without allocating (falling back to the
   * zod schema for its error message) and queued with no promise per command; the node answers
   * each command on the connection.
   */
  private onCommand(conn: ClientConnection, kind: 'cmd' | 'cmds', m: unknown[]): void {
    const id = m[0] as number;
    if (!(kind === 'cmd' ? isCommandRequest(m) : isCommandRunRequest(m))) {
      const parsed = requestSchemas[kind].safeParse(m);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        conn.send([id, ResponseKind.Error, { code: 'INVALID_REQUEST', message: `${kind}[${issue.path.join('.')}]: ${issue.message}`, retryable: false }]);
        return;
      }
    }
    try {
      if (kind === 'cmd') this.handler.submitCommand(m as CommandRequest, conn);
      else this.handler.submitCommands(m as CommandRunRequest, conn);
    } catch (err) {
      const wire = errorToWire(err, this.handler.describeError(err, m));
      if (kind === 'cmd') conn.send([id, ResponseKind.Error, wire]);
      else for (const each of m[10] as number[]) conn.send([each, ResponseKind.Error, wire]);
    }
  }

  async close(): Promise<void> {
    for (const c of this.conns) c.socket.destroy();
    this.conns.clear();
    const s = this.server;
    this.server = undefined;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
}
