/**
 * What the demo shows while it runs: on a terminal one live progress line redrawn in place
 * (events print above it); otherwise plain lines (events, and progress every 10%).
 */
export interface Progress {
  /** An event: printed on its own line. */
  say(line: string): void;
  /** The current progress text and completed fraction (0..1). */
  update(text: string, fraction: number): void;
  /** Clears the live line. */
  done(): void;
}

export function createProgress(stream: NodeJS.WriteStream, live: boolean): Progress {
  let current = '';
  let lastDecile = -1;
  let lastDraw = 0;
  const clear = () => {
    if (live && current) stream.write('\r\x1b[2K');
  };
  const draw = () => {
    if (live && current) stream.write(current.length > (stream.columns ?? 120) - 1 ? current.slice(0, (stream.columns ?? 120) - 1) : current);
  };
  return {
    say(line) {
      clear();
      stream.write(line + '\n');
      draw();
    },
    update(text, fraction) {
      if (live) {
        const now = Date.now();
        current = text;
        if (now - lastDraw < 80 && fraction < 1) return;
        lastDraw = now;
        stream.write('\r\x1b[2K');
        draw();
        return;
      }
      const decile = Math.floor(fraction * 10);
      if (decile > lastDecile) {
        lastDecile = decile;
        stream.write(text + '\n');
      }
    },
    done() {
      clear();
      current = '';
    },
  };
}
