// Runs the probe of tests/fixtures/wasm-probe (a wasm32-unknown-unknown cdylib) and prints what probe() returns.
import { readFileSync } from 'node:fs';
const { instance } = await WebAssembly.instantiate(readFileSync(process.argv[2]), {});
console.log(String(instance.exports.probe()));
