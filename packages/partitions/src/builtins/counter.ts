import { z } from 'zod';
import { defineResource } from '../resource.js';

const num = z.number().finite();

/** The built-in `counter`: `add` (returns the new value), `set` (returns the previous), `cas`; query `get`. */
export const counterResource = defineResource<{ value: number }>({
  type: 'counter',
  create: () => ({ value: 0 }),
  commands: {
    add: {
      input: num,
      apply: (s, d) => (s.value += d),
    },
    set: {
      input: num,
      apply(s, v) {
        const prev = s.value;
        s.value = v;
        return prev;
      },
    },
    cas: {
      input: z.tuple([num, num]),
      apply(s, [expected, next]) {
        if (s.value !== expected) return false;
        s.value = next;
        return true;
      },
    },
  },
  queries: { get: { input: z.null(), run: (s) => s.value } },
  snapshot: (s) => s.value,
  restore: (img) => ({ value: img as number }),
  isEmpty: (s) => s.value === 0,
});
