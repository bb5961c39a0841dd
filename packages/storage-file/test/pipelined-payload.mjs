// The bytes of entry `index` in the pipelined crash test (child and checker agree on them).
export function payload(index) {
  const size = 1 + ((index * 7919) % 700);
  const out = new Uint8Array(size);
  for (let k = 0; k < size; k++) out[k] = (index * 31 + k * 7) & 0xff;
  return out;
}
