#!/usr/bin/env node
/** The `tessera` executable. */
import { main } from '../cli.js';

const code = await main(process.argv.slice(2));
// Let buffered output drain, then exit even if a library left a handle open.
process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
