import { describe, expect, it } from 'vitest';
import { seededRandom } from '@tessera/testing';
import { EntryIndex } from '../src/entry-index.js';

describe('EntryIndex', () => {
  it('matches a plain array across pages through pushes, truncations and compactions', () => {
    const idx = new EntryIndex();
    idx.reset(1);
    let model: { i: number; off: number; seg?: number; fl?: number }[] = [];
    let first = 1;
    const random = seededRandom(7);
    const rand = (n: number) => Math.floor(random() * n);
    for (let step = 0; step < 300; step++) {
      const r = rand(10);
      if (r < 6) {
        const n = rand(40_000);
        if (rand(2) === 0) {
          for (let k = 0; k < n; k++) {
            const i = first + model.length;
            idx.push(i % 7, i * 3, i % 5000, i % 1000, i * 2);
            model.push({ i, off: i * 3 });
          }
        } else {
          // The bulk form: one frame's fields for the whole run.
          const lo = first + model.length;
          const lens = Uint32Array.from({ length: n + 3 }, (_, k) => (lo + k - 3) % 1000);
          const terms = Float64Array.from({ length: n + 3 }, (_, k) => (lo + k - 3) * 2);
          idx.pushFrame(lo % 7, lo * 3, lo % 5000, lens, terms, 3, n);
          for (let k = 0; k < n; k++) model.push({ i: lo + k, off: lo * 3, seg: lo % 7, fl: lo % 5000 });
        }
      } else if (r < 8 && model.length > 0) {
        const from = first + rand(model.length + 1);
        idx.truncateFrom(from);
        model.length = from - first;
      } else {
        const upTo = first - 1 + rand(model.length + 2);
        if (upTo >= first + model.length - 1) {
          idx.reset(upTo + 1);
          model = [];
        } else {
          idx.dropBefore(upTo + 1);
          model = model.slice(upTo + 1 - first);
        }
        if (upTo + 1 > first) first = upTo + 1;
      }
      expect([idx.first, idx.last], `step ${step}`).toEqual([first, first + model.length - 1]);
      for (const probe of [0, model.length >> 1, model.length - 1]) {
        const m = model[probe];
        if (!m) continue;
        expect([idx.frameStart(m.i), idx.frameLength(m.i), idx.term(m.i), idx.segment(m.i), idx.length(m.i)]).toEqual([m.off, m.fl ?? m.i % 5000, m.i * 2, m.seg ?? m.i % 7, m.i % 1000]);
      }
    }
  });
});
