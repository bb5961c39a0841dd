/**
 * The `tessera` command line: every command, its flags and help. Exit codes: 0 success,
 * 1 runtime failure, 2 usage or configuration error.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { logLevels } from './config/schema.js';
import { exitCodeOf, ExitCode } from './errors.js';

/** Where a command writes: stdout lines, stderr lines. */
export interface Io {
  out(line: string): void;
  err(line: string): void;
}

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => (v: string) => {
  const n = Number(v);
  if (!/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected an integer from ${min}${max === Number.MAX_SAFE_INTEGER ? '' : ` to ${max}`}`);
  return n;
};

const logLevelOption = () => new Option('--log-level <level>', 'log level of the node processes (overrides log.level)').choices(logLevels);
const dirOption = () => new Option('--dir <dir>', 'directory of the local cluster (`cluster up`) whose endpoints to use').default('./.tessera');
const consistencyOption = () => new Option('--consistency <level>', 'read consistency').choices(['linearizable', 'lease', 'sequential', 'stale']).default('linearizable');

function packageVersion(): string {
  return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

/** Builds the program. `setExit` receives the exit code of the action that ran. */
export function buildProgram(io: Io, setExit: (code: number) => void): Command {
  const program = new Command('tessera')
    .description('Tessera: stateful, fault-tolerant components on Raft. Run nodes and local clusters, inspect them, read and write resources, run the benchmarks and the demo.')
    .version(packageVersion())
    .showHelpAfterError('(add --help for usage)')
    .configureOutput({ writeOut: (s) => process.stdout.write(s), writeErr: (s) => process.stderr.write(s) })
    .exitOverride();
  program.addHelpText('after', '\nExit codes: 0 success, 1 runtime failure, 2 usage or configuration error.\nDocs: docs/cli.md');

  const node = program.command('node').description('run a single node');
  node
    .command('start')
    .description('start one node from a configuration file (JSON or YAML; TESSERA_* environment variables override it) and run until SIGINT/SIGTERM')
    .addOption(new Option('--config <file>', 'node configuration file, JSON or YAML (schema: `tessera node schema`)').env('TESSERA_CONFIG').makeOptionMandatory())
    .addOption(logLevelOption())
    .action(async (o: { config: string; logLevel?: (typeof logLevels)[number] }) => {
      const { nodeStart } = await import('./commands/node-start.js');
      setExit(await nodeStart({ config: o.config, ...(o.logLevel ? { logLevel: o.logLevel } : {}) }));
    });
  node
    .command('schema')
    .description('print the JSON Schema of the node configuration')
    .action(async () => {
      const { nodeConfigJsonSchema } = await import('./config/schema.js');
      io.out(JSON.stringify(nodeConfigJsonSchema(), null, 2));
      setExit(0);
    });

  const cluster = program.command('cluster').description('local clusters of node processes');
  cluster
    .command('up')
    .description('start a local cluster on 127.0.0.1 (ephemeral ports), print its endpoints, run until SIGINT/SIGTERM; restarting on the same --dir recovers the data')
    .addOption(new Option('--nodes <n>', 'number of node processes').argParser(int(1, 64)).default(3))
    .addOption(new Option('--dir <dir>', 'where the cluster keeps its state, configuration, logs and data').default('./.tessera'))
    .addOption(new Option('--storage <engine>', 'storage engine').choices(['file', 'memory', 'rocksdb']).default('file'))
    .addOption(new Option('--transport <kind>', 'Raft transport').choices(['tcp', 'nats']).default('tcp'))
    .option('--nats-url <url>', 'NATS server for --transport nats')
    .addOption(new Option('--partitions <n>', 'number of partitions').argParser(int(1, 65_536)).default(8))
    .addOption(new Option('--replicas <n>', 'replicas per partition').argParser(int(1, 15)).default(3))
    .option('--network <module[#export]>', 'host a component network on every node: an ES module exporting it (repeatable; kept for restarts)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--json', 'print the endpoints as one JSON object', false)
    .addOption(logLevelOption())
    .action(async (o: { nodes: number; dir: string; storage: 'file' | 'memory' | 'rocksdb'; transport: 'tcp' | 'nats'; natsUrl?: string; partitions: number; replicas: number; network: string[]; json: boolean; logLevel?: string }, cmd: Command) => {
      const { clusterUp } = await import('./commands/cluster-up.js');
      const explicit = new Set(['nodes', 'partitions', 'replicas', 'storage', 'transport'].filter((k) => cmd.getOptionValueSource(k) === 'cli'));
      const networks = o.network.map((n) => {
        const i = n.lastIndexOf('#');
        return i > 0 ? { module: n.slice(0, i), export: n.slice(i + 1) } : { module: n, export: 'default' };
      });
      setExit(await clusterUp({ ...o, networks, explicit }, io.out, io.err));
    });

  program
    .command('status')
    .description("print every node's partitions: role, term, leader, commit and applied indices, follower lag")
    .option('--cluster <endpoints>', "admin endpoints (host:port,...); the other members are found through them (default: the cluster running in --dir)")
    .addOption(dirOption())
    .option('--json', 'print JSON', false)
    .action(async (o: { cluster?: string; dir: string; json: boolean }) => {
      const { status } = await import('./commands/status.js');
      setExit(await status(o, io.out));
    });

  const clientOpts = (c: Command) =>
    c
      .option('--cluster <endpoints>', 'client endpoints (host:port,...) (default: the cluster running in --dir)')
      .addOption(dirOption())
      .addOption(new Option('--timeout <ms>', 'give up after this long (the outcome of a write is then unknown)').argParser(int(10)).default(15_000));

  const kv = program.command('kv').description('read and write keys of a map resource');
  clientOpts(kv.command('put').description('set KEY to VALUE').argument('<key>').argument('<value>').option('--map <name>', 'map resource', 'kv').option('--json', 'parse VALUE as JSON', false)).action(
    async (key: string, value: string, o: { cluster?: string; dir: string; timeout: number; map: string; json: boolean }) => {
      const { kvPut } = await import('./commands/kv.js');
      setExit(await kvPut(key, value, { ...o, timeoutMs: o.timeout }, io.out));
    },
  );
  clientOpts(kv.command('get').description('print the value of KEY (exit 1 if absent)').argument('<key>').option('--map <name>', 'map resource', 'kv').addOption(consistencyOption())).action(
    async (key: string, o: { cluster?: string; dir: string; timeout: number; map: string; consistency: 'linearizable' }) => {
      const { kvGet } = await import('./commands/kv.js');
      setExit(await kvGet(key, { ...o, timeoutMs: o.timeout }, io.out, io.err));
    },
  );
  clientOpts(kv.command('del').description('delete KEY').argument('<key>').option('--map <name>', 'map resource', 'kv')).action(async (key: string, o: { cluster?: string; dir: string; timeout: number; map: string }) => {
    const { kvDel } = await import('./commands/kv.js');
    setExit(await kvDel(key, { ...o, timeoutMs: o.timeout }, io.out));
  });

  const counter = program.command('counter').description('counter resources');
  clientOpts(counter.command('incr').description('add N (default 1) to counter NAME and print the new value').argument('<name>').addOption(new Option('--by <n>', 'amount to add (may be negative)').argParser(int(-(2 ** 52), 2 ** 52)).default(1))).action(
    async (name: string, o: { cluster?: string; dir: string; timeout: number; by: number }) => {
      const { counterIncr } = await import('./commands/kv.js');
      setExit(await counterIncr(name, o.by, { ...o, timeoutMs: o.timeout }, io.out));
    },
  );
  clientOpts(counter.command('get').description('print the value of counter NAME').argument('<name>').addOption(consistencyOption())).action(async (name: string, o: { cluster?: string; dir: string; timeout: number; consistency: 'linearizable' }) => {
    const { counterGet } = await import('./commands/kv.js');
    setExit(await counterGet(name, { ...o, timeoutMs: o.timeout }, io.out));
  });

  program
    .command('bench')
    .description('run a benchmark of the repository, the same as `pnpm bench NAME [--quick] [--json] [...]`')
    .argument('[name]', 'benchmark name (none: list them)')
    .argument('[args...]', 'its flags, e.g. --quick --json')
    .allowUnknownOption(true)
    .helpOption('-h, --help', 'display help for command')
    .action(async (name: string | undefined, args: string[]) => {
      const { bench } = await import('./commands/bench.js');
      setExit(await bench(name ? [name, ...args] : ['--help']));
    });

  registerDemo(program, io, setExit);
  return program;
}

function registerDemo(program: Command, io: Io, setExit: (code: number) => void): void {
  program
    .command('demo')
    .description('the word-count demo: a 3-node cluster (file storage, TCP) counts the words of a book while the leader of one counter partition is SIGKILLed and restarted; ends with verified counts, events/s, failover time, messages lost and double-counted')
    .option('--dir <dir>', 'keep the cluster here (default: a temporary directory, removed afterwards)')
    .option('--text <file>', 'text to stream (default: the bundled public-domain book)')
    .addOption(new Option('--lines <n>', 'stream only the first N lines').argParser(int(1)))
    .addOption(new Option('--kill-at <fraction>', 'kill the leader after this fraction of the lines').argParser((v) => {
      const f = Number(v);
      if (!(f > 0 && f < 1)) throw new InvalidArgumentError('expected a number between 0 and 1');
      return f;
    }).default(0.3))
    .option('--no-kill', 'do not kill anything (a baseline run)')
    .option('--json', 'print the summary as one JSON object at the end', false)
    .addOption(logLevelOption().default('warn'))
    .action(async (o: { dir?: string; text?: string; lines?: number; killAt: number; kill: boolean; json: boolean; logLevel: string }) => {
      const { demo } = await import('./demo/run.js');
      setExit(await demo(o, io));
    });
}

/** Runs the command line `argv` (without node and script); resolves with the exit code. */
export async function main(argv: readonly string[], io: Io = { out: (s) => process.stdout.write(s + '\n'), err: (s) => process.stderr.write(s + '\n') }): Promise<number> {
  let code: number = ExitCode.ok;
  const program = buildProgram(io, (c) => (code = c));
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander printed the help or the message already; help asked for exits 0, anything else is a usage error.
      return err.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    }
    io.err(`error: ${(err as Error).message}`);
    return exitCodeOf(err);
  }
}
