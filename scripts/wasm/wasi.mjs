// Runs a wasm32-wasip1 command under Node's WASI with the given arguments; prints its output, then its status.
import { readFileSync } from 'node:fs';
import { WASI } from 'node:wasi';
const wasi = new WASI({ version: 'preview1', args: ['probe', ...process.argv.slice(3)], env: {}, returnOnExit: true });
const { instance } = await WebAssembly.instantiate(readFileSync(process.argv[2]), wasi.getImportObject());
const code = wasi.start(instance);
console.log(`status ${code}`);
